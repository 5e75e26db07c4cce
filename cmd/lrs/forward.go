package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/email"
	"github.com/lrs-project/lrs/forward/xapi"
	"github.com/lrs-project/lrs/lrs"
)

// ForwardConfig configures forwarding and its alert mail.
type ForwardConfig struct {
	Key          Secret // base64 32-byte key sealing destination secrets; forwarding is off without it
	Workers      int
	SMTPHost     string
	SMTPPort     int
	SMTPFrom     string
	SMTPUsername string
	SMTPPassword Secret
}

func init() {
	settings = append(settings,
		setting{
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
		setting{
			flag: "forward-workers", env: "LRS_FORWARD_WORKERS",
			usage: "LMS configurations sent to concurrently (default 4)",
			apply: positiveInt(func(c *Config) *int { return &c.Forward.Workers }),
			show:  func(c *Config) string { return strconv.Itoa(c.Forward.Workers) },
		},
		setting{
			flag: "smtp-host", env: "LRS_SMTP_HOST",
			usage: "SMTP server for alert mail to LMS configuration contacts and for account mail (invitations, password resets); unset: no mail",
			apply: func(c *Config, v string) error { c.Forward.SMTPHost = v; return nil },
			show:  func(c *Config) string { return c.Forward.SMTPHost },
		},
		setting{
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
		setting{
			flag: "smtp-from", env: "LRS_SMTP_FROM",
			usage: "sender address of alert and account mail",
			apply: func(c *Config, v string) error { c.Forward.SMTPFrom = v; return nil },
			show:  func(c *Config) string { return c.Forward.SMTPFrom },
		},
		setting{
			flag: "smtp-username", env: "LRS_SMTP_USERNAME",
			usage: "SMTP user (PLAIN authentication when set)",
			apply: func(c *Config, v string) error { c.Forward.SMTPUsername = v; return nil },
			show:  func(c *Config) string { return c.Forward.SMTPUsername },
		},
		setting{
			env: "LRS_SMTP_PASSWORD", secret: true,
			usage: "SMTP password",
			apply: func(c *Config, v string) error { c.Forward.SMTPPassword = Secret(v); return nil },
			show:  func(c *Config) string { return c.Forward.SMTPPassword.String() },
		},
	)
}

// forwarding is the running forwarding engine.
type forwarding struct {
	engine *forward.Engine
	done   chan struct{}
}

// statementGetter adapts lrs.Service to forward.StatementGetter: voided
// statements are still forwarded as stored.
type statementGetter struct{ svc *lrs.Service }

func (g statementGetter) GetStatement(ctx context.Context, org, id string) ([]byte, error) {
	raw, _, err := g.svc.GetStatement(ctx, org, id, false)
	if lrs.ErrorCode(err) == lrs.ENOTFOUND {
		raw, _, err = g.svc.GetStatement(ctx, org, id, true)
	}
	if lrs.ErrorCode(err) == lrs.ENOTFOUND {
		return nil, fmt.Errorf("%w: %v", forward.ErrNotFound, err)
	}
	return raw, err
}

// startForwarding starts the engine when the key is set and the store
// implements forward.Store; it returns nil when forwarding is off.
func startForwarding(cfg Config, st any, svc *lrs.Service, reg prometheus.Registerer, logger *slog.Logger) (*forwarding, error) {
	logger = logger.With("component", "forward")
	if cfg.Forward.Key == "" {
		logger.Info("forwarding disabled: LRS_FORWARD_KEY is not set")
		return nil, nil
	}
	fs, ok := st.(forward.Store)
	if !ok {
		logger.Warn("forwarding disabled: the store does not keep forwarding deliveries")
		return nil, nil
	}
	key, err := forward.ParseKey(string(cfg.Forward.Key))
	if err != nil {
		return nil, err
	}
	sealer, err := forward.NewSealer(key)
	if err != nil {
		return nil, err
	}
	opts := forward.Options{Workers: cfg.Forward.Workers, StopTimeout: cfg.ShutdownTimeout}
	if lister, ok := st.(interface {
		ObjectiveOrgs(context.Context) ([]string, error)
	}); ok {
		opts.Orgs = lister.ObjectiveOrgs
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
	factories := map[string]forward.Factory{forward.TypeXAPI: xapi.NewFactory(xapi.Options{})}
	engine, err := forward.New(fs, statementGetter{svc}, factories, sealer.OpenConfiguration, logger,
		forward.NewMetrics(reg, forward.TypeXAPI), opts)
	if err != nil {
		return nil, err
	}
	f := &forwarding{engine: engine, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		if err := engine.Run(context.Background()); err != nil {
			logger.Error("forwarding stopped", "err", err)
		}
	}()
	return f, nil
}

// stop stops claiming, lets in-flight sends finish (bounded) and waits.
// Safe on nil and more than once.
func (f *forwarding) stop(timeout time.Duration) error {
	if f == nil {
		return nil
	}
	stopped := make(chan struct{})
	go func() { f.engine.Stop(); close(stopped) }()
	select {
	case <-stopped:
		return nil
	case <-time.After(timeout + 5*time.Second):
		return errors.New("forwarding did not stop in time")
	}
}
