package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/schema"
)

// The results read model on each storage engine, fed by the LRS service
// as the binary wires it (the service's observer, the reconciler), with
// statements the service validated and stored.

const (
	resAct    = "https://acme.example/courses/fire-safety"
	resReg    = "a3b1c2d4-0000-4000-8000-000000000001"
	resAda    = "mbox:mailto:ada@example.com"
	resOrgRes = "org-results"
)

var resT0 = time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)

// resNode is one process: a store, the LRS service and the read model.
type resNode struct {
	st      store
	svc     *lrs.Service
	results *forward.Results
	ob      forward.StatementObserver
	fail    *atomic.Bool // the results observer fails while set
	changes atomic.Int64 // result changes announced
}

type failingObserver struct {
	forward.StatementObserver
	fail *atomic.Bool
}

func (f failingObserver) StatementsStored(ctx context.Context, org string, stmts []forward.Statement) error {
	if f.fail.Load() {
		return fmt.Errorf("results store unavailable")
	}
	return f.StatementObserver.StatementsStored(ctx, org, stmts)
}

func newResNode(t *testing.T, st store) *resNode {
	t.Helper()
	n := &resNode{st: st, fail: &atomic.Bool{}}
	later := &laterStatements{}
	n.results = forward.NewResults(st, later, forward.ResultsOptions{OnChange: func(_ context.Context, ch forward.ResultChange) error {
		if ch.Changed {
			n.changes.Add(1)
		}
		return nil
	}})
	n.ob = forward.Observers{forward.NewObligations(st, nil, nil), failingObserver{n.results, n.fail}}
	n.svc = lrs.NewService(st, lrs.ServiceOptions{Observer: observer{n.ob}, Clock: st.Clock(), Activities: st, Agents: st})
	later.set(n.svc)
	return n
}

// openMongoStore opens the MongoDB engine on database (dropped at the end).
func openMongoStore(t *testing.T, uri, database string) *mongo.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: database, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("open MongoDB: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// forEachStore runs f on a fresh embedded store and a fresh MongoDB
// database.
func forEachStore(t *testing.T, f func(t *testing.T, open func() store)) {
	t.Run("embedded", func(t *testing.T) {
		db := openPebble(t)
		f(t, func() store { return db })
	})
	t.Run("mongodb", func(t *testing.T) {
		uri := testMongoURI(t)
		database := uniqueDatabase()
		dropDatabaseAtCleanup(t, uri, database)
		db := openMongoStore(t, uri, database)
		f(t, func() store { return db })
	})
}

func putObjective(t *testing.T, st store, org, id string, latest bool) forward.Objective {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	o := forward.Objective{ID: id, Org: org, Name: "Fire safety", ActivityID: resAct, LatestAttemptCounts: latest, CreatedAt: now.Add(-time.Hour), UpdatedAt: now}
	if err := st.PutObjective(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// resStmt is a statement of Ada (registration resReg) at minute min.
func resStmt(id, verb, activity string, min int, result string) string {
	res := ""
	if result != "" {
		res = `,"result":` + result
	}
	return fmt.Sprintf(`{"id":%q,"actor":{"objectType":"Agent","name":"Ada Lovelace","mbox":"mailto:ada@example.com"},
"verb":{"id":"http://adlnet.gov/expapi/verbs/%s"},"object":{"objectType":"Activity","id":%q}%s,
"context":{"registration":%q,"contextActivities":{"parent":[{"id":%q}]}},"timestamp":%q}`,
		id, verb, activity, res, resReg, resAct, resT0.Add(time.Duration(min)*time.Minute).Format(time.RFC3339Nano))
}

// resSession is a cmi5 session from minute start, with statement ids
// derived from the prefix.
func resSession(prefix string, start int, scaled float64, pass bool) []string {
	verdict, success := "passed", "true"
	if !pass {
		verdict, success = "failed", "false"
	}
	id := func(s string) string { return uuid.NewSHA1(uuid.NameSpaceURL, []byte(prefix+s)).String() }
	return []string{
		resStmt(id("launched"), "launched", resAct, start, ""),
		resStmt(id("initialized"), "initialized", resAct, start+1, ""),
		resStmt(id("answered"), "answered", resAct+"/q1", start+2, `{"success":true,"response":"b"}`),
		resStmt(id("completed"), "completed", resAct, start+3, `{"completion":true,"duration":"PT3M"}`),
		resStmt(id("verdict"), verdict, resAct, start+4, fmt.Sprintf(`{"success":%s,"score":{"scaled":%v,"raw":%v,"min":0,"max":100},"duration":"PT4M"}`, success, scaled, scaled*100)),
		resStmt(id("terminated"), "terminated", resAct, start+5, `{"duration":"PT5M"}`),
	}
}

func sessionID(prefix, what string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(prefix+what)).String()
}

var resWriter = lrs.Writer{Authority: []byte(`{"objectType":"Agent","account":{"homePage":"https://lrs.example","name":"k"}}`)}

// post stores the statements in one request of org.
func (n *resNode) post(t *testing.T, org string, raws ...string) error {
	t.Helper()
	stmts := make([]*schema.Statement, len(raws))
	for i, raw := range raws {
		st, err := schema.ParseStatement([]byte(raw), schema.V2_0_0)
		if err != nil {
			t.Fatalf("statement %s: %v", raw, err)
		}
		stmts[i] = st
	}
	w := resWriter
	w.Org = org
	_, err := n.svc.PostStatements(t.Context(), w, stmts, schema.V2_0_0)
	return err
}

func (n *resNode) mustPost(t *testing.T, org string, raws ...string) {
	t.Helper()
	if err := n.post(t, org, raws...); err != nil {
		t.Fatalf("POST: %v", err)
	}
}

func resKey(org, objective string) forward.ResultKey {
	return forward.ResultKey{Org: org, ObjectiveID: objective, Participant: resAda, Registration: resReg}
}

func (n *resNode) result(t *testing.T, key forward.ResultKey) (forward.ObjectiveResult, bool) {
	t.Helper()
	got, err := n.st.GetResults(t.Context(), []forward.ResultKey{key})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := got[key]
	return r, ok
}

func (n *resNode) mustResult(t *testing.T, key forward.ResultKey) forward.ObjectiveResult {
	t.Helper()
	r, ok := n.result(t, key)
	if !ok {
		t.Fatalf("no result %+v", key)
	}
	return r
}

// resSummary is what the tests compare of a result (no times of the
// server, which differ between runs).
func resSummary(r forward.ObjectiveResult) string {
	v := r.Effective()
	b := func(p *bool) string {
		if p == nil {
			return "unknown"
		}
		return fmt.Sprint(*p)
	}
	sc := "none"
	if v.Score != nil && v.Score.Scaled != nil {
		sc = fmt.Sprint(*v.Score.Scaled)
	}
	return fmt.Sprintf("completion=%s success=%s score=%s duration=%s attempts=%d first=%s last=%s completed=%s statements=%d sources=%+v overridden=%v",
		b(v.Completion), b(v.Success), sc, v.Duration, v.Attempts, v.FirstActivity.Format(time.TimeOnly), v.LastActivity.Format(time.TimeOnly),
		v.CompletedAt.Format(time.TimeOnly), r.Statements, r.Sources, r.OverriddenFields())
}

func TestResultsOnEngines(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() store) {
		st := open()
		n := newResNode(t, st)

		t.Run("cmi5 sequence", func(t *testing.T) {
			org := "org-cmi5"
			putObjective(t, st, org, "fire", false)
			for _, raw := range resSession("a", 0, 0.92, true) {
				n.mustPost(t, org, raw)
			}
			r := n.mustResult(t, resKey(org, "fire"))
			v := r.Effective()
			want := fmt.Sprintf("completion=true success=true score=0.92 duration=PT5M attempts=1 first=08:00:00 last=08:05:00 completed=08:03:00 statements=5 sources={Completion:%s Success:%s Score:%s Duration:%s FirstActivity:%s LastActivity:%s CompletedAt:%s} overridden=[]",
				sessionID("a", "completed"), sessionID("a", "verdict"), sessionID("a", "verdict"), sessionID("a", "terminated"),
				sessionID("a", "launched"), sessionID("a", "terminated"), sessionID("a", "completed"))
			if got := resSummary(r); got != want {
				t.Errorf("result\n got %s\nwant %s", got, want)
			}
			if *v.Score.Raw != 92 || *v.Score.Max != 100 || r.Actor.Name != "Ada Lovelace" || r.Revision != 5 {
				t.Errorf("score %+v, actor %+v, revision %d", v.Score, r.Actor, r.Revision)
			}
			list, err := st.ListResults(t.Context(), forward.ResultQuery{Org: org, ObjectiveID: "fire", Limit: 10})
			if err != nil || len(list) != 1 {
				t.Errorf("the objective has %d results (%v), want one", len(list), err)
			}
		})

		t.Run("a lower retake", func(t *testing.T) {
			for _, latest := range []bool{false, true} {
				org := fmt.Sprintf("org-retake-%v", latest)
				putObjective(t, st, org, "fire", latest)
				n.mustPost(t, org, resSession("a", 0, 0.9, true)...)
				n.mustPost(t, org, resSession("b", 60, 0.5, false)...)
				r := n.mustResult(t, resKey(org, "fire"))
				want := "success=true score=0.9"
				if latest {
					want = "success=false score=0.5"
				}
				if got := resSummary(r); !strings.Contains(got, want) || r.Computed.Attempts != 2 {
					t.Errorf("latest=%v: %s; want %s and 2 attempts", latest, got, want)
				}
			}
		})

		t.Run("a voided statement withdraws its result", func(t *testing.T) {
			org := "org-void"
			putObjective(t, st, org, "fire", false)
			n.mustPost(t, org, resSession("a", 0, 0.6, false)...)
			n.mustPost(t, org, resSession("b", 60, 0.9, true)...)
			n.mustPost(t, org, fmt.Sprintf(`{"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},
"object":{"objectType":"StatementRef","id":%q}}`, sessionID("b", "verdict")))
			r := n.mustResult(t, resKey(org, "fire"))
			if r.Passed() || *r.Computed.Score.Scaled != 0.6 || r.Sources.Success != sessionID("a", "verdict") || r.Statements != 9 {
				t.Errorf("after voiding the pass: %s", resSummary(r))
			}
		})

		t.Run("a statement stored twice counts once", func(t *testing.T) {
			org := "org-twice"
			putObjective(t, st, org, "fire", false)
			s := resSession("a", 0, 0.8, true)
			n.mustPost(t, org, s...)
			before := n.mustResult(t, resKey(org, "fire"))
			n.mustPost(t, org, s...)      // the client's retry: 204s
			n.mustPost(t, org, s[2:4]...) // part of it again
			rec := &forward.Reconciler{Store: st, Statements: lrsStatements{n.svc}, Obligations: n.ob, Margin: time.Hour}
			waitServiceConsistent(t, n.svc)
			if err := rec.Pass(t.Context()); err != nil {
				t.Fatal(err)
			}
			after := n.mustResult(t, resKey(org, "fire"))
			if resSummary(after) != resSummary(before) || after.Revision != before.Revision || after.Statements != 5 {
				t.Errorf("after repeats\n got %s (revision %d)\nwant %s (revision %d)", resSummary(after), after.Revision, resSummary(before), before.Revision)
			}
		})

		t.Run("the reconciler repairs what a failed request left", func(t *testing.T) {
			org := "org-repair"
			putObjective(t, st, org, "fire", false)
			n.mustPost(t, org, resSession("a", 0, 0.8, true)[:3]...)
			n.fail.Store(true)
			if err := n.post(t, org, resSession("a", 0, 0.8, true)[3:]...); err == nil {
				t.Fatal("POST succeeded while the results observer failed")
			}
			n.fail.Store(false)
			if r := n.mustResult(t, resKey(org, "fire")); r.Completed() {
				t.Fatalf("completed before the repair: %s", resSummary(r))
			}
			waitServiceConsistent(t, n.svc)
			rec := &forward.Reconciler{Store: st, Statements: lrsStatements{n.svc}, Obligations: n.ob}
			if err := rec.Pass(t.Context()); err != nil {
				t.Fatal(err)
			}
			if r := n.mustResult(t, resKey(org, "fire")); !r.Completed() || !r.Passed() || r.Statements != 5 {
				t.Errorf("after the reconciler's pass: %s", resSummary(r))
			}
		})

		t.Run("an override survives later statements and is cleared", func(t *testing.T) {
			org := "org-override"
			putObjective(t, st, org, "fire", false)
			n.mustPost(t, org, resSession("a", 0, 0.4, false)...)
			key := resKey(org, "fire")
			r, err := n.results.Override(t.Context(), key, forward.OverrideChange{
				Values: forward.Values{Success: ptr(true)}, Fields: []forward.ResultField{forward.FieldSuccess},
				By: "ops@acme.example", Reason: "passed the practical exam"})
			if err != nil || !r.Passed() {
				t.Fatalf("override: %s, %v", resSummary(r), err)
			}
			n.mustPost(t, org, resSession("b", 60, 0.3, false)...)
			r = n.mustResult(t, key)
			if !r.Passed() || *r.Computed.Success || *r.Computed.Score.Scaled != 0.4 || r.Computed.Attempts != 2 {
				t.Errorf("after a later failed session: %s, computed success %v", resSummary(r), *r.Computed.Success)
			}
			rev := r.Revision
			r, err = n.results.Override(t.Context(), key, forward.OverrideChange{Clear: []forward.ResultField{forward.FieldSuccess}, By: "ops@acme.example", Reason: "entered on the wrong learner"})
			if err != nil || r.Passed() || len(r.Override.Set) != 0 || r.Revision != rev+1 || len(r.History) != 2 {
				t.Errorf("after clearing: %s, revision %d (was %d), history %d, %v", resSummary(r), r.Revision, rev, len(r.History), err)
			}
		})
	})
}

func ptr[T any](v T) *T { return &v }

// waitServiceConsistent waits until Consistent-Through covers every statement
// stored so far (the reconciler scans up to it).
func waitServiceConsistent(t *testing.T, svc *lrs.Service) {
	t.Helper()
	now := time.Now()
	for deadline := now.Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ct, err := svc.ConsistentThrough(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !ct.Before(now) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consistent-through %v never reached %v", ct, now)
		}
	}
}

// Arrival in any order, in requests of any size, gives the result that
// arrival in order gives.
func TestResultsOutOfOrderOnEngines(t *testing.T) {
	all := slices.Concat(resSession("a", 0, 0.7, false), resSession("b", 60, 0.95, true), resSession("c", 120, 0.4, false))
	forEachStore(t, func(t *testing.T, open func() store) {
		st := open()
		n := newResNode(t, st)
		runs := 12
		if _, ok := st.(*mongo.DB); ok {
			runs = 3 // FerretDB is slow; the property itself is tested at length in forward
		}
		for _, latest := range []bool{false, true} {
			ref := fmt.Sprintf("org-order-%v", latest)
			putObjective(t, st, ref, "fire", latest)
			for _, raw := range all {
				n.mustPost(t, ref, raw)
			}
			want := resSummary(n.mustResult(t, resKey(ref, "fire")))
			r := rand.New(rand.NewPCG(uint64(len(all)), 9))
			for run := range runs {
				org := fmt.Sprintf("org-order-%v-%d", latest, run)
				putObjective(t, st, org, "fire", latest)
				p := slices.Clone(all)
				r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
				for len(p) > 0 {
					k := min(1+r.IntN(5), len(p))
					n.mustPost(t, org, p[:k]...)
					p = p[k:]
				}
				if got := resSummary(n.mustResult(t, resKey(org, "fire"))); got != want {
					t.Fatalf("latest=%v run %d\n got %s\nwant %s", latest, run, got, want)
				}
			}
		}
	})
}

// Two processes on one MongoDB database store the same statements at
// once, each in its own order and batches (so each statement is stored by
// one and repeated by the other), plus statements only one of them
// stores: the result is the one statements stored in order give, each
// statement counted once, and no revision is lost or announced twice.
func TestResultsTwoProcessesOneMongoDB(t *testing.T) {
	uri := testMongoURI(t)
	database := uniqueDatabase()
	dropDatabaseAtCleanup(t, uri, database)
	p1 := newResNode(t, openMongoStore(t, uri, database))
	p2 := newResNode(t, openMongoStore(t, uri, database))
	const org = "org-race"
	putObjective(t, p1.st, org, "fire", false)
	shared := slices.Concat(resSession("a", 0, 0.7, false), resSession("b", 60, 0.95, true))
	own := [2][]string{resSession("c", 120, 0.4, false), resSession("d", 180, 0.8, true)}

	// The reference: the same statements, in order, on a fresh embedded store.
	ref := newResNode(t, openPebble(t))
	putObjective(t, ref.st, org, "fire", false)
	for _, raw := range slices.Concat(shared, own[0], own[1]) {
		ref.mustPost(t, org, raw)
	}
	want := resSummary(ref.mustResult(t, resKey(org, "fire")))

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, p := range []*resNode{p1, p2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stmts := slices.Concat(shared, own[i])
			rand.New(rand.NewPCG(uint64(i), 5)).Shuffle(len(stmts), func(a, b int) { stmts[a], stmts[b] = stmts[b], stmts[a] })
			for len(stmts) > 0 {
				k := min(3, len(stmts))
				if err := p.post(t, org, stmts[:k]...); err != nil {
					errs <- fmt.Errorf("process %d: %w", i+1, err)
					return
				}
				stmts = stmts[k:]
			}
			errs <- nil
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r := p2.mustResult(t, resKey(org, "fire"))
	if got := resSummary(r); got != want {
		t.Errorf("two processes\n got %s\nwant %s", got, want)
	}
	if n := p1.changes.Load() + p2.changes.Load(); n != r.Revision {
		t.Errorf("the processes announced %d changes; the result is at revision %d", n, r.Revision)
	}
}
