package forward

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Status: a configuration's status is the class of its latest
// destination-level outcome; a change is mailed and a recovery re-drives
// what was parked.

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

// setStatus records a destination-level outcome in the configuration's
// status, mails the contact on a change, and re-drives parked deliveries
// when the destination recovers.
func (e *Engine) setStatus(ctx context.Context, log *slog.Logger, cfg Configuration, r Result, at, next time.Time) {
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
	if s.Status == StatusOK {
		s.LastSuccess, s.LastError, s.FirstFailure = at, "", time.Time{}
	} else {
		s.LastError = Truncate(r.Message, MaxText)
		if !isErrorStatus(prev.Status) || s.FirstFailure.IsZero() {
			s.FirstFailure = at
		}
	}
	if s.Status != prev.Status {
		log.Info("configuration status changed", "from", prev.Status, "to", s.Status)
	}

	kind := ""
	switch {
	case isErrorStatus(s.Status) && (s.AlertedStatus != s.Status || at.Sub(s.LastAlert) >= e.opts.AlertRepeat):
		kind = AlertStatus
	case s.Status == StatusOK && isErrorStatus(s.AlertedStatus):
		kind = AlertRecovery
	}
	if kind != "" && e.opts.Alerter != nil && cfg.ContactEmail != "" && e.mayAlert(cfg, at) {
		counts, err := e.store.CountDeliveries(ctx, cfg.Org, cfg.ID)
		if err != nil {
			log.Warn("counting deliveries failed", "err", err)
		}
		a := Alert{Kind: kind, Configuration: cfg, Status: s, Previous: prev.Status, Counts: counts, NextAttempt: next}
		if e.sendAlert(ctx, log, cfg, a, at) {
			s.LastAlert, s.AlertedStatus = at, s.Status
		}
	}
	if err := e.store.PutStatus(ctx, s); err != nil {
		log.Warn("storing the status failed", "err", err)
	}
	if s.Status == StatusOK && isErrorStatus(prev.Status) {
		n, err := e.store.Redrive(ctx, cfg.Org, cfg.ID, []string{StateParked}, at)
		if err != nil {
			log.Warn("re-driving parked deliveries failed", "err", err)
		} else if n > 0 {
			log.Info("destination recovered; parked deliveries re-driven", "count", n)
		}
	}
}
