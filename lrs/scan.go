package lrs

import (
	"context"
	"fmt"
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
	return storedStatements(recs), nil
}
