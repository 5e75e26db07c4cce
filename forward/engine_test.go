package forward_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/email"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/xapi"
)

const org = "org1"

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// recordingAlerter keeps the alerts it was given.
type recordingAlerter struct {
	mu     sync.Mutex
	alerts []forward.Alert
}

func (r *recordingAlerter) Alert(_ context.Context, a forward.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
	return nil
}

func (r *recordingAlerter) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.alerts {
		out = append(out, a.Kind+":"+a.Status.Status)
	}
	return out
}

type harness struct {
	t       *testing.T
	store   forward.Store
	clock   *forwardtest.Clock
	up      *forwardtest.Statements
	down    *forwardtest.LRS
	sealer  *forward.Sealer
	engine  *forward.Engine
	reg     *prometheus.Registry
	alerter forward.Alerter
}

// newHarness runs the engine over the in-memory store of the test kit
// (which passes the storage suite of the engines; cmd/lrs runs the engine
// over the engines themselves) and a downstream LRS.
func newHarness(t *testing.T, alerter forward.Alerter) *harness {
	t.Helper()
	store := forwardtest.NewMemory()
	key := make([]byte, forward.KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	sealer, err := forward.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, store: store, clock: forwardtest.NewClock(t0), up: &forwardtest.Statements{},
		down: forwardtest.NewLRS(t, nil), sealer: sealer, reg: prometheus.NewRegistry(), alerter: alerter,
	}
	types := forwardtest.Registry(t, xapi.Type(xapi.Options{Egress: forwardtest.Loopback, Timeout: 5 * time.Second, Now: h.clock.Now}))
	h.engine, err = forward.New(h.store, h.up, types, sealer.OpenConfiguration,
		slog.New(slog.DiscardHandler), forward.NewMetrics(h.reg, xapi.TypeName),
		forward.Options{Now: h.clock.Now, Alerter: alerter, Owner: "test", Rand: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// configure stores an xAPI configuration for the downstream with secret.
func (h *harness) configure(id, secret string, revision int64) {
	h.t.Helper()
	sealed, err := h.sealer.Seal(org, id, map[string]string{"key": forwardtest.DownKey, "secret": secret})
	if err != nil {
		h.t.Fatal(err)
	}
	err = h.store.PutConfiguration(context.Background(), forward.Configuration{
		ID: id, Org: org, Name: "LMS " + id, ContactEmail: "admin@example.com", Type: xapi.TypeName,
		Properties: map[string]string{"endpoint": h.down.Endpoint()}, SealedSecret: sealed,
		Revision: revision, UpdatedAt: h.clock.Now(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// enqueue stores upstream statements and their deliveries to configuration id.
func (h *harness) enqueue(id string, statements map[string][]byte) []string {
	h.t.Helper()
	var ds []forward.Delivery
	var ids []string
	for sid, raw := range statements {
		h.up.Put(org, sid, raw)
		ds = append(ds, forward.Delivery{Org: org, ConfigurationID: id, StatementID: sid, State: forward.StatePending,
			NextAttempt: h.clock.Now(), CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()})
		ids = append(ids, sid)
	}
	if err := h.store.EnsureDeliveries(context.Background(), ds); err != nil {
		h.t.Fatal(err)
	}
	return ids
}

func (h *harness) tick() int {
	h.t.Helper()
	n, err := h.engine.Tick(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) delivery(cfg, sid string) forward.Delivery {
	h.t.Helper()
	d, err := h.store.GetDelivery(context.Background(), org, cfg, sid)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) status(cfg string) forward.ConfigStatus {
	h.t.Helper()
	s, err := h.store.GetStatus(context.Background(), org, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func statementID(i int) string { return fmt.Sprintf("6fa459ea-ee8a-4ca4-894e-db77e16035%02d", i) }

func statements(n int) map[string][]byte {
	m := map[string][]byte{}
	for i := range n {
		m[statementID(i)] = forwardtest.Statement(statementID(i), fmt.Sprintf("learner%d@example.com", i))
	}
	return m
}

func (h *harness) wantDeliveredOnce(cfg string, ids []string) {
	h.t.Helper()
	for _, id := range ids {
		if d := h.delivery(cfg, id); d.State != forward.StateDelivered {
			h.t.Errorf("%s: state %s (%s), want delivered", id, d.State, d.LastError)
		}
		if n := h.down.Accepted(id); n != 1 {
			h.t.Errorf("%s accepted %d times downstream, want once", id, n)
		}
		got, err := h.down.Stored(id)
		if err != nil {
			h.t.Errorf("%s not stored downstream: %v", id, err)
			continue
		}
		if got["stored"] == forwardtest.UpstreamStored {
			h.t.Errorf("%s: the upstream stored time was forwarded", id)
		}
		if a, _ := got["authority"].(map[string]any); a == nil || !strings.Contains(fmt.Sprint(a), "forwarder") {
			h.t.Errorf("%s: authority %v, want the downstream's", id, got["authority"])
		}
	}
}

func TestEngineDeliversEachStatementOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.configure("c1", forwardtest.DownSecret, 1)
	ids := h.enqueue("c1", statements(7))
	if n := h.tick(); n != 7 {
		t.Fatalf("claimed %d, want 7", n)
	}
	h.wantDeliveredOnce("c1", ids)
	if s := h.status("c1"); s.Status != forward.StatusOK {
		t.Fatalf("status %+v, want OK", s)
	}
	if h.down.Requests() != 1 {
		t.Fatalf("%d requests, want one batch", h.down.Requests())
	}
	if n := h.tick(); n != 0 {
		t.Fatalf("claimed %d after delivery, want 0", n)
	}
	if got := counterValue(t, h.reg, "lrs_forward_deliveries_total", "delivered"); got != 7 {
		t.Fatalf("delivered counter %v, want 7", got)
	}
	attempts, _ := h.store.ListAttempts(context.Background(), org, "c1", 10)
	if len(attempts) != 1 || attempts[0].Outcome != forward.OutcomeSuccess || len(attempts[0].StatementIDs) != 7 {
		t.Fatalf("attempt log %+v", attempts)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["type"] == xapi.TypeName && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{outcome=%q}", name, outcome)
	return 0
}

// The downstream goes away: Can't Connect, one alert mail; it comes back
// on the same address: the next slot delivers everything once, status OK,
// one recovery mail, and parked deliveries are re-driven.
func TestEngineOutageAndRecovery(t *testing.T) {
	smtpd := forwardtest.NewSMTPServer(t)
	mailer, err := email.New(email.Settings{Host: smtpd.Host, Port: smtpd.Port, From: "lrs@example.com", Username: "u", Password: "p"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, mailer)
	h.configure("c1", forwardtest.DownSecret, 1)
	ids := h.enqueue("c1", statements(3))
	// A delivery parked by an earlier outage.
	parked := statementID(90)
	h.up.Put(org, parked, forwardtest.Statement(parked, "old@example.com"))
	_ = h.store.EnsureDeliveries(context.Background(), []forward.Delivery{{Org: org, ConfigurationID: "c1", StatementID: parked,
		State: forward.StateParked, Attempts: 10, CreatedAt: t0.Add(-48 * time.Hour)}})

	h.down.Stop()
	h.tick()
	for _, id := range ids {
		d := h.delivery("c1", id)
		if d.State != forward.StatePending || d.Attempts != 1 || !d.NextAttempt.Equal(t0.Add(5*time.Second)) || d.FirstFailure != t0 {
			t.Fatalf("after the failure: %+v", d)
		}
	}
	s := h.status("c1")
	if s.Status != forward.StatusCantConnect || s.AlertedStatus != forward.StatusCantConnect {
		t.Fatalf("status %+v, want Can't Connect, alerted", s)
	}
	m := smtpd.Wait(t, 5*time.Second)
	if m.To[0] != "admin@example.com" || !strings.Contains(m.Data, "Can't Connect") || !strings.Contains(m.Data, "multipart/alternative") {
		t.Fatalf("alert mail:\n%s", m.Data)
	}
	if m.Auth != "|u|p" {
		t.Fatalf("auth %q", m.Auth)
	}

	// Nothing is due before the next slot.
	h.clock.Advance(4 * time.Second)
	if n := h.tick(); n != 0 {
		t.Fatalf("claimed %d before the next slot", n)
	}
	h.down.Restart(t)
	h.clock.Advance(2 * time.Second)
	h.tick()
	h.wantDeliveredOnce("c1", ids)
	s = h.status("c1")
	if s.Status != forward.StatusOK || !s.FirstFailure.IsZero() {
		t.Fatalf("status %+v, want OK", s)
	}
	// The recovery re-drove the parked delivery, sent in the same round.
	h.wantDeliveredOnce("c1", []string{parked})
	// The recovery is mailed once the configuration has stayed OK for the
	// recovery delay, and an hour after the last mail.
	h.clock.Advance(15 * time.Minute)
	h.tick()
	select {
	case m := <-smtpd.Mail:
		t.Fatalf("a recovery mail within the hour of the alert:\n%s", m.Data)
	default:
	}
	h.clock.Advance(45 * time.Minute)
	h.tick()
	m = smtpd.Wait(t, 5*time.Second)
	if !strings.Contains(m.Data, "OK again") {
		t.Fatalf("recovery mail:\n%s", m.Data)
	}
	if s := h.status("c1"); s.AlertedStatus != forward.StatusOK {
		t.Fatalf("status after the recovery mail %+v", s)
	}
	h.clock.Advance(2 * time.Hour)
	h.tick()
	select {
	case m := <-smtpd.Mail:
		t.Fatalf("unexpected mail:\n%s", m.Data)
	default:
	}
}

// A full cycle of failures parks the delivery after ten attempts, within
// 24 hours, with one alert; the daily sweep re-drives it.
func TestEngineParksAfterTheScheduleAndSweeps(t *testing.T) {
	alerts := &recordingAlerter{}
	h := newHarness(t, alerts)
	h.configure("c1", forwardtest.DownSecret, 1)
	ids := h.enqueue("c1", statements(1))
	h.down.Stop()
	for i := 0; i < 10; i++ {
		d := h.delivery("c1", ids[0])
		if d.State != forward.StatePending {
			t.Fatalf("attempt %d: state %s", i+1, d.State)
		}
		if d.NextAttempt.After(h.clock.Now()) {
			h.clock.Advance(d.NextAttempt.Sub(h.clock.Now()))
		}
		if n := h.tick(); n != 1 {
			t.Fatalf("attempt %d: claimed %d", i+1, n)
		}
	}
	d := h.delivery("c1", ids[0])
	if d.State != forward.StateParked || d.Attempts != 10 || d.LastAttempt.Sub(d.FirstFailure) > 24*time.Hour {
		t.Fatalf("after ten failures: %+v", d)
	}
	if got := alerts.kinds(); len(got) != 1 || got[0] != "status:Can't Connect" {
		t.Fatalf("alerts %v, want one", got)
	}
	h.down.Restart(t)
	h.clock.Advance(24 * time.Hour)
	h.tick() // the sweep re-drives; the claim sends
	h.wantDeliveredOnce("c1", ids)
}

// Wrong credentials: Server Error, and the circuit opens: only one
// delivery probes the destination, at growing intervals. Fixing the
// configuration through the administration (the product's edit path)
// re-drives the pending deliveries at once, and the next round delivers
// them all; the recovery is mailed after the damping delay.
func TestEngineWrongCredentialsThenFixed(t *testing.T) {
	alerts := &recordingAlerter{}
	h := newHarness(t, alerts)
	admin := forward.NewAdmin(h.store, forwardtest.Registry(t, xapi.Type(xapi.Options{Egress: forwardtest.Loopback})),
		forward.AdminOptions{Sealer: h.sealer, Egress: forwardtest.Loopback, Now: h.clock.Now, Redriven: h.engine.Redriven})
	cfg, err := admin.CreateConfiguration(context.Background(), org, forward.ConfigurationInput{Name: "LMS", ContactEmail: "admin@example.com",
		Type: xapi.TypeName, Properties: map[string]string{"endpoint": h.down.Endpoint()},
		Secrets: map[string]string{"key": forwardtest.DownKey, "secret": "wrong-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	ids := h.enqueue(cfg.ID, statements(5))
	h.tick()
	s := h.status(cfg.ID)
	if s.Status != forward.StatusServerError || s.LastStatus != 401 {
		t.Fatalf("status %+v, want Server Error 401", s)
	}
	if strings.Contains(s.LastError, "wrong-secret") {
		t.Fatalf("secret in the status: %q", s.LastError)
	}
	// The circuit is open: the next rounds probe with one delivery.
	for range 3 {
		h.clock.Advance(10 * time.Minute)
		before := h.down.Requests()
		h.tick()
		if n := h.down.Requests() - before; n != 1 {
			t.Fatalf("%d requests in a round of the open circuit, want one probe", n)
		}
	}
	// Fixed through the administration: due now, delivered at the next round.
	in := forward.ConfigurationInput{Name: cfg.Name, ContactEmail: cfg.ContactEmail, Type: cfg.Type, Properties: cfg.Properties,
		Secrets: map[string]string{"key": forwardtest.DownKey, "secret": forwardtest.DownSecret}}
	if _, err := admin.UpdateConfiguration(context.Background(), org, cfg.ID, in); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if d := h.delivery(cfg.ID, id); d.State != forward.StatePending || d.NextAttempt.After(h.clock.Now()) || d.Attempts != 0 {
			t.Fatalf("%s after the fix: %+v, want pending, due now, a fresh schedule", id, d)
		}
	}
	h.tick()
	h.wantDeliveredOnce(cfg.ID, ids)
	if s := h.status(cfg.ID); s.Status != forward.StatusOK {
		t.Fatalf("status %+v, want OK", s)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	if got := alerts.kinds(); strings.Join(got, ",") != "status:Server Error,recovery:OK" {
		t.Fatalf("alerts %v", got)
	}
}

// One invalid statement in a batch of five: bisecting delivers the four
// and rejects the one with the downstream's message; status stays OK; the
// hourly digest lists it.
func TestEngineRejectsOneItemByBisecting(t *testing.T) {
	alerts := &recordingAlerter{}
	h := newHarness(t, alerts)
	h.configure("c1", forwardtest.DownSecret, 1)
	sts := statements(4)
	bad := statementID(50)
	sts[bad] = forwardtest.InvalidStatement(bad)
	h.enqueue("c1", sts)
	h.tick()
	var good []string
	for id := range sts {
		if id != bad {
			good = append(good, id)
		}
	}
	h.wantDeliveredOnce("c1", good)
	d := h.delivery("c1", bad)
	if d.State != forward.StateRejected || !strings.Contains(d.Reason, "HTTP 400") || !strings.Contains(strings.ToLower(d.Reason), "verb") {
		t.Fatalf("bad statement: %s %q", d.State, d.Reason)
	}
	if s := h.status("c1"); s.Status != forward.StatusOK {
		t.Fatalf("status %+v, want OK", s)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	alerts.mu.Lock()
	defer alerts.mu.Unlock()
	if len(alerts.alerts) != 1 || alerts.alerts[0].Kind != forward.AlertRejected || len(alerts.alerts[0].Rejected) != 1 || alerts.alerts[0].Rejected[0].StatementID != bad {
		t.Fatalf("alerts %+v, want one digest", alerts.alerts)
	}
}

// Run sends as deliveries come due; Stop returns and is idempotent.
func TestEngineRunAndStop(t *testing.T) {
	h := newHarness(t, nil)
	h.configure("c1", forwardtest.DownSecret, 1)
	store := h.store
	e, err := forward.New(store, h.up, forwardtest.Registry(t, xapi.Type(xapi.Options{Egress: forwardtest.Loopback})),
		h.sealer.OpenConfiguration, nil, nil, forward.Options{Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	ids := h.enqueue("c1", statements(3))
	forwardtest.Eventually(t, 10*time.Second, func() error {
		for _, id := range ids {
			if d := h.delivery("c1", id); d.State != forward.StateDelivered {
				return fmt.Errorf("%s is %s", id, d.State)
			}
		}
		return nil
	})
	e.Stop()
	e.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
