package pebbledb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The in-memory set of stored result keys holds every stored result (those
// of an earlier process, filled from the participants' index, and those
// created since), so GetResults still finds each one once the set answers
// for the store, and a result it does not hold is not stored.
func TestResultSet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)
	key := func(i int) forward.ResultKey {
		reg := ""
		if i%2 == 1 {
			reg = fmt.Sprintf("reg-%d", i)
		}
		return forward.ResultKey{Org: "acme", ObjectiveID: fmt.Sprintf("obj\x00%d", i%3), Participant: fmt.Sprintf("mbox:mailto:p%d@example.com", i), Registration: reg}
	}
	put := func(db *DB, from, to int) {
		t.Helper()
		var rs []forward.ObjectiveResult
		for i := from; i < to; i++ {
			rs = append(rs, forward.ObjectiveResult{ResultKey: key(i), Revision: 1, CreatedAt: now, UpdatedAt: now, Computed: forward.Values{Attempts: 1}})
		}
		if c, err := db.PutResults(ctx, rs, false); err != nil || len(c) > 0 {
			t.Fatalf("PutResults: %v, %v", c, err)
		}
	}
	check := func(db *DB, n int) {
		t.Helper()
		keys := []forward.ResultKey{{Org: "acme", ObjectiveID: "obj\x000", Participant: "mbox:mailto:nobody@example.com"}}
		for i := range n {
			keys = append(keys, key(i))
		}
		got, err := db.GetResults(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys[1:] {
			if r, ok := got[k]; !ok || r.Gen != 1 {
				t.Errorf("result %+v: found %v gen %d", k, ok, r.Gen)
			}
		}
		if len(got) != n {
			t.Errorf("%d results found, want %d", len(got), n)
		}
	}
	put(db, 0, 20)
	check(db, 20)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := db.resultSet("acme")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.RLock()
		ready := s.ready
		s.mu.RUnlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the result set did not fill in 10s")
		}
	}
	for i := range 20 {
		if !s.mayHold(resultKey(key(i))) {
			t.Fatalf("the filled set does not hold result %d", i)
		}
	}
	put(db, 20, 30)
	check(db, 30)
	// An update of a stored result reads it, and the set still holds it.
	got, err := db.GetResults(ctx, []forward.ResultKey{key(3)})
	if err != nil {
		t.Fatal(err)
	}
	r := got[key(3)]
	r.Revision = 2
	if c, err := db.PutResults(ctx, []forward.ObjectiveResult{r}, false); err != nil || len(c) > 0 {
		t.Fatalf("update: %v, %v", c, err)
	}
	// Creating a stored result again conflicts, the set holding it.
	r.Gen = 0
	if c, err := db.PutResults(ctx, []forward.ObjectiveResult{r}, false); err != nil || len(c) != 1 {
		t.Fatalf("a second create: %v, %v; want a conflict", c, err)
	}
}
