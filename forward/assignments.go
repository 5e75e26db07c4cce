package forward

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AssignmentKey names the one remote assignment a destination keeps for a
// configuration's objective in a section of the downstream (Clever: one
// assignment per section and objective, created once; forward/clever's
// assignments.go has the protocol that uses this store).
type AssignmentKey struct {
	Org           string
	Configuration string
	Section       string
	Objective     string
}

func (k AssignmentKey) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", k.Org, k.Configuration, k.Section, k.Objective)
}

// AssignmentRecord is the stored state of a key: a reservation (a worker
// is creating the assignment), then the assignment's downstream id.
type AssignmentRecord struct {
	Key AssignmentKey
	// Reservation is the random id of the worker that reserved the key,
	// at ReservedAt.
	Reservation string
	ReservedAt  time.Time
	// AssignmentID is the downstream's id of the assignment, "" while
	// reserved; CreatedAt the time it was recorded.
	AssignmentID string
	CreatedAt    time.Time
}

// Errors of the AssignmentStore contract.
var (
	// ErrNoAssignment: the key has no record.
	ErrNoAssignment = errors.New("forward: no assignment record")
	// ErrAssignmentChanged: the key's record is not the one the caller
	// named (another worker reserved, resolved or released it); nothing
	// was written.
	ErrAssignmentChanged = errors.New("forward: the assignment record changed")
)

// AssignmentStore keeps one record per AssignmentKey, so that a remote
// object whose creation is not idempotent is created once, by one worker of
// any process, and its id is durable before anything uses it. Every method
// is a single-document operation that holds across processes on MongoDB
// without transactions; a write is durable when it returns. Times are kept
// at millisecond precision.
type AssignmentStore interface {
	// GetAssignment returns the record of key, or ErrNoAssignment.
	GetAssignment(ctx context.Context, key AssignmentKey) (AssignmentRecord, error)
	// ReserveAssignment stores rec (a reservation: AssignmentID empty)
	// unless the key has a record. It returns the key's stored record and
	// whether it is rec: of concurrent callers, in any processes, exactly
	// one wins.
	ReserveAssignment(ctx context.Context, rec AssignmentRecord) (AssignmentRecord, bool, error)
	// ResolveAssignment records assignmentID (at at) in the key's record if
	// that is still the unresolved reservation named reservation;
	// ErrAssignmentChanged otherwise (nothing written). A release or a
	// takeover racing with it either lands before it (it then fails) or
	// after it (and then fails itself: the record changed).
	ResolveAssignment(ctx context.Context, key AssignmentKey, reservation, assignmentID string, at time.Time) error
	// ReleaseAssignment removes the key's record if it still has rec's
	// Reservation and AssignmentID (a compare-and-delete);
	// ErrAssignmentChanged if it has others (nothing removed); nil if the
	// key has no record.
	ReleaseAssignment(ctx context.Context, rec AssignmentRecord) error
	// DeleteAssignments removes every record of the configuration (org,
	// configID), whatever its state: the configuration was deleted.
	DeleteAssignments(ctx context.Context, org, configID string) error
}
