package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// RunBackfills runs the forward.BackfillStore part of the suite (the
// durable, leased jobs of a backfill on attach); open returns a new, empty
// store.
//
//	func TestBackfillsConformance(t *testing.T) {
//		storetest.RunBackfills(t, func(t *testing.T) forward.BackfillStore { return open(t) })
//	}
func RunBackfills(t *testing.T, open func(t *testing.T) forward.BackfillStore) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s forward.BackfillStore)
	}{
		{"Lifecycle", testBfLifecycle},
		{"Restart", testBfRestart},
		{"ConcurrentLease", testBfConcurrentLease},
		{"UpdateRacesRestart", testBfUpdateVsRestart},
		{"RestartFailed", testBfRestartFailed},
		{"ConcurrentRestartFailed", testBfConcurrentRestartFailed},
		{"ListsAndDelete", testBfListsAndDelete},
		{"AttachTimes", testBfAttachTimes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil BackfillStore")
			}
			tc.fn(t, s)
		})
	}
}

func bfJob(org, config, objective, id string) forward.BackfillJob {
	return forward.BackfillJob{Org: org, ConfigurationID: config, ObjectiveID: objective, ID: id,
		Kind: forward.BackfillStatements, State: forward.BackfillRunning,
		Until: base.Add(5 * time.Second), StartedAt: base, UpdatedAt: base}
}

func mustGetBf(t *testing.T, s forward.BackfillStore, org, config, objective string) forward.BackfillJob {
	t.Helper()
	j, err := s.GetBackfill(t.Context(), org, config, objective)
	if err != nil {
		t.Fatalf("GetBackfill(%s, %s, %s): %v", org, config, objective, err)
	}
	return j
}

func checkBf(t *testing.T, what string, got, want forward.BackfillJob) {
	t.Helper()
	g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)
	if !got.Until.Equal(want.Until) || !got.StartedAt.Equal(want.StartedAt) || !got.FinishedAt.Equal(want.FinishedAt) ||
		!got.UpdatedAt.Equal(want.UpdatedAt) || !got.LeaseUntil.Equal(want.LeaseUntil) {
		t.Fatalf("%s: times differ:\n got %s\nwant %s", what, g, w)
	}
	got.Until, got.StartedAt, got.FinishedAt, got.UpdatedAt, got.LeaseUntil = want.Until, want.StartedAt, want.FinishedAt, want.UpdatedAt, want.LeaseUntil
	if got != want {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func testBfLifecycle(t *testing.T, s forward.BackfillStore) {
	ctx := t.Context()
	if _, err := s.GetBackfill(ctx, orgA, "c1", "o1"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("GetBackfill of no job: %v, want ErrNotFound", err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w1", base, base.Add(time.Minute)); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("LeaseBackfill of no job: %v, want ErrNotFound", err)
	}
	if err := s.UpdateBackfill(ctx, bfJob(orgA, "c1", "o1", "run1"), "w1"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("UpdateBackfill of no job: %v, want ErrNotFound", err)
	}
	j := bfJob(orgA, "c1", "o1", "run1")
	j.StartedAt = base.Add(1234567 * time.Microsecond).In(time.FixedZone("x", 3600)) // kept at ms, in UTC
	j.LeaseOwner, j.LeaseUntil = "someone", base.Add(time.Hour)                      // a start's lease is free
	if err := s.StartBackfill(ctx, j); err != nil {
		t.Fatal(err)
	}
	want := j
	want.StartedAt = base.Add(1234 * time.Millisecond).UTC()
	want.LeaseOwner, want.LeaseUntil = "", time.Time{}
	checkBf(t, "the started job", mustGetBf(t, s, orgA, "c1", "o1"), want)
	if got := mustGetBf(t, s, orgA, "c1", "o1"); got.StartedAt.Location() != time.UTC {
		t.Fatalf("StartedAt comes back in %v, want UTC", got.StartedAt.Location())
	}

	// Only owner w1 leases it until its lease expires.
	now := base.Add(10 * time.Second)
	got, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w1", now, now.Add(time.Minute))
	if err != nil || got.LeaseOwner != "w1" || !got.LeaseUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("LeaseBackfill(w1) = %+v, %v", got, err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w2", now.Add(59*time.Second), now.Add(2*time.Minute)); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("LeaseBackfill(w2) of a job w1 holds: %v, want ErrLeaseLost", err)
	}
	if got, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w1", now.Add(time.Second), now.Add(2*time.Minute)); err != nil || !got.LeaseUntil.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("LeaseBackfill(w1) renewing its own lease = %+v, %v", got, err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "other-run", "w1", now, now.Add(time.Minute)); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("LeaseBackfill of another run: %v, want ErrLeaseLost", err)
	}

	// Progress is written by the holder only.
	p := got
	p.Counted, p.Cursor, p.Done, p.Total, p.UpdatedAt = true, "cursor-1", 500, 1200, now.Add(3*time.Second)
	p.Kind, p.Until = "not written", base // identity and bounds stay as started
	if err := s.UpdateBackfill(ctx, p, "w2"); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("UpdateBackfill by a non-holder: %v, want ErrLeaseLost", err)
	}
	if err := s.UpdateBackfill(ctx, p, ""); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("UpdateBackfill by no owner: %v, want ErrLeaseLost", err)
	}
	if err := s.UpdateBackfill(ctx, p, "w1"); err != nil {
		t.Fatal(err)
	}
	want = got
	want.Counted, want.Cursor, want.Done, want.Total, want.UpdatedAt = true, "cursor-1", 500, 1200, now.Add(3*time.Second)
	checkBf(t, "after the holder's update", mustGetBf(t, s, orgA, "c1", "o1"), want)

	// An expired lease is taken over; the old holder's writes then fail.
	late := now.Add(3 * time.Minute)
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w2", late, late.Add(time.Minute)); err != nil {
		t.Fatalf("LeaseBackfill(w2) of an expired lease: %v", err)
	}
	if err := s.UpdateBackfill(ctx, p, "w1"); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("UpdateBackfill by the holder whose lease was taken over: %v, want ErrLeaseLost", err)
	}

	// w2 finishes and releases it: a finished job is not running, and no
	// one leases it.
	fin := mustGetBf(t, s, orgA, "c1", "o1")
	fin.State, fin.Done, fin.FinishedAt, fin.UpdatedAt, fin.LeaseOwner, fin.LeaseUntil = forward.BackfillDone, 1200, late, late, "", time.Time{}
	if err := s.UpdateBackfill(ctx, fin, "w2"); err != nil {
		t.Fatal(err)
	}
	checkBf(t, "the finished job", mustGetBf(t, s, orgA, "c1", "o1"), fin)
	if err := s.UpdateBackfill(ctx, fin, "w2"); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("UpdateBackfill after releasing: %v, want ErrLeaseLost", err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w3", late, late.Add(time.Minute)); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("LeaseBackfill of a finished job: %v, want ErrLeaseLost", err)
	}
	if run, err := s.RunningBackfills(ctx, 10); err != nil || len(run) != 0 {
		t.Fatalf("RunningBackfills with only a finished job = %+v, %v", run, err)
	}
}

func testBfRestart(t *testing.T, s forward.BackfillStore) {
	ctx := t.Context()
	if err := s.StartBackfill(ctx, bfJob(orgA, "c1", "o1", "run1")); err != nil {
		t.Fatal(err)
	}
	held, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w1", base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Attached again with a backfill: a new run replaces the held one.
	fresh := bfJob(orgA, "c1", "o1", "run2")
	fresh.Kind = forward.BackfillResults
	if err := s.StartBackfill(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	checkBf(t, "the restarted job", mustGetBf(t, s, orgA, "c1", "o1"), fresh)
	held.Done = 99
	if err := s.UpdateBackfill(ctx, held, "w1"); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("UpdateBackfill of the replaced run: %v, want ErrLeaseLost", err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w1", base, base.Add(time.Hour)); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("LeaseBackfill of the replaced run: %v, want ErrLeaseLost", err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run2", "w2", base, base.Add(time.Hour)); err != nil {
		t.Fatalf("LeaseBackfill of the new run (its lease is free): %v", err)
	}
	checkBf(t, "a failed one keeps its error", func() forward.BackfillJob {
		j := mustGetBf(t, s, orgA, "c1", "o1")
		j.State, j.Error, j.LeaseOwner, j.LeaseUntil = forward.BackfillFailed, "the configuration was detached", "", time.Time{}
		if err := s.UpdateBackfill(ctx, j, "w2"); err != nil {
			t.Fatal(err)
		}
		return mustGetBf(t, s, orgA, "c1", "o1")
	}(), func() forward.BackfillJob {
		j := fresh
		j.State, j.Error = forward.BackfillFailed, "the configuration was detached"
		return j
	}())
}

// failBf leases the key's running run id to w1 and stores it failed,
// halfway, with its lease released (as a Backfiller ends a job).
func failBf(t *testing.T, s forward.BackfillStore, org, config, objective, id string) forward.BackfillJob {
	t.Helper()
	j, err := s.LeaseBackfill(t.Context(), org, config, objective, id, "w1", base, base.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	j.State, j.Error, j.Counted, j.Cursor, j.Done, j.Total = forward.BackfillFailed, "the configuration was detached from the objective", true, "cursor-7", 700, 1000
	j.FinishedAt, j.UpdatedAt, j.LeaseOwner, j.LeaseUntil = base.Add(time.Second), base.Add(time.Second), "", time.Time{}
	if err := s.UpdateBackfill(t.Context(), j, "w1"); err != nil {
		t.Fatal(err)
	}
	return j
}

// A failed run is replaced by a restart (a new run from the beginning);
// a running or done job, or another run than the failed one named, is not.
func testBfRestartFailed(t *testing.T, s forward.BackfillStore) {
	ctx := t.Context()
	again := bfJob(orgA, "c1", "o1", "run2")
	again.Until, again.StartedAt, again.UpdatedAt = base.Add(time.Hour), base.Add(time.Hour), base.Add(time.Hour)
	if err := s.RestartBackfill(ctx, again, "run1"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("RestartBackfill of no job: %v, want ErrNotFound", err)
	}
	if err := s.StartBackfill(ctx, bfJob(orgA, "c1", "o1", "run1")); err != nil {
		t.Fatal(err)
	}
	if err := s.RestartBackfill(ctx, again, "run1"); !errors.Is(err, forward.ErrBackfillNotFailed) {
		t.Fatalf("RestartBackfill of a running job: %v, want ErrBackfillNotFailed", err)
	}
	failed := failBf(t, s, orgA, "c1", "o1", "run1")
	if err := s.RestartBackfill(ctx, again, "run0"); !errors.Is(err, forward.ErrBackfillNotFailed) {
		t.Fatalf("RestartBackfill naming another run: %v, want ErrBackfillNotFailed", err)
	}
	checkBf(t, "the failed job, after refused restarts", mustGetBf(t, s, orgA, "c1", "o1"), failed)
	again.LeaseOwner, again.LeaseUntil = "someone", base.Add(time.Hour) // a restart's lease is free
	if err := s.RestartBackfill(ctx, again, "run1"); err != nil {
		t.Fatalf("RestartBackfill of the failed run: %v", err)
	}
	want := again
	want.LeaseOwner, want.LeaseUntil = "", time.Time{}
	checkBf(t, "the restarted job", mustGetBf(t, s, orgA, "c1", "o1"), want)
	if run, err := s.RunningBackfills(ctx, 10); err != nil || len(run) != 1 || run[0].ID != "run2" {
		t.Fatalf("RunningBackfills after the restart = %+v, %v", run, err)
	}
	if err := s.RestartBackfill(ctx, again, "run1"); !errors.Is(err, forward.ErrBackfillNotFailed) {
		t.Fatalf("RestartBackfill of the failed run again: %v, want ErrBackfillNotFailed", err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run1", "w1", base, base.Add(time.Minute)); !errors.Is(err, forward.ErrLeaseLost) {
		t.Fatalf("LeaseBackfill of the failed run after its restart: %v, want ErrLeaseLost", err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "run2", "w2", base, base.Add(time.Minute)); err != nil {
		t.Fatalf("LeaseBackfill of the restarted run: %v", err)
	}
	// A done job is not restarted.
	done := bfJob(orgA, "c1", "o2", "d1")
	done.State = forward.BackfillDone
	if err := s.StartBackfill(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.RestartBackfill(ctx, bfJob(orgA, "c1", "o2", "d2"), "d1"); !errors.Is(err, forward.ErrBackfillNotFailed) {
		t.Fatalf("RestartBackfill of a done job: %v, want ErrBackfillNotFailed", err)
	}
}

// Of 6 concurrent restarts of one failed run, exactly one wins, and the
// job stored is the winner's, whole.
func testBfConcurrentRestartFailed(t *testing.T, s forward.BackfillStore) {
	ctx := t.Context()
	for round := range 4 {
		obj := fmt.Sprintf("o%d", round)
		if err := s.StartBackfill(ctx, bfJob(orgA, "c1", obj, "failed")); err != nil {
			t.Fatal(err)
		}
		failBf(t, s, orgA, "c1", obj, "failed")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("restart-%d", w)
				err := s.RestartBackfill(ctx, bfJob(orgA, "c1", obj, id), "failed")
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, id)
					mu.Unlock()
				case !errors.Is(err, forward.ErrBackfillNotFailed):
					t.Errorf("RestartBackfill(%s): %v", id, err)
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d restarts won (%v), want exactly 1", round, len(winners), winners)
		}
		checkBf(t, fmt.Sprintf("round %d", round), mustGetBf(t, s, orgA, "c1", obj), bfJob(orgA, "c1", obj, winners[0]))
	}
}

func testBfConcurrentLease(t *testing.T, s forward.BackfillStore) {
	ctx := t.Context()
	for round := range 5 {
		obj := fmt.Sprintf("o%d", round)
		if err := s.StartBackfill(ctx, bfJob(orgA, "c1", obj, "run")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				_, err := s.LeaseBackfill(ctx, orgA, "c1", obj, "run", owner, base, base.Add(time.Minute))
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				case !errors.Is(err, forward.ErrLeaseLost):
					t.Errorf("LeaseBackfill(%s): %v", owner, err)
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d callers got the lease (%v), want exactly 1", round, len(winners), winners)
		}
		if got := mustGetBf(t, s, orgA, "c1", obj); got.LeaseOwner != winners[0] {
			t.Fatalf("round %d: the job is leased to %q, the winner was %q", round, got.LeaseOwner, winners[0])
		}
	}
}

func testBfUpdateVsRestart(t *testing.T, s forward.BackfillStore) {
	ctx := t.Context()
	for round := range 10 {
		obj := fmt.Sprintf("o%d", round)
		if err := s.StartBackfill(ctx, bfJob(orgA, "c1", obj, "old")); err != nil {
			t.Fatal(err)
		}
		held, err := s.LeaseBackfill(ctx, orgA, "c1", obj, "old", "w1", base, base.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		held.Done, held.Cursor = 500, "c"
		var wg sync.WaitGroup
		var updErr, startErr error
		wg.Add(2)
		go func() { defer wg.Done(); updErr = s.UpdateBackfill(ctx, held, "w1") }()
		go func() { defer wg.Done(); startErr = s.StartBackfill(ctx, bfJob(orgA, "c1", obj, "new")) }()
		wg.Wait()
		if startErr != nil {
			t.Fatalf("round %d: StartBackfill: %v", round, startErr)
		}
		if updErr != nil && !errors.Is(updErr, forward.ErrLeaseLost) {
			t.Fatalf("round %d: UpdateBackfill: %v", round, updErr)
		}
		// Whichever came first, the new run is what is stored, whole.
		checkBf(t, fmt.Sprintf("round %d", round), mustGetBf(t, s, orgA, "c1", obj), bfJob(orgA, "c1", obj, "new"))
	}
}

func testBfListsAndDelete(t *testing.T, s forward.BackfillStore) {
	ctx := t.Context()
	for _, j := range []forward.BackfillJob{
		bfJob(orgB, "c1", "o1", "r"), bfJob(orgA, "c2", "o1", "r"), bfJob(orgA, "c1", "o2", "r"),
		bfJob(orgA, "c1", "o1", "r"), bfJob(orgA, "c10", "o1", "r"),
	} {
		if err := s.StartBackfill(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	done := bfJob(orgA, "c2", "o2", "r")
	done.State = forward.BackfillDone
	if err := s.StartBackfill(ctx, done); err != nil {
		t.Fatal(err)
	}
	keys := func(js []forward.BackfillJob) string {
		var out string
		for _, j := range js {
			out += fmt.Sprintf("[%s %s %s]", j.Org, j.ConfigurationID, j.ObjectiveID)
		}
		return out
	}
	if got, err := s.ListBackfills(ctx, orgA, "c1"); err != nil || keys(got) != fmt.Sprintf("[%s c1 o1][%s c1 o2]", orgA, orgA) {
		t.Fatalf("ListBackfills(A, c1) = %s, %v", keys(got), err)
	}
	if got, err := s.ListBackfills(ctx, orgA, "c2"); err != nil || keys(got) != fmt.Sprintf("[%s c2 o1][%s c2 o2]", orgA, orgA) {
		t.Fatalf("ListBackfills(A, c2) = %s, %v", keys(got), err)
	}
	if got, err := s.ListBackfills(ctx, orgA, "none"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("ListBackfills of a configuration without jobs = %#v, %v; want an empty list", got, err)
	}
	wantRunning := fmt.Sprintf("[%s c1 o1][%s c1 o2][%s c10 o1][%s c2 o1]", orgA, orgA, orgA, orgA)
	wantB := fmt.Sprintf("[%s c1 o1]", orgB)
	if orgB < orgA {
		wantRunning = wantB + wantRunning
	} else {
		wantRunning += wantB
	}
	if got, err := s.RunningBackfills(ctx, 100); err != nil || keys(got) != wantRunning {
		t.Fatalf("RunningBackfills = %s, %v; want %s", keys(got), err, wantRunning)
	}
	if got, err := s.RunningBackfills(ctx, 2); err != nil || len(got) != 2 {
		t.Fatalf("RunningBackfills(limit 2) = %s, %v", keys(got), err)
	}
	if err := s.DeleteBackfills(ctx, orgA, "c1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListBackfills(ctx, orgA, "c1"); err != nil || len(got) != 0 {
		t.Fatalf("ListBackfills after DeleteBackfills = %s, %v", keys(got), err)
	}
	if _, err := s.GetBackfill(ctx, orgA, "c1", "o1"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("GetBackfill after DeleteBackfills: %v", err)
	}
	// Only that configuration's: c10 (a longer id with its prefix), c2
	// and the other organization's stay.
	mustGetBf(t, s, orgA, "c10", "o1")
	mustGetBf(t, s, orgA, "c2", "o1")
	mustGetBf(t, s, orgB, "c1", "o1")
	// Deleted and started again: a new job.
	if err := s.StartBackfill(ctx, bfJob(orgA, "c1", "o1", "again")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaseBackfill(ctx, orgA, "c1", "o1", "again", "w", base, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// An objective keeps when each configuration was attached (what decides
// whether a statement or result before it is owed), when the store keeps
// objectives.
func testBfAttachTimes(t *testing.T, s forward.BackfillStore) {
	os, ok := s.(forward.ObjectiveStore)
	if !ok {
		t.Skip("not an ObjectiveStore")
	}
	ctx := t.Context()
	o := forward.Objective{ID: "obj-1", Org: orgA, Name: "Quiz", ActivityID: "https://example.com/act",
		Configurations: []string{"c1", "c2", "old"}, CreatedAt: base, UpdatedAt: base,
		Attached: map[string]time.Time{"c1": base.Add(1500 * time.Microsecond), "c2": base.Add(time.Hour)}}
	if err := os.PutObjective(ctx, o); err != nil {
		t.Fatal(err)
	}
	got, err := os.GetObjective(ctx, orgA, "obj-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Attached) != 2 || !got.Attached["c1"].Equal(base.Add(time.Millisecond)) || !got.Attached["c2"].Equal(base.Add(time.Hour)) {
		t.Fatalf("Attached read back as %v", got.Attached)
	}
	if !got.AttachedBefore("old", base) || got.AttachedBefore("c2", base) || !got.AttachedBefore("c2", base.Add(time.Hour)) {
		t.Fatalf("AttachedBefore of %v is wrong", got.Attached)
	}
	// ObjectivesFor (what the obligations read) has them too.
	objs, err := os.ObjectivesFor(ctx, orgA, "https://example.com/act")
	if err != nil || len(objs) != 1 || len(objs[0].Attached) != 2 {
		t.Fatalf("ObjectivesFor = %+v, %v", objs, err)
	}
	o.Attached = nil
	if err := os.PutObjective(ctx, o); err != nil {
		t.Fatal(err)
	}
	if got, err := os.GetObjective(ctx, orgA, "obj-1"); err != nil || len(got.Attached) != 0 {
		t.Fatalf("an objective without attach times read back with %v (%v)", got.Attached, err)
	}
}
