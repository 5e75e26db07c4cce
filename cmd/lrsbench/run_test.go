package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// fakeLRS emulates the statements resource minimally.
type fakeLRS struct {
	t        *testing.T
	mu       sync.Mutex
	ids      map[string]bool
	posts    int
	gets     map[string]int // by query parameter
	problems []string
	metrics  http.Handler // the process's own figures, as the LRS serves them
}

// processMetrics serves this test process's CPU and memory the way the LRS
// serves its own (client_golang's process collector).
func processMetrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

func (f *fakeLRS) fail(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeLRS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/xapi/about" {
		io.WriteString(w, `{"version":["2.0.0"]}`)
		return
	}
	if r.URL.Path == "/metrics" && f.metrics != nil {
		f.metrics.ServeHTTP(w, r)
		return
	}
	if r.URL.Path != "/xapi/statements" {
		http.NotFound(w, r)
		return
	}
	if v := r.Header.Get("X-Experience-API-Version"); v != "2.0.0" {
		f.fail("%s: version header %q", r.Method, v)
	}
	if k, s, ok := r.BasicAuth(); !ok || k != "k" || s != "s" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.fail("POST content type %q", ct)
		}
		body, _ := io.ReadAll(r.Body)
		var sts []struct{ ID string }
		if err := json.Unmarshal(body, &sts); err != nil {
			f.fail("POST body is not an array: %v", err)
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		ids := make([]string, len(sts))
		f.mu.Lock()
		f.posts++
		for i, st := range sts {
			if f.ids[st.ID] {
				f.problems = append(f.problems, "duplicate id "+st.ID)
			}
			f.ids[st.ID] = true
			ids[i] = st.ID
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(ids)
	case http.MethodGet:
		q := r.URL.Query()
		if q.Get("limit") != "10" {
			f.fail("GET limit %q", q.Get("limit"))
		}
		f.mu.Lock()
		for _, k := range []string{"agent", "verb", "activity", "registration"} {
			if q.Has(k) {
				f.gets[k]++
			}
		}
		f.mu.Unlock()
		io.WriteString(w, `{"statements":[],"more":""}`)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

func TestRun(t *testing.T) {
	f := &fakeLRS{t: t, ids: map[string]bool{}, gets: map[string]int{}, metrics: processMetrics()}
	srv := httptest.NewServer(f)
	defer srv.Close()

	env := map[string]string{"LRSBENCH_URL": srv.URL + "/xapi/", "LRSBENCH_KEY": "k", "LRSBENCH_SECRET": "s"}
	var stdout, stderr bytes.Buffer
	args := []string{"-n", "250", "-batch", "100", "-c", "3", "-queries", "40", "-qc", "4",
		"-warmup", "8", "-agents", "20", "-activities", "10", "-registrations", "5", "-seed", "7", "-json", "-settle", "20s"}
	if err := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, stderr.String())
	}
	out := stdout.String()
	t.Logf("stdout:\n%s", out)
	if stderr.Len() > 0 {
		t.Errorf("unexpected stderr: %s", stderr.String())
	}

	if len(f.problems) > 0 {
		t.Errorf("server saw problems: %q", f.problems)
	}
	if f.posts != 3 || len(f.ids) != 250 {
		t.Errorf("server got %d POSTs with %d statements, want 3 with 250", f.posts, len(f.ids))
	}
	for _, k := range []string{"agent", "verb", "activity", "registration"} {
		if f.gets[k] != 12 { // 10 counted + 2 warm-up
			t.Errorf("server got %d %s queries, want 12", f.gets[k], k)
		}
	}

	want := map[string]string{opPost: "3", opAgent: "10", opVerb: "10", opActivity: "10", opRegistration: "10"}
	for op, count := range want {
		re := regexp.MustCompile(`(?m)^\s*` + op + `\s+(\d+)\s+(\d+)\s`)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("report has no %s row", op)
			continue
		}
		if m[1] != count || m[2] != "0" {
			t.Errorf("%s: count %s errors %s, want count %s errors 0", op, m[1], m[2], count)
		}
	}

	js := out[strings.Index(out, "{"):]
	var rep report
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if len(rep.Operations) != 5 || rep.Operations[0].Statements != 250 {
		t.Errorf("JSON operations = %+v", rep.Operations)
	}
	// The server's figures, read from its metrics endpoint.
	if len(rep.Server) != 3 || rep.Server[0].Phase != "post" || rep.Server[1].Phase != "post+settle" || rep.Server[2].Phase != "query" {
		t.Fatalf("JSON server figures = %+v", rep.Server)
	}
	// The fake server has nothing left to do after the POSTs: it is idle
	// once it has been quiet for idleFor, and its CPU then includes the POSTs'.
	if st := rep.Server[1]; !st.Idle || st.Settle < idleFor.Seconds() || st.Settle > 20 || st.CPUSeconds < rep.Server[0].CPUSeconds {
		t.Errorf("settled figures %+v after %+v", st, rep.Server[0])
	}
	if !regexp.MustCompile(`(?m)^server post\+settle: cpu [\d.]+ s .*; idle \d+ s after the last POST$`).MatchString(out) {
		t.Errorf("report lacks the server's post+settle line")
	}
	for _, s := range rep.Server {
		if s.CPUSeconds < 0 || s.RSSEnd <= 0 || s.RSSMax < s.RSSEnd {
			t.Errorf("server figures %+v", s)
		}
	}
	if rep.Server[0].CPUSeconds > 0 && rep.Server[0].CPUPerStmt <= 0 {
		t.Errorf("post phase used %.3f s of CPU but no CPU per statement: %+v", rep.Server[0].CPUSeconds, rep.Server[0])
	}
	if !regexp.MustCompile(`(?m)^server post: cpu [\d.]+ s .*rss \d+ MiB`).MatchString(out) {
		t.Errorf("report lacks the server's post line")
	}
}

// Without ids, the LRS assigns them: the statements POSTed carry none.
func TestRunLRSAssignedIDs(t *testing.T) {
	var withID, without int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/xapi/about" {
			io.WriteString(w, `{"version":["2.0.0"]}`)
			return
		}
		var sts []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&sts); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		ids := make([]string, len(sts))
		mu.Lock()
		for i, st := range sts {
			if _, ok := st["id"]; ok {
				withID++
			} else {
				without++
			}
			ids[i] = fmt.Sprint(i)
		}
		mu.Unlock()
		json.NewEncoder(w).Encode(ids)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL + "/xapi", "-n", "30", "-batch", "10", "-c", "2", "-queries", "0", "-ids", "lrs", "-metrics", "off"}
	if err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if withID != 0 || without != 30 {
		t.Errorf("%d statements with an id, %d without; want 0 and 30", withID, without)
	}
	if stderr.Len() > 0 {
		t.Errorf("unexpected stderr: %s", stderr.String())
	}
}

func TestRunErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-n", "10", "-batch", "1", "-c", "2", "-queries", "4", "-warmup", "0", "-registrations", "3", "-metrics", "off"}
	err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "14 of 14 requests failed") {
		t.Errorf("run error = %v", err)
	}
	if !strings.Contains(stdout.String(), "errors post-batch: 500 x10") {
		t.Errorf("stdout lacks error breakdown:\n%s", stdout.String())
	}
	if n := strings.Count(stderr.String(), "boom"); n != maxErrBodies {
		t.Errorf("stderr has %d error bodies, want %d:\n%s", n, maxErrBodies, stderr.String())
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-url", "http://x", "-batch", "0"}, {"-url", "http://x", "extra"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func TestRunUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"-url", url, "-n", "10"}, func(string) string { return "" }, &stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("run error = %v", err)
	}
	if strings.Contains(stdout.String(), "post-batch") {
		t.Errorf("load was sent to an unreachable server:\n%s", stdout.String())
	}
}
