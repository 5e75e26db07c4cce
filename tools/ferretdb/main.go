// Command ferretdb-test runs an embedded FerretDB (SQLite backend) that speaks
// the MongoDB wire protocol, for the LRS test suite. It is a test tool only and
// lives in its own module so that the product's go.mod stays free of FerretDB.
//
// Usage:
//
//	ferretdb-test -dir /tmp/lrs-ferretdb [-listen 127.0.0.1:0] [-uri-file /tmp/uri]
//
// When the server accepts connections it prints exactly one line to stdout:
//
//	MONGODB_URI=mongodb://127.0.0.1:PORT/
//
// and (if -uri-file is set) writes the same URI, without the prefix, to that
// file. It runs until SIGINT or SIGTERM, then exits 0 and removes the URI file.
// FerretDB's own logs go to stderr at warn level (-log-level); telemetry is
// disabled by the embedded package, which never starts a reporter.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-test: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on (port 0 picks a free port)")
	dir := flag.String("dir", "", "SQLite data directory (required; created if missing)")
	uriFile := flag.String("uri-file", "", "if set, write the mongodb:// URI to this file once ready")
	readyTimeout := flag.Duration("ready-timeout", 30*time.Second, "how long to wait for the server to accept connections")
	logLevel := flag.String("log-level", "warn", "FerretDB log level on stderr: debug, info, warn or error (warn also dumps every error reply)")
	flag.Parse()

	if *dir == "" {
		flag.Usage()
		return errors.New("-dir is required")
	}
	if flag.NArg() != 0 {
		return fmt.Errorf("unexpected arguments: %v", flag.Args())
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}

	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return err
	}

	// FerretDB's SQLite backend wants a file: URI naming a directory, ending in '/'.
	sqliteURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(absDir) + "/", OmitHost: true}).String()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// Some FerretDB internals log through slog.Default(); keep them quiet and on stderr too.
	slog.SetDefault(logger)

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return fmt.Errorf("starting FerretDB: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// The TCP listener is bound inside ferretdb.New, so the real address
	// (with the port chosen for :0) is already known here.
	uri := f.MongoDBURI()
	u, err := url.Parse(uri)
	if err != nil {
		stop()
		<-done
		return fmt.Errorf("parsing FerretDB URI %q: %w", uri, err)
	}

	if err := waitReady(ctx, u.Host, *readyTimeout); err != nil {
		stop()
		<-done
		return err
	}

	if *uriFile != "" {
		// Write then rename so a watcher never reads a half-written file.
		tmp := *uriFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(uri+"\n"), 0o644); err != nil {
			stop()
			<-done
			return err
		}
		if err := os.Rename(tmp, *uriFile); err != nil {
			stop()
			<-done
			return err
		}
	}

	fmt.Printf("MONGODB_URI=%s\n", uri)

	err = <-done
	if *uriFile != "" {
		_ = os.Remove(*uriFile)
	}
	return err
}

// waitReady dials addr until it accepts a TCP connection or the deadline passes.
func waitReady(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("FerretDB at %s not accepting connections after %s: %v", addr, timeout, strings.TrimSpace(fmt.Sprint(lastErr)))
}
