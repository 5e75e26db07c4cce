package clever_test

import (
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
)

// drain sends one grade to each of 5,000 students in 40 sections with
// workers concurrent workers sharing the process's limiter, on the fake
// clock, and returns the fake time it took and the requests Clever got.
func drain(tb testing.TB, workers int) (*env, time.Duration, int) {
	e := newEnv(tb, envOpts{sections: 40, perSection: 125})
	d := e.dest(tb, e.props(), nil)
	grades := make(chan string, len(e.students))
	for email := range e.students {
		grades <- email
	}
	close(grades)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []clever.Outcome
	for range workers {
		wg.Add(1)
		e.clock.Join()
		go func() {
			defer wg.Done()
			defer e.clock.Leave()
			for email := range grades {
				if o := d.Send(bg, grade("obj-1", email, scored(0.8, true))); o.Class != forward.OutcomeSuccess {
					mu.Lock()
					failed = append(failed, o)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		tb.Fatalf("%d grades failed, first %+v", len(failed), failed[0])
	}
	return e, e.clock.Now().Sub(start), e.sim.Requests()
}

func TestDrainNeverExceedsTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 grades")
	}
	e, elapsed, requests := drain(t, 16)
	windows := e.sim.Windows(e.tok)
	total := 0
	for _, w := range windows {
		total += w.Requests
		if w.Requests > clever.DefaultRateLimit || w.Limited > 0 {
			t.Errorf("window %v: %d requests, %d refused", w.Start, w.Requests, w.Limited)
		}
	}
	if total != requests {
		t.Fatalf("windows count %d requests, the simulator %d", total, requests)
	}
	for email, id := range e.students {
		if n := e.sim.Grades(id); n != 1 {
			t.Fatalf("%s graded %d times", email, n)
		}
	}
	for _, sec := range e.sections {
		if n := e.sim.Created(sec, "Fire drill obj-1"); n != 1 {
			t.Fatalf("section %s: %d assignments", sec, n)
		}
	}
	// 5,000 PATCHes, 40 roster reads, 40 creates.
	if requests != 5080 {
		t.Fatalf("%d requests, want 5080", requests)
	}
	t.Logf("%d requests in %v of fake time over %d windows", requests, elapsed, len(windows))
}

// BenchmarkDrain measures the fake time 5,000 grades across 40 sections
// take at the default limit (1,200 requests per minute), against the
// limit's own bound: requests needed ÷ 1,200 per minute.
func BenchmarkDrain(b *testing.B) {
	for b.Loop() {
		_, elapsed, requests := drain(b, 16)
		bound := time.Duration(float64(requests) / clever.DefaultRateLimit * float64(time.Minute))
		b.ReportMetric(elapsed.Seconds(), "fake-s/drain")
		b.ReportMetric(bound.Seconds(), "bound-s")
		b.ReportMetric(elapsed.Seconds()/bound.Seconds(), "drain/bound")
	}
}
