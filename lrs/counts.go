package lrs

import (
	"context"
	"time"
)

// How many statements each organization stored per day, for the console's
// chart: counted as they are stored (one counter update per request, by
// the service), so that a month's chart reads at most 31 small records
// however many statements there are. The count is of statements newly
// stored (a client's retry of a stored statement is not counted again); a
// crash between the insert and the counter's update forgets that batch,
// which a chart can afford (the statements resource holds the exact
// answer).

// DayCount is the number of statements an organization stored on one UTC
// day.
type DayCount struct {
	Day   time.Time // 00:00 UTC of the day
	Count int
}

// Day returns 00:00 UTC of t's UTC day.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// StatementCountStore keeps the statements stored per organization and UTC
// day. Every engine implements it (lrs/storetest's counts suite).
type StatementCountStore interface {
	// AddStatementCount adds n (> 0; otherwise nothing happens) to org's
	// count of t's UTC day. Concurrent calls, from any process, all count.
	AddStatementCount(ctx context.Context, org string, t time.Time, n int) error
	// StatementCounts returns org's counts of the UTC days from since's to
	// until's (both included), oldest first; days without statements are
	// absent.
	StatementCounts(ctx context.Context, org string, since, until time.Time) ([]DayCount, error)
}

// StatementCounts returns org's statements stored per UTC day from since's
// day to until's, one entry per day (zeros included). Without a count
// store (ServiceOptions.Counts) it returns an EUNAVAILABLE error.
func (s *Service) StatementCounts(ctx context.Context, org string, since, until time.Time) ([]DayCount, error) {
	if s.counts == nil {
		return nil, Errorf(EUNAVAILABLE, "statements are not counted by this server")
	}
	since, until = Day(since), Day(until)
	got, err := s.counts.StatementCounts(ctx, org, since, until)
	if err != nil {
		return nil, err
	}
	var out []DayCount
	i := 0
	for d := since; !d.After(until); d = d.AddDate(0, 0, 1) {
		for i < len(got) && got[i].Day.Before(d) {
			i++
		}
		n := 0
		if i < len(got) && got[i].Day.Equal(d) {
			n = got[i].Count
		}
		out = append(out, DayCount{Day: d, Count: n})
	}
	return out, nil
}

// countStored adds n statements stored at t to org's count. A failure does
// not fail the request (the statements are stored); it is counted as an
// error of the store operation add_statement_count.
func (s *Service) countStored(ctx context.Context, org string, t time.Time, n int) {
	if s.counts == nil || n <= 0 {
		return
	}
	start := time.Now()
	err := s.counts.AddStatementCount(ctx, org, t, n)
	if s.metrics != nil {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		s.metrics.storeOps.WithLabelValues("add_statement_count", outcome).Observe(time.Since(start).Seconds())
	}
}
