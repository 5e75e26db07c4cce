package lrs

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ScanStored returns up to limit statements of org stored strictly after
// the position after (in (Stored, ID) order) and at or before until (zero:
// unbounded), ascending: what the forwarding reconciler re-reads. Voided
// statements are not returned (queries exclude them).
func (s *Service) ScanStored(ctx context.Context, org string, after Cursor, until time.Time, limit int) ([]StoredStatement, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := StatementQuery{Terms: []string{TermAll}, Until: until, Ascending: true, Limit: limit}
	if !after.Stored.IsZero() || after.ID != "" {
		q.After = &after
	}
	recs, err := s.store.QueryStatements(ctx, org, q)
	if err != nil {
		return nil, fmt.Errorf("scan statements: %w", err)
	}
	return storedStatements(recs, nil), nil
}

// ScanActivity is ScanStored for the statements whose object is the
// activity (and those that target one by StatementRef, as every activity
// filter matches them): what a forwarding backfill reads, through the
// activity's index term rather than every statement.
func (s *Service) ScanActivity(ctx context.Context, org, activity string, after Cursor, until time.Time, limit int) ([]StoredStatement, error) {
	if limit <= 0 || activity == "" {
		return nil, nil
	}
	q := StatementQuery{Terms: []string{termActivity + activity}, Until: until, Ascending: true, Limit: limit}
	if !after.Stored.IsZero() || after.ID != "" {
		q.After = &after
	}
	recs, err := s.store.QueryStatements(ctx, org, q)
	if err != nil {
		return nil, fmt.Errorf("scan the statements of an activity: %w", err)
	}
	return storedStatements(recs, nil), nil
}

// StoredStatement returns the statement id of org as stored (format=exact),
// whether or not it was voided: what a reader of every stored statement,
// such as forwarding, needs (GetStatement hides voided statements from
// statementId, as xAPI requires of the statements resource). ENOTFOUND if
// no statement has the id.
// StoredStatements is StoredStatement for many ids, with one read of the
// store: the statements found, by (lower-case) id.
func (s *Service) StoredStatements(ctx context.Context, org string, ids []string) (map[string]StoredStatement, error) {
	lower := make([]string, len(ids))
	for i, id := range ids {
		lower[i] = strings.ToLower(id)
	}
	got, err := s.store.GetStatements(ctx, org, lower)
	if err != nil {
		return nil, fmt.Errorf("get %d statements: %w", len(ids), err)
	}
	out := make(map[string]StoredStatement, len(got))
	for id, rec := range got {
		out[id] = StoredStatement{ID: id, Stored: rec.Stored, Raw: rec.Raw}
	}
	return out, nil
}

func (s *Service) StoredStatement(ctx context.Context, org, id string) (StoredStatement, error) {
	id = strings.ToLower(id)
	got, err := s.store.GetStatements(ctx, org, []string{id})
	if err != nil {
		return StoredStatement{}, fmt.Errorf("get statement %s: %w", id, err)
	}
	rec, ok := got[id]
	if !ok {
		return StoredStatement{}, Errorf(ENOTFOUND, "no statement with id %s", id)
	}
	return StoredStatement{ID: id, Stored: rec.Stored, Raw: rec.Raw}, nil
}
