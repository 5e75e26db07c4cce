package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// CheckForwardRecordsV0 checks that s reads back, through the contract,
// the forwarding records an engine wrote before they had a version of
// their own. Each engine keeps those records (its bytes or documents, as
// written then) in its testdata and loads them into a fresh store before
// calling this; they were written by these calls:
//
//	PutConfiguration(cfg-1 of acme: "Moodlé", account identifier, two properties, a sealed secret, revision 3)
//	PutObjective(obj-1: https://acme.example/quiz/1, passed and failed, attached to cfg-1)
//	EnsureDeliveries(111… pending at +20 s, 222… pending at +21 s, 333… skipped)
//	ClaimDeliveries(host-1-abcd, +30 s, 1 min, 2); 222… failed once (HTTP 503), 111… stays leased
//	PutStatus(Server Error), AddAttempt(transient 503), SetWatermark(reconcile/acme, +40 s)
//
// where the times are counted from 2025-11-20T08:30:15.123Z.
func CheckForwardRecordsV0(t *testing.T, s forward.Store) {
	t.Helper()
	ctx := t.Context()
	base := time.Date(2025, 11, 20, 8, 30, 15, 123000000, time.UTC)
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	const (
		org                = "acme"
		s1, s2, s3         = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
		quiz, passed, fail = "https://acme.example/quiz/1", "http://adlnet.gov/expapi/verbs/passed", "http://adlnet.gov/expapi/verbs/failed"
	)

	c, err := s.GetConfiguration(ctx, org, "cfg-1")
	if err != nil {
		t.Fatalf("GetConfiguration: %v", err)
	}
	if c.ID != "cfg-1" || c.Org != org || c.Name != "Moodlé" || c.ContactEmail != "ops@acme.example" || c.Type != "xapi" ||
		c.Identifier != forward.IdentifierAccount || len(c.Properties) != 2 || c.Properties["endpoint"] != "https://lms.acme.example/xapi/" ||
		c.Properties["version"] != "2.0.0" || string(c.SealedSecret) != "\x01\x00\x02\xff\x07\x09" ||
		!c.CreatedAt.Equal(at(0)) || !c.UpdatedAt.Equal(at(10)) || c.Revision != 3 {
		t.Errorf("configuration = %+v", c)
	}
	if l, err := s.ListConfigurations(ctx, org); err != nil || len(l) != 1 || l[0].Name != "Moodlé" {
		t.Errorf("ListConfigurations = %+v, %v", l, err)
	}

	o, err := s.GetObjective(ctx, org, "obj-1")
	if err != nil {
		t.Fatalf("GetObjective: %v", err)
	}
	if o.Name != "Final quiz" || o.ActivityID != quiz || !slices.Equal(o.Verbs, []string{passed, fail}) ||
		!slices.Equal(o.Configurations, []string{"cfg-1"}) || !o.CreatedAt.Equal(at(1)) || !o.UpdatedAt.Equal(at(2)) {
		t.Errorf("objective = %+v", o)
	}
	if l, err := s.ObjectivesFor(ctx, org, quiz); err != nil || len(l) != 1 || l[0].ID != "obj-1" {
		t.Errorf("ObjectivesFor = %+v, %v", l, err)
	}
	if orgs, err := s.ObjectiveOrgs(ctx); err != nil || !slices.Equal(orgs, []string{org}) {
		t.Errorf("ObjectiveOrgs = %v, %v", orgs, err)
	}

	d1 := mustGetDelivery(t, s, org, "cfg-1", s1)
	if d1.State != forward.StatePending || d1.ObjectiveID != "obj-1" || d1.Participant != "ann-42" || d1.Attempts != 0 ||
		!d1.NextAttempt.Equal(at(20)) || !d1.CreatedAt.Equal(at(20)) || d1.LeaseOwner != "host-1-abcd" || !d1.LeaseUntil.Equal(at(90)) {
		t.Errorf("leased delivery = %+v", d1)
	}
	d2 := mustGetDelivery(t, s, org, "cfg-1", s2)
	if d2.State != forward.StatePending || d2.Attempts != 1 || !d2.NextAttempt.Equal(at(35)) || !d2.FirstFailure.Equal(at(30)) ||
		!d2.LastAttempt.Equal(at(30)) || d2.LastStatus != 503 || d2.LastError != "HTTP 503: busy" || !d2.UpdatedAt.Equal(at(30)) ||
		d2.LeaseOwner != "" || !d2.LeaseUntil.IsZero() {
		t.Errorf("failed delivery = %+v", d2)
	}
	d3 := mustGetDelivery(t, s, org, "cfg-1", s3)
	if d3.State != forward.StateSkipped || d3.Reason != forward.ReasonNoAccount || d3.Participant != "" {
		t.Errorf("skipped delivery = %+v", d3)
	}
	if l, err := s.ListDeliveries(ctx, org, "cfg-1", "", 10); err != nil || !slices.Equal(stmtIDs(l), []string{s3, s2, s1}) {
		t.Errorf("ListDeliveries = %v, %v; want newest first", stmtIDs(l), err)
	}
	if l, err := s.DeliveriesOfStatement(ctx, org, s1); err != nil || len(l) != 1 || l[0].ConfigurationID != "cfg-1" {
		t.Errorf("DeliveriesOfStatement = %+v, %v", l, err)
	}
	n, err := s.CountDeliveries(ctx, org, "cfg-1")
	if err != nil || n.Pending != 2 || n.Skipped != 1 || n.Delivered+n.Parked+n.Rejected != 0 || !n.OldestPending.Equal(at(20)) {
		t.Errorf("CountDeliveries = %+v, %v", n, err)
	}

	st, err := s.GetStatus(ctx, org, "cfg-1")
	if err != nil || st.Status != forward.StatusServerError || st.LastError != "HTTP 503: busy" || st.LastStatus != 503 ||
		!st.FirstFailure.Equal(at(30)) || !st.LastSuccess.Equal(at(-3600)) || !st.LastAlert.Equal(at(31)) ||
		st.AlertedStatus != forward.StatusServerError || !st.UpdatedAt.Equal(at(31)) {
		t.Errorf("status = %+v, %v", st, err)
	}
	as, err := s.ListAttempts(ctx, org, "cfg-1", 10)
	if err != nil || len(as) != 1 || !slices.Equal(as[0].StatementIDs, []string{s2}) || !as[0].At.Equal(at(30)) ||
		as[0].Duration != 1234567*time.Microsecond || as[0].Outcome != forward.OutcomeTransient || as[0].Status != 503 || as[0].Response != "HTTP 503: busy" {
		t.Errorf("attempts = %+v, %v", as, err)
	}
	if w, err := s.GetWatermark(ctx, "reconcile/"+org); err != nil || !w.Equal(at(40)) {
		t.Errorf("watermark = %v, %v", w, err)
	}

	// The old queue works on: the failed delivery is claimable when due,
	// the leased one once its lease runs out, and their updates store.
	if got := mustClaim(t, s, "w", at(40), time.Minute, 10); !slices.Equal(stmtIDs(got), []string{s2}) {
		t.Errorf("claim at +40 s = %v, want the failed delivery alone", stmtIDs(got))
	}
	got := mustClaim(t, s, "w", at(90), time.Minute, 10)
	if !slices.Equal(stmtIDs(got), []string{s1}) {
		t.Fatalf("claim at +90 s = %v, want the delivery whose lease ran out", stmtIDs(got))
	}
	got[0].State, got[0].Attempts, got[0].UpdatedAt = forward.StateDelivered, 1, at(91)
	if err := s.UpdateDelivery(ctx, got[0], "w"); err != nil {
		t.Fatal(err)
	}
	if d := mustGetDelivery(t, s, org, "cfg-1", s1); d.State != forward.StateDelivered || d.LeaseOwner != "" {
		t.Errorf("after the update: %+v", d)
	}
}
