package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// ForwardStore is the forwarding storage contract: every role of
// forward.Store.
type ForwardStore = forward.Store

// attemptCapper is implemented by engines whose delivery log cap can be
// lowered for tests (without it, the suite fills the whole
// forward.AttemptLogCap).
type attemptCapper interface{ SetAttemptCap(n int) }

// RunForward runs the forward.Store part of the suite; open returns a new,
// empty store (the caller closes it with t.Cleanup).
//
//	func TestForwardConformance(t *testing.T) {
//		storetest.RunForward(t, func(t *testing.T) storetest.ForwardStore { return open(t) })
//	}
func RunForward(t *testing.T, open func(t *testing.T) ForwardStore) {
	t.Helper()
	o := fwdOpener(open)
	o.leaf(t, "Configurations", testFwdConfigurations)
	o.leaf(t, "Objectives", testFwdObjectives)
	o.leaf(t, "EnsureIdempotent", testFwdEnsure)
	o.leaf(t, "DueConfigurations", testFwdDueConfigurations)
	o.leaf(t, "Claim", testFwdClaim)
	o.leaf(t, "ConcurrentClaims", testFwdConcurrentClaims)
	o.leaf(t, "ClaimBelowHead", testFwdClaimBelowHead)
	o.leaf(t, "EnqueueWhileDraining", testFwdEnqueueWhileDraining)
	o.leaf(t, "LeaseLost", testFwdLeaseLost)
	o.leaf(t, "UpdateMany", testFwdUpdateMany)
	o.leaf(t, "ListAndStatement", testFwdList)
	o.leaf(t, "Redrive", testFwdRedrive)
	o.leaf(t, "Reopen", testFwdReopen)
	o.leaf(t, "Counts", testFwdCounts)
	o.leaf(t, "Status", testFwdStatus)
	o.leaf(t, "Attempts", testFwdAttempts)
	o.leaf(t, "AttemptCounts", testFwdAttemptCounts) // counts.go
	o.leaf(t, "Watermark", testFwdWatermark)
	o.leaf(t, "Periods", testFwdPeriods)
	o.leaf(t, "ConcurrentPeriodClaims", testFwdConcurrentPeriods)
	o.leaf(t, "Digest", testFwdDigest)
}

type fwdOpener func(t *testing.T) ForwardStore

func (o fwdOpener) leaf(t *testing.T, name string, fn func(t *testing.T, s ForwardStore)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		s := o(t)
		if s == nil {
			t.Fatal("open returned a nil ForwardStore")
		}
		fn(t, s)
	})
}

// fwdBase is the "now" of the forwarding tests.
var fwdBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fat(sec int) time.Time { return fwdBase.Add(time.Duration(sec) * time.Second) }

func delivery(org, config, stmt string, next time.Time) forward.Delivery {
	return forward.Delivery{
		Org: org, ConfigurationID: config, StatementID: stmt, ObjectiveID: "obj-1",
		Participant: "learner@example.com", State: forward.StatePending,
		NextAttempt: next, CreatedAt: next, UpdatedAt: next,
	}
}

func mustEnsure(t *testing.T, s ForwardStore, ds ...forward.Delivery) {
	t.Helper()
	if err := s.EnsureDeliveries(t.Context(), ds); err != nil {
		t.Fatalf("EnsureDeliveries(%d): %v", len(ds), err)
	}
}

// mustClaim claims up to limit due deliveries of every configuration
// with due deliveries at now (what an engine's round does), ordered by
// configuration, then as each claim returned them.
func mustClaim(t *testing.T, s ForwardStore, owner string, now time.Time, lease time.Duration, limit int) []forward.Delivery {
	t.Helper()
	keys, err := s.DueConfigurations(t.Context(), now)
	if err != nil {
		t.Fatalf("DueConfigurations(%v): %v", now, err)
	}
	var out []forward.Delivery
	for _, k := range keys {
		out = append(out, mustClaimOf(t, s, forward.Claim{Org: k.Org, ConfigurationID: k.ID, Owner: owner, Now: now, Lease: lease, Limit: limit})...)
	}
	return out
}

func mustClaimOf(t *testing.T, s ForwardStore, c forward.Claim) []forward.Delivery {
	t.Helper()
	got, err := s.ClaimDeliveries(t.Context(), c)
	if err != nil {
		t.Fatalf("ClaimDeliveries(%+v): %v", c, err)
	}
	return got
}

func mustGetDelivery(t *testing.T, s ForwardStore, org, config, stmt string) forward.Delivery {
	t.Helper()
	d, err := s.GetDelivery(t.Context(), org, config, stmt)
	if err != nil {
		t.Fatalf("GetDelivery(%s, %s, %s): %v", org, config, stmt, err)
	}
	return d
}

func stmtIDs(ds []forward.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.StatementID
	}
	return out
}

func testFwdConfigurations(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	if _, err := s.GetConfiguration(ctx, orgA, "c1"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("GetConfiguration of a missing configuration: %v, want ErrNotFound", err)
	}
	c := forward.Configuration{
		ID: "c2", Org: orgA, Name: "LMS", ContactEmail: "ops@example.com", Type: "xapi",
		Identifier: forward.IdentifierMbox, Properties: map[string]string{"url": "https://lms.example.com/xapi"},
		SealedSecret: []byte{1, 2, 3, 0, 255}, CreatedAt: fat(0), UpdatedAt: fat(1), Revision: 1,
	}
	for _, id := range []string{"c2", "c1", "c3"} {
		c.ID = id
		if err := s.PutConfiguration(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	c.ID, c.Org = "c9", orgB
	if err := s.PutConfiguration(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConfiguration(ctx, orgA, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "LMS" || got.Properties["url"] != "https://lms.example.com/xapi" || string(got.SealedSecret) != "\x01\x02\x03\x00\xff" ||
		got.Revision != 1 || !got.UpdatedAt.Equal(fat(1)) || got.Identifier != forward.IdentifierMbox || got.Org != orgA {
		t.Errorf("GetConfiguration round trip: %+v", got)
	}
	got.Name, got.Revision = "LMS 2", 2
	if err := s.PutConfiguration(ctx, got); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListConfigurations(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"c1", "c2", "c3"}) {
		t.Errorf("ListConfigurations(orgA) ids = %v, want [c1 c2 c3] (ordered, org-scoped)", ids)
	}
	if list[1].Name != "LMS 2" || list[1].Revision != 2 {
		t.Errorf("replaced configuration lists as %+v", list[1])
	}
	if err := s.DeleteConfiguration(ctx, orgB, "c1"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("DeleteConfiguration in another org: %v, want ErrNotFound", err)
	}
	if err := s.DeleteConfiguration(ctx, orgA, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConfiguration(ctx, orgA, "c1"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("second DeleteConfiguration: %v, want ErrNotFound", err)
	}
	if list, _ := s.ListConfigurations(ctx, orgB); len(list) != 1 || list[0].ID != "c9" {
		t.Errorf("ListConfigurations(orgB) = %+v", list)
	}
}

func testFwdObjectives(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	const act1, act2 = "http://example.com/act/1", "http://example.com/act/2"
	o := forward.Objective{ID: "o1", Org: orgA, Name: "Quiz", ActivityID: act1,
		Verbs: []string{"http://adlnet.gov/expapi/verbs/passed"}, Configurations: []string{"c1", "c2"}, CreatedAt: fat(0), UpdatedAt: fat(0)}
	for _, put := range []forward.Objective{
		o,
		{ID: "o2", Org: orgA, ActivityID: act1},
		{ID: "o3", Org: orgA, ActivityID: act2},
		{ID: "o4", Org: orgB, ActivityID: act1},
	} {
		if err := s.PutObjective(ctx, put); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetObjective(ctx, orgA, "o1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ActivityID != act1 || !slices.Equal(got.Verbs, o.Verbs) || !slices.Equal(got.Configurations, o.Configurations) || got.Name != "Quiz" {
		t.Errorf("GetObjective round trip: %+v", got)
	}
	if _, err := s.GetObjective(ctx, orgB, "o1"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("GetObjective in another org: %v, want ErrNotFound", err)
	}
	objIDs := func(os []forward.Objective) []string { // in the order returned: by ID
		var ids []string
		for _, o := range os {
			ids = append(ids, o.ID)
		}
		return ids
	}
	for1, err := s.ObjectivesFor(ctx, orgA, act1)
	if err != nil {
		t.Fatal(err)
	}
	if ids := objIDs(for1); !slices.Equal(ids, []string{"o1", "o2"}) {
		t.Errorf("ObjectivesFor(orgA, act1) = %v, want [o1 o2]", ids)
	}
	// Moving an objective to another activity moves it in ObjectivesFor.
	o2 := forward.Objective{ID: "o2", Org: orgA, ActivityID: act2}
	if err := s.PutObjective(ctx, o2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ObjectivesFor(ctx, orgA, act1); !slices.Equal(objIDs(got), []string{"o1"}) {
		t.Errorf("after moving o2: ObjectivesFor(orgA, act1) = %v, want [o1]", objIDs(got))
	}
	if got, _ := s.ObjectivesFor(ctx, orgA, act2); !slices.Equal(objIDs(got), []string{"o2", "o3"}) {
		t.Errorf("after moving o2: ObjectivesFor(orgA, act2) = %v, want [o2 o3]", objIDs(got))
	}
	if got, _ := s.ObjectivesFor(ctx, orgB, act1); !slices.Equal(objIDs(got), []string{"o4"}) {
		t.Errorf("ObjectivesFor(orgB, act1) = %v, want [o4]", objIDs(got))
	}
	list, err := s.ListObjectives(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	if ids := objIDs(list); !slices.Equal(ids, []string{"o1", "o2", "o3"}) {
		t.Errorf("ListObjectives(orgA) = %v", ids)
	}
	orgs, err := s.ObjectiveOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(orgs, []string{orgA, orgB}) {
		t.Errorf("ObjectiveOrgs = %v, want [%s %s]", orgs, orgA, orgB)
	}
	if err := s.DeleteObjective(ctx, orgA, "o1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObjective(ctx, orgA, "o1"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("second DeleteObjective: %v, want ErrNotFound", err)
	}
	if got, err := s.ObjectivesFor(ctx, orgA, act1); err != nil || len(got) != 0 {
		t.Errorf("ObjectivesFor after delete = %v, %v; want none and no error", objIDs(got), err)
	}
	if got, _ := s.ObjectivesFor(ctx, orgB, act1); len(got) != 1 {
		t.Errorf("deleting in orgA changed orgB: %v", objIDs(got))
	}
}

func testFwdEnsure(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	d := delivery(orgA, "c1", "s1", fat(0))
	mustEnsure(t, s, d, delivery(orgA, "c2", "s1", fat(0)), d) // a repeated key in one call
	// Progress the delivery, then ensure it again: untouched.
	got := mustClaim(t, s, "w1", fat(1), time.Minute, 10)
	if len(got) != 2 {
		t.Fatalf("claimed %d, want 2", len(got))
	}
	up := got[0]
	up.State, up.Attempts, up.LastError, up.UpdatedAt = forward.StateDelivered, 1, "", fat(2)
	if err := s.UpdateDelivery(ctx, up, "w1"); err != nil {
		t.Fatal(err)
	}
	again := delivery(orgA, up.ConfigurationID, up.StatementID, fat(5))
	again.Participant = "other@example.com"
	mustEnsure(t, s, again)
	after := mustGetDelivery(t, s, orgA, up.ConfigurationID, up.StatementID)
	if after.State != forward.StateDelivered || after.Attempts != 1 || after.Participant != "learner@example.com" || !after.NextAttempt.Equal(fat(0)) {
		t.Errorf("a second ensure changed the delivery: %+v", after)
	}
	// The other, still leased, one is untouched too.
	other := got[1]
	mustEnsure(t, s, delivery(orgA, other.ConfigurationID, other.StatementID, fat(5)))
	if o := mustGetDelivery(t, s, orgA, other.ConfigurationID, other.StatementID); o.LeaseOwner != "w1" || !o.NextAttempt.Equal(fat(0)) {
		t.Errorf("a second ensure changed a leased delivery: %+v", o)
	}
	if _, err := s.GetDelivery(ctx, orgB, "c1", "s1"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("GetDelivery in another org: %v, want ErrNotFound", err)
	}
	// Round trip of the fields.
	if d := mustGetDelivery(t, s, orgA, "c1", "s1"); d.ObjectiveID != "obj-1" || d.Org != orgA || !d.CreatedAt.Equal(fat(0)) {
		t.Errorf("delivery fields: %+v", d)
	}
}

func testFwdDueConfigurations(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	if keys, err := s.DueConfigurations(ctx, fat(0)); err != nil || len(keys) != 0 {
		t.Fatalf("DueConfigurations of an empty store = %v, %v; want none", keys, err)
	}
	var backlog []forward.Delivery
	for i := range 300 {
		backlog = append(backlog, delivery(orgA, "c1", fmt.Sprintf("b%03d", i), fat(-1000+i)))
	}
	mustEnsure(t, s, backlog...)
	mustEnsure(t, s,
		delivery(orgB, "c9", "first", fat(-30)),
		delivery(orgA, "c2", "future", fat(100)),  // not due
		delivery(orgA, "gone", "orphan", fat(-5)), // a configuration never stored (deleted): listed all the same
		delivery(orgA, "c0", "x", fat(-1)),
	)
	done := delivery(orgA, "c3", "done", fat(-50))
	done.State = forward.StateSkipped // not pending: never due
	mustEnsure(t, s, done)
	want := []forward.ConfigKey{{Org: orgA, ID: "c0"}, {Org: orgA, ID: "c1"}, {Org: orgA, ID: "gone"}, {Org: orgB, ID: "c9"}}
	if keys, err := s.DueConfigurations(ctx, fat(0)); err != nil || !slices.Equal(keys, want) {
		t.Errorf("DueConfigurations(%v) = %v, %v; want %v (each once, by org and id)", fat(0), keys, err, want)
	}
	want = []forward.ConfigKey{{Org: orgA, ID: "c1"}, {Org: orgB, ID: "c9"}}
	if keys, err := s.DueConfigurations(ctx, fat(-10)); err != nil || !slices.Equal(keys, want) {
		t.Errorf("DueConfigurations(%v) = %v, %v; want %v", fat(-10), keys, err, want)
	}
	if keys, _ := s.DueConfigurations(ctx, fat(100)); !slices.Contains(keys, forward.ConfigKey{Org: orgA, ID: "c2"}) {
		t.Errorf("DueConfigurations(%v) = %v, want c2 once it is due", fat(100), keys)
	}
	// Settled deliveries are due no more.
	settle(t, s, fat(10), forward.StateDelivered, "x", "orphan")
	if keys, _ := s.DueConfigurations(ctx, fat(10)); slices.Contains(keys, forward.ConfigKey{Org: orgA, ID: "c0"}) ||
		slices.Contains(keys, forward.ConfigKey{Org: orgA, ID: "gone"}) {
		t.Errorf("DueConfigurations after delivery = %v, want neither c0 nor gone", keys)
	}
}

func testFwdClaim(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	mustEnsure(t, s,
		delivery(orgA, "c1", "late", fat(100)), // not due
		delivery(orgA, "c1", "second", fat(-20)),
		delivery(orgA, "c1", "now", fat(0)), // due exactly now
		delivery(orgA, "c1", "tie-b", fat(-40)),
		delivery(orgA, "c1", "tie-a", fat(-40)), // same NextAttempt: by statement id
		delivery(orgB, "c1", "first", fat(-30)), // the same configuration id in another org
		delivery(orgA, "c2", "third", fat(-10)),
	)
	skipped := delivery(orgA, "c1", "skipped", fat(-60))
	skipped.State, skipped.Reason = forward.StateSkipped, "no email"
	mustEnsure(t, s, skipped)

	c1 := forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "w1", Now: fat(0), Lease: time.Minute, Limit: 2}
	got := mustClaimOf(t, s, c1)
	if ids := stmtIDs(got); !slices.Equal(ids, []string{"tie-a", "tie-b"}) {
		t.Fatalf("first claim of c1 = %v, want [tie-a tie-b] (oldest NextAttempt first, then by id; limit 2; only c1 of org-a)", ids)
	}
	for _, d := range got {
		if d.LeaseOwner != "w1" || !d.LeaseUntil.Equal(fat(60)) {
			t.Errorf("claimed delivery lease = %q until %v, want w1 until %v", d.LeaseOwner, d.LeaseUntil, fat(60))
		}
		if stored := mustGetDelivery(t, s, d.Org, d.ConfigurationID, d.StatementID); stored.LeaseOwner != "w1" {
			t.Errorf("stored lease owner = %q, want w1", stored.LeaseOwner)
		}
	}
	c1.Owner, c1.Now, c1.Limit = "w2", fat(1), 10
	if ids := stmtIDs(mustClaimOf(t, s, c1)); !slices.Equal(ids, []string{"second", "now"}) {
		t.Fatalf("second claim of c1 = %v, want [second now] (leased ones are not claimed again, late is not due)", ids)
	}
	// A probe takes the head of the queue before its time.
	c1.Owner, c1.DueBy = "probe", fat(1000)
	if ids := stmtIDs(mustClaimOf(t, s, c1)); !slices.Equal(ids, []string{"late"}) {
		t.Fatalf("claim due by %v = %v, want [late]", fat(1000), ids)
	}
	c1.DueBy = time.Time{}
	if got := mustClaimOf(t, s, forward.Claim{Org: orgB, ConfigurationID: "c1", Owner: "w3", Now: fat(1), Lease: time.Minute, Limit: 10}); !slices.Equal(stmtIDs(got), []string{"first"}) {
		t.Fatalf("claim of org-b's c1 = %v, want [first]", stmtIDs(got))
	}
	c1.Owner, c1.Now = "w3", fat(30)
	if got := mustClaimOf(t, s, c1); len(got) != 0 {
		t.Fatalf("claim while all leases hold = %v, want none", stmtIDs(got))
	}
	// After the first leases expire, they are claimable again.
	c1.Now = fat(60)
	got = mustClaimOf(t, s, c1)
	if ids := stmtIDs(got); !slices.Equal(ids, []string{"tie-a", "tie-b"}) {
		t.Fatalf("claim after the lease expired = %v, want [tie-a tie-b]", ids)
	}
	// A delivery released with a later NextAttempt is due then, not before.
	up := got[0]
	up.Attempts, up.NextAttempt, up.LastError, up.FirstFailure = 1, fat(200), "connection refused", fat(60)
	if err := s.UpdateDelivery(ctx, up, "w3"); err != nil {
		t.Fatal(err)
	}
	if stored := mustGetDelivery(t, s, orgA, "c1", "tie-a"); stored.LeaseOwner != "" || !stored.LeaseUntil.IsZero() ||
		stored.Attempts != 1 || stored.LastError != "connection refused" || !stored.FirstFailure.Equal(fat(60)) {
		t.Errorf("after UpdateDelivery: %+v (lease must be released, progress stored)", stored)
	}
	c1.Owner, c1.Now = "w4", fat(150)
	if got := mustClaimOf(t, s, c1); slices.Contains(stmtIDs(got), "tie-a") {
		t.Errorf("a delivery due at %v was claimed at %v", fat(200), fat(150))
	}
	c1.Now = fat(200)
	if got := mustClaimOf(t, s, c1); !slices.Contains(stmtIDs(got), "tie-a") {
		t.Errorf("claim at %v = %v, want it to include tie-a (due then)", fat(200), stmtIDs(got))
	}
	c1.Owner, c1.Now, c1.Limit = "w5", fat(1000), 0
	if got := mustClaimOf(t, s, c1); len(got) != 0 {
		t.Errorf("claim with limit 0 = %v", stmtIDs(got))
	}
	if got := mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: "c2", Owner: "w6", Now: fat(1000), Lease: time.Minute, Limit: 5}); !slices.Equal(stmtIDs(got), []string{"third"}) {
		t.Errorf("claim of c2 = %v, want [third]", stmtIDs(got))
	}
}

func testFwdConcurrentClaims(t *testing.T, s ForwardStore) {
	const n, workers = 60, 8
	ds := make([]forward.Delivery, n)
	for i := range ds {
		ds[i] = delivery(orgA, fmt.Sprintf("c%d", i%2), fmt.Sprintf("s%03d", i), fat(-i))
	}
	mustEnsure(t, s, ds...)
	var (
		mu   sync.Mutex
		seen = map[string]string{}
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			config := fmt.Sprintf("c%d", w%2)
			for range 20 {
				got, err := s.ClaimDeliveries(context.Background(), forward.Claim{Org: orgA, ConfigurationID: config, Owner: owner, Now: fat(0), Lease: time.Minute, Limit: 3})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, d := range got {
					k := d.ConfigurationID + "/" + d.StatementID
					if prev, dup := seen[k]; dup {
						errs <- fmt.Errorf("delivery %s claimed by %s and by %s", k, prev, owner)
					}
					seen[k] = owner
				}
				mu.Unlock()
				if len(got) == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != n {
		t.Errorf("concurrent claimers took %d distinct deliveries, want all %d", len(seen), n)
	}
	// Every delivery is leased to the worker that received it.
	for k, owner := range seen {
		config, stmt, _ := strings.Cut(k, "/")
		if d := mustGetDelivery(t, s, orgA, config, stmt); d.LeaseOwner != owner {
			t.Errorf("delivery %s is leased to %q, but %s received it", k, d.LeaseOwner, owner)
		}
	}
}

func testFwdLeaseLost(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	mustEnsure(t, s, delivery(orgA, "c1", "s1", fat(0)))
	a := mustClaim(t, s, "A", fat(0), time.Minute, 1)
	if len(a) != 1 {
		t.Fatalf("A claimed %d", len(a))
	}
	// Someone who never held the lease cannot update.
	if err := s.UpdateDelivery(ctx, a[0], "Z"); !errors.Is(err, forward.ErrLeaseLost) {
		t.Errorf("UpdateDelivery by a non-owner: %v, want ErrLeaseLost", err)
	}
	// A's lease expires and B claims the delivery.
	b := mustClaim(t, s, "B", fat(61), time.Minute, 1)
	if len(b) != 1 || b[0].LeaseOwner != "B" {
		t.Fatalf("B's claim after expiry = %+v", b)
	}
	late := a[0]
	late.State, late.Attempts = forward.StateDelivered, 1
	if err := s.UpdateDelivery(ctx, late, "A"); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("UpdateDelivery by the expired owner: %v, want ErrLeaseLost", err)
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "s1"); d.State != forward.StatePending || d.LeaseOwner != "B" || d.Attempts != 0 {
		t.Errorf("a lost-lease update was applied: %+v", d)
	}
	ok := b[0]
	ok.State, ok.Attempts, ok.LastAttempt, ok.UpdatedAt = forward.StateDelivered, 1, fat(62), fat(62)
	if err := s.UpdateDelivery(ctx, ok, "B"); err != nil {
		t.Fatal(err)
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "s1"); d.State != forward.StateDelivered || d.LeaseOwner != "" || !d.LastAttempt.Equal(fat(62)) {
		t.Errorf("after B's update: %+v", d)
	}
	// A released delivery cannot be updated again without a claim.
	if err := s.UpdateDelivery(ctx, ok, "B"); !errors.Is(err, forward.ErrLeaseLost) {
		t.Errorf("UpdateDelivery after release: %v, want ErrLeaseLost", err)
	}
	if err := s.UpdateDelivery(ctx, delivery(orgA, "c1", "missing", fat(0)), "B"); !errors.Is(err, forward.ErrNotFound) && !errors.Is(err, forward.ErrLeaseLost) {
		t.Errorf("UpdateDelivery of a missing delivery: %v, want ErrNotFound or ErrLeaseLost", err)
	}
	// Delivered ones are never claimed.
	if got := mustClaim(t, s, "C", fat(1000), time.Minute, 10); len(got) != 0 {
		t.Errorf("claimed a delivered delivery: %v", stmtIDs(got))
	}
}

// settle claims every due delivery of the store at now and stores state
// for those whose statement id is in ids.
func settle(t *testing.T, s ForwardStore, now time.Time, state string, ids ...string) {
	t.Helper()
	for _, d := range mustClaim(t, s, "settler", now, time.Minute, 1000) {
		if slices.Contains(ids, d.StatementID) {
			d.State = state
			d.Reason = "because"
		}
		d.UpdatedAt = now
		if err := s.UpdateDelivery(t.Context(), d, "settler"); err != nil {
			t.Fatal(err)
		}
	}
}

func testFwdList(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	mustEnsure(t, s,
		delivery(orgA, "c1", "s1", fat(1)),
		delivery(orgA, "c1", "s2", fat(2)),
		delivery(orgA, "c1", "s3", fat(3)),
		delivery(orgA, "c2", "s1", fat(1)),
		delivery(orgB, "c1", "s1", fat(1)),
	)
	settle(t, s, fat(10), forward.StateRejected, "s2")
	all, err := s.ListDeliveries(ctx, orgA, "c1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := stmtIDs(all); !slices.Equal(ids, []string{"s3", "s2", "s1"}) {
		t.Errorf("ListDeliveries(c1, all) = %v, want [s3 s2 s1] (newest first)", ids)
	}
	if got, _ := s.ListDeliveries(ctx, orgA, "c1", "", 2); !slices.Equal(stmtIDs(got), []string{"s3", "s2"}) {
		t.Errorf("ListDeliveries(c1, all, 2) = %v, want [s3 s2]", stmtIDs(got))
	}
	rej, err := s.ListDeliveries(ctx, orgA, "c1", forward.StateRejected, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 1 || rej[0].StatementID != "s2" || rej[0].Reason != "because" {
		t.Errorf("ListDeliveries(c1, rejected) = %+v", rej)
	}
	if got, _ := s.ListDeliveries(ctx, orgA, "c1", forward.StatePending, 10); !slices.Equal(stmtIDs(got), []string{"s3", "s1"}) {
		t.Errorf("ListDeliveries(c1, pending) = %v, want [s3 s1]", stmtIDs(got))
	}
	of, err := s.DeliveriesOfStatement(ctx, orgA, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var configs []string
	for _, d := range of {
		configs = append(configs, d.ConfigurationID)
	}
	slices.Sort(configs)
	if !slices.Equal(configs, []string{"c1", "c2"}) {
		t.Errorf("DeliveriesOfStatement(orgA, s1) configurations = %v, want [c1 c2]", configs)
	}
	if got, err := s.DeliveriesOfStatement(ctx, orgB, "s2"); err != nil || len(got) != 0 {
		t.Errorf("DeliveriesOfStatement(orgB, s2) = %+v, %v; want none and no error", got, err)
	}
}

func testFwdRedrive(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	mustEnsure(t, s,
		delivery(orgA, "c1", "parked", fat(0)),
		delivery(orgA, "c1", "rejected", fat(0)),
		delivery(orgA, "c1", "delivered", fat(0)),
		delivery(orgA, "c2", "parked", fat(0)),
		delivery(orgB, "c1", "parked", fat(0)),
	)
	for _, d := range mustClaim(t, s, "w", fat(0), time.Minute, 100) {
		d.State = d.StatementID
		d.Attempts, d.FirstFailure = 10, fat(0)
		if err := s.UpdateDelivery(ctx, d, "w"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Redrive(ctx, orgA, "c1", []string{forward.StateParked, forward.StateRejected}, fat(100))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Redrive = %d, want 2", n)
	}
	for _, id := range []string{"parked", "rejected"} {
		d := mustGetDelivery(t, s, orgA, "c1", id)
		if d.State != forward.StatePending || d.Attempts != 0 || !d.NextAttempt.Equal(fat(100)) {
			t.Errorf("redriven %s: %+v", id, d)
		}
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "delivered"); d.State != forward.StateDelivered {
		t.Errorf("Redrive touched a delivered delivery: %+v", d)
	}
	if d := mustGetDelivery(t, s, orgA, "c2", "parked"); d.State != forward.StateParked {
		t.Errorf("Redrive touched another configuration: %+v", d)
	}
	if d := mustGetDelivery(t, s, orgB, "c1", "parked"); d.State != forward.StateParked {
		t.Errorf("Redrive touched another organization: %+v", d)
	}
	got := mustClaim(t, s, "w2", fat(100), time.Minute, 10)
	if ids := stmtIDs(got); len(ids) != 2 || !slices.Contains(ids, "parked") || !slices.Contains(ids, "rejected") {
		t.Errorf("claim after redrive = %v, want the two redriven deliveries", ids)
	}
	// Pending ones: one being sent (leased) is left to its sender, one due
	// now with a fresh schedule needs nothing, one waiting at a later slot
	// is due now.
	mustEnsure(t, s, delivery(orgA, "c3", "fresh", fat(100)), delivery(orgA, "c3", "later", fat(90)), delivery(orgA, "c3", "sending", fat(80)))
	c3 := forward.Claim{Org: orgA, ConfigurationID: "c3", Owner: "sender", Now: fat(100), Lease: time.Minute, Limit: 1}
	if got := mustClaimOf(t, s, c3); len(got) != 1 || got[0].StatementID != "sending" {
		t.Fatalf("claim of sending = %v", stmtIDs(got))
	}
	c3.Owner = "w"
	for _, d := range mustClaimOf(t, s, c3) {
		d.Attempts, d.FirstFailure, d.NextAttempt = 3, fat(50), fat(5000)
		if err := s.UpdateDelivery(ctx, d, "w"); err != nil {
			t.Fatal(err)
		}
	}
	n, err = s.Redrive(ctx, orgA, "c3", []string{forward.StatePending}, fat(110))
	if err != nil || n != 1 {
		t.Errorf("Redrive of pending = %d, %v; want 1 (only the one waiting at a later slot)", n, err)
	}
	if d := mustGetDelivery(t, s, orgA, "c3", "later"); d.Attempts != 0 || !d.NextAttempt.Equal(fat(110)) || !d.FirstFailure.IsZero() {
		t.Errorf("the waiting delivery after Redrive: %+v, want due now with a fresh schedule", d)
	}
	if d := mustGetDelivery(t, s, orgA, "c3", "sending"); d.LeaseOwner != "sender" || !d.NextAttempt.Equal(fat(80)) {
		t.Errorf("Redrive took the delivery being sent from its sender: %+v", d)
	}
}

// testFwdReopen: ReopenDelivery re-opens one delivered, rejected or
// parked delivery, or one its destination skipped (attempted), (an
// overwrite delivery whose result changed) and leaves pending (queued or
// being sent), skipped before any attempt and missing ones, and the
// others of the configuration, as they are.
func testFwdReopen(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	ids := []string{"delivered", "rejected", "parked", "skipped", "skipped-sent", "queued", "sending", "other"}
	for _, id := range ids {
		mustEnsure(t, s, delivery(orgA, "c1", id, fat(0)))
	}
	for _, d := range mustClaim(t, s, "w", fat(0), time.Minute, 100) {
		switch d.StatementID {
		case "queued", "sending":
			d.State, d.NextAttempt = forward.StatePending, fat(50)
		case "other":
			d.State = forward.StateDelivered
		case "skipped-sent":
			d.State, d.LastAttempt = forward.StateSkipped, fat(10)
		default:
			d.State = d.StatementID
		}
		d.Attempts, d.FirstFailure, d.Reason = 4, fat(0), "why"
		if err := s.UpdateDelivery(ctx, d, "w"); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "sender", Now: fat(60), Lease: time.Minute, Limit: 1}); len(got) != 1 {
		t.Fatalf("claim = %v", stmtIDs(got))
	}
	sending := ""
	for _, id := range []string{"queued", "sending"} {
		if d := mustGetDelivery(t, s, orgA, "c1", id); d.LeaseOwner == "sender" {
			sending = id
		}
	}
	for _, id := range []string{"delivered", "rejected", "parked", "skipped-sent"} {
		ok, err := s.ReopenDelivery(ctx, orgA, "c1", id, fat(100))
		if err != nil || !ok {
			t.Errorf("ReopenDelivery(%s) = %v, %v; want true", id, ok, err)
		}
		d := mustGetDelivery(t, s, orgA, "c1", id)
		if d.State != forward.StatePending || d.Attempts != 0 || !d.NextAttempt.Equal(fat(100)) || !d.FirstFailure.IsZero() || d.Reason != "" {
			t.Errorf("reopened %s: %+v, want pending, due now, fresh schedule", id, d)
		}
	}
	for _, id := range []string{"skipped", "queued", "sending", "missing"} {
		if ok, err := s.ReopenDelivery(ctx, orgA, "c1", id, fat(100)); err != nil || ok {
			t.Errorf("ReopenDelivery(%s) = %v, %v; want false", id, ok, err)
		}
	}
	if d := mustGetDelivery(t, s, orgA, "c1", sending); d.LeaseOwner != "sender" || d.Attempts != 4 {
		t.Errorf("ReopenDelivery took the delivery being sent from its sender: %+v", d)
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "other"); d.State != forward.StateDelivered {
		t.Errorf("ReopenDelivery touched another delivery: %+v", d)
	}
	got := mustClaim(t, s, "w2", fat(100), time.Minute, 10)
	for _, id := range []string{"delivered", "rejected", "parked", "skipped-sent"} {
		if !slices.Contains(stmtIDs(got), id) {
			t.Errorf("claim after reopen = %v, want %s among them", stmtIDs(got), id)
		}
	}
}

func testFwdCounts(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	c, err := s.CountDeliveries(ctx, orgA, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c != (forward.Counts{}) {
		t.Errorf("counts of an empty configuration: %+v", c)
	}
	mustEnsure(t, s,
		delivery(orgA, "c1", "p1", fat(5)),
		delivery(orgA, "c1", "p2", fat(3)),
		delivery(orgA, "c1", "d1", fat(1)),
		delivery(orgA, "c1", "d2", fat(2)),
		delivery(orgA, "c1", "r1", fat(4)),
		delivery(orgA, "c2", "p1", fat(0)),
		delivery(orgB, "c1", "p1", fat(0)),
	)
	sk := delivery(orgA, "c1", "k1", fat(6))
	sk.State = forward.StateSkipped
	mustEnsure(t, s, sk)
	settle(t, s, fat(10), forward.StateDelivered, "d1", "d2")
	settle(t, s, fat(10), forward.StateRejected, "r1")
	c, err = s.CountDeliveries(ctx, orgA, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Pending != 2 || c.Delivered != 2 || c.Rejected != 1 || c.Skipped != 1 || c.Parked != 0 || !c.OldestPending.Equal(fat(3)) {
		t.Errorf("CountDeliveries(orgA, c1) = %+v, want 2 pending (oldest created at %v), 2 delivered, 1 rejected, 1 skipped", c, fat(3))
	}
}

func testFwdStatus(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	if _, err := s.GetStatus(ctx, orgA, "c1"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("GetStatus never set: %v, want ErrNotFound", err)
	}
	st := forward.ConfigStatus{Org: orgA, ConfigurationID: "c1", Status: forward.StatusCantConnect, LastError: "dial tcp: refused",
		FirstFailure: fat(1), LastSuccess: fat(-100), LastAlert: fat(2), AlertedStatus: forward.StatusCantConnect, Since: fat(1), UpdatedAt: fat(2),
		StoppedRevision: 7, StoppedAt: fat(1), StopReason: "410 Gone"}
	if err := s.PutStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetStatus(ctx, orgA, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != st.Status || got.LastError != st.LastError || !got.FirstFailure.Equal(st.FirstFailure) ||
		!got.LastSuccess.Equal(st.LastSuccess) || !got.LastAlert.Equal(st.LastAlert) || got.AlertedStatus != st.AlertedStatus ||
		!got.Since.Equal(st.Since) || !got.UpdatedAt.Equal(st.UpdatedAt) ||
		got.StoppedRevision != 7 || !got.StoppedAt.Equal(st.StoppedAt) || got.StopReason != st.StopReason {
		t.Errorf("GetStatus round trip = %+v, want %+v", got, st)
	}
	st.Status, st.FirstFailure = forward.StatusOK, time.Time{}
	st.StoppedRevision, st.StoppedAt, st.StopReason = 0, time.Time{}, ""
	if err := s.PutStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetStatus(ctx, orgA, "c1"); got.Status != forward.StatusOK || !got.FirstFailure.IsZero() ||
		got.StoppedRevision != 0 || !got.StoppedAt.IsZero() || got.StopReason != "" {
		t.Errorf("replaced status = %+v", got)
	}
	if _, err := s.GetStatus(ctx, orgB, "c1"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("GetStatus in another org: %v, want ErrNotFound", err)
	}
}

func testFwdAttempts(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	total, keep := 1010, 1000
	if c, ok := s.(attemptCapper); ok {
		c.SetAttemptCap(5)
		total, keep = 12, 5
	}
	for i := range total {
		a := forward.Attempt{Org: orgA, ConfigurationID: "c1", StatementIDs: []string{fmt.Sprintf("s%d", i)},
			At: fat(i), Duration: 15 * time.Millisecond, Outcome: forward.OutcomeSuccess, Status: 200, Response: "ok"}
		if err := s.AddAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddAttempt(ctx, forward.Attempt{Org: orgB, ConfigurationID: "c1", At: fat(0), Outcome: forward.OutcomeTransport}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAttempts(ctx, orgA, "c1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].StatementIDs[0] != fmt.Sprintf("s%d", total-1) || got[2].StatementIDs[0] != fmt.Sprintf("s%d", total-3) {
		t.Fatalf("ListAttempts(3) = %+v, want the 3 newest, newest first", got)
	}
	if got[0].Duration != 15*time.Millisecond || got[0].Status != 200 || got[0].Outcome != forward.OutcomeSuccess || !got[0].At.Equal(fat(total-1)) {
		t.Errorf("attempt round trip: %+v", got[0])
	}
	all, err := s.ListAttempts(ctx, orgA, "c1", 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != keep {
		t.Errorf("kept %d attempts of %d, want the cap %d", len(all), total, keep)
	}
	if last := all[len(all)-1]; last.StatementIDs[0] != fmt.Sprintf("s%d", total-keep) {
		t.Errorf("oldest kept attempt = %v, want s%d (the oldest go first)", last.StatementIDs, total-keep)
	}
	if got, _ := s.ListAttempts(ctx, orgB, "c1", 10); len(got) != 1 {
		t.Errorf("ListAttempts(orgB) = %d entries, want 1", len(got))
	}
}

func testFwdWatermark(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	w, err := s.GetWatermark(ctx, "reconcile/"+orgA)
	if err != nil {
		t.Fatal(err)
	}
	if !w.IsZero() {
		t.Errorf("unset watermark = %v, want zero", w)
	}
	want := fwdBase.Add(1234 * time.Millisecond)
	if err := s.SetWatermark(ctx, "reconcile/"+orgA, want); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWatermark(ctx, "reconcile/"+orgB, fat(-50)); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.GetWatermark(ctx, "reconcile/"+orgA); !w.Equal(want) {
		t.Errorf("watermark = %v, want %v", w, want)
	}
	if err := s.SetWatermark(ctx, "reconcile/"+orgA, fat(10)); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.GetWatermark(ctx, "reconcile/"+orgA); !w.Equal(fat(10)) {
		t.Errorf("watermark after a second set = %v, want %v", w, fat(10))
	}
}

func testFwdUpdateMany(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	mustEnsure(t, s, delivery(orgA, "c1", "s1", fat(0)), delivery(orgA, "c1", "s2", fat(1)), delivery(orgA, "c1", "s3", fat(2)),
		delivery(orgA, "c1", "s4", fat(3)))
	a := mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "A", Now: fat(10), Lease: time.Minute, Limit: 3})
	b := mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "B", Now: fat(10), Lease: time.Minute, Limit: 3})
	if len(a) != 3 || len(b) != 1 || b[0].StatementID != "s4" {
		t.Fatalf("claims: A %v, B %v", stmtIDs(a), stmtIDs(b))
	}
	a[0].State, a[0].Attempts, a[0].LastAttempt, a[0].UpdatedAt = forward.StateDelivered, 1, fat(11), fat(11)
	a[1].State, a[1].Attempts, a[1].Reason, a[1].UpdatedAt = forward.StateRejected, 1, "HTTP 400: bad verb", fat(11)
	a[2].Attempts, a[2].NextAttempt, a[2].FirstFailure, a[2].LastError, a[2].UpdatedAt = 1, fat(16), fat(11), "HTTP 503", fat(11)
	ds := append(slices.Clone(a), b[0], delivery(orgA, "c1", "missing", fat(0)))
	results, err := s.UpdateDeliveries(ctx, ds, "A")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(ds) || results[0] != nil || results[1] != nil || results[2] != nil ||
		!errors.Is(results[3], forward.ErrLeaseLost) || (!errors.Is(results[4], forward.ErrNotFound) && !errors.Is(results[4], forward.ErrLeaseLost)) {
		t.Fatalf("UpdateDeliveries results = %v, want nil, nil, nil, ErrLeaseLost (B holds it), ErrNotFound or ErrLeaseLost", results)
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "s1"); d.State != forward.StateDelivered || d.LeaseOwner != "" {
		t.Errorf("s1: %+v", d)
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "s2"); d.State != forward.StateRejected || d.Reason != "HTTP 400: bad verb" {
		t.Errorf("s2: %+v", d)
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "s3"); d.State != forward.StatePending || !d.NextAttempt.Equal(fat(16)) || d.LeaseOwner != "" {
		t.Errorf("s3: %+v", d)
	}
	if d := mustGetDelivery(t, s, orgA, "c1", "s4"); d.LeaseOwner != "B" || d.State != forward.StatePending {
		t.Errorf("s4 (B's) was changed: %+v", d)
	}
	if got := mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "C", Now: fat(16), Lease: time.Minute, Limit: 10}); !slices.Equal(stmtIDs(got), []string{"s3"}) {
		t.Errorf("claim at %v = %v, want [s3] (its new NextAttempt; s4 still leased)", fat(16), stmtIDs(got))
	}
	if res, err := s.UpdateDeliveries(ctx, nil, "A"); err != nil || len(res) != 0 {
		t.Errorf("UpdateDeliveries of none = %v, %v", res, err)
	}
}

func testFwdPeriods(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	claim := func(name string, p int64, owner string, now time.Time) bool {
		t.Helper()
		ok, err := s.ClaimPeriod(ctx, name, p, owner, now, now.Add(10*time.Minute))
		if err != nil {
			t.Fatalf("ClaimPeriod(%s, %d, %s): %v", name, p, owner, err)
		}
		return ok
	}
	if _, _, ok, err := s.LastPeriod(ctx, "sweep"); err != nil || ok {
		t.Fatalf("LastPeriod of a task never run: %v, %v", ok, err)
	}
	if !claim("sweep", 10, "A", fat(0)) {
		t.Fatal("the first claim of a period failed")
	}
	if claim("sweep", 10, "B", fat(1)) || claim("sweep", 10, "A", fat(2)) {
		t.Fatal("a period claimed and held was claimed again")
	}
	if !claim("digest", 10, "B", fat(1)) || !claim("sweep", 11, "B", fat(1)) {
		t.Fatal("another task or another period is independent")
	}
	// A dies during its run: once its claim has run out, B takes over.
	if !claim("sweep", 10, "B", fat(601)) {
		t.Fatal("a period whose claim ran out unfinished was not taken over")
	}
	if err := s.FinishPeriod(ctx, "sweep", 10, "A", fat(602)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := s.LastPeriod(ctx, "sweep"); ok {
		t.Fatal("FinishPeriod by the owner who lost the claim finished the period")
	}
	if err := s.FinishPeriod(ctx, "sweep", 10, "B", fat(603)); err != nil {
		t.Fatal(err)
	}
	p, at, ok, err := s.LastPeriod(ctx, "sweep")
	if err != nil || !ok || p != 10 || !at.Equal(fat(603)) {
		t.Fatalf("LastPeriod = %d at %v (%v, %v), want 10 at %v", p, at, ok, err, fat(603))
	}
	// A finished period is never claimed again, even long after.
	if claim("sweep", 10, "C", fat(100000)) {
		t.Fatal("a finished period was claimed again")
	}
	if err := s.FinishPeriod(ctx, "sweep", 11, "B", fat(700)); err != nil {
		t.Fatal(err)
	}
	if p, _, _, _ := s.LastPeriod(ctx, "sweep"); p != 11 {
		t.Errorf("LastPeriod = %d, want 11 (the latest finished)", p)
	}
	if p, _, ok, _ := s.LastPeriod(ctx, "digest"); ok {
		t.Errorf("LastPeriod(digest) = %d, want none finished", p)
	}
}

func testFwdConcurrentPeriods(t *testing.T, s ForwardStore) {
	const n = 8
	var wins, fails atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ok, err := s.ClaimPeriod(context.Background(), "sweep", 42, fmt.Sprintf("p%d", i), fat(0), fat(600))
			switch {
			case err != nil:
				fails.Add(1)
				t.Errorf("ClaimPeriod: %v", err)
			case ok:
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of %d concurrent claims of one period won, want exactly one", wins.Load(), n)
	}
}

func testFwdDigest(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	item := func(org, config, stmt, reason string, at time.Time) forward.PendingRejection {
		return forward.PendingRejection{Org: org, ConfigurationID: config, RejectedItem: forward.RejectedItem{StatementID: stmt, Reason: reason, At: at}}
	}
	if got, err := s.PendingRejected(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("PendingRejected of an empty store = %v, %v", got, err)
	}
	if err := s.AddRejected(ctx, []forward.PendingRejection{
		item(orgB, "c1", "s1", "bad", fat(1)),
		item(orgA, "c2", "s1", "bad", fat(2)),
		item(orgA, "c1", "s2", "HTTP 400: no verb", fat(3).Add(1500*time.Microsecond)),
		item(orgA, "c1", "s1", "HTTP 400: no actor", fat(4)),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PendingRejected(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, g := range got {
		keys = append(keys, g.Org+"/"+g.ConfigurationID+"/"+g.StatementID)
	}
	if !slices.Equal(keys, []string{"org-a/c1/s1", "org-a/c1/s2", "org-a/c2/s1", "org-b/c1/s1"}) {
		t.Fatalf("PendingRejected = %v, want by org, configuration, statement", keys)
	}
	if got[1].Reason != "HTTP 400: no verb" || !got[1].At.Equal(fat(3).Add(time.Millisecond)) {
		t.Errorf("item round trip = %+v (times at millisecond precision)", got[1])
	}
	if two, _ := s.PendingRejected(ctx, 2); len(two) != 2 || two[1].StatementID != "s2" {
		t.Errorf("PendingRejected(2) = %+v", two)
	}
	// Rejected again (after a re-drive): replaced.
	if err := s.AddRejected(ctx, []forward.PendingRejection{item(orgA, "c1", "s1", "HTTP 400: still no actor", fat(50))}); err != nil {
		t.Fatal(err)
	}
	// A digest mailed the first version: dropping it keeps the new one.
	if err := s.DropRejected(ctx, []forward.PendingRejection{got[0], got[1]}); err != nil {
		t.Fatal(err)
	}
	left, err := s.PendingRejected(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 3 || left[0].StatementID != "s1" || left[0].Reason != "HTTP 400: still no actor" || !left[0].At.Equal(fat(50)) {
		t.Fatalf("after the drop: %+v, want s1's new version, org-a/c2 and org-b", left)
	}
	if err := s.DropRejected(ctx, left); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.PendingRejected(ctx, 10); len(left) != 0 {
		t.Errorf("after dropping all: %+v", left)
	}
}

// deliverAll claims and delivers every delivery of (orgA, config) due at
// now, one claim of one at a time (a postback's drain), and returns their
// statement ids in claim order.
func deliverAll(t *testing.T, s ForwardStore, config string, now time.Time) []string {
	t.Helper()
	var ids []string
	for {
		if _, err := s.DueConfigurations(t.Context(), now); err != nil {
			t.Fatal(err)
		}
		got := mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: config, Owner: "drain", Now: now, Lease: time.Minute, Limit: 1})
		if len(got) == 0 {
			return ids
		}
		d := got[0]
		d.State, d.Attempts, d.LastAttempt, d.UpdatedAt = forward.StateDelivered, 1, now, now
		if err := s.UpdateDelivery(t.Context(), d, "drain"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.StatementID)
	}
}

// testFwdClaimBelowHead: after a queue was drained (an engine may
// remember where its queue starts), a delivery that becomes due before
// that point is still found, whatever puts it there: a new delivery, a
// claimed one released with an earlier NextAttempt, a lease that expires
// at the head while later ones are delivered, a reopen or a redrive at
// the time of a claim that found nothing, a probe's early claim.
func testFwdClaimBelowHead(t *testing.T, s ForwardStore) {
	ctx := t.Context()
	const c = "c1"
	has := func(now time.Time) bool {
		t.Helper()
		keys, err := s.DueConfigurations(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(keys, forward.ConfigKey{Org: orgA, ID: c})
	}
	claim := func(owner string, now time.Time, limit int) []forward.Delivery {
		t.Helper()
		return mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: c, Owner: owner, Now: now, Lease: time.Minute, Limit: limit})
	}
	var ds []forward.Delivery
	for i := range 40 {
		ds = append(ds, delivery(orgA, c, fmt.Sprintf("a%02d", i), fat(i)))
	}
	mustEnsure(t, s, ds...)
	if ids := deliverAll(t, s, c, fat(100)); len(ids) != 40 || ids[0] != "a00" || ids[39] != "a39" {
		t.Fatalf("drain = %v, want a00 … a39 in order", ids)
	}
	if has(fat(100)) {
		t.Fatal("DueConfigurations lists a drained queue")
	}

	// A new delivery due before everything drained.
	mustEnsure(t, s, delivery(orgA, c, "early", fat(-500)))
	if !has(fat(100)) {
		t.Error("DueConfigurations misses a delivery due before the drained ones")
	}
	if ids := deliverAll(t, s, c, fat(100)); !slices.Equal(ids, []string{"early"}) {
		t.Errorf("drain after a new early delivery = %v, want [early]", ids)
	}

	// Claimed, then released with an earlier NextAttempt than its own.
	mustEnsure(t, s, delivery(orgA, c, "b1", fat(90)), delivery(orgA, c, "b2", fat(95)))
	got := claim("w", fat(100), 1)
	if len(got) != 1 || got[0].StatementID != "b1" {
		t.Fatalf("claim = %v, want [b1]", stmtIDs(got))
	}
	got = claim("w", fat(100), 1) // b2: the queue's head is now past b1
	if len(got) != 1 || got[0].StatementID != "b2" {
		t.Fatalf("claim = %v, want [b2]", stmtIDs(got))
	}
	if got := claim("w", fat(100), 1); len(got) != 0 {
		t.Fatalf("claim with both leased = %v, want none", stmtIDs(got))
	}
	b2 := got[0]
	b2.Attempts, b2.NextAttempt, b2.LastError = 1, fat(-200), "retry earlier"
	if err := s.UpdateDelivery(ctx, b2, "w"); err != nil {
		t.Fatal(err)
	}
	if !has(fat(100)) {
		t.Error("DueConfigurations misses a delivery released with an earlier NextAttempt")
	}
	if got := claim("w2", fat(100), 5); !slices.Equal(stmtIDs(got), []string{"b2"}) {
		t.Errorf("claim after b2's release = %v, want [b2] (b1 still leased)", stmtIDs(got))
	}

	// b1's lease (the head of the queue) expires while later deliveries
	// are delivered past it.
	mustEnsure(t, s, delivery(orgA, c, "b3", fat(96)), delivery(orgA, c, "b4", fat(97)))
	if ids := deliverAll(t, s, c, fat(100)); !slices.Equal(ids, []string{"b3", "b4"}) {
		t.Errorf("drain with b1 and b2 leased = %v, want [b3 b4]", ids)
	}
	if got := claim("w3", fat(161), 5); !slices.Equal(stmtIDs(got), []string{"b2", "b1"}) {
		t.Errorf("claim after the leases expired = %v, want [b2 b1] (the head again, by NextAttempt)", stmtIDs(got))
	}
	if ids := deliverAll(t, s, c, fat(300)); !slices.Equal(ids, []string{"b2", "b1"}) {
		t.Errorf("drain after expiry = %v, want [b2 b1]", ids)
	}

	// A claim that finds nothing due, then a reopen, a redrive and a new
	// delivery at that same time, and a later one in the future.
	mustEnsure(t, s, delivery(orgA, c, "future", fat(5000)))
	if got := claim("w", fat(400), 5); len(got) != 0 || has(fat(400)) {
		t.Fatalf("claim at %v = %v, want none (future is due at %v)", fat(400), stmtIDs(got), fat(5000))
	}
	if ok, err := s.ReopenDelivery(ctx, orgA, c, "a07", fat(400)); err != nil || !ok {
		t.Fatalf("ReopenDelivery(a07) = %v, %v", ok, err)
	}
	if !has(fat(400)) {
		t.Error("DueConfigurations misses a delivery reopened at the time of an empty claim")
	}
	got = claim("w", fat(400), 5)
	if !slices.Equal(stmtIDs(got), []string{"a07"}) {
		t.Fatalf("claim after the reopen = %v, want [a07]", stmtIDs(got))
	}
	parked := got[0]
	parked.State, parked.Attempts = forward.StateParked, 5
	if err := s.UpdateDelivery(ctx, parked, "w"); err != nil {
		t.Fatal(err)
	}
	if got := claim("w", fat(400), 5); len(got) != 0 {
		t.Fatalf("claim with a07 parked = %v, want none", stmtIDs(got))
	}
	if n, err := s.Redrive(ctx, orgA, c, []string{forward.StateParked}, fat(400)); err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v; want 1", n, err)
	}
	mustEnsure(t, s, delivery(orgA, c, "late-new", fat(400)))
	if ids := deliverAll(t, s, c, fat(400)); !slices.Equal(ids, []string{"a07", "late-new"}) {
		t.Errorf("drain after the redrive = %v, want [a07 late-new]", ids)
	}

	// A probe takes the future head early; the queue is then empty, and a
	// delivery due in the past is found again.
	probe := mustClaimOf(t, s, forward.Claim{Org: orgA, ConfigurationID: c, Owner: "probe", Now: fat(400), DueBy: fat(10000), Lease: time.Minute, Limit: 1})
	if !slices.Equal(stmtIDs(probe), []string{"future"}) {
		t.Fatalf("probe = %v, want [future]", stmtIDs(probe))
	}
	pd := probe[0]
	pd.State = forward.StateDelivered
	if err := s.UpdateDelivery(ctx, pd, "probe"); err != nil {
		t.Fatal(err)
	}
	if has(fat(10000)) {
		t.Error("DueConfigurations lists an empty queue")
	}
	mustEnsure(t, s, delivery(orgA, c, "past", fat(-1000)))
	if ids := deliverAll(t, s, c, fat(400)); !slices.Equal(ids, []string{"past"}) {
		t.Errorf("drain after the probe = %v, want [past]", ids)
	}
	if n, err := s.CountDeliveries(ctx, orgA, c); err != nil || n.Pending != 0 {
		t.Errorf("CountDeliveries = %+v, %v; want none pending", n, err)
	}
}

// testFwdEnqueueWhileDraining: deliveries enqueued while two workers
// drain the queue one item at a time, each due before the ones already
// drained, are all delivered, each once.
func testFwdEnqueueWhileDraining(t *testing.T, s ForwardStore) {
	const writers, each = 2, 40
	var (
		wg      sync.WaitGroup
		written atomic.Bool
		mu      sync.Mutex
		seen    = map[string]int{}
		errs    = make(chan error, writers+2)
	)
	mustEnsure(t, s, delivery(orgA, "c1", "seed", fat(0)))
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Each due earlier than every one before it.
				d := delivery(orgA, "c1", fmt.Sprintf("w%d-%03d", w, i), fat(-10*(i+1)-w))
				if err := s.EnsureDeliveries(context.Background(), []forward.Delivery{d}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var claimers sync.WaitGroup
	for w := range 2 {
		claimers.Add(1)
		go func() {
			defer claimers.Done()
			owner := fmt.Sprintf("c%d", w)
			for {
				done := written.Load() // read before the claim: an empty claim after it ends the drain
				got, err := s.ClaimDeliveries(context.Background(), forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: owner, Now: fat(100), Lease: time.Minute, Limit: 1})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					if done {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				d := got[0]
				d.State, d.UpdatedAt = forward.StateDelivered, fat(100)
				if err := s.UpdateDelivery(context.Background(), d, owner); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[d.StatementID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	written.Store(true)
	claimers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != writers*each+1 {
		t.Errorf("delivered %d distinct deliveries, want %d", len(seen), writers*each+1)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if n, err := s.CountDeliveries(t.Context(), orgA, "c1"); err != nil || n.Pending != 0 || n.Delivered != writers*each+1 {
		t.Errorf("CountDeliveries = %+v, %v; want %d delivered, none pending", n, err, writers*each+1)
	}
}
