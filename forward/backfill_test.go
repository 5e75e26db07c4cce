package forward_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/postback"
	"github.com/lrs-project/lrs/forward/xapi"
)

const bfActivity = "https://lrs.example.org/objectives/42" // forwardtest.Statement's

// scanSource is the LRS as a backfill reads it: statements in (stored,
// id) order, found by their object (each forwardtest.Statement is about
// bfActivity; others are about another).
type scanSource struct {
	mu      sync.Mutex
	stmts   []forward.Statement
	through time.Time
	scans   int
}

func (s *scanSource) add(st forward.Statement) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stmts = append(s.stmts, st)
	sort.Slice(s.stmts, func(i, j int) bool {
		a, b := s.stmts[i], s.stmts[j]
		return a.Stored.Before(b.Stored) || a.Stored.Equal(b.Stored) && a.ID < b.ID
	})
}

func (s *scanSource) ScanActivity(_ context.Context, _ string, activity string, after forward.Cursor, until time.Time, limit int) ([]forward.Statement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans++
	var out []forward.Statement
	for _, st := range s.stmts {
		if st.Stored.Before(after.Stored) || st.Stored.Equal(after.Stored) && st.ID <= after.ID || st.Stored.After(until) {
			continue
		}
		if activity != bfActivity {
			continue
		}
		out = append(out, st)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (s *scanSource) ConsistentThrough(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.through, nil
}

// bfHarness is the engine's harness with an administration, a statement
// source and the obligations a Backfiller needs.
type bfHarness struct {
	*harness
	src   *scanSource
	ob    *forward.Obligations
	types *forward.Registry
	admin *forward.Admin
	objID string
}

func newBfHarness(t *testing.T) *bfHarness {
	h := &bfHarness{harness: newHarness(t, nil), src: &scanSource{}}
	h.types = forwardtest.Registry(t, xapi.Type(xapi.Options{Egress: forwardtest.Loopback, Timeout: 5 * time.Second}),
		postback.Type(func(forward.Configuration, map[string]string) (forward.Destination, error) {
			return nil, errors.New("not sent in this test")
		}))
	h.ob = forward.NewObligations(h.store, nil, h.clock.Now)
	h.ob.SetSinks(h.types)
	h.admin = forward.NewAdmin(h.store, h.types, forward.AdminOptions{Now: h.clock.Now, Invalidate: h.ob.Invalidate})
	h.configure("c1", forwardtest.DownSecret, 1)
	o, err := h.admin.CreateObjective(t.Context(), org, forward.ObjectiveInput{Name: "Drill", ActivityID: bfActivity})
	if err != nil {
		t.Fatal(err)
	}
	h.objID = o.ID
	return h
}

// store adds n upstream statements stored 1 ms apart before now, and
// returns their ids.
func (h *bfHarness) storeStatements(n int) []string {
	var ids []string
	start := h.clock.Now().Add(-time.Duration(n+1) * time.Millisecond)
	for i := range n {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		raw := forwardtest.Statement(id, fmt.Sprintf("learner%d@example.com", i))
		h.up.Put(org, id, raw)
		h.src.add(forward.Statement{ID: id, Stored: start.Add(time.Duration(i) * time.Millisecond), Raw: raw})
		ids = append(ids, id)
	}
	h.src.mu.Lock()
	h.src.through = h.clock.Now().Add(time.Hour)
	h.src.mu.Unlock()
	return ids
}

func (h *bfHarness) attach(cfg string, backfill bool) []forward.BackfillJob {
	h.t.Helper()
	o, err := h.admin.Objective(h.t.Context(), org, h.objID)
	if err != nil {
		h.t.Fatal(err)
	}
	_, jobs, err := h.admin.UpdateObjectiveBackfill(h.t.Context(), org, h.objID, forward.ObjectiveInput{
		Name: o.Name, ActivityID: o.ActivityID, Configurations: append(o.Configurations, cfg), Backfill: backfill})
	if err != nil {
		h.t.Fatal(err)
	}
	return jobs
}

func (h *bfHarness) backfiller(owner string, chunk int) *forward.Backfiller {
	h.t.Helper()
	b, err := forward.NewBackfiller(h.store, h.src, h.ob, h.types, forward.BackfillOptions{
		Chunk: chunk, Pause: -1, Lease: time.Minute, Owner: owner, Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func (h *bfHarness) job(cfg string) forward.BackfillJob {
	h.t.Helper()
	j, err := h.store.GetBackfill(h.t.Context(), org, cfg, h.objID)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// runToEnd steps b until the job of cfg is no longer running.
func (h *bfHarness) runToEnd(b *forward.Backfiller, cfg string) forward.BackfillJob {
	h.t.Helper()
	for range 1000 {
		if _, err := b.Step(h.t.Context()); err != nil {
			h.t.Fatal(err)
		}
		if j := h.job(cfg); j.State != forward.BackfillRunning {
			return j
		}
	}
	h.t.Fatalf("the backfill of %s did not end: %+v", cfg, h.job(cfg))
	return forward.BackfillJob{}
}

func (h *bfHarness) deliveriesOf(cfg string) []string {
	h.t.Helper()
	ds, err := h.store.ListDeliveries(h.t.Context(), org, cfg, "", 1_000_000)
	if err != nil {
		h.t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.StatementID)
	}
	slices.Sort(ids)
	return ids
}

// A statements backfill makes every matching statement stored before the
// attach a delivery, counted first, in chunks; the engine then sends each
// once. A statement stored after the attach is the obligations' (not the
// backfill's), and another activity's is not matched.
func TestBackfillStatementsOnAttach(t *testing.T) {
	h := newBfHarness(t)
	ids := h.storeStatements(1234)
	other := forward.Statement{ID: "00000000-0000-4000-8000-999999999999", Stored: h.clock.Now().Add(-time.Second),
		Raw: []byte(`{"actor":{"mbox":"mailto:x@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},"object":{"id":"https://other.example/a"}}`)}
	h.src.add(other)
	jobs := h.attach("c1", true)
	if len(jobs) != 1 || jobs[0].Kind != forward.BackfillStatements || jobs[0].State != forward.BackfillRunning || !jobs[0].Until.Equal(h.clock.Now()) {
		t.Fatalf("attach with a backfill started %+v", jobs)
	}
	h.clock.Advance(time.Second)
	late := forward.Statement{ID: "00000000-0000-4000-8000-888888888888", Stored: h.clock.Now(), Raw: forwardtest.Statement("00000000-0000-4000-8000-888888888888", "late@example.com")}
	h.src.add(late)

	b := h.backfiller("w1", 100)
	// First step: counting, nothing ensured yet.
	if _, err := b.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if j := h.job("c1"); j.Counted || j.Total != 100 || j.Done != 0 || j.LeaseOwner != "w1" || len(h.deliveriesOf("c1")) != 0 {
		t.Fatalf("after one counting chunk: %+v, %d deliveries", j, len(h.deliveriesOf("c1")))
	}
	j := h.runToEnd(b, "c1")
	if j.State != forward.BackfillDone || j.Done != 1234 || j.Total != 1234 || j.LeaseOwner != "" || j.FinishedAt.IsZero() || j.Error != "" {
		t.Fatalf("the finished job: %+v", j)
	}
	if got := h.deliveriesOf("c1"); !slices.Equal(got, ids) {
		t.Fatalf("%d deliveries, want the %d statements stored before the attach (the late one and the other activity's excluded)", len(got), len(ids))
	}
	for range 100 {
		if h.tick() == 0 {
			break
		}
	}
	h.wantDeliveredOnce("c1", ids)
	if n := h.down.Accepted(late.ID); n != 0 {
		t.Fatalf("the statement stored after the attach went %d times through the backfill", n)
	}
	// A finished job is not driven again.
	scans := h.src.scans
	if n, err := b.Step(t.Context()); err != nil || n != 0 || h.src.scans != scans {
		t.Fatalf("a step after the end did %d chunks (%v), scanned %d more times", n, err, h.src.scans-scans)
	}
}

// Without the flag, attaching starts no job and the stored statements owe
// the configuration nothing.
func TestAttachWithoutBackfill(t *testing.T) {
	h := newBfHarness(t)
	h.storeStatements(50)
	if jobs := h.attach("c1", false); len(jobs) != 0 {
		t.Fatalf("attach without a backfill started %+v", jobs)
	}
	b := h.backfiller("w1", 10)
	if n, err := b.Step(t.Context()); err != nil || n != 0 {
		t.Fatalf("Step = %d, %v", n, err)
	}
	if got := h.deliveriesOf("c1"); len(got) != 0 {
		t.Fatalf("%d deliveries without a backfill", len(got))
	}
	if js, err := h.admin.Backfills(t.Context(), org, "c1"); err != nil || len(js) != 0 {
		t.Fatalf("Backfills = %+v, %v", js, err)
	}
}

// failingUpdates is a store whose next UpdateBackfill fails (a process
// killed after a chunk's deliveries and before its cursor's write).
type failingUpdates struct {
	forward.Store
	fail bool
}

func (f *failingUpdates) UpdateBackfill(ctx context.Context, j forward.BackfillJob, owner string) error {
	if f.fail {
		f.fail = false
		return errors.New("killed")
	}
	return f.Store.UpdateBackfill(ctx, j, owner)
}

// A driver that dies keeps its lease until it expires; then another
// resumes from the stored cursor, doing again the chunk whose cursor was
// not stored, which ensures nothing twice: every statement is sent once.
func TestBackfillResumesAfterCrash(t *testing.T) {
	h := newBfHarness(t)
	ids := h.storeStatements(1000)
	h.attach("c1", true)
	crashing := &failingUpdates{Store: h.store}
	a, err := forward.NewBackfiller(crashing, h.src, h.ob, h.types, forward.BackfillOptions{Chunk: 100, Pause: -1, Lease: time.Minute, Owner: "a", Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 11 + 4 { // the count (ten full chunks and an empty one), then four chunks
		if _, err := a.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	crashing.fail = true
	if _, err := a.Step(t.Context()); err == nil {
		t.Fatal("the step whose update failed reported no error")
	}
	j := h.job("c1")
	if j.Done != 400 || j.Total != 1000 || len(h.deliveriesOf("c1")) != 500 {
		t.Fatalf("after the crash: %+v with %d deliveries, want 400 done of 1000 and the fifth chunk's deliveries ensured", j, len(h.deliveriesOf("c1")))
	}
	// a is gone (never released). b waits for its lease.
	b := h.backfiller("b", 100)
	if n, err := b.Step(t.Context()); err != nil || n != 0 {
		t.Fatalf("b drove a job a holds: %d, %v", n, err)
	}
	h.clock.Advance(time.Minute + time.Millisecond)
	j = h.runToEnd(b, "c1")
	if j.State != forward.BackfillDone || j.Done != 1000 || j.Total != 1000 {
		t.Fatalf("the resumed job: %+v", j)
	}
	if got := h.deliveriesOf("c1"); !slices.Equal(got, ids) {
		t.Fatalf("%d deliveries, want %d", len(got), len(ids))
	}
	for range 100 {
		if h.tick() == 0 {
			break
		}
	}
	h.wantDeliveredOnce("c1", ids)
}

// Two drivers stepping at once: the lease lets one drive the job, so its
// counts are each statement once.
func TestBackfillOneDriverAtATime(t *testing.T) {
	h := newBfHarness(t)
	ids := h.storeStatements(2000)
	h.attach("c1", true)
	var wg sync.WaitGroup
	for _, owner := range []string{"p1", "p2", "p3"} {
		b := h.backfiller(owner, 50)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := b.Step(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	j := h.job("c1")
	if j.State != forward.BackfillDone || j.Done != len(ids) || j.Total != len(ids) {
		t.Fatalf("the job: %+v, want done with %d of %d", j, len(ids), len(ids))
	}
	if got := h.deliveriesOf("c1"); len(got) != len(ids) {
		t.Fatalf("%d deliveries, want %d", len(got), len(ids))
	}
}

// An overwrite configuration's backfill ensures the one delivery of each
// current result of the objective; a result changed since (its delivery
// already there) gets no second one.
func TestBackfillResults(t *testing.T) {
	h := newBfHarness(t)
	ctx := t.Context()
	var rs []forward.ObjectiveResult
	for i := range 7 {
		rs = append(rs, forward.ObjectiveResult{ResultKey: forward.ResultKey{Org: org, ObjectiveID: h.objID,
			Participant: fmt.Sprintf("mbox:mailto:p%d@example.com", i)}, Revision: 1, CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()})
	}
	rs = append(rs, forward.ObjectiveResult{ResultKey: forward.ResultKey{Org: org, ObjectiveID: h.objID,
		Participant: "account:https://sso.example/ u1"}, Revision: 1, CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()})
	if conflicts, err := h.store.PutResults(ctx, rs, true); err != nil || len(conflicts) != 0 {
		t.Fatalf("PutResults: %v, %v", conflicts, err)
	}
	err := h.store.PutConfiguration(ctx, forward.Configuration{ID: "pb", Org: org, Name: "Postback", ContactEmail: "a@example.com",
		Type: postback.TypeName, Identifier: forward.IdentifierMbox, Properties: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	jobs := h.attach("pb", true)
	if len(jobs) != 1 || jobs[0].Kind != forward.BackfillResults {
		t.Fatalf("attach started %+v", jobs)
	}
	j := h.runToEnd(h.backfiller("w", 3), "pb")
	if j.State != forward.BackfillDone || j.Done != 8 || j.Total != 8 {
		t.Fatalf("the job: %+v", j)
	}
	var want []string
	for _, r := range rs {
		want = append(want, forward.ResultDeliveryID(r.ResultKey))
	}
	slices.Sort(want)
	if got := h.deliveriesOf("pb"); !slices.Equal(got, want) {
		t.Fatalf("deliveries %v, want %v", got, want)
	}
	// The account participant has no email: skipped with its reason.
	d := h.delivery("pb", forward.ResultDeliveryID(rs[7].ResultKey))
	if d.State != forward.StateSkipped || d.Reason != forward.ReasonNoMbox {
		t.Fatalf("the account's delivery: %+v", d)
	}
	if d := h.delivery("pb", forward.ResultDeliveryID(rs[0].ResultKey)); d.State != forward.StatePending || d.Participant != "p0@example.com" || d.ObjectiveID != h.objID {
		t.Fatalf("a result's delivery: %+v", d)
	}
}

// A job whose configuration is detached (or deleted) meanwhile ends as
// failed, with the reason, at its next chunk.
func TestBackfillFailsWhenDetached(t *testing.T) {
	h := newBfHarness(t)
	h.storeStatements(300)
	h.attach("c1", true)
	b := h.backfiller("w", 100)
	if _, err := b.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.admin.UpdateObjective(t.Context(), org, h.objID, forward.ObjectiveInput{Name: "Drill", ActivityID: bfActivity}); err != nil {
		t.Fatal(err)
	}
	j := h.runToEnd(b, "c1")
	if j.State != forward.BackfillFailed || j.Error != "the configuration was detached from the objective" || j.LeaseOwner != "" {
		t.Fatalf("the job: %+v", j)
	}
	// Deleting the configuration removes its jobs.
	if err := h.store.DeleteConfiguration(t.Context(), org, "c1"); err != nil {
		t.Fatal(err)
	}
	h.configure("c1", forwardtest.DownSecret, 1)
	if err := h.admin.DeleteConfiguration(t.Context(), org, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.GetBackfill(t.Context(), org, "c1", h.objID); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("the deleted configuration's job: %v", err)
	}
}

// A job waits until every statement stored up to its attach is visible
// (Consistent-Through), then starts.
func TestBackfillWaitsForConsistency(t *testing.T) {
	h := newBfHarness(t)
	h.storeStatements(10)
	h.attach("c1", true)
	h.src.mu.Lock()
	h.src.through = h.clock.Now().Add(-time.Second)
	h.src.mu.Unlock()
	b := h.backfiller("w", 100)
	if n, err := b.Step(t.Context()); err != nil || n != 0 || h.src.scans != 0 {
		t.Fatalf("a step before Consistent-Through reached the attach: %d chunks, %v, %d scans", n, err, h.src.scans)
	}
	h.src.mu.Lock()
	h.src.through = h.clock.Now()
	h.src.mu.Unlock()
	if j := h.runToEnd(b, "c1"); j.State != forward.BackfillDone || j.Done != 10 {
		t.Fatalf("the job: %+v", j)
	}
}

func (s *scanSource) ScanStored(ctx context.Context, org string, after forward.Cursor, until time.Time, limit int) ([]forward.Statement, error) {
	return s.ScanActivity(ctx, org, bfActivity, after, until, limit)
}

// The reconciler re-reads the statements of the last minutes with the
// rules of now: a statement stored before an attach without backfill
// still owes the configuration nothing, one stored after it does. And a
// result found current that last changed before the attach is not sent,
// a change after it is.
func TestAttachIsNotRetroactive(t *testing.T) {
	h := newBfHarness(t)
	ctx := t.Context()
	old := h.storeStatements(20)
	h.attach("c1", false)
	h.clock.Advance(time.Second)
	late := forward.Statement{ID: "00000000-0000-4000-8000-777777777777", Stored: h.clock.Now(),
		Raw: forwardtest.Statement("00000000-0000-4000-8000-777777777777", "late@example.com")}
	h.src.add(late)
	rec := &forward.Reconciler{Store: h.store, Statements: h.src, Obligations: h.ob, Margin: time.Hour}
	if err := rec.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.deliveriesOf("c1"); !slices.Equal(got, []string{late.ID}) {
		t.Fatalf("after the reconciler's pass: deliveries %v, want only the statement stored after the attach (not %d older ones)", got, len(old))
	}

	key := forward.ResultKey{Org: org, ObjectiveID: h.objID, Participant: "mbox:mailto:p@example.com"}
	if _, err := h.store.PutResults(ctx, []forward.ObjectiveResult{{ResultKey: key, Revision: 1, CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()}}, true); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	if err := h.store.PutConfiguration(ctx, forward.Configuration{ID: "pb", Org: org, Name: "Postback", ContactEmail: "a@example.com",
		Type: postback.TypeName, Identifier: forward.IdentifierMbox}); err != nil {
		t.Fatal(err)
	}
	h.attach("pb", false)
	h.ob.Invalidate(org)
	if err := h.ob.ResultChanged(ctx, forward.ResultChange{ResultKey: key, Revision: 1}); err != nil {
		t.Fatal(err)
	}
	if got := h.deliveriesOf("pb"); len(got) != 0 {
		t.Fatalf("a result last changed before the attach, found current: deliveries %v", got)
	}
	if err := h.ob.ResultChanged(ctx, forward.ResultChange{ResultKey: key, Revision: 2, Changed: true}); err != nil {
		t.Fatal(err)
	}
	if got := h.deliveriesOf("pb"); !slices.Equal(got, []string{forward.ResultDeliveryID(key)}) {
		t.Fatalf("a change after the attach: deliveries %v", got)
	}
}

// A failed backfill is restarted from the beginning once the
// configuration is attached again (without a new backfill): every
// statement it owes is then a delivery, once. A restart is refused while
// the configuration is detached, when the job has not failed, when the
// objective was deleted, and for an unknown job.
func TestRestartFailedBackfill(t *testing.T) {
	h := newBfHarness(t)
	ctx := t.Context()
	ids := h.storeStatements(300)
	h.attach("c1", true)
	b := h.backfiller("w", 100)
	for h.job("c1").Done == 0 { // counted, then 100 sent
		if _, err := b.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	detach := func(objID, name string) {
		t.Helper()
		if _, err := h.admin.UpdateObjective(ctx, org, objID, forward.ObjectiveInput{Name: name, ActivityID: bfActivity}); err != nil {
			t.Fatal(err)
		}
	}
	detach(h.objID, "Drill")
	failed := h.runToEnd(b, "c1")
	if failed.State != forward.BackfillFailed || failed.Done == 0 || failed.Done == 300 {
		t.Fatalf("the job after the detach: %+v", failed)
	}
	if _, err := h.admin.RestartBackfill(ctx, org, "c1", h.objID); !errors.Is(err, forward.ErrConflict) || !strings.Contains(err.Error(), "no longer attached") {
		t.Fatalf("restart while detached: %v, want ErrConflict", err)
	}
	if jobs := h.attach("c1", false); len(jobs) != 0 {
		t.Fatalf("attach without a backfill started %d", len(jobs))
	}
	j, err := h.admin.RestartBackfill(ctx, org, "c1", h.objID)
	if err != nil {
		t.Fatal(err)
	}
	if j.ID == failed.ID || j.State != forward.BackfillRunning || j.Done != 0 || j.Cursor != "" || j.Counted {
		t.Fatalf("the restarted job: %+v", j)
	}
	if got := h.job("c1"); got.ID != j.ID || got.Error != "" || !got.FinishedAt.IsZero() {
		t.Fatalf("the stored job after the restart: %+v", got)
	}
	if _, err := h.admin.RestartBackfill(ctx, org, "c1", h.objID); !errors.Is(err, forward.ErrConflict) || !strings.Contains(err.Error(), "is running") {
		t.Fatalf("restart of a running job: %v, want ErrConflict", err)
	}
	done := h.runToEnd(b, "c1")
	if done.State != forward.BackfillDone || done.Done != 300 || done.Total != 300 {
		t.Fatalf("the restarted job at its end: %+v", done)
	}
	slices.Sort(ids)
	if got := h.deliveriesOf("c1"); !slices.Equal(got, ids) {
		t.Fatalf("%d deliveries after the restart, want one per each of the %d statements", len(got), len(ids))
	}
	if _, err := h.admin.RestartBackfill(ctx, org, "c1", "no-such"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("restart of an unknown job: %v, want ErrNotFound", err)
	}
	if _, err := h.admin.RestartBackfill(ctx, org, "no-such", h.objID); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("restart for an unknown configuration: %v, want ErrNotFound", err)
	}
	// The objective deleted: nothing to restart.
	o2, jobs, err := h.admin.CreateObjectiveBackfill(ctx, org, forward.ObjectiveInput{Name: "Other", ActivityID: bfActivity, Configurations: []string{"c1"}, Backfill: true})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("second objective: %v, %d jobs", err, len(jobs))
	}
	detach(o2.ID, "Other")
	for range 10 {
		if _, err := b.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.admin.DeleteObjective(ctx, org, o2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.admin.RestartBackfill(ctx, org, "c1", o2.ID); !errors.Is(err, forward.ErrConflict) || !strings.Contains(err.Error(), "was deleted") {
		t.Fatalf("restart after the objective's delete: %v, want ErrConflict", err)
	}
}
