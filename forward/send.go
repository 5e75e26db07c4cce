package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Sending: a worker builds the configuration's destination, reads the
// statements, sends them batch by batch and persists every outcome.

// storageRetry is when a delivery is tried again after a storage error
// kept it from being sent (not an attempt).
const storageRetry = 30 * time.Second

// process sends one configuration's claimed deliveries, batch by batch.
func (e *Engine) process(ctx context.Context, k cfgKey, ds []Delivery) {
	log := e.log.With("org", k.org, "configuration", k.id)
	cfg, err := e.store.GetConfiguration(ctx, k.org, k.id)
	switch {
	case errors.Is(err, ErrNotFound):
		for _, d := range ds {
			e.skip(ctx, "", d, "configuration deleted")
		}
		return
	case err != nil:
		log.Warn("reading the configuration failed", "err", err)
		e.release(ctx, ds, e.opts.Now().Add(storageRetry))
		return
	}
	e.noteOrg(cfg.Org)
	log = log.With("type", cfg.Type)

	dest, err := e.destination(cfg)
	if err != nil {
		// A configuration that cannot be built is a destination-wide
		// rejection: retried on schedule and when the configuration is edited.
		items := make([]Item, len(ds))
		for i, d := range ds {
			items[i] = Item{Delivery: d}
		}
		e.apply(ctx, log, cfg, items, Result{Outcome: OutcomeDestination, Message: "invalid configuration: " + err.Error()}, 0)
		return
	}

	var items []Item
	for _, d := range ds {
		raw, err := e.statements.GetStatement(ctx, d.Org, d.StatementID)
		switch {
		case errors.Is(err, ErrNotFound):
			e.skip(ctx, cfg.Type, d, "statement not found")
		case err != nil:
			log.Warn("reading a statement failed", "statement", d.StatementID, "err", err)
			e.release(ctx, []Delivery{d}, e.opts.Now().Add(storageRetry))
		default:
			items = append(items, Item{Delivery: d, Statement: raw})
		}
	}
	size := max(dest.MaxBatch(), 1)
	for len(items) > 0 {
		batch := items[:min(size, len(items))]
		items = items[len(batch):]
		if ctx.Err() != nil {
			e.releaseItems(batch)
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, e.opts.SendTimeout)
		start := time.Now()
		r := dest.Send(sctx, batch)
		elapsed := time.Since(start)
		cancel()
		if ctx.Err() != nil && r.Outcome != OutcomeSuccess {
			// Stopped mid-send: not the destination's fault, not an attempt.
			e.releaseItems(batch)
			continue
		}
		e.apply(ctx, log, cfg, batch, r, elapsed)
	}
}

// destination returns the configuration's Destination, built again when the
// configuration changed.
func (e *Engine) destination(cfg Configuration) (Destination, error) {
	k := cfgKey{cfg.Org, cfg.ID}
	e.mu.Lock()
	c, ok := e.dests[k]
	e.mu.Unlock()
	if ok && c.revision == cfg.Revision && c.updated.Equal(cfg.UpdatedAt) {
		return c.dest, nil
	}
	typ, ok := e.types.Lookup(cfg.Type)
	if !ok {
		return nil, fmt.Errorf("unknown type %q", cfg.Type)
	}
	secrets, err := e.open(cfg)
	if err != nil {
		return nil, errors.New("cannot open the sealed secrets")
	}
	dest, err := typ.Factory(cfg, secrets)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.dests[k] = cachedDest{revision: cfg.Revision, updated: cfg.UpdatedAt, dest: dest}
	e.mu.Unlock()
	return dest, nil
}

// apply persists the outcome of one attempt on a batch.
func (e *Engine) apply(ctx context.Context, log *slog.Logger, cfg Configuration, batch []Item, r Result, elapsed time.Duration) {
	at := e.opts.Now()
	switch r.Outcome {
	case OutcomeSuccess, OutcomeTransport, OutcomeDestination, OutcomeTransient, OutcomeItem:
	default:
		r = Result{Outcome: OutcomeDestination, Status: r.Status, Message: fmt.Sprintf("unknown outcome %q: %s", r.Outcome, r.Message)}
	}
	e.metrics.attempt(cfg.Type, r.Outcome, elapsed)
	ids := make([]string, len(batch))
	for i, it := range batch {
		ids[i] = it.Delivery.StatementID
	}
	if err := e.store.AddAttempt(ctx, Attempt{
		Org: cfg.Org, ConfigurationID: cfg.ID, StatementIDs: ids, At: at, Duration: elapsed,
		Outcome: r.Outcome, Status: r.Status, Response: Truncate(r.Message, MaxText),
	}); err != nil {
		log.Warn("recording an attempt failed", "err", err)
	}

	switch r.Outcome {
	case OutcomeSuccess, OutcomeItem:
		var rejected []RejectedItem
		for _, it := range batch {
			d := it.Delivery
			d.Attempts++
			d.LastAttempt, d.UpdatedAt, d.LastStatus = at, at, r.Status
			reason, isRejected := r.Rejected[d.StatementID]
			if isRejected || r.Outcome == OutcomeItem {
				if reason == "" {
					reason = r.Message
				}
				d.State, d.Reason, d.LastError = StateRejected, Truncate(reason, MaxText), Truncate(reason, MaxText)
			} else {
				d.State, d.LastError = StateDelivered, ""
			}
			if !e.update(ctx, log, d) {
				continue
			}
			if d.State == StateRejected {
				e.metrics.delivery(cfg.Type, CountRejected, 1)
				rejected = append(rejected, RejectedItem{StatementID: d.StatementID, Reason: d.Reason, At: at})
			} else {
				e.metrics.delivery(cfg.Type, CountDelivered, 1)
			}
		}
		if len(rejected) > 0 {
			log.Info("items rejected by the destination", "count", len(rejected))
			e.mu.Lock()
			k := cfgKey{cfg.Org, cfg.ID}
			e.digest[k] = append(e.digest[k], rejected...)
			e.mu.Unlock()
		}
		if r.Outcome == OutcomeSuccess {
			e.setStatus(ctx, log, cfg, r, at, time.Time{})
		}
	default:
		var next time.Time
		parked := 0
		for _, it := range batch {
			d := it.Delivery
			d.Attempts++
			if d.Attempts == 1 || d.FirstFailure.IsZero() {
				d.FirstFailure = at
			}
			d.LastAttempt, d.UpdatedAt = at, at
			d.LastStatus, d.LastError = r.Status, Truncate(r.Message, MaxText)
			n, park := e.opts.Policy.Next(d.Attempts, d.FirstFailure, at, r.RetryAfter, e.opts.Rand)
			if park {
				d.State = StateParked
			} else {
				d.NextAttempt = n
				if next.IsZero() || n.Before(next) {
					next = n
				}
			}
			if !e.update(ctx, log, d) {
				continue
			}
			if park {
				parked++
				e.metrics.delivery(cfg.Type, CountParked, 1)
			} else {
				e.metrics.delivery(cfg.Type, CountRetried, 1)
			}
		}
		log.Info("send failed", "outcome", r.Outcome, "status", r.Status, "error", r.Message,
			"items", len(batch), "parked", parked, "next_attempt", next)
		e.setStatus(ctx, log, cfg, r, at, next)
	}
}

// update persists a delivery's transition; a lost lease means another
// worker owns the delivery now, and the transition is dropped.
func (e *Engine) update(ctx context.Context, log *slog.Logger, d Delivery) bool {
	err := e.store.UpdateDelivery(ctx, d, e.opts.Owner)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrLeaseLost):
		log.Debug("lease lost; transition dropped", "statement", d.StatementID)
	default:
		log.Warn("updating a delivery failed", "statement", d.StatementID, "err", err)
	}
	return false
}

func (e *Engine) skip(ctx context.Context, typ string, d Delivery, reason string) {
	d.State, d.Reason, d.UpdatedAt = StateSkipped, reason, e.opts.Now()
	if e.update(ctx, e.log, d) {
		e.metrics.delivery(typ, CountSkipped, 1)
	}
}

// release gives claimed deliveries back unchanged (not attempted), due at next.
func (e *Engine) release(ctx context.Context, ds []Delivery, next time.Time) {
	for _, d := range ds {
		if !next.IsZero() {
			d.NextAttempt = next
		}
		e.update(ctx, e.log, d)
	}
}

// releaseItems releases a batch when the engine is stopping: with a fresh
// context, as the sends' one is done.
func (e *Engine) releaseItems(batch []Item) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, it := range batch {
		e.update(ctx, e.log, it.Delivery)
	}
}
