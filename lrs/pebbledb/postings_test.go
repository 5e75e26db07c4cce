package pebbledb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/lrs"
)

// Batches stored in the same millisecond write one posting per term each,
// whose ids interleave: queries still return every statement once, in
// (stored, id) order both ways, page after page through the cursor, and
// terms added later to a statement of a batch are found.
func TestPostingGroups(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	var all []lrs.StatementRecord
	for b := range 4 {
		var batch []lrs.StatementRecord
		for i := range 25 {
			n := i*4 + b // ids of the batches interleave
			r := lrs.StatementRecord{
				ID:     fmt.Sprintf("%08x-0000-4000-8000-%012x", n*7, n),
				Stored: at(b / 3), // batches 0, 1 and 2 share a millisecond
				Raw:    fmt.Appendf(nil, `{"n":%d}`, n),
				Terms:  []string{lrs.TermAll, "v:a", fmt.Sprintf("o:%d", n%3)},
			}
			batch = append(batch, r)
		}
		if err := db.InsertStatements(ctx, "o", batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	// One posting per term and batch: 4 × (TermAll, v:a, o:0, o:1, o:2).
	it, err := db.db.NewIter(&cpebble.IterOptions{LowerBound: []byte("P"), UpperBound: []byte("Q")})
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for ok := it.First(); ok; ok = it.Next() {
		keys++
	}
	it.Close()
	if keys != 4*5 {
		t.Errorf("%d posting keys for 4 batches of 5 terms", keys)
	}
	added := all[30].ID // in the middle of batch 2's postings
	if err := db.AddTerms(ctx, "o", added, []string{"ro:later", "v:a"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetVoided(ctx, "o", all[31].ID); err != nil {
		t.Fatal(err)
	}
	for _, term := range []string{lrs.TermAll, "v:a", "o:1", "ro:later"} {
		var want []lrs.StatementRecord
		for _, r := range all {
			if r.ID != all[31].ID && (slices.Contains(r.Terms, term) || term == "ro:later" && r.ID == added) {
				want = append(want, r)
			}
		}
		slices.SortFunc(want, func(a, b lrs.StatementRecord) int {
			if c := a.Stored.Compare(b.Stored); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		for _, asc := range []bool{true, false} {
			for _, limit := range []int{1, 3, 7, 200} {
				q := lrs.StatementQuery{Terms: []string{term}, Ascending: asc, Limit: limit}
				var got []string
				for {
					page, err := db.QueryStatements(ctx, "o", q)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range page {
						got = append(got, r.ID)
					}
					if len(page) < limit {
						break
					}
					last := page[len(page)-1]
					q.After = &lrs.Cursor{Stored: last.Stored, ID: last.ID}
				}
				w := ids(want)
				if !asc {
					slices.Reverse(w)
				}
				if !slices.Equal(got, w) {
					t.Errorf("term %q ascending %v limit %d:\n got %q\nwant %q", term, asc, limit, got, w)
				}
			}
		}
	}
}

// Two terms of a statement that share a term hash make one posting that
// lists the statement once, and a run hands out the ids of all its
// postings in order, once each.
func TestPostingsSharedHash(t *testing.T) {
	ids := [][idLen]byte{{3}, {1}, {2}}
	recs := []*record{{storedMs: 5, terms: []string{"a", "b"}}, {storedMs: 5, terms: []string{"b"}}, {storedMs: 6, terms: []string{"a"}}}
	same := []byte("Phhhhhhhh") // every term hashes alike
	kvs := batchPostings(nil, recs, ids, func(string) []byte { return same })
	if len(kvs) != 2 {
		t.Fatalf("%d postings, want one per stored time", len(kvs))
	}
	var r run
	var got [][idLen]byte
	for _, e := range kvs {
		if ok, err := r.add(e.k, e.v); err != nil || !ok {
			got = append(got, r.take(true)...)
			if _, err := r.add(e.k, e.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	got = append(got, r.take(true)...)
	if want := [][idLen]byte{{1}, {3}, {2}}; !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
	if _, err := r.add([]byte("short"), nil); err == nil {
		t.Error("a short posting key is accepted")
	}
	if _, err := appendPostingIDs(nil, kvs[0].k, []byte{1, 2, 3}); err == nil {
		t.Error("a posting value of a partial id is accepted")
	}
}
