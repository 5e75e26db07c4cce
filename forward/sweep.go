package forward

import (
	"context"
	"errors"
	"sort"
	"time"
)

// Housekeeping: the periodic work of the engine beside the sends: the
// re-drive of parked deliveries (the sweep) and the digest of rejected
// items, each once per period across every process (a period claim in the
// store), and the queue gauges and deferred alerts of every configuration.

// Names of the periodic tasks in the PeriodStore.
const (
	PeriodSweep  = "forward/sweep"
	PeriodDigest = "forward/digest"
)

// periodLease is how long a claimed period's run may take before another
// process takes it over.
const periodLease = 10 * time.Minute

// periodRecheck is how often a period claimed by another process is asked
// about again (it may have died during its run).
const periodRecheck = time.Minute

// periodic is what housekeeping knows of one periodic task.
type periodic struct {
	done    int64 // the period this process ran, or saw finished
	checked time.Time
}

// period is the index of the period of interval that holds t.
func period(t time.Time, interval time.Duration) int64 {
	ns := t.UnixNano()
	p := ns / int64(interval)
	if ns < 0 && ns%int64(interval) != 0 {
		p--
	}
	return p
}

// housekeeping runs what is due at now.
func (e *Engine) housekeeping(ctx context.Context, now time.Time) {
	e.runPeriodic(ctx, &e.hk.sweep, PeriodSweep, e.opts.SweepInterval, now, func() error {
		// Kept copies of uploaded files go after FileRetention.
		if n, err := e.store.DropFiles(ctx, now.Add(-FileRetention)); err != nil {
			e.log.Warn("dropping old kept files failed", "err", err)
		} else if n > 0 {
			e.log.Info("old kept files dropped", "count", n)
		}
		_, err := e.scan(ctx, now, true, false)
		return err
	})
	e.runPeriodic(ctx, &e.hk.digest, PeriodDigest, e.opts.DigestInterval, now, func() error {
		return e.sendDigests(ctx)
	})
	if e.hk.stats.IsZero() || now.Sub(e.hk.stats) >= e.opts.StatsInterval {
		e.hk.stats = now
		_, _ = e.scan(ctx, now, false, true)
	}
}

// runPeriodic runs task once in the period of now, if this process claims
// it.
func (e *Engine) runPeriodic(ctx context.Context, p *periodic, name string, interval time.Duration, now time.Time, task func() error) {
	cur := period(now, interval)
	switch {
	case p.done == cur+1: // ran it
		return
	case p.done == cur && now.Sub(p.checked) < periodRecheck: // another process has it
		return
	}
	got, err := e.store.ClaimPeriod(ctx, name, cur, e.opts.Owner, now, now.Add(periodLease))
	if err != nil {
		e.log.Warn("claiming a periodic task failed", "task", name, "err", err)
		return
	}
	if !got {
		p.done, p.checked = cur, now // another process runs it (or ran it)
		return
	}
	if err := task(); err != nil {
		e.log.Warn("a periodic task failed; it runs again next period", "task", name, "err", err)
	}
	if err := e.store.FinishPeriod(ctx, name, cur, e.opts.Owner, e.opts.Now()); err != nil {
		e.log.Warn("recording a periodic task failed", "task", name, "err", err)
	}
	p.done, p.checked = cur+1, now
}

func (e *Engine) noteOrg(org string) {
	e.mu.Lock()
	e.orgs[org] = true
	e.mu.Unlock()
}

// organizations returns the known organizations, sorted.
func (e *Engine) organizations(ctx context.Context) []string {
	set := make(map[string]bool)
	if e.opts.Orgs != nil {
		orgs, err := e.opts.Orgs(ctx)
		if err != nil {
			e.log.Warn("listing organizations failed", "err", err)
		}
		for _, o := range orgs {
			set[o] = true
		}
	}
	e.mu.Lock()
	for o := range e.orgs {
		set[o] = true
	}
	e.mu.Unlock()
	orgs := make([]string, 0, len(set))
	for o := range set {
		orgs = append(orgs, o)
	}
	sort.Strings(orgs)
	return orgs
}

// Sweep re-drives the parked deliveries of every configuration of the known
// organizations and returns how many. Run does it once per SweepInterval.
func (e *Engine) Sweep(ctx context.Context) (int, error) {
	return e.scan(ctx, e.opts.Now(), true, false)
}

// scan walks every configuration: sweep re-drives its parked deliveries;
// stats refreshes the queue gauges and sends the alerts that were
// deferred.
func (e *Engine) scan(ctx context.Context, now time.Time, sweep, stats bool) (int, error) {
	total := 0
	var errs []error
	byType := make(map[string]*queueStats)
	for _, org := range e.organizations(ctx) {
		cfgs, err := e.store.ListConfigurations(ctx, org)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range cfgs {
			if sweep {
				n, err := e.store.Redrive(ctx, c.Org, c.ID, []string{StateParked}, now)
				if err != nil {
					errs = append(errs, err)
				}
				if n > 0 {
					e.s.markDue(cfgKey{c.Org, c.ID})
				}
				total += n
			}
			if stats {
				e.alertDeferred(ctx, c, now)
				e.sendEmpty(ctx, c, now) // batch.go: a daily file on a day with nothing to send
			}
			if stats && e.metrics != nil {
				counts, err := e.store.CountDeliveries(ctx, c.Org, c.ID)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				t := e.metrics.label(c.Type)
				q := byType[t]
				if q == nil {
					q = &queueStats{}
					byType[t] = q
				}
				q.pending += counts.Pending
				q.parked += counts.Parked
				if !counts.OldestPending.IsZero() && (q.oldest.IsZero() || counts.OldestPending.Before(q.oldest)) {
					q.oldest = counts.OldestPending
				}
			}
		}
	}
	if stats {
		e.metrics.setQueue(byType, now)
	}
	err := errors.Join(errs...)
	if err != nil {
		e.log.Warn("scanning configurations failed", "err", err)
	}
	if sweep && total > 0 {
		e.log.Info("sweep re-drove parked deliveries", "count", total)
	}
	return total, err
}
