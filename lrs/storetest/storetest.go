// Package storetest is the storage conformance suite: every engine runs it
// from its own tests, so that all engines keep the contracts of lrs/store.go
// and auth.CredentialStore the same way.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store {
//			s, err := Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

// Store is every persistence contract an engine implements.
type Store interface {
	lrs.Store
	auth.CredentialStore
}

// Run runs the whole suite; open returns a new, empty store (the caller
// closes it with t.Cleanup). Every subtest opens its own store.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	o := opener(open)
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, o) })
	t.Run("InsertGet", func(t *testing.T) { testInsertGet(t, o) })
	t.Run("Conflict", func(t *testing.T) { testConflict(t, o) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, o) })
	t.Run("OrgIsolation", func(t *testing.T) { testOrgIsolation(t, o) })
	t.Run("Query", func(t *testing.T) { testQuery(t, o) })
	t.Run("SetVoided", func(t *testing.T) { testSetVoided(t, o) })
	t.Run("AddTerms", func(t *testing.T) { testAddTerms(t, o) })
	t.Run("Referrers", func(t *testing.T) { testReferrers(t, o) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, o) })
	t.Run("Context", func(t *testing.T) { testContext(t, o) })
}

type opener func(t *testing.T) Store

// leaf runs fn as a subtest on a fresh store.
func (o opener) leaf(t *testing.T, name string, fn func(t *testing.T, s Store)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		s := o(t)
		if s == nil {
			t.Fatal("open returned a nil Store")
		}
		fn(t, s)
	})
}

const (
	orgA = "org-a"
	orgB = "org-b"
)

// base is the first stored time the suite uses.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns base plus ms milliseconds.
func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

func newID() string { return uuid.NewString() }

// rec builds a record stored at base+ms with a fresh id, TermAll and terms.
func rec(ms int, terms ...string) lrs.StatementRecord {
	id := newID()
	return lrs.StatementRecord{
		ID:     id,
		Stored: at(ms),
		Raw:    rawFor(id, ms, ""),
		Terms:  append([]string{lrs.TermAll}, terms...),
	}
}

// refRec builds a record that targets target by StatementRef.
func refRec(ms int, target string, terms ...string) lrs.StatementRecord {
	r := rec(ms, terms...)
	r.RefTarget = target
	return r
}

func rawFor(id string, ms int, extra string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"stored":%q,"verb":{"id":"http://example.com/verbs/tested"},"x":%q}`,
		id, at(ms).Format(time.RFC3339Nano), extra)
}

// ---------------------------------------------------------------------------
// helpers

func mustInsert(t *testing.T, s Store, org string, recs ...lrs.StatementRecord) {
	t.Helper()
	if err := s.InsertStatements(t.Context(), org, recs); err != nil {
		t.Fatalf("InsertStatements(%q, %d records): %v", org, len(recs), err)
	}
}

func mustGet(t *testing.T, s Store, org string, ids ...string) map[string]lrs.StatementRecord {
	t.Helper()
	got, err := s.GetStatements(t.Context(), org, ids)
	if err != nil {
		t.Fatalf("GetStatements(%q, %d ids): %v", org, len(ids), err)
	}
	return got
}

// mustGetOne returns the record id, failing if it is absent.
func mustGetOne(t *testing.T, s Store, org, id string) lrs.StatementRecord {
	t.Helper()
	got := mustGet(t, s, org, id)
	r, ok := got[id]
	if !ok {
		t.Fatalf("GetStatements(%q, [%s]): id absent from the result", org, id)
	}
	if len(got) != 1 {
		t.Fatalf("GetStatements(%q, [%s]) returned %d records, want 1: %v", org, id, len(got), mapKeys(got))
	}
	return r
}

func mustQuery(t *testing.T, s Store, org string, q lrs.StatementQuery) []lrs.StatementRecord {
	t.Helper()
	got, err := s.QueryStatements(t.Context(), org, q)
	if err != nil {
		t.Fatalf("QueryStatements(%q, %s): %v", org, fmtQuery(q), err)
	}
	return got
}

func fmtQuery(q lrs.StatementQuery) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Terms:%q", q.Terms)
	if !q.Since.IsZero() {
		fmt.Fprintf(&b, " Since:%s", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		fmt.Fprintf(&b, " Until:%s", q.Until.Format(time.RFC3339Nano))
	}
	if q.After != nil {
		fmt.Fprintf(&b, " After:(%s,%s)", q.After.Stored.Format(time.RFC3339Nano), q.After.ID)
	}
	fmt.Fprintf(&b, " Ascending:%v Limit:%d}", q.Ascending, q.Limit)
	return b.String()
}

func ids(recs []lrs.StatementRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func mapKeys(m map[string]lrs.StatementRecord) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sorted returns a copy of recs in (Stored, ID) order, ascending or not.
func sorted(recs []lrs.StatementRecord, ascending bool) []lrs.StatementRecord {
	out := slices.Clone(recs)
	less := func(a, b lrs.StatementRecord) bool {
		return a.Stored.Before(b.Stored) || (a.Stored.Equal(b.Stored) && a.ID < b.ID)
	}
	sort.Slice(out, func(i, j int) bool {
		if ascending {
			return less(out[i], out[j])
		}
		return less(out[j], out[i])
	})
	return out
}

func cursorOf(r lrs.StatementRecord) *lrs.Cursor {
	return &lrs.Cursor{Stored: r.Stored, ID: r.ID}
}

// termSet returns the distinct terms, sorted.
func termSet(terms []string) []string {
	out := slices.Clone(terms)
	sort.Strings(out)
	return slices.Compact(out)
}

// checkRecord compares got with want field by field.
func checkRecord(t *testing.T, what string, got, want lrs.StatementRecord) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("%s: ID = %q, want %q", what, got.ID, want.ID)
	}
	if !got.Stored.Equal(want.Stored) {
		t.Errorf("%s: Stored = %s, want %s", what, got.Stored.Format(time.RFC3339Nano), want.Stored.Format(time.RFC3339Nano))
	}
	if got.Stored.Location() != time.UTC {
		t.Errorf("%s: Stored location = %v, want UTC", what, got.Stored.Location())
	}
	if !got.Stored.Equal(got.Stored.Truncate(time.Millisecond)) {
		t.Errorf("%s: Stored = %s has sub-millisecond precision", what, got.Stored.Format(time.RFC3339Nano))
	}
	if !bytes.Equal(got.Raw, want.Raw) {
		t.Errorf("%s: Raw =\n\t%s\nwant\n\t%s", what, got.Raw, want.Raw)
	}
	if g, w := termSet(got.Terms), termSet(want.Terms); !slices.Equal(g, w) {
		t.Errorf("%s: Terms (as a set) = %q, want %q", what, g, w)
	}
	if got.Voided != want.Voided {
		t.Errorf("%s: Voided = %v, want %v", what, got.Voided, want.Voided)
	}
	if got.RefTarget != want.RefTarget {
		t.Errorf("%s: RefTarget = %q, want %q", what, got.RefTarget, want.RefTarget)
	}
}

// checkOrder compares the ids of got with want, in order, and each record.
func checkOrder(t *testing.T, what string, got, want []lrs.StatementRecord) {
	t.Helper()
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("%s: got %d records\n\t%s\nwant %d\n\t%s", what, len(got), fmtRecs(got), len(want), fmtRecs(want))
	}
	for i := range got {
		checkRecord(t, fmt.Sprintf("%s: record %d", what, i), got[i], want[i])
	}
}

func fmtRecs(recs []lrs.StatementRecord) string {
	parts := make([]string, len(recs))
	for i, r := range recs {
		parts[i] = fmt.Sprintf("(%s %s)", r.Stored.Format("15:04:05.000"), r.ID)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func checkCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := lrs.ErrorCode(err); got != code {
		t.Errorf("%s: error = %v (code %q), want code %q", what, err, got, code)
	}
}

// ---------------------------------------------------------------------------
// subtests

func testLifecycle(t *testing.T, o opener) {
	o.leaf(t, "Ping", func(t *testing.T, s Store) {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping on an open store: %v", err)
		}
	})
	o.leaf(t, "EmptyStore", func(t *testing.T, s Store) {
		got := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 10})
		if len(got) != 0 {
			t.Errorf("QueryStatements on a new store returned %d records, want 0", len(got))
		}
		n, err := s.CountCredentials(t.Context())
		if err != nil {
			t.Fatalf("CountCredentials: %v", err)
		}
		if n != 0 {
			t.Errorf("CountCredentials on a new store = %d, want 0", n)
		}
	})
	o.leaf(t, "CloseIdempotent", func(t *testing.T, s Store) {
		if err := s.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v (Close must be idempotent)", err)
		}
	})
}

func testInsertGet(t *testing.T, o opener) {
	o.leaf(t, "RoundTrip", func(t *testing.T, s Store) {
		target := rec(1, "v:x")
		plain := rec(2, "v:x", "o:y", "a:z")
		ref := refRec(3, target.ID, "v:voided")
		mustInsert(t, s, orgA, target, plain, ref)
		missing := newID()
		got := mustGet(t, s, orgA, target.ID, plain.ID, ref.ID, missing)
		if len(got) != 3 {
			t.Errorf("GetStatements returned %d records %v, want 3", len(got), mapKeys(got))
		}
		for _, want := range []lrs.StatementRecord{target, plain, ref} {
			r, ok := got[want.ID]
			if !ok {
				t.Errorf("GetStatements: inserted id %s absent", want.ID)
				continue
			}
			checkRecord(t, "GetStatements["+want.ID+"]", r, want)
		}
		if r, ok := got[missing]; ok {
			t.Errorf("GetStatements: missing id %s present in the map: %+v", missing, r)
		}
	})
	o.leaf(t, "SeparateCalls", func(t *testing.T, s Store) {
		a, b := rec(1), rec(2)
		mustInsert(t, s, orgA, a)
		mustInsert(t, s, orgA, b)
		checkRecord(t, "first insert", mustGetOne(t, s, orgA, a.ID), a)
		checkRecord(t, "second insert", mustGetOne(t, s, orgA, b.ID), b)
	})
	o.leaf(t, "EmptyIDList", func(t *testing.T, s Store) {
		mustInsert(t, s, orgA, rec(1))
		for _, in := range [][]string{nil, {}} {
			got := mustGet(t, s, orgA, in...)
			if len(got) != 0 {
				t.Errorf("GetStatements(%#v) returned %d records, want 0", in, len(got))
			}
		}
	})
	o.leaf(t, "OnlyMissingIDs", func(t *testing.T, s Store) {
		mustInsert(t, s, orgA, rec(1))
		got := mustGet(t, s, orgA, newID(), newID())
		if len(got) != 0 {
			t.Errorf("GetStatements of unknown ids returned %v, want none", mapKeys(got))
		}
	})
	o.leaf(t, "NoAliasing", func(t *testing.T, s Store) {
		r := rec(1, "v:x")
		want := r
		want.Raw = slices.Clone(r.Raw)
		want.Terms = slices.Clone(r.Terms)
		mustInsert(t, s, orgA, r)
		// The caller owns its slices after the call returns.
		for i := range r.Raw {
			r.Raw[i] = 'X'
		}
		for i := range r.Terms {
			r.Terms[i] = "clobbered"
		}
		got := mustGetOne(t, s, orgA, r.ID)
		checkRecord(t, "after the caller reused its input slices", got, want)
		// And it owns the slices it is handed back.
		for i := range got.Raw {
			got.Raw[i] = 'Y'
		}
		for i := range got.Terms {
			got.Terms[i] = "clobbered"
		}
		checkRecord(t, "after the caller modified a returned record", mustGetOne(t, s, orgA, r.ID), want)
		q := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{"v:x"}, Limit: 10})
		checkOrder(t, "query after modifications", q, []lrs.StatementRecord{want})
	})
}

func testConflict(t *testing.T, o opener) {
	o.leaf(t, "ExistingID", func(t *testing.T, s Store) {
		orig := rec(1, "v:orig")
		mustInsert(t, s, orgA, orig)
		dup := orig
		dup.Stored = at(2)
		dup.Raw = rawFor(orig.ID, 2, "different")
		dup.Terms = []string{lrs.TermAll, "v:dup"}
		dup.RefTarget = newID()
		err := s.InsertStatements(t.Context(), orgA, []lrs.StatementRecord{dup})
		if err == nil {
			t.Fatalf("InsertStatements with an existing id returned nil, want ECONFLICT")
		}
		checkCode(t, "InsertStatements with an existing id", err, lrs.ECONFLICT)
		if !strings.Contains(err.Error(), orig.ID) {
			t.Errorf("ECONFLICT error %q does not name the id %s", err, orig.ID)
		}
		checkRecord(t, "existing record after the conflict", mustGetOne(t, s, orgA, orig.ID), orig)
		if got := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{"v:dup"}, Limit: 10}); len(got) != 0 {
			t.Errorf("query on the rejected record's term returned %s, want none", fmtRecs(got))
		}
	})
	o.leaf(t, "ExistingIDInBatch", func(t *testing.T, s Store) {
		orig := rec(1)
		mustInsert(t, s, orgA, orig)
		dup := orig
		dup.Raw = rawFor(orig.ID, 1, "different")
		free1, free2 := rec(2), rec(3)
		err := s.InsertStatements(t.Context(), orgA, []lrs.StatementRecord{free1, dup, free2})
		checkCode(t, "InsertStatements of a batch holding an existing id", err, lrs.ECONFLICT)
		if err != nil && !strings.Contains(err.Error(), orig.ID) {
			t.Errorf("ECONFLICT error %q does not name the id %s", err, orig.ID)
		}
		checkRecord(t, "existing record after the conflicting batch", mustGetOne(t, s, orgA, orig.ID), orig)
		// Free ids of the batch may or may not be stored; when they are,
		// they must be intact.
		got := mustGet(t, s, orgA, free1.ID, free2.ID)
		for _, w := range []lrs.StatementRecord{free1, free2} {
			if r, ok := got[w.ID]; ok {
				checkRecord(t, "free record of the conflicting batch", r, w)
			}
		}
	})
	o.leaf(t, "AssignedIDs", func(t *testing.T, s Store) {
		// Records whose ids the LRS generated are stored like any other,
		// and a client's later insert of such an id still conflicts.
		var recs []lrs.StatementRecord
		for i := range 20 {
			r := rec(i, "v:assigned")
			r.Assigned = true
			recs = append(recs, r)
		}
		mustInsert(t, s, orgA, recs...)
		for _, r := range recs {
			checkRecord(t, "assigned-id record", mustGetOne(t, s, orgA, r.ID), r)
		}
		got := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{"v:assigned"}, Ascending: true, Limit: 100})
		checkOrder(t, "query of assigned-id records", got, recs)
		dup := rec(30, "v:dup")
		dup.ID = recs[7].ID
		err := s.InsertStatements(t.Context(), orgA, []lrs.StatementRecord{dup})
		checkCode(t, "InsertStatements of a client id equal to an assigned one", err, lrs.ECONFLICT)
		checkRecord(t, "assigned-id record after the conflict", mustGetOne(t, s, orgA, recs[7].ID), recs[7])
	})
	o.leaf(t, "VoidedStillConflicts", func(t *testing.T, s Store) {
		orig := rec(1)
		mustInsert(t, s, orgA, orig)
		if err := s.SetVoided(t.Context(), orgA, orig.ID); err != nil {
			t.Fatalf("SetVoided: %v", err)
		}
		dup := rec(2)
		dup.ID = orig.ID
		err := s.InsertStatements(t.Context(), orgA, []lrs.StatementRecord{dup})
		checkCode(t, "InsertStatements over a voided record", err, lrs.ECONFLICT)
		want := orig
		want.Voided = true
		checkRecord(t, "voided record after the conflict", mustGetOne(t, s, orgA, orig.ID), want)
	})
}

func testConcurrency(t *testing.T, o opener) {
	o.leaf(t, "SameID", func(t *testing.T, s Store) {
		const n = 16
		id := newID()
		recs := make([]lrs.StatementRecord, n)
		for i := range recs {
			recs[i] = lrs.StatementRecord{
				ID:     id,
				Stored: at(i),
				Raw:    rawFor(id, i, fmt.Sprintf("writer %d", i)),
				Terms:  []string{lrs.TermAll, fmt.Sprintf("w:%d", i)},
			}
		}
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.InsertStatements(context.Background(), orgA, []lrs.StatementRecord{recs[i]})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both succeeded inserting id %s", winner, i, id)
			case err == nil:
				winner = i
			default:
				checkCode(t, fmt.Sprintf("writer %d", i), err, lrs.ECONFLICT)
			}
		}
		if winner < 0 {
			t.Fatalf("none of %d concurrent writers of id %s succeeded; errors: %v", n, id, errs)
		}
		checkRecord(t, fmt.Sprintf("record after concurrent inserts (winner %d)", winner), mustGetOne(t, s, orgA, id), recs[winner])
		got := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 100})
		checkOrder(t, "query after concurrent inserts", got, recs[winner:winner+1])
	})
	o.leaf(t, "DisjointBatches", func(t *testing.T, s Store) {
		const writers, per = 8, 50
		batches := make([][]lrs.StatementRecord, writers)
		var all []lrs.StatementRecord
		for w := range batches {
			for i := range per {
				batches[w] = append(batches[w], rec(w*per+i, fmt.Sprintf("w:%d", w)))
			}
			all = append(all, batches[w]...)
		}
		errs := make([]error, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				errs[w] = s.InsertStatements(context.Background(), orgA, batches[w])
			})
		}
		close(start)
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Errorf("writer %d: InsertStatements: %v", w, err)
			}
		}
		allIDs := ids(all)
		got := mustGet(t, s, orgA, allIDs...)
		if len(got) != len(all) {
			t.Errorf("GetStatements returned %d of %d records", len(got), len(all))
		}
		for _, w := range all {
			if r, ok := got[w.ID]; !ok {
				t.Errorf("record %s missing after concurrent batches", w.ID)
			} else {
				checkRecord(t, "record "+w.ID, r, w)
			}
		}
		q := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: writers*per + 10})
		checkOrder(t, "query of all records after concurrent batches", q, sorted(all, false))
		q = mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{"w:3"}, Limit: writers*per + 10, Ascending: true})
		checkOrder(t, "query of one writer's records", q, sorted(batches[3], true))
	})
}

func testOrgIsolation(t *testing.T, o opener) {
	o.leaf(t, "SameID", func(t *testing.T, s Store) {
		a := rec(1, "v:a")
		b := a
		b.Stored = at(2)
		b.Raw = rawFor(a.ID, 2, "org b")
		b.Terms = []string{lrs.TermAll, "v:b"}
		mustInsert(t, s, orgA, a)
		mustInsert(t, s, orgB, b) // must not conflict with org A
		checkRecord(t, "org A record", mustGetOne(t, s, orgA, a.ID), a)
		checkRecord(t, "org B record", mustGetOne(t, s, orgB, a.ID), b)
		if got := mustGet(t, s, "org-c", a.ID); len(got) != 0 {
			t.Errorf("GetStatements in a third org returned %v, want none", mapKeys(got))
		}
	})
	o.leaf(t, "Query", func(t *testing.T, s Store) {
		a1, a2 := rec(1, "v:x"), rec(3, "v:x")
		b1 := rec(2, "v:x")
		mustInsert(t, s, orgA, a1, a2)
		mustInsert(t, s, orgB, b1)
		q := lrs.StatementQuery{Terms: []string{"v:x"}, Limit: 10}
		checkOrder(t, "org A query", mustQuery(t, s, orgA, q), []lrs.StatementRecord{a2, a1})
		checkOrder(t, "org B query", mustQuery(t, s, orgB, q), []lrs.StatementRecord{b1})
		q.Terms = []string{lrs.TermAll}
		q.Ascending = true
		checkOrder(t, "org A query all", mustQuery(t, s, orgA, q), []lrs.StatementRecord{a1, a2})
		if got := mustQuery(t, s, "org-c", q); len(got) != 0 {
			t.Errorf("query in a third org returned %s, want none", fmtRecs(got))
		}
	})
	o.leaf(t, "SetVoided", func(t *testing.T, s Store) {
		a := rec(1)
		b := a
		b.Raw = rawFor(a.ID, 1, "org b")
		onlyB := rec(2)
		mustInsert(t, s, orgA, a)
		mustInsert(t, s, orgB, b, onlyB)
		if err := s.SetVoided(t.Context(), orgA, a.ID); err != nil {
			t.Fatalf("SetVoided in org A: %v", err)
		}
		checkRecord(t, "org B record after voiding in org A", mustGetOne(t, s, orgB, a.ID), b)
		checkOrder(t, "org B query after voiding in org A",
			mustQuery(t, s, orgB, lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 10, Ascending: true}),
			[]lrs.StatementRecord{b, onlyB})
		checkCode(t, "SetVoided in org A of an id only in org B", s.SetVoided(t.Context(), orgA, onlyB.ID), lrs.ENOTFOUND)
		checkRecord(t, "org B record after the failed SetVoided", mustGetOne(t, s, orgB, onlyB.ID), onlyB)
	})
	o.leaf(t, "AddTerms", func(t *testing.T, s Store) {
		a := rec(1)
		b := a
		b.Raw = rawFor(a.ID, 1, "org b")
		onlyB := rec(2)
		mustInsert(t, s, orgA, a)
		mustInsert(t, s, orgB, b, onlyB)
		if err := s.AddTerms(t.Context(), orgA, a.ID, []string{"v:new"}); err != nil {
			t.Fatalf("AddTerms in org A: %v", err)
		}
		checkRecord(t, "org B record after AddTerms in org A", mustGetOne(t, s, orgB, a.ID), b)
		if got := mustQuery(t, s, orgB, lrs.StatementQuery{Terms: []string{"v:new"}, Limit: 10}); len(got) != 0 {
			t.Errorf("org B query on a term added in org A returned %s, want none", fmtRecs(got))
		}
		checkCode(t, "AddTerms in org A of an id only in org B",
			s.AddTerms(t.Context(), orgA, onlyB.ID, []string{"v:new"}), lrs.ENOTFOUND)
		checkRecord(t, "org B record after the failed AddTerms", mustGetOne(t, s, orgB, onlyB.ID), onlyB)
	})
	o.leaf(t, "Referrers", func(t *testing.T, s Store) {
		target := newID()
		ra := refRec(1, target)
		rb := refRec(2, target)
		mustInsert(t, s, orgA, ra)
		mustInsert(t, s, orgB, rb)
		checkIDSet(t, "org A Referrers", mustReferrers(t, s, orgA, target), []string{ra.ID})
		checkIDSet(t, "org B Referrers", mustReferrers(t, s, orgB, target), []string{rb.ID})
		checkIDSet(t, "third org Referrers", mustReferrers(t, s, "org-c", target), nil)
	})
}

func testQuery(t *testing.T, o opener) {
	o.leaf(t, "Terms", func(t *testing.T, s Store) {
		vx := rec(1, "v:x")
		vxoy := rec(2, "v:x", "o:y")
		oy := rec(3, "o:y")
		none := rec(4)
		mustInsert(t, s, orgA, vx, vxoy, oy, none)
		for _, tc := range []struct {
			terms []string
			want  []lrs.StatementRecord
		}{
			{[]string{"v:x"}, []lrs.StatementRecord{vxoy, vx}},
			{[]string{"o:y"}, []lrs.StatementRecord{oy, vxoy}},
			{[]string{"v:x", "o:y"}, []lrs.StatementRecord{vxoy}},
			{[]string{"o:y", "v:x"}, []lrs.StatementRecord{vxoy}},
			{[]string{lrs.TermAll}, []lrs.StatementRecord{none, oy, vxoy, vx}},
			{[]string{lrs.TermAll, "v:x"}, []lrs.StatementRecord{vxoy, vx}},
			{[]string{"v:nope"}, nil},
			{[]string{"v:x", "v:nope"}, nil},
			{[]string{"v:"}, nil}, // a prefix of a term is not the term
		} {
			q := lrs.StatementQuery{Terms: tc.terms, Limit: 10}
			checkOrder(t, "QueryStatements "+fmtQuery(q), mustQuery(t, s, orgA, q), tc.want)
		}
	})
	o.leaf(t, "Order", func(t *testing.T, s Store) {
		// Several records share each stored time, so ties must be broken by ID.
		var all []lrs.StatementRecord
		for i := range 12 {
			all = append(all, rec(i/4))
		}
		// Insert in an order that is neither ascending nor descending.
		shuffled := slices.Clone(all)
		for i := range shuffled {
			j := (i * 7) % len(shuffled)
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		}
		for _, r := range shuffled {
			mustInsert(t, s, orgA, r)
		}
		q := lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 100}
		checkOrder(t, "default (descending) order", mustQuery(t, s, orgA, q), sorted(all, false))
		q.Ascending = true
		checkOrder(t, "ascending order", mustQuery(t, s, orgA, q), sorted(all, true))
	})
	o.leaf(t, "SinceUntil", func(t *testing.T, s Store) {
		var all []lrs.StatementRecord
		for i := range 10 {
			all = append(all, rec(i*10))
		}
		mustInsert(t, s, orgA, all...)
		asc := sorted(all, true)
		for _, tc := range []struct {
			name         string
			since, until time.Time
			want         []lrs.StatementRecord // ascending
		}{
			{"unbounded", time.Time{}, time.Time{}, asc},
			{"since exclusive", at(20), time.Time{}, asc[3:]},
			{"since between records", at(25), time.Time{}, asc[3:]},
			{"until inclusive", time.Time{}, at(50), asc[:6]},
			{"until between records", time.Time{}, at(55), asc[:6]},
			{"since and until", at(20), at(50), asc[3:6]},
			{"since 1ms before a record", at(29), at(30), asc[3:4]},
			{"since equals until", at(30), at(30), nil},
			{"since after until", at(50), at(20), nil},
			{"before everything", time.Time{}, at(-1), nil},
			{"after everything", at(90), time.Time{}, nil},
		} {
			q := lrs.StatementQuery{Terms: []string{lrs.TermAll}, Since: tc.since, Until: tc.until, Limit: 100, Ascending: true}
			checkOrder(t, tc.name+" ascending "+fmtQuery(q), mustQuery(t, s, orgA, q), tc.want)
			q.Ascending = false
			checkOrder(t, tc.name+" descending "+fmtQuery(q), mustQuery(t, s, orgA, q), sorted(tc.want, false))
		}
	})
	o.leaf(t, "Limit", func(t *testing.T, s Store) {
		var all []lrs.StatementRecord
		for i := range 10 {
			all = append(all, rec(i, "v:x"))
		}
		mustInsert(t, s, orgA, all...)
		for _, limit := range []int{1, 3, 10, 11} {
			n := min(limit, len(all))
			q := lrs.StatementQuery{Terms: []string{"v:x"}, Limit: limit}
			checkOrder(t, "descending "+fmtQuery(q), mustQuery(t, s, orgA, q), sorted(all, false)[:n])
			q.Ascending = true
			checkOrder(t, "ascending "+fmtQuery(q), mustQuery(t, s, orgA, q), sorted(all, true)[:n])
		}
		q := lrs.StatementQuery{Terms: []string{"v:x"}, Since: at(2), Until: at(8), Limit: 2, Ascending: true}
		checkOrder(t, "limit with a time window "+fmtQuery(q), mustQuery(t, s, orgA, q), sorted(all, true)[3:5])
	})
	o.leaf(t, "LargePage", func(t *testing.T, s Store) {
		// A page larger than what an engine may get back in one piece
		// (MongoDB's 16 MiB batch) is still whole.
		var all []lrs.StatementRecord
		for i := range 12 {
			r := rec(i, "v:big")
			r.Raw = rawFor(r.ID, i, strings.Repeat("x", 1536<<10))
			all = append(all, r)
		}
		for _, r := range all {
			mustInsert(t, s, orgA, r)
		}
		q := lrs.StatementQuery{Terms: []string{"v:big"}, Limit: 20}
		got := mustQuery(t, s, orgA, q)
		if len(got) != len(all) {
			t.Fatalf("%s: %d records of 1.5 MiB, want %d", fmtQuery(q), len(got), len(all))
		}
		checkOrder(t, "a page of 18 MiB "+fmtQuery(q), got, sorted(all, false))
	})
	o.leaf(t, "Paging", func(t *testing.T, s Store) {
		var all []lrs.StatementRecord
		for i := range 25 {
			all = append(all, rec(i/3, "v:x")) // ties of three
		}
		mustInsert(t, s, orgA, all...)
		for _, ascending := range []bool{false, true} {
			want := sorted(all, ascending)
			var got []lrs.StatementRecord
			q := lrs.StatementQuery{Terms: []string{"v:x"}, Ascending: ascending, Limit: 7}
			for page := 0; ; page++ {
				if page > 10 {
					t.Fatalf("ascending=%v: paging did not end after %d pages", ascending, page)
				}
				recs := mustQuery(t, s, orgA, q)
				if len(recs) > q.Limit {
					t.Fatalf("ascending=%v page %d: %d records, over the limit %d", ascending, page, len(recs), q.Limit)
				}
				if len(recs) == 0 {
					break
				}
				got = append(got, recs...)
				q.After = cursorOf(recs[len(recs)-1])
			}
			checkOrder(t, fmt.Sprintf("ascending=%v: all pages of 7", ascending), got, want)
		}
	})
	o.leaf(t, "CursorPositions", func(t *testing.T, s Store) {
		var all []lrs.StatementRecord
		for i := range 9 {
			all = append(all, rec(i/3))
		}
		mustInsert(t, s, orgA, all...)
		asc := sorted(all, true)
		desc := sorted(all, false)
		q := lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 100}
		// A cursor in the middle of a tie.
		q.Ascending = true
		q.After = cursorOf(asc[4])
		checkOrder(t, "ascending after the middle of a tie", mustQuery(t, s, orgA, q), asc[5:])
		q.Ascending = false
		q.After = cursorOf(desc[4])
		checkOrder(t, "descending after the middle of a tie", mustQuery(t, s, orgA, q), desc[5:])
		// A cursor naming no record: only its position counts.
		q.Ascending = true
		q.After = &lrs.Cursor{Stored: at(1), ID: ""}
		checkOrder(t, "ascending after (1ms, \"\")", mustQuery(t, s, orgA, q), asc[3:])
		q.Ascending = false
		q.After = &lrs.Cursor{Stored: at(1), ID: "~"} // sorts after every lower-case UUID
		checkOrder(t, "descending after (1ms, \"~\")", mustQuery(t, s, orgA, q), desc[3:])
		// The cursor combines with Since and Until.
		q.Ascending = true
		q.After = cursorOf(asc[1])
		q.Until = at(1)
		checkOrder(t, "ascending after a cursor, until 1ms", mustQuery(t, s, orgA, q), asc[2:6])
		q.Ascending = false
		q.After = cursorOf(desc[1])
		q.Until = time.Time{}
		q.Since = at(0)
		checkOrder(t, "descending after a cursor, since 0ms", mustQuery(t, s, orgA, q), desc[2:6])
		// A cursor past the last record.
		q = lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 100, Ascending: true, After: cursorOf(asc[8])}
		if got := mustQuery(t, s, orgA, q); len(got) != 0 {
			t.Errorf("ascending after the last record returned %s, want none", fmtRecs(got))
		}
	})
	o.leaf(t, "CursorOnVoidedRecord", func(t *testing.T, s Store) {
		var all []lrs.StatementRecord
		for i := range 6 {
			all = append(all, rec(i))
		}
		mustInsert(t, s, orgA, all...)
		asc := sorted(all, true)
		q := lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 3, Ascending: true}
		first := mustQuery(t, s, orgA, q)
		checkOrder(t, "first page", first, asc[:3])
		// The last record of the page is voided before the next page.
		if err := s.SetVoided(t.Context(), orgA, first[2].ID); err != nil {
			t.Fatalf("SetVoided: %v", err)
		}
		q.After = cursorOf(first[2])
		checkOrder(t, "page after a cursor whose record was voided", mustQuery(t, s, orgA, q), asc[3:6])
	})
	o.leaf(t, "VoidedExcluded", func(t *testing.T, s Store) {
		var all []lrs.StatementRecord
		for i := range 6 {
			all = append(all, rec(i, "v:x"))
		}
		mustInsert(t, s, orgA, all...)
		asc := sorted(all, true)
		for _, i := range []int{0, 1, 3} {
			if err := s.SetVoided(t.Context(), orgA, asc[i].ID); err != nil {
				t.Fatalf("SetVoided(%s): %v", asc[i].ID, err)
			}
		}
		live := []lrs.StatementRecord{asc[2], asc[4], asc[5]}
		for _, term := range []string{lrs.TermAll, "v:x"} {
			q := lrs.StatementQuery{Terms: []string{term}, Limit: 100, Ascending: true}
			checkOrder(t, "voided excluded "+fmtQuery(q), mustQuery(t, s, orgA, q), live)
		}
		// Voided records do not count toward the limit.
		q := lrs.StatementQuery{Terms: []string{"v:x"}, Limit: 2, Ascending: true}
		checkOrder(t, "limit skips voided records "+fmtQuery(q), mustQuery(t, s, orgA, q), live[:2])
		q.Ascending = false
		q.After = cursorOf(asc[4])
		checkOrder(t, "descending page over voided records "+fmtQuery(q), mustQuery(t, s, orgA, q), []lrs.StatementRecord{asc[2]})
	})
}

func testSetVoided(t *testing.T, o opener) {
	o.leaf(t, "NotFound", func(t *testing.T, s Store) {
		mustInsert(t, s, orgA, rec(1))
		err := s.SetVoided(t.Context(), orgA, newID())
		if err == nil {
			t.Fatal("SetVoided of a missing id returned nil, want ENOTFOUND")
		}
		checkCode(t, "SetVoided of a missing id", err, lrs.ENOTFOUND)
	})
	o.leaf(t, "MarksVoided", func(t *testing.T, s Store) {
		r, other := rec(1, "v:x"), rec(2, "v:x")
		mustInsert(t, s, orgA, r, other)
		for i := range 2 { // idempotent
			if err := s.SetVoided(t.Context(), orgA, r.ID); err != nil {
				t.Fatalf("SetVoided call %d: %v", i+1, err)
			}
			want := r
			want.Voided = true
			got := mustGet(t, s, orgA, r.ID, other.ID)
			checkRecord(t, fmt.Sprintf("voided record after SetVoided call %d", i+1), got[r.ID], want)
			checkRecord(t, fmt.Sprintf("other record after SetVoided call %d", i+1), got[other.ID], other)
			q := lrs.StatementQuery{Terms: []string{"v:x"}, Limit: 10}
			checkOrder(t, fmt.Sprintf("query after SetVoided call %d", i+1), mustQuery(t, s, orgA, q), []lrs.StatementRecord{other})
		}
	})
	o.leaf(t, "KeepsRefTarget", func(t *testing.T, s Store) {
		target := rec(1)
		ref := refRec(2, target.ID)
		mustInsert(t, s, orgA, target, ref)
		if err := s.SetVoided(t.Context(), orgA, ref.ID); err != nil {
			t.Fatalf("SetVoided: %v", err)
		}
		want := ref
		want.Voided = true
		checkRecord(t, "voided referring record", mustGetOne(t, s, orgA, ref.ID), want)
	})
}

func testAddTerms(t *testing.T, o opener) {
	o.leaf(t, "NotFound", func(t *testing.T, s Store) {
		mustInsert(t, s, orgA, rec(1))
		err := s.AddTerms(t.Context(), orgA, newID(), []string{"v:x"})
		if err == nil {
			t.Fatal("AddTerms of a missing id returned nil, want ENOTFOUND")
		}
		checkCode(t, "AddTerms of a missing id", err, lrs.ENOTFOUND)
		if got := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{"v:x"}, Limit: 10}); len(got) != 0 {
			t.Errorf("query on a term added to a missing id returned %s, want none", fmtRecs(got))
		}
	})
	o.leaf(t, "AddsTerms", func(t *testing.T, s Store) {
		r, other := rec(1, "v:old"), rec(2, "v:old")
		mustInsert(t, s, orgA, r, other)
		want := r
		want.Terms = append(slices.Clone(r.Terms), "o:new", "ra:new")
		for i := range 2 { // idempotent
			if err := s.AddTerms(t.Context(), orgA, r.ID, []string{"o:new", "ra:new"}); err != nil {
				t.Fatalf("AddTerms call %d: %v", i+1, err)
			}
			what := fmt.Sprintf("after AddTerms call %d", i+1)
			checkRecord(t, "record "+what, mustGetOne(t, s, orgA, r.ID), want)
			checkRecord(t, "other record "+what, mustGetOne(t, s, orgA, other.ID), other)
			for _, tc := range []struct {
				terms []string
				want  []lrs.StatementRecord
			}{
				{[]string{"o:new"}, []lrs.StatementRecord{want}},
				{[]string{"o:new", "ra:new"}, []lrs.StatementRecord{want}},
				{[]string{"o:new", "v:old"}, []lrs.StatementRecord{want}},
				{[]string{"v:old"}, []lrs.StatementRecord{other, want}},
				{[]string{lrs.TermAll}, []lrs.StatementRecord{other, want}},
			} {
				q := lrs.StatementQuery{Terms: tc.terms, Limit: 10}
				checkOrder(t, "query "+what+" "+fmtQuery(q), mustQuery(t, s, orgA, q), tc.want)
			}
		}
		// Adding terms the record already has changes nothing.
		if err := s.AddTerms(t.Context(), orgA, r.ID, []string{"v:old", lrs.TermAll}); err != nil {
			t.Fatalf("AddTerms of existing terms: %v", err)
		}
		checkRecord(t, "record after AddTerms of existing terms", mustGetOne(t, s, orgA, r.ID), want)
		q := lrs.StatementQuery{Terms: []string{"v:old"}, Limit: 10}
		checkOrder(t, "query after AddTerms of existing terms", mustQuery(t, s, orgA, q), []lrs.StatementRecord{other, want})
	})
	o.leaf(t, "VoidedRecord", func(t *testing.T, s Store) {
		r := rec(1)
		mustInsert(t, s, orgA, r)
		if err := s.SetVoided(t.Context(), orgA, r.ID); err != nil {
			t.Fatalf("SetVoided: %v", err)
		}
		if err := s.AddTerms(t.Context(), orgA, r.ID, []string{"o:new"}); err != nil {
			t.Fatalf("AddTerms on a voided record: %v", err)
		}
		want := r
		want.Voided = true
		want.Terms = append(slices.Clone(r.Terms), "o:new")
		checkRecord(t, "voided record after AddTerms", mustGetOne(t, s, orgA, r.ID), want)
		if got := mustQuery(t, s, orgA, lrs.StatementQuery{Terms: []string{"o:new"}, Limit: 10}); len(got) != 0 {
			t.Errorf("query returned the voided record %s, want none", fmtRecs(got))
		}
	})
}

func mustReferrers(t *testing.T, s Store, org, id string) []string {
	t.Helper()
	got, err := s.Referrers(t.Context(), org, id)
	if err != nil {
		t.Fatalf("Referrers(%q, %s): %v", org, id, err)
	}
	return got
}

func checkIDSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g := slices.Sorted(slices.Values(got))
	w := slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		t.Errorf("%s = %q, want (as a set) %q", what, g, w)
	}
}

func testReferrers(t *testing.T, o opener) {
	o.leaf(t, "Referrers", func(t *testing.T, s Store) {
		target := rec(1)
		r1 := refRec(2, target.ID)
		r2 := refRec(3, target.ID)
		r3 := refRec(4, r1.ID) // refers to a referrer, not to target
		unrelated := rec(5)
		mustInsert(t, s, orgA, target, r1, r2, r3, unrelated)
		checkIDSet(t, "Referrers(target)", mustReferrers(t, s, orgA, target.ID), []string{r1.ID, r2.ID})
		checkIDSet(t, "Referrers(r1)", mustReferrers(t, s, orgA, r1.ID), []string{r3.ID})
		checkIDSet(t, "Referrers(unreferenced)", mustReferrers(t, s, orgA, unrelated.ID), nil)

		many, err := s.ReferrersOf(t.Context(), orgA, []string{unrelated.ID, r1.ID, target.ID, newID()})
		if err != nil {
			t.Fatalf("ReferrersOf: %v", err)
		}
		if len(many) != 2 {
			t.Errorf("ReferrersOf returned %d ids, want 2 (target and r1): %v", len(many), many)
		}
		checkIDSet(t, "ReferrersOf[target]", many[target.ID], []string{r1.ID, r2.ID})
		checkIDSet(t, "ReferrersOf[r1]", many[r1.ID], []string{r3.ID})
		other, err := s.ReferrersOf(t.Context(), orgB, []string{target.ID})
		if err != nil || len(other) != 0 {
			t.Errorf("ReferrersOf in another org = %v, %v; want none", other, err)
		}
	})
	o.leaf(t, "TargetNotStored", func(t *testing.T, s Store) {
		// A statement may target one the LRS has not received yet.
		target := newID()
		r := refRec(1, target)
		mustInsert(t, s, orgA, r)
		checkIDSet(t, "Referrers(target not stored)", mustReferrers(t, s, orgA, target), []string{r.ID})
		checkIDSet(t, "Referrers(unknown id)", mustReferrers(t, s, orgA, newID()), nil)
	})
	o.leaf(t, "EmptyStore", func(t *testing.T, s Store) {
		checkIDSet(t, "Referrers on an empty store", mustReferrers(t, s, orgA, newID()), nil)
	})
	o.leaf(t, "NoRefTargetIsNotAReferrer", func(t *testing.T, s Store) {
		mustInsert(t, s, orgA, rec(1), rec(2))
		checkIDSet(t, `Referrers("")`, mustReferrers(t, s, orgA, ""), nil)
	})
}

func credential(org string, ms int) auth.Credential {
	key := "key-" + newID()
	hash := bytes.Repeat([]byte{0xA5, 0x00, 0xFF, 0x10}, 8) // 32 bytes, with zeros
	hash[31] = byte(ms)
	return auth.Credential{
		Key:        key,
		SecretHash: hash,
		Salt:       []byte{0x00, 0x01, 0x02, 0xFE, 0xFF, 0x7F, 0x80, 0x00, 9, 8, 7, 6, 5, 4, 3, byte(ms)},
		Org:        org,
		Name:       "credential " + key,
		Scopes:     []string{auth.ScopeStatementsWrite, auth.ScopeStatementsReadMine},
		Authority:  fmt.Appendf(nil, `{"objectType":"Agent","account":{"homePage":"https://lrs.example.com","name":%q}}`, key),
		CreatedAt:  at(ms),
	}
}

func checkCredential(t *testing.T, what string, got, want auth.Credential) {
	t.Helper()
	if got.Key != want.Key {
		t.Errorf("%s: Key = %q, want %q", what, got.Key, want.Key)
	}
	if !bytes.Equal(got.SecretHash, want.SecretHash) {
		t.Errorf("%s: SecretHash = %x, want %x", what, got.SecretHash, want.SecretHash)
	}
	if !bytes.Equal(got.Salt, want.Salt) {
		t.Errorf("%s: Salt = %x, want %x", what, got.Salt, want.Salt)
	}
	if got.Org != want.Org {
		t.Errorf("%s: Org = %q, want %q", what, got.Org, want.Org)
	}
	if got.Name != want.Name {
		t.Errorf("%s: Name = %q, want %q", what, got.Name, want.Name)
	}
	if g, w := slices.Sorted(slices.Values(got.Scopes)), slices.Sorted(slices.Values(want.Scopes)); !slices.Equal(g, w) {
		t.Errorf("%s: Scopes (as a set) = %q, want %q", what, g, w)
	}
	if !bytes.Equal(got.Authority, want.Authority) {
		t.Errorf("%s: Authority = %s, want %s", what, got.Authority, want.Authority)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s: CreatedAt = %s, want %s", what, got.CreatedAt.Format(time.RFC3339Nano), want.CreatedAt.Format(time.RFC3339Nano))
	}
}

func mustCount(t *testing.T, s Store) int {
	t.Helper()
	n, err := s.CountCredentials(t.Context())
	if err != nil {
		t.Fatalf("CountCredentials: %v", err)
	}
	return n
}

func testCredentials(t *testing.T, o opener) {
	o.leaf(t, "RoundTrip", func(t *testing.T, s Store) {
		c1, c2 := credential(orgA, 1234), credential(orgB, 5678)
		c2.Scopes = []string{auth.ScopeAll}
		for _, c := range []auth.Credential{c1, c2} {
			if err := s.CreateCredential(t.Context(), c); err != nil {
				t.Fatalf("CreateCredential(%s): %v", c.Key, err)
			}
		}
		for _, want := range []auth.Credential{c1, c2} {
			got, err := s.GetCredential(t.Context(), want.Key)
			if err != nil {
				t.Fatalf("GetCredential(%s): %v", want.Key, err)
			}
			checkCredential(t, "GetCredential("+want.Key+")", got, want)
		}
	})
	o.leaf(t, "DuplicateKey", func(t *testing.T, s Store) {
		orig := credential(orgA, 1)
		if err := s.CreateCredential(t.Context(), orig); err != nil {
			t.Fatalf("CreateCredential: %v", err)
		}
		dup := credential(orgB, 2)
		dup.Key = orig.Key
		err := s.CreateCredential(t.Context(), dup)
		if !errors.Is(err, auth.ErrKeyTaken) {
			t.Errorf("CreateCredential with a taken key: error = %v, want errors.Is(err, auth.ErrKeyTaken)", err)
		}
		got, err := s.GetCredential(t.Context(), orig.Key)
		if err != nil {
			t.Fatalf("GetCredential: %v", err)
		}
		checkCredential(t, "credential after the duplicate create", got, orig)
		if n := mustCount(t, s); n != 1 {
			t.Errorf("CountCredentials after a rejected duplicate = %d, want 1", n)
		}
	})
	o.leaf(t, "NotFound", func(t *testing.T, s Store) {
		c := credential(orgA, 1)
		if err := s.CreateCredential(t.Context(), c); err != nil {
			t.Fatalf("CreateCredential: %v", err)
		}
		for _, key := range []string{"key-" + newID(), strings.ToUpper(c.Key), c.Key + "x", ""} {
			_, err := s.GetCredential(t.Context(), key)
			if !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("GetCredential(%q) of a missing key: error = %v, want errors.Is(err, auth.ErrNotFound)", key, err)
			}
		}
	})
	o.leaf(t, "Count", func(t *testing.T, s Store) {
		if n := mustCount(t, s); n != 0 {
			t.Fatalf("CountCredentials on an empty store = %d, want 0", n)
		}
		orgs := []string{orgA, orgB, orgA, "org-c", orgB}
		for i, org := range orgs {
			if err := s.CreateCredential(t.Context(), credential(org, i)); err != nil {
				t.Fatalf("CreateCredential %d: %v", i, err)
			}
			if n := mustCount(t, s); n != i+1 {
				t.Errorf("CountCredentials after %d creates in several orgs = %d, want %d", i+1, n, i+1)
			}
		}
		// Statements are not credentials.
		mustInsert(t, s, orgA, rec(1), rec(2))
		if n := mustCount(t, s); n != len(orgs) {
			t.Errorf("CountCredentials after inserting statements = %d, want %d", n, len(orgs))
		}
	})
}

func testContext(t *testing.T, o opener) {
	o.leaf(t, "Cancelled", func(t *testing.T, s Store) {
		r := rec(1)
		mustInsert(t, s, orgA, r)
		c := credential(orgA, 1)
		if err := s.CreateCredential(t.Context(), c); err != nil {
			t.Fatalf("CreateCredential: %v", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := []struct {
			name string
			call func() error
		}{
			{"InsertStatements", func() error { return s.InsertStatements(ctx, orgA, []lrs.StatementRecord{rec(2)}) }},
			{"GetStatements", func() error { _, err := s.GetStatements(ctx, orgA, []string{r.ID}); return err }},
			{"QueryStatements", func() error {
				_, err := s.QueryStatements(ctx, orgA, lrs.StatementQuery{Terms: []string{lrs.TermAll}, Limit: 10})
				return err
			}},
			{"SetVoided", func() error { return s.SetVoided(ctx, orgA, r.ID) }},
			{"AddTerms", func() error { return s.AddTerms(ctx, orgA, r.ID, []string{"v:x"}) }},
			{"Referrers", func() error { _, err := s.Referrers(ctx, orgA, r.ID); return err }},
			{"Ping", func() error { return s.Ping(ctx) }},
			{"CreateCredential", func() error { return s.CreateCredential(ctx, credential(orgA, 2)) }},
			{"GetCredential", func() error { _, err := s.GetCredential(ctx, c.Key); return err }},
			{"CountCredentials", func() error { _, err := s.CountCredentials(ctx); return err }},
		}
		for _, tc := range calls {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s with a cancelled context panicked: %v", tc.name, p)
					}
				}()
				if err := tc.call(); err == nil {
					t.Errorf("%s with a cancelled context returned nil, want an error", tc.name)
				}
			}()
		}
		// The store still works with a live context.
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping after cancelled calls: %v", err)
		}
		r2 := rec(3)
		mustInsert(t, s, orgA, r2)
		checkRecord(t, "record inserted after cancelled calls", mustGetOne(t, s, orgA, r2.ID), r2)
		checkRecord(t, "record untouched by cancelled calls", mustGetOne(t, s, orgA, r.ID), r)
	})
}
