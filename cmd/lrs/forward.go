package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/email"
	"github.com/lrs-project/lrs/forward/postback"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/xapi"
	"github.com/lrs-project/lrs/lrs"
)

// ForwardConfig configures forwarding and its alert mail.
type ForwardConfig struct {
	Key      Secret // base64 32-byte key sealing destination secrets; forwarding is off without it
	Workers  int
	InFlight int
	// ProbeInterval, AlertInterval, RecoveryDelay: forward.Options.
	ProbeInterval time.Duration
	AlertInterval time.Duration
	RecoveryDelay time.Duration
	// Egress is the egress policy of destinations (AllowedNetworks parsed;
	// nil: public unicast only).
	Egress          *forward.Egress
	AllowedNetworks string
	AttemptTimeout  time.Duration
	// Lease is how long a process holds the deliveries it claimed
	// (forward.Options.Lease): after a crash, they are sent again once it
	// ends.
	Lease time.Duration
	// CleverRateShare is this process's share (0 < x ≤ 1) of each Clever
	// token's request limit: with N processes sending for the same
	// districts, each takes 1/N.
	CleverRateShare float64
	SMTPHost        string
	SMTPPort        int
	SMTPFrom        string
	SMTPUsername    string
	SMTPPassword    Secret
	// Now is forwarding's clock (clock.go: time.Now but in a test build),
	// of the engine, the administration, the obligations and the results
	// read model; nil: time.Now.
	Now func() time.Time
	// Backfill tunes the backfills on attach (forward.BackfillOptions:
	// Chunk, Pause, Lease).
	Backfill forward.BackfillOptions
}

// forwardSettings are the settings of forwarding and its alert mail
// (config.go lists them with the others).
var forwardSettings = []setting{
	{
		env: "LRS_FORWARD_KEY", secret: true,
		usage: "base64 32-byte key that seals LMS destination secrets at rest; forwarding is disabled when unset",
		apply: func(c *Config, v string) error {
			if _, err := forward.ParseKey(v); err != nil {
				return err
			}
			c.Forward.Key = Secret(v)
			return nil
		},
		show: func(c *Config) string { return c.Forward.Key.String() },
	},
	{
		flag: "forward-workers", env: "LRS_FORWARD_WORKERS", def: "8",
		usage: "sends to healthy LMS configurations in flight at once, shared in turn across organizations and configurations",
		apply: positiveInt(func(c *Config) *int { return &c.Forward.Workers }),
		show:  func(c *Config) string { return strconv.Itoa(c.Forward.Workers) },
	},
	{
		flag: "forward-in-flight", env: "LRS_FORWARD_IN_FLIGHT", def: "4",
		usage: "batches of one LMS configuration in flight at once",
		apply: positiveInt(func(c *Config) *int { return &c.Forward.InFlight }),
		show:  func(c *Config) string { return strconv.Itoa(c.Forward.InFlight) },
	},
	{
		flag: "forward-probe-interval", env: "LRS_FORWARD_PROBE_INTERVAL", def: "5m",
		usage: "longest wait between two probes of a failing LMS configuration (its queue waits meanwhile)",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.Forward.ProbeInterval }),
		show:  func(c *Config) string { return c.Forward.ProbeInterval.String() },
	},
	{
		flag: "forward-alert-interval", env: "LRS_FORWARD_ALERT_INTERVAL", def: "1h",
		usage: "least time between two status mails of an LMS configuration",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.Forward.AlertInterval }),
		show:  func(c *Config) string { return c.Forward.AlertInterval.String() },
	},
	{
		flag: "forward-recovery-delay", env: "LRS_FORWARD_RECOVERY_DELAY", def: "15m",
		usage: "how long an LMS configuration must stay OK before its recovery is mailed",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.Forward.RecoveryDelay }),
		show:  func(c *Config) string { return c.Forward.RecoveryDelay.String() },
	},
	{
		flag: "forward-allowed-networks", env: "LRS_FORWARD_ALLOWED_NETWORKS",
		usage: "networks destinations may be reached at besides public unicast addresses: comma-separated CIDRs, e.g. 127.0.0.0/8,10.0.0.0/8 (default none)",
		apply: func(c *Config, v string) error {
			e, err := forward.ParseEgress(v)
			if err != nil {
				return err
			}
			c.Forward.Egress, c.Forward.AllowedNetworks = e, e.String()
			return nil
		},
		show: func(c *Config) string { return c.Forward.AllowedNetworks },
	},
	{
		flag: "forward-attempt-timeout", env: "LRS_FORWARD_ATTEMPT_TIMEOUT", def: "30s",
		usage: "deadline of one request to a destination: connect, TLS, headers and body",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.Forward.AttemptTimeout }),
		show:  func(c *Config) string { return c.Forward.AttemptTimeout.String() },
	},
	{
		flag: "forward-lease", env: "LRS_FORWARD_LEASE", // unset: forward's default, 5m
		usage: "how long a process holds the deliveries it claimed: after a crash, another process (or the restarted one) sends them again once it ends; more than twice LRS_FORWARD_ATTEMPT_TIMEOUT, and a send is cut at half of it when it is under 4m",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.Forward.Lease }),
		show: func(c *Config) string {
			if c.Forward.Lease == 0 {
				return "5m0s" // forward.Options' default
			}
			return c.Forward.Lease.String()
		},
	},
	{
		flag: "clever-rate-share", env: "LRS_CLEVER_RATE_SHARE", def: "1",
		usage: "this process's share of each Clever district token's request limit (0 < x <= 1, a decimal or a fraction such as 1/3): with N lrs processes forwarding to Clever, set 1/N",
		apply: func(c *Config, v string) error {
			x, err := parseShare(v)
			if err != nil {
				return err
			}
			c.Forward.CleverRateShare = x
			return nil
		},
		show: func(c *Config) string { return strconv.FormatFloat(c.Forward.CleverRateShare, 'g', -1, 64) },
	},
	{
		flag: "forward-backfill-chunk", env: "LRS_FORWARD_BACKFILL_CHUNK", def: "500",
		usage: "statements (or results) one step of a backfill on attach reads and makes deliveries of",
		apply: positiveInt(func(c *Config) *int { return &c.Forward.Backfill.Chunk }),
		show:  func(c *Config) string { return strconv.Itoa(c.Forward.Backfill.Chunk) },
	},
	{
		flag: "forward-backfill-pause", env: "LRS_FORWARD_BACKFILL_PAUSE", def: "20ms",
		usage: "pause of a backfill on attach after each step, leaving the store to ingest and sends",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.Forward.Backfill.Pause }),
		show:  func(c *Config) string { return c.Forward.Backfill.Pause.String() },
	},
	{
		flag: "forward-backfill-lease", env: "LRS_FORWARD_BACKFILL_LEASE", def: "1m",
		usage: "lease of a backfill job on its process, renewed at each step: after a crash another process (or the restarted one) resumes the job once it ends",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.Forward.Backfill.Lease }),
		show:  func(c *Config) string { return c.Forward.Backfill.Lease.String() },
	},
	{
		flag: "smtp-host", env: "LRS_SMTP_HOST",
		usage: "SMTP server for alert mail to LMS configuration contacts and for account mail (invitations, password resets); unset: no mail",
		apply: func(c *Config, v string) error { c.Forward.SMTPHost = v; return nil },
		show:  func(c *Config) string { return c.Forward.SMTPHost },
	},
	{
		flag: "smtp-port", env: "LRS_SMTP_PORT",
		usage: "SMTP port (default 587; 465: implicit TLS; otherwise STARTTLS when offered)",
		apply: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 65535 {
				return fmt.Errorf("%q: want a port from 1 to 65535", v)
			}
			c.Forward.SMTPPort = n
			return nil
		},
		show: func(c *Config) string { return strconv.Itoa(c.Forward.SMTPPort) },
	},
	{
		flag: "smtp-from", env: "LRS_SMTP_FROM",
		usage: "sender address of alert and account mail",
		apply: func(c *Config, v string) error { c.Forward.SMTPFrom = v; return nil },
		show:  func(c *Config) string { return c.Forward.SMTPFrom },
	},
	{
		flag: "smtp-username", env: "LRS_SMTP_USERNAME",
		usage: "SMTP user (PLAIN authentication when set)",
		apply: func(c *Config, v string) error { c.Forward.SMTPUsername = v; return nil },
		show:  func(c *Config) string { return c.Forward.SMTPUsername },
	},
	{
		env: "LRS_SMTP_PASSWORD", secret: true,
		usage: "SMTP password",
		apply: func(c *Config, v string) error { c.Forward.SMTPPassword = Secret(v); return nil },
		show:  func(c *Config) string { return c.Forward.SMTPPassword.String() },
	},
}

// parseShare reads a share of a limit: a decimal ("0.5") or a fraction
// ("1/3"), greater than 0 and at most 1.
func parseShare(v string) (float64, error) {
	bad := fmt.Errorf("%q: want a share greater than 0 and at most 1, such as 0.5 or 1/3", v)
	num, den, frac := strings.Cut(strings.TrimSpace(v), "/")
	x, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return 0, bad
	}
	if frac {
		d, err := strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err != nil || d == 0 {
			return 0, bad
		}
		x /= d
	}
	if !(x > 0 && x <= 1) { // also refuses NaN
		return 0, bad
	}
	return x, nil
}

// forwarding is the running forwarding engine, and its backfiller.
type forwarding struct {
	engine     *forward.Engine
	done       chan struct{}
	stopFill   context.CancelFunc
	backfilled chan struct{} // closed when the backfiller stopped
}

// forwardParts are what forwarding is made of in this binary, built once
// at start: the destination types, the sealer of their secrets (nil
// without LRS_FORWARD_KEY) and the obligations, the LRS service's
// statement observer (ensured even while the engine is off: the deliveries
// wait in the queue).
type forwardParts struct {
	types       *forward.Registry
	sealer      *forward.Sealer
	obligations *forward.Obligations
	egress      *forward.Egress
	engine      *atomic.Pointer[forward.Engine] // set once the engine starts
	backfiller  *atomic.Pointer[forward.Backfiller]
	// results is the results read model, the LRS service's other
	// statement observer; it reads voided statements through statements,
	// whose service is set once the service exists.
	results    *forward.Results
	statements *laterStatements
	now        func() time.Time // ForwardConfig.Now
}

// observer is what the LRS service and the reconciler tell of stored
// statements: the deliveries they owe, then the results they change.
func (p forwardParts) observer() forward.StatementObserver {
	return forward.Observers{p.obligations, p.results}
}

// redriven tells the running engine (if any) that deliveries of a
// configuration were made due by the administration.
func (p forwardParts) redriven(org, id string) {
	if e := p.engine.Load(); e != nil {
		e.Redriven(org, id)
	}
}

// destinationTypes are the destination types this binary serves: a new
// destination is its package and one line here. Clever's destinations
// keep their assignment ids in assignments (nil where no destination is
// built: the admin CLI) and share one rate limiter per district token.
func destinationTypes(cfg ForwardConfig, assignments forward.AssignmentStore, logger *slog.Logger) (*forward.Registry, error) {
	cleverOpts := clever.Options{Egress: cfg.Egress, Timeout: cfg.AttemptTimeout, Assignments: assignments, Logger: logger,
		Limiters: clever.NewLimiters(nil, cfg.CleverRateShare)}
	return forward.NewRegistry(
		xapi.Type(xapi.Options{Timeout: cfg.AttemptTimeout, Egress: cfg.Egress}),
		postback.Type(func(c forward.Configuration, secrets map[string]string) (forward.Destination, error) {
			p, err := postback.New(c.Properties, secrets, postback.Options{Timeout: cfg.AttemptTimeout, Egress: cfg.Egress})
			if err != nil {
				return nil, err
			}
			return postback.Sink{Postback: p}, nil
		}),
		webhook.Type(webhook.TypeOptions{Timeout: cfg.AttemptTimeout, Egress: cfg.Egress, Now: cfg.Now}),
		clever.Type(func(c forward.Configuration, secrets map[string]string) (forward.Destination, error) {
			return clever.NewSink(c, secrets, cleverOpts)
		}),
	)
}

func newForwardParts(cfg Config, st store, reg prometheus.Registerer, logger *slog.Logger) (forwardParts, error) {
	logger = logger.With("component", "forward")
	types, err := destinationTypes(cfg.Forward, st, logger)
	if err != nil {
		return forwardParts{}, err
	}
	p := forwardParts{types: types, obligations: forward.NewObligations(st, logger, cfg.Forward.Now), statements: &laterStatements{},
		egress: cfg.Forward.Egress, engine: new(atomic.Pointer[forward.Engine]), backfiller: new(atomic.Pointer[forward.Backfiller])}
	p.obligations.SetSinks(types) // overwrite configurations owe one delivery per result
	p.results = forward.NewResults(st, p.statements, forward.ResultsOptions{
		Metrics: forward.NewResultMetrics(reg), Logger: logger, Now: cfg.Forward.Now,
		// Every result change (and every already-current result a call
		// met) ensures the overwrite deliveries it owes.
		OnChange: p.obligations.ResultChanged,
	})
	if cfg.Forward.Key != "" {
		key, err := forward.ParseKey(string(cfg.Forward.Key))
		if err != nil {
			return forwardParts{}, err
		}
		if p.sealer, err = forward.NewSealer(key); err != nil {
			return forwardParts{}, err
		}
	}
	p.now = cfg.Forward.Now
	return p, nil
}

// admin is the forwarding administration of the admin API.
func (p forwardParts) admin(st store) *forward.Admin {
	return forward.NewAdmin(st, p.types, forward.AdminOptions{Sealer: p.sealer, Results: p.results, Now: p.now, Invalidate: func(org string) {
		p.obligations.Invalidate(org)
		p.results.Invalidate(org)
	}, Egress: p.egress, Redriven: p.redriven, BackfillStarted: func() {
		if b := p.backfiller.Load(); b != nil {
			b.Wake()
		}
	}})
}

// startForwarding starts the engine when the key is set; it returns nil
// when forwarding is off.
func startForwarding(cfg Config, st store, svc *lrs.Service, p forwardParts, reg prometheus.Registerer, logger *slog.Logger) (*forwarding, error) {
	logger = logger.With("component", "forward")
	if p.sealer == nil {
		logger.Info("forwarding disabled: LRS_FORWARD_KEY is not set")
		return nil, nil
	}
	opts := forward.Options{Workers: cfg.Forward.Workers, InFlight: cfg.Forward.InFlight, StopTimeout: cfg.ShutdownTimeout,
		ProbeInterval: cfg.Forward.ProbeInterval, AlertInterval: cfg.Forward.AlertInterval, RecoveryDelay: cfg.Forward.RecoveryDelay,
		Lease: cfg.Forward.Lease, Now: cfg.Forward.Now}
	if l := cfg.Forward.Lease; l > 0 && l < 4*time.Minute {
		// A send (with its bisection) ends well within its lease
		// (loadConfig: the lease is more than twice the attempt timeout).
		opts.SendTimeout = l / 2
	}
	if cfg.Forward.SMTPHost != "" {
		mailer, err := email.New(email.Settings{
			Host: cfg.Forward.SMTPHost, Port: cfg.Forward.SMTPPort, From: cfg.Forward.SMTPFrom,
			Username: cfg.Forward.SMTPUsername, Password: string(cfg.Forward.SMTPPassword),
		}, logger)
		if err != nil {
			return nil, err
		}
		opts.Alerter = mailer
	} else {
		logger.Info("alert mail disabled: LRS_SMTP_HOST is not set")
	}
	engine, err := forward.New(st, lrsStatements{svc}, p.types, p.sealer.OpenConfiguration, logger,
		forward.NewMetrics(reg, p.types.Names()...), opts)
	if err != nil {
		return nil, err
	}
	bopts := cfg.Forward.Backfill
	bopts.Owner, bopts.Logger, bopts.Now = "", logger.With("part", "backfill"), cfg.Forward.Now
	backfiller, err := forward.NewBackfiller(st, lrsStatements{svc}, p.obligations, p.types, bopts)
	if err != nil {
		return nil, err
	}
	p.obligations.SetDue(engine.Due) // send new results at once
	p.engine.Store(engine)
	p.backfiller.Store(backfiller)
	fillCtx, stopFill := context.WithCancel(context.Background())
	f := &forwarding{engine: engine, done: make(chan struct{}), stopFill: stopFill, backfilled: make(chan struct{})}
	go func() {
		defer close(f.done)
		if err := engine.Run(context.Background()); err != nil {
			logger.Error("forwarding stopped", "err", err)
		}
	}()
	go func() {
		defer close(f.backfilled)
		backfiller.Run(fillCtx) // backfills on attach (forward/backfill_worker.go)
	}()
	return f, nil
}

// stop stops claiming, lets in-flight sends finish (bounded) and waits.
// Safe on nil and more than once.
func (f *forwarding) stop(timeout time.Duration) error {
	if f == nil {
		return nil
	}
	f.stopFill()
	stopped := make(chan struct{})
	go func() { f.engine.Stop(); <-f.backfilled; close(stopped) }()
	select {
	case <-stopped:
		return nil
	case <-time.After(timeout + 5*time.Second):
		return errors.New("forwarding did not stop in time")
	}
}
