package pebbledb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
)

func binTestResult() forward.ObjectiveResult {
	at := time.Date(2026, 9, 2, 8, 0, 0, 123_000_000, time.UTC)
	f := func(v float64) *float64 { return &v }
	b := func(v bool) *bool { return &v }
	return forward.ObjectiveResult{
		ResultKey: forward.ResultKey{Org: "acme", ObjectiveID: "obj-1", Participant: "account:https://sso.example Grace", Registration: "1b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10"},
		Actor:     forward.Actor{Name: "Grace", AccountHomePage: "https://sso.example", AccountName: "Grace"},
		Computed: forward.Values{Completion: b(true), Success: b(false), Score: &forward.Score{Raw: f(7), Min: f(0), Max: f(10)},
			Duration: "PT1M30S", Attempts: 2, FirstActivity: at, LastActivity: at.Add(time.Hour), CompletedAt: at.Add(time.Minute)},
		Sources: forward.Sources{Completion: "0a6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10", Success: "not-a-uuid", Score: "0A6F0C1E-7D1A-5E52-9C57-1A3C2B9E4F10",
			FirstActivity: "0a6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f11", LastActivity: "0a6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f12"},
		Statements: 4,
		Override: forward.Override{Values: forward.Values{Success: b(true), Score: &forward.Score{Scaled: f(0.9)}},
			Set: map[forward.ResultField]forward.OverrideEntry{
				forward.FieldSuccess: {By: "admin", At: at, Reason: "proctored exam"},
				forward.FieldScore:   {By: "admin2", At: at.Add(time.Second), Reason: ""},
			}},
		History: []forward.OverrideEvent{
			{At: at, By: "admin", Reason: "proctored exam", Set: []forward.ResultField{forward.FieldSuccess}, Values: forward.Values{Success: b(true)}, Revision: 3},
			{At: at.Add(time.Second), By: "admin2", Set: []forward.ResultField{forward.FieldScore}, Cleared: []forward.ResultField{forward.FieldDuration},
				Values: forward.Values{Score: &forward.Score{Scaled: f(0.9)}}, Revision: 4},
		},
		Revision: 4, Gen: 7, RulesAt: at.Add(-time.Hour), CreatedAt: at, UpdatedAt: at.Add(2 * time.Hour),
	}
}

func binTestContribution() forward.Contribution {
	at := time.Date(2026, 9, 2, 8, 0, 0, 5_000_000, time.UTC)
	f := func(v float64) *float64 { return &v }
	b := func(v bool) *bool { return &v }
	return forward.Contribution{
		ResultKey:   forward.ResultKey{Org: "acme", ObjectiveID: "obj-1", Participant: "mbox:mailto:ada@example.com", Registration: "reg not a uuid"},
		StatementID: "2b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10", Stored: at, Timestamp: at.Add(-time.Minute),
		Verb: forward.VerbPassed, Activity: "https://example.com/course", Completion: b(true), Success: b(true),
		Score: &forward.Score{Scaled: f(-0.25), Max: f(100)}, Duration: "PT5S",
		Actor: forward.Actor{Name: "Ada", Mbox: "mailto:ada@example.com"}, Voided: true,
	}
}

// The binary records say exactly what the JSON ones say (each value, each
// absent value, UUIDs and other ids), and a bare record round-trips too.
func TestResultBinaryRoundTrip(t *testing.T) {
	for _, r := range []forward.ObjectiveResult{binTestResult(), {ResultKey: forward.ResultKey{Org: "o", ObjectiveID: "x", Participant: "p"}}} {
		bin, err := encodeResult(r)
		if err != nil {
			t.Fatal(err)
		}
		js, err := encodeResultJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		if bin[0] != resultBinaryVersion {
			t.Fatalf("binary record starts with %d", bin[0])
		}
		got, err := decodeResult(r.ResultKey, bin)
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := decodeResult(forward.ResultKey{}, js)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, fromJSON) {
			t.Errorf("binary and JSON differ:\n bin  %+v\n json %+v", got, fromJSON)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got  %+v\n want %+v", got, r)
		}
		t.Logf("result: %d bytes binary, %d JSON", len(bin), len(js))
		// Every cut of the record is an error, never a panic or a wrong record.
		for n := range len(bin) {
			if _, err := decodeResult(r.ResultKey, bin[:n]); err == nil {
				t.Fatalf("a record cut at %d of %d bytes decodes", n, len(bin))
			}
		}
	}
	for _, c := range []forward.Contribution{binTestContribution(), {ResultKey: forward.ResultKey{Org: "o"}, StatementID: "s"}} {
		bin, _ := encodeContribution(c)
		js, _ := encodeContributionJSON(c)
		got, err := decodeContribution(c.ResultKey, c.StatementID, bin)
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := decodeContribution(forward.ResultKey{}, "", js)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) || !reflect.DeepEqual(fromJSON, c) {
			t.Errorf("contribution:\n bin  %+v\n json %+v\n want %+v", got, fromJSON, c)
		}
		t.Logf("contribution: %d bytes binary, %d JSON", len(bin), len(js))
		for n := range len(bin) {
			if _, err := decodeContribution(c.ResultKey, c.StatementID, bin[:n]); err == nil {
				t.Fatalf("a contribution cut at %d of %d bytes decodes", n, len(bin))
			}
		}
	}
	// A binary record of a later version does not read.
	bin, _ := encodeResult(binTestResult())
	bin[0] = resultBinaryVersion + 1
	if _, err := decodeResult(binTestResult().ResultKey, bin); !errors.Is(err, errRecordVersion) {
		t.Errorf("a record of version %d: %v, want errRecordVersion", bin[0], err)
	}
}

// A result's sources that repeat an earlier one are one byte each
// (version 3); a record of version 2, where each source is written in
// full, still reads.
func TestResultRecordRepeatedSources(t *testing.T) {
	r := binTestResult()
	distinct, _ := encodeResult(r)
	id := "0a6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10"
	r.Sources = forward.Sources{Completion: id, Success: id, Score: id, Duration: id, FirstActivity: id, LastActivity: id, CompletedAt: id}
	one, _ := encodeResult(r)
	if got, err := decodeResult(r.ResultKey, one); err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("one source seven times:\n got  %+v (%v)\n want %+v", got, err, r)
	}
	r.Sources = forward.Sources{Completion: id, Success: "not-a-uuid", Score: id, Duration: "", FirstActivity: "not-a-uuid", LastActivity: "", CompletedAt: id}
	mixed, _ := encodeResult(r)
	if got, err := decodeResult(r.ResultKey, mixed); err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("repeats of several sources:\n got  %+v (%v)\n want %+v", got, err, r)
	}
	for n := range len(mixed) {
		if _, err := decodeResult(r.ResultKey, mixed[:n]); err == nil {
			t.Fatalf("a result cut at %d of %d bytes decodes", n, len(mixed))
		}
	}
	t.Logf("result: %d bytes with one source, %d with several", len(one), len(distinct))

	// Versions 3 and 2 carry the key fields (the key given is not read);
	// version 2 is version 3 with sources that never repeat.
	r.Sources = forward.Sources{Completion: id, Success: "a", Score: "b", Duration: "c", FirstActivity: "d", LastActivity: "e", CompletedAt: "f"}
	for _, v := range []byte{3, 2} {
		old := withResultKeyFields(t, v, r)
		if got, err := decodeResult(forward.ResultKey{Org: "other"}, old); err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("version %d:\n got  %+v (%v)\n want %+v", v, got, err, r)
		}
	}
}

// withResultKeyFields is r's record in version 2 or 3, which were version
// 4 (this one) with the key fields after the version byte.
func withResultKeyFields(t *testing.T, version byte, r forward.ObjectiveResult) []byte {
	t.Helper()
	cur, _ := encodeResult(r)
	e := recEnc{b: []byte{version}}
	e.str(r.Org)
	e.str(r.ObjectiveID)
	e.str(r.Participant)
	e.id(r.Registration)
	return append(e.b, cur[1:]...)
}

// A contribution of version 2, which carried the key fields and the
// statement id (version 3 has them from its key), still reads.
func TestContributionRecordVersion2(t *testing.T) {
	c := binTestContribution()
	cur, _ := encodeContribution(c)
	e := recEnc{b: []byte{2}}
	e.str(c.Org)
	e.str(c.ObjectiveID)
	e.str(c.Participant)
	e.id(c.Registration)
	e.id(c.StatementID)
	v2 := append(e.b, cur[1:]...)
	if got, err := decodeContribution(forward.ResultKey{Org: "other"}, "other", v2); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("version 2:\n got  %+v (%v)\n want %+v", got, err, c)
	}
	t.Logf("contribution: %d bytes, %d in version 2", len(cur), len(v2))
}

// A store written by a binary of JSON records (version 1) opens with
// this one: its results and contributions read, list and are found by the
// in-memory set, a new statement updates a result computed from a JSON
// contribution and a voiding withdraws one, and what is written again is
// in the binary form.
func TestResultsJSONRecordsRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	obj := forward.Objective{ID: "obj-1", Org: "acme", Name: "Course", ActivityID: "https://example.com/course",
		CreatedAt: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.PutObjective(ctx, obj); err != nil {
		t.Fatal(err)
	}
	// ada passed 0.5 in a registration, grace completed without one, as
	// this binary stores them, then every record of the results rewritten
	// as the binaries of JSON records wrote it.
	stored := time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)
	adaKey := forward.ResultKey{Org: "acme", ObjectiveID: "obj-1", Participant: "mbox:mailto:ada@example.com", Registration: "3b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10"}
	graceKey := forward.ResultKey{Org: "acme", ObjectiveID: "obj-1", Participant: "mbox:mailto:grace@example.com"}
	adaStmt, graceStmt := "4b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10", "5b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10"
	graceRaw := []byte(`{"actor":{"mbox":"mailto:grace@example.com"},"verb":{"id":"` + forward.VerbCompleted + `"},"object":{"id":"https://example.com/course"}}`)
	results := forward.NewResults(db, voidTargets{}, forward.ResultsOptions{})
	err = results.StatementsStored(ctx, "acme", []forward.Statement{
		{ID: adaStmt, Stored: stored, New: true, Raw: []byte(`{"actor":{"mbox":"mailto:ada@example.com"},
"verb":{"id":"` + forward.VerbPassed + `"},"object":{"id":"https://example.com/course"},"result":{"score":{"scaled":0.5}},
"context":{"registration":"` + adaKey.Registration + `"},"timestamp":"` + stored.Format(time.RFC3339) + `"}`)},
		{ID: graceStmt, Stored: stored, New: true, Raw: graceRaw},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := db.db.NewBatch()
	rewrote := 0
	for _, p := range []string{"rr/", "rk/"} {
		err := db.fwdScan(fwdKey(p, "acme"), false, func(k, v []byte) (bool, error) {
			var js []byte
			var parts []string // org, objective, participant, registration[, statement]
			for rest := k[len(p):]; len(rest) > 0; {
				x, n := unescNext(rest)
				if n < 0 {
					return false, errBadIndexKey
				}
				parts, rest = append(parts, x), rest[n:]
			}
			rk := forward.ResultKey{Org: parts[0], ObjectiveID: parts[1], Participant: parts[2], Registration: parts[3]}
			if p == "rr/" {
				r, err := decodeResult(rk, v)
				if err != nil {
					return false, err
				}
				js, _ = encodeResultJSON(r)
			} else {
				c, err := decodeContribution(rk, parts[4], v)
				if err != nil {
					return false, err
				}
				js, _ = encodeContributionJSON(c)
			}
			rewrote++
			return true, b.Set(slices.Clone(k), js, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rewrote != 4 {
		t.Fatalf("rewrote %d records as JSON, want 2 results and 2 contributions", rewrote)
	}
	// The ru/ values as those binaries wrote them: the flags alone.
	flagsOnly := 0
	err = db.fwdScan(fwdKey("ru/", "acme"), false, func(k, v []byte) (bool, error) {
		if len(v) <= 2 {
			return false, fmt.Errorf("ru/ value of %d bytes, want the flags and the record", len(v))
		}
		flagsOnly++
		return true, b.Set(slices.Clone(k), slices.Clone(v[:2]), nil)
	})
	if err != nil || flagsOnly != 2 {
		t.Fatalf("ru/ values: %d, %v", flagsOnly, err)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetResults(ctx, []forward.ResultKey{adaKey, graceKey})
	if err != nil || len(got) != 2 {
		t.Fatalf("GetResults of the JSON records: %d, %v", len(got), err)
	}
	if a := got[adaKey]; !a.Passed() || a.Completed() || a.Computed.Score == nil || *a.Computed.Score.Scaled != 0.5 || a.Sources.Success != adaStmt || a.Revision != 1 {
		t.Errorf("ada's JSON result reads as %+v", a)
	}
	list, err := db.ListResults(ctx, forward.ResultQuery{Org: "acme", ObjectiveID: "obj-1", Limit: 10})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListResults over JSON records: %d, %v", len(list), err)
	}
	passed := true
	if list, err := db.ListResults(ctx, forward.ResultQuery{Org: "acme", ObjectiveID: "obj-1", Passed: &passed, Limit: 10}); err != nil || len(list) != 1 || list[0].ResultKey != adaKey {
		t.Fatalf("ListResults passed=true over JSON records: %v, %v", list, err)
	}
	since := func(want int, what string) {
		t.Helper()
		list, err := db.ListResults(ctx, forward.ResultQuery{Org: "acme", ObjectiveID: "obj-1", Since: stored.Add(-time.Hour), Limit: 10})
		if err != nil || len(list) != want {
			t.Fatalf("ListResults since= %s: %d, %v", what, len(list), err)
		}
		for _, r := range list {
			if fresh, err := db.GetResults(ctx, []forward.ResultKey{r.ResultKey}); err != nil || fresh[r.ResultKey].Gen != r.Gen || fresh[r.ResultKey].Revision != r.Revision {
				t.Errorf("ListResults since= %s: %s at gen %d, stored at gen %d (%v)", what, r.Participant, r.Gen, fresh[r.ResultKey].Gen, err)
			}
		}
	}
	since(2, "over flags-only ru/ values")

	// A later statement of ada (failed, 0.9) and the voiding of grace's.
	results = forward.NewResults(db, voidTargets{graceStmt: graceRaw}, forward.ResultsOptions{})
	later := stored.Add(time.Hour)
	err = results.StatementsStored(ctx, "acme", []forward.Statement{
		{ID: "6b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10", Stored: later, New: true, Raw: []byte(`{"actor":{"mbox":"mailto:ada@example.com"},
"verb":{"id":"` + forward.VerbFailed + `"},"object":{"id":"https://example.com/course"},"result":{"success":false,"score":{"scaled":0.9}},
"context":{"registration":"` + adaKey.Registration + `"},"timestamp":"` + later.Format(time.RFC3339) + `"}`)},
		{ID: "7b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10", Stored: later, New: true, Raw: []byte(`{"actor":{"mbox":"mailto:admin@example.com"},
"verb":{"id":"` + forward.VerbVoided + `"},"object":{"objectType":"StatementRef","id":"` + graceStmt + `"}}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = db.GetResults(ctx, []forward.ResultKey{adaKey, graceKey})
	if err != nil {
		t.Fatal(err)
	}
	a := got[adaKey]
	if !a.Passed() || a.Statements != 2 || a.Computed.Score == nil || *a.Computed.Score.Scaled != 0.9 || a.Revision != 2 || a.Gen != 2 {
		t.Errorf("ada after a later failed 0.9 over her JSON passed 0.5: %+v (want passed kept, best score 0.9, revision 2)", a)
	}
	if g := got[graceKey]; g.Statements != 0 || g.Completed() || g.Revision != 2 {
		t.Errorf("grace after her JSON contribution's voiding: %+v", g)
	}
	// What was written again is binary: both results, and the voided contribution.
	for _, k := range [][]byte{resultKey(adaKey), resultKey(graceKey), contribKey(graceKey, graceStmt)} {
		v, closer, err := db.db.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		if v[0] == '{' {
			t.Errorf("%q is still JSON after its change", k)
		}
		_ = closer.Close()
	}
	// Their ru/ values carry the records again, and a since= page reads
	// the current ones from them.
	for _, k := range []forward.ResultKey{adaKey, graceKey} {
		r := got[k]
		ru := resultIndexKeys(r)[ruIndex][0]
		v, closer, err := db.db.Get(ru)
		if err != nil {
			t.Fatalf("ru/ of %s: %v", k.Participant, err)
		}
		if len(v) <= 2 {
			t.Errorf("ru/ of %s after its change holds %d bytes, want the record too", k.Participant, len(v))
		}
		_ = closer.Close()
	}
	since(2, "after the changes")
	// ada's untouched contribution is still the JSON one, and reads.
	cs, err := db.ResultContributions(ctx, []forward.ResultKey{adaKey})
	if err != nil || len(cs[adaKey]) != 2 {
		t.Fatalf("ada's contributions (one JSON, one binary): %v, %v", cs, err)
	}
}

// voidTargets is a StatementGetter over a map (nil: not found).
type voidTargets map[string][]byte

func (v voidTargets) GetStatement(_ context.Context, _, id string) ([]byte, error) {
	if raw := v[id]; raw != nil {
		return raw, nil
	}
	return nil, forward.ErrNotFound
}

// BenchmarkResultRecords compares the two stored forms of the records:
// encoding and decoding a result and a contribution.
//
//	go test -run '^$' -bench ResultRecords ./lrs/pebbledb
func BenchmarkResultRecords(b *testing.B) {
	r, c := binTestResult(), binTestContribution()
	rb, _ := encodeResult(r)
	rj, _ := encodeResultJSON(r)
	cb, _ := encodeContribution(c)
	cj, _ := encodeContributionJSON(c)
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"result/encode/json", func() error { _, err := encodeResultJSON(r); return err }},
		{"result/encode/binary", func() error { _, err := encodeResult(r); return err }},
		{"result/decode/json", func() error { _, err := decodeResult(r.ResultKey, rj); return err }},
		{"result/decode/binary", func() error { _, err := decodeResult(r.ResultKey, rb); return err }},
		{"contribution/encode/json", func() error { _, err := encodeContributionJSON(c); return err }},
		{"contribution/encode/binary", func() error { _, err := encodeContribution(c); return err }},
		{"contribution/decode/json", func() error { _, err := decodeContribution(c.ResultKey, c.StatementID, cj); return err }},
		{"contribution/decode/binary", func() error { _, err := decodeContribution(c.ResultKey, c.StatementID, cb); return err }},
		{"result/index-keys", func() error { _ = resultIndexKeys(r); return nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
