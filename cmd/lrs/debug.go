package main

import (
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// debugAddr validates LRS_DEBUG_ADDR: host:port, where an empty host means
// the loopback interface, so profiles are not exposed by accident.
func debugAddr(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%q: port must be a number from 0 to 65535", v)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// debugHandler serves net/http/pprof under /debug/pprof/ and expvar at
// /debug/vars. It is only ever served on the debug listener, never on the
// xAPI one.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}

// debugServer is the running debug listener.
type debugServer struct {
	ln  net.Listener
	srv *http.Server
}

// startDebug listens on addr and serves debugHandler; nil when addr is "".
func startDebug(addr string, logger *slog.Logger) (*debugServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	d := &debugServer{ln: ln, srv: &http.Server{
		Handler:           debugHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: a CPU profile or trace streams for as long as
		// its seconds parameter asks.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}
	go func() {
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("debug listener failed", "err", err)
		}
	}()
	logger.Info("serving profiles and expvar", "addr", ln.Addr().String(), "paths", "/debug/pprof/, /debug/vars")
	return d, nil
}

// stop closes the debug listener and its connections (profiles in flight
// are cut off). Nil-safe.
func (d *debugServer) stop() {
	if d == nil {
		return
	}
	_ = d.srv.Close()
}
