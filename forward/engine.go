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
	"sync"
	"sync/atomic"
	"time"
)

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	// Workers is how many sends to healthy configurations are in flight at
	// once, across all configurations; default 8. Sends to a configuration
	// that is not known to be healthy (its first contact, or a failing
	// destination's probe) take no worker.
	Workers int
	// InFlight is how many batches of one configuration are in flight at
	// once; default 4.
	InFlight int
	// Batch is the first batch size of a configuration; it doubles after
	// each full batch delivered, up to the destination's MaxBatch, and
	// halves when the destination answers that a batch is too large;
	// default 100.
	Batch int
	// ProbeInterval is the longest wait between two probes of a failing
	// configuration (the waits follow the retry schedule up to it);
	// default 5m.
	ProbeInterval time.Duration
	// SlowAfter is how long a send to a healthy configuration holds its
	// worker: still waiting after it, the send gives the worker back and
	// the configuration gets no other send until it ends; default 10s.
	SlowAfter time.Duration
	Lease     time.Duration // lease of claimed deliveries; default 5m
	Poll      time.Duration // how often due configurations are looked for; default 1s
	Owner     string        // lease owner; default host-pid-random
	// SendTimeout bounds one Send (a batch, with its bisection); default
	// 2m, and less than Lease.
	SendTimeout time.Duration
	// StopTimeout bounds how long in-flight sends may finish after Stop;
	// default 30s. Deliveries not sent by then are released.
	StopTimeout time.Duration
	Policy      Policy // default DefaultPolicy
	// SweepInterval is the period of the re-drive of every configuration's
	// parked deliveries; default 24h. Periods are aligned on the clock
	// (days since the epoch, by default), and one process sweeps each.
	SweepInterval time.Duration
	// DigestInterval is the period of the mail of rejected items, per
	// configuration; default 1h.
	DigestInterval time.Duration
	// AlertInterval is the least time between two status mails of a
	// configuration (a flapping destination mails once per interval);
	// default 1h.
	AlertInterval time.Duration
	// RecoveryDelay is how long a configuration must stay OK before its
	// recovery is mailed; default 15m.
	RecoveryDelay time.Duration
	// AlertRepeat is how long a status alert is not repeated while the
	// class is unchanged; default 24h.
	AlertRepeat time.Duration
	// StatsInterval is how often the queue gauges are refreshed and
	// deferred alerts are looked at; default 1m.
	StatsInterval time.Duration
	// Orgs lists the organizations whose configurations the sweep and the
	// queue gauges cover, besides those the engine has seen deliveries of;
	// default the store's ObjectiveOrgs.
	Orgs    func(ctx context.Context) ([]string, error)
	Alerter Alerter          // nil: no mail
	Now     func() time.Time // default time.Now
	Rand    func() float64   // jitter source in [0, 1); default math/rand
}

// Engine sends due deliveries to their destinations, classifies every
// outcome, persists every transition, keeps each configuration's status and
// alerts its contact.
//
// Isolation. Each configuration is scheduled on its own (sched.go): at most
// InFlight of its batches are in flight, healthy configurations share the
// Workers in turn across organizations and configurations, and one whose
// destination fails has its circuit open: only the head of its queue
// probes it, on the retry schedule (at most ProbeInterval apart), while the
// rest wait in the store without holding a worker.
type Engine struct {
	store      Store
	statements StatementGetter
	types      *Registry
	open       Opener
	log        *slog.Logger
	metrics    *Metrics
	opts       Options

	mu         sync.Mutex
	dests      map[cfgKey]cachedDest
	orgs       map[string]bool
	alertRetry map[cfgKey]time.Time // no alert attempt before this after a failed one
	alerting   map[cfgKey]bool      // a mail is being sent
	mails      sync.WaitGroup       // alerts being sent (Tick waits for them)
	hk         struct {             // housekeeping's (one caller at a time)
		sweep, digest periodic
		stats         time.Time
		empty         map[cfgKey]emptyTry // batch.go: the last send of nothing tried
	}

	s sched // the scheduler's state (sched.go), under its own lock

	slots slotHolds // batch.go: the scheduled times this process sends, or leaves to another

	running  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	wake     chan struct{} // Wake: deliveries became due; look for them now
}

// Wake makes a waiting Run look for due deliveries at once instead of at
// its next poll. It never blocks.
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
	redact   *Redactor
}

// New returns an Engine. types are the destination types it sends to;
// open decrypts a configuration's secrets.
func New(store Store, statements StatementGetter, types *Registry, open Opener, logger *slog.Logger, metrics *Metrics, opts Options) (*Engine, error) {
	if store == nil || statements == nil || types == nil || open == nil {
		return nil, errors.New("forward: New needs a store, a statement getter, the types and an opener")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&opts.Workers, 8)
	defInt(&opts.InFlight, 4)
	defInt(&opts.Batch, 100)
	def(&opts.ProbeInterval, 5*time.Minute)
	def(&opts.SlowAfter, 10*time.Second)
	def(&opts.Lease, 5*time.Minute)
	def(&opts.Poll, time.Second)
	def(&opts.SendTimeout, 2*time.Minute)
	def(&opts.StopTimeout, 30*time.Second)
	def(&opts.SweepInterval, 24*time.Hour)
	def(&opts.DigestInterval, time.Hour)
	def(&opts.AlertInterval, time.Hour)
	def(&opts.RecoveryDelay, 15*time.Minute)
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
	if opts.Orgs == nil {
		opts.Orgs = store.ObjectiveOrgs
	}
	e := &Engine{
		store: store, statements: statements, types: types, open: open,
		log: logger, metrics: metrics, opts: opts,
		dests:      make(map[cfgKey]cachedDest),
		orgs:       make(map[string]bool),
		alertRetry: make(map[cfgKey]time.Time),
		alerting:   make(map[cfgKey]bool),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
	}
	e.s.init()
	return e, nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = cryptoRead(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

var cryptoRead = crand.Read

// Run sends due deliveries until ctx is done or Stop is called. Then it
// starts no more sends, lets in-flight ones finish for up to StopTimeout,
// releases what was not sent, and returns. Run may be called once.
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
	e.log.Info("forwarding started", "owner", e.opts.Owner, "workers", e.opts.Workers, "in_flight", e.opts.InFlight)
	defer e.log.Info("forwarding stopped")

	// Housekeeping (sweeps, digests, gauges, deferred alerts) runs beside
	// the sends, so that a slow scan never delays one.
	hk := make(chan struct{})
	go func() {
		defer close(hk)
		t := time.NewTicker(e.opts.Poll)
		defer t.Stop()
		for {
			e.housekeeping(sendCtx, e.opts.Now())
			select {
			case <-ctx.Done():
				return
			case <-e.stop:
				return
			case <-t.C:
			}
		}
	}()
	defer func() { <-hk }()

	// Due deliveries are looked for beside the sends too (every Poll, at
	// once when woken or when a claim filled its batch), so that a slow
	// store query never delays a send.
	look := make(chan struct{})
	go func() {
		defer close(look)
		for {
			e.discover(sendCtx, e.opts.Now())
			e.s.signal()
			t := time.NewTimer(e.opts.Poll)
			select {
			case <-ctx.Done():
			case <-e.stop:
			case <-e.wake:
			case <-e.s.again:
			case <-t.C:
			}
			t.Stop()
			if e.stopping(ctx) {
				return
			}
		}
	}()
	defer func() { <-look }()

	for {
		if e.stopping(ctx) {
			break
		}
		now := e.opts.Now()
		e.dispatch(sendCtx, now, nil)
		wait := e.opts.Poll
		if next := e.s.nextProbe(); !next.IsZero() {
			wait = min(wait, max(next.Sub(now), time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-e.stop:
		case <-e.s.kick:
		case <-t.C:
		}
		t.Stop()
	}
	e.s.waitIdle()
	return nil
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

// Tick runs one round synchronously, on the engine's clock: housekeeping
// that is due (sweep, digests, gauges, deferred alerts), then every send
// that is due now, configuration after configuration until none is left,
// and the alerts they cause. It returns how many deliveries were claimed.
// Run does the same continuously; tests call Tick with a controlled clock.
func (e *Engine) Tick(ctx context.Context) (int, error) {
	now := e.opts.Now()
	e.housekeeping(ctx, now)
	err := e.discover(ctx, now)
	var claimed atomic.Int64
	for {
		launched := e.dispatch(ctx, now, &claimed)
		if launched == 0 && e.s.idle() {
			break
		}
		<-e.s.kick
	}
	e.mails.Wait()
	return int(claimed.Load()), err
}

// Due tells the engine that deliveries of the configurations became due
// (Obligations.SetDue): they are sent at once, without looking for them in
// the store. It never blocks.
func (e *Engine) Due(keys []ConfigKey) {
	for _, k := range keys {
		e.s.markDue(cfgKey{k.Org, k.ID})
	}
}

// Redriven tells the engine that deliveries of configuration (org, id)
// were made due by the administration (an edit, a re-drive): it forgets
// what it knew of the destination's failures and sends at once.
func (e *Engine) Redriven(org, id string) {
	e.s.reset(cfgKey{org, id})
	e.Wake()
}
