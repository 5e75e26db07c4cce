package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The end-to-end tests build the real binary, boot it on a random port and
// talk to it over HTTP as an xAPI client would.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		// LRS_BENCH_BINARY runs the tests (benchmarks: to compare builds)
		// against a binary built beforehand.
		if p := os.Getenv("LRS_BENCH_BINARY"); p != "" {
			binPath, buildErr = p, nil
			if _, err := os.Stat(p); err != nil {
				buildErr = fmt.Errorf("LRS_BENCH_BINARY: %w", err)
			}
			return
		}
		dir, err := os.MkdirTemp("", "lrs-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "lrs")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var (
	clockBuildOnce sync.Once
	clockBinPath   string
	clockBuildErr  error
)

// buildClockBinary builds, once, the binary with the test clock
// (-tags lrstestclock: LRS_TEST_CLOCK_START and LRS_TEST_CLOCK_SPEED,
// clock.go); start it with startLRSBinary.
func buildClockBinary(t *testing.T) string {
	t.Helper()
	clockBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lrs-e2e-clock-bin")
		if err != nil {
			clockBuildErr = err
			return
		}
		clockBinPath = filepath.Join(dir, "lrs")
		cmd := exec.Command("go", "build", "-tags", "lrstestclock", "-o", clockBinPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			clockBuildErr = fmt.Errorf("go build -tags lrstestclock: %v\n%s", err, out)
		}
	})
	if clockBuildErr != nil {
		t.Fatal(clockBuildErr)
	}
	return clockBinPath
}

// proc is a running lrs binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	mu     sync.Mutex
	output bytes.Buffer
	exited chan struct{}
}

var listeningRE = regexp.MustCompile(`listening on (\S+:\d+)`)

// startLRS boots the binary with env (added to a minimal environment) and
// waits until it reports its address.
func startLRS(t *testing.T, env ...string) *proc {
	t.Helper()
	return startLRSBinary(t, buildBinary(t), env...)
}

// startLRSBinary is startLRS with another build of the binary.
func startLRSBinary(t *testing.T, bin string, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LRS_ADDR=127.0.0.1:0"}, env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout = pw
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start lrs: %v", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop() })
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.exited:
		t.Fatalf("lrs exited before listening:\n%s", p.out())
	case <-time.After(60 * time.Second):
		t.Fatalf("lrs did not report its address within 60s:\n%s", p.out())
	}
	return p
}

func (p *proc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		p.t.Errorf("lrs did not stop within 30s of SIGTERM:\n%s", p.out())
		<-p.exited
	}
}

type client struct {
	t           *testing.T
	base        string
	key, secret string
	version     string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *client) do(method, path string, body any, header ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.SetBasicAuth(c.key, c.secret)
	}
	if c.version != "" {
		req.Header.Set("X-Experience-API-Version", c.version)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("read %s %s: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (c *client) expect(want int, method, path string, body any, header ...string) response {
	c.t.Helper()
	r := c.do(method, path, body, header...)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

type statementResult struct {
	Statements []map[string]any `json:"statements"`
	More       string           `json:"more"`
}

func (c *client) queryAll(path string) []string {
	c.t.Helper()
	var ids []string
	for path != "" {
		r := c.expect(http.StatusOK, http.MethodGet, path, nil)
		var sr statementResult
		if err := json.Unmarshal(r.body, &sr); err != nil {
			c.t.Fatalf("GET %s: %v: %s", path, err, r.body)
		}
		for _, s := range sr.Statements {
			ids = append(ids, s["id"].(string))
		}
		path = strings.TrimPrefix(sr.More, "/xapi")
		if sr.More != "" && !strings.HasPrefix(sr.More, "/xapi/statements?") {
			c.t.Fatalf("more %q is not a path under the xAPI root", sr.More)
		}
	}
	return ids
}

func e2eStatement(id, mbox, verb, activity string) map[string]any {
	s := map[string]any{
		"actor":  map[string]any{"objectType": "Agent", "mbox": "mailto:" + mbox},
		"verb":   map[string]any{"id": "http://adlnet.gov/expapi/verbs/" + verb, "display": map[string]any{"en-US": verb}},
		"object": map[string]any{"id": "http://example.com/e2e/" + activity},
	}
	if id != "" {
		s["id"] = id
	}
	return s
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test boots the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGTERM")
	}
	forEachEngine(t, testEndToEnd)
}

func testEndToEnd(t *testing.T, storeEnv []string) {
	env := append(slices.Clone(storeEnv),
		"LRS_BOOTSTRAP_KEY=e2e-key",
		"LRS_BOOTSTRAP_SECRET=e2e-secret-0123456789abcdef",
	)
	p := startLRS(t, env...)
	if slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "LRS_MONGODB_URI=") }) {
		waitOutput(t, p, `store="mongodb`) // the engine under test is the one in use
	}
	c := &client{t: t, base: p.base + "/xapi", key: "e2e-key", secret: "e2e-secret-0123456789abcdef", version: "2.0.0"}

	// About needs neither credentials nor a version header.
	anon := &client{t: t, base: c.base}
	about := anon.expect(http.StatusOK, http.MethodGet, "/about", nil)
	var ab struct{ Version []string }
	if err := json.Unmarshal(about.body, &ab); err != nil || !slices.Contains(ab.Version, "1.0.3") || !slices.Contains(ab.Version, "2.0.0") {
		t.Errorf("about = %s (%v), want versions 1.0.3 and 2.0.0", about.body, err)
	}
	anonStatements := anon.do(http.MethodGet, "/statements", nil, "X-Experience-API-Version", "2.0.0")
	if anonStatements.status != http.StatusUnauthorized || anonStatements.header.Get("WWW-Authenticate") == "" {
		t.Errorf("statements without credentials: %d %v, want 401 with WWW-Authenticate", anonStatements.status, anonStatements.header)
	}
	wrong := &client{t: t, base: c.base, key: "e2e-key", secret: "wrong", version: "2.0.0"}
	wrong.expect(http.StatusUnauthorized, http.MethodGet, "/statements", nil)
	noVersion := &client{t: t, base: c.base, key: c.key, secret: c.secret}
	noVersion.expect(http.StatusBadRequest, http.MethodGet, "/statements", nil)

	// PUT, then the same again (204), then a different one with that id (409).
	putID := uuid.NewString()
	c.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+putID, e2eStatement("", "ann@example.com", "attempted", "course"))
	c.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+putID, e2eStatement("", "ann@example.com", "attempted", "course"))
	c.expect(http.StatusConflict, http.MethodPut, "/statements?statementId="+putID, e2eStatement("", "ann@example.com", "failed", "course"))

	// POST a batch; ids come back in order.
	var batch []map[string]any
	for i := range 25 {
		batch = append(batch, e2eStatement("", fmt.Sprintf("learner%d@example.com", i%5), "completed", "course"))
	}
	r := c.expect(http.StatusOK, http.MethodPost, "/statements", batch)
	var ids []string
	if err := json.Unmarshal(r.body, &ids); err != nil || len(ids) != 25 {
		t.Fatalf("POST batch answered %s (%v), want 25 ids", r.body, err)
	}
	if r.header.Get("X-Experience-API-Consistent-Through") == "" {
		t.Error("POST /statements has no X-Experience-API-Consistent-Through")
	}
	if got := r.header.Get("X-Experience-API-Version"); got != "2.0.0" {
		t.Errorf("X-Experience-API-Version = %q, want 2.0.0", got)
	}

	// GET one, with stored/authority set by the LRS.
	one := c.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+ids[3], nil)
	var st map[string]any
	if err := json.Unmarshal(one.body, &st); err != nil {
		t.Fatal(err)
	}
	if st["id"] != ids[3] || st["stored"] == nil || st["authority"] == nil || st["version"] != "2.0.0" {
		t.Errorf("stored statement %s lacks LRS-set properties", one.body)
	}
	if one.header.Get("Last-Modified") == "" {
		t.Error("GET statement has no Last-Modified")
	}

	// Query with paging: every statement exactly once, in stored order.
	all := c.queryAll("/statements?verb=" + "http://adlnet.gov/expapi/verbs/completed" + "&limit=4")
	if len(all) != 25 {
		t.Fatalf("paged query returned %d statements, want 25", len(all))
	}
	for _, id := range ids {
		if !slices.Contains(all, id) {
			t.Errorf("statement %s missing from the paged query", id)
		}
	}
	agent := `{"mbox":"mailto:learner2@example.com"}`
	byAgent := c.queryAll("/statements?agent=" + url.QueryEscape(agent))
	if len(byAgent) != 5 {
		t.Errorf("agent query returned %d statements, want 5", len(byAgent))
	}

	// Void one: it leaves queries and is fetchable by voidedStatementId.
	voidID := uuid.NewString()
	voider := map[string]any{
		"id":     voidID,
		"actor":  map[string]any{"mbox": "mailto:admin@example.com"},
		"verb":   map[string]any{"id": "http://adlnet.gov/expapi/verbs/voided", "display": map[string]any{"en-US": "voided"}},
		"object": map[string]any{"objectType": "StatementRef", "id": ids[0]},
	}
	c.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+voidID, voider)
	c.expect(http.StatusNotFound, http.MethodGet, "/statements?statementId="+ids[0], nil)
	c.expect(http.StatusOK, http.MethodGet, "/statements?voidedStatementId="+ids[0], nil)
	// The query keeps the 24 other completed statements and, through its
	// StatementRef to a completed statement, the voiding statement itself
	// (xAPI Communication 2.1.3, filter conditions for StatementRefs).
	after := c.queryAll("/statements?verb=http://adlnet.gov/expapi/verbs/completed")
	if slices.Contains(after, ids[0]) || !slices.Contains(after, voidID) || len(after) != 25 {
		t.Errorf("after voiding, query returned %d statements, want 25 (voided one included: %v, voiding one included: %v)",
			len(after), slices.Contains(after, ids[0]), slices.Contains(after, voidID))
	}

	// Bad input: clear 4xx, never a 500.
	c.expect(http.StatusBadRequest, http.MethodPost, "/statements", `{"actor": `)
	c.expect(http.StatusBadRequest, http.MethodPost, "/statements", `{"actor":{"mbox":"ann@example.com"},"verb":{"id":"http://x.y/z"},"object":{"id":"http://x.y/a"}}`)
	c.expect(http.StatusBadRequest, http.MethodGet, "/statements?verb=not-an-iri", nil)
	c.expect(http.StatusNotFound, http.MethodGet, "/nothing-here", nil)

	// Health and metrics.
	ops := &client{t: t, base: p.base}
	ops.expect(http.StatusOK, http.MethodGet, "/healthz", nil)
	ops.expect(http.StatusOK, http.MethodGet, "/readyz", nil)
	m := ops.expect(http.StatusOK, http.MethodGet, "/metrics", nil)
	for _, series := range []string{"lrs_http_requests_total", "lrs_statements_stored_total", "lrs_store_operation_duration_seconds"} {
		if !bytes.Contains(m.body, []byte(series)) {
			t.Errorf("/metrics lacks %s", series)
		}
	}

	// Restart on the same store: everything is still there.
	p.stop()
	p2 := startLRS(t, env...)
	c.base = p2.base + "/xapi"
	again := c.queryAll("/statements?verb=http://adlnet.gov/expapi/verbs/completed&limit=10")
	if len(again) != 25 || slices.Contains(again, ids[0]) || !slices.Contains(again, voidID) {
		t.Errorf("after restart, query returned %d statements, want the same 25 as before", len(again))
	}
	c.expect(http.StatusOK, http.MethodGet, "/statements?voidedStatementId="+ids[0], nil)
	c.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+putID, nil)
}

func TestBootstrapPrintsCredentialsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, testBootstrapPrintsCredentialsOnce)
}

func testBootstrapPrintsCredentialsOnce(t *testing.T, storeEnv []string) {
	p := startLRS(t, storeEnv...)
	out := p.out()
	// Wait for the banner lines, which may follow the listening line.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out, "secret") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		out = p.out()
	}
	key := regexp.MustCompile(`(?mi)^\s*key:\s*(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`(?mi)^\s*secret:\s*(\S+)`).FindStringSubmatch(out)
	if key == nil || secret == nil {
		t.Fatalf("first start did not print a key and secret:\n%s", out)
	}
	c := &client{t: t, base: p.base + "/xapi", key: key[1], secret: secret[1], version: "1.0.3"}
	c.expect(http.StatusOK, http.MethodGet, "/statements", nil)
	p.stop()

	p2 := startLRS(t, storeEnv...)
	// Every start prints the endpoint line of the banner; wait for it.
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(p2.out(), "xAPI endpoint:") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p2.out(), "xAPI endpoint:") {
		t.Errorf("second start did not print the xAPI endpoint:\n%s", p2.out())
	}
	c.base = p2.base + "/xapi"
	c.expect(http.StatusOK, http.MethodGet, "/statements", nil)
	// Once the process has exited, its whole output is in hand.
	p2.stop()
	if strings.Contains(p2.out(), secret[1]) {
		t.Errorf("second start printed the secret again:\n%s", p2.out())
	}
	if regexp.MustCompile(`(?mi)^\s*secret:`).MatchString(p2.out()) {
		t.Errorf("second start printed a secret line:\n%s", p2.out())
	}
}
