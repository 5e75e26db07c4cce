package forward

import (
	"context"
	"errors"
	"time"
)

// Backfill on attach (issue 18 item 5). Attaching a configuration to an
// objective sends what the objective matches from then on; with the
// administrator's backfill flag, what it matched before becomes
// deliveries too: the stored statements the objective matches (an append
// sink: one delivery per statement, as Obligations derives them) or the
// objective's current results (an overwrite sink: the one delivery per
// result that ResultChanged ensures). A backfill is a durable job per
// (configuration, objective), driven in bounded chunks by a Backfiller in
// the forwarding process (backfill_worker.go), resumable from its cursor
// after a crash; the deliveries it ensures are the idempotent ones of the
// normal path, so a chunk done twice sends nothing twice.

// Backfill kinds.
const (
	BackfillStatements = "statements" // append sinks: stored statements
	BackfillResults    = "results"    // overwrite sinks: current results
)

// Backfill states.
const (
	BackfillRunning = "running"
	BackfillDone    = "done"
	BackfillFailed  = "failed"
)

// ErrBackfillNotFailed: RestartBackfill found the key's job running,
// done, or another run than the failed one it was to restart (it was
// restarted or started again meanwhile).
var ErrBackfillNotFailed = errors.New("forward: the backfill is not the failed run")

// BackfillJob is the backfill of one configuration attached to one
// objective: its identity (Org, ConfigurationID, ObjectiveID), where it
// is (Cursor), how far (Done of Total), and who drives it (the lease).
type BackfillJob struct {
	Org             string
	ConfigurationID string
	ObjectiveID     string
	// ID names this run of the job: starting the backfill of a key again
	// replaces its job with one of a new ID.
	ID    string
	Kind  string // BackfillStatements or BackfillResults
	State string // BackfillRunning, BackfillDone or BackfillFailed
	// Until bounds a statements backfill: the statements stored at or
	// before it (the attach); later ones are owed by the obligations.
	Until time.Time
	// Counted is false while the job counts what it will backfill (Total
	// grows, Cursor is the count's position); then true, and Cursor is
	// the position of the last item backfilled (Done).
	Counted bool
	// Cursor is an opaque position in the job's order ("": the start):
	// (stored, id) of statements, (participant, registration) of results.
	Cursor     string
	Done       int
	Total      int
	Error      string // why it failed
	StartedAt  time.Time
	FinishedAt time.Time
	UpdatedAt  time.Time

	// Lease: the Backfiller that drives the job owns it until LeaseUntil.
	LeaseOwner string
	LeaseUntil time.Time
}

// BackfillStore keeps the backfill jobs, one per (Org, ConfigurationID,
// ObjectiveID), with the lease of the process driving each. Every method
// is a single-document operation that holds across processes on MongoDB
// without transactions; writes are durable when they return; times are
// kept at millisecond precision.
type BackfillStore interface {
	// StartBackfill stores j as the job of its key, lease free, replacing
	// the key's job if it has one (whoever held that one's lease loses
	// it).
	StartBackfill(ctx context.Context, j BackfillJob) error
	// GetBackfill returns the job of (org, configID, objectiveID), or
	// ErrNotFound.
	GetBackfill(ctx context.Context, org, configID, objectiveID string) (BackfillJob, error)
	// ListBackfills returns the configuration's jobs, ordered by
	// ObjectiveID (none: an empty list).
	ListBackfills(ctx context.Context, org, configID string) ([]BackfillJob, error)
	// RunningBackfills returns at most limit jobs in state running, of
	// every organization, ordered by (Org, ConfigurationID, ObjectiveID).
	RunningBackfills(ctx context.Context, limit int) ([]BackfillJob, error)
	// LeaseBackfill leases the running job of the key whose ID is id to
	// owner until until, when its lease is free, expired at now, or
	// already owner's, and returns it. ErrLeaseLost when another owner
	// holds it at now, or the job is no longer running or is another run
	// (another ID); ErrNotFound when the key has no job. Of concurrent
	// callers, at most one gets a lease.
	LeaseBackfill(ctx context.Context, org, configID, objectiveID, id, owner string, now, until time.Time) (BackfillJob, error)
	// UpdateBackfill stores j's progress (State, Counted, Cursor, Done,
	// Total, Error, FinishedAt, UpdatedAt) and its lease (LeaseOwner and
	// LeaseUntil: renewed, or released when empty) if the key's job is
	// still the run j.ID and owner holds its lease; ErrLeaseLost otherwise
	// (nothing written), ErrNotFound when the key has no job.
	UpdateBackfill(ctx context.Context, j BackfillJob, owner string) error
	// RestartBackfill replaces the key's job by j (a new run: its own ID,
	// lease free) if that job is still the run failedID and has failed;
	// ErrBackfillNotFailed otherwise (nothing written), ErrNotFound when
	// the key has no job. Of concurrent restarts of one failed run, at
	// most one succeeds.
	RestartBackfill(ctx context.Context, j BackfillJob, failedID string) error
	// DeleteBackfills removes the configuration's jobs (it was deleted).
	DeleteBackfills(ctx context.Context, org, configID string) error
}
