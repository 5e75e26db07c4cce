// Package forward is the forwarding engine: an organization's LMS
// configurations (destinations) and objectives (activities whose results
// count), the durable deliveries a stored statement owes, and the workers
// that send them, classify every outcome, retry within 24 hours, park what
// still fails (never dropping it), keep each configuration's status and
// alert its contact email.
//
// Destinations live in one package each (forward/xapi now; postback,
// webhook and clever later) behind the Destination interface, each
// declaring its Type, which cmd registers in the Registry (types.go) that
// the engine, the administration (admin.go), the admin API, the CLI and
// the metrics read. What they share is the kit (kit.go). Storage is the
// Store contract (store.go, split by role), implemented by every engine
// (lrs/pebbledb, lrs/mongo) and checked by lrs/storetest; forward reads
// the LRS through the interfaces of statements.go, which cmd adapts. See
// DESIGN.md §3 and sinks.md §0.
package forward

import (
	"context"
	"time"
)

// Participant identifiers a configuration sends (sinks.md §2.4).
const (
	IdentifierMbox    = "mbox"    // the learner's email (default)
	IdentifierAccount = "account" // the learner's account name (SSO id)
)

// Configuration is an LMS configuration: where an organization's results
// go. Properties are the type's non-secret settings; Secrets are the
// type's secret settings, sealed (encrypted) by the caller before they are
// stored and never returned by the admin API.
type Configuration struct {
	ID           string
	Org          string
	Name         string
	ContactEmail string
	Type         string // the Name of a destination Type (Registry)
	Identifier   string // IdentifierMbox or IdentifierAccount
	Properties   map[string]string
	SealedSecret []byte // encrypted JSON of the secret settings
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Revision increases on every edit; an edit re-drives parked and
	// rejected deliveries of the configuration.
	Revision int64
}

// Objective is an activity whose results are forwarded: statements whose
// object is the activity and whose verb is one of Verbs (all verbs when
// empty) are sent to every attached configuration.
type Objective struct {
	ID             string
	Org            string
	Name           string
	ActivityID     string
	Verbs          []string
	Configurations []string // attached configuration ids
	// LatestAttemptCounts: a result's completion, success, score and
	// duration are those of the participant's latest attempt; otherwise
	// (the default) its best: a pass is not undone by a later attempt, nor
	// a score lowered (README, Results).
	LatestAttemptCounts bool
	// Attached is when each configuration of Configurations was attached
	// (a configuration attached before this was kept has none): a
	// statement stored before its configuration's attach owes it nothing,
	// and a result last changed before it is sent only on its next change,
	// unless the attach asked for a backfill (backfill.go).
	Attached  map[string]time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AttachedBefore reports whether configuration cid was attached to o
// after t (so that what happened at t owes it nothing).
func (o Objective) AttachedBefore(cid string, t time.Time) bool {
	at, ok := o.Attached[cid]
	return !ok || !t.Before(at)
}

// Delivery states.
const (
	StatePending   = "pending"   // waiting for its next attempt (or being attempted)
	StateDelivered = "delivered" // the destination has it
	StateParked    = "parked"    // every attempt of the 24 h schedule failed; kept, re-driven later
	StateRejected  = "rejected"  // the destination refused this item itself
	StateSkipped   = "skipped"   // not sendable (e.g. no email for an mbox configuration)
)

// Delivery is what one stored statement owes one configuration. Its key,
// (Org, ConfigurationID, StatementID), is its identity: ensuring it twice
// stores it once, which is how obligations survive without transactions.
type Delivery struct {
	Org             string
	ConfigurationID string
	StatementID     string
	ObjectiveID     string
	Participant     string // the identifier sent (email or account name)
	State           string
	Attempts        int
	NextAttempt     time.Time
	FirstFailure    time.Time
	LastAttempt     time.Time
	LastStatus      int    // HTTP status of the last attempt, 0 if none
	LastError       string // redacted, short
	Reason          string // why skipped or rejected
	CreatedAt       time.Time
	UpdatedAt       time.Time

	// Lease: a worker that claimed the delivery owns it until LeaseUntil.
	LeaseOwner string
	LeaseUntil time.Time
}

// Attempt is one entry of a configuration's delivery log.
type Attempt struct {
	Org             string
	ConfigurationID string
	StatementIDs    []string
	At              time.Time
	Duration        time.Duration
	Outcome         string // an Outcome class
	Status          int
	Response        string // first bytes, redacted
}

// Status of a configuration, the class of its latest destination-level
// outcome (sinks.md §0.2).
const (
	StatusOK           = "OK"
	StatusCantConnect  = "Can't Connect"
	StatusServerError  = "Server Error"
	StatusNotAttempted = "Not attempted"
)

// ConfigStatus is what the administrator sees of a configuration.
type ConfigStatus struct {
	Org             string
	ConfigurationID string
	Status          string
	LastError       string
	LastStatus      int
	FirstFailure    time.Time
	LastSuccess     time.Time
	LastAlert       time.Time // last status mail
	AlertedStatus   string    // status the last mail announced
	// Since is when the configuration entered its current Status (zero in
	// statuses stored before it was kept: UpdatedAt stands for it).
	Since     time.Time
	UpdatedAt time.Time
	// StoppedRevision is the revision of the configuration its destination
	// asked to stop sending to (Result.Stop: a webhook's 410 Gone), at
	// StoppedAt, saying StopReason; zero when none did. Nothing is sent to
	// that revision any more, by any process; an edit (a new revision)
	// resumes.
	StoppedRevision int64
	StoppedAt       time.Time
	StopReason      string
}

// Counts are a configuration's deliveries by state, and the age of its
// oldest pending one.
type Counts struct {
	Pending       int
	Delivered     int
	Parked        int
	Rejected      int
	Skipped       int
	OldestPending time.Time
}

// Outcome classes of an attempt (sinks.md §0.2).
const (
	OutcomeSuccess     = "success"
	OutcomeTransport   = "transport"   // no HTTP response: Can't Connect
	OutcomeDestination = "destination" // destination-wide rejection: Server Error
	OutcomeTransient   = "transient"   // 408/429/5xx: Server Error, retry
	OutcomeItem        = "item"        // this item is refused: Rejected
	// OutcomeSkipped: the destination answered that the items are not for
	// it (e.g. a learner on none of its rosters): every item of the batch
	// is Skipped with Message as its reason, not retried, the status left
	// as it is; a change of an overwrite delivery's result re-opens it.
	OutcomeSkipped = "skipped"
)

// Item is one result to send: the delivery and the statement it carries
// (as stored, exact format) for an append sink; for an overwrite sink
// (overwrite.go) the result as it is when sent, and its objective.
type Item struct {
	Delivery  Delivery
	Statement []byte // append sinks
	// Result is the current result of an overwrite delivery (Statement is
	// nil): Effective() values with overrides applied, Revision, Actor,
	// CreatedAt/UpdatedAt, ID().
	Result *ObjectiveResult
	// Objective is the result's objective (overwrite deliveries).
	Objective *Objective
}

// Result is a destination's verdict on one attempt.
type Result struct {
	// Outcome of the attempt for the destination as a whole.
	Outcome string
	// Status is the HTTP status (0 without a response), Message a short,
	// redacted description, RetryAfter the destination's requested delay.
	Status     int
	Message    string
	RetryAfter time.Duration
	// Rejected maps statement ids of items the destination refused one by
	// one (after bisecting a batch) to the reason; they are Rejected while
	// the others of the batch are delivered.
	Rejected map[string]string
	// Skipped maps statement ids of items the destination answered are
	// not for it (as OutcomeSkipped does for a whole batch) to the reason;
	// they are Skipped while the others settle by Outcome (success or
	// item).
	Skipped map[string]string
	// TooLarge: the destination refused a batch as too large (HTTP 413)
	// before taking it in parts; the engine halves the configuration's
	// batch size.
	TooLarge bool
	// Keep is a file the destination uploaded (a file-mode webhook's
	// CSV): the engine keeps a copy, for re-download, for FileRetention.
	Keep *KeptFile
	// Stop: the destination asked to be sent nothing more (a webhook's
	// 410 Gone): the engine records it in the configuration's status
	// (ConfigStatus.StoppedRevision) and sends nothing more to this
	// revision of the configuration, on any process, until it is edited.
	Stop bool
}

// Destination sends batches of items to one configured endpoint. New
// destinations are built per configuration (with its decrypted secrets) by
// a Factory. Send must not retry by itself (the engine schedules retries),
// must bound its own time by ctx, and should put no secret in Result (the
// engine redacts every Result with the kit's Redactor all the same, and
// with the destination's own when it implements Redacting). Several Sends
// of one destination may run at once, never with the same delivery.
type Destination interface {
	Send(ctx context.Context, items []Item) Result
	// MaxBatch is how many items one Send may carry.
	MaxBatch() int
}

// Factory builds the Destination of a configuration from its properties
// and decrypted secrets.
type Factory func(c Configuration, secrets map[string]string) (Destination, error)
