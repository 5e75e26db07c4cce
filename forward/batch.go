package forward

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Scheduled batches (issue 19: a webhook in batch mode).
//
// A destination that implements Scheduled sends its configuration's
// deliveries in batches on its own schedule (so many items, so long a
// wait, a daily or hourly time in a named zone) rather than as they come
// due. The seam is the claim of a job (runJob): before it claims, the
// engine asks the destination's BatchDue with the time of the
// configuration's last successful send (its status's LastSuccess; its
// creation before the first), the creation time of its oldest pending
// delivery and how many are pending (CountDeliveries).
//
//   - Due: the job claims every pending delivery of the configuration, due
//     or held, up to the batch size (the destination's MaxBatch), and
//     sends them as one Send (one request).
//   - Not due: the job claims the due ones and holds them by releasing
//     them due at the wake time BatchDue names (heldRecheck from now when
//     it names none: "only when more arrive"), so that the configuration
//     is not found due again before then. A delivery whose last attempt
//     failed (a batch that failed, re-driven or retried) is not held: it
//     goes on the retry schedule, with the others of its kind.
//
// Holding is a delivery's NextAttempt in the store, so it survives a
// restart and holds on every process; the decision is re-taken by each
// job from what the store counts, never from memory. A probe of a failing
// configuration (its circuit open) decides the same way: when the batch is
// due the probe is the whole batch (one request either way), so that the
// success of a probe of one item never makes the rest wait for the next
// scheduled time; when it is not, it sends the head of what failed, early,
// and holds the rest. A batch sent but not
// recorded (a crash between the answer and the write) is sent again when
// the leases end, with the same items: a receiver that dedupes by batch id
// or item key takes it once.

// Scheduled is a destination that sends on a schedule.
type Scheduled interface {
	Destination
	// BatchDue says whether the configuration's queued items go now and,
	// if not, when to ask again (zero: when more arrive).
	BatchDue(lastSend, oldest time.Time, queued int, now time.Time) (send bool, wake time.Time)
}

// EmptyScheduled is a Scheduled destination that sends at each of its
// scheduled times even when nothing is queued: a daily file that an AMS
// import job expects every day, with its header only on a day without a
// result, so that a missing file means a fault, not a quiet day.
//
// Housekeeping asks it (with the queue gauges, every StatsInterval, on
// every process) for every configuration that has no pending delivery:
// when EmptyDue names a scheduled time after the last successful send,
// SendEmpty sends for it. The attempt is recorded like one (no item), its
// outcome sets the status (and so the alerts), a success keeps the file
// (Result.Keep) and its LastSuccess marks the time as sent, so it is not
// sent again, by this process or another. A failure is tried again
// emptyRetry later while the time is the latest. Two processes that find
// the same time owed at once each send it; the sends are the same (a file
// of the same name and content), so the receiver keeps one.
type EmptyScheduled interface {
	Scheduled
	// EmptyDue is the latest scheduled time at or before now, when it is
	// after lastSend (zero otherwise).
	EmptyDue(lastSend, now time.Time) time.Time
	// SendEmpty sends, for the scheduled time slot, what goes when
	// nothing is queued.
	SendEmpty(ctx context.Context, slot time.Time) Result
}

// Slotted is a Scheduled destination whose batches go at the times of a
// schedule (a daily or hourly time). Of the processes that find a
// scheduled time due, one sends for it: each claims the time (a period of
// the PeriodStore, the claim the sweep uses, under the configuration's own
// task name, for the engine's Lease), and the one that gets it sends the
// time's batches (or its header-only file, EmptyScheduled); the others
// leave them. A claim that ends with its process (killed mid-send) is
// taken over by another once its lease has ended.
type Slotted interface {
	Scheduled
	// BatchSlot is the scheduled time at or before now that makes the
	// queued items due (BatchDue's arguments), zero when they are not due
	// or due for another reason (so many items, so long a wait): then any
	// process sends them.
	BatchSlot(lastSend, oldest time.Time, queued int, now time.Time) time.Time
}

// slotHolds is what this process knows of the scheduled times of its
// configurations: the latest it claimed or found claimed, and whether a
// batch that filled its claim is being drained.
type slotHolds struct {
	mu sync.Mutex
	m  map[cfgKey]slotHold
}

type slotHold struct {
	slot    time.Time
	mine    bool      // this process holds the claim (until until)
	until   time.Time // the claim's lease end
	checked time.Time // when the claim was last asked for
	drain   bool      // the last send claimed a full batch: more of the time's items wait
}

func (h *slotHolds) get(k cfgKey) slotHold {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[k]
}

func (h *slotHolds) update(k cfgKey, f func(*slotHold)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[cfgKey]slotHold{}
	}
	v := h.m[k]
	f(&v)
	h.m[k] = v
}

// slotTask is the PeriodStore task name of a configuration's scheduled
// times (a period is a time's Unix second).
func slotTask(org, id string) string { return "forward/slot/" + org + "/" + id }

// holdSlot reports whether this process sends for the scheduled time slot
// of configuration c: it holds the time's claim, or claims it now.
func (e *Engine) holdSlot(ctx context.Context, log *slog.Logger, c Configuration, slot, now time.Time) bool {
	k := cfgKey{c.Org, c.ID}
	h := e.slots.get(k)
	if h.slot.Equal(slot) {
		if h.mine && now.Before(h.until) {
			return true
		}
		if !h.mine && now.Sub(h.checked) < periodRecheck {
			return false // another process has it; ask again later
		}
	}
	until := now.Add(e.opts.Lease)
	got, err := e.store.ClaimPeriod(ctx, slotTask(c.Org, c.ID), slot.Unix(), e.opts.Owner, now, until)
	if err != nil {
		log.Warn("claiming a scheduled time failed", "slot", slot, "err", err)
		return false
	}
	e.slots.update(k, func(v *slotHold) {
		if !v.slot.Equal(slot) {
			v.drain = false
		}
		v.slot, v.mine, v.until, v.checked = slot, got, until, now
	})
	if !got {
		log.Debug("a scheduled time is sent by another process", "slot", slot)
	}
	return got
}

// sending reports whether a job of configuration k is running.
func (e *Engine) sending(k cfgKey) bool {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	st, ok := e.s.confs[k]
	return ok && st.inflight > 0
}

// emptyRetry is how long a failed send of nothing waits before the next.
const emptyRetry = 5 * time.Minute

// emptyTry is the last send of nothing a configuration was tried for.
type emptyTry struct{ slot, at time.Time }

// sendEmpty sends for c what its destination sends at a scheduled time
// with nothing queued, when one is owed (EmptyScheduled).
func (e *Engine) sendEmpty(ctx context.Context, c Configuration, now time.Time) {
	dest, redact, err := e.destination(c)
	if err != nil {
		return // its deliveries say why when there are some
	}
	s, ok := dest.(EmptyScheduled)
	if !ok {
		return
	}
	log := e.log.With("org", c.Org, "configuration", c.ID, "type", c.Type)
	st, err := e.store.GetStatus(ctx, c.Org, c.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("reading the last send of a scheduled configuration failed", "err", err)
		return
	}
	last := st.LastSuccess
	if last.IsZero() {
		last = c.CreatedAt
	}
	slot := s.EmptyDue(last, now)
	if slot.IsZero() {
		return
	}
	k := cfgKey{c.Org, c.ID}
	if t, ok := e.hk.empty[k]; ok && t.slot.Equal(slot) && now.Sub(t.at) < emptyRetry {
		return
	}
	n, err := e.store.CountDeliveries(ctx, c.Org, c.ID)
	if err != nil {
		log.Warn("counting a scheduled configuration's deliveries failed", "err", err)
		return
	}
	if n.Pending > 0 {
		return // they go at the scheduled time, in the file
	}
	if e.sending(k) {
		return // a send of it is running: what it records says whether the time went
	}
	if !e.holdSlot(ctx, log, c, slot, now) {
		return // another process sends it
	}
	if e.hk.empty == nil {
		e.hk.empty = map[cfgKey]emptyTry{}
	}
	e.hk.empty[k] = emptyTry{slot: slot, at: now}
	sctx, cancel := context.WithTimeout(ctx, e.opts.SendTimeout)
	start := time.Now()
	res := s.SendEmpty(sctx, slot)
	elapsed := time.Since(start)
	cancel()
	if ctx.Err() != nil && res.Outcome != OutcomeSuccess {
		return // stopped: not an attempt
	}
	res = redact.RedactResult(res)
	at := e.opts.Now()
	e.metrics.attempt(c.Type, res.Outcome, elapsed)
	if err := e.store.AddAttempt(ctx, Attempt{Org: c.Org, ConfigurationID: c.ID, At: at, Duration: elapsed,
		Outcome: res.Outcome, Status: res.Status, Response: Truncate(res.Message, MaxText)}); err != nil {
		log.Warn("recording an attempt failed", "err", err)
	}
	if res.Outcome != OutcomeSuccess {
		log.Info("the send of a scheduled time with nothing queued failed", "slot", slot, "outcome", res.Outcome, "error", res.Message)
		e.setStatus(ctx, log, c, res, at)
		return
	}
	if f := res.Keep; f != nil {
		f.Org, f.ConfigurationID = c.Org, c.ID
		if err := e.store.PutFile(ctx, *f); err != nil {
			log.Warn("keeping a copy of the uploaded file failed", "file", f.Name, "err", err)
		}
	}
	delete(e.hk.empty, k)
	log.Info("nothing queued at a scheduled time: sent", "slot", slot, "message", res.Message)
	e.setStatus(ctx, log, c, Result{Outcome: OutcomeSuccess, Status: res.Status}, at)
}

// heldRecheck is how long held deliveries wait when the schedule names no
// time (a batch that goes at so many items).
const heldRecheck = 24 * time.Hour

// claimScheduled is the claim of a job of a Scheduled destination: the
// deliveries to send now (nil when nothing goes) and how many it claimed.
func (e *Engine) claimScheduled(ctx context.Context, log *slog.Logger, j *job, cfg Configuration, s Scheduled, c Claim) ([]Delivery, int) {
	n, err := e.store.CountDeliveries(ctx, cfg.Org, cfg.ID)
	if err != nil {
		log.Warn("counting a scheduled batch failed", "err", err)
		return nil, 0
	}
	st, err := e.store.GetStatus(ctx, cfg.Org, cfg.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("reading the last send of a scheduled batch failed", "err", err)
		return nil, 0
	}
	last := st.LastSuccess
	if last.IsZero() {
		last = cfg.CreatedAt
	}
	now := c.Now
	k := cfgKey{cfg.Org, cfg.ID}
	send, wake := s.BatchDue(last, n.OldestPending, n.Pending, now)
	if !send && n.Pending > 0 && e.slots.get(k).drain {
		send = true // the rest of a batch larger than one claim
	}
	if send {
		if sl, ok := s.(Slotted); ok {
			if slot := sl.BatchSlot(last, n.OldestPending, n.Pending, now); !slot.IsZero() && !e.holdSlot(ctx, log, cfg, slot, now) {
				return nil, 0 // another process sends this time's batch
			}
		}
		c.DueBy = now.Add(100 * 365 * 24 * time.Hour) // held ones too
		c.Limit = max(s.MaxBatch(), 1)                // together, up to what one Send takes
		ds := e.claim(ctx, log, j, c)
		for i := range ds {
			if ds[i].NextAttempt.After(now) {
				ds[i].NextAttempt = now // the batch is due: its items are
			}
		}
		full := len(ds) >= c.Limit && n.Pending > len(ds)
		e.slots.update(k, func(v *slotHold) { v.drain = full })
		return ds, len(ds)
	}
	ds := e.claim(ctx, log, j, c)
	if wake.IsZero() || !wake.After(now) {
		wake = now.Add(heldRecheck)
	}
	var retry, held []Delivery
	for _, d := range ds {
		if d.LastError != "" { // its last attempt failed (Attempts may be reset by a re-drive)
			retry = append(retry, d)
		} else {
			held = append(held, d)
		}
	}
	if len(held) > 0 {
		log.Debug("scheduled batch: held", "items", len(held), "queued", n.Pending, "until", wake)
		e.release(ctx, held, wake)
	}
	return retry, len(ds)
}
