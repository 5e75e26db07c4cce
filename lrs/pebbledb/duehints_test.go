package pebbledb

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// TestDueHintsRaceRules: a reader's raise is refused when a writer
// finished between the reader's hint and its raise (the reader's iterator
// may not have seen the writer's key), a writer lowers the hint, and a
// raise never lowers it.
func TestDueHintsRaceRules(t *testing.T) {
	var h dueHints
	q := queuePrefix("o", "c")
	key := func(ms int64, s string) []byte { return dueKey(ms, "o", "c", s) }

	low, gen := h.hint(q)
	if low != nil {
		t.Fatalf("a new queue's hint = %q, want its start (nil)", low)
	}
	h.raise(q, gen, key(50, "a"))
	if low, _ := h.hint(q); !bytes.Equal(low, key(50, "a")) {
		t.Fatalf("hint after a raise = %q", low)
	}

	// A reader reads the hint, a writer commits a key below it and
	// finishes, then the reader (which did not see the key) raises.
	_, gen = h.hint(q)
	h.lowered([]dueWrite{{queue: string(q), key: key(10, "w")}})
	h.raise(q, gen, key(90, "z"))
	if low, _ := h.hint(q); !bytes.Equal(low, key(10, "w")) {
		t.Errorf("hint = %q, want the writer's key: a raise across a writer must be refused", low)
	}
	// A writer above the hint leaves it, a raise never lowers it.
	low, gen = h.hint(q)
	h.lowered([]dueWrite{{queue: string(q), key: key(70, "x")}})
	if l2, _ := h.hint(q); !bytes.Equal(l2, low) {
		t.Errorf("a write above the hint moved it to %q", l2)
	}
	_, gen = h.hint(q)
	h.raise(q, gen, key(5, "a"))
	if l2, _ := h.hint(q); !bytes.Equal(l2, low) {
		t.Errorf("a raise below the hint moved it to %q", l2)
	}
	// A queue written before the first walk is not known until the walk.
	if _, known := h.snapshot(); known {
		t.Error("queues known before a walk")
	}
	h.walked(nil)
	if hs, known := h.snapshot(); !known || len(hs) != 1 || !bytes.Equal(hs[0].queue, q) {
		t.Errorf("snapshot after the walk = %v, %v", hs, known)
	}
}

// TestDueHintsAfterReopen: the hints are in memory only; a store reopened
// after half its queue was drained (hints lost, tombstones kept) drains
// the rest in order, and finds a delivery due before the drained ones.
func TestDueHintsAfterReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	open := func() *DB {
		db, err := Open(dir, Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	drain := func(db *DB, now time.Time, max int) []string {
		var ids []string
		for len(ids) < max {
			keys, err := db.DueConfigurations(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := db.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w", Now: now, Lease: time.Minute, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				if len(keys) != 0 {
					t.Fatalf("DueConfigurations = %v but the claim found nothing", keys)
				}
				break
			}
			d := got[0]
			d.State, d.UpdatedAt = forward.StateDelivered, now
			if err := db.UpdateDelivery(ctx, d, "w"); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.StatementID)
		}
		return ids
	}
	mk := func(id string, at time.Time) forward.Delivery {
		return forward.Delivery{Org: "o", ConfigurationID: "c", StatementID: id, ObjectiveID: "obj", Participant: "p",
			State: forward.StatePending, NextAttempt: at, CreatedAt: at, UpdatedAt: at}
	}
	db := open()
	var ds []forward.Delivery
	for i := range 100 {
		ds = append(ds, mk(fmt.Sprintf("s%03d", i), base.Add(time.Duration(i)*time.Second)))
	}
	if err := db.EnsureDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	now := base.Add(time.Hour)
	if ids := drain(db, now, 60); len(ids) != 60 || ids[59] != "s059" {
		t.Fatalf("first drain = %v", ids)
	}
	if low, _ := db.due.hint(queuePrefix("o", "c")); bytes.Compare(low, dueKey(floorMs(base.Add(59*time.Second)), "o", "c", "s059")) < 0 {
		t.Errorf("after 60 claims the hint is %q, still before the last claimed key", low)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	defer db.Close()
	if err := db.EnsureDeliveries(ctx, []forward.Delivery{mk("early", base.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	ids := drain(db, now, 1000)
	if len(ids) != 41 || ids[0] != "early" || ids[1] != "s060" || ids[40] != "s099" {
		t.Errorf("drain after reopen = %v, want early, then s060 … s099", ids)
	}
}

// TestAttemptTrimHint: the delivery log keeps exactly the cap with point
// deletes, also when the cap is lowered (several entries go at once), when
// an entry older than the kept ones arrives, and after a reopen (no hint).
func TestAttemptTrimHint(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := Open(dir, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	add := func(db *DB, i int) {
		t.Helper()
		if err := db.AddAttempt(ctx, forward.Attempt{Org: "o", ConfigurationID: "c", StatementIDs: []string{fmt.Sprint(i)},
			At: base.Add(time.Duration(i) * time.Second), Outcome: forward.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	kept := func(db *DB, want int, newest, oldest string) {
		t.Helper()
		all, err := db.ListAttempts(ctx, "o", "c", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != want || all[0].StatementIDs[0] != newest || all[len(all)-1].StatementIDs[0] != oldest {
			var ids []string
			for _, a := range all {
				ids = append(ids, a.StatementIDs[0])
			}
			t.Fatalf("log = %v, want %d entries from %s down to %s", ids, want, newest, oldest)
		}
	}
	db.SetAttemptCap(5)
	for i := range 20 {
		add(db, i)
	}
	kept(db, 5, "19", "15")
	db.SetAttemptCap(3)
	add(db, 20)
	kept(db, 3, "20", "18")
	add(db, -5) // older than every kept entry: it goes at once
	kept(db, 3, "20", "18")
	add(db, 21)
	kept(db, 3, "21", "19")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetAttemptCap(2)
	add(db, 22)
	kept(db, 2, "22", "21")
	add(db, 23)
	kept(db, 2, "23", "22")
}
