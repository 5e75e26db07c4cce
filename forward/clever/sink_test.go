package clever_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
)

// item is an overwrite delivery's item of a result of objective obj-1.
func item(email string, v forward.Values) forward.Item {
	r := forward.ObjectiveResult{ResultKey: forward.ResultKey{Org: "org", ObjectiveID: "obj-1", Participant: "mbox:mailto:" + email},
		Actor: forward.Actor{Mbox: "mailto:" + email}, Computed: v, Revision: 1}
	return forward.Item{Delivery: forward.Delivery{Org: "org", ConfigurationID: "cfg", ObjectiveID: "obj-1", Participant: email},
		Result: &r, Objective: &forward.Objective{ID: "obj-1", Org: "org", Name: "Fire drill"}}
}

// The engine's Sink: an item's effective values (an override applied)
// become the student's grade in the objective's assignment, titled by the
// objective's name; the Outcome's class is the engine's; an off-roster
// learner is skipped with the reason; the test connection is the
// readiness check; a batch is one item.
func TestSinkSendsAnItemsGrade(t *testing.T) {
	e := newEnv(t, envOpts{sections: 1, perSection: 1})
	dst, err := clever.NewSink(forward.Configuration{Org: "org", ID: "cfg", Type: clever.TypeClever, Properties: e.props()},
		map[string]string{clever.SecretToken: e.tok}, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if dst.MaxBatch() != clever.SinkBatch {
		t.Errorf("MaxBatch = %d, want %d", dst.MaxBatch(), clever.SinkBatch)
	}
	const email = "s0.0@example.com"
	it := item(email, forward.Values{Completion: ptr(true), Success: ptr(true), Score: &forward.Score{Scaled: ptr(0.6)}})
	it.Result.Override = forward.Override{Set: map[forward.ResultField]forward.OverrideEntry{forward.FieldScore: {By: "admin"}},
		Values: forward.Values{Score: &forward.Score{Scaled: ptr(0.75)}}}
	if r := dst.Send(bg, []forward.Item{it}); r.Outcome != forward.OutcomeSuccess || r.Status != http.StatusOK {
		t.Fatalf("Send = %+v, want success", r)
	}
	a := e.onlyAssignment(t, e.sections[0])
	if a.Title != "Fire drill" {
		t.Errorf("assignment title %q, want the objective's name", a.Title)
	}
	if p := e.points(t, e.sections[0], email); p != 75 {
		t.Errorf("grade %v points, want 75 (the override)", p)
	}

	r := dst.Send(bg, []forward.Item{item("nobody@example.com", forward.Values{Success: ptr(true)})})
	if r.Outcome != forward.OutcomeSkipped || r.Message != "the participant is not a student of section(s) "+e.sections[0]+" in Clever" {
		t.Errorf("an off-roster learner: %+v, want skipped with the reason", r)
	}
	if r := dst.Send(bg, []forward.Item{{Delivery: forward.Delivery{StatementID: "x"}}}); r.Outcome != forward.OutcomeItem {
		t.Errorf("an item without a result: %+v", r)
	}
	if r := dst.Send(bg, make([]forward.Item, clever.SinkBatch+1)); r.Outcome != forward.OutcomeDestination {
		t.Errorf("%d items: %+v", clever.SinkBatch+1, r)
	}

	// A batch: each item answered for by its delivery's id.
	e.addStudent("s0.1@example.com", e.sections[0])
	e.clock.Advance(2 * time.Minute) // the cached roster is old enough to be read again
	batch := []forward.Item{
		item(email, forward.Values{Success: ptr(true), Score: &forward.Score{Scaled: ptr(0.5)}}),
		item("nobody@example.com", forward.Values{Success: ptr(true)}),
		item("s0.1@example.com", forward.Values{Success: ptr(false), Score: &forward.Score{Scaled: ptr(0.3)}}),
		{Delivery: forward.Delivery{StatementID: "no-result"}},
	}
	for i := range batch {
		if batch[i].Delivery.StatementID == "" {
			batch[i].Delivery.StatementID = fmt.Sprintf("result:%d", i)
		}
	}
	r = dst.Send(bg, batch)
	if r.Outcome != forward.OutcomeSuccess || len(r.Skipped) != 1 || r.Skipped["result:1"] == "" ||
		len(r.Rejected) != 1 || r.Rejected["no-result"] == "" {
		t.Errorf("a batch: %+v, want a success with one skipped and one rejected item", r)
	}
	if p := e.points(t, e.sections[0], email); p != 50 {
		t.Errorf("grade %v points after the batch, want 50", p)
	}
	if p := e.points(t, e.sections[0], "s0.1@example.com"); p != 30 {
		t.Errorf("grade %v points after the batch, want 30", p)
	}
	if r := dst.Send(bg, batch[1:2:2]); r.Outcome != forward.OutcomeSkipped {
		t.Errorf("a batch of one skipped item: %+v", r)
	}
	tr := dst.(forward.Tester).Test(bg)
	if tr.Outcome != forward.OutcomeSuccess || !strings.HasPrefix(tr.Message, "Ready: grades can be written.") {
		t.Errorf("Test = %+v", tr)
	}
	e.sim.RevokeToken(e.tok)
	if tr := dst.(forward.Tester).Test(bg); tr.Outcome != forward.OutcomeDestination || strings.Contains(tr.Message, e.tok) {
		t.Errorf("Test with a revoked token = %+v", tr)
	}
	// A batch whose grades the token cannot write: the destination's failure.
	if r := dst.Send(bg, batch[:3]); r.Outcome != forward.OutcomeDestination || r.Status != http.StatusForbidden || len(r.Skipped) != 0 {
		t.Errorf("a batch with a revoked token: %+v, want the refusal for the whole batch", r)
	}
}
