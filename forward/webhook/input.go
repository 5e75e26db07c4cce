package webhook

import (
	"time"

	"github.com/google/uuid"
)

// Input is what one delivery carries: the current objective result of one
// participant, with the objective's and the participant's details, as the
// objective-results read model will fill it when a delivery is sent (an
// overwrite destination reads the current result at send time, so a late
// retry never sends an older value). Every value the field mapping can
// use comes from here; the source vocabulary (Sources) names its fields.
//
// Absent values are nil pointers, zero times and empty strings: a mapped
// field whose value is absent is left out of the body, or fails the item
// when the field is required.
type Input struct {
	// ConfigurationID and ConfigurationName are the configuration the
	// delivery belongs to; the id seeds result.key. A Webhook sets them
	// from itself when it renders an input.
	ConfigurationID   string
	ConfigurationName string
	Participant       Participant
	Objective         Objective
	Result            Result
	// StatementID is the id of the statement that last changed the
	// result (lrs.statement_id).
	StatementID string
}

// Participant is the learner, from the statement actor and the optional
// participant directory (email → AMS member id and name).
type Participant struct {
	Email      string // from the actor's mbox, without "mailto:"
	ID         string // the LRS's participant identifier (email or account name)
	Name       string // from the directory, else the actor's name
	ExternalID string // the AMS member id, from the directory
}

// Objective is the objective of the result and its per-objective values.
type Objective struct {
	ID         string
	Name       string
	IRI        string   // the activity IRI
	Credits    *float64 // continuing-education credits (hours, units)
	CreditType string   // e.g. "CE", "CPE"
	ExternalID string   // the AMS's id of the course or activity
	// Extra are further per-objective values an administrator defines
	// (product code, certification id…), mapped as objective.extra.<name>.
	Extra map[string]string
}

// Result is the participant's current result on the objective, with the
// administrator's overrides applied.
type Result struct {
	ID           string // the result's id in the read model (seeds result.key)
	Registration string // the xAPI registration, when the statements had one
	Completed    *bool
	Passed       *bool
	Score        Score
	Duration     *time.Duration
	// Times are absent when zero.
	FirstActivityAt time.Time
	LastActivityAt  time.Time
	CompletedAt     time.Time
	Attempts        int
	// Revision increases on every change of the result.
	Revision int64
	// Overridden is true when an administrator's override set a value.
	Overridden bool
}

// Score is an xAPI score; each part is optional.
type Score struct {
	Scaled, Raw, Min, Max *float64
}

// Status derives the one-word state of the result: "passed" or "failed"
// when success is known, else "completed" or "incomplete".
func (r Result) Status() string {
	switch {
	case r.Passed != nil && *r.Passed:
		return "passed"
	case r.Passed != nil:
		return "failed"
	case r.Completed != nil && *r.Completed:
		return "completed"
	default:
		return "incomplete"
	}
}

// StatusValues are the values Result.Status returns.
var StatusValues = []string{"passed", "failed", "completed", "incomplete"}

// keySpace is the UUID namespace of result keys: a version-5 UUID of a
// fixed name, so every lrs computes the same keys.
var keySpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:lrs:forward:webhook:result-key"))

// Key is result.key, the stable idempotency key of a result at one
// configuration (sinks.md §3.3): a version-5 UUID over the configuration
// id and the result id. It is the same on every retry, in every batch and
// at every revision of the result, so receivers that upsert by it
// (a Salesforce external id, an iMIS user field) stay idempotent.
func Key(configurationID, resultID string) string {
	return uuid.NewSHA1(keySpace, []byte(configurationID+"\x00"+resultID)).String()
}

// Key is the input's result.key.
func (in Input) Key() string { return Key(in.ConfigurationID, in.Result.ID) }

// MessageID is the webhook-id (and Idempotency-Key) of one request: a
// version-5 UUID over what the request identifies (the result key, or the
// batch) and the exact body. A retry of the same content carries the same
// id, so a receiver that dedupes by webhook-id processes it once; a newer
// value of the same result is a new message, which such a receiver must
// not drop. (result.key alone would make a deduping receiver discard every
// update after the first.)
func MessageID(key string, body []byte) string {
	space, err := uuid.Parse(key)
	if err != nil {
		space = uuid.NewSHA1(keySpace, []byte(key))
	}
	return uuid.NewSHA1(space, body).String()
}

// Sample is an illustrative input for previews and test events when no
// real result is at hand.
func Sample(configurationID, configurationName string) Input {
	passed, completed := true, true
	scaled, raw, lo, hi, credits := 0.92, 46.0, 0.0, 50.0, 1.5
	dur := 25*time.Minute + 30*time.Second
	done := time.Date(2026, 9, 2, 8, 14, 59, 0, time.UTC)
	return Input{
		ConfigurationID:   configurationID,
		ConfigurationName: configurationName,
		Participant: Participant{
			Email: "ada@example.com", ID: "ada@example.com", Name: "Ada Lovelace", ExternalID: "100042",
		},
		Objective: Objective{
			ID: "42", Name: "Fire safety drill", IRI: "https://courses.example.com/fire-safety",
			Credits: &credits, CreditType: "CE", ExternalID: "FS-101",
			Extra: map[string]string{"product_code": "FS101"},
		},
		Result: Result{
			ID: "sample", Completed: &completed, Passed: &passed,
			Score:           Score{Scaled: &scaled, Raw: &raw, Min: &lo, Max: &hi},
			Duration:        &dur,
			FirstActivityAt: done.Add(-dur), LastActivityAt: done, CompletedAt: done,
			Attempts: 1, Revision: 1,
		},
		StatementID: "6fa459ea-ee8a-3ca4-894e-db77e160355e",
	}
}
