package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward/clever/clevertest"
)

// TestCleverBenchmark measures a backlog drain of Clever grades through
// the booted binary (BENCHMARKS.md, "Clever grade passback"): N results
// queue behind a configuration whose token Clever refuses, then the
// configuration is edited with a good token and the drain is timed from
// the edit to the last grade at the simulator, with the CPU the process
// spent meanwhile. It takes minutes at Clever's default limit, so it runs
// only with LRS_BENCH_CLEVER=1:
//
//	LRS_BENCH_CLEVER=1 go test -count=1 -run TestCleverBenchmark -v -timeout 20m ./cmd/lrs
//
// LRS_BENCH_CLEVER_N (default 5,000 grades, in sections of 125),
// LRS_BENCH_CLEVER_LIMIT (the configuration's rate_limit, default 1,200
// per minute; a large one measures the engine itself), and
// LRS_BENCH_CLEVER_MONGODB=1 (the MongoDB test server instead of the
// embedded store), LRS_BENCH_CLEVER_PROFILE=file (a CPU profile of the
// drain's first 3 seconds, through LRS_DEBUG_ADDR).
func TestCleverBenchmark(t *testing.T) {
	if os.Getenv("LRS_BENCH_CLEVER") != "1" {
		t.Skip("set LRS_BENCH_CLEVER=1 to run the Clever drain benchmark")
	}
	n, limit := 5000, 1200
	if v, err := strconv.Atoi(os.Getenv("LRS_BENCH_CLEVER_N")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("LRS_BENCH_CLEVER_LIMIT")); err == nil && v > 0 {
		limit = v
	}
	storeEnv := []string{"LRS_DATA_DIR=" + t.TempDir()}
	if os.Getenv("LRS_BENCH_CLEVER_MONGODB") == "1" {
		storeEnv = mongoStoreEnv(t)
	}
	sections := max(1, n/125)

	sim := clevertest.New(clevertest.Options{RateLimit: limit})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	district := clevertest.NewID()
	bad := sim.AddDistrict(clevertest.District{ID: district, Name: "Capital City"})
	sim.RevokeToken(bad)
	good := sim.IssueToken(district)
	var secs, emails []string
	students := map[string]string{}
	for range sections {
		id := clevertest.NewID()
		secs = append(secs, id)
		sim.AddSection(clevertest.Section{ID: id, District: district, Name: "Period"})
	}
	for i := range n {
		email, id := fmt.Sprintf("b%05d@example.com", i), clevertest.NewID()
		emails = append(emails, email)
		students[email] = id
		sim.AddStudent(clevertest.User{ID: id, District: district, Email: email}, secs[i%sections])
	}

	env := append(upstreamEnv(storeEnv), "LRS_LOG_LEVEL=warn", "LRS_FORWARD_PROBE_INTERVAL=1s")
	profile := os.Getenv("LRS_BENCH_CLEVER_PROFILE") // a file: a CPU profile of the drain's first seconds
	if profile != "" {
		env = append(env, "LRS_DEBUG_ADDR=127.0.0.1:18399")
	}
	up := startLRS(t, env...)
	a := fwdAdmin(t, up)
	config := func(tok string) map[string]any {
		return map[string]any{"name": "Capital City gradebook", "contact_email": "ops@example.com", "type": "clever",
			"properties": map[string]string{"base_url": srv.URL, "rate_limit": strconv.Itoa(limit),
				"sections": `{"*":["` + strings.Join(secs, `","`) + `"]}`},
			"secrets": map[string]string{"token": tok}}
	}
	r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", config(bad), adminBearer()...)
	var cfg struct{ ID string }
	if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
		t.Fatalf("configuration create answered %s (%v)", r.body, err)
	}
	a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
		"name": "Road safety", "activity_id": resAct, "configurations": []string{cfg.ID}}, adminBearer()...)
	x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
	ingest := time.Now()
	for b := 0; b < n; b += 100 {
		var sts []string
		for i := b; i < min(b+100, n); i++ {
			sts = append(sts, strings.Replace(resStmt(uuid.NewString(), "passed", resAct, 0,
				fmt.Sprintf(`{"success":true,"score":{"scaled":%v}}`, float64(i%100)/100)),
				`"mailto:ada@example.com"`, `"mailto:`+emails[i]+`"`, 1))
		}
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(sts, ",")+"]")
	}
	t.Logf("%d statements posted in %v", n, time.Since(ingest).Round(time.Millisecond))
	fbWaitQueued(t, a, cfg.ID, n, 10*time.Minute)
	before := sim.Requests()

	cpu0, fixed := fbCPU(t, up), time.Now()
	a.expect(http.StatusOK, http.MethodPut, "/configurations/"+cfg.ID, config(good), adminBearer()...)
	if profile != "" {
		go func() {
			resp, err := http.Get("http://127.0.0.1:18399/debug/pprof/profile?seconds=3")
			if err != nil {
				t.Errorf("profile: %v", err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(profile)
			if err != nil {
				t.Errorf("profile: %v", err)
				return
			}
			defer f.Close()
			_, _ = io.Copy(f, resp.Body)
		}()
	}
	deadline := fixed.Add(time.Duration(float64(n)/float64(limit)*float64(time.Minute))*2 + 2*time.Minute)
	for {
		graded := 0
		for _, id := range students {
			if sim.Grades(id) > 0 {
				graded++
			}
		}
		if graded == n {
			break
		}
		if time.Now().After(deadline) {
			st := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, adminBearer()...).body
			t.Fatalf("%d of %d graded by the deadline; status %s", graded, n, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	drain, cpu := time.Since(fixed), fbCPU(t, up)-cpu0
	requests := sim.Requests() - before
	limited := 0
	for _, w := range sim.Windows(good) {
		limited += w.Limited
		if w.Requests > limit {
			t.Errorf("window %v: %d requests, over the limit %d", w.Start, w.Requests, limit)
		}
	}
	bound := time.Duration(float64(requests) / float64(limit) * float64(time.Minute))
	t.Logf("drain of %d grades in %d sections (limit %d/min): %v, %d requests (%d answered 429), bound %v: drain/bound %.3f; %.0f grades/s; CPU %v, %v per grade",
		n, sections, limit, drain.Round(time.Millisecond), requests, limited, bound.Round(time.Millisecond), drain.Seconds()/bound.Seconds(),
		float64(n)/drain.Seconds(), cpu, cpu/time.Duration(n))
}
