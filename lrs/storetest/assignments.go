package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// RunAssignments runs the forward.AssignmentStore part of the suite (the
// records that make a remote assignment be created once per key); open
// returns a new, empty store.
//
//	func TestAssignmentsConformance(t *testing.T) {
//		storetest.RunAssignments(t, func(t *testing.T) forward.AssignmentStore { return open(t) })
//	}
func RunAssignments(t *testing.T, open func(t *testing.T) forward.AssignmentStore) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s forward.AssignmentStore)
	}{
		{"Lifecycle", testAsgLifecycle},
		{"KeysDifferByEveryPart", testAsgKeys},
		{"ConcurrentReserve", testAsgConcurrentReserve},
		{"ResolveRacesTakeover", testAsgResolveVsTakeover},
		{"ConcurrentTakeovers", testAsgConcurrentTakeovers},
		{"DeleteConfiguration", testAsgDeleteConfiguration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil AssignmentStore")
			}
			tc.fn(t, s)
		})
	}
}

const (
	asgSec1 = "5fee004cca2e43cf27000001"
	asgSec2 = "5fee004cca2e43cf27000002"
)

func asgKey(org, config, section, objective string) forward.AssignmentKey {
	return forward.AssignmentKey{Org: org, Configuration: config, Section: section, Objective: objective}
}

func mustGetAsg(t *testing.T, s forward.AssignmentStore, key forward.AssignmentKey) forward.AssignmentRecord {
	t.Helper()
	r, err := s.GetAssignment(t.Context(), key)
	if err != nil {
		t.Fatalf("GetAssignment(%v): %v", key, err)
	}
	return r
}

func mustReserveAsg(t *testing.T, s forward.AssignmentStore, rec forward.AssignmentRecord) {
	t.Helper()
	if got, won, err := s.ReserveAssignment(t.Context(), rec); err != nil || !won {
		t.Fatalf("ReserveAssignment(%v, %s) = %+v, won %v, %v; want it won", rec.Key, rec.Reservation, got, won, err)
	}
}

func testAsgLifecycle(t *testing.T, s forward.AssignmentStore) {
	ctx := t.Context()
	key := asgKey(orgA, "c1", asgSec1, "obj")
	// Times come back at millisecond precision, in UTC.
	reservedAt := base.Add(1234567 * time.Microsecond).In(time.FixedZone("x", 3600))
	createdAt := base.Add(2 * time.Second)
	if _, err := s.GetAssignment(ctx, key); !errors.Is(err, forward.ErrNoAssignment) {
		t.Fatalf("GetAssignment of a key never reserved: %v, want ErrNoAssignment", err)
	}
	mine := forward.AssignmentRecord{Key: key, Reservation: "r1", ReservedAt: reservedAt}
	got, won, err := s.ReserveAssignment(ctx, mine)
	if err != nil || !won || got.Reservation != "r1" || got.AssignmentID != "" || !got.ReservedAt.Equal(base.Add(1234*time.Millisecond)) {
		t.Fatalf("ReserveAssignment = %+v, won %v, %v", got, won, err)
	}
	if r := mustGetAsg(t, s, key); r.Key != key || r.Reservation != "r1" || r.AssignmentID != "" ||
		!r.ReservedAt.Equal(base.Add(1234*time.Millisecond)) || r.ReservedAt.Location() != time.UTC || !r.CreatedAt.IsZero() {
		t.Fatalf("GetAssignment of a reservation = %+v", r)
	}
	// A second reservation loses and is told the first.
	got, won, err = s.ReserveAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "r2", ReservedAt: createdAt})
	if err != nil || won || got.Reservation != "r1" || got.AssignmentID != "" {
		t.Fatalf("second ReserveAssignment = %+v, won %v, %v; want r1's record, lost", got, won, err)
	}
	// Only the reservation's owner resolves it, once.
	if err := s.ResolveAssignment(ctx, key, "r2", "a-2", createdAt); !errors.Is(err, forward.ErrAssignmentChanged) {
		t.Fatalf("ResolveAssignment of another reservation: %v, want ErrAssignmentChanged", err)
	}
	if err := s.ResolveAssignment(ctx, asgKey(orgA, "c1", asgSec2, "obj"), "r1", "a-1", createdAt); !errors.Is(err, forward.ErrAssignmentChanged) {
		t.Fatalf("ResolveAssignment of a key without a record: %v, want ErrAssignmentChanged", err)
	}
	if err := s.ResolveAssignment(ctx, key, "r1", "a-1", createdAt.Add(500*time.Microsecond)); err != nil {
		t.Fatalf("ResolveAssignment: %v", err)
	}
	if err := s.ResolveAssignment(ctx, key, "r1", "a-3", createdAt); !errors.Is(err, forward.ErrAssignmentChanged) {
		t.Fatalf("second ResolveAssignment: %v, want ErrAssignmentChanged", err)
	}
	resolved := mustGetAsg(t, s, key)
	if resolved.AssignmentID != "a-1" || resolved.Reservation != "r1" || !resolved.CreatedAt.Equal(createdAt) ||
		resolved.CreatedAt.Location() != time.UTC || !resolved.ReservedAt.Equal(base.Add(1234*time.Millisecond)) {
		t.Fatalf("GetAssignment after resolve = %+v", resolved)
	}
	// A resolved record stays the key's: a reservation loses to it.
	if got, won, err := s.ReserveAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "r4", ReservedAt: createdAt}); err != nil || won || got != resolved {
		t.Fatalf("ReserveAssignment over a resolved record = %+v, won %v, %v; want %+v, lost", got, won, err, resolved)
	}
	// Release compares reservation and assignment.
	if err := s.ReleaseAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "r1"}); !errors.Is(err, forward.ErrAssignmentChanged) {
		t.Fatalf("ReleaseAssignment of the reservation once resolved: %v, want ErrAssignmentChanged", err)
	}
	if err := s.ReleaseAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "r9", AssignmentID: "a-1"}); !errors.Is(err, forward.ErrAssignmentChanged) {
		t.Fatalf("ReleaseAssignment naming another reservation: %v, want ErrAssignmentChanged", err)
	}
	if r := mustGetAsg(t, s, key); r != resolved {
		t.Fatalf("a refused release changed the record: %+v", r)
	}
	if err := s.ReleaseAssignment(ctx, resolved); err != nil {
		t.Fatalf("ReleaseAssignment: %v", err)
	}
	if _, err := s.GetAssignment(ctx, key); !errors.Is(err, forward.ErrNoAssignment) {
		t.Fatalf("GetAssignment after release: %v, want ErrNoAssignment", err)
	}
	if err := s.ReleaseAssignment(ctx, resolved); err != nil {
		t.Fatalf("ReleaseAssignment of a key without a record: %v, want nil", err)
	}
	if err := s.ResolveAssignment(ctx, key, "r1", "a-5", createdAt); !errors.Is(err, forward.ErrAssignmentChanged) {
		t.Fatalf("ResolveAssignment after release: %v, want ErrAssignmentChanged", err)
	}
	// The key is free again: a new reservation wins, and an unresolved one
	// is released by its owner (a failed create).
	again := forward.AssignmentRecord{Key: key, Reservation: "r5", ReservedAt: createdAt}
	mustReserveAsg(t, s, again)
	if err := s.ReleaseAssignment(ctx, again); err != nil {
		t.Fatalf("ReleaseAssignment of an unresolved reservation: %v", err)
	}
	if _, err := s.GetAssignment(ctx, key); !errors.Is(err, forward.ErrNoAssignment) {
		t.Fatalf("GetAssignment after releasing a reservation: %v, want ErrNoAssignment", err)
	}
	mustReserveAsg(t, s, forward.AssignmentRecord{Key: key, Reservation: "r6", ReservedAt: createdAt})
	if err := s.ResolveAssignment(ctx, key, "r6", "a-6", createdAt); err != nil {
		t.Fatalf("ResolveAssignment of the key's third reservation: %v", err)
	}
	if r := mustGetAsg(t, s, key); r.Reservation != "r6" || r.AssignmentID != "a-6" {
		t.Fatalf("GetAssignment of the third reservation = %+v", r)
	}
}

func testAsgKeys(t *testing.T, s forward.AssignmentStore) {
	keys := []forward.AssignmentKey{
		asgKey(orgA, "c", asgSec1, "obj"),
		asgKey(orgB, "c", asgSec1, "obj"),
		asgKey(orgA, "c2", asgSec1, "obj"),
		asgKey(orgA, "c", asgSec2, "obj"),
		asgKey(orgA, "c", asgSec1, "obj2"),
		// Parts that run into each other if joined without care.
		asgKey(orgA, "c", asgSec1, "obj/x"),
		asgKey(orgA, "c/"+asgSec1, "", "obj/x"),
		asgKey(orgA, "c", asgSec1+"/obj", "x"),
		asgKey(orgA, "c", asgSec1, "https://example.com/objectives/é?x=1&y=2"),
	}
	for i, k := range keys {
		mustReserveAsg(t, s, forward.AssignmentRecord{Key: k, Reservation: fmt.Sprint("r", i), ReservedAt: base})
	}
	for i, k := range keys {
		if err := s.ResolveAssignment(t.Context(), k, fmt.Sprint("r", i), fmt.Sprint("a", i), base); err != nil {
			t.Fatalf("ResolveAssignment(%v): %v", k, err)
		}
	}
	for i, k := range keys {
		if r := mustGetAsg(t, s, k); r.Key != k || r.AssignmentID != fmt.Sprint("a", i) {
			t.Errorf("GetAssignment(%v) = %+v, want assignment a%d", k, r, i)
		}
	}
}

// testAsgConcurrentReserve: of concurrent reservations (workers of several
// processes: each call is its own request to the server), exactly one
// wins, and every loser is told the winner's record.
func testAsgConcurrentReserve(t *testing.T, s forward.AssignmentStore) {
	for round := range 5 {
		key := asgKey(orgA, "c", asgSec1, fmt.Sprint("race-", round))
		const n = 12
		type answer struct {
			rec forward.AssignmentRecord
			won bool
			err error
		}
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				rec, won, err := s.ReserveAssignment(t.Context(), forward.AssignmentRecord{Key: key, Reservation: fmt.Sprint("w", i), ReservedAt: base})
				answers[i] = answer{rec, won, err}
			})
		}
		wg.Wait()
		winner := ""
		for i, a := range answers {
			if a.err != nil {
				t.Fatalf("round %d: ReserveAssignment of w%d: %v", round, i, a.err)
			}
			if a.won {
				if winner != "" {
					t.Fatalf("round %d: both %s and w%d won the reservation", round, winner, i)
				}
				winner = fmt.Sprint("w", i)
			}
		}
		if winner == "" {
			t.Fatalf("round %d: no reservation won", round)
		}
		for i, a := range answers {
			if a.rec.Reservation != winner {
				t.Errorf("round %d: w%d was told reservation %q, the winner is %s", round, i, a.rec.Reservation, winner)
			}
		}
		if r := mustGetAsg(t, s, key); r.Reservation != winner {
			t.Fatalf("round %d: stored reservation %q, the winner is %s", round, r.Reservation, winner)
		}
	}
}

// testAsgResolveVsTakeover: a slow owner resolving its reservation while
// another worker takes the reservation over (release it, reserve anew).
// Either the resolve lands first (and the takeover's release fails) or the
// takeover does (and the resolve fails): never both, so the key never ends
// with the takeover's reservation while the slow owner believes its
// assignment recorded.
func testAsgResolveVsTakeover(t *testing.T, s forward.AssignmentStore) {
	resolvedFirst, tookOver := 0, 0
	for round := range 30 {
		key := asgKey(orgA, "c", asgSec1, fmt.Sprint("takeover-", round))
		stale := forward.AssignmentRecord{Key: key, Reservation: "slow", ReservedAt: base}
		mustReserveAsg(t, s, stale)
		var resolveErr, releaseErr, reserveErr error
		var reserveWon bool
		var wg sync.WaitGroup
		wg.Go(func() { resolveErr = s.ResolveAssignment(t.Context(), key, "slow", "a-slow", base.Add(time.Minute)) })
		wg.Go(func() {
			if releaseErr = s.ReleaseAssignment(t.Context(), stale); releaseErr == nil {
				_, reserveWon, reserveErr = s.ReserveAssignment(t.Context(), forward.AssignmentRecord{Key: key, Reservation: "new", ReservedAt: base.Add(time.Minute)})
			}
		})
		wg.Wait()
		if reserveErr != nil {
			t.Fatalf("round %d: ReserveAssignment after the takeover: %v", round, reserveErr)
		}
		got := mustGetAsg(t, s, key)
		switch {
		case resolveErr == nil && errors.Is(releaseErr, forward.ErrAssignmentChanged):
			resolvedFirst++
			if got.Reservation != "slow" || got.AssignmentID != "a-slow" {
				t.Fatalf("round %d: the resolve won but the record is %+v", round, got)
			}
		case errors.Is(resolveErr, forward.ErrAssignmentChanged) && releaseErr == nil:
			tookOver++
			if !reserveWon || got.Reservation != "new" || got.AssignmentID != "" {
				t.Fatalf("round %d: the takeover won (reserve won %v) but the record is %+v", round, reserveWon, got)
			}
		default:
			t.Fatalf("round %d: resolve %v, release %v: exactly one of them must succeed (record %+v)", round, resolveErr, releaseErr, got)
		}
	}
	t.Logf("resolve first %d times, takeover first %d times", resolvedFirst, tookOver)
}

// testAsgConcurrentTakeovers: several workers find the same stale
// reservation and each releases it and reserves anew. Exactly one new
// reservation wins; a late release of the stale record never removes the
// winner's.
func testAsgConcurrentTakeovers(t *testing.T, s forward.AssignmentStore) {
	for round := range 10 {
		key := asgKey(orgA, "c", asgSec2, fmt.Sprint("takeovers-", round))
		stale := forward.AssignmentRecord{Key: key, Reservation: "dead", ReservedAt: base}
		mustReserveAsg(t, s, stale)
		const n = 6
		won := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := s.ReleaseAssignment(t.Context(), stale); err != nil && !errors.Is(err, forward.ErrAssignmentChanged) {
					errs[i] = err
					return
				}
				_, won[i], errs[i] = s.ReserveAssignment(t.Context(), forward.AssignmentRecord{Key: key, Reservation: fmt.Sprint("w", i), ReservedAt: base.Add(time.Minute)})
			})
		}
		wg.Wait()
		winner := ""
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: w%d: %v", round, i, errs[i])
			}
			if won[i] {
				if winner != "" {
					t.Fatalf("round %d: both %s and w%d won a reservation", round, winner, i)
				}
				winner = fmt.Sprint("w", i)
			}
		}
		if got := mustGetAsg(t, s, key); winner == "" || got.Reservation != winner {
			t.Fatalf("round %d: winner %q, stored record %+v", round, winner, got)
		}
	}
}

func testAsgDeleteConfiguration(t *testing.T, s forward.AssignmentStore) {
	ctx := t.Context()
	gone := []forward.AssignmentKey{asgKey(orgA, "c1", asgSec1, "o1"), asgKey(orgA, "c1", asgSec2, "o1"), asgKey(orgA, "c1", asgSec1, "o2")}
	kept := []forward.AssignmentKey{asgKey(orgA, "c10", asgSec1, "o1"), asgKey(orgA, "c", asgSec1, "o1"), asgKey(orgB, "c1", asgSec1, "o1")}
	for i, k := range append(append([]forward.AssignmentKey{}, gone...), kept...) {
		mustReserveAsg(t, s, forward.AssignmentRecord{Key: k, Reservation: fmt.Sprint("r", i), ReservedAt: base})
		if i%2 == 0 { // resolved and unresolved ones alike
			if err := s.ResolveAssignment(ctx, k, fmt.Sprint("r", i), "a", base); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.DeleteAssignments(ctx, orgA, "c1"); err != nil {
		t.Fatalf("DeleteAssignments: %v", err)
	}
	for _, k := range gone {
		if _, err := s.GetAssignment(ctx, k); !errors.Is(err, forward.ErrNoAssignment) {
			t.Errorf("GetAssignment(%v) after DeleteAssignments: %v, want ErrNoAssignment", k, err)
		}
	}
	for _, k := range kept {
		mustGetAsg(t, s, k)
	}
	// The keys are free again, and a late resolve of a deleted
	// reservation fails.
	if err := s.ResolveAssignment(ctx, gone[1], "r1", "late", base); !errors.Is(err, forward.ErrAssignmentChanged) {
		t.Errorf("ResolveAssignment of a deleted reservation: %v, want ErrAssignmentChanged", err)
	}
	mustReserveAsg(t, s, forward.AssignmentRecord{Key: gone[0], Reservation: "again", ReservedAt: base})
	if err := s.DeleteAssignments(ctx, orgA, "none"); err != nil {
		t.Errorf("DeleteAssignments of a configuration without records: %v", err)
	}
}

// BenchAssignments measures the store's part of a grade: the Get of a
// resolved key (every grade), and a create's reserve and resolve (once per
// section and objective).
func BenchAssignments(b *testing.B, s forward.AssignmentStore) {
	b.Run("Get", func(b *testing.B) {
		key := asgKey(orgA, "bench", asgSec1, "get")
		if _, _, err := s.ReserveAssignment(b.Context(), forward.AssignmentRecord{Key: key, Reservation: "r", ReservedAt: base}); err != nil {
			b.Fatal(err)
		}
		if err := s.ResolveAssignment(b.Context(), key, "r", "a", base); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.GetAssignment(b.Context(), key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReserveResolve", func(b *testing.B) {
		i := 0
		for b.Loop() {
			key := asgKey(orgA, "bench", asgSec2, fmt.Sprint("create-", i))
			i++
			if _, won, err := s.ReserveAssignment(b.Context(), forward.AssignmentRecord{Key: key, Reservation: "r", ReservedAt: base}); err != nil || !won {
				b.Fatal(won, err)
			}
			if err := s.ResolveAssignment(b.Context(), key, "r", "a", base); err != nil {
				b.Fatal(err)
			}
		}
	})
}
