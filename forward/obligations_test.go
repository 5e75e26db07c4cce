package forward_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

const (
	obOrg   = "org-ob"
	obOther = "org-other"
	actQuiz = "http://example.com/activities/quiz"
	actPage = "http://example.com/activities/page"
	vPassed = "http://adlnet.gov/expapi/verbs/passed"
	vFailed = "http://adlnet.gov/expapi/verbs/failed"
	vViewed = "http://adlnet.gov/expapi/verbs/experienced"
)

var obNow = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)

// openStore is the in-memory store of the test kit, which passes the
// storage suite of the engines.
func openStore(t *testing.T) *forwardtest.Memory {
	t.Helper()
	return forwardtest.NewMemory()
}

// setup stores configurations mbox-lms (mbox) and sso-lms (account) and
// the objectives: quiz passed/failed -> both; page (all verbs) -> mbox-lms.
func setup(t *testing.T, db forward.Store, org string) {
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
		{ID: "quiz", Org: org, ActivityID: actQuiz, Verbs: []string{vPassed, vFailed}, Configurations: []string{"mbox-lms", "sso-lms"}, CreatedAt: obNow.Add(-time.Hour)},
		{ID: "page", Org: org, ActivityID: actPage, Configurations: []string{"mbox-lms", "deleted-lms"}, CreatedAt: obNow.Add(-time.Hour)},
	} {
		if err := db.PutObjective(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

type actor string

const (
	mboxActor    actor = `{"mbox":"mailto:ada@example.com"}`
	accountActor actor = `{"account":{"homePage":"https://sso.example.com","name":"ada-42"}}`
	bothActor    actor = `{"mbox":"mailto:ada@example.com","account":{"homePage":"https://sso.example.com","name":"ada-42"}}`
)

func raw(id string, a actor, verb, activity string) forward.Statement {
	return forward.Statement{
		ID:     id,
		Stored: obNow,
		Raw: fmt.Appendf(nil, `{"id":%q,"actor":%s,"verb":{"id":%q},"object":{"objectType":"Activity","id":%q},"stored":%q}`,
			id, a, verb, activity, obNow.Format(time.RFC3339Nano)),
	}
}

type owed struct{ config, state, participant, reason string }

func owes(t *testing.T, db forward.Store, org, stmt string) []owed {
	t.Helper()
	ds, err := db.DeliveriesOfStatement(t.Context(), org, stmt)
	if err != nil {
		t.Fatal(err)
	}
	var out []owed
	for _, d := range ds {
		out = append(out, owed{d.ConfigurationID, d.State, d.Participant, d.Reason})
	}
	slices.SortFunc(out, func(a, b owed) int {
		if a.config < b.config {
			return -1
		}
		if a.config > b.config {
			return 1
		}
		return 0
	})
	return out
}

func TestObligationsMatching(t *testing.T) {
	db := openStore(t)
	setup(t, db, obOrg)
	setup(t, db, obOther)
	ob := forward.NewObligations(db, nil, func() time.Time { return obNow })
	stmts := []forward.Statement{
		raw("s-passed", bothActor, vPassed, actQuiz),
		raw("s-viewed-quiz", bothActor, vViewed, actQuiz), // verb does not count
		raw("s-page", mboxActor, vViewed, actPage),        // verbs empty: all
		raw("s-none", mboxActor, vPassed, "http://example.com/activities/other"),
		raw("s-noemail", accountActor, vFailed, actQuiz),
		raw("s-noaccount", mboxActor, vPassed, actQuiz),
		{ID: "s-ref", Raw: []byte(`{"id":"s-ref","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"` + vPassed + `"},"object":{"objectType":"StatementRef","id":"` + actQuiz + `"}}`)},
	}
	if err := ob.StatementsStored(t.Context(), obOrg, stmts); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]owed{
		"s-passed": {
			{"mbox-lms", forward.StatePending, "ada@example.com", ""},
			{"sso-lms", forward.StatePending, "ada-42", ""},
		},
		"s-viewed-quiz": nil,
		"s-page":        {{"mbox-lms", forward.StatePending, "ada@example.com", ""}},
		"s-none":        nil,
		"s-noemail": {
			{"mbox-lms", forward.StateSkipped, "", forward.ReasonNoMbox},
			{"sso-lms", forward.StatePending, "ada-42", ""},
		},
		"s-noaccount": {
			{"mbox-lms", forward.StatePending, "ada@example.com", ""},
			{"sso-lms", forward.StateSkipped, "", forward.ReasonNoAccount},
		},
		"s-ref": nil,
	}
	for id, want := range cases {
		if got := owes(t, db, obOrg, id); !slices.Equal(got, want) {
			t.Errorf("%s owes %+v, want %+v", id, got, want)
		}
		if got := owes(t, db, obOther, id); len(got) != 0 {
			t.Errorf("%s created deliveries in another organization: %+v", id, got)
		}
	}
	d, err := db.GetDelivery(t.Context(), obOrg, "mbox-lms", "s-passed")
	if err != nil {
		t.Fatal(err)
	}
	if d.ObjectiveID != "quiz" || !d.NextAttempt.Equal(obNow) || !d.CreatedAt.Equal(obNow) {
		t.Errorf("delivery = %+v, want objective quiz, due and created now", d)
	}
}

func TestObligationsIdempotent(t *testing.T) {
	db := openStore(t)
	setup(t, db, obOrg)
	now := obNow
	ob := forward.NewObligations(db, nil, func() time.Time { return now })
	st := raw("s1", bothActor, vPassed, actQuiz)
	if err := ob.StatementsStored(t.Context(), obOrg, []forward.Statement{st}); err != nil {
		t.Fatal(err)
	}
	// The delivery progresses; a retry of the statement leaves it alone.
	var got []forward.Delivery
	due, err := db.DueConfigurations(t.Context(), now)
	for _, k := range due {
		ds, cerr := db.ClaimDeliveries(t.Context(), forward.Claim{Org: k.Org, ConfigurationID: k.ID, Owner: "w", Now: now, Lease: time.Minute, Limit: 10})
		err = errors.Join(err, cerr)
		got = append(got, ds...)
	}
	if err != nil || len(got) != 2 {
		t.Fatalf("claim: %v, %d deliveries", err, len(got))
	}
	for _, d := range got {
		d.State, d.Attempts = forward.StateDelivered, 1
		if err := db.UpdateDelivery(t.Context(), d, "w"); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	if err := ob.StatementsStored(t.Context(), obOrg, []forward.Statement{st, st}); err != nil {
		t.Fatal(err)
	}
	for _, o := range owes(t, db, obOrg, "s1") {
		if o.state != forward.StateDelivered {
			t.Errorf("re-ensuring changed %s to %s", o.config, o.state)
		}
	}
	c, err := db.CountDeliveries(t.Context(), obOrg, "mbox-lms")
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivered != 1 || c.Pending != 0 {
		t.Errorf("counts after re-ensure: %+v", c)
	}
}

// countingStore counts ListObjectives calls.
type countingStore struct {
	*forwardtest.Memory
	lists atomic.Int32
}

func (c *countingStore) ListObjectives(ctx context.Context, org string) ([]forward.Objective, error) {
	c.lists.Add(1)
	return c.Memory.ListObjectives(ctx, org)
}

func TestObligationsCache(t *testing.T) {
	db := openStore(t)
	cs := &countingStore{Memory: db}
	now := obNow
	ob := forward.NewObligations(cs, nil, func() time.Time { return now })
	st := raw("s1", mboxActor, vPassed, actQuiz)
	// No objectives yet: cached as such.
	for range 3 {
		if err := ob.StatementsStored(t.Context(), obOrg, []forward.Statement{st}); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.lists.Load(); n != 1 {
		t.Errorf("ListObjectives called %d times within the TTL, want 1", n)
	}
	setup(t, db, obOrg)
	ob.Invalidate(obOrg)
	if err := ob.StatementsStored(t.Context(), obOrg, []forward.Statement{st}); err != nil {
		t.Fatal(err)
	}
	if got := owes(t, db, obOrg, "s1"); len(got) != 2 {
		t.Errorf("after Invalidate the new objective counts: %+v", got)
	}
	// Edits are also seen once the TTL passes.
	if err := db.DeleteObjective(t.Context(), obOrg, "quiz"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(forward.ObligationsTTL + time.Second)
	if err := ob.StatementsStored(t.Context(), obOrg, []forward.Statement{raw("s2", mboxActor, vPassed, actQuiz)}); err != nil {
		t.Fatal(err)
	}
	if got := owes(t, db, obOrg, "s2"); len(got) != 0 {
		t.Errorf("a deleted objective still counts after the TTL: %+v", got)
	}
}
