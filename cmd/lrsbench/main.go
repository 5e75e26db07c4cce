// Command lrsbench is a load generator for the LRS's xAPI HTTP API.
//
// It POSTs generated statements (optionally in batches) and then runs a mix
// of statement queries by agent, verb, activity and registration, and
// prints throughput and latency percentiles per operation:
//
//	lrsbench -url http://127.0.0.1:8080/xapi -key K -secret S -n 100000 -batch 100 -c 8
//
// The url, key and secret fall back to LRSBENCH_URL, LRSBENCH_KEY and
// LRSBENCH_SECRET. The exit status is non-zero when any request failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "lrsbench:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage error")

// config holds the parsed flags.
type config struct {
	url, key, secret, metrics, ids           string
	n, batch, c                              int
	queries, qc, warmup                      int
	agents, activities, verbs, registrations int
	seed                                     uint64
	skipPost, json                           bool
	timeout, settle                          time.Duration
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("lrsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", getenv("LRSBENCH_URL"), "xAPI base URL, e.g. http://127.0.0.1:8080/xapi (env LRSBENCH_URL)")
	fs.StringVar(&cfg.key, "key", getenv("LRSBENCH_KEY"), "HTTP Basic key (env LRSBENCH_KEY)")
	fs.StringVar(&cfg.secret, "secret", getenv("LRSBENCH_SECRET"), "HTTP Basic secret (env LRSBENCH_SECRET)")
	fs.IntVar(&cfg.n, "n", 100000, "total statements to POST")
	fs.IntVar(&cfg.batch, "batch", 100, "statements per POST (1 = single statement POSTs)")
	fs.IntVar(&cfg.c, "c", 8, "POST concurrency")
	fs.IntVar(&cfg.queries, "queries", 2000, "GET queries in the query phase")
	fs.IntVar(&cfg.qc, "qc", 8, "query concurrency")
	fs.IntVar(&cfg.warmup, "warmup", 100, "warm-up queries before the query phase (not counted)")
	fs.IntVar(&cfg.agents, "agents", 10000, "agent pool size")
	fs.IntVar(&cfg.activities, "activities", 2000, "activity pool size")
	fs.IntVar(&cfg.verbs, "verbs", 20, "verb pool size")
	fs.IntVar(&cfg.registrations, "registrations", 50000, "registration pool size")
	fs.Uint64Var(&cfg.seed, "seed", 0, "random seed for statement ids and draws (0 = pick one from the clock)")
	fs.StringVar(&cfg.ids, "ids", "client", "statement ids: client (each statement carries one) or lrs (the LRS assigns them)")
	fs.StringVar(&cfg.metrics, "metrics", "", "the LRS's Prometheus endpoint, read for its process CPU and memory (default: /metrics at the -url origin; off: none)")
	fs.BoolVar(&cfg.skipPost, "skip-post", false, "skip the POST phase, only query")
	fs.BoolVar(&cfg.json, "json", false, "also print the results as JSON")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "per-request timeout")
	fs.DurationVar(&cfg.settle, "settle", 0, "after the POST phase, wait up to this long for the server to go idle (its storage engine's compactions done) and also report its CPU per statement with that work (0: do not wait)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "lrsbench:", err)
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	return cfg, nil
}

func (cfg *config) validate() error {
	if cfg.url == "" {
		return errors.New("-url (or LRSBENCH_URL) is required")
	}
	for _, f := range []struct {
		name   string
		v, min int
	}{
		{"n", cfg.n, 0}, {"batch", cfg.batch, 1}, {"c", cfg.c, 1},
		{"queries", cfg.queries, 0}, {"qc", cfg.qc, 1}, {"warmup", cfg.warmup, 0},
		{"agents", cfg.agents, 1}, {"activities", cfg.activities, 1},
		{"verbs", cfg.verbs, 1}, {"registrations", cfg.registrations, 1},
	} {
		if f.v < f.min {
			return fmt.Errorf("-%s must be >= %d, got %d", f.name, f.min, f.v)
		}
	}
	if cfg.timeout <= 0 {
		return errors.New("-timeout must be positive")
	}
	if cfg.settle < 0 {
		return errors.New("-settle must not be negative")
	}
	if cfg.ids != "client" && cfg.ids != "lrs" {
		return fmt.Errorf("-ids must be client or lrs, got %q", cfg.ids)
	}
	if cfg.metrics == "" {
		m, err := metricsURL(cfg.url)
		if err != nil {
			return err
		}
		cfg.metrics = m
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	p := newPools(cfg.agents, cfg.activities, cfg.verbs, cfg.registrations)
	b := newBench(cfg, p, stderr)
	defer b.client.CloseIdleConnections()

	fmt.Fprintf(stdout, "lrsbench: url=%s seed=%d n=%d batch=%d c=%d ids=%s queries=%d qc=%d warmup=%d\n",
		b.base, cfg.seed, cfg.n, cfg.batch, cfg.c, cfg.ids, cfg.queries, cfg.qc, cfg.warmup)

	if err := b.preflight(ctx); err != nil {
		return err
	}

	var rows []opResult
	var server []*serverResult
	if !cfg.skipPost && cfg.n > 0 {
		w := b.watchServer(ctx)
		r := b.postPhase(ctx)
		rows = append(rows, r)
		post := w.end(ctx, "post", r.Statements)
		server = append(server, post)
		if cfg.settle > 0 && post != nil {
			server = append(server, b.settleServer(ctx, w, post, r.Statements, cfg.settle))
		}
	}
	if ctx.Err() == nil && cfg.queries > 0 {
		b.warmupPhase(ctx)
		w := b.watchServer(ctx)
		rows = append(rows, b.queryPhase(ctx)...)
		server = append(server, w.end(ctx, "query", 0))
	}

	fmt.Fprintln(stdout)
	if err := printTable(stdout, rows); err != nil {
		return err
	}
	printServer(stdout, server)
	if cfg.json {
		fmt.Fprintln(stdout)
		rep := report{Config: cfg.asMap(), Operations: rows}
		for _, s := range server {
			if s != nil {
				rep.Server = append(rep.Server, *s)
			}
		}
		if err := printJSON(stdout, rep); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	failed, total := 0, 0
	for _, r := range rows {
		failed += r.Errors
		total += r.Count
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed", failed, total)
	}
	return nil
}

func (cfg *config) asMap() map[string]any {
	return map[string]any{
		"url": cfg.url, "n": cfg.n, "batch": cfg.batch, "c": cfg.c,
		"queries": cfg.queries, "qc": cfg.qc, "warmup": cfg.warmup,
		"agents": cfg.agents, "activities": cfg.activities, "verbs": cfg.verbs,
		"registrations": cfg.registrations, "seed": cfg.seed, "skip_post": cfg.skipPost, "ids": cfg.ids,
		"settle_s": cfg.settle.Seconds(),
	}
}
