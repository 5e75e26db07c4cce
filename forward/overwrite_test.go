package forward_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

// recorder is an overwrite destination that keeps what it was sent.
type recorder struct {
	mu     sync.Mutex
	sent   []forward.Item
	answer func(items []forward.Item) forward.Result // nil: success
	during func()                                    // run inside Send
}

func (r *recorder) Send(_ context.Context, items []forward.Item) forward.Result {
	r.mu.Lock()
	r.sent = append(r.sent, items...)
	answer, during := r.answer, r.during
	r.during = nil
	r.mu.Unlock()
	if during != nil {
		during()
	}
	if answer != nil {
		return answer(items)
	}
	return forward.Result{Outcome: forward.OutcomeSuccess, Status: 200}
}

func (r *recorder) MaxBatch() int { return 10 }

func (r *recorder) revisions() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for _, it := range r.sent {
		out = append(out, it.Result.Revision)
	}
	return out
}

type overwriteRig struct {
	*resFixture
	rec    *recorder
	obl    *forward.Obligations
	engine *forward.Engine
	id     string // the delivery's StatementID
}

func newOverwriteRig(t *testing.T) *overwriteRig {
	t.Helper()
	f := newResFixture(t, false)
	rec := &recorder{}
	types := forwardtest.Registry(t, forward.Type{Name: "rec", Sink: forward.SinkOverwrite,
		Factory: func(forward.Configuration, map[string]string) (forward.Destination, error) { return rec, nil }})
	key := make([]byte, forward.KeySize)
	sealer, err := forward.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Seal(resOrg, "pb", map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := f.db.PutConfiguration(ctx, forward.Configuration{ID: "pb", Org: resOrg, Name: "receiver", Type: "rec",
		ContactEmail: "admin@example.com", SealedSecret: sealed, Revision: 1}); err != nil {
		t.Fatal(err)
	}
	f.obj.Configurations = []string{"pb"}
	if err := f.db.PutObjective(ctx, f.obj); err != nil {
		t.Fatal(err)
	}
	obl := forward.NewObligations(f.db, slog.New(slog.DiscardHandler), nil)
	obl.SetSinks(types)
	results := forward.NewResults(f.db, f.stmts, forward.ResultsOptions{OnChange: obl.ResultChanged})
	f.results = results
	engine, err := forward.New(f.db, f.stmts, types, sealer.OpenConfiguration, slog.New(slog.DiscardHandler),
		forward.NewMetrics(prometheus.NewRegistry(), "rec"), forward.Options{Owner: "test", Rand: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	r := &overwriteRig{resFixture: f, rec: rec, obl: obl, engine: engine}
	r.id = forward.ResultDeliveryID(f.key())
	// Statements reach both observers, as in the binary.
	r.observe = forward.Observers{obl, results}
	return r
}

func (r *overwriteRig) tick(t *testing.T) {
	t.Helper()
	for range 5 { // until nothing is due
		n, err := r.engine.Tick(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (r *overwriteRig) delivery(t *testing.T) forward.Delivery {
	t.Helper()
	d, err := r.db.GetDelivery(t.Context(), resOrg, "pb", r.id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOverwriteDeliveryCarriesTheCurrentResult(t *testing.T) {
	r := newOverwriteRig(t)
	ctx := t.Context()
	r.storeAll(t, session("a", 0, 0.8, true)...)
	if ds, err := r.db.DeliveriesOfStatement(ctx, resOrg, "a-completed"); err != nil || len(ds) != 0 {
		t.Fatalf("statement deliveries to an overwrite configuration: %+v, %v; want none", ds, err)
	}
	r.tick(t)
	cur := r.result(t)
	if got := r.rec.revisions(); len(got) != 1 || got[0] != cur.Revision {
		t.Fatalf("sent revisions %v, want one send of the current %d (not one per change)", got, cur.Revision)
	}
	it := r.rec.sent[0]
	if it.Objective == nil || it.Objective.ID != "fire" || it.Delivery.Participant != "ada@example.com" || it.Statement != nil {
		t.Fatalf("item: objective %+v, participant %q, statement %q", it.Objective, it.Delivery.Participant, it.Statement)
	}
	if d := r.delivery(t); d.State != forward.StateDelivered {
		t.Fatalf("delivery %+v, want delivered", d)
	}

	// A lower retake changes nothing that counts: nothing is sent again.
	r.storeAll(t, session("b", 10, 0.5, false)...)
	r.tick(t)
	if r.result(t).Passed() != true {
		t.Fatal("a lower retake undid the pass")
	}
	sent := len(r.rec.revisions())

	// A better retake re-opens the delivered delivery; only its newest revision goes.
	r.storeAll(t, session("c", 20, 0.95, true)...)
	r.tick(t)
	cur = r.result(t)
	got := r.rec.revisions()
	if len(got) != sent+1 || got[len(got)-1] != cur.Revision {
		t.Fatalf("sent revisions %v, want one more of %d", got, cur.Revision)
	}
}

func TestOverwriteSendOvertakenGoesAgain(t *testing.T) {
	r := newOverwriteRig(t)
	r.storeAll(t, session("a", 0, 0.8, true)...)
	r.rec.during = func() { r.storeAll(t, session("c", 20, 0.95, true)...) } // changes while the older one is on the wire
	r.tick(t)
	cur := r.result(t)
	got := r.rec.revisions()
	if len(got) != 2 || got[1] != cur.Revision || got[0] >= got[1] {
		t.Fatalf("sent revisions %v, want the older one and then the current %d", got, cur.Revision)
	}
	if d := r.delivery(t); d.State != forward.StateDelivered {
		t.Fatalf("delivery %+v, want delivered", d)
	}
}

func TestOverwriteRejectedReopenedByAChange(t *testing.T) {
	r := newOverwriteRig(t)
	r.rec.answer = func([]forward.Item) forward.Result {
		return forward.Result{Outcome: forward.OutcomeItem, Status: 400, Message: "unknown learner"}
	}
	r.storeAll(t, session("a", 0, 0.8, true)...)
	r.tick(t)
	if d := r.delivery(t); d.State != forward.StateRejected {
		t.Fatalf("delivery %+v, want rejected", d)
	}
	r.tick(t)
	if n := len(r.rec.revisions()); n != 1 {
		t.Fatalf("%d sends, want a rejected one not retried on its own", n)
	}
	r.rec.mu.Lock()
	r.rec.answer = nil
	r.rec.mu.Unlock()
	r.storeAll(t, session("c", 20, 0.95, true)...)
	r.tick(t)
	if d := r.delivery(t); d.State != forward.StateDelivered {
		t.Fatalf("delivery after the change %+v, want delivered", d)
	}
	if got := r.rec.revisions(); len(got) != 2 || got[1] != r.result(t).Revision {
		t.Fatalf("sent revisions %v", got)
	}
}

// A destination's skip (the learner is not for it): the delivery is
// Skipped with the reason, the attempt logged as skipped, the status left
// OK, nothing retried nor put in the rejection digest; a change of the
// result re-opens it and the newer value goes.
func TestOverwriteSkippedByTheDestination(t *testing.T) {
	r := newOverwriteRig(t)
	ctx := t.Context()
	r.storeAll(t, session("a", 0, 0.6, true)...)
	r.tick(t)
	if st, err := r.db.GetStatus(ctx, resOrg, "pb"); err != nil || st.Status != forward.StatusOK {
		t.Fatalf("status %+v, %v; want OK", st, err)
	}
	r.rec.mu.Lock()
	r.rec.answer = func([]forward.Item) forward.Result {
		return forward.Result{Outcome: forward.OutcomeSkipped, Status: 200, Message: "not a student of section 42"}
	}
	r.rec.mu.Unlock()
	r.storeAll(t, session("b", 10, 0.8, true)...)
	r.tick(t)
	d := r.delivery(t)
	if d.State != forward.StateSkipped || d.Reason != "not a student of section 42" || d.LastAttempt.IsZero() {
		t.Fatalf("delivery %+v, want skipped with the reason", d)
	}
	r.tick(t)
	if n := len(r.rec.revisions()); n != 2 {
		t.Fatalf("%d sends, want a skipped one not retried on its own", n)
	}
	if st, err := r.db.GetStatus(ctx, resOrg, "pb"); err != nil || st.Status != forward.StatusOK {
		t.Errorf("status after a skip %+v, %v; want OK", st, err)
	}
	if c, err := r.db.CountDeliveries(ctx, resOrg, "pb"); err != nil || c.Skipped != 1 || c.Delivered != 0 {
		t.Errorf("counts %+v, %v; want one skipped", c, err)
	}
	if as, err := r.db.ListAttempts(ctx, resOrg, "pb", 10); err != nil || len(as) != 2 || as[0].Outcome != forward.OutcomeSkipped {
		t.Errorf("attempts %+v, %v; want the newest skipped", as, err)
	}
	if p, err := r.db.PendingRejected(ctx, 10); err != nil || len(p) != 0 {
		t.Errorf("rejection digest %+v, %v; want nothing", p, err)
	}
	r.rec.mu.Lock()
	r.rec.answer = nil
	r.rec.mu.Unlock()
	r.storeAll(t, session("c", 20, 0.95, true)...)
	r.tick(t)
	if d := r.delivery(t); d.State != forward.StateDelivered || d.Reason != "" {
		t.Fatalf("delivery after the change %+v, want delivered", d)
	}
	if got := r.rec.revisions(); len(got) != 3 || got[2] != r.result(t).Revision {
		t.Fatalf("sent revisions %v", got)
	}
}

// An item of a batch the destination skipped by its id (Result.Skipped),
// the batch otherwise a success: Skipped with its reason.
func TestOverwriteSkippedItemOfABatch(t *testing.T) {
	r := newOverwriteRig(t)
	r.rec.answer = func(items []forward.Item) forward.Result {
		return forward.Result{Outcome: forward.OutcomeSuccess, Status: 200,
			Skipped: map[string]string{items[0].Delivery.StatementID: "on no roster"}}
	}
	r.storeAll(t, session("a", 0, 0.6, true)...)
	r.tick(t)
	if d := r.delivery(t); d.State != forward.StateSkipped || d.Reason != "on no roster" {
		t.Fatalf("delivery %+v, want skipped with the reason", d)
	}
	if p, err := r.db.PendingRejected(t.Context(), 10); err != nil || len(p) != 0 {
		t.Errorf("rejection digest %+v, %v; want nothing", p, err)
	}
}

// A crash between a result's write and its hook loses the re-open; the
// reconciler's call (Changed false) re-opens what was sent before the
// change, and nothing that was sent after it.
func TestOverwriteReconcilerReopensALostChange(t *testing.T) {
	r := newOverwriteRig(t)
	r.storeAll(t, session("a", 0, 0.8, true)...)
	r.tick(t)
	if n := len(r.rec.revisions()); n != 1 {
		t.Fatalf("%d sends, want 1", n)
	}
	// The hook is lost: the better session changes the result without it.
	// (The change is in a later millisecond than the first send: on a fast
	// machine both could fall in one.)
	for sent := r.delivery(t).LastAttempt; !time.Now().Truncate(time.Millisecond).After(sent); {
		time.Sleep(100 * time.Microsecond)
	}
	r.observe = forward.NewResults(r.db, r.stmts, forward.ResultsOptions{})
	r.storeAll(t, session("c", 20, 0.95, true)...)
	r.tick(t)
	if n := len(r.rec.revisions()); n != 1 {
		t.Fatalf("%d sends without the hook, want still 1", n)
	}
	// The session's changes within one millisecond put the result's time
	// a few milliseconds ahead of the clock (each revision has its own):
	// the reconciler's send comes after it, as it does a pass later.
	for updated := r.result(t).UpdatedAt; !time.Now().Truncate(time.Millisecond).After(updated); {
		time.Sleep(100 * time.Microsecond)
	}
	// The reconciler re-observes: the result is current, Changed false.
	ch := forward.ResultChange{ResultKey: r.key(), Revision: r.result(t).Revision}
	if err := r.obl.ResultChanged(t.Context(), ch); err != nil {
		t.Fatal(err)
	}
	r.tick(t)
	if got := r.rec.revisions(); len(got) != 2 || got[1] != r.result(t).Revision {
		t.Fatalf("sent revisions %v, want the current one after the reconciler", got)
	}
	// Again: already sent after the change, nothing more.
	if err := r.obl.ResultChanged(t.Context(), ch); err != nil {
		t.Fatal(err)
	}
	r.tick(t)
	if n := len(r.rec.revisions()); n != 2 {
		t.Fatalf("%d sends after a second Changed-false call, want 2", n)
	}
}
