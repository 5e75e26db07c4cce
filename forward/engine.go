package forward

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// StatementGetter returns a stored statement as stored (exact format). It
// returns an error wrapping ErrNotFound if the statement does not exist.
type StatementGetter interface {
	GetStatement(ctx context.Context, org, id string) ([]byte, error)
}

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

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	Workers    int           // configurations sent to concurrently; default 4
	Lease      time.Duration // lease of claimed deliveries; default 5m
	Poll       time.Duration // wait between claims when nothing is due; default 1s
	Owner      string        // lease owner; default host-pid-random
	ClaimLimit int           // deliveries claimed per round; default 200
	// SendTimeout bounds one Send (a batch, with its bisection); default
	// 2m, and less than Lease.
	SendTimeout time.Duration
	// StopTimeout bounds how long in-flight sends may finish after Stop;
	// default 30s. Deliveries not sent by then are released.
	StopTimeout time.Duration
	Policy      Policy // default DefaultPolicy
	// SweepInterval is how often parked deliveries of every configuration
	// are re-driven; default 24h.
	SweepInterval time.Duration
	// DigestInterval is how often rejected items are mailed, per
	// configuration; default 1h.
	DigestInterval time.Duration
	// AlertRepeat is how long a status alert is not repeated while the
	// class is unchanged; default 24h.
	AlertRepeat time.Duration
	// StatsInterval is how often the queue gauges are refreshed; default 1m.
	StatsInterval time.Duration
	// Orgs lists the organizations whose configurations the sweep and the
	// queue gauges cover, besides those the engine has seen deliveries of.
	Orgs    func(ctx context.Context) ([]string, error)
	Alerter Alerter          // nil: no mail
	Now     func() time.Time // default time.Now
	Rand    func() float64   // jitter source in [0, 1); default math/rand
}

// Engine sends due deliveries to their destinations, classifies every
// outcome, persists every transition, keeps each configuration's status and
// alerts its contact.
type Engine struct {
	store      Store
	statements StatementGetter
	factories  map[string]Factory
	open       Opener
	log        *slog.Logger
	metrics    *Metrics
	opts       Options

	mu         sync.Mutex
	dests      map[cfgKey]cachedDest
	orgs       map[string]bool
	digest     map[cfgKey][]RejectedItem
	alertRetry map[cfgKey]time.Time // no alert attempt before this after a failed one
	started    bool
	lastSweep  time.Time
	lastDigest time.Time
	lastStats  time.Time

	running  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	wake     chan struct{} // Wake: deliveries became due; claim now
}

// Wake makes a waiting Run claim at once instead of at its next poll. It
// never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

type cfgKey struct{ org, id string }

type cachedDest struct {
	revision int64
	updated  time.Time
	dest     Destination
}

// New returns an Engine. factories maps configuration types to their
// destination factories; open decrypts a configuration's secrets.
func New(store Store, statements StatementGetter, factories map[string]Factory, open Opener, logger *slog.Logger, metrics *Metrics, opts Options) (*Engine, error) {
	if store == nil || statements == nil || open == nil {
		return nil, errors.New("forward: New needs a store, a statement getter and an opener")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.ClaimLimit <= 0 {
		opts.ClaimLimit = 200
	}
	def(&opts.Lease, 5*time.Minute)
	def(&opts.Poll, time.Second)
	def(&opts.SendTimeout, 2*time.Minute)
	def(&opts.StopTimeout, 30*time.Second)
	def(&opts.SweepInterval, 24*time.Hour)
	def(&opts.DigestInterval, time.Hour)
	def(&opts.AlertRepeat, 24*time.Hour)
	def(&opts.StatsInterval, time.Minute)
	if opts.SendTimeout >= opts.Lease {
		return nil, fmt.Errorf("forward: send timeout %v must be less than the lease %v", opts.SendTimeout, opts.Lease)
	}
	if opts.Policy.Delays == nil {
		opts.Policy = DefaultPolicy
	}
	if err := opts.Policy.Validate(); err != nil {
		return nil, err
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	return &Engine{
		store: store, statements: statements, factories: factories, open: open,
		log: logger, metrics: metrics, opts: opts,
		dests:      make(map[cfgKey]cachedDest),
		orgs:       make(map[string]bool),
		digest:     make(map[cfgKey][]RejectedItem),
		alertRetry: make(map[cfgKey]time.Time),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
	}, nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = cryptoRead(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

var cryptoRead = crand.Read

// Run claims and sends due deliveries until ctx is done or Stop is called.
// Then it claims no more, lets in-flight sends finish for up to
// StopTimeout, releases what was not sent, and returns. Run may be called
// once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("forward: engine already ran")
	}
	defer close(e.done)
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	go func() {
		select {
		case <-ctx.Done():
		case <-e.stop:
		case <-sendCtx.Done():
			return
		}
		t := time.NewTimer(e.opts.StopTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelSends()
		case <-sendCtx.Done():
		}
	}()
	e.log.Info("forwarding started", "owner", e.opts.Owner, "workers", e.opts.Workers)
	defer e.log.Info("forwarding stopped")
	for {
		if e.stopping(ctx) {
			return nil
		}
		n, err := e.tick(sendCtx, ctx)
		if err != nil {
			e.log.Warn("claiming deliveries failed", "err", err)
		}
		if n == e.opts.ClaimLimit && err == nil {
			continue // more may be due
		}
		t := time.NewTimer(e.opts.Poll)
		select {
		case <-ctx.Done():
		case <-e.stop:
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (e *Engine) stopping(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-e.stop:
		return true
	default:
		return false
	}
}

// Stop makes Run return after in-flight sends finish (bounded by
// StopTimeout) and waits for it. It may be called any number of times, also
// when Run was never called.
func (e *Engine) Stop() {
	e.stopOnce.Do(func() { close(e.stop) })
	if e.running.Load() {
		<-e.done
	}
}

// Tick runs one round synchronously: housekeeping that is due (sweep,
// digests, gauges), then one claim of due deliveries, sent before it
// returns. It returns how many deliveries were claimed. Run calls it in a
// loop; tests call it with a controlled clock.
func (e *Engine) Tick(ctx context.Context) (int, error) {
	return e.tick(ctx, ctx)
}

// tick sends with sendCtx; claimCtx done means claim nothing.
func (e *Engine) tick(sendCtx, claimCtx context.Context) (int, error) {
	now := e.opts.Now()
	e.housekeeping(sendCtx, now)
	if claimCtx.Err() != nil {
		return 0, nil
	}
	ds, err := e.store.ClaimDeliveries(sendCtx, e.opts.Owner, now, e.opts.Lease, e.opts.ClaimLimit)
	if err != nil {
		return 0, fmt.Errorf("claim: %w", err)
	}
	var order []cfgKey
	groups := make(map[cfgKey][]Delivery)
	for _, d := range ds {
		k := cfgKey{d.Org, d.ConfigurationID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], d)
	}
	sem := make(chan struct{}, e.opts.Workers)
	var wg sync.WaitGroup
	for _, k := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			e.process(sendCtx, k, groups[k])
		})
	}
	wg.Wait()
	return len(ds), nil
}

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
	factory := e.factories[cfg.Type]
	if factory == nil {
		return nil, fmt.Errorf("unknown type %q", cfg.Type)
	}
	secrets, err := e.open(cfg)
	if err != nil {
		return nil, errors.New("cannot open the sealed secrets")
	}
	dest, err := factory(cfg, secrets)
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
		Outcome: r.Outcome, Status: r.Status, Response: truncate(r.Message, 1024),
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
				d.State, d.Reason, d.LastError = StateRejected, truncate(reason, 1024), truncate(reason, 1024)
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
			d.LastStatus, d.LastError = r.Status, truncate(r.Message, 1024)
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

// classOf maps an attempt's outcome to a configuration status.
func classOf(outcome string) string {
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
	s.Status, s.LastStatus, s.UpdatedAt = classOf(r.Outcome), r.Status, at
	if s.Status == StatusOK {
		s.LastSuccess, s.LastError, s.FirstFailure = at, "", time.Time{}
	} else {
		s.LastError = truncate(r.Message, 1024)
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

func (e *Engine) noteOrg(org string) {
	e.mu.Lock()
	e.orgs[org] = true
	e.mu.Unlock()
}

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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
