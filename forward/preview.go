package forward

import (
	"context"
	"errors"
	"slices"
)

// Preview returns what the configuration in would send for a sample
// result, without storing or sending anything: the console shows it while
// the administrator edits. id is the configuration in replaces ("" for a
// new one), whose stored secrets stand in for in's when in has none.
// ErrInvalid lists every problem a save would (nothing is rendered then),
// ErrConflict says the type has no preview, ErrNotFound. The preview holds
// no secret. A stored configuration's preview may read (never write) the
// remote assignments its destination recorded (PreviewEnv).
func (a *Admin) Preview(ctx context.Context, org, id string, in ConfigurationInput) (Preview, error) {
	return a.preview(ctx, org, id, in, func(t Type, env PreviewEnv, c Configuration, secrets map[string]string) (Preview, error) {
		if t.Preview == nil {
			return Preview{}, adminError(ErrConflict, "configurations of type %q have no preview", in.Type)
		}
		return t.Preview(ctx, env, c, secrets, a.now())
	})
}

// PreviewResult is Preview for a real result instead of the sample: the
// stored result of participant (an IFI key, as the results API takes it)
// on the objective, in registration, as the engine would send it now
// (overrides applied), whether or not the objective is attached to the
// configuration. Nothing is stored or sent. ErrNotFound (no objective, no
// result), ErrInvalid, ErrConflict (the type has no preview of a result).
func (a *Admin) PreviewResult(ctx context.Context, org, id string, in ConfigurationInput, objectiveID, participant, registration string) (Preview, error) {
	r, err := a.Result(ctx, org, objectiveID, participant, registration)
	if err != nil {
		return Preview{}, err
	}
	obj, err := a.Objective(ctx, org, objectiveID)
	if err != nil {
		return Preview{}, err
	}
	return a.preview(ctx, org, id, in, func(t Type, env PreviewEnv, c Configuration, secrets map[string]string) (Preview, error) {
		if t.PreviewItem == nil {
			return Preview{}, adminError(ErrConflict, "configurations of type %q have no preview of a result", in.Type)
		}
		var notes []string
		pid, reason := keyParticipant(c, r.Participant)
		if reason != "" {
			notes = append(notes, "this result would not be sent: "+reason)
		}
		if !slices.Contains(obj.Configurations, c.ID) {
			notes = append(notes, "the objective is not attached to this configuration: its results are not sent to it")
		}
		d := Delivery{Org: org, ConfigurationID: c.ID, StatementID: ResultDeliveryID(r.ResultKey), ObjectiveID: obj.ID,
			Participant: pid, State: StatePending}
		p, err := t.PreviewItem(ctx, env, c, secrets, Item{Delivery: d, Result: &r, Objective: &obj}, a.now())
		p.Notes = append(notes, p.Notes...)
		return p, err
	})
}

func (a *Admin) preview(ctx context.Context, org, id string, in ConfigurationInput, render func(t Type, env PreviewEnv, c Configuration, secrets map[string]string) (Preview, error)) (Preview, error) {
	c := Configuration{ID: id, Org: org}
	var kept map[string]string
	var old *Configuration
	if id != "" {
		stored, err := a.Configuration(ctx, org, id)
		if err != nil {
			return Preview{}, err
		}
		c, old = stored, &stored
		if a.opts.Sealer != nil {
			if s, err := a.opts.Sealer.OpenConfiguration(stored); err == nil {
				kept = s
			}
		}
	}
	if errs := a.CheckConfiguration(ctx, in, old, kept); len(errs) > 0 {
		return Preview{}, invalid(errs)
	}
	t, _ := a.types.Lookup(in.Type) // known: checked
	secrets := in.Secrets
	if secrets == nil {
		secrets = kept
	}
	// A saved configuration's destination may have recorded remote
	// assignments (Clever's): the preview reads them, never writes.
	var env PreviewEnv
	if c.ID == "" {
		c.ID = "preview"
	} else {
		env.Assignments = a.store
	}
	c.Name, c.ContactEmail, c.Type, c.Identifier, c.Properties = in.Name, in.ContactEmail, in.Type, in.Identifier, in.Properties
	if c.Identifier == "" {
		c.Identifier = IdentifierMbox
	}
	redact := secretRedactor(secrets)
	p, err := render(t, env, c, secrets)
	if err != nil {
		var ae *AdminError
		if errors.As(err, &ae) {
			return Preview{}, err
		}
		return Preview{}, invalid([]string{redact.Redact(err.Error())})
	}
	p.Method, p.URL, p.Body, p.FileName = redact.Redact(p.Method), redact.Redact(p.URL), redact.Redact(p.Body), redact.Redact(p.FileName)
	redactHeaders(redact, p.Headers)
	for i := range p.Requests {
		r := &p.Requests[i]
		r.Purpose, r.Method, r.URL, r.Body = redact.Redact(r.Purpose), redact.Redact(r.Method), redact.Redact(r.URL), redact.Redact(r.Body)
		redactHeaders(redact, r.Headers)
	}
	for i, n := range p.Notes {
		p.Notes[i] = redact.Redact(n)
	}
	return p, nil
}

func redactHeaders(redact *Redactor, h map[string][]string) {
	for k, vs := range h {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = redact.Redact(v)
		}
		h[k] = out
	}
}

// secretRedactor removes the values of secrets from text (values shorter
// than 4 characters are left: they would blank out ordinary text).
func secretRedactor(secrets map[string]string) *Redactor {
	var values []string
	for _, v := range secrets {
		if len(v) >= 4 {
			values = append(values, v)
		}
	}
	return NewRedactor(values...)
}
