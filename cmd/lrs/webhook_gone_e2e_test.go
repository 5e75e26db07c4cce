package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// A 410 Gone stops sending to the configuration until it is edited, on
// every process and across restarts: the stop is kept in the
// configuration's status (per revision), so neither a second process on
// the same MongoDB store nor the first one restarted sends a result that
// comes after it, even with the receiver answering again; the edit sends
// every result that waited. On both engines (the embedded one: one
// process, restarted).
func TestWebhookGoneStopsAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	t.Parallel()
	for _, engine := range []string{"embedded", "mongodb"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			storeEnv := []string{"LRS_DATA_DIR=" + t.TempDir()}
			if engine == "mongodb" {
				storeEnv = mongoStoreEnv(t)
			}
			webhookGone(t, append(upstreamEnv(storeEnv), "LRS_FORWARD_PROBE_INTERVAL=1s"), engine == "mongodb")
		})
	}
}

func webhookGone(t *testing.T, env []string, shared bool) {
	recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Key: "reference",
		Fields: []webhooktest.Check{{Field: "reference", Type: "uuid", Required: true}, {Field: "email", Type: "email", Required: true}}})
	r := &schedRig{recv: recv, clk: &simClock{start: time.Now(), at: time.Now(), speed: 1}}
	first := startLRS(t, env...)
	second := first
	if shared {
		second = startLRS(t, env...)
	}
	a := fwdAdmin(t, first)
	body := map[string]any{"name": "AMS", "contact_email": "ops@example.com", "type": "webhook",
		"properties": map[string]string{"url": recv.URL + "/ce",
			"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true}]`},
		"secrets": map[string]string{"signing_secret": whSecret}}
	res := a.expect(http.StatusCreated, http.MethodPost, "/configurations", body, adminBearer()...)
	var cfg struct{ ID string }
	if err := json.Unmarshal(res.body, &cfg); err != nil || cfg.ID == "" {
		t.Fatalf("configuration create answered %s (%v)", res.body, err)
	}
	a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
		"name": "Fire safety", "activity_id": resAct, "configurations": []string{cfg.ID},
	}, adminBearer()...)
	var st struct {
		Status     string
		LastError  string    `json:"last_error"`
		StoppedAt  time.Time `json:"stopped_at"`
		StopReason string    `json:"stop_reason"`
	}
	status := func(c *client) {
		st.Status, st.StoppedAt = "", time.Time{}
		_ = json.Unmarshal(c.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, adminBearer()...).body, &st)
	}

	recv.Then(webhooktest.Answer{Status: http.StatusGone})
	r.complete(t, first, 1)
	forwardtest.Eventually(t, 10*time.Second, func() error {
		status(a)
		if st.Status != forward.StatusServerError || st.StoppedAt.IsZero() {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	// The receiver answers again; nothing goes, from the other process,
	// nor from the first one restarted.
	r.complete(t, second, 1)
	time.Sleep(2500 * time.Millisecond) // probes every second: they would have sent by now
	if n := len(recv.Requests()); n != 1 {
		t.Fatalf("%d requests after the 410, want only the one answered 410", n)
	}
	first.stop()
	first = startLRS(t, env...)
	a = fwdAdmin(t, first)
	r.complete(t, first, 1)
	time.Sleep(2500 * time.Millisecond)
	if n := len(recv.Requests()); n != 1 {
		t.Fatalf("%d requests after a restart, want still only the one answered 410", n)
	}
	status(a)
	if st.StoppedAt.IsZero() || st.StopReason == "" {
		t.Errorf("the status after a restart: %+v", st)
	}

	// The edit resumes: the three results go.
	delete(body, "secrets") // the stored ones are kept
	a.expect(http.StatusOK, http.MethodPut, "/configurations/"+cfg.ID, body, adminBearer()...)
	forwardtest.Eventually(t, 10*time.Second, func() error {
		if n := len(recv.Items()); n != 3 {
			return fmt.Errorf("%d items accepted", n)
		}
		return nil
	})
	status(a)
	if st.Status != forward.StatusOK || !st.StoppedAt.IsZero() {
		t.Errorf("the status after the edit: %+v", st)
	}
	for _, q := range recv.Requests() {
		if len(q.Problems) > 0 && !q.Programmed {
			t.Errorf("the receiver refused a request: %v", q.Problems)
		}
	}
}
