package pebbledb

import (
	"reflect"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// checkDeliveryCache fails unless every record kept in d.recs is the
// stored record of its key, and each of pending is kept.
func checkDeliveryCache(t *testing.T, d *DB, pending ...string) {
	t.Helper()
	d.recs.mu.Lock()
	kept := make(map[string]forward.Delivery, len(d.recs.m))
	for k, v := range d.recs.m {
		dl, err := decodeDelivery(v)
		if err != nil {
			t.Errorf("%q kept as %q: %v", k, v, err)
		}
		kept[k] = dl
	}
	d.recs.mu.Unlock()
	for k, v := range kept {
		stored, ok, err := fwdGet(d, []byte(k), decodeDelivery)
		if err != nil || !ok {
			t.Errorf("%q kept but not stored (%v)", k, err)
			continue
		}
		if !reflect.DeepEqual(v, stored) {
			t.Errorf("%q kept as\n%+v\nstored as\n%+v", k, v, stored)
		}
	}
	for _, s := range pending {
		if _, ok := kept[string(deliveryKey("o", "c", s))]; !ok {
			t.Errorf("pending delivery %s not kept", s)
		}
	}
}

// The records of pending deliveries are kept in memory as they were
// written (so that a claim and a settle need not read them), and each
// write of this process replaces or drops them: ensure, claim, settle,
// a retry, a re-drive, a release.
func TestDeliveryCacheFollowsEveryWrite(t *testing.T) {
	d := openTemp(t)
	ctx := t.Context()
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.FixedZone("X", 3600)) // not in ms, not in UTC
	var ds []forward.Delivery
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		ds = append(ds, forward.Delivery{Org: "o", ConfigurationID: "c", StatementID: s, ObjectiveID: "obj", Participant: "p@example.com",
			State: forward.StatePending, NextAttempt: at, CreatedAt: at, UpdatedAt: at})
	}
	ds[3].State, ds[3].Participant, ds[3].Reason = forward.StateSkipped, "", forward.ReasonNoMbox
	if err := d.EnsureDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if ds[0].NextAttempt != at {
		t.Errorf("EnsureDeliveries changed its argument: %v", ds[0].NextAttempt)
	}
	checkDeliveryCache(t, d, "s1", "s2", "s3")
	if n := d.recs.len(); n != 3 {
		t.Errorf("%d records kept, want the 3 pending", n)
	}
	// Ensured again (the reconciler): nothing changes.
	again := ds[0]
	again.Participant = "other@example.com"
	if err := d.EnsureDeliveries(ctx, []forward.Delivery{again}); err != nil {
		t.Fatal(err)
	}
	if g, err := d.GetDelivery(ctx, "o", "c", "s1"); err != nil || g.Participant != "p@example.com" {
		t.Errorf("ensured twice: %+v, %v", g, err)
	}
	checkDeliveryCache(t, d, "s1", "s2", "s3")

	now := at.Add(time.Second)
	got, err := d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w", Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(got) != 3 {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	checkDeliveryCache(t, d, "s1", "s2", "s3")
	// s1 delivered, s2 retried later, s3 released as it was.
	s1, s2, s3 := got[0], got[1], got[2]
	s1.State, s1.Attempts, s1.LastAttempt, s1.UpdatedAt, s1.LastStatus = forward.StateDelivered, 1, now, now, 200
	s2.Attempts, s2.LastAttempt, s2.UpdatedAt, s2.FirstFailure, s2.LastError = 1, now, now, now, "HTTP 503"
	s2.NextAttempt = now.Add(time.Minute)
	errs, err := d.UpdateDeliveries(ctx, []forward.Delivery{s1, s2}, "w")
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatalf("update: %v, %v", errs, err)
	}
	if err := d.UpdateDelivery(ctx, s3, "w"); err != nil {
		t.Fatal(err)
	}
	checkDeliveryCache(t, d, "s2", "s3")
	if d.recs.has(string(deliveryKey("o", "c", "s1"))) {
		t.Error("a delivered record is still kept")
	}
	// A settle by a worker without the lease is refused from the kept record too.
	if errs, err := d.UpdateDeliveries(ctx, []forward.Delivery{s2}, "w"); err != nil || errs[0] != forward.ErrLeaseLost {
		t.Errorf("settle after the release: %v, %v; want ErrLeaseLost", errs, err)
	}
	// A re-drive of the delivered one keeps it again, due now.
	redriven := now.Add(2 * time.Second)
	if n, err := d.Redrive(ctx, "o", "c", []string{forward.StateDelivered}, redriven); err != nil || n != 1 {
		t.Fatalf("redrive: %d, %v", n, err)
	}
	checkDeliveryCache(t, d, "s1", "s2", "s3")
	got, err = d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w", Now: redriven, Lease: time.Minute, Limit: 10})
	if err != nil || len(got) != 2 { // s1 (re-driven) and s3 (released); s2 is due in a minute
		t.Fatalf("claim after the re-drive: %+v, %v", got, err)
	}
	if got[0].Attempts != 0 || got[0].LeaseOwner != "w" {
		t.Errorf("claimed from the kept record: %+v", got[0])
	}
}

// With the cache full, records not kept are read from the store: every
// step still works, and what is kept still matches the store.
func TestDeliveryCacheFull(t *testing.T) {
	d := openTemp(t)
	d.recs.max = 1
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
	if n := d.recs.len(); n != 1 {
		t.Errorf("%d records kept, want 1 (the cache's size)", n)
	}
	got, err := d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w", Now: at, Lease: time.Minute, Limit: 10})
	if err != nil || len(got) != 3 {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	for i := range got {
		got[i].State = forward.StateDelivered
	}
	errs, err := d.UpdateDeliveries(ctx, got, "w")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if e != nil {
			t.Errorf("update %s: %v", got[i].StatementID, e)
		}
	}
	checkDeliveryCache(t, d)
	if c, err := d.CountDeliveries(ctx, "o", "c"); err != nil || c.Delivered != 3 || c.Pending != 0 {
		t.Errorf("counts: %+v, %v", c, err)
	}
}
