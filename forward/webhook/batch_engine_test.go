package webhook_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// batchRig is the one engine with a batch-mode webhook configuration on
// the in-memory store, every part on one injected clock.
type batchRig struct {
	db      *forwardtest.Memory
	clock   *clock
	obl     *forward.Obligations
	engine  *forward.Engine
	recv    *webhooktest.Receiver
	obj     forward.Objective
	secrets map[string]string
}

const batchOrg = "org"

func newBatchRig(t *testing.T, props, secrets map[string]string, start time.Time) *batchRig {
	t.Helper()
	clk := &clock{t: start}
	recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Now: clk.Now, Envelope: "items", Key: "reference",
		Fields: []webhooktest.Check{{Field: "email", Type: "email", Required: true}, {Field: "completed_on", Type: "date:YYYY-MM-DD", Required: true}}})
	typ := webhook.Type(webhook.TypeOptions{Egress: forwardtest.Loopback, Now: clk.Now})
	types := forwardtest.Registry(t, typ)
	props["url"] = recv.URL + "/batch"
	if secrets == nil {
		secrets = map[string]string{"signing_secret": secret}
	}
	if errs := typ.Check(props, secrets); len(errs) > 0 {
		t.Fatal(errs)
	}
	sealer, err := forward.NewSealer(make([]byte, forward.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Seal(batchOrg, "ams", secrets)
	if err != nil {
		t.Fatal(err)
	}
	db := forwardtest.NewMemory()
	ctx := t.Context()
	if err := db.PutConfiguration(ctx, forward.Configuration{ID: "ams", Org: batchOrg, Name: "AMS", Type: webhook.TypeName,
		ContactEmail: "ops@example.com", Properties: props, SealedSecret: sealed, Revision: 1, CreatedAt: start, UpdatedAt: start}); err != nil {
		t.Fatal(err)
	}
	obj := forward.Objective{ID: "fire", Org: batchOrg, Name: "Fire safety", ActivityID: "https://courses.example.com/fire",
		Configurations: []string{"ams"}, CreatedAt: start, UpdatedAt: start}
	if err := db.PutObjective(ctx, obj); err != nil {
		t.Fatal(err)
	}
	obl := forward.NewObligations(db, slog.New(slog.DiscardHandler), clk.Now)
	obl.SetSinks(types)
	engine, err := forward.New(db, &forwardtest.Statements{}, types, sealer.OpenConfiguration, slog.New(slog.DiscardHandler),
		forward.NewMetrics(prometheus.NewRegistry(), webhook.TypeName), forward.Options{Owner: "test", Now: clk.Now, Rand: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	return &batchRig{db: db, clock: clk, obl: obl, engine: engine, recv: recv, obj: obj, secrets: secrets}
}

// complete stores a completed result of the participant and tells the
// obligations, as the read model does.
func (r *batchRig) complete(t *testing.T, email string) {
	t.Helper()
	yes := true
	now := r.clock.Now()
	res := forward.ObjectiveResult{
		ResultKey: forward.ResultKey{Org: batchOrg, ObjectiveID: r.obj.ID, Participant: "mbox:mailto:" + email},
		Actor:     forward.Actor{Mbox: "mailto:" + email},
		Computed:  forward.Values{Completion: &yes, CompletedAt: now, LastActivity: now},
		Revision:  1, CreatedAt: now, UpdatedAt: now, RulesAt: r.obj.UpdatedAt,
	}
	if _, err := r.db.PutResults(t.Context(), []forward.ObjectiveResult{res}, false); err != nil {
		t.Fatal(err)
	}
	if err := r.obl.ResultChanged(t.Context(), forward.ResultChange{ResultKey: res.ResultKey, Revision: 1, Changed: true, Result: &res}); err != nil {
		t.Fatal(err)
	}
}

func (r *batchRig) tick(t *testing.T) {
	t.Helper()
	for range 10 { // until nothing is claimed
		n, err := r.engine.Tick(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the engine still claims after 10 rounds")
}

func (r *batchRig) counts(t *testing.T) forward.Counts {
	t.Helper()
	n, err := r.db.CountDeliveries(t.Context(), batchOrg, "ams")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A daily batch at 02:00 in Chicago: results of the day are held (the
// engine looks every round and sends nothing), all of them go at 02:00
// Chicago time (07:00 UTC in September) as one signed request with its
// batch_id, once; what comes after waits for the next day's 02:00.
func TestScheduledBatchSentOnceAtItsTime(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, chicago)
	r := newBatchRig(t, map[string]string{"mode": "batch", "schedule": "0 2 * * *", "zone": "America/Chicago",
		"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true},
			{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}, nil, start)

	for i, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
		r.clock.Set(start.Add(time.Duration(i) * time.Hour))
		r.complete(t, email)
		r.tick(t)
	}
	at := time.Date(2026, 9, 3, 2, 0, 0, 0, chicago)
	for _, now := range []time.Time{at.Add(-time.Hour), at.Add(-time.Second)} {
		r.clock.Set(now)
		r.tick(t)
	}
	if n := len(r.recv.Requests()); n != 0 {
		t.Fatalf("%d requests before the scheduled time", n)
	}
	if n := r.counts(t); n.Pending != 3 {
		t.Fatalf("counts before the batch: %+v", n)
	}
	ds, err := r.db.ListDeliveries(t.Context(), batchOrg, "ams", forward.StatePending, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if !d.NextAttempt.Equal(at) {
			t.Errorf("a held delivery is due at %v, want the batch's time %v", d.NextAttempt, at.UTC())
		}
	}

	r.clock.Set(at)
	r.tick(t)
	got := r.recv.Accepted()
	if len(got) != 1 || len(got[0].Items) != 3 {
		t.Fatalf("at 02:00 Chicago: %d accepted requests (%d in all), want one with the 3 items", len(got), len(r.recv.Requests()))
	}
	var env struct {
		BatchID string `json:"batch_id"`
	}
	if err := json.Unmarshal(got[0].Body, &env); err != nil || env.BatchID == "" || env.BatchID != got[0].ID() {
		t.Errorf("the envelope's batch_id %q, webhook-id %q (%v)", env.BatchID, got[0].ID(), err)
	}
	if n := r.counts(t); n.Delivered != 3 || n.Pending != 0 {
		t.Errorf("counts after the batch: %+v", n)
	}

	// Later that night: nothing more; a new result waits for the next 02:00.
	r.clock.Set(at.Add(5 * time.Minute))
	r.complete(t, "dee@example.com")
	r.tick(t)
	r.clock.Set(at.Add(23 * time.Hour))
	r.tick(t)
	if n := len(r.recv.Requests()); n != 1 {
		t.Fatalf("%d requests the day after, want still the one batch", n)
	}
	r.clock.Set(at.AddDate(0, 0, 1))
	r.tick(t)
	if got := r.recv.Accepted(); len(got) != 2 || len(got[1].Items) != 1 {
		t.Errorf("the next day's batch: %d accepted", len(got))
	}
}

// A batch of at most so many items goes when that many are queued, and a
// failed batch is retried on the retry schedule, not held for the next
// scheduled time.
func TestScheduledBatchMaxItemsAndRetry(t *testing.T) {
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	r := newBatchRig(t, map[string]string{"mode": "batch", "max_items": "2", "schedule": "0 2 * * *",
		"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true},
			{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}, nil, start)
	r.recv.Then(webhooktest.Answer{Status: 503})
	r.complete(t, "ada@example.com")
	r.tick(t)
	if n := len(r.recv.Requests()); n != 0 {
		t.Fatalf("%d requests with one of two items queued", n)
	}
	r.complete(t, "bob@example.com")
	r.tick(t)
	if q := r.recv.Requests(); len(q) != 1 || len(q[0].Items) != 2 || q[0].Status != 503 {
		t.Fatalf("at two items: %d requests", len(q))
	}
	// The retry schedule's first delay is 5 s: the failed batch goes again
	// then (the head of the queue probes the receiver alone, the rest
	// follows), not at the next scheduled time.
	r.clock.Set(start.Add(10 * time.Second))
	r.tick(t)
	refs := map[any]int{}
	for _, it := range r.recv.Items() {
		refs[it["reference"]]++
	}
	if n := r.counts(t); len(refs) != 2 || n.Delivered != 2 || n.Pending != 0 {
		t.Fatalf("the retry: items %v; %+v", refs, n)
	}
	for ref, k := range refs {
		if k != 1 {
			t.Errorf("%v accepted %d times", ref, k)
		}
	}
}

// A daily file at 05:00 in Berlin: the day's results are held, then
// written as one CSV (header row of the targets, RFC 4180 quoting) and
// uploaded over SFTP with the host key pinned, once; the file is named
// after its scheduled time.
func TestScheduledFileUploadedOnceAtItsTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "sftp-pw-123"})
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, berlin)
	r := newBatchRig(t, map[string]string{"mode": "file", "schedule": "0 5 * * *", "zone": "Europe/Berlin",
		"sftp_address": srv.Addr, "sftp_user": "lrs", "sftp_host_key": srv.HostKeyLine(), "file_prefix": "ce",
		"fields": `[{"target":"Member Email","source":"participant.email","required":true},{"target":"Course, Name","source":"objective.name"},
			{"target":"Completed","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`},
		map[string]string{"sftp_password": "sftp-pw-123"}, start)
	if res := r.testResult(t); res.Outcome != forward.OutcomeSuccess || len(srv.Files(t)) != 0 {
		t.Fatalf("the test: %+v, files %v", res, srv.Files(t))
	}
	r.complete(t, "ada@example.com")
	r.clock.Set(start.Add(2 * time.Hour))
	r.complete(t, "bob@example.com")
	r.tick(t)
	at := time.Date(2026, 9, 3, 5, 0, 0, 0, berlin)
	r.clock.Set(at.Add(-time.Second))
	r.tick(t)
	if files := srv.Files(t); len(files) != 0 {
		t.Fatalf("files before 05:00: %v", files)
	}
	r.clock.Set(at.Add(3 * time.Second))
	r.tick(t)
	r.clock.Set(at.Add(time.Hour))
	r.tick(t)
	files := srv.Files(t)
	if len(files) != 1 {
		t.Fatalf("files after 05:00: %v", files)
	}
	for name, data := range files {
		if !strings.HasPrefix(name, "ce-20260903-050000-") || !strings.HasSuffix(name, ".csv") {
			t.Errorf("file name %s", name)
		}
		want := "Member Email,\"Course, Name\",Completed\r\nada@example.com,Fire safety,2026-09-02\r\nbob@example.com,Fire safety,2026-09-02\r\n"
		if data != want {
			t.Errorf("file %s:\n%q\nwant\n%q", name, data, want)
		}
	}
	if n := r.counts(t); n.Delivered != 2 || n.Pending != 0 {
		t.Errorf("counts after the file: %+v", n)
	}
	// A copy is kept for re-download, and dropped by the daily sweep after 28 days.
	kept, err := r.db.ListFiles(t.Context(), batchOrg, "ams", 10)
	if err != nil || len(kept) != 1 || kept[0].Rows != 2 {
		t.Fatalf("kept files: %+v, %v", kept, err)
	}
	for name, data := range files {
		f, err := r.db.GetFile(t.Context(), batchOrg, "ams", name)
		if err != nil || string(f.Data) != data {
			t.Errorf("the kept copy of %s: %q, %v", name, f.Data, err)
		}
	}
	// (The days between get header-only files: TestScheduledFileOnADayWithNothingToSend.)
	r.clock.Set(at.Add(27 * 24 * time.Hour))
	r.tick(t)
	if _, err := r.db.GetFile(t.Context(), batchOrg, "ams", kept[0].Name); err != nil {
		t.Errorf("after 27 days: the file is not kept: %v", err)
	}
	r.clock.Set(at.Add(29 * 24 * time.Hour))
	r.tick(t)
	if _, err := r.db.GetFile(t.Context(), batchOrg, "ams", kept[0].Name); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("after 29 days: the file is still kept (%v)", err)
	}
}

// A daily file goes every day: on a day with nothing to send it is the
// header row only (an AMS import job that runs every day finds the day's
// file, and a missing one means a fault), written once at the scheduled
// time; a result that comes later goes in the next day's file.
func TestScheduledFileOnADayWithNothingToSend(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "sftp-pw-123"})
	start := time.Date(2026, 9, 2, 10, 0, 0, 0, berlin)
	r := newBatchRig(t, map[string]string{"mode": "file", "schedule": "0 5 * * *", "zone": "Europe/Berlin",
		"sftp_address": srv.Addr, "sftp_user": "lrs", "sftp_host_key": srv.HostKeyLine(), "file_prefix": "ce",
		"fields": `[{"target":"Member Email","source":"participant.email","required":true},
			{"target":"Completed","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`},
		map[string]string{"sftp_password": "sftp-pw-123"}, start)
	r.tick(t)
	at := time.Date(2026, 9, 3, 5, 0, 0, 0, berlin)
	r.clock.Set(at.Add(-time.Minute))
	r.tick(t)
	if files := srv.Files(t); len(files) != 0 {
		t.Fatalf("files before the first 05:00: %v", files)
	}
	for _, d := range []time.Duration{30 * time.Second, 2 * time.Minute, time.Hour, 10 * time.Hour} {
		r.clock.Set(at.Add(d))
		r.tick(t)
	}
	files := srv.Files(t)
	if len(files) != 1 {
		t.Fatalf("files on the first day: %v", files)
	}
	for name, data := range files {
		if !strings.HasPrefix(name, "ce-20260903-050000-") || data != "Member Email,Completed\r\n" {
			t.Errorf("the day's file %s: %q, want the header row only", name, data)
		}
	}
	kept, err := r.db.ListFiles(t.Context(), batchOrg, "ams", 10)
	if err != nil || len(kept) != 1 || kept[0].Rows != 0 {
		t.Fatalf("kept files: %+v, %v", kept, err)
	}
	st, err := r.db.GetStatus(t.Context(), batchOrg, "ams")
	if err != nil || st.Status != forward.StatusOK || st.LastSuccess.Before(at) {
		t.Errorf("status after the header-only file: %+v, %v", st, err)
	}
	attempts, err := r.db.ListAttempts(t.Context(), batchOrg, "ams", 10)
	if err != nil || len(attempts) != 1 || attempts[0].Outcome != forward.OutcomeSuccess || !strings.Contains(attempts[0].Response, "header-only") {
		t.Errorf("attempts: %+v, %v", attempts, err)
	}

	// A result after 05:00 waits for the next day's file, which has its row
	// (and no header-only file is written beside it).
	r.complete(t, "ada@example.com")
	r.tick(t)
	next := at.AddDate(0, 0, 1)
	for _, d := range []time.Duration{-time.Minute, 30 * time.Second, 2 * time.Minute, time.Hour} {
		r.clock.Set(next.Add(d))
		r.tick(t)
	}
	files = srv.Files(t)
	if len(files) != 2 {
		t.Fatalf("files after the second day: %v", files)
	}
	for name, data := range files {
		if strings.HasPrefix(name, "ce-20260904-050000-") && data != "Member Email,Completed\r\nada@example.com,2026-09-03\r\n" {
			t.Errorf("the second day's file %s: %q", name, data)
		}
	}
	if n := r.counts(t); n.Delivered != 1 || n.Pending != 0 {
		t.Errorf("counts: %+v", n)
	}
}

// testResult is the configuration's test action.
func (r *batchRig) testResult(t *testing.T) forward.Result {
	t.Helper()
	cfg, err := r.db.GetConfiguration(t.Context(), batchOrg, "ams")
	if err != nil {
		t.Fatal(err)
	}
	typ := webhook.Type(webhook.TypeOptions{Egress: forwardtest.Loopback, Now: r.clock.Now})
	d, err := typ.Factory(cfg, r.secrets)
	if err != nil {
		t.Fatal(err)
	}
	return d.(forward.Tester).Test(t.Context())
}

// A batch that fails (max_items reached, the receiver down) is retried
// through the open circuit's probes until it is delivered, while a result
// that arrives meanwhile is held for the scheduled time and sent then:
// nothing is lost, nothing left for the next day.
func TestScheduledBatchAfterAFailure(t *testing.T) {
	start := time.Date(2026, 9, 2, 1, 0, 0, 0, time.UTC)
	r := newBatchRig(t, map[string]string{"mode": "batch", "max_items": "2", "schedule": "0 2 * * *",
		"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true},
			{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}, nil, start)
	// Two results make a batch at once; the receiver is down three times.
	r.recv.Then(webhooktest.Answer{Status: 503}, webhooktest.Answer{Status: 503}, webhooktest.Answer{Status: 503})
	r.complete(t, "ada@example.com")
	r.complete(t, "bob@example.com")
	r.tick(t)
	for _, d := range []time.Duration{10 * time.Second, 2 * time.Minute} {
		r.clock.Set(start.Add(d))
		r.tick(t)
	}
	// A third result before 02:00 is held, and goes at 02:00.
	r.clock.Set(start.Add(30 * time.Minute))
	r.complete(t, "cy@example.com")
	r.tick(t)
	r.clock.Set(time.Date(2026, 9, 2, 2, 0, 0, 0, time.UTC))
	r.tick(t)
	refs := map[any]int{}
	for _, it := range r.recv.Items() {
		refs[it["reference"]]++
	}
	if n := r.counts(t); len(refs) != 3 || n.Delivered != 3 || n.Pending != 0 {
		t.Errorf("at 02:00 after a failure: items %v, %+v (%d requests)", refs, n, len(r.recv.Requests()))
	}
}
