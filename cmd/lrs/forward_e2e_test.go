package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The forwarding end-to-end tests boot a downstream lrs (the LMS's LRS) and
// one or more upstream lrs processes forwarding to it, and check that every
// acknowledged matching statement arrives downstream exactly once: across a
// SIGKILL of the upstream, and with two upstreams sharing one database.

const (
	fwdDownKey    = "downstream-key"
	fwdDownSecret = "downstream-secret-0123456789abcdef"
	fwdUpKey      = "upstream-key"
	fwdUpSecret   = "upstream-secret-0123456789abcdef"
	// forwardWait bounds the wait for the downstream to hold every
	// acknowledged statement.
	forwardWait = 2 * time.Minute
	// kill9Lease is the lease of claimed deliveries, which a killed
	// process never releases, in the kill -9 test.
	kill9Lease = 6 * time.Second
)

// loopbackNetworks opens the egress policy to the loopback networks, where
// the tests' destinations listen.
const loopbackNetworks = "127.0.0.0/8,::1/128"

var fwdTestKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))

// startDownstream boots the receiving LRS on the embedded store.
func startDownstream(t *testing.T) (*proc, *client) {
	t.Helper()
	p := startLRS(t, "LRS_DATA_DIR="+t.TempDir(), "LRS_BOOTSTRAP_KEY="+fwdDownKey, "LRS_BOOTSTRAP_SECRET="+fwdDownSecret)
	return p, &client{t: t, base: p.base + "/xapi", key: fwdDownKey, secret: fwdDownSecret, version: "1.0.3"}
}

// upstreamEnv is the environment of a forwarding upstream on storeEnv.
func upstreamEnv(storeEnv []string) []string {
	return append(slices.Clone(storeEnv),
		"LRS_ADMIN_TOKEN="+testAdminToken, "LRS_FORWARD_KEY="+fwdTestKey, "LRS_FORWARD_ALLOWED_NETWORKS="+loopbackNetworks,
		"LRS_BOOTSTRAP_KEY="+fwdUpKey, "LRS_BOOTSTRAP_SECRET="+fwdUpSecret)
}

func isMongoEnv(env []string) bool {
	return slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "LRS_MONGODB_URI=") })
}

func fwdAdmin(t *testing.T, p *proc) *client {
	return &client{t: t, base: p.base + "/admin/v1/orgs/default"}
}

func adminBearer() []string { return []string{"Authorization", "Bearer " + testAdminToken} }

// setupForwarding creates, through the upstream's admin API, an xapi
// configuration pointing at the downstream and an objective for activity
// attached to it; it returns the configuration id.
func setupForwarding(t *testing.T, up, down *proc, activity string) string {
	t.Helper()
	return setupForwardingWith(t, up, activity,
		map[string]string{"endpoint": down.base + "/xapi/", "version": "1.0.3"},
		map[string]string{"key": fwdDownKey, "secret": fwdDownSecret})
}

// setupForwardingWith is setupForwarding with the xapi configuration's
// properties and secrets.
func setupForwardingWith(t *testing.T, up *proc, activity string, props, secrets map[string]string) string {
	t.Helper()
	a := fwdAdmin(t, up)
	r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", map[string]any{
		"name": "Downstream", "contact_email": "ops@example.com", "type": "xapi",
		"properties": props, "secrets": secrets,
	}, adminBearer()...)
	var cfg struct{ ID string }
	if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
		t.Fatalf("configuration create answered %s (%v)", r.body, err)
	}
	a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
		"name": "Forwarded", "activity_id": activity, "configurations": []string{cfg.ID},
	}, adminBearer()...)
	return cfg.ID
}

// fwdBatch is n matching statements with fresh ids, and their ids.
func fwdBatch(n int, activity string) ([]map[string]any, []string) {
	var sts []map[string]any
	var ids []string
	for i := range n {
		id := uuid.NewString()
		s := e2eStatement(id, fmt.Sprintf("learner%d@example.com", i), "passed", "x")
		s["object"] = map[string]any{"id": activity}
		sts = append(sts, s)
		ids = append(ids, id)
	}
	return sts, ids
}

// downstreamIDs queries the downstream by activity, with paging, and returns
// how many times each id came back.
func downstreamIDs(t *testing.T, down *client, activity string) (map[string]int, error) {
	counts := map[string]int{}
	path := "/statements?limit=100&activity=" + url.QueryEscape(activity)
	for path != "" {
		r, err := sendResponse(down, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
		var sr statementResult
		if err := json.Unmarshal(r.body, &sr); err != nil {
			return nil, fmt.Errorf("GET %s: %v", path, err)
		}
		for _, s := range sr.Statements {
			id, _ := s["id"].(string)
			counts[id]++
		}
		path = strings.TrimPrefix(sr.More, "/xapi")
	}
	return counts, nil
}

// waitDownstream polls the downstream until it holds every id of want and
// checks that no statement came back twice.
func waitDownstream(t *testing.T, down *client, activity string, want []string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var counts map[string]int
	var missing []string
	for {
		var err error
		counts, err = downstreamIDs(t, down, activity)
		if err != nil {
			t.Logf("downstream query: %v", err)
		} else {
			missing = missing[:0]
			for _, id := range want {
				if counts[id] == 0 {
					missing = append(missing, id)
				}
			}
			if len(missing) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the downstream lacks %d of %d acknowledged statements (e.g. %v); it holds %d",
				timeout, len(missing), len(want), missing[:min(3, len(missing))], len(counts))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("downstream holds all %d acknowledged statements after %v (%d in all)", len(want), time.Since(start).Round(time.Millisecond), len(counts))
	for id, n := range counts {
		if n != 1 {
			t.Errorf("statement %s is %d times on the downstream, want once", id, n)
		}
	}
	// Each acknowledged one is fetchable by id.
	for _, id := range want[:min(10, len(want))] {
		down.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+id, nil)
	}
}

func TestForwardSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL")
	}
	forEachEngine(t, testForwardSurvivesKill9)
}

func testForwardSurvivesKill9(t *testing.T, storeEnv []string) {
	const batches, perBatch, killAfter = 30, 10, 15
	down, downC := startDownstream(t)
	// A short lease (and attempt timeout, which it must exceed twice), so
	// that on MongoDB the deliveries the killed process had claimed are
	// sent again within seconds, not the default 5 minutes.
	env := append(upstreamEnv(storeEnv), "LRS_FORWARD_LEASE="+kill9Lease.String(), "LRS_FORWARD_ATTEMPT_TIMEOUT=2s")
	up := startLRS(t, env...)
	if isMongoEnv(env) {
		waitOutput(t, up, `store="mongodb`)
	}
	activity := "http://example.com/e2e/kill9/" + uuid.NewString()
	setupForwarding(t, up, down, activity)

	// Stream batches; kill the upstream once killAfter were acknowledged,
	// while the stream goes on. A batch counts only when answered 200.
	upC := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
	var acked []string
	var mu sync.Mutex
	killed := make(chan struct{})
	next := 0
	var wg sync.WaitGroup
	wg.Go(func() {
		for ; next < batches; next++ {
			sts, ids := fwdBatch(perBatch, activity)
			r, err := sendResponse(upC, http.MethodPost, "/statements", sts)
			if err != nil || r.status != http.StatusOK {
				select {
				case <-killed: // not acknowledged: not counted, not sent again
					return
				default:
				}
				t.Errorf("POST batch %d before the kill: %v %d %s", next, err, r.status, r.body)
				return
			}
			mu.Lock()
			acked = append(acked, ids...)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // a stream, not a burst
		}
	})
	// The killer runs beside the stream, so the kill may land in the middle
	// of a POST.
	wg.Go(func() {
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= killAfter*perBatch {
				break
			}
			if t.Failed() {
				return
			}
			time.Sleep(time.Millisecond)
		}
		close(killed)
		if err := up.cmd.Process.Kill(); err != nil {
			t.Errorf("kill: %v", err)
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	<-up.exited
	t.Logf("upstream killed after %d acknowledged statements (%d batches sent)", len(acked), next)

	// Restart on the same store and send the rest.
	up2 := startLRS(t, env...)
	upC.base = up2.base + "/xapi"
	for next++; next < batches; next++ {
		sts, ids := fwdBatch(perBatch, activity)
		upC.expect(http.StatusOK, http.MethodPost, "/statements", sts)
		acked = append(acked, ids...)
	}
	// The embedded store frees a dead process's leases when it is opened
	// again. On MongoDB, shared by many processes, deliveries the killed
	// process had claimed stay leased to it until their lease
	// (LRS_FORWARD_LEASE, kill9Lease here) runs out: allow it.
	wait := forwardWait
	if slices.ContainsFunc(storeEnv, func(s string) bool { return strings.HasPrefix(s, "LRS_MONGODB_URI=") }) {
		wait += kill9Lease
	}
	waitDownstream(t, downC, activity, acked, wait)
}

func TestForwardTwoUpstreamsOneMongo(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	storeEnv := mongoStoreEnv(t)
	down, downC := startDownstream(t)
	env := upstreamEnv(storeEnv)
	up1 := startLRS(t, env...)
	waitOutput(t, up1, `store="mongodb`)
	up2 := startLRS(t, env...)
	waitOutput(t, up2, `store="mongodb`)
	activity := "http://example.com/e2e/two/" + uuid.NewString()
	cfgID := setupForwarding(t, up1, down, activity)

	ups := []*client{
		{t: t, base: up1.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"},
		{t: t, base: up2.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "2.0.0"},
	}
	var acked []string
	for i := range 20 {
		sts, ids := fwdBatch(10, activity)
		ups[i%2].expect(http.StatusOK, http.MethodPost, "/statements", sts)
		acked = append(acked, ids...)
	}
	waitDownstream(t, downC, activity, acked, forwardWait)

	// Both processes report the configuration OK with nothing left over.
	for i, up := range []*proc{up1, up2} {
		a := fwdAdmin(t, up)
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfgID+"/status", nil, adminBearer()...)
			var st struct {
				Status                              string
				Queued, Delivered, Parked, Rejected int
				Skipped                             int
			}
			if err := json.Unmarshal(r.body, &st); err != nil {
				t.Fatalf("status %s: %v", r.body, err)
			}
			if st.Status == "OK" && st.Queued == 0 && st.Parked == 0 && st.Rejected == 0 && st.Skipped == 0 && st.Delivered == len(acked) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("upstream %d: configuration status %s, want OK, %d delivered, nothing queued, parked, rejected or skipped", i+1, r.body, len(acked))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}
