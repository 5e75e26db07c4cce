package forward

import (
	"context"
	"errors"
	"log/slog"
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
	send, wake := s.BatchDue(last, n.OldestPending, n.Pending, now)
	if send {
		c.DueBy = now.Add(100 * 365 * 24 * time.Hour) // held ones too
		c.Limit = max(s.MaxBatch(), 1)                // together, up to what one Send takes
		ds := e.claim(ctx, log, j, c)
		for i := range ds {
			if ds[i].NextAttempt.After(now) {
				ds[i].NextAttempt = now // the batch is due: its items are
			}
		}
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
