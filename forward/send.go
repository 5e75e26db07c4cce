package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// Sending: a job reads its configuration, builds the destination, claims
// a batch of the configuration's due deliveries, reads the statements,
// sends them, redacts the verdict and persists every outcome.

// storageRetry is when a delivery is tried again after a storage error
// kept it from being sent (not an attempt).
const storageRetry = 30 * time.Second

// deletedBatch is how many deliveries of a deleted configuration one job
// skips.
const deletedBatch = 200

// runJob is one job of the scheduler (sched.go).
func (e *Engine) runJob(ctx context.Context, j *job, claimed *atomic.Int64) {
	var r jobResult
	defer func() { e.finish(j, r) }()
	if j.pooled {
		t := time.AfterFunc(e.opts.SlowAfter, func() { e.slowRelease(j) })
		defer t.Stop()
	}
	k := j.st.key
	log := e.log.With("org", k.org, "configuration", k.id)
	now := e.opts.Now()
	claim := Claim{Org: k.org, ConfigurationID: k.id, Owner: e.opts.Owner, Now: now, Lease: e.opts.Lease}

	cfg, err := e.store.GetConfiguration(ctx, k.org, k.id)
	switch {
	case errors.Is(err, ErrNotFound):
		claim.Limit = deletedBatch
		ds := e.claim(ctx, log, j, claim)
		r.claimed, r.limit = len(ds), claim.Limit
		for _, d := range ds {
			e.skip(ctx, "", d, "configuration deleted")
		}
		if claimed != nil {
			claimed.Add(int64(len(ds)))
		}
		return
	case err != nil:
		log.Warn("reading the configuration failed", "err", err)
		return
	}
	r.revision = cfg.Revision
	e.noteOrg(cfg.Org)
	log = log.With("type", cfg.Type)

	dest, redact, derr := e.destination(cfg)
	claim.Limit = j.batch
	if dest != nil {
		r.max = max(dest.MaxBatch(), 1)
		claim.Limit = min(claim.Limit, r.max)
	}
	if j.probe {
		claim.Limit, claim.DueBy = 1, now.Add(probeAhead)
	}
	r.limit = claim.Limit
	var ds []Delivery
	if s, ok := dest.(Scheduled); ok {
		ds, r.claimed = e.claimScheduled(ctx, log, j, cfg, s, claim) // batch.go; a probe too
	} else {
		ds = e.claim(ctx, log, j, claim)
		r.claimed = len(ds)
	}
	if claimed != nil {
		claimed.Add(int64(r.claimed))
	}
	if len(ds) == 0 {
		return
	}
	early := map[string]bool{} // taken by a probe before their scheduled attempt
	for _, d := range ds {
		if d.NextAttempt.After(now) {
			early[d.StatementID] = true
		}
	}
	if derr != nil {
		// A configuration that cannot be built is a destination-wide
		// rejection: retried on schedule and when the configuration is edited.
		items := make([]Item, len(ds))
		for i, d := range ds {
			items[i] = Item{Delivery: d}
		}
		res := Result{Outcome: OutcomeDestination, Message: redact.Redact("invalid configuration: " + derr.Error())}
		e.apply(ctx, log, cfg, items, res, 0, early)
		r.outcome = res.Outcome
		return
	}

	var items []Item
	if isOverwrite(e.types, cfg.Type) {
		items = e.readResults(ctx, log, cfg, ds)
	} else {
		items = e.readStatements(ctx, log, cfg, ds)
	}
	if len(items) == 0 {
		return
	}
	if ctx.Err() != nil {
		e.releaseItems(items)
		return
	}
	if res, stopped := e.stopped(ctx, log, cfg, dest); stopped {
		if cur, err := e.store.GetConfiguration(ctx, cfg.Org, cfg.ID); err == nil && cur.Revision != cfg.Revision {
			// Edited since this job read it: the edit resumes sending, and
			// its re-drive may have made these due just before this claim;
			// released as they are, the next job sends them, where a
			// failure would put them back on the retry schedule.
			e.releaseItems(items)
			return
		}
		e.apply(ctx, log, cfg, items, res, 0, early) // not sent: kept queued, on the retry schedule
		r.outcome = res.Outcome
		return
	}
	sctx, cancel := context.WithTimeout(ctx, e.opts.SendTimeout)
	start := time.Now()
	res := dest.Send(sctx, items)
	elapsed := time.Since(start)
	cancel()
	if ctx.Err() != nil && res.Outcome != OutcomeSuccess {
		// Stopped mid-send: not the destination's fault, not an attempt.
		e.releaseItems(items)
		return
	}
	res = redact.RedactResult(res) // before anything is stored, logged or mailed
	e.apply(ctx, log, cfg, items, res, elapsed, early)
	if f := res.Keep; f != nil && (res.Outcome == OutcomeSuccess || res.Outcome == OutcomeItem) {
		f.Org, f.ConfigurationID = cfg.Org, cfg.ID
		if err := e.store.PutFile(ctx, *f); err != nil {
			log.Warn("keeping a copy of the uploaded file failed", "file", f.Name, "err", err)
		}
	}
	r.sent, r.tooLarge, r.retryAfter = len(items), res.TooLarge, res.RetryAfter
	switch res.Outcome {
	case OutcomeSuccess, OutcomeItem, OutcomeSkipped:
		r.outcome = OutcomeSuccess // the destination answered for its items
	default:
		r.outcome = res.Outcome
	}
}

// readStatements returns the items of ds with their statements: a
// delivery whose statement is gone is skipped, and one whose statement
// cannot be read now is released for later.
func (e *Engine) readStatements(ctx context.Context, log *slog.Logger, cfg Configuration, ds []Delivery) []Item {
	items := make([]Item, 0, len(ds))
	if many, ok := e.statements.(StatementsGetter); ok && len(ds) > 1 {
		ids := make([]string, len(ds))
		for i, d := range ds {
			ids[i] = d.StatementID
		}
		got, err := many.GetStatements(ctx, cfg.Org, ids)
		if err != nil {
			log.Warn("reading statements failed", "count", len(ds), "err", err)
			e.release(ctx, ds, e.opts.Now().Add(storageRetry))
			return nil
		}
		for _, d := range ds {
			raw, ok := got[d.StatementID]
			if !ok {
				raw, ok = got[strings.ToLower(d.StatementID)]
			}
			if !ok {
				e.skip(ctx, cfg.Type, d, "statement not found")
				continue
			}
			items = append(items, Item{Delivery: d, Statement: raw})
		}
		return items
	}
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
	return items
}

// readResults returns the items of overwrite deliveries with their
// results as they are now (and their objectives): a delivery whose result
// or objective is gone is skipped, and one whose result cannot be read
// now is released for later.
func (e *Engine) readResults(ctx context.Context, log *slog.Logger, cfg Configuration, ds []Delivery) []Item {
	keys := make([]ResultKey, 0, len(ds))
	for _, d := range ds {
		if k, ok := ResultKeyOf(d); ok {
			keys = append(keys, k)
		}
	}
	got, err := e.store.GetResults(ctx, keys)
	if err != nil {
		log.Warn("reading results failed", "count", len(ds), "err", err)
		e.release(ctx, ds, e.opts.Now().Add(storageRetry))
		return nil
	}
	objs := map[string]*Objective{}
	items := make([]Item, 0, len(ds))
	for _, d := range ds {
		k, ok := ResultKeyOf(d)
		if !ok {
			e.skip(ctx, cfg.Type, d, "a statement's delivery to an overwrite configuration")
			continue
		}
		r, ok := got[k]
		if !ok {
			e.skip(ctx, cfg.Type, d, "result not found")
			continue
		}
		obj, seen := objs[k.ObjectiveID]
		if !seen {
			o, err := e.store.GetObjective(ctx, k.Org, k.ObjectiveID)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				log.Warn("reading an objective failed", "objective", k.ObjectiveID, "err", err)
				e.release(ctx, []Delivery{d}, e.opts.Now().Add(storageRetry))
				continue
			default:
				obj = &o
			}
			objs[k.ObjectiveID] = obj
		}
		if obj == nil {
			e.skip(ctx, cfg.Type, d, "objective deleted")
			continue
		}
		items = append(items, Item{Delivery: d, Result: &r, Objective: obj})
	}
	return items
}

// superseded reports which of the overwrite items of a batch were sent
// with a revision older than their result's now (it changed during the
// send): they go again rather than count as delivered. A failed read
// counts as superseded (one more send of the current value is harmless;
// a lost change is not).
func (e *Engine) superseded(ctx context.Context, batch []Item) map[string]bool {
	var keys []ResultKey
	for _, it := range batch {
		if it.Result != nil {
			keys = append(keys, it.Result.ResultKey)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	out := map[string]bool{}
	got, err := e.store.GetResults(ctx, keys)
	if err != nil && ctx.Err() != nil {
		return out // stopping: the next start's sends read the results again
	}
	for _, it := range batch {
		if it.Result == nil {
			continue
		}
		if cur, ok := got[it.Result.ResultKey]; err != nil || (ok && cur.Revision > it.Result.Revision) {
			out[it.Delivery.StatementID] = true
		}
	}
	return out
}

// claim leases a batch for the job and tells the scheduler what it found.
func (e *Engine) claim(ctx context.Context, log *slog.Logger, j *job, c Claim) []Delivery {
	ds, err := e.store.ClaimDeliveries(ctx, c)
	if err != nil {
		log.Warn("claiming deliveries failed", "err", err)
		ds = nil
	}
	e.claimedHint(j, len(ds), c.Limit)
	return ds
}

// destination returns the configuration's Destination and the Redactor of
// its secrets (every form, and what the destination learns at run time),
// built again when the configuration changed. With an error the Redactor
// is still usable.
func (e *Engine) destination(cfg Configuration) (Destination, *Redactor, error) {
	k := cfgKey{cfg.Org, cfg.ID}
	e.mu.Lock()
	c, ok := e.dests[k]
	e.mu.Unlock()
	if ok && c.revision == cfg.Revision && c.updated.Equal(cfg.UpdatedAt) {
		return c.dest, c.redact, nil
	}
	typ, ok := e.types.Lookup(cfg.Type)
	if !ok {
		return nil, nil, fmt.Errorf("unknown type %q", cfg.Type)
	}
	secrets, err := e.open(cfg)
	if err != nil {
		return nil, nil, errors.New("cannot open the sealed secrets")
	}
	redact := ConfigRedactor(cfg.Properties, secrets)
	dest, err := typ.Factory(cfg, secrets)
	if err != nil {
		return nil, redact, err
	}
	redact = redactorOf(cfg, secrets, dest)
	e.mu.Lock()
	e.dests[k] = cachedDest{revision: cfg.Revision, updated: cfg.UpdatedAt, dest: dest, redact: redact}
	e.mu.Unlock()
	return dest, redact, nil
}

// apply persists the outcome of one attempt on a batch. Items in early
// were taken by a probe before their scheduled attempt: a failure is not
// one of their attempts.
func (e *Engine) apply(ctx context.Context, log *slog.Logger, cfg Configuration, batch []Item, r Result, elapsed time.Duration, early map[string]bool) {
	at := e.opts.Now()
	switch r.Outcome {
	case OutcomeSuccess, OutcomeTransport, OutcomeDestination, OutcomeTransient, OutcomeItem, OutcomeSkipped:
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

	ds := make([]Delivery, len(batch))
	switch r.Outcome {
	case OutcomeSuccess, OutcomeItem, OutcomeSkipped:
		again := e.superseded(ctx, batch)
		for i, it := range batch {
			d := it.Delivery
			d.Attempts++
			d.LastAttempt, d.UpdatedAt, d.LastStatus = at, at, r.Status
			reason, isRejected := r.Rejected[d.StatementID]
			skipReason, isSkipped := r.Skipped[d.StatementID]
			if r.Outcome == OutcomeSkipped && !isSkipped {
				isSkipped, skipReason = true, r.Message
			}
			if again[d.StatementID] {
				// The result changed while this revision was sent: the newer one goes now.
				d.State, d.NextAttempt, d.Attempts, d.FirstFailure, d.LastError = StatePending, at, 0, time.Time{}, ""
			} else if isSkipped {
				d.State, d.Reason, d.LastError = StateSkipped, Truncate(skipReason, MaxText), ""
			} else if isRejected || r.Outcome == OutcomeItem {
				if reason == "" {
					reason = r.Message
				}
				d.State, d.Reason, d.LastError = StateRejected, Truncate(reason, MaxText), Truncate(reason, MaxText)
			} else {
				d.State, d.LastError = StateDelivered, ""
			}
			ds[i] = d
		}
		applied := e.updateAll(ctx, log, ds)
		// A change between the check above and the write just done found
		// the delivery pending (being sent) and left it: read again after
		// the write, and re-open what a newer revision overtook. (The
		// change's own re-open runs after its result write, so one of the
		// two sees the other.)
		for id := range e.superseded(ctx, batch) {
			if again[id] {
				continue
			}
			if again == nil {
				again = map[string]bool{}
			}
			again[id] = true
			if _, err := e.store.ReopenDelivery(ctx, cfg.Org, cfg.ID, id, at); err != nil {
				log.Warn("re-opening an overtaken delivery failed", "delivery", id, "err", err)
			}
		}
		if len(again) > 0 {
			e.Due([]ConfigKey{{cfg.Org, cfg.ID}})
		}
		var rejected []PendingRejection
		for i, d := range ds {
			switch {
			case !applied[i], d.State == StatePending:
			case d.State == StateSkipped:
				e.metrics.delivery(cfg.Type, CountSkipped, 1)
			case d.State == StateRejected:
				e.metrics.delivery(cfg.Type, CountRejected, 1)
				rejected = append(rejected, PendingRejection{Org: cfg.Org, ConfigurationID: cfg.ID,
					RejectedItem: RejectedItem{StatementID: d.StatementID, Reason: d.Reason, At: at}})
			default:
				e.metrics.delivery(cfg.Type, CountDelivered, 1)
			}
		}
		if len(rejected) > 0 {
			log.Info("items rejected by the destination", "count", len(rejected))
			if err := e.store.AddRejected(ctx, rejected); err != nil {
				log.Warn("keeping rejected items for the digest failed", "err", err)
			}
		}
		if r.Outcome == OutcomeSuccess || (r.Outcome == OutcomeItem && len(rejected)+len(r.Skipped) < len(batch)) {
			e.setStatus(ctx, log, cfg, Result{Outcome: OutcomeSuccess, Status: r.Status}, at)
		}
	default:
		var next time.Time
		parked := 0
		for i, it := range batch {
			d := it.Delivery
			d.LastAttempt, d.UpdatedAt = at, at
			d.LastStatus, d.LastError = r.Status, Truncate(r.Message, MaxText)
			ds[i] = d
			if early[d.StatementID] {
				continue // probed ahead of its schedule: not one of its attempts
			}
			d.Attempts++
			if d.Attempts == 1 || d.FirstFailure.IsZero() {
				d.FirstFailure = at
			}
			n, park := e.opts.Policy.Next(d.Attempts, d.FirstFailure, at, r.RetryAfter, e.opts.Rand)
			if park {
				d.State = StateParked
				parked++
			} else {
				d.NextAttempt = n
				if next.IsZero() || n.Before(next) {
					next = n
				}
			}
			ds[i] = d
		}
		applied := e.updateAll(ctx, log, ds)
		for i, d := range ds {
			switch {
			case !applied[i], early[d.StatementID]:
			case d.State == StateParked:
				e.metrics.delivery(cfg.Type, CountParked, 1)
			default:
				e.metrics.delivery(cfg.Type, CountRetried, 1)
			}
		}
		log.Info("send failed", "outcome", r.Outcome, "status", r.Status, "error", r.Message,
			"items", len(batch), "parked", parked, "next_attempt", next)
		e.setStatus(ctx, log, cfg, r, at)
	}
}

// updateAll persists the transitions of a batch; a lost lease means
// another worker owns the delivery now, and its transition is dropped. It
// reports which were applied.
func (e *Engine) updateAll(ctx context.Context, log *slog.Logger, ds []Delivery) []bool {
	applied := make([]bool, len(ds))
	errs, err := e.store.UpdateDeliveries(ctx, ds, e.opts.Owner)
	if err != nil {
		log.Warn("updating deliveries failed", "count", len(ds), "err", err)
		return applied
	}
	for i, err := range errs {
		switch {
		case err == nil:
			applied[i] = true
		case errors.Is(err, ErrLeaseLost):
			log.Debug("lease lost; transition dropped", "statement", ds[i].StatementID)
		default:
			log.Warn("updating a delivery failed", "statement", ds[i].StatementID, "err", err)
		}
	}
	return applied
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
	ds := make([]Delivery, len(batch))
	for i, it := range batch {
		ds[i] = it.Delivery
	}
	e.updateAll(ctx, e.log, ds)
}

// Stoppable is a destination whose receiver may ask to be sent nothing
// more (Result.Stop): before each send the engine reads whether the
// configuration's revision was stopped, by this process or another, and
// then sends nothing.
type Stoppable interface {
	Destination
	MayStop()
}

// stopped reports whether cfg's revision was stopped (ConfigStatus.
// StoppedRevision), with the result that stands for the send it skips:
// a destination-wide failure, so that the deliveries stay queued, the
// status stays Server Error and only probes (which send nothing either)
// look at it until the configuration is edited. A status that cannot be
// read does not stop the send.
func (e *Engine) stopped(ctx context.Context, log *slog.Logger, cfg Configuration, dest Destination) (Result, bool) {
	if _, ok := dest.(Stoppable); !ok {
		return Result{}, false
	}
	st, err := e.store.GetStatus(ctx, cfg.Org, cfg.ID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			log.Warn("reading whether the configuration was stopped failed", "err", err)
		}
		return Result{}, false
	}
	if st.StoppedRevision == 0 || st.StoppedRevision != cfg.Revision {
		return Result{}, false
	}
	return Result{Outcome: OutcomeDestination, Status: st.LastStatus,
		Message: fmt.Sprintf("not sent: the destination asked to stop at %s (%s); sending resumes when the configuration is edited",
			st.StoppedAt.UTC().Format(time.RFC3339), st.StopReason)}, true
}
