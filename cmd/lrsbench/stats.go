package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted using the
// nearest-rank method; 0 for no data.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// opStats collects the raw measurements of one operation.
type opStats struct {
	latencies []time.Duration
	errors    map[string]int // by status code, or "transport" / "bad-body"
	stmts     int            // statements stored successfully (POST only)
}

// recorder is shared by the workers of a phase.
type recorder struct {
	mu  sync.Mutex
	ops map[string]*opStats
}

func newRecorder() *recorder { return &recorder{ops: map[string]*opStats{}} }

// record adds one request. errKey is "" on success.
func (r *recorder) record(op string, d time.Duration, errKey string, stmts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.ops[op]
	if s == nil {
		s = &opStats{errors: map[string]int{}}
		r.ops[op] = s
	}
	s.latencies = append(s.latencies, d)
	if errKey != "" {
		s.errors[errKey]++
	} else {
		s.stmts += stmts
	}
}

// opResult is the summary of one operation, as printed.
type opResult struct {
	Op          string         `json:"op"`
	Count       int            `json:"count"`
	Errors      int            `json:"errors"`
	ErrorsBy    map[string]int `json:"errors_by_status,omitempty"`
	Duration    float64        `json:"duration_s"`
	ReqPerSec   float64        `json:"requests_per_s"`
	Statements  int            `json:"statements,omitempty"`
	StmtsPerSec float64        `json:"statements_per_s,omitempty"`
	P50         float64        `json:"p50_ms"`
	P95         float64        `json:"p95_ms"`
	P99         float64        `json:"p99_ms"`
	Max         float64        `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize turns the measurements of op, taken over a phase lasting
// elapsed, into a result row.
func summarize(op string, s *opStats, elapsed time.Duration) opResult {
	res := opResult{Op: op, Duration: elapsed.Seconds()}
	if s == nil {
		return res
	}
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	res.Count = len(lat)
	for _, n := range s.errors {
		res.Errors += n
	}
	if res.Errors > 0 {
		res.ErrorsBy = maps.Clone(s.errors)
	}
	if secs := elapsed.Seconds(); secs > 0 {
		res.ReqPerSec = float64(res.Count) / secs
		res.StmtsPerSec = float64(s.stmts) / secs
	}
	res.Statements = s.stmts
	res.P50 = ms(percentile(lat, 50))
	res.P95 = ms(percentile(lat, 95))
	res.P99 = ms(percentile(lat, 99))
	if len(lat) > 0 {
		res.Max = ms(lat[len(lat)-1])
	}
	return res
}

// results summarizes the given operations of rec, in order.
func (r *recorder) results(elapsed time.Duration, ops ...string) []opResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]opResult, 0, len(ops))
	for _, op := range ops {
		out = append(out, summarize(op, r.ops[op], elapsed))
	}
	return out
}

// printTable writes the human-readable report.
func printTable(w io.Writer, rows []opResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-16s\t", "operation")
	fmt.Fprintln(tw, "count\terrors\tduration\treq/s\tstmts/s\tp50(ms)\tp95(ms)\tp99(ms)\tmax(ms)\t")
	for _, r := range rows {
		stmts := "-"
		if r.Op == opPost {
			stmts = fmt.Sprintf("%.1f", r.StmtsPerSec)
		}
		fmt.Fprintf(tw, "%-16s\t%d\t%d\t%s\t%.1f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			r.Op, r.Count, r.Errors, time.Duration(r.Duration*float64(time.Second)).Round(time.Millisecond),
			r.ReqPerSec, stmts, r.P50, r.P95, r.P99, r.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Errors == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.ErrorsBy)) {
			parts = append(parts, fmt.Sprintf("%s x%d", k, r.ErrorsBy[k]))
		}
		fmt.Fprintf(w, "errors %s: %s\n", r.Op, strings.Join(parts, ", "))
	}
	return nil
}

// report is the -json output.
type report struct {
	Config     map[string]any `json:"config"`
	Operations []opResult     `json:"operations"`
	Server     []serverResult `json:"server,omitempty"`
}

func printJSON(w io.Writer, rep report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
