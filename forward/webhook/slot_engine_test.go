package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// otherEngine is a second process's engine on the rig's store (or st, a
// view of it), on the rig's clock.
func (r *batchRig) otherEngine(t *testing.T, st forward.Store, owner string) *forward.Engine {
	t.Helper()
	types := forwardtest.Registry(t, webhook.Type(webhook.TypeOptions{Egress: forwardtest.Loopback, Now: r.clock.Now}))
	sealer, err := forward.NewSealer(make([]byte, forward.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e, err := forward.New(st, &forwardtest.Statements{}, types, sealer.OpenConfiguration, slog.New(slog.DiscardHandler),
		forward.NewMetrics(prometheus.NewRegistry(), webhook.TypeName), forward.Options{Owner: owner, Now: r.clock.Now, Rand: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// staleStatus is a process that read the configuration's status before
// another process wrote it: every GetStatus answers what it read then.
type staleStatus struct {
	*forwardtest.Memory
	st  forward.ConfigStatus
	err error
}

func (s staleStatus) GetStatus(context.Context, string, string) (forward.ConfigStatus, error) {
	return s.st, s.err
}

// A backlog larger than one claim (1000 items) at a scheduled time goes at
// that time, in as many claims as it takes, in requests of the default 100
// items: none waits for the next day.
func TestScheduledBacklogDrainsAtItsTime(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, chicago)
	r := newBatchRig(t, map[string]string{"mode": "batch", "schedule": "0 2 * * *", "zone": "America/Chicago",
		"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true},
			{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}, nil, start)
	const n = 1234
	for i := range n {
		r.complete(t, fmt.Sprintf("p%04d@example.com", i))
	}
	r.tick(t)
	if got := len(r.recv.Requests()); got != 0 {
		t.Fatalf("%d requests before the scheduled time", got)
	}
	r.clock.Set(time.Date(2026, 9, 3, 2, 0, 0, 0, chicago))
	r.tick(t)
	got := r.recv.Accepted()
	items := 0
	for _, q := range got {
		if len(q.Items) > webhook.DefaultMaxItems {
			t.Errorf("a request of %d items", len(q.Items))
		}
		items += len(q.Items)
	}
	if want := (n + webhook.DefaultMaxItems - 1) / webhook.DefaultMaxItems; len(got) != want || items != n || len(r.recv.Items()) != n {
		t.Fatalf("at 02:00: %d requests with %d items (%d distinct), want %d with %d", len(got), items, len(r.recv.Items()), want, n)
	}
	if c := r.counts(t); c.Delivered != n || c.Pending != 0 {
		t.Errorf("counts after the drain: %+v", c)
	}
}

// Two processes that find the same scheduled time owed send it once: the
// one that claims the time uploads the day's header-only file, and the
// other, which read the configuration's status before the first wrote its
// success (the race of two processes at the same moment), finds the time
// claimed and uploads nothing.
func TestScheduledTimeSentByOneProcess(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "sftp-pw-123"})
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, berlin)
	r := newBatchRig(t, map[string]string{"mode": "file", "schedule": "0 5 * * *", "zone": "Europe/Berlin",
		"sftp_address": srv.Addr, "sftp_user": "lrs", "sftp_host_key": srv.HostKeyLine(),
		"fields": `[{"target":"Member Email","source":"participant.email","required":true}]`},
		map[string]string{"sftp_password": "sftp-pw-123"}, start)
	before, statusErr := r.db.GetStatus(t.Context(), batchOrg, "ams")
	other := r.otherEngine(t, staleStatus{r.db, before, statusErr}, "other")

	r.clock.Set(time.Date(2026, 9, 3, 5, 0, 3, 0, berlin))
	r.tick(t)
	if n := srv.Logins(); n != 1 || len(srv.Files(t)) != 1 {
		t.Fatalf("the first process: %d uploads, files %v", n, srv.Files(t))
	}
	if _, err := other.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := srv.Logins(); n != 1 {
		t.Errorf("the second process uploaded the time's file again: %d uploads", n)
	}
	// The next day's time is claimed afresh: the other process may take it.
	r.clock.Set(time.Date(2026, 9, 4, 5, 0, 3, 0, berlin))
	if _, err := other.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := srv.Logins(); n != 2 || len(srv.Files(t)) != 2 {
		t.Errorf("the next day: %d uploads, files %v", srv.Logins(), srv.Files(t))
	}
}

// A 410 Gone stops sending to the configuration's revision on every
// process: the stop is in the configuration's status, so a second
// process (or this one restarted) sends nothing, even to a receiver that
// answers again; an edit resumes, and what waited goes. (A batch of one
// item at a time: the rig's receiver takes batches.)
func TestGoneStopsEveryProcessUntilEdited(t *testing.T) {
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	r := newBatchRig(t, map[string]string{"mode": "batch", "max_items": "1", "fields": `[{"target":"reference","source":"result.key","required":true},
		{"target":"email","source":"participant.email","required":true},
		{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}, nil, start)
	r.recv.Then(webhooktest.Answer{Status: http.StatusGone})
	r.complete(t, "ada@example.com")
	r.tick(t)
	st, err := r.db.GetStatus(t.Context(), batchOrg, "ams")
	if err != nil || st.Status != forward.StatusServerError || st.StoppedRevision != 1 || st.StoppedAt.IsZero() {
		t.Fatalf("after the 410: %+v, %v", st, err)
	}
	// The receiver answers again, but nothing goes from another process
	// (or this one restarted), not even a probe; the first one is gone.
	other := r.otherEngine(t, r.db, "other")
	r.complete(t, "bob@example.com")
	for i := range 4 {
		r.clock.Set(start.Add(time.Duration(i+1) * time.Hour))
		if _, err := other.Tick(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.recv.Requests()); n != 1 {
		t.Fatalf("%d requests after the 410, want only the one answered 410", n)
	}
	if c := r.counts(t); c.Pending != 2 {
		t.Errorf("counts while stopped: %+v (nothing is lost: both stay queued)", c)
	}
	// An edit (a new revision) resumes, on the other process too.
	cfg, err := r.db.GetConfiguration(t.Context(), batchOrg, "ams")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Revision, cfg.UpdatedAt = cfg.Revision+1, r.clock.Now()
	if err := r.db.PutConfiguration(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.Redrive(t.Context(), batchOrg, "ams", []string{forward.StatePending}, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	other.Redriven(batchOrg, "ams")
	if _, err := other.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := r.recv.Items(); len(got) != 2 {
		t.Fatalf("after the edit: %d items accepted, want 2 (%d requests)", len(got), len(r.recv.Requests()))
	}
	if st, _ := r.db.GetStatus(t.Context(), batchOrg, "ams"); st.Status != forward.StatusOK || st.StoppedRevision != 0 {
		t.Errorf("status after the edit: %+v", st)
	}
}

// editOnClaim is a store on which the configuration is edited (a new
// revision, its pending deliveries re-driven, as the admin API does) by
// another process between a job's read of the configuration and its claim:
// the claim then takes deliveries the edit made due, for a job that still
// holds the revision that was stopped.
type editOnClaim struct {
	*forwardtest.Memory
	t     *testing.T
	now   func() time.Time
	armed bool
}

func (s *editOnClaim) ClaimDeliveries(ctx context.Context, c forward.Claim) ([]forward.Delivery, error) {
	if s.armed {
		s.armed = false
		cfg, err := s.GetConfiguration(ctx, c.Org, c.ConfigurationID)
		if err != nil {
			s.t.Fatal(err)
		}
		cfg.Revision, cfg.UpdatedAt = cfg.Revision+1, s.now()
		if err := s.PutConfiguration(ctx, cfg); err != nil {
			s.t.Fatal(err)
		}
		if _, err := s.Redrive(ctx, c.Org, c.ConfigurationID, []string{forward.StatePending}, s.now()); err != nil {
			s.t.Fatal(err)
		}
	}
	return s.Memory.ClaimDeliveries(ctx, c)
}

// A job that read the stopped revision just before an edit resumed the
// configuration leaves what it claimed due, not on the retry schedule: the
// next round sends it with the new revision.
func TestGoneEditedDuringAJobSendsAtOnce(t *testing.T) {
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	r := newBatchRig(t, map[string]string{"mode": "batch", "max_items": "1", "fields": `[{"target":"reference","source":"result.key","required":true},
		{"target":"email","source":"participant.email","required":true},
		{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}, nil, start)
	r.recv.Then(webhooktest.Answer{Status: http.StatusGone})
	r.complete(t, "ada@example.com")
	r.tick(t)
	if st, err := r.db.GetStatus(t.Context(), batchOrg, "ams"); err != nil || st.StoppedRevision != 1 {
		t.Fatalf("after the 410: %+v, %v", st, err)
	}
	st := &editOnClaim{Memory: r.db, t: t, now: r.clock.Now}
	other := r.otherEngine(t, st, "other")
	r.clock.Set(start.Add(time.Hour)) // the first delivery's retry is due: a job claims it
	st.armed = true
	if _, err := other.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st.armed {
		t.Fatal("no job claimed: the test did not run the race")
	}
	for range 3 { // the next rounds, at the same instant: no retry schedule has passed
		if _, err := other.Tick(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.recv.Items(); len(got) != 1 {
		t.Fatalf("after an edit during a job: %d items accepted, want 1 at once (%d requests)", len(got), len(r.recv.Requests()))
	}
}
