package pebbledb_test

import (
	"testing"
	"time"

	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// Only one process opens the store, so an unfinished period claim that
// Open finds is a dead process's (killed during its run, a scheduled
// batch's send): free at once, not when its lease ends; within one open a
// held claim stays held.
func TestOpenFreesPeriodClaims(t *testing.T) {
	dir := t.TempDir()
	db, err := pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	const task = "forward/slot/o/c"
	if got, err := db.ClaimPeriod(ctx, task, 42, "dead", now, now.Add(5*time.Minute)); err != nil || !got {
		t.Fatal(got, err)
	}
	if got, err := db.ClaimPeriod(ctx, task, 42, "other", now.Add(time.Second), now.Add(6*time.Minute)); err != nil || got {
		t.Fatalf("a held claim taken within the same open: %v, %v", got, err)
	}
	if err := db.Close(); err != nil { // the process "dies" in its run
		t.Fatal(err)
	}
	db, err = pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.ClaimPeriod(ctx, task, 42, "restarted", now.Add(2*time.Second), now.Add(6*time.Minute)); err != nil || !got {
		t.Errorf("the dead process's claim after reopening: %v, %v, want it free", got, err)
	}
	if got, err := db.ClaimPeriod(ctx, task, 42, "other", now.Add(3*time.Second), now.Add(6*time.Minute)); err != nil || got {
		t.Errorf("the restarted process's claim taken: %v, %v", got, err)
	}
}
