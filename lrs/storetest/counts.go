package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// The counters behind the console's charts: statements stored per
// organization and day, and each configuration's attempts per hour.

// RunStatementCounts runs the lrs.StatementCountStore suite; open returns
// a new, empty store (the caller closes it with t.Cleanup).
func RunStatementCounts(t *testing.T, open func(t *testing.T) lrs.StatementCountStore) {
	t.Helper()
	t.Run("PerDay", func(t *testing.T) { testStatementCountsPerDay(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testStatementCountsConcurrent(t, open(t)) })
}

var countBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func testStatementCountsPerDay(t *testing.T, s lrs.StatementCountStore) {
	ctx := t.Context()
	add := func(org string, at time.Time, n int) {
		t.Helper()
		if err := s.AddStatementCount(ctx, org, at, n); err != nil {
			t.Fatalf("AddStatementCount(%s, %v, %d): %v", org, at, n, err)
		}
	}
	add(orgA, countBase.Add(1*time.Hour), 3)
	add(orgA, countBase.Add(23*time.Hour+59*time.Minute), 2) // the same UTC day
	add(orgA, countBase.AddDate(0, 0, 2).Add(5*time.Minute), 7)
	// A time in another zone counts on its UTC day.
	add(orgA, countBase.AddDate(0, 0, 3).Add(30*time.Minute).In(time.FixedZone("UTC-5", -5*3600)), 1)
	add(orgA, countBase.AddDate(0, 0, 5), 0)  // nothing
	add(orgA, countBase.AddDate(0, 0, 5), -4) // nothing
	add(orgB, countBase.Add(2*time.Hour), 100)

	got, err := s.StatementCounts(ctx, orgA, countBase.Add(12*time.Hour), countBase.AddDate(0, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	want := []lrs.DayCount{{Day: countBase, Count: 5}, {Day: countBase.AddDate(0, 0, 2), Count: 7}, {Day: countBase.AddDate(0, 0, 3), Count: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("StatementCounts = %v, want %v (per UTC day, oldest first, empty days absent)", got, want)
	}
	for _, c := range got {
		if c.Day.Location() != time.UTC {
			t.Errorf("day %v is not in UTC", c.Day)
		}
	}
	// Both ends are included, by day.
	got, err = s.StatementCounts(ctx, orgA, countBase.AddDate(0, 0, 2).Add(23*time.Hour), countBase.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	if want := []lrs.DayCount{{Day: countBase.AddDate(0, 0, 2), Count: 7}, {Day: countBase.AddDate(0, 0, 3), Count: 1}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("StatementCounts of days 2 and 3 = %v, want %v", got, want)
	}
	if got, err := s.StatementCounts(ctx, orgB, countBase, countBase.AddDate(0, 0, 10)); err != nil || len(got) != 1 || got[0].Count != 100 {
		t.Errorf("StatementCounts(org-b) = %v, %v: want its one day of 100", got, err)
	}
	if got, err := s.StatementCounts(ctx, "org-c", countBase, countBase.AddDate(0, 0, 10)); err != nil || len(got) != 0 {
		t.Errorf("StatementCounts of an organization without statements = %v, %v: want none", got, err)
	}
	if got, err := s.StatementCounts(ctx, orgA, countBase.AddDate(0, 0, 3), countBase); err != nil || len(got) != 0 {
		t.Errorf("StatementCounts with until before since = %v, %v: want none", got, err)
	}
}

func testStatementCountsConcurrent(t *testing.T, s lrs.StatementCountStore) {
	ctx := t.Context()
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- s.AddStatementCount(ctx, orgA, countBase.Add(time.Duration(w*each+i)*time.Minute), 2)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.StatementCounts(ctx, orgA, countBase, countBase)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Count != writers*each*2 {
		t.Errorf("after %d concurrent additions of 2: %v, want %d (every addition counts)", writers*each, got, writers*each*2)
	}
}

// testFwdAttemptCounts: every attempt counts in its hour, the delivery log's
// cap notwithstanding, and concurrent attempts all count.
func testFwdAttemptCounts(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	if c, ok := s.(attemptCapper); ok {
		c.SetAttemptCap(3)
	}
	h0 := fwdBase.Truncate(time.Hour)
	add := func(org, config string, at time.Time, outcome string, statements int) {
		t.Helper()
		a := forward.Attempt{Org: org, ConfigurationID: config, At: at, Outcome: outcome, Status: 200}
		for i := range statements {
			a.StatementIDs = append(a.StatementIDs, fmt.Sprintf("s%d", i))
		}
		if err := s.AddAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 { // more than the log keeps
		add(orgA, "c1", h0.Add(time.Duration(i)*time.Minute), forward.OutcomeSuccess, 3)
	}
	add(orgA, "c1", h0.Add(59*time.Minute+59*time.Second), forward.OutcomeTransport, 2)
	add(orgA, "c1", h0.Add(2*time.Hour), forward.OutcomeDestination, 4)
	add(orgA, "c1", h0.Add(2*time.Hour+time.Minute), forward.OutcomeTransport, 0) // a probe
	add(orgA, "c2", h0, forward.OutcomeSuccess, 50)
	add(orgB, "c1", h0, forward.OutcomeSuccess, 70)

	got, err := s.AttemptCounts(ctx, orgA, "c1", h0.Add(30*time.Minute), h0.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []forward.HourCount{
		{Hour: h0, Attempts: 7, Delivered: 18, Failed: 2},
		{Hour: h0.Add(2 * time.Hour), Attempts: 2, Delivered: 0, Failed: 4},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("AttemptCounts = %+v,\nwant %+v (per hour, both ends' hours included, empty hours absent)", got, want)
	}
	got, err = s.AttemptCounts(ctx, orgA, "c1", h0.Add(time.Hour), h0.Add(time.Hour+59*time.Minute))
	if err != nil || len(got) != 0 {
		t.Errorf("AttemptCounts of an hour without attempts = %v, %v", got, err)
	}
	got, err = s.AttemptCounts(ctx, orgA, "c1", h0.Add(2*time.Hour), h0.Add(2*time.Hour))
	if err != nil || len(got) != 1 || got[0].Attempts != 2 {
		t.Errorf("AttemptCounts of one hour = %v, %v", got, err)
	}
	if got, err := s.AttemptCounts(ctx, orgB, "c1", h0, h0); err != nil || len(got) != 1 || got[0].Delivered != 70 {
		t.Errorf("AttemptCounts(org-b, c1) = %v, %v: want only its own 70", got, err)
	}
	if got, err := s.AttemptCounts(ctx, orgA, "c2", h0, h0); err != nil || len(got) != 1 || got[0].Delivered != 50 {
		t.Errorf("AttemptCounts(org-a, c2) = %v, %v: want only its own 50", got, err)
	}

	const workers, each = 6, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	h := h0.Add(10 * time.Hour)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- s.AddAttempt(ctx, forward.Attempt{Org: orgA, ConfigurationID: "c3", At: h.Add(time.Duration(w*each+i) * time.Second),
					Outcome: forward.OutcomeSuccess, StatementIDs: []string{"x"}})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.AttemptCounts(ctx, orgA, "c3", h, h); err != nil || len(got) != 1 || got[0].Attempts != workers*each || got[0].Delivered != workers*each {
		t.Errorf("after %d concurrent attempts: %v, %v", workers*each, got, err)
	}
}
