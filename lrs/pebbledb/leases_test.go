package pebbledb

import (
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// A claim keeps its leases in memory: it writes nothing to the WAL, yet
// every read sees the lease, the lease holds against a second claimer
// until it expires, and the settling write drops it.
func TestClaimLeasesStayInMemory(t *testing.T) {
	d := openTemp(t)
	ctx := t.Context()
	at := fwdMsTime(1_700_000_000_000)
	var ds []forward.Delivery
	for _, s := range []string{"s1", "s2", "s3"} {
		ds = append(ds, forward.Delivery{Org: "o", ConfigurationID: "c", StatementID: s, State: forward.StatePending,
			NextAttempt: at, CreatedAt: at, UpdatedAt: at})
	}
	if err := d.EnsureDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	wal0 := d.db.Metrics().WAL.BytesIn
	got, err := d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w1", Now: at, Lease: time.Minute, Limit: 2})
	if err != nil || len(got) != 2 {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	if wal := d.db.Metrics().WAL.BytesIn; wal != wal0 {
		t.Errorf("the claim wrote %d bytes to the WAL, want none", wal-wal0)
	}
	if n := d.leases.len(); n != 2 {
		t.Errorf("%d leases in memory, want 2", n)
	}
	// The stored record carries no lease; every read shows it.
	raw, ok, err := fwdGet(d, deliveryKey("o", "c", "s1"), decodeDelivery)
	if err != nil || !ok || raw.LeaseOwner != "" {
		t.Errorf("stored record: %+v, %v, %v; want no lease", raw, ok, err)
	}
	if g, err := d.GetDelivery(ctx, "o", "c", "s1"); err != nil || g.LeaseOwner != "w1" || !g.LeaseUntil.Equal(at.Add(time.Minute)) {
		t.Errorf("GetDelivery = %+v, %v; want leased to w1 until +1 min", g, err)
	}
	if l, err := d.ListDeliveries(ctx, "o", "c", forward.StatePending, 10); err != nil || len(l) != 3 {
		t.Fatalf("ListDeliveries = %d, %v", len(l), err)
	} else {
		held := 0
		for _, x := range l {
			if x.LeaseOwner == "w1" {
				held++
			}
		}
		if held != 2 {
			t.Errorf("ListDeliveries shows %d leased, want 2", held)
		}
	}
	// A second claimer gets the one left, then nothing until expiry.
	if g, err := d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w2", Now: at, Lease: time.Minute, Limit: 5}); err != nil || len(g) != 1 || g[0].StatementID != "s3" {
		t.Fatalf("second claim: %+v, %v; want s3", g, err)
	}
	if g, err := d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w3", Now: at.Add(30 * time.Second), Lease: time.Minute, Limit: 5}); err != nil || len(g) != 0 {
		t.Fatalf("claim within the leases: %d, %v; want none", len(g), err)
	}
	// w1 settles s1: the lease is gone from memory too.
	s1 := got[0]
	s1.State, s1.Attempts, s1.LastAttempt, s1.UpdatedAt = forward.StateDelivered, 1, at, at
	if err := d.UpdateDelivery(ctx, s1, "w1"); err != nil {
		t.Fatal(err)
	}
	if g, _ := d.GetDelivery(ctx, "o", "c", s1.StatementID); g.LeaseOwner != "" || g.State != forward.StateDelivered {
		t.Errorf("after the update: %+v", g)
	}
	if n := d.leases.len(); n != 2 {
		t.Errorf("%d leases in memory after one settled, want 2", n)
	}
	// After expiry a new claimer takes the two others; the first owner
	// of s2 has lost it.
	g, err := d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w4", Now: at.Add(61 * time.Second), Lease: time.Minute, Limit: 5})
	if err != nil || len(g) != 2 {
		t.Fatalf("claim after expiry: %d, %v; want 2", len(g), err)
	}
	s2 := got[1]
	s2.State = forward.StateDelivered
	if err := d.UpdateDelivery(ctx, s2, "w1"); err != forward.ErrLeaseLost {
		t.Errorf("update by the expired owner: %v, want ErrLeaseLost", err)
	}
}
