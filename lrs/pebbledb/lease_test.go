package pebbledb_test

import (
	"context"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// Only one process opens the store, so the leases of a process that died
// mid-send are freed at once by a restart, not when they expire: claim
// leases are kept in memory only (leases.go), and those a store of an
// earlier version kept on disk are freed by Open (releaseLeases).
func TestOpenReleasesLeasesOfADeadProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db, err := pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ds := []forward.Delivery{
		{Org: "o", ConfigurationID: "c", StatementID: "s1", State: forward.StatePending, NextAttempt: now, CreatedAt: now, UpdatedAt: now},
		{Org: "o", ConfigurationID: "c", StatementID: "s2", State: forward.StatePending, NextAttempt: now, CreatedAt: now, UpdatedAt: now},
	}
	if err := db.EnsureDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	got, err := db.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "dead", Now: now, Lease: time.Hour, Limit: 10})
	if err != nil || len(got) != 2 {
		t.Fatalf("first claim: %d, %v", len(got), err)
	}
	if err := db.Close(); err != nil { // the process "dies" holding the leases
		t.Fatal(err)
	}

	db, err = pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err = db.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "restarted", Now: now.Add(time.Second), Lease: time.Hour, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("after reopening, claimed %d deliveries, want the 2 the dead process held", len(got))
	}
	for _, d := range got {
		if d.LeaseOwner != "restarted" {
			t.Errorf("%s leased by %q", d.StatementID, d.LeaseOwner)
		}
	}
}
