package pebbledb

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

// The fixture: two organizations with statements under a few terms, some
// voided, some targeting others, some with terms added after the insert,
// an activity definition and agent names. testdata/layout1 holds a store
// that writeFixture wrote with the code of the first key layout (s/, p/,
// ref/ keys with whole terms and text ids), before layout 2 existed:
//
//	PEBBLEDB_WRITE_FIXTURE=/tmp/layout1 go test -run TestWriteFixture ./lrs/pebbledb
var fixtureBase = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

type fixtureRec struct {
	org    string
	rec    lrs.StatementRecord
	voided bool
	added  []string // terms added after the insert
}

func fixture() []fixtureRec {
	var out []fixtureRec
	for i := range 60 {
		org := "org-a"
		if i%3 == 2 {
			org = "org\x00b" // an org id with a zero byte: escaping
		}
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i*7919, i)
		terms := []string{lrs.TermAll, "v:http://adlnet.gov/expapi/verbs/" + []string{"completed", "attempted", "passed"}[i%3],
			fmt.Sprintf("a:mbox:mailto:u%d@example.com", i%5), fmt.Sprintf("o:http://example.com/a/%d", i%4),
			fmt.Sprintf("r:%08x-0000-4000-8000-000000000000", i%2), "au:key"}
		r := fixtureRec{org: org, rec: lrs.StatementRecord{
			ID:     id,
			Stored: fixtureBase.Add(time.Duration(i/2) * time.Millisecond), // pairs share a stored time
			Raw:    fmt.Appendf(nil, `{"id":%q,"n":%d}`, id, i),
			Terms:  terms,
		}}
		if i%10 == 9 { // targets the statement before it in its org
			r.rec.RefTarget = out[len(out)-3].rec.ID
		}
		if i%7 == 3 {
			r.voided = true
		}
		if i%11 == 5 {
			r.added = []string{"ro:http://example.com/added", "v:http://adlnet.gov/expapi/verbs/added"}
		}
		out = append(out, r)
	}
	return out
}

// writeFixture writes the fixture; the inserts are flushed to a table, the
// later updates stay in the log.
func writeFixture(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	for _, f := range fixture() {
		if err := db.InsertStatements(ctx, f.org, []lrs.StatementRecord{f.rec}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.db.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, f := range fixture() {
		if f.voided {
			if err := db.SetVoided(ctx, f.org, f.rec.ID); err != nil {
				t.Fatal(err)
			}
		}
		if f.added != nil {
			if err := db.AddTerms(ctx, f.org, f.rec.ID, f.added); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.MergeActivity(ctx, "org-a", "http://example.com/a/1", []byte(`{"name":{"en-US":"A1"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.AddAgentNames(ctx, "org-a", map[string][]string{"mbox:mailto:u1@example.com": {"U One"}}); err != nil {
		t.Fatal(err)
	}
}

// checkFixture checks that db holds the fixture: every record as written,
// every term query in order, referrers, and the other key spaces.
func checkFixture(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	fx := fixture()
	byOrg := map[string][]fixtureRec{}
	for _, f := range fx {
		byOrg[f.org] = append(byOrg[f.org], f)
	}
	for org, recs := range byOrg {
		var ids []string
		for _, f := range recs {
			ids = append(ids, f.rec.ID)
		}
		got, err := db.GetStatements(ctx, org, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("%q: %d of %d records", org, len(got), len(recs))
		}
		terms := map[string]bool{}
		for _, f := range recs {
			g := got[f.rec.ID]
			want := append(slices.Clone(f.rec.Terms), f.added...)
			if !g.Stored.Equal(f.rec.Stored) || string(g.Raw) != string(f.rec.Raw) || g.Voided != f.voided ||
				g.RefTarget != f.rec.RefTarget || !slices.Equal(g.Terms, want) {
				t.Errorf("%q %s: got %+v, want %+v (voided %v, terms %q)", org, f.rec.ID, g, f.rec, f.voided, want)
			}
			for _, term := range want {
				terms[term] = true
			}
			if f.rec.RefTarget != "" {
				refs, err := db.Referrers(ctx, org, f.rec.RefTarget)
				if err != nil || !slices.Equal(refs, []string{f.rec.ID}) {
					t.Errorf("%q: referrers of %s = %q, %v; want %s", org, f.rec.RefTarget, refs, err, f.rec.ID)
				}
			}
		}
		for term := range terms {
			for _, asc := range []bool{false, true} {
				var want []string
				for _, f := range recs {
					if !f.voided && slices.Contains(append(slices.Clone(f.rec.Terms), f.added...), term) {
						want = append(want, f.rec.ID)
					}
				}
				slices.SortFunc(want, func(a, b string) int { return compareStoredID(fx, a, b) })
				if !asc {
					slices.Reverse(want)
				}
				// Pages of 3, through the cursor.
				var all []string
				q := lrs.StatementQuery{Terms: []string{term}, Ascending: asc, Limit: 3}
				for {
					page, err := db.QueryStatements(ctx, org, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range page {
						all = append(all, r.ID)
					}
					if len(page) < 3 {
						break
					}
					last := page[len(page)-1]
					q.After = &lrs.Cursor{Stored: last.Stored, ID: last.ID}
				}
				if !slices.Equal(all, want) {
					t.Errorf("%q term %q ascending %v:\n got %q\nwant %q", org, term, asc, all, want)
				}
			}
		}
	}
	def, err := db.GetActivity(ctx, "org-a", "http://example.com/a/1")
	if err != nil || string(def) != `{"name":{"en-US":"A1"}}` {
		t.Errorf("activity = %s, %v", def, err)
	}
	names, err := db.AgentNames(ctx, "org-a", "mbox:mailto:u1@example.com")
	if err != nil || !slices.Equal(names, []string{"U One"}) {
		t.Errorf("agent names = %q, %v", names, err)
	}
}

func compareStoredID(fx []fixtureRec, a, b string) int {
	var sa, sb time.Time
	for _, f := range fx {
		switch f.rec.ID {
		case a:
			sa = f.rec.Stored
		case b:
			sb = f.rec.Stored
		}
	}
	if c := sa.Compare(sb); c != 0 {
		return c
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestWriteFixture(t *testing.T) {
	dir := os.Getenv("PEBBLEDB_WRITE_FIXTURE")
	if dir == "" {
		t.Skip("PEBBLEDB_WRITE_FIXTURE is not set")
	}
	db, err := Open(filepath.Clean(dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, db)
	checkFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// The fixture written and read back by this code.
func TestFixtureRoundTrip(t *testing.T) {
	db := open(t, t.TempDir())
	writeFixture(t, db)
	checkFixture(t, db)
}

// A store written by the code of key layout 1 is migrated on open, with a
// log line, and then holds exactly what it held; opening it again does
// not migrate again.
func TestOpenMigratesLayout1(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/layout1")); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := Open(dir, Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "migrated the stored statements to key layout "+layout) || !strings.Contains(logs.String(), "statements=60") {
		t.Errorf("no migration log line:\n%s", logs.String())
	}
	checkFixture(t, db)
	for _, p := range [][]byte{layout1Records, layout1Postings, layout1Refs} {
		it, err := db.db.NewIter(&cpebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			t.Fatal(err)
		}
		if it.First() {
			t.Errorf("a layout-1 key is left: %q", it.Key())
		}
		it.Close()
	}
	// Writes after the migration mix with the migrated records.
	r := newRec(5, "v:http://adlnet.gov/expapi/verbs/completed")
	r.Stored = fixtureBase.Add(time.Millisecond)
	if err := db.InsertStatements(context.Background(), "org-a", []lrs.StatementRecord{r}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if db, err = Open(dir, Options{Logger: logger}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if strings.Contains(logs.String(), "migrat") {
		t.Errorf("migrated twice:\n%s", logs.String())
	}
	got, err := db.QueryStatements(context.Background(), "org-a", lrs.StatementQuery{Terms: []string{"v:http://adlnet.gov/expapi/verbs/completed"}, Ascending: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, g := range got {
		found = found || g.ID == r.ID
	}
	if !found || len(got) < 2 {
		t.Errorf("query after the migration: %d records, the new one found: %v", len(got), found)
	}
	if err := db.InsertStatements(context.Background(), "org-a", []lrs.StatementRecord{fixture()[0].rec}); lrs.ErrorCode(err) != lrs.ECONFLICT {
		t.Errorf("inserting a migrated id again: %v, want ECONFLICT", err)
	}
}

// A store of an unknown (newer) layout is refused, not damaged.
func TestOpenRefusesUnknownLayout(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	if err := db.db.Set(layoutKey, []byte("9"), cpebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "newer version") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open of layout 9: %v, want a refusal", err)
	}
}

// A store of statement layout 3 (the version before the results flags
// index) opens as layout 4, which a version that knows only layout 3
// refuses: this version's results indexes and records are not readable
// by it.
func TestOpenRecordsLayout4OverLayout3(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	if err := db.InsertStatements(context.Background(), "org-a", []lrs.StatementRecord{fixture()[0].rec}); err != nil {
		t.Fatal(err)
	}
	if err := db.db.Set(layoutKey, []byte("3"), cpebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, dir)
	var got string
	if _, err := db.get(layoutKey, func(v []byte) error { got = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if got != "4" {
		t.Errorf("statement layout after opening a layout-3 store: %q, want \"4\"", got)
	}
	id := fixture()[0].rec.ID
	got2, err := db.GetStatements(context.Background(), "org-a", []string{id})
	if err != nil || len(got2) != 1 {
		t.Errorf("the layout-3 store's statement: %d found, %v", len(got2), err)
	}
}

// waitIDSet polls until org's id set has its stored ids.
func waitIDSet(t *testing.T, db *DB, org string) *idSet {
	t.Helper()
	s := db.idSet(org)
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.mu.RLock()
		ready := s.ready
		s.mu.RUnlock()
		if ready {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("the id set did not fill in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The in-memory id set holds every stored id (those stored before this
// process, while its scan ran, and after), so conflicts are still found
// once it answers for the store; new ids mostly pass without a read.
func TestIDSet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	var before []lrs.StatementRecord
	for i := range 3000 {
		before = append(before, newRec(i, "v:x"))
	}
	for i := 0; i < len(before); i += 500 {
		if err := db.InsertStatements(ctx, "o", before[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db = open(t, dir)
	during := newRec(1, "v:x")
	if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{during}); err != nil { // starts the scan
		t.Fatal(err)
	}
	set := waitIDSet(t, db, "o")
	after := newRec(2, "v:x")
	after.Assigned = true
	if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{after}); err != nil {
		t.Fatal(err)
	}
	for _, r := range append(before, during, after) {
		id, _ := parseID(r.ID)
		if !set.mayHold(id[:]) {
			t.Fatalf("the id set misses stored id %s", r.ID)
		}
		dup := newRec(9)
		dup.ID = r.ID
		if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{dup}); lrs.ErrorCode(err) != lrs.ECONFLICT {
			t.Fatalf("insert of stored id %s: %v, want ECONFLICT", r.ID, err)
		}
	}
	// Another organization has its own set.
	if err := db.InsertStatements(ctx, "p", []lrs.StatementRecord{{ID: before[0].ID, Stored: at(1), Raw: []byte("{}")}}); err != nil {
		t.Errorf("the same id in another organization: %v", err)
	}
	maybe := 0
	for i := range 10000 {
		id, _ := parseID(fmt.Sprintf("10000000-0000-4000-8000-%012d", i))
		if set.mayHold(id[:]) {
			maybe++
		}
	}
	if maybe > 100 {
		t.Errorf("%d of 10000 new ids need a read, want at most 1%%", maybe)
	}
}

// The set grows past its first filter's capacity without losing ids.
func TestIDSetGrows(t *testing.T) {
	s := newIDSet()
	s.ready = true
	const n = idSetFirst*3 + 17
	var b [idLen]byte
	for i := range uint32(n) {
		binary.BigEndian.PutUint32(b[:], i)
		s.add(b[:])
	}
	if len(s.blooms) != 3 { // capacities 64k, 128k, 256k
		t.Errorf("%d filters for %d ids, want 3", len(s.blooms), n)
	}
	for i := range uint32(n) {
		binary.BigEndian.PutUint32(b[:], i)
		if !s.mayHold(b[:]) {
			t.Fatalf("id %d lost", i)
		}
	}
}

// The in-memory set of ref targets holds every target stored before this
// process and after, so Referrers still finds every referrer once the set
// answers for the store.
func TestRefSet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	targets := []lrs.StatementRecord{newRec(1), newRec(2), newRec(3)}
	if err := db.InsertStatements(ctx, "o", targets); err != nil {
		t.Fatal(err)
	}
	ref := func(target lrs.StatementRecord) lrs.StatementRecord {
		r := newRec(4)
		r.RefTarget = target.ID
		if err := db.InsertStatements(ctx, "o", []lrs.StatementRecord{r}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := ref(targets[0])
	db.Close()
	db = open(t, dir)
	set := db.refSet("o")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		set.mu.RLock()
		ready := set.ready
		set.mu.RUnlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ref set did not fill in 10s")
		}
	}
	after := ref(targets[1])
	got, err := db.ReferrersOf(ctx, "o", []string{targets[0].ID, targets[1].ID, targets[2].ID})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{targets[0].ID: {before.ID}, targets[1].ID: {after.ID}}
	if len(got) != len(want) || !slices.Equal(got[targets[0].ID], want[targets[0].ID]) || !slices.Equal(got[targets[1].ID], want[targets[1].ID]) {
		t.Errorf("referrers = %q, want %q", got, want)
	}
}

// A store written by the code on Pebble 1.1 (key layout 2, Pebble's format
// major version 1) is upgraded to Pebble 2's format on open, with a log
// line, and then holds exactly what it held; it is upgraded once.
func TestOpenUpgradesPebble1Store(t *testing.T) {
	for _, fixture := range []string{"layout2-pebble1", "layout1"} {
		t.Run(fixture, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", fixture))); err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			db, err := Open(dir, Options{Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "upgraded the store's format for Pebble 2") {
				t.Errorf("no upgrade log line:\n%s", logs.String())
			}
			if v := db.db.FormatMajorVersion(); v != storeFormat {
				t.Errorf("format major version %s, want %s", v, storeFormat)
			}
			if _, err := db.get(layoutKey, func(v []byte) error {
				if string(v) != layout {
					t.Errorf("key layout %q, want %q", v, layout)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			checkFixture(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			if db, err = Open(dir, Options{Logger: logger}); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if strings.Contains(logs.String(), "upgrad") || strings.Contains(logs.String(), "migrat") {
				t.Errorf("upgraded twice:\n%s", logs.String())
			}
			checkFixture(t, db)
		})
	}
}

// Statement records go to blob files when their memtable is flushed, and
// stay readable, voidable and queryable through compactions and a reopen;
// the other keys keep their values in the tables.
func TestRecordsInBlobFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	big := strings.Repeat("x", 2000)
	var recs []lrs.StatementRecord
	for i := range 200 {
		r := newRec(i, "v:big")
		r.Raw = fmt.Appendf(nil, `{"id":%q,"pad":%q}`, r.ID, big)
		recs = append(recs, r)
	}
	if err := db.InsertStatements(ctx, "o", recs); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCredential(ctx, auth.Credential{Key: "k", Name: big}); err != nil {
		t.Fatal(err)
	}
	if err := db.db.Flush(); err != nil {
		t.Fatal(err)
	}
	var want uint64 // the records' values, and nothing else
	for _, r := range recs {
		want += uint64(len(encodeRecord(&record{storedMs: floorMs(r.Stored), terms: r.Terms, raw: r.Raw})))
	}
	if m := db.db.Metrics(); m.BlobFiles.LiveCount == 0 || m.BlobFiles.ValueSize != want {
		t.Errorf("blob files: %d, %d bytes of values; want the records' %d bytes", m.BlobFiles.LiveCount, m.BlobFiles.ValueSize, want)
	}
	if err := db.SetVoided(ctx, "o", recs[7].ID); err != nil {
		t.Fatal(err)
	}
	if err := db.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, dir)
	got, err := db.GetStatements(ctx, "o", ids(recs))
	if err != nil || len(got) != len(recs) {
		t.Fatalf("%d of %d records after the reopen: %v", len(got), len(recs), err)
	}
	for i, r := range recs {
		if g := got[r.ID]; string(g.Raw) != string(r.Raw) || g.Voided != (i == 7) {
			t.Fatalf("record %d: voided %v, raw %.40q…", i, g.Voided, g.Raw)
		}
	}
	page, err := db.QueryStatements(ctx, "o", lrs.StatementQuery{Terms: []string{"v:big"}, Limit: 500})
	if err != nil || len(page) != len(recs)-1 {
		t.Errorf("query: %d records, %v; want %d", len(page), err, len(recs)-1)
	}
	if c, err := db.GetCredential(ctx, "k"); err != nil || c.Name != big {
		t.Errorf("credential: %v", err)
	}
}
