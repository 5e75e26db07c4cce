package postback

import (
	"context"
	"strings"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/schema"
)

// Sink is the engine's destination of a postback configuration: it reads
// an overwrite delivery's item (the result as it is when sent, its
// objective and the participant's email) as an Input and posts it.
type Sink struct{ *Postback }

var (
	_ forward.Destination = Sink{}
	_ forward.Tester      = Sink{}
	_ forward.Redacting   = Sink{}
)

// Send posts the one item of the batch (MaxBatch is 1).
func (s Sink) Send(ctx context.Context, items []forward.Item) forward.Result {
	if len(items) != 1 {
		return forward.Result{Outcome: forward.OutcomeDestination, Message: "postback: one item per send"}
	}
	in, ok := InputOf(items[0])
	if !ok {
		return forward.Result{Outcome: forward.OutcomeItem, Message: "not sendable: the delivery carries no result"}
	}
	return s.Postback.Send(ctx, in)
}

// Test is the "send test postback" action (the admin API's test).
func (s Sink) Test(ctx context.Context) forward.Result { return s.TestPostback(ctx) }

// Redactor is the postback's redactor of its credentials in every form.
func (s Sink) Redactor() *forward.Redactor { return s.red }

// InputOf is the Input of an overwrite delivery's item: the effective
// values (overrides applied) of its current result.
func InputOf(it forward.Item) (Input, bool) {
	r := it.Result
	if r == nil || it.Objective == nil {
		return Input{}, false
	}
	v := r.Effective()
	in := Input{
		Organization: r.Org,
		Objective:    Objective{ID: it.Objective.ID, Name: it.Objective.Name, ActivityIRI: it.Objective.ActivityID},
		Participant:  Participant{Email: it.Delivery.Participant, Name: r.Actor.Name},
		Result: Result{
			Registration: r.Registration, Completed: v.Completion, Passed: v.Success,
			FirstActivityAt: v.FirstActivity, LastActivityAt: v.LastActivity, CompletedAt: v.CompletedAt,
			Attempts: v.Attempts, Revision: r.Revision, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			Overridden: len(r.OverriddenFields()) > 0,
		},
	}
	if in.Participant.Email == "" {
		in.Participant.Email, _ = strings.CutPrefix(r.Actor.Mbox, "mailto:")
	}
	if v.Score != nil {
		in.Result.Score = Score{Scaled: v.Score.Scaled, Raw: v.Score.Raw, Min: v.Score.Min, Max: v.Score.Max}
	}
	if secs, ok := schema.DurationSeconds(v.Duration); ok && v.Duration != "" {
		d := time.Duration(secs * float64(time.Second))
		in.Result.Duration = &d
	}
	return in, true
}

// previewSample is the type's Preview: the request of the sample result
// (Sample(at)), as Postback.Preview renders it.
func previewSample(_ context.Context, _ forward.PreviewEnv, c forward.Configuration, secrets map[string]string, at time.Time) (forward.Preview, error) {
	p, err := New(c.Properties, secrets, Options{})
	if err != nil {
		return forward.Preview{}, err
	}
	return p.Preview(Sample(at)).forward(p.auth), nil
}

// previewItem is the type's PreviewItem: the request of a stored result.
func previewItem(_ context.Context, _ forward.PreviewEnv, c forward.Configuration, secrets map[string]string, it forward.Item, _ time.Time) (forward.Preview, error) {
	p, err := New(c.Properties, secrets, Options{})
	if err != nil {
		return forward.Preview{}, err
	}
	in, ok := InputOf(it)
	if !ok {
		return forward.Preview{Notes: []string{"not sendable: the item carries no result"}}, nil
	}
	return p.Preview(in).forward(p.auth), nil
}

// forward is the preview as the administration shows it; in form mode,
// a note gives the registration JSON the form's data field carries.
func (p Preview) forward(auth string) forward.Preview {
	out := forward.Preview{Method: p.Method, URL: p.URL, Headers: p.Headers, Body: p.Body}
	if p.NotSendable != "" {
		out.Notes = append(out.Notes, "this result would not be sent: "+p.NotSendable)
	}
	if auth == AuthForm && len(p.Registration) > 0 {
		out.Notes = append(out.Notes, "the registration JSON in the form's data field: "+string(p.Registration))
	}
	if p.Overridden {
		out.Notes = append(out.Notes, "an administrator's override set a value of this result")
	}
	return out
}
