package storetest

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// BenchClaimDrain measures what a destination that sends one item per
// send (postback) costs the store over a backlog: for each of sizes it
// enqueues n deliveries of one configuration and drains them the way the
// engine does with a batch of 1, one DueConfigurations, one claim of one
// item, one update to delivered and one delivery log entry per item (the
// log keeps forward.AttemptLogCap entries: past that, every entry pushes
// one out). It reports, over the whole
// drain, the process CPU per item (cpu-ns/item: store and background work
// together, the figure to compare) and the wall time of each call, and the
// same for the last tenth of the drain (tail-*), where a cost that grows
// with the deliveries already drained shows. The enqueue is not measured.
//
//	func BenchmarkClaimDrain(b *testing.B) {
//		storetest.BenchClaimDrain(b, func(b *testing.B) storetest.ForwardStore { return open(b) }, 1000, 10000)
//	}
func BenchClaimDrain(b *testing.B, open func(b *testing.B) ForwardStore, sizes ...int) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var total, tail drainCost
			for range b.N {
				b.StopTimer()
				s := open(b)
				at := fwdBase
				enqueue(b, s, n, at)
				b.StartTimer()
				all, last := drain(b, s, n, at.Add(time.Second))
				total.add(all)
				tail.add(last)
			}
			total.report(b, "")
			tail.report(b, "tail-")
		})
	}
}

// enqueue stores n pending deliveries of one configuration, all due at at.
func enqueue(b *testing.B, s ForwardStore, n int, at time.Time) {
	b.Helper()
	ds := make([]forward.Delivery, 0, 1000)
	for i := range n {
		ds = append(ds, delivery(orgA, "c1", fmt.Sprintf("stmt-%08d", i), at))
		if len(ds) == cap(ds) || i == n-1 {
			if err := s.EnsureDeliveries(b.Context(), ds); err != nil {
				b.Fatalf("EnsureDeliveries: %v", err)
			}
			ds = ds[:0]
		}
	}
}

// drainCost sums what drain measured.
type drainCost struct {
	items                  int
	cpu, due, claim, store time.Duration
}

func (c *drainCost) add(o drainCost) {
	c.items += o.items
	c.cpu += o.cpu
	c.due += o.due
	c.claim += o.claim
	c.store += o.store
}

func (c drainCost) report(b *testing.B, prefix string) {
	if c.items == 0 {
		return
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(c.items) }
	b.ReportMetric(per(c.cpu), prefix+"cpu-ns/item")
	b.ReportMetric(per(c.due), prefix+"due-ns/item")
	b.ReportMetric(per(c.claim), prefix+"claim-ns/item")
	b.ReportMetric(per(c.store), prefix+"update-ns/item") // the update and the log entry
}

// drain claims and delivers the n deliveries one at a time and returns
// the cost of all and of the last tenth.
func drain(b *testing.B, s ForwardStore, n int, now time.Time) (all, last drainCost) {
	b.Helper()
	ctx := b.Context()
	cpu0 := benchCPU()
	tailFrom := n - max(n/10, 1)
	var tailCPU time.Duration
	for i := range n {
		if i == tailFrom {
			tailCPU = benchCPU()
			last = drainCost{}
		}
		t0 := time.Now()
		keys, err := s.DueConfigurations(ctx, now)
		if err != nil || len(keys) != 1 {
			b.Fatalf("DueConfigurations after %d of %d = %v, %v; want c1", i, n, keys, err)
		}
		t1 := time.Now()
		got, err := s.ClaimDeliveries(ctx, forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "w", Now: now, Lease: time.Minute, Limit: 1})
		if err != nil || len(got) != 1 {
			b.Fatalf("claim %d of %d = %d deliveries, %v; want 1", i, n, len(got), err)
		}
		t2 := time.Now()
		d := got[0]
		d.State, d.Attempts, d.LastAttempt, d.UpdatedAt = forward.StateDelivered, 1, now, now
		if err := s.UpdateDelivery(ctx, d, "w"); err != nil {
			b.Fatalf("update %d of %d: %v", i, n, err)
		}
		if err := s.AddAttempt(ctx, forward.Attempt{Org: orgA, ConfigurationID: "c1", StatementIDs: []string{d.StatementID},
			At: now, Duration: time.Millisecond, Outcome: forward.OutcomeSuccess, Status: 200}); err != nil {
			b.Fatalf("attempt %d of %d: %v", i, n, err)
		}
		t3 := time.Now()
		for _, c := range []*drainCost{&all, &last} {
			c.items++
			c.due += t1.Sub(t0)
			c.claim += t2.Sub(t1)
			c.store += t3.Sub(t2)
		}
	}
	end := benchCPU()
	all.cpu, last.cpu = end-cpu0, end-tailCPU
	if got, err := s.ClaimDeliveries(ctx, forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "w", Now: now, Lease: time.Minute, Limit: 1}); err != nil || len(got) != 0 {
		b.Fatalf("claim after the drain = %d deliveries, %v; want none", len(got), err)
	}
	return all, last
}

// benchCPU is the CPU time the process used so far.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchDeliveryCycle measures the store's share of forwarding a batch the
// way the engine does for a batching destination: per batch of size
// deliveries, one EnsureDeliveries (the ingest that owes them), one
// DueConfigurations, one claim of the batch, one UpdateDeliveries to
// delivered and one delivery log entry. Each b.N iteration is one batch,
// on a store that keeps what earlier iterations delivered. It reports the
// process CPU per delivery (cpu-ns/delivery, the figure to compare), the
// wall time per delivery of the whole cycle and of each step, and the
// wall time of one claim (claim-ns/claim).
//
//	func BenchmarkDeliveryCycle(b *testing.B) {
//		storetest.BenchDeliveryCycle(b, open(b), 100)
//	}
func BenchDeliveryCycle(b *testing.B, s ForwardStore, size int) {
	ctx := b.Context()
	now := fwdBase
	var ingest, due, claim, settle time.Duration
	seq := 0
	b.ResetTimer()
	cpu0 := benchCPU()
	for range b.N {
		ds := make([]forward.Delivery, size)
		for i := range ds {
			ds[i] = delivery(orgA, "c1", fmt.Sprintf("stmt-%010d", seq), now)
			seq++
		}
		t0 := time.Now()
		if err := s.EnsureDeliveries(ctx, ds); err != nil {
			b.Fatalf("EnsureDeliveries: %v", err)
		}
		t1 := time.Now()
		keys, err := s.DueConfigurations(ctx, now)
		if err != nil || len(keys) != 1 {
			b.Fatalf("DueConfigurations = %v, %v; want c1", keys, err)
		}
		t2 := time.Now()
		got, err := s.ClaimDeliveries(ctx, forward.Claim{Org: orgA, ConfigurationID: "c1", Owner: "w", Now: now, Lease: time.Minute, Limit: size})
		if err != nil || len(got) != size {
			b.Fatalf("claim = %d deliveries, %v; want %d", len(got), err, size)
		}
		t3 := time.Now()
		ids := make([]string, len(got))
		for i := range got {
			got[i].State, got[i].Attempts, got[i].LastAttempt, got[i].UpdatedAt = forward.StateDelivered, 1, now, now
			ids[i] = got[i].StatementID
		}
		errs, err := s.UpdateDeliveries(ctx, got, "w")
		if err != nil {
			b.Fatalf("UpdateDeliveries: %v", err)
		}
		for i, e := range errs {
			if e != nil {
				b.Fatalf("UpdateDeliveries of %s: %v", got[i].StatementID, e)
			}
		}
		if err := s.AddAttempt(ctx, forward.Attempt{Org: orgA, ConfigurationID: "c1", StatementIDs: ids,
			At: now, Duration: time.Millisecond, Outcome: forward.OutcomeSuccess, Status: 200}); err != nil {
			b.Fatalf("AddAttempt: %v", err)
		}
		t4 := time.Now()
		ingest += t1.Sub(t0)
		due += t2.Sub(t1)
		claim += t3.Sub(t2)
		settle += t4.Sub(t3)
		now = now.Add(time.Millisecond)
	}
	cpu := benchCPU() - cpu0
	b.StopTimer()
	n := float64(b.N * size)
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/delivery")
	b.ReportMetric(float64((ingest+due+claim+settle).Nanoseconds())/n, "wall-ns/delivery")
	b.ReportMetric(float64(ingest.Nanoseconds())/n, "ensure-ns/delivery")
	b.ReportMetric(float64(due.Nanoseconds())/n, "due-ns/delivery")
	b.ReportMetric(float64(claim.Nanoseconds())/n, "claim-ns/delivery")
	b.ReportMetric(float64(settle.Nanoseconds())/n, "settle-ns/delivery") // update and log entry
	b.ReportMetric(float64(claim.Nanoseconds())/float64(b.N), "claim-ns/claim")
}
