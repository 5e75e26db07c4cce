package lrs

import (
	"context"
	"time"
)

// StatementRecord is one statement as the engines keep it. The engines treat
// Raw and Terms as opaque: every xAPI rule lives in this package.
type StatementRecord struct {
	ID string // statement id, lower-case UUID
	// Stored is the LRS-assigned stored time, truncated to the millisecond.
	// Records are ordered by (Stored, ID).
	Stored time.Time
	// Raw is the statement exactly as it is returned by format=exact
	// (id, stored, authority, version and timestamp already set).
	Raw []byte
	// Terms are the index terms of this statement (see terms.go). A query
	// matches a record when every query term is in Terms.
	Terms []string
	// Voided is true once a voiding statement targeting this one is stored.
	Voided bool
	// RefTarget is the id of the statement this one targets by StatementRef
	// (including a voiding statement's target), or "".
	RefTarget string
	// Assigned is true when the LRS generated ID (a random UUID) for this
	// statement: no stored record can hold it, so an engine may skip its
	// conflict check. A repeat still fails with ECONFLICT where the engine
	// detects it anyway (a unique index).
	Assigned bool
}

// StatementQuery selects records: all Terms present, Since < Stored <= Until
// (zero times mean unbounded), strictly after the cursor After in the
// requested order, Voided records excluded, at most Limit records.
type StatementQuery struct {
	Terms     []string // at least one term; TermAll matches every statement
	Since     time.Time
	Until     time.Time
	After     *Cursor // position of the last record of the previous page, or nil
	Ascending bool    // order by (Stored, ID) ascending; descending when false
	Limit     int     // > 0
}

// Cursor is a position in the (Stored, ID) order.
type Cursor struct {
	Stored time.Time
	ID     string
}

// StatementStore is the statement contract every engine implements.
// Every method is scoped to one organization; no call crosses it.
type StatementStore interface {
	// InsertStatements stores new records. If a record with one of the ids
	// already exists in the organization, it returns an ECONFLICT *Error
	// naming that id, and stores no record whose id already existed; records
	// with free ids of the same call may or may not have been stored (the
	// caller re-checks; engines without transactions cannot promise more).
	InsertStatements(ctx context.Context, org string, recs []StatementRecord) error

	// GetStatements returns the records with the given ids that exist, voided
	// or not, keyed by id. Missing ids are simply absent from the map.
	GetStatements(ctx context.Context, org string, ids []string) (map[string]StatementRecord, error)

	// QueryStatements returns the records matching q in q's order.
	QueryStatements(ctx context.Context, org string, q StatementQuery) ([]StatementRecord, error)

	// SetVoided marks the record id as voided. It returns an ENOTFOUND *Error
	// if the id does not exist. Idempotent.
	SetVoided(ctx context.Context, org, id string) error

	// AddTerms adds index terms to an existing record (used when a statement
	// arrives that another, earlier-stored statement targets by
	// StatementRef). Idempotent; ENOTFOUND if the id does not exist.
	AddTerms(ctx context.Context, org, id string, terms []string) error

	// Referrers returns the ids of records whose RefTarget is id.
	Referrers(ctx context.Context, org, id string) ([]string, error)

	// ReferrersOf is Referrers for many ids at once: the referrers of each
	// id that has any (ids without referrers are absent from the map).
	ReferrersOf(ctx context.Context, org string, ids []string) (map[string][]string, error)
}

// Store is the LRS side of an engine. Each engine implements it together
// with every other persistence contract of the binary (auth.CredentialStore,
// and those added later) and passes lrs/storetest.
type Store interface {
	StatementStore
	// Ping reports whether the storage is reachable (/readyz).
	Ping(ctx context.Context) error
	// Close releases the storage. Idempotent.
	Close() error
}
