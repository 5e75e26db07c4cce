package forward

import (
	"context"
	"time"
)

// What forwarding reads of the LRS, in its own terms: cmd adapts the LRS
// service to these interfaces, so that forward depends on no LRS package.

// Statement is a stored statement: its id, its stored time and its JSON
// exactly as stored (format=exact).
type Statement struct {
	ID     string
	Stored time.Time
	Raw    []byte
	// New: the call observing it is the one that stored it first, so
	// nothing was derived from it yet (a repeated statement, or one the
	// reconciler observes again, is not New). The results read model
	// writes a New statement's contributions without looking for a stored
	// copy (ResultStore.AddContributions).
	New bool
}

// Cursor is a position in the (Stored, ID) order of stored statements.
type Cursor struct {
	Stored time.Time
	ID     string
}

// StatementGetter is what the engine reads of a statement it sends.
type StatementGetter interface {
	// GetStatement returns the statement id of org exactly as stored,
	// whether or not it was voided since: a voided statement is still
	// forwarded (the voiding statement follows it when it matches an
	// objective itself). It returns an error wrapping ErrNotFound when no
	// statement has the id; any other error is a storage failure, and the
	// delivery is tried again later.
	GetStatement(ctx context.Context, org, id string) ([]byte, error)
}

// StatementsGetter is a StatementGetter that also reads many statements
// at once; the engine reads a batch's with one call when its getter is
// one.
type StatementsGetter interface {
	StatementGetter
	// GetStatements returns the statements of ids of org that exist, by
	// id, exactly as stored, voided or not (an id without a statement is
	// absent); an error is a storage failure.
	GetStatements(ctx context.Context, org string, ids []string) (map[string][]byte, error)
}

// StatementSource is what the reconciler reads of the LRS.
type StatementSource interface {
	// ScanStored returns up to limit statements of org stored strictly
	// after the position after and at or before until, ascending by
	// (Stored, ID).
	ScanStored(ctx context.Context, org string, after Cursor, until time.Time, limit int) ([]Statement, error)
	// ConsistentThrough is a time at or before which every stored
	// statement is visible.
	ConsistentThrough(ctx context.Context) (time.Time, error)
}

// StatementObserver learns of stored statements and ensures the
// deliveries they owe (Obligations); the LRS calls it before it answers a
// request that stored statements, and the reconciler calls it again for
// statements whose request died before it could. It must be idempotent; an
// error means some deliveries may be missing, and the call may be repeated.
type StatementObserver interface {
	StatementsStored(ctx context.Context, org string, stmts []Statement) error
}
