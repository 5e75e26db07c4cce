package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	xapiVersion  = "2.0.0"
	maxErrBodies = 5  // error bodies printed to stderr
	sampleEvery  = 16 // every n-th response body is checked
)

// bench holds what the phases share.
type bench struct {
	cfg     *config
	pools   *pools
	base    string
	metrics string // "" when off
	client  *http.Client
	stderr  io.Writer

	errMu     sync.Mutex
	errBodies int
}

func newBench(cfg *config, p *pools, stderr io.Writer) *bench {
	metrics := cfg.metrics
	if metrics == "off" {
		metrics = ""
	}
	return &bench{
		cfg:     cfg,
		pools:   p,
		base:    strings.TrimRight(cfg.url, "/"),
		metrics: metrics,
		client:  newClient(max(cfg.c, cfg.qc), cfg.timeout),
		stderr:  stderr,
	}
}

// newClient returns a client whose connection pool fits conc workers.
func newClient(conc int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * conc,
		MaxIdleConnsPerHost:   conc,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// runWorkers calls fn(i) for i in [0, jobs) from workers goroutines pulling
// indices from a channel; it stops handing out work when ctx is done.
func runWorkers(ctx context.Context, workers, jobs int, fn func(i int)) {
	ch := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ch {
				fn(i)
			}
		})
	}
feed:
	for i := range jobs {
		select {
		case ch <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
}

// outcome is the result of one request.
type outcome struct {
	status  int
	body    []byte // kept only for errors or when asked for
	err     error
	latency time.Duration
}

// errKey classifies a failed outcome; "" means success (status 200).
func (o outcome) errKey() string {
	switch {
	case o.err != nil:
		return "transport"
	case o.status != http.StatusOK:
		return strconv.Itoa(o.status)
	}
	return ""
}

// do sends one request and reads the whole response. The body is returned
// for non-200 responses, and for 200 when keep is set.
func (b *bench) do(ctx context.Context, method, url string, body []byte, keep bool) outcome {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("X-Experience-API-Version", xapiVersion)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cfg.key != "" || b.cfg.secret != "" {
		req.SetBasicAuth(b.cfg.key, b.cfg.secret)
	}
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return outcome{err: err, latency: time.Since(start)}
	}
	defer resp.Body.Close()
	o := outcome{status: resp.StatusCode}
	if keep || resp.StatusCode != http.StatusOK {
		o.body, o.err = io.ReadAll(resp.Body)
	} else {
		_, o.err = io.Copy(io.Discard, resp.Body)
	}
	o.latency = time.Since(start)
	return o
}

// reportError prints the first few failures to stderr.
func (b *bench) reportError(op string, o outcome) {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	b.errBodies++
	if b.errBodies > maxErrBodies {
		return
	}
	msg := string(o.body)
	if o.err != nil {
		msg = o.err.Error()
	}
	if len(msg) > 500 {
		msg = msg[:500] + "..."
	}
	fmt.Fprintf(b.stderr, "lrsbench: %s failed (status %d): %s\n", op, o.status, strings.TrimSpace(msg))
}

// record files o under op unless the run is being cancelled, in which case
// failures are artefacts of the cancellation and are dropped.
func (b *bench) record(ctx context.Context, rec *recorder, op string, o outcome, errKey string, stmts int) {
	if errKey != "" && ctx.Err() != nil {
		return
	}
	if errKey != "" {
		b.reportError(op, o)
	}
	rec.record(op, o.latency, errKey, stmts)
}

// postPhase POSTs cfg.n statements in batches of cfg.batch.
func (b *bench) postPhase(ctx context.Context) opResult {
	cfg := b.cfg
	batches := (cfg.n + cfg.batch - 1) / cfg.batch
	now := time.Now()
	rec := newRecorder()
	url := b.base + "/statements"
	start := time.Now()
	runWorkers(ctx, cfg.c, batches, func(i int) {
		size := min(cfg.batch, cfg.n-i*cfg.batch)
		body, err := b.pools.batchBody(cfg.seed, i, size, now, cfg.ids == "client")
		if err != nil {
			b.record(ctx, rec, opPost, outcome{err: err}, "transport", 0)
			return
		}
		o := b.do(ctx, http.MethodPost, url, body, i%sampleEvery == 0)
		key := o.errKey()
		if key == "" && o.body != nil && !validIDs(o.body, size) {
			key = "bad-body"
		}
		b.record(ctx, rec, opPost, o, key, size)
	})
	return rec.results(time.Since(start), opPost)[0]
}

// validIDs reports whether body is a JSON array of n statement ids.
func validIDs(body []byte, n int) bool {
	var ids []string
	return json.Unmarshal(body, &ids) == nil && len(ids) == n
}

// validStatementResult reports whether body is a StatementResult object.
func validStatementResult(body []byte) bool {
	var sr struct {
		Statements *[]json.RawMessage `json:"statements"`
	}
	return json.Unmarshal(body, &sr) == nil && sr.Statements != nil
}

// query runs query idx of stream and records it in rec.
func (b *bench) query(ctx context.Context, rec *recorder, stream uint64, idx int) {
	op, q := b.pools.newQuery(b.cfg.seed, stream, idx)
	o := b.do(ctx, http.MethodGet, b.base+"/statements?"+q, nil, idx%sampleEvery < len(queryOps))
	key := o.errKey()
	if key == "" && o.body != nil && !validStatementResult(o.body) {
		key = "bad-body"
	}
	b.record(ctx, rec, op, o, key, 0)
}

// warmupPhase runs cfg.warmup queries whose results are thrown away.
func (b *bench) warmupPhase(ctx context.Context) {
	rec := newRecorder()
	runWorkers(ctx, b.cfg.qc, b.cfg.warmup, func(i int) { b.query(ctx, rec, streamWarmup, i) })
}

// queryPhase runs cfg.queries queries cycling through the query kinds. All
// kinds share the phase's wall time, so per-kind throughput adds up to the
// phase's total.
func (b *bench) queryPhase(ctx context.Context) []opResult {
	rec := newRecorder()
	start := time.Now()
	runWorkers(ctx, b.cfg.qc, b.cfg.queries, func(i int) { b.query(ctx, rec, streamQuery, i) })
	return rec.results(time.Since(start), queryOps...)
}

// preflight checks that the LRS answers GET {url}/about before any load is
// sent: an unreachable server is an error, a non-200 answer only a warning.
func (b *bench) preflight(ctx context.Context) error {
	o := b.do(ctx, http.MethodGet, b.base+"/about", nil, false)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if o.err != nil {
		return fmt.Errorf("cannot reach the LRS at %s: %w", b.base, o.err)
	}
	if o.status != http.StatusOK {
		fmt.Fprintf(b.stderr, "lrsbench: warning: GET %s/about: status %d\n", b.base, o.status)
	}
	return nil
}
