package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// MongoDB outages: lrs keeps running while the database is away, answers
// 503 with a clear body (never a 500), and recovers by itself when the
// database is back.

// ferret is a MongoDB-compatible test server (FerretDB) this test owns, on a
// fixed port and data directory so that it can be stopped and restarted.
type ferret struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  *strings.Builder
}

func ferretBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("LRS_TEST_FERRETDB_BIN")
	if bin == "" {
		t.Skip("LRS_TEST_FERRETDB_BIN not set (make test sets it)")
	}
	if filepath.IsAbs(bin) {
		return bin
	}
	// make passes a path relative to the module root; tests run in the
	// package directory.
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	abs := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), bin)
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("LRS_TEST_FERRETDB_BIN %q: %v", bin, err)
	}
	return abs
}

// freeAddr returns a local address no one is listening on (at the time).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func startFerret(t *testing.T, bin, dir, addr string) *ferret {
	t.Helper()
	f := &ferret{t: t, bin: bin, dir: dir, addr: addr, done: make(chan struct{}), log: new(strings.Builder)}
	uriFile := filepath.Join(dir, "uri")
	_ = os.Remove(uriFile)
	f.cmd = exec.Command(bin, "-dir", filepath.Join(dir, "data"), "-listen", addr, "-uri-file", uriFile, "-log-level", "error")
	f.cmd.Stdout = f.log
	f.cmd.Stderr = f.log
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("start FerretDB: %v", err)
	}
	go func() {
		_ = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(f.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(uriFile); err == nil && len(b) > 0 {
			return f
		}
		select {
		case <-f.done:
			t.Fatalf("FerretDB exited before it was ready:\n%s", f.log)
		default:
		}
		if time.Now().After(deadline) {
			f.stop()
			t.Fatalf("FerretDB not ready within 30s:\n%s", f.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *ferret) uri() string { return "mongodb://" + f.addr + "/" }

// stop sends SIGTERM and waits for the process to exit.
func (f *ferret) stop() {
	select {
	case <-f.done:
		return
	default:
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// expectUnavailable checks a 503 with a JSON error body naming the outage.
func expectUnavailable(t *testing.T, r response, what string) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("%s during the outage: status %d, want 503: %s", what, r.status, r.body)
		return
	}
	var b errorBody
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code != "unavailable" || b.Error.Message == "" {
		t.Errorf("%s during the outage: body %s (%v), want a JSON error with code unavailable and a message", what, r.body, err)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s during the outage: Content-Type %q, want application/json", what, ct)
	}
}

func TestMongoOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary and a database server")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGTERM")
	}
	bin := ferretBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	f := startFerret(t, bin, dir, addr)

	const key, secret = "outage-key", "outage-secret-0123456789abcdef"
	p := startLRS(t,
		"LRS_DATA_DIR="+t.TempDir(),
		"LRS_MONGODB_URI="+f.uri(),
		"LRS_MONGODB_DATABASE=lrs_outage",
		"LRS_BOOTSTRAP_KEY="+key,
		"LRS_BOOTSTRAP_SECRET="+secret,
	)
	c := &client{t: t, base: p.base + "/xapi", key: key, secret: secret, version: "2.0.0"}
	ops := &client{t: t, base: p.base}
	ops.expect(http.StatusOK, http.MethodGet, "/readyz", nil)
	beforeID := uuid.NewString()
	c.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+beforeID, e2eStatement("", "before@example.com", "attempted", "outage"))

	// The database goes away.
	f.stop()
	// Each request waits for the driver's server selection timeout (3s,
	// not the 10s operation timeout), so they are made concurrently.
	other := &client{t: t, base: c.base, key: "unknown-key", secret: "unknown-secret-0123456789abcdef", version: "2.0.0"}
	checks := []struct {
		name         string
		c            *client
		method, path string
		body         any
	}{
		{"GET /readyz", ops, http.MethodGet, "/readyz", nil},
		{"GET /statements?statementId", c, http.MethodGet, "/statements?statementId=" + beforeID, nil},
		{"GET /statements (query)", c, http.MethodGet, "/statements?verb=http://adlnet.gov/expapi/verbs/attempted", nil},
		{"POST /statements", c, http.MethodPost, "/statements", e2eStatement("", "during@example.com", "attempted", "outage")},
		{"PUT /statements", c, http.MethodPut, "/statements?statementId=" + uuid.NewString(), e2eStatement("", "during@example.com", "attempted", "outage")},
		// A credential that is not cached needs the database too.
		{"GET /statements with an uncached credential", other, http.MethodGet, "/statements", nil},
	}
	results := make([]response, len(checks))
	errs := make([]error, len(checks))
	took := make([]time.Duration, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			results[i], errs[i] = sendResponse(ch.c, ch.method, ch.path, ch.body)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, ch := range checks {
		if errs[i] != nil {
			t.Errorf("%s during the outage: %v", ch.name, errs[i])
			continue
		}
		expectUnavailable(t, results[i], ch.name)
		// README: the 503 comes within about 3s; 8s leaves room for a
		// loaded machine and stays below the 10s operation timeout.
		if took[i] > 8*time.Second {
			t.Errorf("%s during the outage: the 503 took %v, want it within the server selection timeout (3s)", ch.name, took[i])
		}
		t.Logf("%s: %d after %v", ch.name, results[i].status, took[i].Round(time.Millisecond))
	}
	ops.expect(http.StatusOK, http.MethodGet, "/healthz", nil) // alive all the same
	select {
	case <-p.exited:
		t.Fatalf("lrs exited during the outage:\n%s", p.out())
	default:
	}

	// The database comes back, on the same port and data: lrs recovers by
	// itself.
	startFerret(t, bin, dir, addr)
	deadline := time.Now().Add(60 * time.Second)
	for ops.do(http.MethodGet, "/readyz", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 60s of the database's return:\n%s", p.out())
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+beforeID, nil)
	r := c.expect(http.StatusOK, http.MethodPost, "/statements", e2eStatement("", "after@example.com", "attempted", "outage"))
	var ids []string
	if err := json.Unmarshal(r.body, &ids); err != nil || len(ids) != 1 {
		t.Fatalf("POST after recovery answered %s (%v)", r.body, err)
	}
	stored := storedOf(t, decodeStatement(t, c.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+ids[0], nil).body))
	got := queryWhenConsistent(t, c, "/statements?verb=http://adlnet.gov/expapi/verbs/attempted", stored)
	if len(got) != 2 || !slices.Contains(got, beforeID) || !slices.Contains(got, ids[0]) {
		t.Errorf("after recovery the query returned %v, want %s and %s", got, beforeID, ids[0])
	}
	if strings.Contains(p.out(), `status=500`) || strings.Contains(p.out(), "request failed") {
		t.Errorf("lrs logged an internal error during the outage:\n%s", p.out())
	}
}

func TestMongoUnreachableAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"LRS_ADDR=127.0.0.1:0",
		"LRS_DATA_DIR=" + t.TempDir(),
		"LRS_MONGODB_URI=mongodb://" + freeAddr(t) + "/",
		"LRS_MONGODB_DATABASE=lrs_unreachable",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("lrs still running after 60s with MongoDB unreachable:\n%s", out)
	case err == nil:
		t.Fatalf("lrs exited 0 with MongoDB unreachable:\n%s", out)
	case !errors.As(err, &ee):
		t.Fatalf("run lrs: %v", err)
	}
	if elapsed > 40*time.Second {
		t.Errorf("lrs took %v to give up on an unreachable MongoDB, want under 40s", elapsed)
	}
	if code := ee.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1 (2 is for configuration errors)", code)
	}
	if !strings.Contains(string(out), "MongoDB") || !strings.Contains(string(out), "unreachable") {
		t.Errorf("the output does not say that MongoDB is unreachable:\n%s", out)
	}
	if strings.Contains(string(out), "listening on") {
		t.Errorf("lrs listened although its store is unreachable:\n%s", out)
	}
	t.Logf("exited with status %d after %v: %s", ee.ExitCode(), elapsed.Round(time.Millisecond), strings.TrimSpace(strconv.Quote(string(out))))
}
