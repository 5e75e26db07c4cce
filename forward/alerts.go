package forward

import (
	"context"
	"log/slog"
	"time"
)

// Alerts: status and recovery mail, and the hourly digest of rejected items,
// to a configuration's contact email.

// Alert kinds.
const (
	// AlertStatus: the configuration entered an error class, changed
	// between error classes, or is still failing 24 h after the last mail.
	AlertStatus = "status"
	// AlertRecovery: the configuration is OK again after an error alert.
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
	Status        ConfigStatus // the status after the change
	Previous      string       // the status before it
	Counts        Counts       // the configuration's deliveries by state
	NextAttempt   time.Time    // the next attempt of the failed deliveries (zero if parked)
	Rejected      []RejectedItem
}

// Alerter notifies a configuration's contact email. An error means the
// notification was not sent; the engine tries again later.
type Alerter interface {
	Alert(ctx context.Context, a Alert) error
}

// alertBackoff is how long the engine waits after a failed mail.
const alertBackoff = 5 * time.Minute

func (e *Engine) mayAlert(cfg Configuration, at time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !at.Before(e.alertRetry[cfgKey{cfg.Org, cfg.ID}])
}

func (e *Engine) sendAlert(ctx context.Context, log *slog.Logger, cfg Configuration, a Alert, at time.Time) bool {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	k := cfgKey{cfg.Org, cfg.ID}
	if err := e.opts.Alerter.Alert(actx, a); err != nil {
		log.Warn("sending an alert failed", "kind", a.Kind, "err", err)
		e.mu.Lock()
		e.alertRetry[k] = at.Add(alertBackoff)
		e.mu.Unlock()
		return false
	}
	log.Info("alert sent", "kind", a.Kind, "status", a.Status.Status)
	e.mu.Lock()
	delete(e.alertRetry, k)
	e.mu.Unlock()
	return true
}

// sendDigests mails each configuration's rejected items since the last
// digest.
func (e *Engine) sendDigests(ctx context.Context, now time.Time) {
	e.mu.Lock()
	pending := e.digest
	e.digest = make(map[cfgKey][]RejectedItem)
	e.mu.Unlock()
	if e.opts.Alerter == nil {
		return
	}
	for k, items := range pending {
		cfg, err := e.store.GetConfiguration(ctx, k.org, k.id)
		if err != nil || cfg.ContactEmail == "" {
			continue
		}
		log := e.log.With("org", k.org, "configuration", k.id)
		st, _ := e.store.GetStatus(ctx, k.org, k.id)
		counts, _ := e.store.CountDeliveries(ctx, k.org, k.id)
		a := Alert{Kind: AlertRejected, Configuration: cfg, Status: st, Previous: st.Status, Counts: counts, Rejected: items}
		if !e.sendAlert(ctx, log, cfg, a, now) {
			e.mu.Lock()
			e.digest[k] = append(items, e.digest[k]...) // next hour
			e.mu.Unlock()
		}
	}
}
