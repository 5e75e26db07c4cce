package postback

import (
	"crypto/sha1"
	"encoding/hex"
	"time"
)

// Input is the seam between the objective-results read model and this
// destination: the current state of one result (one participant on one
// objective, in one xAPI registration when the statements had one), with
// the administrator's overrides already applied. The forward engine's
// send adapter fills it from the result when a delivery is sent (an
// overwrite destination reads the current result at send time, so a late
// retry never sends an older value); Render turns it into the
// RegistrationSchema JSON.
//
// Absent values are nil pointers, zero times and empty strings; each
// field says what its absence sends.
type Input struct {
	// Organization is the organization of the result; with the
	// objective, the participant's email and the registration it makes
	// the registration id (RegistrationID).
	Organization string
	Objective    Objective
	Participant  Participant
	Result       Result
}

// Objective is the objective the result is on: the SCORM Cloud course.
type Objective struct {
	ID   string // course.id (required)
	Name string // course.title
	// ActivityIRI is the objective's activity: the one child activity of
	// activityDetails (resultsFormat activity and full).
	ActivityIRI string
}

// Participant is the learner.
type Participant struct {
	// Email is learner.id and learner.email (required: a postback
	// configuration sends email participants only, sinks.md §0.1).
	Email string
	// Name is the display name (the participant directory's, else the
	// actor's); learner.firstName is its first word, learner.lastName
	// the rest, unless FirstName or LastName is set.
	Name                string
	FirstName, LastName string
}

// Result is the participant's current result on the objective.
type Result struct {
	// Registration is the xAPI registration of the statements
	// (xapiRegistrationId); empty when they had none.
	Registration string
	// Completed and Passed are nil when no statement said so.
	Completed *bool
	Passed    *bool
	Score     Score
	Duration  *time.Duration // totalSecondsTracked, timeTracked; 0 when absent
	// FirstActivityAt, LastActivityAt and CompletedAt are
	// firstAccessDate, lastAccessDate and completedDate; absent when zero.
	FirstActivityAt time.Time
	LastActivityAt  time.Time
	CompletedAt     time.Time
	Attempts        int // activityDetails.attempts
	// Revision increases on every change of the result. It is not part of
	// the RegistrationSchema; the wiring compares it with the delivery's.
	Revision int64
	// CreatedAt is createdDate. UpdatedAt is updated (required): the
	// receiver's ordering key, latest wins, so it must increase with
	// Revision at millisecond precision (two changes in one millisecond
	// would look like one to a receiver that dedupes by (id, updated)).
	CreatedAt time.Time
	UpdatedAt time.Time
	// Overridden is true when an administrator's override set a value.
	// The RegistrationSchema has no place for it (the receiver gets the
	// values, overrides applied); it is shown in previews.
	Overridden bool
}

// Score is an xAPI score; each part is optional.
type Score struct {
	Scaled, Raw, Min, Max *float64
}

// registrationSpace is the UUID namespace of registration ids: the
// version-5 UUID of a fixed URL in the URL namespace (RFC 9562 §6.6), so
// every lrs computes the same ids.
var registrationSpace = uuid5(nsURL, "urn:lrs:forward:postback:registration")

// nsURL is the RFC 9562 namespace of URLs.
var nsURL = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// RegistrationID is the RegistrationSchema id of a result: a version-5
// UUID over the organization, the objective id, the participant's email
// and the xAPI registration (NUL-separated). It is the same for every
// revision of the result, on every retry and after the read model is
// rebuilt, and differs between registrations of the same participant, so
// a receiver keeps one row per id and orders its updates by `updated`.
func RegistrationID(organization, objectiveID, email, registration string) string {
	return format(uuid5(registrationSpace, organization+"\x00"+objectiveID+"\x00"+email+"\x00"+registration))
}

// RegistrationID is the input's registration id.
func (in Input) RegistrationID() string {
	return RegistrationID(in.Organization, in.Objective.ID, in.Participant.Email, in.Result.Registration)
}

// DeliveryID is the id of one request's content: a version-5 UUID over the
// registration id and the exact body. A retry of the same revision sends
// the same body, so the same id; any change is a new one. It is sent as
// HeaderDeliveryID for receivers that dedupe retries.
func DeliveryID(registrationID string, body []byte) string {
	space := uuid5(registrationSpace, registrationID)
	return format(uuid5(space, string(body)))
}

// uuid5 is a name-based UUID with SHA-1 (RFC 9562 §5.5). Written here
// because this package imports only the standard library and the forward
// kit; the tests check it against an independent implementation.
func uuid5(space [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(space[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u
}

func format(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// Sample is the illustrative result of previews and of the test postback
// (SCORM Cloud's postBackTest posts a sample registration too): completed
// and passed two seconds before `updated`, so that repeated tests are not
// deduplicated by receivers that key on (id, updated).
func Sample(updated time.Time) Input {
	passed, completed := true, true
	scaled, raw, lo, hi := 0.92, 46.0, 0.0, 50.0
	dur := 12*time.Minute + 30*time.Second
	updated = updated.UTC()
	done := updated.Add(-2 * time.Second).Truncate(time.Second)
	return Input{
		Organization: "sample",
		Objective:    Objective{ID: "sample-objective", Name: "Fire safety drill", ActivityIRI: "https://courses.example.com/fire-safety"},
		Participant:  Participant{Email: "ada@example.com", Name: "Ada Lovelace"},
		Result: Result{
			Registration: "a3b1c2d4-0000-4000-8000-000000000042",
			Completed:    &completed, Passed: &passed,
			Score:           Score{Scaled: &scaled, Raw: &raw, Min: &lo, Max: &hi},
			Duration:        &dur,
			FirstActivityAt: done.Add(-dur), LastActivityAt: done, CompletedAt: done,
			Attempts: 1, Revision: 1,
			CreatedAt: done.Add(-dur - time.Hour), UpdatedAt: updated,
		},
	}
}
