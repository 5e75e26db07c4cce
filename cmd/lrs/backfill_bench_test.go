package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestBackfillBenchmark measures what a backfill on attach costs the rest
// of the LRS (BENCHMARKS.md, "Backfill on attach while ingesting (issue
// 18)"): real binaries on the embedded store, an upstream holding
// LRS_BENCH_BACKFILL_N statements (default 100,000) about one activity,
// and, alternated, ingest runs (batches of 100 and single statements, 8
// clients, about an activity no objective matches) without a backfill and
// while the objective's new xAPI configuration backfills those statements
// to a fresh downstream LRS. Meanwhile a second configuration, attached to
// another objective, gets a live statement every 50 ms on its own
// downstream: its delay (downstream stored − upstream stored) is reported
// by phase. It runs only with LRS_BENCH_BACKFILL=1:
//
//	LRS_BENCH_BACKFILL=1 go test -count=1 -run TestBackfillBenchmark -v -timeout 30m ./cmd/lrs
//
// LRS_BENCH_BACKFILL_ROUNDS sets the number of backfills (default 2);
// LRS_FORWARD_BACKFILL_CHUNK and LRS_FORWARD_BACKFILL_PAUSE, when set, are
// the upstream's (default 500 and 20ms);
// LRS_BENCH_BACKFILL_PROFILE=prefix takes CPU profiles of the upstream
// during the first backfill: prefix.counting (its first 5 s) and
// prefix.delivering (10 s from when it has counted).
func TestBackfillBenchmark(t *testing.T) {
	if os.Getenv("LRS_BENCH_BACKFILL") != "1" {
		t.Skip("set LRS_BENCH_BACKFILL=1 to run the backfill benchmark")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads process CPU times from /proc")
	}
	n := bbEnvInt(t, "LRS_BENCH_BACKFILL_N", 100000)
	rounds := bbEnvInt(t, "LRS_BENCH_BACKFILL_ROUNDS", 2)
	const (
		filled   = "http://example.com/bench/backfill/old"   // the backfilled objective's
		live     = "http://example.com/bench/backfill/live"  // the other configuration's
		other    = "http://example.com/bench/backfill/other" // the ingest load's: no objective
		verb     = "http://adlnet.gov/expapi/verbs/passed"
		dsKey    = "bb-down-key"
		dsSecret = "bb-down-secret-0123456789abcdef"
		upKey    = "bb-up-key"
		upSecret = "bb-up-secret-0123456789abcdef"
		debug    = "127.0.0.1:18399"
	)
	common := []string{"LRS_LOG_LEVEL=warn", "LRS_MAX_LIMIT=1000"}
	downstream := func() *proc {
		return startLRS(t, append(slices.Clone(common), "LRS_DATA_DIR="+t.TempDir(),
			"LRS_BOOTSTRAP_KEY="+dsKey, "LRS_BOOTSTRAP_SECRET="+dsSecret)...)
	}
	upEnv := append(slices.Clone(common), "LRS_DATA_DIR="+t.TempDir(), "LRS_ADMIN_TOKEN="+testAdminToken,
		"LRS_FORWARD_KEY="+base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", 32))),
		"LRS_FORWARD_ALLOWED_NETWORKS="+loopbackNetworks, "LRS_DEBUG_ADDR="+debug,
		"LRS_BOOTSTRAP_KEY="+upKey, "LRS_BOOTSTRAP_SECRET="+upSecret)
	chunk, pause := "500", "20ms" // the defaults, unless the environment sets them
	if v := os.Getenv("LRS_FORWARD_BACKFILL_CHUNK"); v != "" {
		chunk = v
	}
	if v := os.Getenv("LRS_FORWARD_BACKFILL_PAUSE"); v != "" {
		pause = v
	}
	up := startLRS(t, append(upEnv, "LRS_FORWARD_BACKFILL_CHUNK="+chunk, "LRS_FORWARD_BACKFILL_PAUSE="+pause)...)
	config := func(name string, down *proc) string {
		out := mustAdmin(t, up.base, "configuration", "create", "--org", "default", "--name", name,
			"--contact-email", "ops@example.com", "--endpoint", down.base+"/xapi/", "--version", "2.0.0",
			"--key", dsKey, "--secret", dsSecret)
		m := idRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("configuration create:\n%s", out)
		}
		return m[1]
	}
	liveDown := downstream()
	mustAdmin(t, up.base, "objective", "create", "--org", "default", "--name", "Live",
		"--activity-id", live, "--configuration", config("Live", liveDown))
	out := mustAdmin(t, up.base, "objective", "create", "--org", "default", "--name", "Backfilled", "--activity-id", filled)
	m := idRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("objective create:\n%s", out)
	}
	objID := m[1]

	loadStart := time.Now()
	fbIngest(t, up.base, upKey, upSecret, filled, verb, n, 500, 4, 0)
	t.Logf("loaded %d statements in %v", n, time.Since(loadStart).Round(time.Millisecond))

	// The live stream: one statement every 50 ms until the end.
	stopLive := make(chan struct{})
	liveDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopLive:
				liveDone <- nil
				return
			case <-tick.C:
			}
			body := fmt.Sprintf(`{"id":%q,"actor":{"mbox":"mailto:live-%d@example.com"},"verb":{"id":%q},"object":{"id":%q}}`,
				uuid.NewString(), i%50, verb, live)
			if err := fbPost(up.base, upKey, upSecret, []byte(body)); err != nil {
				liveDone <- err
				return
			}
		}
	}()

	var runs []bbRun
	ingest := func(phase string, inBackfill func() string) {
		for _, b := range []struct{ n, batch int }{{10000, 100}, {2000, 1}} {
			cpu0, t0 := fbCPU(t, up), time.Now()
			label := phase
			if inBackfill != nil {
				label = inBackfill()
			}
			r := fbIngest(t, up.base, upKey, upSecret, other, verb, b.n, b.batch, 8, 0)
			if inBackfill != nil && inBackfill() != label {
				label += "→" + inBackfill()
			}
			runs = append(runs, bbRun{phase: label, batch: b.batch, res: r, cpu: fbCPU(t, up) - cpu0, wall: time.Since(t0)})
		}
	}
	var windows []bbWindow // the backfills, for the live delays
	var fills []string
	for round := range rounds {
		for range 2 {
			ingest("no backfill", nil)
		}
		down := downstream()
		cfg := config(fmt.Sprintf("Backfill %d", round), down)
		var phase atomic.Value
		phase.Store("counting")
		stop := make(chan struct{})
		polled := make(chan bbPoll, 1)
		attached := time.Now()
		profile := ""
		if round == 0 {
			profile = os.Getenv("LRS_BENCH_BACKFILL_PROFILE")
		}
		if profile != "" {
			go bbProfile(t, debug, profile+".counting", 5)
		}
		cpuUp0, cpuDown0 := fbCPU(t, up), fbCPU(t, down)
		mustAdmin(t, up.base, "objective", "attach", "--org", "default", "--id", objID, "--configuration", cfg, "--backfill")
		go func() { polled <- bbPollBackfill(t, up, down, cfg, n, attached, &phase, stop) }()
		for phase.Load() != "drained" {
			if profile != "" && phase.Load() == "delivering" {
				go bbProfile(t, debug, profile+".delivering", 10)
				profile = ""
			}
			ingest("", func() string { return phase.Load().(string) })
		}
		p := <-polled
		close(stop)
		cpuUp, cpuDown := fbCPU(t, up)-cpuUp0, fbCPU(t, down)-cpuDown0
		windows = append(windows, bbWindow{from: attached, counted: p.counted, done: p.done, drained: p.drained})
		fills = append(fills, fmt.Sprintf("| %d | %v | %v | %v | %d of %d | %.1f s (%.0f %% of a core) | %.1f s |",
			round+1, p.counted.Sub(attached).Round(10*time.Millisecond), p.done.Sub(attached).Round(10*time.Millisecond),
			p.drained.Sub(attached).Round(10*time.Millisecond), p.doneN, p.total,
			cpuUp.Seconds(), 100*cpuUp.Seconds()/p.drained.Sub(attached).Seconds(), cpuDown.Seconds()))
		down.stop()
	}
	for range 2 {
		ingest("no backfill", nil)
	}
	close(stopLive)
	if err := <-liveDone; err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the last live statements arrive
	upStored := fbStoredTimes(t, up.base, upKey, upSecret, live)
	downStored := fbStoredTimes(t, liveDown.base, dsKey, dsSecret, live)

	var b strings.Builder
	fmt.Fprintf(&b, "backfill benchmark: %d statements backfilled per round, %d rounds, GOMAXPROCS=%d, LRS_FORWARD_BACKFILL_CHUNK=%s, LRS_FORWARD_BACKFILL_PAUSE=%s\n",
		n, rounds, runtime.GOMAXPROCS(0), chunk, pause)
	fmt.Fprintf(&b, "\nbackfills (from the attach):\n| round | counted | done (deliveries made) | drained (downstream has all) | done of total | upstream CPU | downstream CPU |\n|---|---|---|---|---|---|---|\n")
	for _, f := range fills {
		fmt.Fprintln(&b, f)
	}
	fmt.Fprintf(&b, "\ningest runs, 8 clients, about an activity no objective matches (phase at start→end):\n| phase | batch | statements | rate | p50 | p99 | max | upstream CPU |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f st/s | %v | %v | %v | %.0f %% of a core |\n", r.phase, r.batch, len(r.res.ids), r.res.rate(),
			fbPct(r.res.lat, 50), fbPct(r.res.lat, 99), slices.Max(r.res.lat).Round(time.Millisecond), 100*r.cpu.Seconds()/r.wall.Seconds())
	}
	byPhase := map[string][]time.Duration{}
	var order []string
	for id, u := range upStored {
		d, ok := downStored[id]
		if !ok {
			t.Errorf("live statement %s did not reach its downstream", id)
			continue
		}
		ph := "no backfill"
		for _, w := range windows {
			switch {
			case u.Before(w.from) || !u.Before(w.drained):
			case u.Before(w.counted):
				ph = "backfill counting"
			case u.Before(w.done):
				ph = "backfill making deliveries"
			default:
				ph = "backfill's deliveries sent"
			}
		}
		if _, ok := byPhase[ph]; !ok {
			order = append(order, ph)
		}
		byPhase[ph] = append(byPhase[ph], d.Sub(u))
	}
	slices.Sort(order)
	fmt.Fprintf(&b, "\nthe other configuration's delay (downstream stored − upstream stored), a statement every 50 ms:\n| phase | statements | p50 | p99 | max |\n|---|---|---|---|---|\n")
	for _, ph := range order {
		ds := byPhase[ph]
		fmt.Fprintf(&b, "| %s | %d | %v | %v | %v |\n", ph, len(ds), fbPct(ds, 50), fbPct(ds, 99), slices.Max(ds).Round(time.Millisecond))
	}
	t.Logf("\n%s", b.String())
	fmt.Print(b.String())
}

type bbRun struct {
	phase string
	batch int
	res   fbIngestResult
	cpu   time.Duration
	wall  time.Duration
}

type bbWindow struct{ from, counted, done, drained time.Time }

type bbPoll struct {
	counted, done, drained time.Time
	doneN, total           int
}

// bbPollBackfill follows the configuration's backfill (its status every
// 100 ms) and its downstream's stored count until the downstream has n
// statements, setting phase as it goes: counting, delivering (the
// deliveries are being made), sending (made, not all arrived), drained.
func bbPollBackfill(t *testing.T, up, down *proc, cfg string, n int, from time.Time, phase *atomic.Value, stop chan struct{}) bbPoll {
	var p bbPoll
	deadline := from.Add(20 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-stop:
			return p
		default:
		}
		st, err := backfillStatus(t, up, cfg)
		if err == nil && len(st.Backfills) == 1 {
			b := st.Backfills[0]
			if b.Counted && p.counted.IsZero() {
				p.counted = time.Now()
				phase.Store("delivering")
			}
			if b.State == "done" && p.done.IsZero() {
				p.done, p.doneN, p.total = time.Now(), b.Done, b.Total
				phase.Store("sending")
			}
		}
		if got, err := storedTotal(down.base); err == nil && got >= float64(n) {
			p.drained = time.Now()
			for p.done.IsZero() && time.Since(p.drained) < 10*time.Second {
				// Sent as fast as made: the job's end comes with the last.
				if st, err := backfillStatus(t, up, cfg); err == nil && len(st.Backfills) == 1 && st.Backfills[0].State == "done" {
					p.done, p.doneN, p.total = time.Now(), st.Backfills[0].Done, st.Backfills[0].Total
				} else {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if p.done.IsZero() || p.done.After(p.drained) {
				p.done = p.drained
			}
			if p.counted.IsZero() {
				p.counted = p.drained
			}
			phase.Store("drained")
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
	phase.Store("drained")
	return p
}

// bbProfile saves a CPU profile of seconds from the debug listener at addr.
func bbProfile(t *testing.T, addr, file string, seconds int) {
	if err := saveProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), file); err != nil {
		t.Errorf("profile: %v", err)
	}
}

func bbEnvInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive count", name, v)
	}
	return n
}
