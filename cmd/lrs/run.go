package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
)

// run is the whole program: it reads args and the environment, serves until
// ctx is done, then shuts down gracefully. A *ConfigError means the
// configuration or command line is invalid.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(ctx, args[1:], getenv, stdout, stderr)
	}
	cmd, flags, err := parseArgs(args)
	if err != nil {
		return err
	}
	switch {
	case cmd.help:
		printUsage(stdout)
		return nil
	case cmd.probe != "":
		return probe(ctx, cmd.probe)
	}
	cfg, err := loadConfig(getenv, flags)
	if err != nil {
		return err
	}
	if cmd.checkConfig {
		fmt.Fprintln(stdout, "configuration is valid:")
		printConfig(stdout, &cfg)
		return nil
	}

	logger := newLogger(cfg, stderr)
	now, note, err := forwardClock(getenv) // clock.go: the real clock in a release build
	if err != nil {
		return &ConfigError{err}
	}
	if note != "" {
		logger.Warn(note)
	}
	cfg.Forward.Now = now
	a := &app{cfg: cfg, logger: logger, stdout: stdout, open: openStore}
	if err := a.start(ctx); err != nil {
		return errors.Join(err, a.stop())
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err = <-a.serveErr:
		logger.Error("server failed", "err", err)
	}
	return errors.Join(err, a.stop())
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// probe GETs url and succeeds on status 200 (the container healthcheck).
func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("probe: %s answered %s", url, res.Status)
	}
	return nil
}

// app is the running server: the store, the listener and the HTTP server.
// start and stop may each be called any number of times; only the first
// call acts.
type app struct {
	cfg    Config
	logger *slog.Logger
	stdout io.Writer
	open   func(Config, *slog.Logger) (store, error) // openStore

	startOnce, stopOnce sync.Once
	startErr, stopErr   error

	store      store
	ln         net.Listener
	srv        *http.Server
	serveErr   chan error   // receives the error if Serve fails
	forward    *forwarding  // the forwarding engine; nil when off
	debug      *debugServer // pprof and expvar; nil when off
	reconciler *reconciling // the forwarding reconciler; nil when off
}

func (a *app) start(ctx context.Context) error {
	a.startOnce.Do(func() { a.startErr = a.doStart(ctx) })
	return a.startErr
}

func (a *app) doStart(ctx context.Context) error {
	cfg := a.cfg
	st, err := a.open(cfg, a.logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	a.store = st

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	metrics := lrs.NewMetrics(reg)
	fwd, err := newForwardParts(cfg, st, reg, a.logger) // forward.go
	if err != nil {
		return fmt.Errorf("forwarding: %w", err)
	}
	svc := lrs.NewService(st, lrs.ServiceOptions{
		MaxLimit: cfg.MaxLimit, Metrics: metrics, Activities: st, Agents: st, Attachments: st, Clock: st.Clock(),
		Observer: observer{fwd.observer()}, // deliveries and results are durable before a POST is answered
		Counts:   st,                       // statements per day, for the console
	})
	fwd.statements.set(svc)
	a.reconciler = startReconciler(st, svc, fwd.observer(), a.logger)
	authn := auth.NewAuthenticator(st, auth.AuthenticatorOptions{})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.ln = ln
	if cfg.MaxConnsPerClient > 0 {
		limited, err := api.LimitConnsPerClient(ln, api.ConnLimitOptions{PerClient: cfg.MaxConnsPerClient, Logger: a.logger, Registerer: reg})
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		a.ln, ln = limited, limited
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = derivePublicURL(ln.Addr())
	}

	if err := bootstrapOrg(ctx, st); err != nil {
		return fmt.Errorf("bootstrap organization: %w", err)
	}
	banner, err := bootstrap(ctx, st, cfg, publicURL, a.logger)
	if err != nil {
		return fmt.Errorf("bootstrap credential: %w", err)
	}

	tokenKey, err := auth.LoadTokenKey(ctx, st)
	if err != nil {
		return fmt.Errorf("token signing key: %w", err)
	}
	tokens, err := auth.NewTokens(authn, tokenKey, auth.TokenOptions{TTL: cfg.TokenTTL})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}

	adminOpts := a.adminOptions(st, authn, publicURL)
	if adminOpts != nil {
		adminOpts.Forward = fwd.admin(st)
		if err := a.identity(ctx, st, adminOpts, publicURL); err != nil { // accounts.go
			return fmt.Errorf("accounts: %w", err)
		}
	}
	handler, err := api.New(api.Options{
		Service:        svc,
		Documents:      lrs.NewDocuments(st, nil),
		Auth:           authn,
		Tokens:         tokens,
		Root:           cfg.XAPIRoot,
		Logger:         a.logger,
		Registerer:     reg,
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Ready:          st.Ping,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		MaxBatch:       cfg.MaxBatch,
		Versions:       cfg.XAPIVersions,
		Admin:          adminOpts,
		BodyTimeout:    cfg.ReadBodyTimeout,
	})
	if err != nil {
		return fmt.Errorf("http handler: %w", err)
	}
	a.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}

	if a.forward, err = startForwarding(cfg, st, svc, fwd, reg, a.logger); err != nil {
		return fmt.Errorf("forwarding: %w", err)
	}

	if a.debug, err = startDebug(cfg.DebugAddr, a.logger); err != nil {
		return err
	}

	endpoint := publicURL + cfg.XAPIRoot + "/"
	fmt.Fprintf(a.stdout, "xAPI endpoint: %s\n", endpoint)
	fmt.Fprintf(a.stdout, "OAuth 2.0 token URL: %s\n", publicURL+api.TokenPath)
	if adminOpts != nil && adminOpts.Identity != nil {
		fmt.Fprintf(a.stdout, "console: %s/console/\n", publicURL)
	}
	for _, line := range banner {
		fmt.Fprintln(a.stdout, line)
	}
	fmt.Fprintf(a.stdout, "listening on %s\n", ln.Addr())
	if a.debug != nil {
		fmt.Fprintf(a.stdout, "debug listening on %s\n", a.debug.ln.Addr())
	}
	a.logger.Info("serving", "addr", ln.Addr().String(), "endpoint", endpoint, "store", storeName(cfg))

	a.serveErr = make(chan error, 1)
	go func() {
		if err := a.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.serveErr <- err
		}
	}()
	return nil
}

// stop drains HTTP requests for up to the shutdown timeout, then closes the
// store. It undoes as much of a failed start as happened.
func (a *app) stop() error {
	a.stopOnce.Do(func() { a.stopErr = a.doStop() })
	return a.stopErr
}

func (a *app) doStop() error {
	var errs []error
	switch {
	case a.srv != nil:
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		if err := a.srv.Shutdown(ctx); err != nil {
			a.logger.Warn("requests still in flight at the shutdown timeout; closing their connections", "err", err)
			_ = a.srv.Close()
		}
	case a.ln != nil:
		_ = a.ln.Close()
	}
	a.debug.stop()
	// The reconciler, then the engine, stop before the store closes.
	a.reconciler.stop()
	if err := a.forward.stop(a.cfg.ShutdownTimeout); err != nil { // before the store closes
		errs = append(errs, err)
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	if a.srv != nil && len(errs) == 0 {
		a.logger.Info("stopped")
	}
	return errors.Join(errs...)
}

// derivePublicURL is http://HOST:PORT for the listener, with localhost
// standing in for a wildcard host.
func derivePublicURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// bootstrap creates the first credential when the store has none: from
// LRS_BOOTSTRAP_KEY/SECRET if set, else generated. It returns the lines to
// print: the key, and the secret only if it was generated. Nothing is
// printed once the store holds a credential.
func bootstrap(ctx context.Context, st auth.CredentialStore, cfg Config, publicURL string, logger *slog.Logger) ([]string, error) {
	n, err := st.CountCredentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("count credentials: %w", err)
	}
	if n > 0 {
		if cfg.BootstrapKey != "" {
			logger.Info("the store already has credentials; LRS_BOOTSTRAP_KEY and LRS_BOOTSTRAP_SECRET are not used")
		}
		return nil, nil
	}
	const org, name = auth.DefaultOrg, "bootstrap"
	scopes := []string{auth.ScopeAll}
	var (
		cred   auth.Credential
		secret string // non-empty only if generated
	)
	if cfg.BootstrapKey != "" {
		cred, err = auth.CredentialWithSecret(org, name, cfg.BootstrapKey, string(cfg.BootstrapSecret), scopes, auth.DefaultAuthority(cfg.BootstrapKey, publicURL))
	} else {
		cred, secret, err = auth.NewCredential(org, name, scopes, nil)
		cred.Authority = auth.DefaultAuthority(cred.Key, publicURL)
	}
	if err != nil {
		return nil, err
	}
	if err := st.CreateCredential(ctx, cred); err != nil {
		if errors.Is(err, auth.ErrKeyTaken) && secret == "" {
			// Another replica created the same bootstrap credential first.
			return nil, nil
		}
		return nil, fmt.Errorf("create credential: %w", err)
	}
	logger.Info("created the bootstrap credential", "key", cred.Key, "generated", secret != "")
	lines := []string{"key:    " + cred.Key}
	if secret != "" {
		lines = append(lines, "secret: "+secret)
	}
	return lines, nil
}

// storeName describes the store in logs, without secrets.
func storeName(cfg Config) string {
	if cfg.MongoURI != "" {
		return "mongodb (database " + cfg.MongoDatabase + ")"
	}
	return "embedded (" + cfg.DataDir + ")"
}
