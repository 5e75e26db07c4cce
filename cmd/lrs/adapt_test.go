package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/schema"
)

// The LRS service and forwarding, joined by the adapters of adapt.go: a
// stored statement owes its deliveries before the POST is answered, and
// the reconciler finds those whose request failed.

const (
	obOrg   = "org-ob"
	actQuiz = "http://example.com/activities/quiz"
	actPage = "http://example.com/activities/page"
	vPassed = "http://adlnet.gov/expapi/verbs/passed"
	vFailed = "http://adlnet.gov/expapi/verbs/failed"
)

func openPebble(t *testing.T) *pebbledb.DB {
	t.Helper()
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// setupObjectives stores configurations mbox-lms (mbox) and sso-lms
// (account) and the objectives: quiz passed/failed -> both; page (all
// verbs) -> mbox-lms.
func setupObjectives(t *testing.T, db forward.Store, org string) {
	t.Helper()
	ctx := t.Context()
	for _, c := range []forward.Configuration{
		{ID: "mbox-lms", Org: org, Type: "xapi", Identifier: forward.IdentifierMbox},
		{ID: "sso-lms", Org: org, Type: "xapi", Identifier: forward.IdentifierAccount},
	} {
		if err := db.PutConfiguration(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []forward.Objective{
		{ID: "quiz", Org: org, ActivityID: actQuiz, Verbs: []string{vPassed, vFailed}, Configurations: []string{"mbox-lms", "sso-lms"}, CreatedAt: time.Now().Add(-time.Hour)},
		{ID: "page", Org: org, ActivityID: actPage, Configurations: []string{"mbox-lms", "deleted-lms"}, CreatedAt: time.Now().Add(-time.Hour)},
	} {
		if err := db.PutObjective(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

type owed struct{ config, state string }

// owes lists the deliveries a statement owes, by configuration.
func owes(t *testing.T, db forward.Store, org, stmt string) []owed {
	t.Helper()
	ds, err := db.DeliveriesOfStatement(t.Context(), org, stmt)
	if err != nil {
		t.Fatal(err)
	}
	var out []owed
	for _, d := range ds {
		out = append(out, owed{d.ConfigurationID, d.State})
	}
	slices.SortFunc(out, func(a, b owed) int { return strings.Compare(a.config, b.config) })
	return out
}

// failing is an observer that fails while fail is set.
type failing struct {
	inner lrs.StatementObserver
	fail  atomic.Bool
}

func (f *failing) StatementsStored(ctx context.Context, org string, stmts []lrs.StoredStatement) error {
	if f.fail.Load() {
		return errors.New("forwarding store unavailable")
	}
	return f.inner.StatementsStored(ctx, org, stmts)
}

func statement(t *testing.T, id, verb, activity string) *schema.Statement {
	t.Helper()
	st, err := schema.ParseStatement(fmt.Appendf(nil, `{"id":%q,"actor":{"mbox":"mailto:ada@example.com"},"verb":{"id":%q},"object":{"id":%q}}`, id, verb, activity), schema.V2_0_0)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestServiceObserverAndReconciler(t *testing.T) {
	db := openPebble(t)
	setupObjectives(t, db, obOrg)
	ob := forward.NewObligations(db, nil, nil)
	obs := &failing{inner: observer{ob}}
	svc := lrs.NewService(db, lrs.ServiceOptions{Observer: obs})
	w := lrs.Writer{Org: obOrg, Authority: []byte(`{"objectType":"Agent","account":{"homePage":"https://lrs.example","name":"k"}}`)}
	ctx := t.Context()

	// Stored and acknowledged: the deliveries exist.
	s1 := uuid.NewString()
	if _, err := svc.PostStatements(ctx, w, []*schema.Statement{statement(t, s1, vPassed, actQuiz)}, schema.V2_0_0); err != nil {
		t.Fatal(err)
	}
	if got := owes(t, db, obOrg, s1); len(got) != 2 {
		t.Fatalf("after POST: %+v, want 2 deliveries", got)
	}

	// The observer fails: the statement is stored, the request fails.
	obs.fail.Store(true)
	s2 := uuid.NewString()
	if _, err := svc.PostStatements(ctx, w, []*schema.Statement{statement(t, s2, vPassed, actQuiz)}, schema.V2_0_0); err == nil {
		t.Fatal("PostStatements succeeded although the observer failed")
	}
	_, stored2, err := svc.GetStatement(ctx, obOrg, s2, false)
	if err != nil {
		t.Fatalf("the statement was not stored: %v", err)
	}
	// The reconciler scans up to Consistent-Through: wait until it covers s2.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ct, err := svc.ConsistentThrough(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ct.Before(stored2) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consistent-through %v never reached stored %v", ct, stored2)
		}
		time.Sleep(time.Millisecond)
	}
	if got := owes(t, db, obOrg, s2); len(got) != 0 {
		t.Fatalf("deliveries despite the failing observer: %+v", got)
	}
	// The reconciler finds it (the client never retried).
	r := &forward.Reconciler{Store: db, Statements: lrsStatements{svc}, Obligations: ob}
	if err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if got := owes(t, db, obOrg, s2); len(got) != 2 {
		t.Fatalf("after a reconcile pass: %+v, want 2 deliveries", got)
	}
	wm, err := db.GetWatermark(ctx, forward.WatermarkName(obOrg))
	if err != nil {
		t.Fatal(err)
	}
	if wm.IsZero() {
		t.Error("the reconciler did not advance its watermark")
	}

	// A client retry after a failure re-ensures (repeated statement).
	s3 := uuid.NewString()
	if _, err := svc.PostStatements(ctx, w, []*schema.Statement{statement(t, s3, vPassed, actPage)}, schema.V2_0_0); err == nil {
		t.Fatal("PostStatements succeeded although the observer failed")
	}
	obs.fail.Store(false)
	if _, err := svc.PostStatements(ctx, w, []*schema.Statement{statement(t, s3, vPassed, actPage)}, schema.V2_0_0); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := owes(t, db, obOrg, s3); len(got) != 1 || got[0].config != "mbox-lms" {
		t.Fatalf("after the retry: %+v, want the mbox-lms delivery", got)
	}

	// Run stops with its context.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(runCtx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}
