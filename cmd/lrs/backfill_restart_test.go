package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// A backfill that really fails, restarted, through the booted binary on
// both engines: the configuration detached while its backfill runs fails
// it ("detached"); a restart is refused (409) while it stays detached;
// attached again without a backfill, the CLI's backfill-restart starts it
// from the beginning, and it ends done with every statement stored before
// the first attach sent, each once (the deliveries it ensures again are
// the ones it had ensured).
func TestBackfillRestartE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		const old = 60
		env := append(upstreamEnv(storeEnv), "LRS_FORWARD_BACKFILL_CHUNK=10", "LRS_FORWARD_BACKFILL_PAUSE=100ms")
		up := startLRS(t, env...)
		if isMongoEnv(env) {
			waitOutput(t, up, `store="mongodb`)
		}
		activity := "http://example.com/e2e/backfill-restart/" + uuid.NewString()
		before := postStatements(t, up, activity, old)
		down := newDownstream(t)
		cfg := createXAPIConfiguration(t, up, "Restarted", down.Endpoint())
		a := fwdAdmin(t, up)
		r := a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
			"name": "Drill", "activity_id": activity, "configurations": []string{cfg}, "backfill": true,
		}, adminBearer()...)
		var obj struct{ ID string }
		if err := json.Unmarshal(r.body, &obj); err != nil || obj.ID == "" {
			t.Fatalf("objective create answered %s (%v)", r.body, err)
		}
		// Detached at once: the job fails at its next chunk, long before
		// its 12 chunks at 100 ms each are done.
		a.expect(http.StatusOK, http.MethodPut, "/objectives/"+obj.ID, map[string]any{"name": "Drill", "activity_id": activity}, adminBearer()...)
		st := waitBackfill(t, up, cfg, forwardWait, func(s bfStatus) bool { return len(s.Backfills) == 1 && s.Backfills[0].State != "running" })
		if b := st.Backfills[0]; b.State != "failed" || b.Error != "the configuration was detached from the objective" || b.Done == old {
			t.Fatalf("the backfill after the detach: %+v", b)
		}
		restart := "/objectives/" + obj.ID + "/backfills/" + cfg + "/restart"
		if r := a.do(http.MethodPost, restart, nil, adminBearer()...); r.status != http.StatusConflict || !strings.Contains(string(r.body), "no longer attached") {
			t.Fatalf("restart while detached: %d %s", r.status, r.body)
		}
		if out, err := admin(t, up.base, "objective", "backfill-restart", "--org", "default", "--id", obj.ID, "--configuration", "no-such"); err == nil {
			t.Fatalf("backfill-restart of an unknown configuration succeeded:\n%s", out)
		}
		a.expect(http.StatusOK, http.MethodPut, "/objectives/"+obj.ID, map[string]any{"name": "Drill", "activity_id": activity, "configurations": []string{cfg}}, adminBearer()...)
		out := mustAdmin(t, up.base, "objective", "backfill-restart", "--org", "default", "--id", obj.ID, "--configuration", cfg)
		if !strings.Contains(out, "backfill restarted\nconfiguration:  "+cfg+"\nobjective "+obj.ID+": running, counting statements (0 so far)") {
			t.Fatalf("backfill-restart:\n%s", out)
		}
		st = waitBackfill(t, up, cfg, forwardWait, func(s bfStatus) bool { return len(s.Backfills) == 1 && s.Backfills[0].State != "running" })
		if b := st.Backfills[0]; b.State != "done" || b.Done != old || b.Total != old || b.Error != "" {
			t.Fatalf("the restarted backfill at its end: %+v", b)
		}
		waitAccepted(t, down, before, forwardWait)
		for _, id := range before {
			if n := down.Accepted(id); n != 1 {
				t.Errorf("statement %s accepted %d times, want once", id, n)
			}
		}
		if r := a.do(http.MethodPost, restart, nil, adminBearer()...); r.status != http.StatusConflict || !strings.Contains(string(r.body), "done, not failed") {
			t.Errorf("restart of a done backfill: %d %s", r.status, r.body)
		}
	})
}
