package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Reconciler defaults.
const (
	ReconcileInterval = time.Minute
	ReconcileMargin   = 5 * time.Minute
	reconcilePage     = 500
)

// Reconciler re-derives the obligations of statements stored since a
// durable per-organization watermark ("reconcile/<org>"), so that a
// statement whose request died between storing it and ensuring its
// deliveries is still forwarded. Each pass scans from the watermark minus
// Margin (clock skew between processes) up to the store's
// Consistent-Through time, ensures the deliveries (idempotent) and then
// advances the watermark. An organization's first pass starts at the
// creation of its oldest objective (objectives are not retroactive).
type Reconciler struct {
	Store       Store
	Statements  StatementSource
	Obligations StatementObserver // *Obligations
	Logger      *slog.Logger
	Interval    time.Duration // default ReconcileInterval
	Margin      time.Duration // default ReconcileMargin
}

// WatermarkName is the watermark of org's reconciliation.
func WatermarkName(org string) string { return "reconcile/" + org }

// Run reconciles now and then every Interval until ctx is done.
func (r *Reconciler) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = ReconcileInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.logger().Warn("forwarding: reconcile pass failed; next pass retries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reconciler) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// Pass reconciles every organization with objectives once. It goes on
// with the other organizations when one fails, and returns the errors.
func (r *Reconciler) Pass(ctx context.Context) error {
	orgs, err := r.Store.ObjectiveOrgs(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: list organizations: %w", err)
	}
	var errs []error
	for _, org := range orgs {
		if err := r.reconcileOrg(ctx, org); err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", org, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) reconcileOrg(ctx context.Context, org string) error {
	// Consistent-Through before the scan: everything stored at or before
	// it is visible now.
	through, err := r.Statements.ConsistentThrough(ctx)
	if err != nil {
		return err
	}
	wm, err := r.Store.GetWatermark(ctx, WatermarkName(org))
	if err != nil {
		return err
	}
	margin := r.Margin
	if margin <= 0 {
		margin = ReconcileMargin
	}
	var from time.Time
	if wm.IsZero() {
		objs, err := r.Store.ListObjectives(ctx, org)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if from.IsZero() || (!o.CreatedAt.IsZero() && o.CreatedAt.Before(from)) {
				from = o.CreatedAt
			}
		}
		if from.IsZero() {
			from = through
		}
	} else {
		from = wm
	}
	from = from.Add(-margin)
	// Strictly after (from - 1 ms, ""): from itself included.
	after := Cursor{Stored: from.Add(-time.Millisecond)}
	n := 0
	for {
		page, err := r.Statements.ScanStored(ctx, org, after, through, reconcilePage)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := r.Obligations.StatementsStored(ctx, org, page); err != nil {
				return err
			}
			last := page[len(page)-1]
			after = Cursor{Stored: last.Stored, ID: last.ID}
			n += len(page)
		}
		if len(page) < reconcilePage {
			break
		}
	}
	if through.After(wm) {
		if err := r.Store.SetWatermark(ctx, WatermarkName(org), through); err != nil {
			return err
		}
	}
	r.logger().Debug("forwarding: reconciled", "org", org, "from", from, "through", through, "statements", n)
	return nil
}
