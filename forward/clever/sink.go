package clever

import (
	"context"

	"github.com/lrs-project/lrs/forward"
)

// Sink is the engine's destination of a Clever configuration: it reads an
// overwrite delivery's item (the result as it is when sent, overrides
// applied, its objective and the participant's email) as a Grade, sends
// it, and gives the engine the Outcome as a forward.Result.
type Sink struct{ *Destination }

var (
	_ forward.Destination = Sink{}
	_ forward.Tester      = Sink{}
	_ forward.Redacting   = Sink{}
)

// NewSink returns the Sink of configuration c with its decrypted secrets:
// the Factory the wiring registers (with the process's Options).
func NewSink(c forward.Configuration, secrets map[string]string, opts Options) (forward.Destination, error) {
	d, err := New(c, secrets, opts)
	if err != nil {
		return nil, err
	}
	return Sink{Destination: d}, nil
}

// MaxBatch is 1: a grade is one student's, written on its own.
func (Sink) MaxBatch() int { return 1 }

// Send writes the grade of the one item of the batch.
func (s Sink) Send(ctx context.Context, items []forward.Item) forward.Result {
	if len(items) != 1 {
		return forward.Result{Outcome: forward.OutcomeDestination, Message: "clever: one item per send"}
	}
	g, ok := GradeOfItem(items[0])
	if !ok {
		return forward.Result{Outcome: forward.OutcomeItem, Message: "not sendable: the delivery carries no result"}
	}
	return s.Destination.Send(ctx, g).Result()
}

// Test is "test connection": the readiness check, which writes nothing.
func (s Sink) Test(ctx context.Context) forward.Result { return s.Destination.Test(ctx).Result() }

// GradeOfItem is the Grade of an overwrite delivery's item: the effective
// values of its current result, its objective (whose name titles the
// assignment) and the participant the delivery sends (its email; the
// result's mbox when the delivery names none). False when the item
// carries no result or objective (a statement's delivery).
func GradeOfItem(it forward.Item) (Grade, bool) {
	if it.Result == nil || it.Objective == nil {
		return Grade{}, false
	}
	g := GradeOf(it.Objective.Name, *it.Result)
	g.Objective = it.Objective.ID
	if it.Delivery.Participant != "" {
		g.Participant = it.Delivery.Participant
	}
	return g, true
}

// Result is the Outcome as the engine records it: the class (a skip is
// the engine's skipped outcome, its message the delivery's reason), the
// HTTP status, the message and the delay Clever asked for.
func (o Outcome) Result() forward.Result {
	return forward.Result{Outcome: o.Class, Status: o.Status, Message: o.Message, RetryAfter: o.RetryAfter}
}
