package pebbledb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
)

// resultsFixture: results of two objectives (one org id with a zero byte,
// for the escaping) with every combination of completed and passed, known
// or not, some written twice with other flags (so that their index keys
// moved). testdata/results-layout1 holds a store that
// writeResultsFixture wrote with the code of results layout 1 (rc/ and
// rs/ indexes, before rf/):
//
//	PEBBLEDB_WRITE_RESULTS_FIXTURE=/tmp/results-layout1 go test -run TestWriteResultsFixture ./lrs/pebbledb
func resultsFixture() (first, second []forward.ObjectiveResult) {
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	tri := func(i int) *bool { // unknown, false, true
		switch i % 3 {
		case 1:
			return ptrTo(false)
		case 2:
			return ptrTo(true)
		}
		return nil
	}
	for i := range 48 {
		org, obj := "org-a", "obj-1"
		if i%4 == 3 {
			org, obj = "org\x00b", "obj-2"
		} else if i%4 == 2 {
			obj = "obj\x002"
		}
		reg := ""
		if i%3 != 0 {
			reg = fmt.Sprintf("%08x-0000-4000-8000-%012x", i%5, i%2)
		}
		r := forward.ObjectiveResult{
			ResultKey:  forward.ResultKey{Org: org, ObjectiveID: obj, Participant: fmt.Sprintf("mbox:mailto:u%d@example.com", i%7), Registration: reg},
			Actor:      forward.Actor{Mbox: fmt.Sprintf("mailto:u%d@example.com", i%7)},
			Computed:   forward.Values{Completion: tri(i), Success: tri(i / 3), Attempts: 1 + i%2},
			Statements: 1,
			Revision:   1,
			RulesAt:    base,
			CreatedAt:  base.Add(time.Duration(i) * time.Millisecond),
			UpdatedAt:  base.Add(time.Duration(i) * time.Millisecond),
		}
		first = append(first, r)
		if i%5 == 1 {
			r.Computed.Completion, r.Computed.Success = tri(i+1), tri(i/3+2)
			r.Revision, r.Gen = 2, 1
			r.UpdatedAt = r.UpdatedAt.Add(time.Hour)
			second = append(second, r)
		}
	}
	return first, second
}

// writeResultsFixture writes the fixture; the first writes are flushed to
// a table, the second stay in the log.
func writeResultsFixture(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	first, second := resultsFixture()
	seen := map[forward.ResultKey]bool{}
	for _, r := range first {
		if seen[r.ResultKey] {
			continue // the same key again (the fixture's modulos): keep the first
		}
		seen[r.ResultKey] = true
		if c, err := db.PutResults(ctx, []forward.ObjectiveResult{r}, true); err != nil || len(c) != 0 {
			t.Fatal(c, err)
		}
	}
	if err := db.db.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, r := range second {
		if c, err := db.PutResults(ctx, []forward.ObjectiveResult{r}, true); err != nil {
			t.Fatal(err)
		} else if len(c) != 0 {
			continue // a key the first pass skipped at another Gen
		}
	}
}

func TestWriteResultsFixture(t *testing.T) {
	dir := os.Getenv("PEBBLEDB_WRITE_RESULTS_FIXTURE")
	if dir == "" {
		t.Skip("set PEBBLEDB_WRITE_RESULTS_FIXTURE to a new directory to write the fixture there")
	}
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeResultsFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store written by the code of results layout 1 (rc/ and rs/) is
// migrated on open, with a log line: its rc/ and rs/ keys are gone, and
// every filter lists what the records say, in order and across pages.
func TestResultsLayout1Migrates(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/results-layout1")); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	db, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !strings.Contains(logs.String(), "migrated the stored results to key layout "+resultsLayout) {
		t.Errorf("no migration logged:\n%s", logs.String())
	}
	for _, p := range [][]byte{resultsLayout1Flags, resultsLayout1Success} {
		it, err := db.db.NewIter(&cpebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			t.Fatal(err)
		}
		if it.First() {
			t.Errorf("a layout-1 key is left: %q", it.Key())
		}
		_ = it.Close()
	}
	checkResultFilters(t, db, 16)

	// Opened again: nothing to migrate, the same lists.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if db, err = Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "migrat") {
		t.Errorf("migrated again:\n%s", logs.String())
	}
	checkResultFilters(t, db, 16)
}

// A store of results layout 2 written today lists the same.
func TestResultsLayout2Filters(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writeResultsFixture(t, db)
	checkResultFilters(t, db, 16)
}

// A store of an unknown (newer) results layout is refused.
func TestResultsLayoutUnknownRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.db.Set(resultsLayoutKey, []byte("9"), cpebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), `key layout "9"`) {
		if db != nil {
			_ = db.Close()
		}
		t.Errorf("Open of results layout 9: %v, want a refusal", err)
	}
}

// checkResultFilters lists every objective of the fixture with every
// filter (completed, passed, both; each true and false), in pages of one
// and of all, and compares with the records (the unfiltered list, from
// rr/) filtered and ordered as ResultQuery says; want is the least
// number of results the fixture holds.
func checkResultFilters(t *testing.T, db *DB, want int) {
	t.Helper()
	ctx := context.Background()
	objectives := [][2]string{{"org-a", "obj-1"}, {"org-a", "obj\x002"}, {"org\x00b", "obj-2"}}
	bools := []*bool{nil, ptrTo(false), ptrTo(true)}
	total, merged := 0, 0
	for _, o := range objectives {
		all, err := db.ListResults(ctx, forward.ResultQuery{Org: o[0], ObjectiveID: o[1], Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		total += len(all)
		for _, c := range bools {
			for _, s := range bools {
				if c == nil && s == nil {
					continue
				}
				q := forward.ResultQuery{Org: o[0], ObjectiveID: o[1], Completed: c, Passed: s, Limit: 1000}
				var matching []forward.ObjectiveResult
				for _, r := range all {
					if q.Matches(r) {
						matching = append(matching, r)
					}
				}
				exp := cursors(matching)
				if c == nil || s == nil { // a page merged from two ranges: count those with both
					var seen [2]bool
					for _, r := range matching {
						seen[flag(c == nil && r.Completed() || s == nil && r.Passed())] = true
					}
					if seen[0] && seen[1] {
						merged++
					}
				}
				name := fmt.Sprintf("%q completed=%v passed=%v", o, fmtBool(c), fmtBool(s))
				got, err := db.ListResults(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if g := cursors(got); !slices.Equal(g, exp) {
					t.Errorf("%s: %v, want %v", name, g, exp)
				}
				var paged []forward.ResultCursor
				q.Limit = 1
				for range len(all) + 1 {
					page, err := db.ListResults(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					paged = append(paged, cursors(page)...)
					q.After = ptrTo(page[0].Cursor())
				}
				if !slices.Equal(paged, exp) {
					t.Errorf("%s, pages of one: %v, want %v", name, paged, exp)
				}
			}
		}
	}
	if total < want {
		t.Errorf("%d results in the fixture, want %d at least", total, want)
	}
	if merged < 4 { // each of the four one-filter queries, at least once
		t.Errorf("%d one-filter lists hold both values of the other flag, want 4 at least", merged)
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

func cursors(rs []forward.ObjectiveResult) []forward.ResultCursor {
	var out []forward.ResultCursor
	for _, r := range rs {
		c := r.Cursor()
		c.UpdatedAt = time.Time{} // not in the order without Since
		out = append(out, c)
	}
	return out
}

// A migration cut short (a crash after a first batch of rf/ keys, before
// the rc/ and rs/ ranges were deleted and the layout recorded) runs again
// at the next open and ends as a whole one does.
func TestResultsLayout1MigrationResumes(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/results-layout1")); err != nil {
		t.Fatal(err)
	}
	cache := cpebble.NewCache(8 << 20)
	defer cache.Unref()
	raw, err := cpebble.Open(dir, storeOptions(cache, slogAdapter{slog.New(slog.DiscardHandler)}))
	if err != nil {
		t.Fatal(err)
	}
	it, err := raw.NewIter(&cpebble.IterOptions{LowerBound: resultsLayout1Flags, UpperBound: prefixEnd(resultsLayout1Flags)})
	if err != nil {
		t.Fatal(err)
	}
	b := raw.NewBatch()
	n := 0
	for ok := it.First(); ok && n < 10; ok = it.Next() { // the first ten, as a first batch would
		k, err := resultsLayout1ToFlags(it.Key(), it.Value())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Set(k, nil, nil); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := errors.Join(it.Close(), b.Commit(cpebble.Sync), b.Close(), raw.Close()); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("%d rc/ keys in the fixture, want 10 at least", n)
	}
	var logs strings.Builder
	db, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !strings.Contains(logs.String(), "migrated the stored results to key layout "+resultsLayout) {
		t.Errorf("no migration logged:\n%s", logs.String())
	}
	checkResultFilters(t, db, 16)
}
