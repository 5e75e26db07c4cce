package forward

import (
	"context"
	"errors"
	"strings"
	"time"
)

// The storage contract of forwarding, split by role. Every engine (the
// embedded one, MongoDB) implements all of it (Store) and passes
// lrs/storetest's forwarding suite. Each write is a single-document
// operation (an insert that fails on a duplicate key, or a conditional
// update), so that it holds on MongoDB without transactions. Every method
// that takes an organization reads and writes only that organization.
//
// Besides the errors each method names, any error is a storage failure
// (unreachable, timed out, canceled, corrupt): nothing is known to have been
// written, and the caller may try again.

// Errors of the storage contract.
var (
	// ErrNotFound: the configuration, objective, delivery or status asked
	// for does not exist (in that organization).
	ErrNotFound = errors.New("forward: not found")
	// ErrLeaseLost: the delivery is not leased by the caller (its lease
	// expired and another worker claimed it, or it was released); the
	// update was not applied.
	ErrLeaseLost = errors.New("forward: lease lost")
)

// Store is every role of the forwarding storage.
type Store interface {
	ConfigurationStore
	ObjectiveStore
	DeliveryQueue
	StatusStore
	AttemptLog
	WatermarkStore
	ResultStore
	PeriodStore
	DigestQueue
	AssignmentStore
	FileStore
	BackfillStore // backfill.go
}

// ConfigurationStore keeps the LMS configurations of organizations.
type ConfigurationStore interface {
	// PutConfiguration creates c, or replaces the configuration with its
	// (Org, ID), sealed secret included.
	PutConfiguration(ctx context.Context, c Configuration) error
	// GetConfiguration returns the configuration (org, id), or ErrNotFound.
	GetConfiguration(ctx context.Context, org, id string) (Configuration, error)
	// ListConfigurations returns org's configurations ordered by ID (none:
	// an empty list, not an error).
	ListConfigurations(ctx context.Context, org string) ([]Configuration, error)
	// DeleteConfiguration removes the configuration (org, id), or returns
	// ErrNotFound. Its deliveries, status and delivery log stay.
	DeleteConfiguration(ctx context.Context, org, id string) error
}

// ObjectiveStore keeps the objectives of organizations, findable by
// activity.
type ObjectiveStore interface {
	// PutObjective creates o, or replaces the objective with its (Org, ID)
	// (moving it to its new activity in ObjectivesFor).
	PutObjective(ctx context.Context, o Objective) error
	// GetObjective returns the objective (org, id), or ErrNotFound.
	GetObjective(ctx context.Context, org, id string) (Objective, error)
	// ListObjectives returns org's objectives ordered by ID.
	ListObjectives(ctx context.Context, org string) ([]Objective, error)
	// DeleteObjective removes the objective (org, id), or returns
	// ErrNotFound.
	DeleteObjective(ctx context.Context, org, id string) error
	// ObjectivesFor returns org's objectives of the activity, ordered by ID
	// (none: an empty list).
	ObjectivesFor(ctx context.Context, org, activityID string) ([]Objective, error)
	// ObjectiveOrgs returns the organizations that have at least one
	// objective, sorted, each once (the reconciler's and the sweep's work
	// list).
	ObjectiveOrgs(ctx context.Context) ([]string, error)
}

// DeliveryQueue keeps the deliveries, each known by its key (Org,
// ConfigurationID, StatementID), with the leases of the workers sending
// them.
type DeliveryQueue interface {
	// EnsureDeliveries inserts the deliveries whose key is free and leaves
	// existing ones untouched (a key repeated in ds is inserted once).
	// Idempotent: after an error, the call may be repeated.
	EnsureDeliveries(ctx context.Context, ds []Delivery) error
	// DueConfigurations returns the configurations, deleted ones
	// included, that have a pending delivery due at or before now, each
	// once, ordered by (Org, ID). It may also return one whose due
	// deliveries are all leased (the claim then finds none). An engine
	// answers it without reading every due delivery: a queue of a million
	// due deliveries of one configuration costs what one costs.
	DueConfigurations(ctx context.Context, now time.Time) ([]ConfigKey, error)
	// ClaimDeliveries leases up to c.Limit pending deliveries of the
	// configuration (c.Org, c.ConfigurationID) whose NextAttempt is at or
	// before c.DueBy (c.Now when zero) and whose lease is free or expired
	// at c.Now, oldest NextAttempt first (then by statement id), setting
	// LeaseOwner = c.Owner and LeaseUntil = c.Now + c.Lease, and returns
	// them (none: an empty list). Two concurrent callers never receive the
	// same delivery.
	ClaimDeliveries(ctx context.Context, c Claim) ([]Delivery, error)
	// UpdateDelivery stores d's progress (state, attempts, times, errors,
	// reason; its key, objective, participant and creation time stay) and
	// releases the lease, if owner holds it: ErrLeaseLost otherwise, and
	// ErrNotFound or ErrLeaseLost when the delivery does not exist.
	UpdateDelivery(ctx context.Context, d Delivery, owner string) error
	// UpdateDeliveries is UpdateDelivery for each of ds (the outcome of
	// one batch), written together where the engine can: it returns, per
	// delivery, nil, ErrLeaseLost or ErrNotFound. err is a storage failure,
	// after which any of ds may or may not have been written.
	UpdateDeliveries(ctx context.Context, ds []Delivery, owner string) (results []error, err error)
	// GetDelivery returns one delivery, lease included, or ErrNotFound.
	GetDelivery(ctx context.Context, org, configID, statementID string) (Delivery, error)
	// ListDeliveries returns at most limit of a configuration's deliveries
	// in state ("" for all), newest CreatedAt first.
	ListDeliveries(ctx context.Context, org, configID, state string, limit int) ([]Delivery, error)
	// DeliveriesOfStatement returns the deliveries one statement owes, one
	// per configuration.
	DeliveriesOfStatement(ctx context.Context, org, statementID string) ([]Delivery, error)
	// Redrive makes the configuration's deliveries in states pending again,
	// due at now, with Attempts, FirstFailure and Reason reset, and returns
	// how many it changed. A pending delivery that is leased at now (being
	// sent) or already due with a fresh schedule is left as it is, and so
	// is one that changes meanwhile. A lease of a delivery in another state
	// is dropped.
	Redrive(ctx context.Context, org, configID string, states []string, now time.Time) (int, error)
	// ReopenDelivery makes one delivery pending again, due at now, with
	// Attempts, FirstFailure and Reason reset, when it is delivered,
	// rejected or parked, or skipped by its destination (skipped with a
	// LastAttempt: OutcomeSkipped) (an overwrite delivery whose result
	// changed); a pending one (queued or being sent), one skipped before
	// any attempt and a missing one are left as they are. It reports
	// whether it changed the delivery.
	ReopenDelivery(ctx context.Context, org, configID, statementID string, now time.Time) (bool, error)
	// CountDeliveries counts a configuration's deliveries by state, with the
	// creation time of its oldest pending one (zero Counts when it has none).
	CountDeliveries(ctx context.Context, org, configID string) (Counts, error)
}

// Claim asks ClaimDeliveries for due deliveries of one configuration.
type Claim struct {
	Org, ConfigurationID string
	Owner                string
	// Now is the time of the claim: a lease that ended at or before it is
	// free; the new leases end at Now + Lease.
	Now   time.Time
	Lease time.Duration
	// DueBy claims deliveries whose NextAttempt is at or before it; zero:
	// Now. Later than Now, it takes deliveries before their time (a
	// failing destination's probe takes the head of its queue).
	DueBy time.Time
	Limit int
}

// ConfigKey names a configuration.
type ConfigKey struct{ Org, ID string }

// StatusStore keeps each configuration's status.
type StatusStore interface {
	// GetStatus returns the status of configuration (org, configID), or
	// ErrNotFound if it was never set.
	GetStatus(ctx context.Context, org, configID string) (ConfigStatus, error)
	// PutStatus stores s, replacing the configuration's previous status.
	PutStatus(ctx context.Context, s ConfigStatus) error
}

// AttemptLog keeps each configuration's delivery log: its newest
// AttemptLogCap attempts (the oldest go first), and the counts of every
// attempt per hour, kept however old (activity.go).
type AttemptLog interface {
	// AddAttempt appends a to its configuration's log, dropping the entries
	// beyond the cap, and adds it to the counts of its hour (CountAttempt).
	AddAttempt(ctx context.Context, a Attempt) error
	// ListAttempts returns at most limit entries of the configuration's
	// log, newest first.
	ListAttempts(ctx context.Context, org, configID string, limit int) ([]Attempt, error)
	// AttemptCounts returns the configuration's counts of the hours from
	// since's to until's (both included), oldest first; hours without an
	// attempt are absent.
	AttemptCounts(ctx context.Context, org, configID string, since, until time.Time) ([]HourCount, error)
}

// WatermarkStore keeps named times: the reconciler's, up to which every
// statement's obligations are known to be ensured (WatermarkName).
type WatermarkStore interface {
	// GetWatermark returns the named time, or the zero time (and no error)
	// if it was never set.
	GetWatermark(ctx context.Context, name string) (time.Time, error)
	// SetWatermark stores the named time, at millisecond precision.
	SetWatermark(ctx context.Context, name string, t time.Time) error
}

// ResultStore keeps the results read model (results.go): the
// contribution of each statement to each result, the statements known to
// be voided, and the results computed from the contributions, overrides
// included. A contribution is known by (Org, ObjectiveID, StatementID); a
// result by its ResultKey.
//
// The read model can be rebuilt from the statements (the reconciler
// re-observes every statement stored since its watermark), so its derived
// writes (AddContributions, VoidStatements, PutResults with durable
// false) need not be durable when they return: an engine may make them
// durable with its next durable write, provided that a crash keeps a
// prefix of its writes. Every other write is durable when it returns.
type ResultStore interface {
	// AddContributions stores cs: a contribution whose key is free is
	// inserted; one whose key is taken replaces the stored one only if
	// its Stored is earlier (a client's retry of a statement whose first
	// request died carries a later stored time), keeping it voided if it
	// was. A contribution of a statement recorded voided (VoidStatements)
	// is stored Voided, whichever of the two calls comes first, also when
	// they run concurrently in different processes. Idempotent.
	//
	// A New contribution (its statement stored first by the caller) may be
	// written without looking for a stored copy, replacing the copy of a
	// concurrent repeat of the statement: it carries the statement's own
	// stored time. AddContributions sets the Voided of each New one of cs
	// that it stores voided, so that the caller holds what is stored.
	AddContributions(ctx context.Context, cs []Contribution) error
	// VoidStatements records that each Target of org was voided, then
	// marks the contributions of the Target to each of its Results voided
	// (those not stored yet are voided when they are added). Idempotent.
	VoidStatements(ctx context.Context, org string, voids []Void) error
	// ResultContributions returns the stored contributions of each result
	// of keys (voided ones included), in StatementID order; a result
	// without any is absent from the map. The caller must not modify the
	// slices (an engine may share them with its cache).
	ResultContributions(ctx context.Context, keys []ResultKey) (map[ResultKey][]Contribution, error)
	// GetResults returns the stored results of keys; a key without a
	// result is absent from the map.
	GetResults(ctx context.Context, keys []ResultKey) (map[ResultKey]ObjectiveResult, error)
	// PutResults stores each result r of rs if the stored result's Gen is
	// still r.Gen (no result stored when r.Gen is 0), giving it a greater
	// Gen, and returns the keys of the results it did not store because
	// another writer changed them first (read them again). A key repeated
	// in rs is an error. durable: as the interface's comment says.
	PutResults(ctx context.Context, rs []ObjectiveResult, durable bool) (conflicts []ResultKey, err error)
	// ListResults returns at most q.Limit results of q (ResultQuery says
	// which and in which order), after q.After.
	ListResults(ctx context.Context, q ResultQuery) ([]ObjectiveResult, error)
	// DeleteResults removes the results and contributions of an
	// objective (none: no error).
	DeleteResults(ctx context.Context, org, objectiveID string) error
}

// Void says that the statement Target was voided by the statement By;
// Results are the results Target contributes to (or would).
type Void struct {
	Target  string
	By      string
	Results []ResultKey
}

// ResultQuery selects results of an organization: those of ObjectiveID,
// of Participant, or both (at least one is set), whose effective
// completion is Completed (true: completed; false: not completed, known
// or not) and success Passed (true: passed; false: not passed), when set,
// and whose UpdatedAt is at or after Since, when set. They are ordered by
// (ObjectiveID, Participant, Registration), or with Since by (UpdatedAt,
// ObjectiveID, Participant, Registration); After is the position of the
// last result of the previous page (ObjectiveResult.Cursor).
type ResultQuery struct {
	Org         string
	ObjectiveID string
	Participant string
	Completed   *bool
	Passed      *bool
	Since       time.Time
	After       *ResultCursor
	Limit       int
}

// ResultCursor is a position in the order of a ResultQuery.
type ResultCursor struct {
	UpdatedAt    time.Time
	ObjectiveID  string
	Participant  string
	Registration string
}

// Cursor is r's position in the order of a ResultQuery.
func (r ObjectiveResult) Cursor() ResultCursor {
	return ResultCursor{UpdatedAt: r.UpdatedAt, ObjectiveID: r.ObjectiveID, Participant: r.Participant, Registration: r.Registration}
}

// Matches reports whether r is selected by q's filters (not its position).
func (q ResultQuery) Matches(r ObjectiveResult) bool {
	return r.Org == q.Org && (q.ObjectiveID == "" || r.ObjectiveID == q.ObjectiveID) &&
		(q.Participant == "" || r.Participant == q.Participant) &&
		(q.Completed == nil || r.Completed() == *q.Completed) && (q.Passed == nil || r.Passed() == *q.Passed) &&
		(q.Since.IsZero() || !r.UpdatedAt.Before(q.Since))
}

// Less reports whether position a comes before b in q's order.
func (q ResultQuery) Less(a, b ResultCursor) bool { return q.Compare(a, b) < 0 }

// Compare orders positions as q orders results.
func (q ResultQuery) Compare(a, b ResultCursor) int {
	if !q.Since.IsZero() {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
	}
	if c := strings.Compare(a.ObjectiveID, b.ObjectiveID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Participant, b.Participant); c != 0 {
		return c
	}
	return strings.Compare(a.Registration, b.Registration)
}

// PeriodStore records who runs a periodic task (the daily sweep, the
// hourly digest) in each of its periods, so that with any number of
// processes, and across restarts, each period's run is claimed once. Every
// write is a single-document insert, or a write of a document only its
// claimer writes, so it holds on MongoDB-compatible servers without
// transactions.
type PeriodStore interface {
	// ClaimPeriod claims the period (its start divided by the task's
	// interval) of the named task for owner, until until, and reports
	// whether the caller got it: true when no one claimed it, or when the
	// claim there is neither finished nor held at now (its owner died
	// during the run). Of concurrent callers, at most one gets it.
	ClaimPeriod(ctx context.Context, name string, period int64, owner string, now, until time.Time) (bool, error)
	// FinishPeriod marks owner's claim of the period finished at at (no
	// error and no change when owner does not hold it).
	FinishPeriod(ctx context.Context, name string, period int64, owner string, at time.Time) error
	// LastPeriod returns the latest finished period of the named task and
	// when it finished; ok is false when none has.
	LastPeriod(ctx context.Context, name string) (period int64, at time.Time, ok bool, err error)
}

// PendingRejection is an item rejected by a configuration's destination
// that awaits its digest.
type PendingRejection struct {
	Org, ConfigurationID string
	RejectedItem
}

// DigestQueue keeps the items destinations rejected until a digest mails
// them, so that a restart neither loses nor repeats them.
type DigestQueue interface {
	// AddRejected stores items awaiting the digest (an item of a statement
	// already awaiting replaces it).
	AddRejected(ctx context.Context, items []PendingRejection) error
	// PendingRejected returns at most limit items awaiting a digest, of
	// every organization, ordered by (Org, ConfigurationID, StatementID).
	PendingRejected(ctx context.Context, limit int) ([]PendingRejection, error)
	// DropRejected removes the items (mailed); an item added again since
	// (another At) stays.
	DropRejected(ctx context.Context, items []PendingRejection) error
}

// KeptFile is a copy of a file a destination uploaded (a file-mode
// webhook's CSV), kept for re-download.
type KeptFile struct {
	Org             string
	ConfigurationID string
	Name            string // unique within the configuration
	Data            []byte // nil in listings
	Size            int
	Rows            int
	CreatedAt       time.Time
}

// FileRetention is how long uploaded files are kept.
const FileRetention = 28 * 24 * time.Hour

// FileStore keeps copies of uploaded files.
type FileStore interface {
	// PutFile stores f, replacing the file of the same (Org,
	// ConfigurationID, Name) (an upload repeated after a crash).
	PutFile(ctx context.Context, f KeptFile) error
	// ListFiles returns at most limit of the configuration's files, newest
	// CreatedAt first (then by name, descending), without their Data
	// (none: an empty list).
	ListFiles(ctx context.Context, org, configID string, limit int) ([]KeptFile, error)
	// GetFile returns one file with its Data, or ErrNotFound.
	GetFile(ctx context.Context, org, configID, name string) (KeptFile, error)
	// DropFiles removes the files, of every organization, created before
	// before, and reports how many.
	DropFiles(ctx context.Context, before time.Time) (int, error)
}
