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

// Redriven tells the engine that deliveries of configuration (org, id)
// were made due by the administration (an edit, a re-drive): it forgets
// what it knew of the destination's failures and sends at once.
func (e *Engine) Redriven(org, id string) {
	e.Wake()
}

type cfgKey struct{ org, id string }

type cachedDest struct {
	revision int64
	updated  time.Time
	dest     Destination
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
	if opts.Orgs == nil {
		opts.Orgs = store.ObjectiveOrgs
	}
	return &Engine{
		store: store, statements: statements, types: types, open: open,
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
