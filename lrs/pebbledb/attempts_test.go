package pebbledb_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// The delivery log's number of entries is kept in memory so that an add
// past the cap reads only the entry it pushes out: after a reopen the
// first add counts the log again, and the log keeps exactly the cap's
// newest entries, across the restart and under concurrent adds whose
// times are not in order.
func TestAttemptLogCountSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const limit = 20
	open := func() *pebbledb.DB {
		db, err := pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		db.SetAttemptCap(limit)
		return db
	}
	var mu sync.Mutex
	var all []time.Time
	add := func(db *pebbledb.DB, sec int) {
		a := at.Add(time.Duration(sec) * time.Second)
		if err := db.AddAttempt(ctx, forward.Attempt{Org: "o", ConfigurationID: "c", StatementIDs: []string{fmt.Sprint(sec)},
			At: a, Outcome: forward.OutcomeSuccess, Status: 200}); err != nil {
			t.Error(err)
		}
		mu.Lock()
		all = append(all, a)
		mu.Unlock()
	}
	check := func(db *pebbledb.DB, when string) {
		t.Helper()
		got, err := db.ListAttempts(ctx, "o", "c", 1000)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(all, func(a, b time.Time) int { return b.Compare(a) })
		want := all[:min(limit, len(all))]
		var gotAt []time.Time
		for _, a := range got {
			gotAt = append(gotAt, a.At)
		}
		if !slices.EqualFunc(gotAt, want, time.Time.Equal) {
			t.Fatalf("%s: the log holds %d entries %v, want the %d newest %v", when, len(gotAt), gotAt, len(want), want)
		}
	}

	db := open()
	for i := range 30 {
		add(db, i)
	}
	check(db, "before the reopen")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open()
	defer db.Close()
	add(db, 30)
	check(db, "after the reopen")
	// Concurrent adds, at times in no order (some older than the log).
	secs := rand.Perm(200)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(secs); i += 8 {
				add(db, 31+secs[i]-40)
			}
		}()
	}
	wg.Wait()
	// Each trim deletes the oldest entries written by then, so with
	// times out of order the log may keep an older entry for a newer
	// one: it holds the cap's number, the newest among them.
	if got, err := db.ListAttempts(ctx, "o", "c", 1000); err != nil || len(got) != limit || !got[0].At.Equal(at.Add(190*time.Second)) {
		t.Fatalf("after concurrent adds: %d entries (%v), want %d, the newest at +190 s first", len(got), err, limit)
	}
	add(db, 500)
	for i := range limit {
		add(db, 501+i)
	}
	check(db, "after the concurrent adds and a cap's worth more")
	db.SetAttemptCap(limit / 2)
	add(db, 1000)
	mu.Lock()
	all = all[:0]
	mu.Unlock()
	got, err := db.ListAttempts(ctx, "o", "c", 1000)
	if err != nil || len(got) != limit/2 || !got[0].At.Equal(at.Add(1000*time.Second)) {
		t.Fatalf("after lowering the cap: %d entries, newest %v, %v; want %d, the newest first", len(got), got[0].At, err, limit/2)
	}
}
