package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestForwardingBenchmark measures forwarding to a downstream LRS on this
// machine (BENCHMARKS.md, "Forwarding throughput"). It boots real binaries
// and takes a minute or more, so it runs only with LRS_BENCH_FORWARD=1:
//
//	LRS_BENCH_FORWARD=1 go test -count=1 -run TestForwardingBenchmark -v -timeout 20m ./cmd/lrs
//
// LRS_BENCH_FORWARD_N changes the statement count (default 10,000). Every
// figure comes with the CPU time per statement of each process (from
// /proc), which the other work of a shared machine barely moves.
//
// LRS_BENCH_FORWARD_PROFILE=prefix takes CPU profiles of the upstreams
// through LRS_DEBUG_ADDR: prefix.base (the baseline's ingest),
// prefix.ingest (the ingest with forwarding and its drain) and
// prefix.drain (the backlog's drain), each from the phase's start for
// LRS_BENCH_FORWARD_PROFILE_SECONDS (default 2; a larger
// LRS_BENCH_FORWARD_N keeps the phase going that long).
func TestForwardingBenchmark(t *testing.T) {
	if os.Getenv("LRS_BENCH_FORWARD") != "1" {
		t.Skip("set LRS_BENCH_FORWARD=1 to run the forwarding benchmark")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads process CPU times from /proc")
	}
	n := 10000
	if v := os.Getenv("LRS_BENCH_FORWARD_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("LRS_BENCH_FORWARD_N=%q: want a positive count", v)
		}
	}
	const (
		batch    = 100
		clients  = 8
		activity = "http://example.com/bench/forward/quiz"
		verb     = "http://adlnet.gov/expapi/verbs/passed"
		dsKey    = "fb-down-key"
		dsSecret = "fb-down-secret-0123456789abcdef"
		upKey    = "fb-up-key"
		upSecret = "fb-up-secret-0123456789abcdef"
	)
	prof := fbProfiler(t)
	fwdKey := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", 32)))
	common := []string{"LRS_LOG_LEVEL=warn", "LRS_MAX_LIMIT=1000"}
	upEnv := func() []string {
		return append(slices.Clone(common), "LRS_DATA_DIR="+t.TempDir(), "LRS_ADMIN_TOKEN="+testAdminToken,
			"LRS_FORWARD_KEY="+fwdKey, "LRS_FORWARD_ALLOWED_NETWORKS="+loopbackNetworks,
			"LRS_BOOTSTRAP_KEY="+upKey, "LRS_BOOTSTRAP_SECRET="+upSecret)
	}

	// (a) Ingest baseline: an upstream with the forwarding engine running
	// but no objective, so no statement owes a delivery.
	base := startLRS(t, append(upEnv(), prof.env(0)...)...)
	cpu := fbCPU(t, base)
	prof.take(0, "base")
	baseRes := fbIngest(t, base.base, upKey, upSecret, activity, verb, n, batch, clients, 0)
	baseCPU := fbCPU(t, base) - cpu
	prof.wait()
	base.stop()

	// (b) Forwarding: downstream, upstream with configuration + objective;
	// the burst is ingested while the engine sends.
	down := startLRS(t, append(slices.Clone(common), "LRS_DATA_DIR="+t.TempDir(),
		"LRS_BOOTSTRAP_KEY="+dsKey, "LRS_BOOTSTRAP_SECRET="+dsSecret)...)
	up := startLRS(t, append(upEnv(), prof.env(1)...)...)
	out := mustAdmin(t, up.base, "configuration", "create", "--org", "default", "--name", "Downstream",
		"--contact-email", "ops@example.com", "--endpoint", down.base+"/xapi/", "--version", "2.0.0",
		"--key", dsKey, "--secret", dsSecret)
	m := idRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("configuration create:\n%s", out)
	}
	cfgID := m[1]
	mustAdmin(t, up.base, "objective", "create", "--org", "default", "--name", "Bench quiz",
		"--activity-id", activity, "--verb", verb, "--configuration", cfgID)

	downBefore := fbStoredTotal(t, down.base)
	upCPU, downCPU := fbCPU(t, up), fbCPU(t, down)
	prof.take(1, "ingest")
	fwd := fbIngest(t, up.base, upKey, upSecret, activity, verb, n, batch, clients, 0)
	upIngestCPU := fbCPU(t, up) - upCPU
	lastArrival := fbWaitDownstream(t, down, downBefore+float64(n), 10*time.Minute)
	upFwdCPU, downFwdCPU := fbCPU(t, up)-upCPU, fbCPU(t, down)-downCPU
	prof.wait() // (before the reads below, which the profile would count)
	drainWall := lastArrival.Sub(fwd.start)
	upStored := fbStoredTimes(t, up.base, upKey, upSecret, activity)
	downStored := fbStoredTimes(t, down.base, dsKey, dsSecret, activity)
	burst := fbDelays(t, fwd.ids, upStored, downStored)
	lastDownStored := slices.MaxFunc(burst.downStored, time.Time.Compare)

	// (c) Backlog drain: the configuration is broken (a wrong secret), n
	// statements queue behind its open circuit, then the fix (a PUT with
	// the right secret) re-drives them all at once.
	a := &client{t: t, base: up.base + "/admin/v1/orgs/default"}
	put := func(secret string) {
		a.expect(http.StatusOK, http.MethodPut, "/configurations/"+cfgID, map[string]any{
			"name": "Downstream", "contact_email": "ops@example.com", "type": "xapi",
			"properties": map[string]string{"endpoint": down.base + "/xapi/", "version": "2.0.0"},
			"secrets":    map[string]string{"key": dsKey, "secret": secret}}, adminBearer()...)
	}
	put("wrong-" + dsSecret)
	fbIngest(t, up.base, upKey, upSecret, activity, verb, n, batch, clients, 0)
	fbWaitQueued(t, a, cfgID, n, 2*time.Minute)
	downBefore = fbStoredTotal(t, down.base)
	upCPU, downCPU = fbCPU(t, up), fbCPU(t, down)
	prof.take(1, "drain")
	fixed := time.Now()
	put(dsSecret)
	drained := fbWaitDownstream(t, down, downBefore+float64(n), 10*time.Minute)
	backlogWall := drained.Sub(fixed)
	upDrainCPU, downDrainCPU := fbCPU(t, up)-upCPU, fbCPU(t, down)-downCPU
	prof.wait()

	// (d) Steady state: the same upstream, statements posted at half the
	// measured drain rate in batches of 10 (the downstream keeps up).
	drainRate := float64(n) / drainWall.Seconds()
	rate := drainRate / 2
	steadyN := min(n, int(rate*30)) / 10 * 10
	steadyN = max(steadyN, 100)
	downBefore = fbStoredTotal(t, down.base)
	paced := fbIngest(t, up.base, upKey, upSecret, activity, verb, steadyN, 10, clients, rate)
	fbWaitDownstream(t, down, downBefore+float64(steadyN), 10*time.Minute)
	upStored = fbStoredTimes(t, up.base, upKey, upSecret, activity)
	downStored = fbStoredTimes(t, down.base, dsKey, dsSecret, activity)
	steady := fbDelays(t, paced.ids, upStored, downStored)

	per := func(d time.Duration, k int) string {
		return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(k))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "forwarding benchmark: %d statements, batches of %d, %d clients, GOMAXPROCS=%d, defaults (LRS_FORWARD_WORKERS=8, LRS_FORWARD_IN_FLIGHT=4)\n",
		n, batch, clients, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "| figure | measured | upstream CPU / statement | downstream CPU / statement |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| ingest, no objective (baseline) | %.0f st/s (%.2f s; batch p50 %v, p99 %v) | %s | — |\n",
		baseRes.rate(), baseRes.elapsed.Seconds(), fbPct(baseRes.lat, 50), fbPct(baseRes.lat, 99), per(baseCPU, n))
	fmt.Fprintf(&b, "| ingest, forwarding on (the engine sends meanwhile) | %.0f st/s (%.2f s; batch p50 %v, p99 %v) | %s during the ingest, %s with the whole drain | %s |\n",
		fwd.rate(), fwd.elapsed.Seconds(), fbPct(fwd.lat, 50), fbPct(fwd.lat, 99), per(upIngestCPU, n), per(upFwdCPU, n), per(downFwdCPU, n))
	fmt.Fprintf(&b, "| ingest with forwarding, by upstream CPU (baseline ÷ with the whole drain) | %.0f %% | | |\n",
		100*float64(baseCPU)/float64(upFwdCPU))
	fmt.Fprintf(&b, "| drain of the burst: first upstream POST → last downstream arrival | %.2f s → %.0f st/s | | |\n", drainWall.Seconds(), drainRate)
	fmt.Fprintf(&b, "| of which after the last upstream answer | %.2f s | | |\n", lastDownStored.Sub(fwd.start.Add(fwd.elapsed)).Seconds())
	fmt.Fprintf(&b, "| drain of a %d-statement backlog (the fix → last downstream arrival) | %.2f s → **%.0f st/s** | %s | %s |\n",
		n, backlogWall.Seconds(), float64(n)/backlogWall.Seconds(), per(upDrainCPU, n), per(downDrainCPU, n))
	fmt.Fprintf(&b, "| delay upstream stored → downstream stored, burst: p50 / p99 / max | %v / %v / %v | | |\n",
		fbPct(burst.delays, 50), fbPct(burst.delays, 99), slices.Max(burst.delays))
	fmt.Fprintf(&b, "| steady: %d statements at %.0f st/s offered (batches of 10), achieved | %.0f st/s | | |\n", steadyN, rate, paced.rate())
	fmt.Fprintf(&b, "| delay, steady: p50 / p99 / max | %v / %v / %v | | |\n",
		fbPct(steady.delays, 50), fbPct(steady.delays, 99), slices.Max(steady.delays))
	t.Logf("\n%s", b.String())
	fmt.Print(b.String())
}

// fbProfile takes CPU profiles of booted upstreams when
// LRS_BENCH_FORWARD_PROFILE names a file prefix; otherwise it does nothing.
type fbProfile struct {
	t       *testing.T
	prefix  string
	seconds int
	wg      sync.WaitGroup
}

func fbProfiler(t *testing.T) *fbProfile {
	p := &fbProfile{t: t, prefix: os.Getenv("LRS_BENCH_FORWARD_PROFILE"), seconds: 2}
	if v := os.Getenv("LRS_BENCH_FORWARD_PROFILE_SECONDS"); v != "" {
		var err error
		if p.seconds, err = strconv.Atoi(v); err != nil || p.seconds <= 0 {
			t.Fatalf("LRS_BENCH_FORWARD_PROFILE_SECONDS=%q: want a positive count", v)
		}
	}
	return p
}

// fbProfilePorts are the debug listeners of the baseline (0) and the
// forwarding upstream (1).
var fbProfilePorts = [2]int{18397, 18398}

// env is what the upstream i boots with.
func (p *fbProfile) env(i int) []string {
	if p.prefix == "" {
		return nil
	}
	return []string{fmt.Sprintf("LRS_DEBUG_ADDR=127.0.0.1:%d", fbProfilePorts[i])}
}

// take starts a profile of upstream i into prefix.name.
func (p *fbProfile) take(i int, name string) {
	if p.prefix == "" {
		return
	}
	p.wg.Go(func() {
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", fbProfilePorts[i], p.seconds)
		if err := saveProfile(url, p.prefix+"."+name); err != nil {
			p.t.Errorf("profile %s: %v", name, err)
		}
	})
	time.Sleep(50 * time.Millisecond) // the profile has started
}

// wait waits for the profiles taken.
func (p *fbProfile) wait() { p.wg.Wait() }

// fbCPU is the CPU time (user and system) the process has used so far.
func fbCPU(t *testing.T, p *proc) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) in ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", p.cmd.Process.Pid, b)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// fbWaitQueued waits until the configuration has n deliveries queued.
func fbWaitQueued(t *testing.T, a *client, cfgID string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st struct{ Queued int }
		r := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfgID+"/status", nil, adminBearer()...)
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d queued after %v, want %d", st.Queued, timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fbIngestResult is one ingest run.
type fbIngestResult struct {
	ids     []string
	start   time.Time
	elapsed time.Duration
	lat     []time.Duration // per POST
}

func (r fbIngestResult) rate() float64 { return float64(len(r.ids)) / r.elapsed.Seconds() }

var fbHTTP = &http.Client{
	Timeout:   2 * time.Minute,
	Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64},
}

// fbIngest POSTs n statements about activity in batches from clients
// goroutines. perSecond > 0 paces the batches to that statement rate.
func fbIngest(t *testing.T, base, key, secret, activity, verb string, n, batch, clients int, perSecond float64) fbIngestResult {
	t.Helper()
	ids := make([]string, n)
	bodies := make([][]byte, 0, (n+batch-1)/batch)
	for lo := 0; lo < n; lo += batch {
		var sts []map[string]any
		for i := lo; i < min(lo+batch, n); i++ {
			ids[i] = uuid.NewString()
			sts = append(sts, map[string]any{
				"id":     ids[i],
				"actor":  map[string]any{"objectType": "Agent", "mbox": fmt.Sprintf("mailto:fb-%d@example.com", i%500)},
				"verb":   map[string]any{"id": verb, "display": map[string]any{"en-US": "passed"}},
				"object": map[string]any{"id": activity, "definition": map[string]any{"name": map[string]any{"en-US": "Bench quiz"}}},
				"result": map[string]any{"score": map[string]any{"scaled": float64(i%100) / 100}, "success": true},
			})
		}
		body, err := json.Marshal(sts)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	type job struct {
		i  int
		at time.Time
	}
	jobs := make(chan job)
	lat := make([]time.Duration, len(bodies))
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for j := range jobs {
				if d := time.Until(j.at); d > 0 {
					time.Sleep(d)
				}
				t0 := time.Now()
				if err := fbPost(base, key, secret, bodies[j.i]); err != nil {
					errs <- err
					for range jobs {
					}
					return
				}
				lat[j.i] = time.Since(t0)
			}
		})
	}
	start := time.Now()
	for i := range bodies {
		at := start
		if perSecond > 0 {
			at = start.Add(time.Duration(float64(i*batch) / perSecond * float64(time.Second)))
		}
		jobs <- job{i, at}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	return fbIngestResult{ids: ids, start: start, elapsed: elapsed, lat: lat}
}

func fbPost(base, key, secret string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, base+"/xapi/statements", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(key, secret)
	req.Header.Set("X-Experience-API-Version", "2.0.0")
	req.Header.Set("Content-Type", "application/json")
	res, err := fbHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s/xapi/statements: %w", base, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s/xapi/statements: status %d: %s", base, res.StatusCode, b)
	}
	return nil
}

// fbStoredTotal reads lrs_statements_stored_total from base's /metrics.
func fbStoredTotal(t *testing.T, base string) float64 {
	t.Helper()
	f, err := storedTotal(base)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// storedTotal reads lrs_statements_stored_total from the LRS at base (from
// any goroutine).
func storedTotal(base string) (float64, error) {
	res, err := fbHTTP.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "lrs_statements_stored_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("lrs_statements_stored_total %q: %w", v, err)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s/metrics has no lrs_statements_stored_total", base)
}

// saveProfile saves the CPU profile at url (a debug listener's
// /debug/pprof/profile?seconds=N) to file.
func saveProfile(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if err == nil {
		err = os.WriteFile(file, b, 0o644)
	}
	return err
}

// fbWaitDownstream polls the downstream's stored counter until it reaches
// want and returns when it was first seen there.
func fbWaitDownstream(t *testing.T, down *proc, want float64, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := fbStoredTotal(t, down.base)
		if got >= want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("downstream stored %.0f statements, want %.0f, after %v", got, want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fbStoredTimes pages through base's statements about activity and returns
// each one's stored time by id.
func fbStoredTimes(t *testing.T, base, key, secret, activity string) map[string]time.Time {
	t.Helper()
	times := make(map[string]time.Time)
	path := "/xapi/statements?limit=1000&activity=" + url.QueryEscape(activity)
	for path != "" {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(key, secret)
		req.Header.Set("X-Experience-API-Version", "2.0.0")
		res, err := fbHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v: %s", path, res.StatusCode, err, body)
		}
		var sr struct {
			Statements []struct {
				ID     string    `json:"id"`
				Stored time.Time `json:"stored"`
			} `json:"statements"`
			More string `json:"more"`
		}
		if err := json.Unmarshal(body, &sr); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		for _, s := range sr.Statements {
			times[s.ID] = s.Stored
		}
		path = sr.More
	}
	return times
}

type fbDelayResult struct {
	delays     []time.Duration
	downStored []time.Time
}

// fbDelays is downstream stored − upstream stored of every id.
func fbDelays(t *testing.T, ids []string, up, down map[string]time.Time) fbDelayResult {
	t.Helper()
	var r fbDelayResult
	for _, id := range ids {
		u, ok1 := up[id]
		d, ok2 := down[id]
		if !ok1 || !ok2 {
			t.Fatalf("statement %s: upstream %v, downstream %v", id, ok1, ok2)
		}
		r.delays = append(r.delays, d.Sub(u))
		r.downStored = append(r.downStored, d)
	}
	slices.Sort(r.delays)
	return r
}

// fbPct is the p-th percentile (nearest rank) of ds, rounded to the ms.
func fbPct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)].Round(time.Millisecond)
}
