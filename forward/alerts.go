package forward

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"
)

// Alerts: status and recovery mail, damped, and the digest of rejected
// items, to a configuration's contact email.
//
// Damping. A status mail is due when the configuration enters an error
// class, changes between the two, or is still failing AlertRepeat after
// the last mail; a recovery mail when it has stayed OK for RecoveryDelay
// after an error mail. Either waits until AlertInterval has passed since
// the configuration's last mail, so a destination that flaps between
// errors and successes mails once per interval, and a flap back to the
// class already announced mails nothing. A mail that must wait is sent by
// the periodic scan once it may, with the status, the counts and the next
// attempt of that moment.

// Alert kinds.
const (
	// AlertStatus: the configuration entered an error class, changed
	// between error classes, or is still failing AlertRepeat after the
	// last mail.
	AlertStatus = "status"
	// AlertRecovery: the configuration has been OK for RecoveryDelay after
	// an error alert.
	AlertRecovery = "recovery"
	// AlertRejected: a digest of items the destination refused one by one.
	AlertRejected = "rejected"
)

// RejectedItem is one item of a rejection digest.
type RejectedItem struct {
	StatementID string
	Reason      string
	At          time.Time
}

// Alert is one notification to a configuration's contact email.
type Alert struct {
	Kind          string
	Configuration Configuration
	Status        ConfigStatus // the status when the mail is sent
	Previous      string       // the status announced before (the last mail's)
	Counts        Counts       // the configuration's deliveries by state, when the mail is sent
	NextAttempt   time.Time    // the next attempt of the failed deliveries (zero: none scheduled)
	Rejected      []RejectedItem
}

// Alerter notifies a configuration's contact email. An error means the
// notification was not sent; the engine tries again later.
type Alerter interface {
	Alert(ctx context.Context, a Alert) error
}

// alertBackoff is how long the engine waits after a failed mail.
const alertBackoff = 5 * time.Minute

// alertKind is the mail due for status s at now ("" for none).
func (e *Engine) alertKind(s ConfigStatus, now time.Time) string {
	quiet := s.LastAlert.IsZero() || now.Sub(s.LastAlert) >= e.opts.AlertInterval
	since := s.Since
	if since.IsZero() {
		since = s.UpdatedAt
	}
	switch {
	case !quiet:
	case isErrorStatus(s.Status) && (s.AlertedStatus != s.Status || now.Sub(s.LastAlert) >= e.opts.AlertRepeat):
		return AlertStatus
	case s.Status == StatusOK && isErrorStatus(s.AlertedStatus) && now.Sub(since) >= e.opts.RecoveryDelay:
		return AlertRecovery
	}
	return ""
}

// alertIfDue sends the mail due for status s, if any (under the
// configuration's status lock): it reserves it in s (LastAlert,
// AlertedStatus, which the caller stores), then mails beside the sends,
// and gives the reservation back if the mail fails.
func (e *Engine) alertIfDue(ctx context.Context, log *slog.Logger, cfg Configuration, s *ConfigStatus, now time.Time) {
	if e.opts.Alerter == nil || cfg.ContactEmail == "" {
		return
	}
	kind := e.alertKind(*s, now)
	if kind == "" {
		return
	}
	k := cfgKey{cfg.Org, cfg.ID}
	e.mu.Lock()
	if e.alerting[k] || now.Before(e.alertRetry[k]) {
		e.mu.Unlock()
		return
	}
	e.alerting[k] = true
	e.mu.Unlock()
	prevAt, prevStatus := s.LastAlert, s.AlertedStatus
	s.LastAlert, s.AlertedStatus = now, s.Status
	sent := *s
	e.mails.Add(1)
	go func() {
		defer e.mails.Done()
		e.sendAlert(context.WithoutCancel(ctx), log, cfg, kind, sent, prevStatus, prevAt)
	}()
}

// sendAlert mails one reserved alert, with the counts and the next attempt
// of now, and gives the reservation back when the mail fails.
func (e *Engine) sendAlert(ctx context.Context, log *slog.Logger, cfg Configuration, kind string, s ConfigStatus, prevStatus string, prevAt time.Time) {
	k := cfgKey{cfg.Org, cfg.ID}
	defer func() {
		e.mu.Lock()
		delete(e.alerting, k)
		e.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	counts, err := e.store.CountDeliveries(ctx, cfg.Org, cfg.ID)
	if err != nil {
		log.Warn("counting deliveries failed", "err", err)
	}
	previous := prevStatus
	if previous == "" {
		previous = StatusNotAttempted
	}
	a := Alert{Kind: kind, Configuration: cfg, Status: s, Previous: previous, Counts: counts}
	if kind == AlertStatus {
		a.NextAttempt = e.s.probeAt(k)
	}
	if err := e.opts.Alerter.Alert(ctx, a); err != nil {
		log.Warn("sending an alert failed", "kind", kind, "err", err)
		now := e.opts.Now()
		e.mu.Lock()
		e.alertRetry[k] = now.Add(alertBackoff)
		e.mu.Unlock()
		unlock := e.statusLock(k)
		defer unlock()
		cur, err := e.store.GetStatus(ctx, cfg.Org, cfg.ID)
		if err == nil && cur.LastAlert.Equal(s.LastAlert) && cur.AlertedStatus == s.AlertedStatus {
			cur.LastAlert, cur.AlertedStatus = prevAt, prevStatus
			if err := e.store.PutStatus(ctx, cur); err != nil {
				log.Warn("storing the status failed", "err", err)
			}
		}
		return
	}
	e.mu.Lock()
	delete(e.alertRetry, k)
	e.mu.Unlock()
	log.Info("alert sent", "kind", kind, "status", s.Status)
}

// alertDeferred sends the mail of a configuration that became due since
// its last status change (the periodic scan).
func (e *Engine) alertDeferred(ctx context.Context, cfg Configuration, now time.Time) {
	if e.opts.Alerter == nil || cfg.ContactEmail == "" {
		return
	}
	defer e.statusLock(cfgKey{cfg.Org, cfg.ID})()
	s, err := e.store.GetStatus(ctx, cfg.Org, cfg.ID)
	if err != nil || e.alertKind(s, now) == "" {
		return
	}
	log := e.log.With("org", cfg.Org, "configuration", cfg.ID)
	e.alertIfDue(ctx, log, cfg, &s, now)
	if err := e.store.PutStatus(ctx, s); err != nil {
		log.Warn("storing the status failed", "err", err)
	}
}

// probeAt is when the configuration's open circuit is probed next (zero
// when it is not open).
func (s *sched) probeAt(k cfgKey) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.confs[k]; st != nil && st.mode == modeOpen {
		return st.nextProbe
	}
	return time.Time{}
}

// digestBatch bounds the rejected items one digest round reads.
const digestBatch = 10000

// sendDigests mails each configuration's rejected items awaiting a digest
// (kept in the store: a restart neither loses nor repeats them), and drops
// those mailed. Items of a configuration that is gone or has no contact
// are dropped unmailed.
func (e *Engine) sendDigests(ctx context.Context) error {
	items, err := e.store.PendingRejected(ctx, digestBatch)
	if err != nil {
		return err
	}
	var errs []error
	for len(items) > 0 {
		k := cfgKey{items[0].Org, items[0].ConfigurationID}
		n := 1
		for n < len(items) && items[n].Org == k.org && items[n].ConfigurationID == k.id {
			n++
		}
		group := items[:n]
		items = items[n:]
		cfg, err := e.store.GetConfiguration(ctx, k.org, k.id)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			errs = append(errs, err)
			continue
		case e.opts.Alerter != nil && cfg.ContactEmail != "":
			if !e.mailDigest(ctx, cfg, group) {
				continue // kept for the next digest
			}
		}
		if err := e.store.DropRejected(ctx, group); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) mailDigest(ctx context.Context, cfg Configuration, group []PendingRejection) bool {
	log := e.log.With("org", cfg.Org, "configuration", cfg.ID)
	st, _ := e.store.GetStatus(ctx, cfg.Org, cfg.ID)
	counts, _ := e.store.CountDeliveries(ctx, cfg.Org, cfg.ID)
	rejected := make([]RejectedItem, len(group))
	for i, g := range group {
		rejected[i] = g.RejectedItem
	}
	slices.SortFunc(rejected, func(a, b RejectedItem) int { return a.At.Compare(b.At) })
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	a := Alert{Kind: AlertRejected, Configuration: cfg, Status: st, Previous: st.Status, Counts: counts, Rejected: rejected}
	if err := e.opts.Alerter.Alert(actx, a); err != nil {
		log.Warn("sending the digest of rejected items failed", "err", err)
		return false
	}
	log.Info("digest of rejected items sent", "count", len(group))
	return true
}
