package lrs

import (
	"context"
	"time"
)

// StatementObserver learns of the statements a request stored, before the
// request is answered: the forwarding obligations are ensured this way
// (forward.Obligations). It is called for new and repeated statements
// alike, so that a client's retry re-ensures what a failed call did not;
// an error fails the request (the client retries). It must be idempotent.
type StatementObserver interface {
	StatementsStored(ctx context.Context, org string, stmts []StoredStatement) error
}

// StoredStatement is a statement as stored (Raw is format=exact). For a
// repeated statement, Stored and Raw are those of the request that
// repeated it; its content (actor, verb, object) is the stored one's.
type StoredStatement struct {
	ID     string
	Stored time.Time
	Raw    []byte
	// New: the request that observes it stored it first (no other request
	// or process had stored the id), so nothing was derived from it yet;
	// false for a repeated statement and whenever it is not known (the
	// reconciler's re-observations).
	New bool
}

// storedStatements are recs as observed, New when isNew says so (nil:
// none is).
func storedStatements(recs []StatementRecord, isNew func(id string) bool) []StoredStatement {
	out := make([]StoredStatement, len(recs))
	for i, r := range recs {
		out[i] = StoredStatement{ID: r.ID, Stored: r.Stored, Raw: r.Raw, New: isNew != nil && isNew(r.ID)}
	}
	return out
}
