package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// Scale-out: several lrs processes share one MongoDB database. Each answers
// for the writes of the others: the same credential, the same statements, a
// Consistent-Through that is honest across processes, more links that any
// process can follow.

const (
	scaleKey    = "scale-key"
	scaleSecret = "scale-secret-0123456789abcdef"
)

// ctLayout is the format of X-Experience-API-Consistent-Through.
const ctLayout = "2006-01-02T15:04:05.000Z"

func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("boots three binaries")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGTERM")
	}
	env := append(mongoStoreEnv(t),
		"LRS_BOOTSTRAP_KEY="+scaleKey,
		"LRS_BOOTSTRAP_SECRET="+scaleSecret,
	)
	procs := make([]*proc, 3)
	clients := make([]*client, 3)
	for i := range procs {
		procs[i] = startLRS(t, env...)
		clients[i] = &client{t: t, base: procs[i].base + "/xapi", key: scaleKey, secret: scaleSecret, version: "2.0.0"}
	}
	for i, p := range procs {
		waitOutput(t, p, `store="mongodb`)
		// Every process accepts the one bootstrap credential.
		clients[i].expect(http.StatusOK, http.MethodGet, "/statements?limit=1", nil)
	}

	t.Run("concurrent PUTs of one id", func(t *testing.T) { testScaleConcurrentPut(t, clients) })
	t.Run("consistent-through across processes", func(t *testing.T) { testScaleConsistentThrough(t, clients) })
	t.Run("more links across processes", func(t *testing.T) { testScaleMore(t, clients) })
}

// waitOutput waits (up to 10s) until the process has written want.
func waitOutput(t *testing.T, p *proc, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("lrs did not write %q within 10s:\n%s", want, p.out())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendResponse is a request that is safe to make from any goroutine: it
// reports failures instead of stopping the test.
func sendResponse(c *client, method, path string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return response{}, err
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
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}, err
}

func testScaleConcurrentPut(t *testing.T, clients []*client) {
	id := uuid.NewString()
	verb := "put-race-" + uuid.NewString()[:8]
	st := e2eStatement("", "racer@example.com", verb, "race")
	const n = 30
	type answer struct {
		status int
		body   []byte
		err    error
	}
	answers := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := sendResponse(clients[i%len(clients)], http.MethodPut, "/statements?statementId="+id, st)
			answers[i] = answer{r.status, r.body, err}
		}()
	}
	close(start)
	wg.Wait()
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("PUT %d (process %d): %v", i, i%len(clients)+1, a.err)
		case a.status != http.StatusNoContent:
			t.Errorf("PUT %d (process %d): status %d, want 204: %s", i, i%len(clients)+1, a.status, a.body)
		}
	}

	// A different statement with the id conflicts, on every process.
	other := e2eStatement("", "racer@example.com", verb+"-other", "race")
	for _, c := range clients {
		c.expect(http.StatusConflict, http.MethodPut, "/statements?statementId="+id, other)
	}

	// Stored once: every process returns it, and a query by its verb
	// returns it exactly once (once Consistent-Through has passed it).
	var stored time.Time
	for _, c := range clients {
		r := c.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+id, nil)
		got := decodeStatement(t, r.body)
		if got["id"] != id || got["verb"].(map[string]any)["id"] != "http://adlnet.gov/expapi/verbs/"+verb {
			t.Errorf("GET %s on %s returned %s", id, c.base, r.body)
		}
		stored = storedOf(t, got)
	}
	for i, c := range clients {
		ids := queryWhenConsistent(t, c, "/statements?verb="+url.QueryEscape("http://adlnet.gov/expapi/verbs/"+verb), stored)
		if len(ids) != 1 || ids[0] != id {
			t.Errorf("query by verb on process %d returned %v, want [%s] once", i+1, ids, id)
		}
	}
}

func testScaleConsistentThrough(t *testing.T, clients []*client) {
	activity := "ct-" + uuid.NewString()
	r := clients[0].expect(http.StatusOK, http.MethodPost, "/statements", e2eStatement("", "ct@example.com", "experienced", activity))
	var ids []string
	if err := json.Unmarshal(r.body, &ids); err != nil || len(ids) != 1 {
		t.Fatalf("POST answered %s (%v)", r.body, err)
	}
	stored := storedOf(t, decodeStatement(t, clients[0].expect(http.StatusOK, http.MethodGet, "/statements?statementId="+ids[0], nil).body))
	path := "/statements?activity=" + url.QueryEscape("http://example.com/e2e/"+activity)
	for i, c := range clients[1:] {
		got := queryWhenConsistent(t, c, path, stored)
		if !slices.Equal(got, ids) {
			t.Errorf("process %d, consistent through the statement's stored time, returned %v, want %v", i+2, got, ids)
		}
	}
}

func testScaleMore(t *testing.T, clients []*client) {
	activity := "more-" + uuid.NewString()
	var batch []map[string]any
	for i := range 25 {
		batch = append(batch, e2eStatement("", fmt.Sprintf("pager%d@example.com", i%3), "completed", activity))
	}
	r := clients[0].expect(http.StatusOK, http.MethodPost, "/statements", batch)
	var posted []string
	if err := json.Unmarshal(r.body, &posted); err != nil || len(posted) != 25 {
		t.Fatalf("POST batch answered %s (%v), want 25 ids", r.body, err)
	}
	// All were stored in one write, with one stored time.
	stored := storedOf(t, decodeStatement(t, clients[0].expect(http.StatusOK, http.MethodGet, "/statements?statementId="+posted[24], nil).body))
	first := "/statements?limit=10&activity=" + url.QueryEscape("http://example.com/e2e/"+activity)
	waitConsistent(t, clients[0], stored)

	var seen []string
	path := first
	for page := 0; path != ""; page++ {
		if page > 10 {
			t.Fatalf("more links did not end after %d pages", page)
		}
		c := clients[page%len(clients)] // page 0 on process 1, then 2, 3, 1...
		r := c.expect(http.StatusOK, http.MethodGet, path, nil)
		var sr statementResult
		if err := json.Unmarshal(r.body, &sr); err != nil {
			t.Fatalf("GET %s on process %d: %v: %s", path, page%len(clients)+1, err, r.body)
		}
		if len(sr.Statements) > 10 {
			t.Errorf("page %d has %d statements, limit 10", page, len(sr.Statements))
		}
		for _, s := range sr.Statements {
			seen = append(seen, s["id"].(string))
		}
		if sr.More != "" && !strings.HasPrefix(sr.More, "/xapi/statements?") {
			t.Fatalf("more %q is not a path under the xAPI root", sr.More)
		}
		path = strings.TrimPrefix(sr.More, "/xapi")
	}
	if len(seen) != 25 {
		t.Errorf("paging across processes returned %d statements, want 25: %v", len(seen), seen)
	}
	for _, id := range posted {
		if n := count(seen, id); n != 1 {
			t.Errorf("statement %s returned %d times, want once", id, n)
		}
	}
}

func count(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

func decodeStatement(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("statement %s: %v", body, err)
	}
	return st
}

func storedOf(t *testing.T, st map[string]any) time.Time {
	t.Helper()
	s, _ := st["stored"].(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("stored %q: %v", s, err)
	}
	return ts
}

func consistentThrough(t *testing.T, r response) time.Time {
	t.Helper()
	h := r.header.Get("X-Experience-API-Consistent-Through")
	ct, err := time.Parse(ctLayout, h)
	if err != nil {
		t.Fatalf("X-Experience-API-Consistent-Through %q: %v", h, err)
	}
	return ct
}

// queryWhenConsistent polls the query (all its pages) until the process
// reports a Consistent-Through at or after stored, and returns the ids of
// that result, which must then include every statement stored by then.
func queryWhenConsistent(t *testing.T, c *client, path string, stored time.Time) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.expect(http.StatusOK, http.MethodGet, path, nil)
		if ct := consistentThrough(t, r); !ct.Before(stored) {
			var sr statementResult
			if err := json.Unmarshal(r.body, &sr); err != nil {
				t.Fatalf("GET %s: %v: %s", path, err, r.body)
			}
			var ids []string
			for _, s := range sr.Statements {
				ids = append(ids, s["id"].(string))
			}
			if sr.More != "" {
				ids = append(ids, c.queryAll(strings.TrimPrefix(sr.More, "/xapi"))...)
			}
			return ids
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: Consistent-Through %v did not reach the stored time %v within 30s", c.base, ct, stored)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitConsistent polls until the process reports a Consistent-Through at or
// after stored.
func waitConsistent(t *testing.T, c *client, stored time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.expect(http.StatusOK, http.MethodGet, "/statements?limit=1", nil)
		ct := consistentThrough(t, r)
		if !ct.Before(stored) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Consistent-Through %v did not reach the stored time %v within 30s", c.base, ct, stored)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
