package forward

import (
	"context"
	"errors"
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
	// ClaimDeliveries leases up to limit pending deliveries whose
	// NextAttempt is at or before now and whose lease is free or expired,
	// oldest NextAttempt first, across all organizations, setting
	// LeaseOwner = owner and LeaseUntil = now + lease, and returns them
	// (none: an empty list). Two concurrent callers never receive the same
	// delivery.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// UpdateDelivery stores d's progress (state, attempts, times, errors,
	// reason; its key, objective, participant and creation time stay) and
	// releases the lease, if owner holds it: ErrLeaseLost otherwise, and
	// ErrNotFound or ErrLeaseLost when the delivery does not exist.
	UpdateDelivery(ctx context.Context, d Delivery, owner string) error
	// GetDelivery returns one delivery, lease included, or ErrNotFound.
	GetDelivery(ctx context.Context, org, configID, statementID string) (Delivery, error)
	// ListDeliveries returns at most limit of a configuration's deliveries
	// in state ("" for all), newest CreatedAt first.
	ListDeliveries(ctx context.Context, org, configID, state string, limit int) ([]Delivery, error)
	// DeliveriesOfStatement returns the deliveries one statement owes, one
	// per configuration.
	DeliveriesOfStatement(ctx context.Context, org, statementID string) ([]Delivery, error)
	// Redrive makes the configuration's deliveries in states pending again,
	// due at now, with Attempts, FirstFailure and Reason reset and any lease
	// dropped, and returns how many. A delivery that changes meanwhile keeps
	// its new state.
	Redrive(ctx context.Context, org, configID string, states []string, now time.Time) (int, error)
	// CountDeliveries counts a configuration's deliveries by state, with the
	// creation time of its oldest pending one (zero Counts when it has none).
	CountDeliveries(ctx context.Context, org, configID string) (Counts, error)
}

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
