package forward_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

const (
	resOrg  = "org-res"
	resAct  = "https://acme.example/courses/fire-safety"
	resAda  = "mbox:mailto:ada@example.com"
	resReg  = "a3b1c2d4-0000-4000-8000-000000000001"
	vInit   = "http://adlnet.gov/expapi/verbs/initialized"
	vLaunch = "http://adlnet.gov/expapi/verbs/launched"
	vComp   = "http://adlnet.gov/expapi/verbs/completed"
	vTerm   = "http://adlnet.gov/expapi/verbs/terminated"
	vAnswer = "http://adlnet.gov/expapi/verbs/answered"
	vVoided = "http://adlnet.gov/expapi/verbs/voided"
)

var resT0 = time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)

// stmt is a stored statement of Ada (registration resReg) about activity
// act at minute min, with the given result JSON ("" for none).
func stmt(id, verb, act string, min int, result string) forward.Statement {
	ts := resT0.Add(time.Duration(min) * time.Minute)
	res := ""
	if result != "" {
		res = `,"result":` + result
	}
	raw := fmt.Sprintf(`{"id":%q,"actor":{"objectType":"Agent","name":"Ada Lovelace","mbox":"mailto:Ada@example.com"},
"verb":{"id":%q},"object":{"objectType":"Activity","id":%q}%s,
"context":{"registration":%q},"timestamp":%q,"stored":%q}`,
		id, verb, act, res, resReg, ts.Format(time.RFC3339Nano), ts.Add(time.Second).Format(time.RFC3339Nano))
	return forward.Statement{ID: id, Stored: ts.Add(time.Second), Raw: []byte(raw)}
}

func voiding(id, target string, min int) forward.Statement {
	ts := resT0.Add(time.Duration(min) * time.Minute)
	raw := fmt.Sprintf(`{"id":%q,"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":%q},
"object":{"objectType":"StatementRef","id":%q},"timestamp":%q}`, id, vVoided, target, ts.Format(time.RFC3339Nano))
	return forward.Statement{ID: id, Stored: ts.Add(time.Second), Raw: []byte(raw)}
}

// fresh returns stmts as the request that stored them first observes
// them (New).
func fresh(stmts ...forward.Statement) []forward.Statement {
	out := slices.Clone(stmts)
	for i := range out {
		out[i].New = true
	}
	return out
}

// session is a cmi5 session from minute start: launched, initialized,
// answered (a question of the AU: another activity), completed, passed or
// failed with scaled, terminated.
func session(prefix string, start int, scaled float64, pass bool) []forward.Statement {
	verdict, success := vPassed, "true"
	if !pass {
		verdict, success = vFailed, "false"
	}
	return []forward.Statement{
		stmt(prefix+"-launched", vLaunch, resAct, start, ""),
		stmt(prefix+"-initialized", vInit, resAct, start+1, ""),
		stmt(prefix+"-answered", vAnswer, resAct+"/q1", start+2, `{"response":"b","success":true}`),
		stmt(prefix+"-completed", vComp, resAct, start+3, `{"completion":true,"duration":"PT3M"}`),
		stmt(prefix+"-verdict", verdict, resAct, start+4, fmt.Sprintf(`{"success":%s,"score":{"scaled":%v,"raw":%v,"min":0,"max":100},"duration":"PT4M"}`, success, scaled, scaled*100)),
		stmt(prefix+"-terminated", vTerm, resAct, start+5, `{"duration":"PT5M"}`),
	}
}

// changes records the OnChange calls.
type changes struct {
	mu  sync.Mutex
	all []forward.ResultChange
	err error
}

func (c *changes) onChange(_ context.Context, ch forward.ResultChange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, ch)
	return c.err
}

func (c *changes) changed() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int64
	for _, ch := range c.all {
		if ch.Changed {
			out = append(out, ch.Revision)
		}
	}
	return out
}

type resFixture struct {
	observe forward.StatementObserver // storeAll's observer; nil: results
	db      *forwardtest.Memory
	stmts   *forwardtest.Statements
	results *forward.Results
	changes *changes
	obj     forward.Objective
}

func newResFixture(t *testing.T, latest bool) *resFixture {
	t.Helper()
	f := &resFixture{db: forwardtest.NewMemory(), stmts: &forwardtest.Statements{}, changes: &changes{}}
	f.obj = forward.Objective{ID: "fire", Org: resOrg, Name: "Fire safety", ActivityID: resAct, LatestAttemptCounts: latest,
		CreatedAt: resT0.Add(-time.Hour), UpdatedAt: resT0.Add(-time.Hour)}
	if err := f.db.PutObjective(t.Context(), f.obj); err != nil {
		t.Fatal(err)
	}
	f.results = forward.NewResults(f.db, f.stmts, forward.ResultsOptions{OnChange: f.changes.onChange, Now: func() time.Time { return resT0.Add(24 * time.Hour) }})
	return f
}

// store stores the statements upstream and observes them.
func (f *resFixture) store(t *testing.T, stmts ...forward.Statement) {
	t.Helper()
	for _, st := range stmts {
		f.stmts.Put(resOrg, st.ID, st.Raw)
	}
	if err := f.results.StatementsStored(t.Context(), resOrg, stmts); err != nil {
		t.Fatalf("StatementsStored: %v", err)
	}
}

// storeAll stores the statements upstream and tells observe (results
// when nil) of them, one by one.
func (f *resFixture) storeAll(t *testing.T, stmts ...forward.Statement) {
	t.Helper()
	obs := f.observe
	if obs == nil {
		obs = f.results
	}
	for _, st := range stmts {
		f.stmts.Put(resOrg, st.ID, st.Raw)
		if err := obs.StatementsStored(t.Context(), resOrg, []forward.Statement{st}); err != nil {
			t.Fatalf("StatementsStored: %v", err)
		}
	}
}

func (f *resFixture) key() forward.ResultKey {
	return forward.ResultKey{Org: resOrg, ObjectiveID: f.obj.ID, Participant: resAda, Registration: resReg}
}

func (f *resFixture) result(t *testing.T) forward.ObjectiveResult {
	t.Helper()
	got, err := f.db.GetResults(t.Context(), []forward.ResultKey{f.key()})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := got[f.key()]
	if !ok {
		t.Fatalf("no result for %+v", f.key())
	}
	return r
}

func b2s(b *bool) string {
	if b == nil {
		return "unknown"
	}
	return fmt.Sprint(*b)
}

func scaled(s *forward.Score) string {
	if s == nil || s.Scaled == nil {
		return "none"
	}
	return fmt.Sprint(*s.Scaled)
}

// summary is what the tests compare of a result.
func summary(r forward.ObjectiveResult) string {
	v := r.Effective()
	return fmt.Sprintf("completion=%s success=%s score=%s duration=%s attempts=%d first=%s last=%s completed=%s statements=%d sources=%+v",
		b2s(v.Completion), b2s(v.Success), scaled(v.Score), v.Duration, v.Attempts, v.FirstActivity.Format(time.TimeOnly),
		v.LastActivity.Format(time.TimeOnly), v.CompletedAt.Format(time.TimeOnly), r.Statements, r.Sources)
}

func TestResultsCmi5Sequence(t *testing.T) {
	f := newResFixture(t, false)
	for _, st := range session("s1", 0, 0.92, true) { // one request each
		f.store(t, st)
	}
	r := f.result(t)
	v := r.Effective()
	if !r.Completed() || !r.Passed() || *v.Score.Scaled != 0.92 || *v.Score.Raw != 92 || *v.Score.Min != 0 || *v.Score.Max != 100 ||
		v.Duration != "PT5M" || v.Attempts != 1 || !v.FirstActivity.Equal(resT0) || !v.LastActivity.Equal(resT0.Add(5*time.Minute)) ||
		!v.CompletedAt.Equal(resT0.Add(3*time.Minute)) || r.Statements != 5 {
		t.Errorf("result: %s", summary(r))
	}
	if r.Sources.Completion != "s1-completed" || r.Sources.Success != "s1-verdict" || r.Sources.Score != "s1-verdict" ||
		r.Sources.Duration != "s1-terminated" || r.Sources.FirstActivity != "s1-launched" || r.Sources.LastActivity != "s1-terminated" {
		t.Errorf("sources: %+v", r.Sources)
	}
	if r.Actor.Name != "Ada Lovelace" || r.Actor.Mbox != "mailto:Ada@example.com" || r.Participant != resAda {
		t.Errorf("actor %+v, participant %q", r.Actor, r.Participant)
	}
	// The answered statement is about another activity: not this result's,
	// and no other result either.
	list, err := f.db.ListResults(t.Context(), forward.ResultQuery{Org: resOrg, ObjectiveID: f.obj.ID, Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("results of the objective: %d, %v; want one", len(list), err)
	}
	// Every statement changed the result (last activity moves): revisions
	// 1..5, each announced once.
	if got := f.changes.changed(); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) || r.Revision != 5 {
		t.Errorf("announced revisions %v, result revision %d; want 1..5", got, r.Revision)
	}
}

func TestResultsRetake(t *testing.T) {
	for _, tc := range []struct {
		latest bool
		want   string
	}{
		{false, "completion=true success=true score=0.9"},
		{true, "completion=true success=false score=0.5"},
	} {
		t.Run(fmt.Sprintf("latest=%v", tc.latest), func(t *testing.T) {
			f := newResFixture(t, tc.latest)
			f.store(t, session("s1", 0, 0.9, true)...)
			f.store(t, session("s2", 60, 0.5, false)...)
			r := f.result(t)
			if got := summary(r); got[:len(tc.want)] != tc.want || r.Computed.Attempts != 2 {
				t.Errorf("after a lower retake: %s; want %s, attempts 2", got, tc.want)
			}
		})
	}
}

// Every revision of a result has its own, later UpdatedAt, also when
// changes come within one millisecond (a retake and an administrator's
// override a moment after it): an overwrite sink sends it (the
// postback's updated), and a receiver that keeps the latest by it takes
// an equal one for a repeat of what it has and drops the newer revision.
func TestResultsEachRevisionHasItsOwnTime(t *testing.T) {
	f := newResFixture(t, false)
	now := resT0.Add(24 * time.Hour)
	f.results = forward.NewResults(f.db, f.stmts, forward.ResultsOptions{OnChange: f.changes.onChange, Now: func() time.Time { return now }})
	ctx := t.Context()
	f.store(t, session("s1", 0, 0.92, true)...)
	var revs []forward.ObjectiveResult
	next := func(what string) {
		t.Helper()
		r := f.result(t)
		if n := len(revs); n > 0 {
			prev := revs[n-1]
			if r.Revision != prev.Revision+1 || !r.UpdatedAt.After(prev.UpdatedAt) {
				t.Errorf("%s: revision %d at %s after revision %d at %s: want the next revision, later",
					what, r.Revision, r.UpdatedAt.Format(time.RFC3339Nano), prev.Revision, prev.UpdatedAt.Format(time.RFC3339Nano))
			}
		}
		revs = append(revs, r)
	}
	next("the session")
	f.store(t, session("s2", 60, 0.5, false)...) // the same instant
	next("a retake")
	if _, err := f.results.Override(ctx, f.key(), forward.OverrideChange{
		Values: forward.Values{Success: ptrTo(false), Score: &forward.Score{Scaled: ptrTo(0.4)}},
		Fields: []forward.ResultField{forward.FieldSuccess, forward.FieldScore}, By: "ops@acme.example", Reason: "taken by someone else",
	}); err != nil {
		t.Fatal(err)
	}
	next("an override in the retake's millisecond")
	if _, err := f.results.Override(ctx, f.key(), forward.OverrideChange{Clear: []forward.ResultField{forward.FieldScore}, Reason: "regrade"}); err != nil {
		t.Fatal(err)
	}
	next("a second override in it")

	// A write that changes nothing leaves the time; a later clock is used as it is.
	f.store(t, session("s2", 60, 0.5, false)...)
	if r := f.result(t); r.Revision != revs[len(revs)-1].Revision || !r.UpdatedAt.Equal(revs[len(revs)-1].UpdatedAt) {
		t.Errorf("a repeated session moved the result to revision %d at %s", r.Revision, r.UpdatedAt.Format(time.RFC3339Nano))
	}
	now = now.Add(time.Second)
	f.store(t, session("s3", 120, 0.97, true)...)
	if r := f.result(t); !r.UpdatedAt.Equal(now) {
		t.Errorf("a change a second later is at %s, want the clock's %s", r.UpdatedAt.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
}

func TestResultsDuplicateCountsOnce(t *testing.T) {
	f := newResFixture(t, false)
	s := session("s1", 0, 0.8, true)
	f.store(t, s...)
	want := summary(f.result(t))
	rev := f.result(t).Revision
	// A client's retry (the same statements again, with a later stored
	// time), and the reconciler observing them once more.
	retry := slices.Clone(s)
	for i := range retry {
		retry[i].Stored = retry[i].Stored.Add(time.Hour)
	}
	f.store(t, retry...)
	f.store(t, s...)
	r := f.result(t)
	if got := summary(r); got != want || r.Revision != rev || r.Statements != 5 {
		t.Errorf("after repeats: %s (revision %d)\nwant %s (revision %d)", got, r.Revision, want, rev)
	}
	// The repeats were announced as current (Changed false).
	f.changes.mu.Lock()
	last := f.changes.all[len(f.changes.all)-1]
	f.changes.mu.Unlock()
	if last.Changed || last.Revision != rev {
		t.Errorf("a repeat announced %+v, want revision %d unchanged", last, rev)
	}
}

func TestResultsVoiding(t *testing.T) {
	t.Run("a voided statement withdraws what it set", func(t *testing.T) {
		f := newResFixture(t, false)
		f.store(t, session("s1", 0, 0.6, false)...)
		f.store(t, session("s2", 60, 0.9, true)...)
		if r := f.result(t); !r.Passed() || *r.Computed.Score.Scaled != 0.9 {
			t.Fatalf("before voiding: %s", summary(r))
		}
		f.store(t, voiding("v1", "s2-verdict", 70))
		r := f.result(t)
		if r.Passed() || *r.Computed.Success || *r.Computed.Score.Scaled != 0.6 || r.Sources.Success != "s1-verdict" || r.Statements != 9 {
			t.Errorf("after voiding the pass: %s; want the first session's fail and 0.6", summary(r))
		}
	})
	t.Run("voiding every statement empties the result", func(t *testing.T) {
		f := newResFixture(t, false)
		f.store(t, stmt("p", vPassed, resAct, 0, `{"score":{"scaled":1}}`))
		f.store(t, voiding("v", "p", 1))
		r := f.result(t)
		if r.Statements != 0 || r.Computed.Success != nil || r.Computed.Score != nil || r.Revision != 2 {
			t.Errorf("after voiding its only statement: %s, revision %d", summary(r), r.Revision)
		}
	})
	t.Run("the voiding arrives first", func(t *testing.T) {
		f := newResFixture(t, false)
		p := stmt("p", vPassed, resAct, 0, "")
		f.stmts.Put(resOrg, p.ID, p.Raw) // stored, its observation lost
		f.store(t, voiding("v", "p", 1))
		f.store(t, stmt("c", vComp, resAct, 2, ""), p) // the retry of p comes later
		r := f.result(t)
		if r.Passed() || r.Statements != 1 || !r.Completed() {
			t.Errorf("a statement voided before it was observed counts: %s", summary(r))
		}
	})
	t.Run("voiding an unknown statement", func(t *testing.T) {
		f := newResFixture(t, false)
		f.store(t, voiding("v", "never-stored", 1))
		f.store(t, stmt("never-stored", vPassed, resAct, 0, ""), stmt("c", vComp, resAct, 2, ""))
		if r := f.result(t); r.Passed() || r.Statements != 1 {
			t.Errorf("the target arrived after its voiding and counts: %s", summary(r))
		}
	})
	t.Run("voiding an unknown statement, which then arrives New", func(t *testing.T) {
		f := newResFixture(t, false)
		f.store(t, fresh(voiding("v", "never-stored", 1))...)
		// The result is not stored yet: it is computed from the batch's
		// New contributions, the voided one included as stored (voided).
		f.store(t, fresh(stmt("never-stored", vPassed, resAct, 0, ""), stmt("c", vComp, resAct, 2, ""))...)
		if r := f.result(t); r.Passed() || r.Statements != 1 || !r.Completed() {
			t.Errorf("the target arrived New after its voiding and counts: %s", summary(r))
		}
		// And repeated by a client (not New): the same.
		f.store(t, stmt("never-stored", vPassed, resAct, 0, ""))
		if r := f.result(t); r.Passed() || r.Statements != 1 {
			t.Errorf("the repeated target counts: %s", summary(r))
		}
	})
	t.Run("a New statement voided in its own batch", func(t *testing.T) {
		f := newResFixture(t, false)
		f.store(t, fresh(stmt("p", vPassed, resAct, 0, ""), stmt("c", vComp, resAct, 2, ""), voiding("v", "p", 3))...)
		if r := f.result(t); r.Passed() || r.Statements != 1 || !r.Completed() {
			t.Errorf("a statement voided in its own batch counts: %s", summary(r))
		}
	})
}

// Arrival in any order and any grouping into requests gives the result
// arrival in order gives.
func TestResultsOutOfOrder(t *testing.T) {
	all := slices.Concat(session("s1", 0, 0.7, false), session("s2", 60, 0.95, true), session("s3", 120, 0.4, false),
		[]forward.Statement{voiding("v1", "s2-terminated", 200)})
	for _, latest := range []bool{false, true} {
		f := newResFixture(t, latest)
		f.store(t, all...)
		want := summary(f.result(t))
		r := rand.New(rand.NewPCG(7, uint64(len(all))))
		for run := range 40 {
			g := newResFixture(t, latest)
			p := slices.Clone(all)
			if run%2 == 1 { // observed by the requests that stored them: New
				p = fresh(p...)
			}
			r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
			for len(p) > 0 {
				n := min(1+r.IntN(4), len(p))
				g.store(t, p[:n]...)
				p = p[n:]
			}
			if got := summary(g.result(t)); got != want {
				t.Fatalf("latest=%v run %d: out of order\n got %s\nwant %s", latest, run, got, want)
			}
		}
	}
}

// Two read models (two processes) over one store, observing the same
// statements concurrently, in different orders, some twice: the result
// is the one a single observer computes, and no revision is announced
// twice.
func TestResultsConcurrentWriters(t *testing.T) {
	all := slices.Concat(session("s1", 0, 0.7, false), session("s2", 60, 0.95, true), session("s3", 120, 0.4, false))
	f := newResFixture(t, false)
	f.store(t, all...)
	want := summary(f.result(t))

	g := newResFixture(t, false)
	second := forward.NewResults(g.db, g.stmts, forward.ResultsOptions{OnChange: g.changes.onChange})
	for _, st := range all {
		g.stmts.Put(resOrg, st.ID, st.Raw)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		rm := g.results
		if w%2 == 1 {
			rm = second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := slices.Clone(all)
			if w == 0 { // the requests that stored them (the others repeat them)
				p = fresh(p...)
			}
			rand.New(rand.NewPCG(uint64(w), 3)).Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
			for _, st := range p {
				if err := rm.StatementsStored(context.Background(), resOrg, []forward.Statement{st}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r := g.result(t)
	if got := summary(r); got != want {
		t.Errorf("concurrent writers\n got %s\nwant %s", got, want)
	}
	revs := g.changes.changed()
	slices.Sort(revs)
	if len(slices.Compact(slices.Clone(revs))) != len(revs) || revs[len(revs)-1] != r.Revision {
		t.Errorf("announced revisions %v, result revision %d: each must be announced once", revs, r.Revision)
	}
}

func TestResultsOverride(t *testing.T) {
	f := newResFixture(t, false)
	f.store(t, session("s1", 0, 0.4, false)...)
	before := f.result(t)
	ctx := t.Context()
	r, err := f.results.Override(ctx, f.key(), forward.OverrideChange{
		Values: forward.Values{Success: ptrTo(true), Score: &forward.Score{Scaled: ptrTo(0.75)}},
		Fields: []forward.ResultField{forward.FieldSuccess, forward.FieldScore}, By: "ops@acme.example", Reason: "passed the oral exam",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Passed() || *r.Effective().Score.Scaled != 0.75 || r.Revision != before.Revision+1 || r.Gen == 0 {
		t.Errorf("after the override: %s, revision %d (was %d), gen %d", summary(r), r.Revision, before.Revision, r.Gen)
	}
	if e := r.Override.Set[forward.FieldSuccess]; e.By != "ops@acme.example" || e.Reason != "passed the oral exam" || !e.At.Equal(resT0.Add(24*time.Hour)) {
		t.Errorf("override entry %+v", e)
	}
	if r.Computed.Success == nil || *r.Computed.Success || *r.Computed.Score.Scaled != 0.4 {
		t.Errorf("computed values under the override: %+v", r.Computed)
	}
	// A later session fails again: the computed values change underneath,
	// the override stays.
	f.store(t, session("s2", 60, 0.45, false)...)
	r = f.result(t)
	if !r.Passed() || *r.Effective().Score.Scaled != 0.75 || *r.Computed.Score.Scaled != 0.45 || r.Computed.Attempts != 2 {
		t.Errorf("after a later session: %s, computed %+v", summary(r), r.Computed)
	}
	// Clearing the success override only.
	r, err = f.results.Override(ctx, f.key(), forward.OverrideChange{Clear: []forward.ResultField{forward.FieldSuccess}, By: "ops@acme.example", Reason: "entered by mistake"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Passed() || *r.Effective().Score.Scaled != 0.75 || !slices.Equal(r.OverriddenFields(), []forward.ResultField{forward.FieldScore}) {
		t.Errorf("after clearing success: %s, overridden %v", summary(r), r.OverriddenFields())
	}
	if len(r.History) != 2 || r.History[0].Reason != "passed the oral exam" || !slices.Equal(r.History[1].Cleared, []forward.ResultField{forward.FieldSuccess}) ||
		r.History[1].Revision != r.Revision {
		t.Errorf("history %+v", r.History)
	}
	if _, err := f.results.Override(ctx, forward.ResultKey{Org: resOrg, ObjectiveID: "fire", Participant: "mbox:mailto:nobody@example.com"},
		forward.OverrideChange{Clear: []forward.ResultField{forward.FieldScore}, Reason: "x"}); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("override of a missing result: %v, want ErrNotFound", err)
	}
	if got := f.changes.changed(); got[len(got)-1] != r.Revision {
		t.Errorf("the override's revision was not announced: %v", got)
	}
}

func TestResultsObjectiveRules(t *testing.T) {
	f := newResFixture(t, false)
	// A second process, whose cache of the objective will be stale.
	stale := forward.NewResults(f.db, f.stmts, forward.ResultsOptions{Now: func() time.Time { return resT0.Add(24 * time.Hour) }})
	f.store(t, session("s1", 0, 0.9, true)...)
	if err := stale.StatementsStored(t.Context(), resOrg, session("s2", 60, 0.5, false)); err != nil {
		t.Fatal(err)
	}
	f.store(t, session("s2", 60, 0.5, false)...)
	if r := f.result(t); !r.Passed() {
		t.Fatalf("best attempt: %s", summary(r))
	}
	// The objective switches to "latest attempt counts".
	f.obj.LatestAttemptCounts, f.obj.UpdatedAt = true, resT0.Add(3*time.Hour)
	if err := f.db.PutObjective(t.Context(), f.obj); err != nil {
		t.Fatal(err)
	}
	n, err := f.results.RecomputeObjective(t.Context(), resOrg, f.obj.ID)
	if err != nil || n != 1 {
		t.Fatalf("RecomputeObjective: %d, %v", n, err)
	}
	if r := f.result(t); r.Passed() || *r.Computed.Score.Scaled != 0.5 || !r.RulesAt.Equal(f.obj.UpdatedAt) {
		t.Errorf("after the switch: %s", summary(r))
	}
	// The other process still has the old objective in its cache: it
	// reads it again before it writes.
	if err := stale.StatementsStored(t.Context(), resOrg, []forward.Statement{stmt("late", vAnswer, resAct, 130, "")}); err != nil {
		t.Fatal(err)
	}
	if r := f.result(t); r.Passed() || !r.Computed.LastActivity.Equal(resT0.Add(130*time.Minute)) {
		t.Errorf("a process with a stale objective applied the old rule: %s", summary(r))
	}
}

func TestObserversJoin(t *testing.T) {
	f := newResFixture(t, false)
	boom := errors.New("boom")
	f.changes.err = boom
	obs := forward.Observers{f.results, forward.NewObligations(f.db, nil, nil)}
	err := obs.StatementsStored(t.Context(), resOrg, session("s1", 0, 0.9, true)[:1])
	if !errors.Is(err, boom) {
		t.Errorf("Observers: %v, want the hook's error", err)
	}
}

func ptrTo[T any](v T) *T { return &v }
