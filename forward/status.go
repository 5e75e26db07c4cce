package forward

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Status: a configuration's status is the class of its latest
// destination-level outcome; changes are mailed (damped, alerts.go) and a
// recovery re-drives what was parked.

// StatusOf is the configuration status an attempt's outcome class stands
// for (sinks.md §0.2): OK, Can't Connect (no response) or Server Error.
func StatusOf(outcome string) string {
	switch outcome {
	case OutcomeSuccess:
		return StatusOK
	case OutcomeTransport:
		return StatusCantConnect
	default:
		return StatusServerError
	}
}

func isErrorStatus(s string) bool { return s == StatusCantConnect || s == StatusServerError }

// statusLock is the lock of the configuration's status updates in this
// process (several batches of a configuration may end at once).
func (e *Engine) statusLock(k cfgKey) func() {
	e.s.mu.Lock()
	st := e.s.state(k)
	e.s.mu.Unlock()
	st.statusMu.Lock()
	return st.statusMu.Unlock
}

// setStatus records a destination-level outcome in the configuration's
// status, mails the contact when a mail is due, and re-drives the waiting
// and parked deliveries when the destination recovers.
func (e *Engine) setStatus(ctx context.Context, log *slog.Logger, cfg Configuration, r Result, at time.Time) {
	defer e.statusLock(cfgKey{cfg.Org, cfg.ID})()
	prev, err := e.store.GetStatus(ctx, cfg.Org, cfg.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		prev = ConfigStatus{Org: cfg.Org, ConfigurationID: cfg.ID, Status: StatusNotAttempted}
	case err != nil:
		log.Warn("reading the status failed", "err", err)
		return
	}
	s := prev
	s.Org, s.ConfigurationID = cfg.Org, cfg.ID
	s.Status, s.LastStatus, s.UpdatedAt = StatusOf(r.Outcome), r.Status, at
	if s.Status != prev.Status {
		s.Since = at
		log.Info("configuration status changed", "from", prev.Status, "to", s.Status)
	}
	if r.Stop && s.StoppedRevision != cfg.Revision {
		s.StoppedRevision, s.StoppedAt, s.StopReason = cfg.Revision, at, Truncate(r.Message, MaxText)
		log.Warn("the destination asked to stop: nothing more is sent until the configuration is edited", "revision", cfg.Revision)
	}
	if s.Status == StatusOK {
		s.LastSuccess, s.LastError, s.FirstFailure = at, "", time.Time{}
		if s.StoppedRevision != 0 && s.StoppedRevision != cfg.Revision { // an edit resumed it
			s.StoppedRevision, s.StoppedAt, s.StopReason = 0, time.Time{}, ""
		}
	} else {
		s.LastError = Truncate(r.Message, MaxText)
		if !isErrorStatus(prev.Status) || s.FirstFailure.IsZero() {
			s.FirstFailure = at
		}
	}
	e.alertIfDue(ctx, log, cfg, &s, at) // may reserve a mail in s
	if err := e.store.PutStatus(ctx, s); err != nil {
		log.Warn("storing the status failed", "err", err)
	}
	if s.Status == StatusOK && isErrorStatus(prev.Status) {
		// The recovery flush (sinks.md §0.4): what waited behind the open
		// circuit, at a backoff slot maybe hours away, or parked, is due now.
		n, err := e.store.Redrive(ctx, cfg.Org, cfg.ID, []string{StatePending, StateParked}, at)
		if err != nil {
			log.Warn("re-driving waiting deliveries failed", "err", err)
		} else if n > 0 {
			log.Info("destination recovered; waiting and parked deliveries re-driven", "count", n)
		}
	}
}
