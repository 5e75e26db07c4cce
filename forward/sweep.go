package forward

import (
	"context"
	"errors"
	"sort"
	"time"
)

// Sweeps: the periodic housekeeping of a round (the daily re-drive of parked
// deliveries, the rejection digests, the queue gauges).

// housekeeping runs what is due: the parked sweep, the rejection digests
// and the queue gauges. The first call only starts the clocks (and the
// gauges).
func (e *Engine) housekeeping(ctx context.Context, now time.Time) {
	e.mu.Lock()
	if !e.started {
		e.started = true
		e.lastSweep, e.lastDigest = now, now
	}
	sweep := now.Sub(e.lastSweep) >= e.opts.SweepInterval
	if sweep {
		e.lastSweep = now
	}
	digest := now.Sub(e.lastDigest) >= e.opts.DigestInterval
	if digest {
		e.lastDigest = now
	}
	stats := e.lastStats.IsZero() || now.Sub(e.lastStats) >= e.opts.StatsInterval
	if stats {
		e.lastStats = now
	}
	e.mu.Unlock()
	if sweep || stats {
		e.scan(ctx, now, sweep, stats)
	}
	if digest {
		e.sendDigests(ctx, now)
	}
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
// organizations and returns how many. Run does it every SweepInterval.
func (e *Engine) Sweep(ctx context.Context) (int, error) {
	return e.scan(ctx, e.opts.Now(), true, false)
}

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
				total += n
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
