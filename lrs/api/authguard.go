package api

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// SlowdownOptions tune how repeated authentication failures from one
// client (remote IP address, not X-Forwarded-For, which a client sets
// itself) are slowed down: once a client has failed After times within
// Window, each further failure is answered only after Delay times the
// failures beyond After, at most MaxDelay. Successful requests are never
// delayed. Zero fields take the defaults (5, 1 minute, 1 s, 5 s).
type SlowdownOptions struct {
	After    int
	Window   time.Duration
	Delay    time.Duration
	MaxDelay time.Duration
	// Disabled turns the slowdown off (failures are still counted).
	Disabled bool
}

const maxTrackedClients = 100_000

// authGuard counts failed authentications per reason and per client.
type authGuard struct {
	opts     SlowdownOptions
	failures *prometheus.CounterVec // nil: not counted
	now      func() time.Time

	mu      sync.Mutex
	clients map[string]*clientFailures
}

type clientFailures struct {
	n     int
	start time.Time
}

func newAuthGuard(opts SlowdownOptions, reg prometheus.Registerer) (*authGuard, error) {
	if opts.After <= 0 {
		opts.After = 5
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	if opts.Delay <= 0 {
		opts.Delay = time.Second
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 5 * time.Second
	}
	g := &authGuard{opts: opts, now: time.Now, clients: map[string]*clientFailures{}}
	if reg != nil {
		cv, err := registerCounterVec(reg, prometheus.CounterOpts{
			Namespace: "lrs",
			Subsystem: "auth",
			Name:      "failures_total",
			Help:      "Failed authentications, by reason (missing, unknown_key, wrong_secret, revoked, expired, invalid_token, token_expired, admin_token).",
		}, "reason")
		if err != nil {
			return nil, err
		}
		g.failures = cv
	}
	return g, nil
}

// registerCounterVec registers a counter vector, or returns the one
// already registered under the same name.
func registerCounterVec(reg prometheus.Registerer, opts prometheus.CounterOpts, labels ...string) (*prometheus.CounterVec, error) {
	cv := prometheus.NewCounterVec(opts, labels)
	if err := reg.Register(cv); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	return cv, nil
}

// fail records a failed authentication of the request's client and, if
// the client has failed too often lately, waits before returning (or
// until the request is cancelled).
func (g *authGuard) fail(c *gin.Context, reason string) {
	// Credentials are checked before the body is read: whatever is left of
	// it is not awaited. Deferred past the delay, because a read deadline in
	// the past also cancels the request's context once its body was read
	// (the token endpoint reads its form first).
	defer closeUnreadBody(c)
	if g.failures != nil {
		g.failures.WithLabelValues(reason).Inc()
	}
	if reason == "missing" {
		return // clients (browsers) ask without credentials first: not an attack
	}
	d := g.record(c.RemoteIP())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.Request.Context().Done():
	}
}

// record counts a failure of client and returns the delay it has earned.
func (g *authGuard) record(client string) time.Duration {
	if g.opts.Disabled {
		return 0
	}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.clients[client]
	if f == nil || now.Sub(f.start) >= g.opts.Window {
		if f == nil && len(g.clients) >= maxTrackedClients {
			g.purge(now)
		}
		f = &clientFailures{start: now}
		g.clients[client] = f
	}
	f.n++
	over := f.n - g.opts.After
	if over <= 0 {
		return 0
	}
	return min(time.Duration(over)*g.opts.Delay, g.opts.MaxDelay)
}

// purge drops the clients whose window is over; if none was, it forgets
// every client (a flood of addresses must not grow the map without bound).
// g.mu is held.
func (g *authGuard) purge(now time.Time) {
	for k, f := range g.clients {
		if now.Sub(f.start) >= g.opts.Window {
			delete(g.clients, k)
		}
	}
	if len(g.clients) >= maxTrackedClients {
		clear(g.clients)
	}
}
