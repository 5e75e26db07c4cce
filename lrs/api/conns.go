package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnLimitOptions configure LimitConnsPerClient.
type ConnLimitOptions struct {
	// PerClient is the most connections one client may hold open at once
	// (required, positive). A client is an IPv4 address or an IPv6 /64
	// network, the block one subscriber usually gets.
	PerClient int
	// Logger notes refusals, at most once a minute (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives lrs_http_connections_refused_total (nil: none).
	Registerer prometheus.Registerer
}

// refusal is the whole answer to a connection over the limit. It is sent
// before the request is read: HTTP/1.1 allows a server to answer early,
// and the client reads it as the answer to its request.
var refusal = func() []byte {
	const body = `{"error":{"code":"too_many_connections","message":"too many connections from this address"}}`
	return fmt.Appendf(nil, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"+
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

const (
	// maxRefusing bounds the refused connections being closed at once;
	// beyond it a refused connection is closed without an answer.
	maxRefusing = 64
	// refuseLinger is how long a refused connection is drained after its
	// answer, so that closing it does not reset the answer away.
	refuseLinger = 500 * time.Millisecond
)

// LimitConnsPerClient returns a listener that accepts at most PerClient
// open connections from one client; a connection over the limit gets a
// 429 and is closed, and the listener goes on accepting. Every connection
// it returns must be closed (http.Server does).
func LimitConnsPerClient(ln net.Listener, opts ConnLimitOptions) (net.Listener, error) {
	if opts.PerClient <= 0 {
		return nil, errors.New("api: ConnLimitOptions.PerClient must be positive")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &clientLimiter{Listener: ln, opts: opts, open: map[netip.Prefix]int{}, refusing: make(chan struct{}, maxRefusing)}
	if opts.Registerer != nil {
		c := prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lrs",
			Subsystem: "http",
			Name:      "connections_refused_total",
			Help:      "Connections refused because their client held too many open connections.",
		})
		if err := opts.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
		l.refused = c
	}
	return l, nil
}

type clientLimiter struct {
	net.Listener
	opts     ConnLimitOptions
	refused  prometheus.Counter // nil: not counted
	refusing chan struct{}      // a semaphore of maxRefusing

	mu      sync.Mutex
	open    map[netip.Prefix]int
	lastLog time.Time
}

// clientOf is the client a remote address belongs to.
func clientOf(addr net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}, false // not an IP connection: not limited
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

func (l *clientLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, ok := clientOf(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		l.mu.Lock()
		if l.open[client] >= l.opts.PerClient {
			l.mu.Unlock()
			l.refuse(c, client)
			continue
		}
		l.open[client]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, client: client}, nil
	}
}

func (l *clientLimiter) release(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
	}
}

// refuse answers c with the refusal and closes it, in the background
// (Accept must not wait on a client).
func (l *clientLimiter) refuse(c net.Conn, client netip.Prefix) {
	if l.refused != nil {
		l.refused.Inc()
	}
	l.mu.Lock()
	now := time.Now()
	logIt := now.Sub(l.lastLog) >= time.Minute
	if logIt {
		l.lastLog = now
	}
	l.mu.Unlock()
	if logIt {
		l.opts.Logger.Warn("refusing connections: the client holds the most allowed (LRS_MAX_CONNS_PER_CLIENT); logged at most once a minute",
			"client", client.String(), "limit", l.opts.PerClient)
	}
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseLinger))
		if _, err := c.Write(refusal); err != nil {
			return
		}
		// Half-close, then read what the client sent until it closes or
		// the linger ends: closing with unread data would reset the
		// connection, and the client could lose the answer.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
}

// limitedConn frees its client's slot when closed.
type limitedConn struct {
	net.Conn
	l      *clientLimiter
	client netip.Prefix
	once   sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.client) })
	return err
}

// CloseWrite lets http.Server half-close the connection before closing it,
// as it does with a bare TCP connection.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
