package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// RunResults runs the forward.ResultStore part of the suite (the results
// read model); open returns a new, empty store.
//
//	func TestResultsConformance(t *testing.T) {
//		storetest.RunResults(t, func(t *testing.T) forward.ResultStore { return open(t) })
//	}
func RunResults(t *testing.T, open func(t *testing.T) forward.ResultStore) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s forward.ResultStore)
	}{
		{"Contributions", testResContributions},
		{"EarlierStoredWins", testResEarlierStored},
		{"Voids", testResVoids},
		{"NewContributions", testResNewContributions},
		{"ConcurrentVoids", testResConcurrentVoids},
		{"RoundTrip", testResRoundTrip},
		{"CompareAndSwap", testResCAS},
		{"ConcurrentCompareAndSwap", testResConcurrentCAS},
		{"IndexAfterInterleavedWrites", testResIndexInterleaved},
		{"ListByObjective", testResListObjective},
		{"ListFilters", testResListFilters},
		{"ListSince", testResListSince},
		{"ListByParticipant", testResListParticipant},
		{"Delete", testResDelete},
		{"ObjectiveAttemptRule", testResObjectiveRule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil ResultStore")
			}
			tc.fn(t, s)
		})
	}
}

func rkey(org, obj, participant, reg string) forward.ResultKey {
	return forward.ResultKey{Org: org, ObjectiveID: obj, Participant: participant, Registration: reg}
}

const (
	resAda   = "mbox:mailto:ada@example.com"
	resGrace = "account:https://sso.example.com grace"
	resReg   = "7c1d0000-0000-4000-8000-00000000aaaa"
)

func ctb(key forward.ResultKey, stmt string, sec int) forward.Contribution {
	return forward.Contribution{
		ResultKey: key, StatementID: stmt, Stored: fat(sec), Timestamp: fat(sec - 1),
		Verb: "http://adlnet.gov/expapi/verbs/passed", Activity: "https://example.com/act",
		Success: ptrB(true), Score: &forward.Score{Scaled: ptrF(0.5), Raw: ptrF(5), Min: ptrF(0), Max: ptrF(10)},
		Duration: "PT1M", Actor: forward.Actor{Name: "Ada", Mbox: "mailto:ada@example.com"},
	}
}

func ptrB(b bool) *bool       { return &b }
func ptrF(f float64) *float64 { return &f }

func mustAdd(t *testing.T, s forward.ResultStore, cs ...forward.Contribution) {
	t.Helper()
	if err := s.AddContributions(t.Context(), cs); err != nil {
		t.Fatalf("AddContributions(%d): %v", len(cs), err)
	}
}

func mustContribs(t *testing.T, s forward.ResultStore, keys ...forward.ResultKey) map[forward.ResultKey][]forward.Contribution {
	t.Helper()
	got, err := s.ResultContributions(t.Context(), keys)
	if err != nil {
		t.Fatalf("ResultContributions: %v", err)
	}
	return got
}

func contribIDs(cs []forward.Contribution) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.StatementID
		if c.Voided {
			out[i] += "(voided)"
		}
	}
	return out
}

func testResContributions(t *testing.T, s forward.ResultStore) {
	k1 := rkey(orgA, "obj-1", resAda, resReg)
	k2 := rkey(orgA, "obj-1", resAda, "")
	k3 := rkey(orgA, "obj-2", resAda, resReg)
	kb := rkey(orgB, "obj-1", resAda, resReg)
	mustAdd(t, s, ctb(k1, "s3", 3), ctb(k1, "s1", 1), ctb(k2, "s2", 2), ctb(k3, "s1", 1), ctb(kb, "s1", 1))
	mustAdd(t, s, ctb(k1, "s1", 1), ctb(k1, "s3", 3)) // again: idempotent
	got := mustContribs(t, s, k1, k2, k3, rkey(orgA, "obj-9", resAda, ""))
	if ids := contribIDs(got[k1]); !slices.Equal(ids, []string{"s1", "s3"}) {
		t.Errorf("contributions of k1: %v, want [s1 s3] in statement id order", ids)
	}
	if ids := contribIDs(got[k2]); !slices.Equal(ids, []string{"s2"}) {
		t.Errorf("contributions of k2 (no registration): %v", ids)
	}
	if len(got[k3]) != 1 || len(got) != 3 {
		t.Errorf("contributions: %d results (want 3, none for an unknown one), k3 %d", len(got), len(got[k3]))
	}
	c := got[k1][0]
	want := ctb(k1, "s1", 1)
	if c.ResultKey != k1 || !c.Stored.Equal(want.Stored) || !c.Timestamp.Equal(want.Timestamp) || c.Verb != want.Verb ||
		c.Activity != want.Activity || c.Completion != nil || c.Success == nil || !*c.Success || *c.Score.Scaled != 0.5 ||
		*c.Score.Raw != 5 || *c.Score.Min != 0 || *c.Score.Max != 10 || c.Duration != "PT1M" || c.Actor != want.Actor || c.Voided {
		t.Errorf("contribution round trip: %+v", c)
	}
	if b := mustContribs(t, s, kb)[kb]; len(b) != 1 || b[0].Org != orgB {
		t.Errorf("organization B's contributions: %+v", b)
	}
}

func testResEarlierStored(t *testing.T, s forward.ResultStore) {
	k := rkey(orgA, "obj-1", resAda, "")
	late := ctb(k, "s1", 50)
	late.Duration = "PT9M" // the retry's copy
	mustAdd(t, s, late)
	early := ctb(k, "s1", 10)
	mustAdd(t, s, early)
	later := ctb(k, "s1", 90)
	later.Duration = "PT7M"
	mustAdd(t, s, later)
	got := mustContribs(t, s, k)[k]
	if len(got) != 1 || !got[0].Stored.Equal(fat(10)) || got[0].Duration != "PT1M" {
		t.Errorf("a statement observed with stored times 50, 10, 90: %+v; want the one stored at 10", got)
	}
}

func testResVoids(t *testing.T, s forward.ResultStore) {
	ctx := t.Context()
	k := rkey(orgA, "obj-1", resAda, resReg)
	kOther := rkey(orgA, "obj-2", resAda, resReg)
	// Void after the add, for two objectives; s2 stays.
	mustAdd(t, s, ctb(k, "s1", 1), ctb(kOther, "s1", 1), ctb(k, "s2", 2))
	if err := s.VoidStatements(ctx, orgA, []forward.Void{{Target: "s1", By: "v1", Results: []forward.ResultKey{k, kOther}}}); err != nil {
		t.Fatal(err)
	}
	// Void before the add (the target not observed yet), and a void of a
	// statement that never comes.
	if err := s.VoidStatements(ctx, orgA, []forward.Void{{Target: "s3", By: "v3"}, {Target: "never", By: "v4"}}); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, ctb(k, "s3", 3))
	// An earlier-stored copy of a voided statement stays voided.
	mustAdd(t, s, ctb(k, "s1", 0))
	// The same ids in another organization are not voided.
	kb := rkey(orgB, "obj-1", resAda, resReg)
	mustAdd(t, s, ctb(kb, "s1", 1), ctb(kb, "s3", 3))
	got := mustContribs(t, s, k, kOther, kb)
	if ids := contribIDs(got[k]); !slices.Equal(ids, []string{"s1(voided)", "s2", "s3(voided)"}) {
		t.Errorf("contributions after voids: %v", ids)
	}
	if ids := contribIDs(got[kOther]); !slices.Equal(ids, []string{"s1(voided)"}) {
		t.Errorf("the other objective's: %v", ids)
	}
	if ids := contribIDs(got[kb]); !slices.Equal(ids, []string{"s1", "s3"}) {
		t.Errorf("organization B's: %v (voids are per organization)", ids)
	}
	// Idempotent.
	if err := s.VoidStatements(ctx, orgA, []forward.Void{{Target: "s1", By: "v1", Results: []forward.ResultKey{k}}}); err != nil {
		t.Fatal(err)
	}
}

// New contributions (of statements stored first by the caller): stored
// as given, voided when their statement was voided before they came (and
// the caller's copy says so), never read back New.
func testResNewContributions(t *testing.T, s forward.ResultStore) {
	ctx := t.Context()
	k := rkey(orgA, "obj-1", resAda, resReg)
	if err := s.VoidStatements(ctx, orgA, []forward.Void{{Target: "s1", By: "v1"}}); err != nil {
		t.Fatal(err)
	}
	cs := []forward.Contribution{ctb(k, "s1", 1), ctb(k, "s2", 2), ctb(k, "s3", 3)}
	for i := range cs {
		cs[i].New = true
	}
	mustAdd(t, s, cs...)
	if !cs[0].Voided || cs[1].Voided || cs[2].Voided {
		t.Errorf("the caller's New contributions say voided %v %v %v; want true false false", cs[0].Voided, cs[1].Voided, cs[2].Voided)
	}
	// A repeat of s2 (a client's retry, not New, stored later) leaves it.
	late := ctb(k, "s2", 50)
	late.Duration = "PT9M"
	mustAdd(t, s, late)
	got := mustContribs(t, s, k)[k]
	if ids := contribIDs(got); !slices.Equal(ids, []string{"s1(voided)", "s2", "s3"}) {
		t.Fatalf("New contributions: %v", ids)
	}
	for _, c := range got {
		if c.New {
			t.Errorf("contribution %s read back New", c.StatementID)
		}
	}
	if !got[1].Stored.Equal(fat(2)) || got[1].Duration != "PT1M" {
		t.Errorf("s2 after a later repeat: stored %v duration %s; want the New copy", got[1].Stored, got[1].Duration)
	}
	// A void after the add marks it as any other.
	if err := s.VoidStatements(ctx, orgA, []forward.Void{{Target: "s3", By: "v3", Results: []forward.ResultKey{k}}}); err != nil {
		t.Fatal(err)
	}
	if ids := contribIDs(mustContribs(t, s, k)[k]); !slices.Equal(ids, []string{"s1(voided)", "s2", "s3(voided)"}) {
		t.Errorf("after voiding s3: %v", ids)
	}
}

// Adds and voids of the same statements race (two processes): every
// contribution of a voided statement ends voided.
func testResConcurrentVoids(t *testing.T, s forward.ResultStore) {
	const n = 24
	k := rkey(orgA, "obj-1", resAda, "")
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		id := fmt.Sprintf("s%02d", i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- s.AddContributions(context.Background(), []forward.Contribution{ctb(k, id, i+1)})
		}()
		go func() {
			defer wg.Done()
			errs <- s.VoidStatements(context.Background(), orgA, []forward.Void{{Target: id, By: "v" + id, Results: []forward.ResultKey{k}}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := mustContribs(t, s, k)[k]
	if len(got) != n {
		t.Fatalf("%d contributions, want %d", len(got), n)
	}
	for _, c := range got {
		if !c.Voided {
			t.Errorf("contribution %s of a voided statement is not voided", c.StatementID)
		}
	}
}

// fullResult is a result with every field set.
func fullResult(key forward.ResultKey) forward.ObjectiveResult {
	return forward.ObjectiveResult{
		ResultKey: key,
		Actor:     forward.Actor{Name: "Grace", Mbox: "mailto:g@example.com", MboxSHA1Sum: "ab", OpenID: "https://id.example/g", AccountHomePage: "https://sso.example.com", AccountName: "grace"},
		Computed: forward.Values{Completion: ptrB(true), Success: ptrB(false), Score: &forward.Score{Scaled: ptrF(-0.25), Raw: ptrF(-2.5), Min: ptrF(-10), Max: ptrF(10)},
			Duration: "PT1H2M3.5S", Attempts: 3, FirstActivity: fat(1), LastActivity: fat(30), CompletedAt: fat(20)},
		Sources: forward.Sources{Completion: "sc", Success: "ss", Score: "sk", Duration: "sd", FirstActivity: "sf", LastActivity: "sl", CompletedAt: "sa"},
		Override: forward.Override{
			Values: forward.Values{Success: ptrB(true), Attempts: 0, CompletedAt: fat(25)},
			Set: map[forward.ResultField]forward.OverrideEntry{
				forward.FieldSuccess:  {By: "ops", At: fat(40), Reason: "oral exam"},
				forward.FieldAttempts: {By: "ops", At: fat(41), Reason: "reset"},
			},
		},
		History: []forward.OverrideEvent{
			{At: fat(40), By: "ops", Reason: "oral exam", Set: []forward.ResultField{forward.FieldSuccess}, Values: forward.Values{Success: ptrB(true)}, Revision: 4},
			{At: fat(41), By: "ops", Reason: "reset", Set: []forward.ResultField{forward.FieldAttempts}, Cleared: []forward.ResultField{forward.FieldScore}, Revision: 5},
		},
		Statements: 7, Revision: 5, RulesAt: fat(-100), CreatedAt: fat(2), UpdatedAt: fat(41),
	}
}

func mustGetResult(t *testing.T, s forward.ResultStore, key forward.ResultKey) forward.ObjectiveResult {
	t.Helper()
	got, err := s.GetResults(t.Context(), []forward.ResultKey{key})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := got[key]
	if !ok {
		t.Fatalf("no result %+v", key)
	}
	return r
}

func mustPut(t *testing.T, s forward.ResultStore, durable bool, rs ...forward.ObjectiveResult) {
	t.Helper()
	conflicts, err := s.PutResults(t.Context(), rs, durable)
	if err != nil || len(conflicts) > 0 {
		t.Fatalf("PutResults: conflicts %v, %v", conflicts, err)
	}
}

func sameResult(a, b forward.ObjectiveResult) string {
	ea, eb := fmt.Sprintf("%+v", describeResult(a)), fmt.Sprintf("%+v", describeResult(b))
	if ea != eb {
		return ea + "\nwant " + eb
	}
	return ""
}

// describeResult renders a result with its pointers followed and its Gen
// left out.
func describeResult(r forward.ObjectiveResult) string {
	vals := func(v forward.Values) string {
		b := func(p *bool) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprint(*p)
		}
		sc := "-"
		if s := v.Score; s != nil {
			f := func(p *float64) string {
				if p == nil {
					return "-"
				}
				return fmt.Sprint(*p)
			}
			sc = f(s.Scaled) + "/" + f(s.Raw) + "/" + f(s.Min) + "/" + f(s.Max)
		}
		return fmt.Sprintf("c=%s s=%s score=%s d=%s a=%d f=%s l=%s ca=%s", b(v.Completion), b(v.Success), sc, v.Duration, v.Attempts,
			v.FirstActivity.UTC().Format(time.RFC3339Nano), v.LastActivity.UTC().Format(time.RFC3339Nano), v.CompletedAt.UTC().Format(time.RFC3339Nano))
	}
	out := fmt.Sprintf("%+v actor=%+v computed{%s} sources=%+v n=%d rev=%d rules=%s created=%s updated=%s override{%s}",
		r.ResultKey, r.Actor, vals(r.Computed), r.Sources, r.Statements, r.Revision, r.RulesAt.UTC().Format(time.RFC3339Nano),
		r.CreatedAt.UTC().Format(time.RFC3339Nano), r.UpdatedAt.UTC().Format(time.RFC3339Nano), vals(r.Override.Values))
	for _, f := range forward.ResultFields {
		if e, ok := r.Override.Set[f]; ok {
			out += fmt.Sprintf(" %s:%s@%s(%s)", f, e.By, e.At.UTC().Format(time.RFC3339Nano), e.Reason)
		}
	}
	for _, e := range r.History {
		out += fmt.Sprintf(" [%s %s %s set=%v{%s} cleared=%v rev=%d]", e.At.UTC().Format(time.RFC3339Nano), e.By, e.Reason, e.Set, vals(e.Values), e.Cleared, e.Revision)
	}
	return out
}

func testResRoundTrip(t *testing.T, s forward.ResultStore) {
	k := rkey(orgA, "obj-1", resGrace, resReg)
	r := fullResult(k)
	mustPut(t, s, true, r)
	got := mustGetResult(t, s, k)
	if diff := sameResult(got, r); diff != "" {
		t.Errorf("round trip:\n got %s", diff)
	}
	if got.Gen <= 0 {
		t.Errorf("a stored result has Gen %d, want > 0", got.Gen)
	}
	// A bare result (nothing known, no override) round trips too.
	bare := forward.ObjectiveResult{ResultKey: rkey(orgA, "obj-1", resAda, ""), Revision: 1, CreatedAt: fat(1), UpdatedAt: fat(1)}
	mustPut(t, s, false, bare)
	if diff := sameResult(mustGetResult(t, s, bare.ResultKey), bare); diff != "" {
		t.Errorf("bare round trip:\n got %s", diff)
	}
	got2, err := s.GetResults(t.Context(), []forward.ResultKey{k, rkey(orgB, "obj-1", resGrace, resReg), rkey(orgA, "obj-1", resGrace, "")})
	if err != nil || len(got2) != 1 {
		t.Errorf("GetResults of one stored and two missing keys: %d, %v", len(got2), err)
	}
}

func testResCAS(t *testing.T, s forward.ResultStore) {
	ctx := t.Context()
	k := rkey(orgA, "obj-1", resAda, resReg)
	r := fullResult(k)
	mustPut(t, s, false, r)
	// Creating it again (Gen 0) conflicts.
	if c, err := s.PutResults(ctx, []forward.ObjectiveResult{r}, false); err != nil || !slices.Equal(c, []forward.ResultKey{k}) {
		t.Fatalf("a second create: conflicts %v, %v; want the key", c, err)
	}
	cur := mustGetResult(t, s, k)
	next := cur
	next.Revision, next.Statements = 6, 8
	other := fullResult(rkey(orgA, "obj-1", resGrace, ""))
	mustPut(t, s, true, next, other) // one update and one create in a call
	after := mustGetResult(t, s, k)
	if after.Revision != 6 || after.Statements != 8 || after.Gen <= cur.Gen {
		t.Errorf("after the update: revision %d statements %d gen %d (was %d)", after.Revision, after.Statements, after.Gen, cur.Gen)
	}
	// Writing over the old generation again conflicts and changes nothing.
	stale := cur
	stale.Revision = 99
	c, err := s.PutResults(ctx, []forward.ObjectiveResult{stale}, false)
	if err != nil || !slices.Equal(c, []forward.ResultKey{k}) {
		t.Fatalf("a stale write: conflicts %v, %v", c, err)
	}
	if got := mustGetResult(t, s, k); got.Revision != 6 {
		t.Errorf("a stale write changed the result: revision %d", got.Revision)
	}
	// A key twice in one call is refused.
	if _, err := s.PutResults(ctx, []forward.ObjectiveResult{after, after}, false); err == nil {
		t.Error("PutResults with a repeated key succeeded")
	}
	if c, err := s.PutResults(ctx, nil, false); err != nil || len(c) != 0 {
		t.Errorf("PutResults of nothing: %v, %v", c, err)
	}
}

// Two writers read a result, one writes it (changing what the indexes
// say of it), the other's write of its older read conflicts; after a read
// again it writes, and the lists see only its last write: an engine that
// remembers reads must not use one that a write overtook, for the
// compare-and-swap nor for the index keys it replaces.
func testResIndexInterleaved(t *testing.T, s forward.ResultStore) {
	ctx := t.Context()
	k := rkey(orgA, "obj-1", resAda, "")
	r := fullResult(k)
	r.Override = forward.Override{}
	r.Computed.Completion, r.Computed.Success = ptrB(false), ptrB(false)
	if _, err := s.GetResults(ctx, []forward.ResultKey{k}); err != nil { // absent
		t.Fatal(err)
	}
	mustPut(t, s, false, r)
	a, b := mustGetResult(t, s, k), mustGetResult(t, s, k)
	a.Computed.Completion, a.UpdatedAt = ptrB(true), fat(50)
	mustPut(t, s, false, a)
	b.Computed.Success = ptrB(true)
	if c, err := s.PutResults(ctx, []forward.ObjectiveResult{b}, false); err != nil || !slices.Equal(c, []forward.ResultKey{k}) {
		t.Fatalf("a write of an overtaken read: conflicts %v, %v; want the key", c, err)
	}
	b = mustGetResult(t, s, k)
	b.Computed.Completion, b.Computed.Success, b.UpdatedAt = ptrB(false), ptrB(true), fat(60)
	mustPut(t, s, false, b)
	// A result created again after a read that found it absent conflicts.
	if _, err := s.GetResults(ctx, []forward.ResultKey{k}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.PutResults(ctx, []forward.ObjectiveResult{r}, false); err != nil || !slices.Equal(c, []forward.ResultKey{k}) {
		t.Fatalf("a create of a stored result: conflicts %v, %v; want the key", c, err)
	}
	// A read, then the objective's results deleted: the write of the read
	// conflicts (nothing is stored at its generation).
	stale := mustGetResult(t, s, k)
	if err := s.DeleteResults(ctx, orgA, "obj-2"); err != nil { // another objective's: the read still holds
		t.Fatal(err)
	}
	if err := s.DeleteResults(ctx, orgA, "obj-1"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.PutResults(ctx, []forward.ObjectiveResult{stale}, false); err != nil || !slices.Equal(c, []forward.ResultKey{k}) {
		t.Fatalf("a write of a read of a deleted result: conflicts %v, %v; want the key", c, err)
	}
	b.Gen = 0
	mustPut(t, s, false, b) // created again, as b
	T, F := ptrB(true), ptrB(false)
	for _, tc := range []struct {
		q    forward.ResultQuery
		want []string
	}{
		{forward.ResultQuery{Completed: T}, nil},
		{forward.ResultQuery{Completed: F}, []string{"obj-1/" + resAda}},
		{forward.ResultQuery{Passed: T}, []string{"obj-1/" + resAda}},
		{forward.ResultQuery{Passed: F}, nil},
		{forward.ResultQuery{Since: fat(55)}, []string{"obj-1/" + resAda}},
		{forward.ResultQuery{Since: fat(61)}, nil},
		{forward.ResultQuery{Participant: resAda, Passed: T}, []string{"obj-1/" + resAda}},
		{forward.ResultQuery{Participant: resAda, Completed: T}, nil},
	} {
		q := tc.q
		q.Org = orgA
		if q.Participant == "" {
			q.ObjectiveID = "obj-1"
		}
		got := listAllResults(t, s, q, 10)
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ObjectiveID+"/"+r.Participant)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.q, ids, tc.want)
		}
	}
}

// Read-modify-write loops of many writers on a few results, through the
// compare-and-swap, several keys a call: no update is lost.
func testResConcurrentCAS(t *testing.T, s forward.ResultStore) {
	const writers, each = 6, 8
	keys := []forward.ResultKey{rkey(orgA, "obj-1", resAda, ""), rkey(orgA, "obj-1", resGrace, "")}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- casIncrements(context.Background(), s, keys, each, w)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetResults(t.Context(), keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if n := got[k].Statements; n != writers*each {
			t.Errorf("%s: %d increments survived, want %d (an update was lost)", k.Participant, n, writers*each)
		}
	}
}

// casIncrements increments Statements of every result of keys n times,
// reading again and retrying the keys that conflict.
func casIncrements(ctx context.Context, s forward.ResultStore, keys []forward.ResultKey, n, writer int) error {
	for i := range n {
		for pending := keys; len(pending) > 0; {
			got, err := s.GetResults(ctx, pending)
			if err != nil {
				return err
			}
			rs := make([]forward.ObjectiveResult, len(pending))
			for j, k := range pending {
				r, ok := got[k]
				if !ok {
					r = forward.ObjectiveResult{ResultKey: k}
				}
				r.Statements++
				r.Sources.LastActivity = fmt.Sprintf("w%d-%d", writer, i)
				rs[j] = r
			}
			if pending, err = s.PutResults(ctx, rs, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// listFixture stores results of objectives obj-1 and obj-2 (and one in
// organization B): participants p0..p4 on obj-1 (p1 with two
// registrations), p0 and p2 on obj-2; completed and passed by a pattern;
// updated at distinct times.
func listFixture(t *testing.T, s forward.ResultStore) []forward.ObjectiveResult {
	t.Helper()
	var rs []forward.ObjectiveResult
	add := func(obj, p, reg string, completed, passed *bool, updated int) {
		r := forward.ObjectiveResult{ResultKey: rkey(orgA, obj, p, reg), Revision: 1, Statements: 1, CreatedAt: fat(0), UpdatedAt: fat(updated)}
		r.Computed.Completion, r.Computed.Success = completed, passed
		rs = append(rs, r)
	}
	T, F := ptrB(true), ptrB(false)
	add("obj-1", "mbox:mailto:p0@example.com", "", T, T, 50)
	add("obj-1", "mbox:mailto:p1@example.com", "", T, F, 10)
	add("obj-1", "mbox:mailto:p1@example.com", resReg, nil, nil, 40)
	add("obj-1", "mbox:mailto:p2@example.com", "", F, nil, 30)
	add("obj-1", "mbox:mailto:p3@example.com", "", T, T, 20)
	add("obj-1", "mbox:mailto:p4@example.com", "", nil, F, 60)
	add("obj-2", "mbox:mailto:p0@example.com", "", T, T, 15)
	add("obj-2", "mbox:mailto:p2@example.com", "", nil, nil, 25)
	// p2 on obj-1 is not completed by its statements but an administrator
	// marked it completed and passed: filters read the effective values.
	rs[3].Override = forward.Override{Values: forward.Values{Completion: T, Success: T},
		Set: map[forward.ResultField]forward.OverrideEntry{forward.FieldCompletion: {By: "ops", At: fat(30)}, forward.FieldSuccess: {By: "ops", At: fat(30)}}}
	other := forward.ObjectiveResult{ResultKey: rkey(orgB, "obj-1", "mbox:mailto:p0@example.com", ""), Revision: 1, UpdatedAt: fat(5)}
	mustPut(t, s, false, append(slices.Clone(rs), other)...)
	return rs
}

func listKeys(rs []forward.ObjectiveResult) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ObjectiveID + "/" + r.Participant[len("mbox:mailto:"):len("mbox:mailto:p0")]
		if r.Registration != "" {
			out[i] += "+reg"
		}
	}
	return out
}

// listAll pages through q with limit n and returns every result.
func listAllResults(t *testing.T, s forward.ResultStore, q forward.ResultQuery, n int) []forward.ObjectiveResult {
	t.Helper()
	q.Limit = n
	var all []forward.ObjectiveResult
	for range 100 {
		page, err := s.ListResults(t.Context(), q)
		if err != nil {
			t.Fatalf("ListResults(%+v): %v", q, err)
		}
		if len(page) > n {
			t.Fatalf("a page of %d results for limit %d", len(page), n)
		}
		all = append(all, page...)
		if len(page) < n {
			return all
		}
		c := page[len(page)-1].Cursor()
		q.After = &c
	}
	t.Fatal("paging does not end")
	return nil
}

func checkResults(t *testing.T, what string, got []forward.ObjectiveResult, want ...string) {
	t.Helper()
	if g := listKeys(got); !slices.Equal(g, want) {
		t.Errorf("%s: %v, want %v", what, g, want)
	}
}

func testResListObjective(t *testing.T, s forward.ResultStore) {
	listFixture(t, s)
	want := []string{"obj-1/p0", "obj-1/p1", "obj-1/p1+reg", "obj-1/p2", "obj-1/p3", "obj-1/p4"}
	for _, n := range []int{1, 2, 4, 6, 100} {
		checkResults(t, fmt.Sprintf("obj-1, pages of %d", n), listAllResults(t, s, forward.ResultQuery{Org: orgA, ObjectiveID: "obj-1"}, n), want...)
	}
	checkResults(t, "obj-2", listAllResults(t, s, forward.ResultQuery{Org: orgA, ObjectiveID: "obj-2"}, 10), "obj-2/p0", "obj-2/p2")
	checkResults(t, "an unknown objective", listAllResults(t, s, forward.ResultQuery{Org: orgA, ObjectiveID: "obj-9"}, 10))
	got := listAllResults(t, s, forward.ResultQuery{Org: orgB, ObjectiveID: "obj-1"}, 10)
	if len(got) != 1 || got[0].Org != orgB {
		t.Errorf("organization B's results: %+v", got)
	}
	if page, err := s.ListResults(t.Context(), forward.ResultQuery{Org: orgA, ObjectiveID: "obj-1", Limit: 0}); err != nil || len(page) != 0 {
		t.Errorf("limit 0: %d results, %v", len(page), err)
	}
}

func testResListFilters(t *testing.T, s forward.ResultStore) {
	listFixture(t, s)
	T, F := ptrB(true), ptrB(false)
	for _, tc := range []struct {
		completed, passed *bool
		want              []string
	}{
		{T, nil, []string{"obj-1/p0", "obj-1/p1", "obj-1/p2", "obj-1/p3"}},
		{F, nil, []string{"obj-1/p1+reg", "obj-1/p4"}},
		{nil, T, []string{"obj-1/p0", "obj-1/p2", "obj-1/p3"}},
		{nil, F, []string{"obj-1/p1", "obj-1/p1+reg", "obj-1/p4"}},
		{T, T, []string{"obj-1/p0", "obj-1/p2", "obj-1/p3"}},
		{T, F, []string{"obj-1/p1"}},
		{F, T, nil},
	} {
		q := forward.ResultQuery{Org: orgA, ObjectiveID: "obj-1", Completed: tc.completed, Passed: tc.passed}
		for _, n := range []int{1, 3, 100} {
			checkResults(t, fmt.Sprintf("completed=%s passed=%s, pages of %d", fmtB(tc.completed), fmtB(tc.passed), n), listAllResults(t, s, q, n), tc.want...)
		}
	}
}

func fmtB(b *bool) string {
	if b == nil {
		return "any"
	}
	return fmt.Sprint(*b)
}

func testResListSince(t *testing.T, s forward.ResultStore) {
	listFixture(t, s)
	q := forward.ResultQuery{Org: orgA, ObjectiveID: "obj-1", Since: fat(20)}
	for _, n := range []int{1, 2, 100} {
		checkResults(t, fmt.Sprintf("since 20, pages of %d", n), listAllResults(t, s, q, n), "obj-1/p3", "obj-1/p2", "obj-1/p1+reg", "obj-1/p0", "obj-1/p4")
	}
	q.Completed = ptrB(true)
	checkResults(t, "since 20, completed", listAllResults(t, s, q, 2), "obj-1/p3", "obj-1/p2", "obj-1/p0")
	q = forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:p0@example.com", Since: fat(1)}
	checkResults(t, "p0 since 1", listAllResults(t, s, q, 1), "obj-2/p0", "obj-1/p0")
}

func testResListParticipant(t *testing.T, s forward.ResultStore) {
	listFixture(t, s)
	for _, n := range []int{1, 100} {
		checkResults(t, "p1", listAllResults(t, s, forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:p1@example.com"}, n), "obj-1/p1", "obj-1/p1+reg")
		checkResults(t, "p2", listAllResults(t, s, forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:p2@example.com"}, n), "obj-1/p2", "obj-2/p2")
	}
	checkResults(t, "p2 passed", listAllResults(t, s, forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:p2@example.com", Passed: ptrB(true)}, 10), "obj-1/p2")
	checkResults(t, "p0 on obj-2", listAllResults(t, s, forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:p0@example.com", ObjectiveID: "obj-2"}, 10), "obj-2/p0")
	checkResults(t, "p1 on obj-1, not completed", listAllResults(t, s, forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:p1@example.com", ObjectiveID: "obj-1", Completed: ptrB(false)}, 10), "obj-1/p1+reg")
	checkResults(t, "nobody", listAllResults(t, s, forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:nobody@example.com"}, 10))
}

func testResDelete(t *testing.T, s forward.ResultStore) {
	listFixture(t, s)
	k := rkey(orgA, "obj-1", "mbox:mailto:p0@example.com", "")
	k2 := rkey(orgA, "obj-2", "mbox:mailto:p0@example.com", "")
	mustAdd(t, s, ctb(k, "s1", 1), ctb(k2, "s1", 1))
	if err := s.DeleteResults(t.Context(), orgA, "obj-1"); err != nil {
		t.Fatal(err)
	}
	checkResults(t, "obj-1 after its deletion", listAllResults(t, s, forward.ResultQuery{Org: orgA, ObjectiveID: "obj-1"}, 10))
	checkResults(t, "p1 after obj-1's deletion", listAllResults(t, s, forward.ResultQuery{Org: orgA, Participant: "mbox:mailto:p1@example.com"}, 10))
	checkResults(t, "obj-2 stays", listAllResults(t, s, forward.ResultQuery{Org: orgA, ObjectiveID: "obj-2"}, 10), "obj-2/p0", "obj-2/p2")
	got := mustContribs(t, s, k, k2)
	if len(got[k]) != 0 || len(got[k2]) != 1 {
		t.Errorf("contributions after the deletion: obj-1 %d, obj-2 %d", len(got[k]), len(got[k2]))
	}
	if b := listAllResults(t, s, forward.ResultQuery{Org: orgB, ObjectiveID: "obj-1"}, 10); len(b) != 1 {
		t.Errorf("organization B's results went with A's objective: %d", len(b))
	}
	if err := s.DeleteResults(t.Context(), orgA, "obj-1"); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	// Deleted results can be created again (Gen 0).
	mustPut(t, s, false, forward.ObjectiveResult{ResultKey: k, Revision: 1})
	if _, err := s.GetResults(t.Context(), []forward.ResultKey{k}); err != nil {
		t.Fatal(err)
	}
}

// An objective's attempt rule (LatestAttemptCounts) is kept, when the
// store keeps objectives.
func testResObjectiveRule(t *testing.T, s forward.ResultStore) {
	os, ok := s.(forward.ObjectiveStore)
	if !ok {
		t.Skip("not an ObjectiveStore")
	}
	for _, latest := range []bool{true, false} {
		o := forward.Objective{ID: "obj-1", Org: orgA, Name: "Quiz", ActivityID: "https://example.com/act", LatestAttemptCounts: latest, CreatedAt: fat(0), UpdatedAt: fat(1)}
		if err := os.PutObjective(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		got, err := os.GetObjective(t.Context(), orgA, "obj-1")
		if err != nil || got.LatestAttemptCounts != latest {
			t.Errorf("objective with LatestAttemptCounts %v read back as %v (%v)", latest, got.LatestAttemptCounts, err)
		}
	}
}
