package pebbledb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		db, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

var idSeq int

func newRec(ms int, terms ...string) lrs.StatementRecord {
	idSeq++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", idSeq)
	return lrs.StatementRecord{
		ID: id, Stored: at(ms), Raw: []byte(`{"id":"` + id + `"}`),
		Terms: append([]string{lrs.TermAll}, terms...),
	}
}

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ids(recs []lrs.StatementRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestInsertGetConflict(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	r := newRec(1, "v:x")
	r.Stored = r.Stored.Add(500 * time.Microsecond) // truncated on write
	if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{r}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetStatements(ctx, "o", []string{r.ID, "missing"})
	if err != nil {
		t.Fatal(err)
	}
	g, ok := got[r.ID]
	if len(got) != 1 || !ok || !g.Stored.Equal(at(1)) || g.Stored.Location() != time.UTC || string(g.Raw) != string(r.Raw) || !slices.Equal(g.Terms, r.Terms) {
		t.Fatalf("got %+v", got)
	}
	if m, _ := db.GetStatements(ctx, "other", []string{r.ID}); len(m) != 0 {
		t.Fatal("org leak")
	}
	err = db.InsertStatements(ctx, "o", []lrs.StatementRecord{newRec(2), r})
	var le *lrs.Error
	if !errors.As(err, &le) || le.Code != lrs.ECONFLICT || !contains(le.Message, r.ID) {
		t.Fatalf("conflict: %v", err)
	}
	// The same id in another org is free.
	if err := db.InsertStatements(ctx, "o2", []lrs.StatementRecord{r}); err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestConcurrentSameID(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	for round := 0; round < 5; round++ {
		r := newRec(round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{r, newRecLocked(&mu, round)})
				mu.Lock()
				defer mu.Unlock()
				switch lrs.ErrorCode(err) {
				case "":
					wins++
				case lrs.ECONFLICT:
					conflicts++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != 15 {
			t.Fatalf("wins=%d conflicts=%d", wins, conflicts)
		}
	}
}

func newRecLocked(mu *sync.Mutex, ms int) lrs.StatementRecord {
	mu.Lock()
	defer mu.Unlock()
	return newRec(ms)
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	var recs []lrs.StatementRecord
	for i := 0; i < 20; i++ {
		terms := []string{"v:a"}
		if i%2 == 0 {
			terms = append(terms, "o:even")
		}
		recs = append(recs, newRec(i/2, terms...)) // pairs share Stored
	}
	if err := db.InsertStatements(ctx, "o", recs); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertStatements(ctx, "other", []lrs.StatementRecord{newRec(3, "v:a")}); err != nil {
		t.Fatal(err)
	}
	q := func(q lrs.StatementQuery) []string {
		t.Helper()
		got, err := db.QueryStatements(ctx, "o", q)
		if err != nil {
			t.Fatal(err)
		}
		return ids(got)
	}
	all := ids(recs)
	desc := slices.Clone(all)
	slices.Reverse(desc)
	if got := q(lrs.StatementQuery{Terms: []string{"*"}, Limit: 100, Ascending: true}); !slices.Equal(got, all) {
		t.Fatalf("asc = %v", got)
	}
	if got := q(lrs.StatementQuery{Terms: []string{"v:a"}, Limit: 100}); !slices.Equal(got, desc) {
		t.Fatalf("desc = %v", got)
	}
	// Paging with a cursor, both orders.
	for _, asc := range []bool{true, false} {
		want := all
		if !asc {
			want = desc
		}
		var got []string
		var after *lrs.Cursor
		for {
			page, err := db.QueryStatements(ctx, "o", lrs.StatementQuery{Terms: []string{"v:a"}, Limit: 3, After: after, Ascending: asc})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, ids(page)...)
			last := page[len(page)-1]
			after = &lrs.Cursor{Stored: last.Stored, ID: last.ID}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged asc=%v = %v, want %v", asc, got, want)
		}
	}
	// Since < Stored <= Until: ms 2..4 -> records 6..9 (ms 3,4).
	if got := q(lrs.StatementQuery{Terms: []string{"*"}, Since: at(2), Until: at(4), Limit: 100, Ascending: true}); !slices.Equal(got, all[6:10]) {
		t.Fatalf("since/until = %v", got)
	}
	// Several terms.
	var even []string
	for i := 0; i < 20; i += 2 {
		even = append(even, all[i])
	}
	if got := q(lrs.StatementQuery{Terms: []string{"v:a", "o:even", "*"}, Limit: 100, Ascending: true}); !slices.Equal(got, even) {
		t.Fatalf("two terms = %v", got)
	}
	if got := q(lrs.StatementQuery{Terms: []string{"v:none"}, Limit: 100}); len(got) != 0 {
		t.Fatalf("no match = %v", got)
	}
	// Voided records are excluded; SetVoided is idempotent.
	for i := 0; i < 2; i++ {
		if err := db.SetVoided(ctx, "o", all[0]); err != nil {
			t.Fatal(err)
		}
	}
	if got := q(lrs.StatementQuery{Terms: []string{"*"}, Limit: 2, Ascending: true}); !slices.Equal(got, all[1:3]) {
		t.Fatalf("voided = %v", got)
	}
	if m, _ := db.GetStatements(ctx, "o", all[:1]); !m[all[0]].Voided {
		t.Fatal("not voided")
	}
	if err := db.SetVoided(ctx, "o", "nope"); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Fatalf("SetVoided missing: %v", err)
	}
}

func TestAddTermsReferrers(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	target := newRec(1, "v:a")
	ref1, ref2 := newRec(2), newRec(3)
	ref1.RefTarget, ref2.RefTarget = target.ID, target.ID
	if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{target, ref1, ref2}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := db.AddTerms(ctx, "o", target.ID, []string{"ra:x", "v:a"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.QueryStatements(ctx, "o", lrs.StatementQuery{Terms: []string{"ra:x"}, Limit: 10})
	if err != nil || !slices.Equal(ids(got), []string{target.ID}) {
		t.Fatalf("after AddTerms: %v %v", ids(got), err)
	}
	if !slices.Equal(got[0].Terms, []string{"*", "v:a", "ra:x"}) {
		t.Fatalf("terms = %q", got[0].Terms)
	}
	if err := db.AddTerms(ctx, "o", "nope", []string{"x"}); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Fatalf("AddTerms missing: %v", err)
	}
	refs, err := db.Referrers(ctx, "o", target.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(refs)
	want := []string{ref1.ID, ref2.ID}
	slices.Sort(want)
	if !slices.Equal(refs, want) {
		t.Fatalf("referrers = %v", refs)
	}
	if refs, _ := db.Referrers(ctx, "other", target.ID); len(refs) != 0 {
		t.Fatal("org leak")
	}
}

func TestCredentials(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	c := auth.Credential{Key: "k1", SecretHash: []byte{1, 2}, Salt: []byte{3}, Org: "o", Name: "n",
		Scopes: []string{auth.ScopeAll}, Authority: []byte(`{"mbox":"mailto:a@b.c"}`), CreatedAt: base}
	if n, err := db.CountCredentials(ctx); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	if err := db.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCredential(ctx, c); !errors.Is(err, auth.ErrKeyTaken) {
		t.Fatalf("dup: %v", err)
	}
	got, err := db.GetCredential(ctx, "k1")
	if err != nil || got.Org != "o" || got.Name != "n" || string(got.Authority) != string(c.Authority) || !got.CreatedAt.Equal(base) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := db.GetCredential(ctx, "k2"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if n, err := db.CountCredentials(ctx); err != nil || n != 1 {
		t.Fatal(n, err)
	}
}

func TestReopenAndClose(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRec(5, "v:p")
	if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{r}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCredential(ctx, auth.Credential{Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := db.Ping(ctx); lrs.ErrorCode(err) != lrs.EUNAVAILABLE {
		t.Fatalf("Ping after Close: %v", err)
	}
	if _, err := db.GetStatements(ctx, "o", []string{r.ID}); err == nil {
		t.Fatal("GetStatements after Close succeeded")
	}
	db = open(t, dir)
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.QueryStatements(ctx, "o", lrs.StatementQuery{Terms: []string{"v:p"}, Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != r.ID {
		t.Fatalf("after reopen: %v %v", got, err)
	}
	if n, _ := db.CountCredentials(ctx); n != 1 {
		t.Fatalf("credentials after reopen: %d", n)
	}
	if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{r}); lrs.ErrorCode(err) != lrs.ECONFLICT {
		t.Fatalf("conflict after reopen: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Ping(cctx); err == nil {
		t.Fatal("Ping with cancelled ctx")
	}
}

func TestKeysEscape(t *testing.T) {
	// An org holding the separator byte cannot reach into another org.
	a := termPrefix("a", "v:x")
	b := termPrefix("a\x00\x01v:x", "")
	if string(a) == string(b[:len(a)]) {
		t.Fatal("escaping is not prefix-free")
	}
}

// GetStatements reads a batch with one iterator, in key order: every id
// asked for that is stored is answered under the spelling asked for (two
// spellings of one id both), the others and ids that are not UUIDs are
// absent, and records flushed to tables (values in blob files) read as
// those still in the memtable.
func TestGetStatementsOfABatch(t *testing.T) {
	d := open(t, t.TempDir())
	ctx := t.Context()
	var recs []lrs.StatementRecord
	for i := range 50 {
		r := newRec(i)
		r.Raw = []byte(`{"id":"` + r.ID + `","pad":"` + strings.Repeat("x", 300) + `"}`) // blob-sized
		recs = append(recs, r)
	}
	if err := d.InsertStatements(ctx, "o", recs[:25]); err != nil {
		t.Fatal(err)
	}
	if err := d.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := d.InsertStatements(ctx, "o", recs[25:]); err != nil {
		t.Fatal(err)
	}
	var ask []string
	for i := len(recs) - 1; i >= 0; i -= 3 { // out of order, every third
		ask = append(ask, recs[i].ID)
	}
	upper := strings.ToUpper(recs[0].ID)
	ask = append(ask, recs[0].ID, upper, "00000000-0000-4000-8000-999999999999", "not-an-id")
	got, err := d.GetStatements(ctx, "o", ask)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := len(recs) - 1; i >= 0; i -= 3 {
		want[recs[i].ID] = string(recs[i].Raw)
	}
	want[recs[0].ID], want[upper] = string(recs[0].Raw), string(recs[0].Raw)
	if len(got) != len(want) {
		t.Errorf("%d records, want %d: %v", len(got), len(want), slices.Collect(maps.Keys(got)))
	}
	for id, raw := range want {
		if r, ok := got[id]; !ok || string(r.Raw) != raw || r.ID != id {
			t.Errorf("%s: %+v (%v), want its record", id, r, ok)
		}
	}
}

// Inserts of statements do not wait for writes of deliveries: a write of
// hundreds of deliveries (a backfill's step, a batch's settle) holds most
// of their stripes through its synced commit, and deliveries have stripes
// of their own. Here every delivery stripe is held while statements with
// ids (whose conflict check takes their stripes) are inserted.
func TestInsertsDoNotWaitForDeliveryStripes(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	held := map[int]bool{}
	var keys []string
	for i := 0; len(held) < nStripes; i++ {
		k := string(deliveryKey("o", "c", fmt.Sprintf("s%d", i)))
		if i := db.stripe(k); !held[i] {
			held[i] = true
			keys = append(keys, k)
		}
	}
	unlock := db.lockIDs(keys...)
	var recs []lrs.StatementRecord
	for range 500 {
		recs = append(recs, newRec(1, "v:x"))
	}
	done := make(chan error, 1)
	go func() { done <- db.InsertStatements(ctx, "o", recs) }()
	var err error
	select {
	case err = <-done:
		unlock()
	case <-time.After(30 * time.Second):
		unlock()
		t.Fatal("the insert waited for the stripes of deliveries")
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetStatements(ctx, "o", ids(recs))
	if err != nil || len(got) != len(recs) {
		t.Fatalf("%d of %d statements stored (%v)", len(got), len(recs), err)
	}
}
