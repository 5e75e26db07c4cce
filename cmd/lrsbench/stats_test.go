package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name string
		data []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", ms(7), 50, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p95", ms(hundred...), 95, 95 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 p100", ms(hundred...), 100, 100 * time.Millisecond},
		{"four p50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"four p95", ms(1, 2, 3, 4), 95, 4 * time.Millisecond},
		{"five p50", ms(10, 20, 30, 40, 50), 50, 30 * time.Millisecond},
		{"tiny p", ms(1, 2, 3), 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.data, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.data, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	rec := newRecorder()
	for i := 10; i >= 1; i-- { // unsorted on purpose
		rec.record(opPost, time.Duration(i)*time.Millisecond, "", 100)
	}
	rec.record(opPost, 20*time.Millisecond, "500", 100)
	rec.record(opPost, 30*time.Millisecond, "transport", 100)

	r := rec.results(2*time.Second, opPost, opAgent)
	post, agent := r[0], r[1]
	if post.Count != 12 || post.Errors != 2 || post.Statements != 1000 {
		t.Errorf("post = %+v", post)
	}
	if post.ReqPerSec != 6 || post.StmtsPerSec != 500 {
		t.Errorf("throughput = %v req/s, %v stmts/s", post.ReqPerSec, post.StmtsPerSec)
	}
	if post.P50 != 6 || post.Max != 30 || post.P99 != 30 || post.P95 != 30 {
		t.Errorf("latencies = p50 %v p95 %v p99 %v max %v", post.P50, post.P95, post.P99, post.Max)
	}
	if post.ErrorsBy["500"] != 1 || post.ErrorsBy["transport"] != 1 {
		t.Errorf("errors by status = %v", post.ErrorsBy)
	}
	if agent.Count != 0 || agent.Op != opAgent {
		t.Errorf("empty op = %+v", agent)
	}

	var buf bytes.Buffer
	if err := printTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "errors post-batch: 500 x1, transport x1") {
		t.Errorf("table lacks error breakdown:\n%s", out)
	}
}
