package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serverSample is what the LRS's Prometheus endpoint says about its own
// process (the process collector of client_golang): CPU seconds used so far
// and resident memory.
type serverSample struct {
	cpu float64 // process_cpu_seconds_total
	rss float64 // process_resident_memory_bytes
}

// metricsURL is the /metrics endpoint at the origin of the xAPI base URL.
func metricsURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse -url: %w", err)
	}
	u.Path, u.RawQuery, u.Fragment = "/metrics", "", ""
	return u.String(), nil
}

// sampleServer reads the process figures from the metrics endpoint.
func (b *bench) sampleServer(ctx context.Context) (serverSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.metrics, nil)
	if err != nil {
		return serverSample{}, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return serverSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return serverSample{}, fmt.Errorf("GET %s: status %d", b.metrics, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return serverSample{}, fmt.Errorf("GET %s: %w", b.metrics, err)
	}
	var s serverSample
	var found int
	for name, dst := range map[string]*float64{"process_cpu_seconds_total": &s.cpu, "process_resident_memory_bytes": &s.rss} {
		f := fams[name]
		if f == nil || len(f.Metric) == 0 {
			continue
		}
		m := f.Metric[0]
		switch {
		case m.Counter != nil:
			*dst = m.Counter.GetValue()
		case m.Gauge != nil:
			*dst = m.Gauge.GetValue()
		case m.Untyped != nil:
			*dst = m.Untyped.GetValue()
		default:
			continue
		}
		found++
	}
	if found < 2 {
		return serverSample{}, fmt.Errorf("GET %s: no process_cpu_seconds_total and process_resident_memory_bytes", b.metrics)
	}
	return s, nil
}

// serverResult is the server's share of a phase.
type serverResult struct {
	Phase      string  `json:"phase"`
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPerStmt is the server's CPU time per statement stored, in µs.
	CPUPerStmt float64 `json:"cpu_per_statement_us,omitempty"`
	// CPUCores is the server's CPU time over the phase's wall time.
	CPUCores float64 `json:"cpu_cores"`
	RSSEnd   float64 `json:"rss_end_bytes"`
	RSSMax   float64 `json:"rss_max_bytes"`
	// Settle is how long the server took to go idle after the phase (the
	// "post+settle" row, whose CPU includes that time); Idle is false when
	// it was still busy at the -settle limit.
	Settle float64 `json:"settle_s,omitempty"`
	Idle   bool    `json:"idle,omitempty"`
}

// Idle is a server using less than idleCores over idleFor.
const (
	idleCores = 0.03
	idleFor   = 3 * time.Second
)

// settleServer waits, up to limit, until the server goes idle after the
// POST phase (an LSM engine keeps compacting what the load wrote), and
// returns the phase's figures with that work included: the CPU a
// statement costs in the end, which does not depend on how much
// compaction debt the load left behind.
func (b *bench) settleServer(ctx context.Context, w *serverWatch, post *serverResult, stmts int, limit time.Duration) *serverResult {
	start := time.Now()
	r := *post
	r.Phase = "post+settle"
	last, err := b.sampleServer(ctx)
	if err != nil {
		fmt.Fprintf(b.stderr, "lrsbench: no server figures: %v\n", err)
		return nil
	}
	lastAt := time.Now()
	var quiet time.Duration
	for time.Since(start) < limit && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		s, err := b.sampleServer(ctx)
		if err != nil {
			fmt.Fprintf(b.stderr, "lrsbench: no server figures: %v\n", err)
			return nil
		}
		now := time.Now()
		r.RSSMax = max(r.RSSMax, s.rss)
		r.RSSEnd = s.rss
		r.CPUSeconds = s.cpu - w.start.cpu
		if (s.cpu-last.cpu)/now.Sub(lastAt).Seconds() < idleCores {
			quiet += now.Sub(lastAt)
		} else {
			quiet = 0
		}
		last, lastAt = s, now
		if quiet >= idleFor {
			r.Idle = true
			break
		}
	}
	r.Settle = time.Since(start).Seconds()
	if stmts > 0 {
		r.CPUPerStmt = r.CPUSeconds / float64(stmts) * 1e6
	}
	if wall := time.Since(w.began).Seconds(); wall > 0 {
		r.CPUCores = r.CPUSeconds / wall
	}
	return &r
}

// serverWatch samples the server from start to stop, keeping the largest
// resident memory seen.
type serverWatch struct {
	b      *bench
	start  serverSample
	began  time.Time
	mu     sync.Mutex
	rssMax float64
	stop   chan struct{}
	done   chan struct{}
}

// watchServer starts sampling; nil (and a note on stderr) when the server
// has no usable metrics endpoint, or when -metrics is "off".
func (b *bench) watchServer(ctx context.Context) *serverWatch {
	if b.metrics == "" {
		return nil
	}
	s, err := b.sampleServer(ctx)
	if err != nil {
		fmt.Fprintf(b.stderr, "lrsbench: no server figures: %v\n", err)
		return nil
	}
	w := &serverWatch{b: b, start: s, began: time.Now(), rssMax: s.rss, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if s, err := b.sampleServer(ctx); err == nil {
					w.mu.Lock()
					w.rssMax = max(w.rssMax, s.rss)
					w.mu.Unlock()
				}
			}
		}
	}()
	return w
}

// end stops sampling and returns the server's share of the phase in which
// stmts statements were stored. Nil-safe.
func (w *serverWatch) end(ctx context.Context, phase string, stmts int) *serverResult {
	if w == nil {
		return nil
	}
	close(w.stop)
	<-w.done
	s, err := w.b.sampleServer(ctx)
	if err != nil {
		fmt.Fprintf(w.b.stderr, "lrsbench: no server figures: %v\n", err)
		return nil
	}
	r := &serverResult{Phase: phase, CPUSeconds: s.cpu - w.start.cpu, RSSEnd: s.rss, RSSMax: max(w.rssMax, s.rss)}
	if stmts > 0 {
		r.CPUPerStmt = r.CPUSeconds / float64(stmts) * 1e6
	}
	if wall := time.Since(w.began).Seconds(); wall > 0 {
		r.CPUCores = r.CPUSeconds / wall
	}
	return r
}

// printServer writes the server's figures under the table.
func printServer(w io.Writer, rows []*serverResult) {
	for _, r := range rows {
		if r == nil {
			continue
		}
		fmt.Fprintf(w, "server %s: cpu %.2f s (%.2f cores)", r.Phase, r.CPUSeconds, r.CPUCores)
		if r.CPUPerStmt > 0 {
			fmt.Fprintf(w, ", %.1f µs per statement", r.CPUPerStmt)
		}
		fmt.Fprintf(w, "; rss %.0f MiB at the end, %.0f MiB at most", r.RSSEnd/(1<<20), r.RSSMax/(1<<20))
		switch {
		case r.Phase != "post+settle":
		case r.Idle:
			fmt.Fprintf(w, "; idle %.0f s after the last POST", r.Settle)
		default:
			fmt.Fprintf(w, "; still busy %.0f s after the last POST", r.Settle)
		}
		fmt.Fprintln(w)
	}
}
