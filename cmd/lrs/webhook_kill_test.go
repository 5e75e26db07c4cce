package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// A sender killed with SIGKILL in the middle of a batch send: the receiver
// took the batch (and keeps it) but the answer never reached the sender,
// which dies before it records the delivery. Restarted on the same store,
// the sender sends the batch again, with the same items, so the same
// batch id: the receiver, which dedupes by webhook-id, takes no item twice,
// and none is lost.
//
// On both engines. The embedded store frees a dead process's leases when
// it is opened again. On MongoDB, shared by many processes, the killed
// process's claimed deliveries stay leased until their lease ends: the
// test sets LRS_FORWARD_LEASE to 3s (and the attempt timeout to 1s, as the
// lease must be more than twice it), so the restarted process resends
// once the lease ends, not at once.
func TestWebhookBatchSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		webhookBatchSurvivesKill9(t, append(storeEnv, "LRS_FORWARD_LEASE=3s", "LRS_FORWARD_ATTEMPT_TIMEOUT=1s"))
	})
}

func webhookBatchSurvivesKill9(t *testing.T, storeEnv []string) {
	recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Envelope: "items", Key: "reference"})
	// The receiver answers; the answer of the first request is held until
	// the sender is dead.
	var held atomic.Int32
	release := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, err := http.NewRequest(r.Method, recv.URL+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if held.Add(1) == 1 {
			<-release // the sender is killed meanwhile
			return
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(b)
	}))
	t.Cleanup(front.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	env := upstreamEnv(storeEnv)
	up := startLRS(t, env...)
	a := fwdAdmin(t, up)
	bearer := adminBearer()
	r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", map[string]any{
		"name": "Nightly AMS", "contact_email": "ops@example.com", "type": "webhook",
		"properties": map[string]string{"url": front.URL + "/batch", "mode": "batch", "max_items": "2", "schedule": "0 2 * * *",
			"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true}]`},
		"secrets": map[string]string{"signing_secret": whSecret},
	}, bearer...)
	var cfg struct{ ID string }
	if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
		t.Fatalf("configuration create answered %s (%v)", r.body, err)
	}
	a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
		"name": "Fire safety", "activity_id": resAct, "configurations": []string{cfg.ID},
	}, bearer...)
	x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
	x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("whk-a", 0, 0.9, true), ",")+"]")
	bob := resSession("whk-b", 10, 0.8, true)
	for i, raw := range bob {
		bob[i] = strings.NewReplacer("mailto:ada@example.com", "mailto:bob@example.com", "Ada Lovelace", "Bob").Replace(raw)
	}
	x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(bob, ",")+"]")

	// The receiver takes the batch; the sender dies before it hears so.
	first := recv.WaitAccepted(t, 1, 20*time.Second)
	if len(first[0].Items) != 2 {
		t.Fatalf("the batch carries %d items", len(first[0].Items))
	}
	if err := up.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-up.exited
	killed := time.Now()
	close(release)

	// Restarted: the batch goes again, and the receiver dedupes it.
	up2 := startLRS(t, env...)
	a.base = up2.base + "/admin/v1/orgs/default"
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct{ Queued, Delivered int }
		_ = json.Unmarshal(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, bearer...).body, &st)
		if st.Queued == 0 && st.Delivered == 2 {
			t.Logf("delivered %v after the kill", time.Since(killed).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %+v; %d requests", st, len(recv.Requests()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	refs := map[any]int{}
	for _, it := range recv.Items() {
		refs[it["reference"]]++
	}
	dups := 0
	for _, q := range recv.Requests() {
		if q.Duplicate {
			dups++
			if q.ID() != first[0].ID() {
				t.Errorf("the resend has webhook-id %s, the first %s", q.ID(), first[0].ID())
			}
		}
	}
	if len(refs) != 2 || dups < 1 {
		t.Errorf("items %v, %d duplicates of %d requests: want both items once and the resend deduped", refs, dups, len(recv.Requests()))
	}
	for ref, n := range refs {
		if n != 1 {
			t.Errorf("%v taken %d times", ref, n)
		}
	}
}
