// Package fwdtest is the forwarding tests' kit: a controllable clock, a
// real downstream LRS (this module's own, in-process, on the embedded
// engine) that counts what it receives, upstream statements, and a minimal
// SMTP server.
package fwdtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// Clock is a controllable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Downstream credentials.
const (
	DownOrg    = "down"
	DownKey    = "forwarder"
	DownSecret = "s3cret-forwarder-value"
)

type credentials struct{}

func (credentials) Authenticate(_ context.Context, key, secret string) (auth.Principal, error) {
	if key != DownKey || secret != DownSecret {
		return auth.Principal{}, auth.ErrBadCredentials
	}
	return auth.Principal{
		Key: key, Org: DownOrg, Name: key, Scopes: []string{auth.ScopeAll},
		Authority: []byte(`{"objectType":"Agent","account":{"homePage":"http://downstream.example","name":"forwarder"}}`),
	}, nil
}

// Downstream is a real LRS: the api handler over lrs.Service over the
// embedded engine, on an httptest server. It counts the statements it
// accepted (200 to a POST, 204 to a PUT) by id.
type Downstream struct {
	Service *lrs.Service
	Srv     *httptest.Server
	handler http.Handler

	mu       sync.Mutex
	accepted map[string]int
	requests int
}

// NewDownstream starts a downstream LRS; wrap (optional) wraps its handler,
// e.g. to put OAuth2 in front of it.
func NewDownstream(t testing.TB, wrap func(http.Handler) http.Handler) *Downstream {
	t.Helper()
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	svc := lrs.NewService(db, lrs.ServiceOptions{})
	h, err := api.New(api.Options{
		Service:   svc,
		Documents: lrs.NewDocuments(db, nil),
		Auth:      credentials{},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &Downstream{Service: svc, accepted: map[string]int{}}
	d.handler = d.count(h)
	if wrap != nil {
		d.handler = wrap(d.handler)
	}
	d.Srv = httptest.NewServer(d.handler)
	t.Cleanup(func() {
		d.Srv.Close()
		_ = db.Close()
	})
	return d
}

// Endpoint is the xAPI base URL.
func (d *Downstream) Endpoint() string { return d.Srv.URL + "/xapi/" }

// Stop closes the server: its address refuses connections.
func (d *Downstream) Stop() { d.Srv.Close() }

// Restart serves again on the same address.
func (d *Downstream) Restart(t testing.TB) {
	t.Helper()
	addr := d.Srv.Listener.Addr().String()
	var ln net.Listener
	var err error
	for range 50 { // the port is free again as soon as the old listener closed
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(d.handler)
	srv.Listener = ln
	srv.Start()
	d.Srv = srv
	t.Cleanup(srv.Close)
}

// Accepted is how many times the downstream accepted the statement.
func (d *Downstream) Accepted(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.accepted[id]
}

// Requests is how many statement requests reached the downstream.
func (d *Downstream) Requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}

// Stored returns the statement as the downstream stored it.
func (d *Downstream) Stored(id string) (map[string]any, error) {
	raw, _, err := d.Service.GetStatement(context.Background(), DownOrg, id, false)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }

func (d *Downstream) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/statements") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.requests++
		switch {
		case r.Method == http.MethodPost && rec.status == http.StatusOK:
			var list []struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(body, &list) != nil {
				var one struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(body, &one)
				list = append(list, one)
			}
			for _, s := range list {
				d.accepted[s.ID]++
			}
		case r.Method == http.MethodPut && rec.status == http.StatusNoContent:
			d.accepted[r.URL.Query().Get("statementId")]++
		}
	})
}

// Statement returns a stored upstream statement (with stored and an
// upstream authority, which forwarding must drop).
func Statement(id, email string) []byte {
	return fmt.Appendf(nil, `{"id":%q,
"actor":{"objectType":"Agent","name":"Learner","mbox":"mailto:%s"},
"verb":{"id":"http://adlnet.gov/expapi/verbs/passed","display":{"en-US":"passed"}},
"object":{"objectType":"Activity","id":"https://lrs.example.org/objectives/42"},
"result":{"success":true,"score":{"scaled":0.92}},
"timestamp":"2026-01-01T10:00:00.000Z",
"stored":"2026-01-01T10:00:01.000Z",
"authority":{"objectType":"Agent","account":{"homePage":"http://upstream.example","name":"up"}},
"version":"1.0.0"}`, id, email)
}

// InvalidStatement has a verb without an id: any LRS rejects it with 400.
func InvalidStatement(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,
"actor":{"objectType":"Agent","mbox":"mailto:x@example.com"},
"verb":{"display":{"en-US":"passed"}},
"object":{"objectType":"Activity","id":"https://lrs.example.org/objectives/42"}}`, id)
}

// Statements is an upstream: a forward.StatementGetter over a map.
type Statements struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Put stores a statement.
func (s *Statements) Put(org, id string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[org+"/"+id] = raw
}

// GetStatement implements forward.StatementGetter.
func (s *Statements) GetStatement(_ context.Context, org, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.m[org+"/"+id]
	if !ok {
		return nil, fmt.Errorf("statement %s: %w", id, forward.ErrNotFound)
	}
	return raw, nil
}

// Mail is one message an SMTPServer received.
type Mail struct {
	From string
	To   []string
	Data string
	Auth string // the AUTH PLAIN credentials, decoded, if any
}

// SMTPServer is a minimal SMTP server: EHLO/HELO, AUTH PLAIN, MAIL, RCPT,
// DATA, RSET, NOOP, QUIT.
type SMTPServer struct {
	Host string
	Port int
	Mail chan Mail
	ln   net.Listener
}

// NewSMTPServer listens on a free local port until the test ends.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s := &SMTPServer{Host: "127.0.0.1", Port: addr.Port, Mail: make(chan Mail, 100), ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *SMTPServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	reply := func(lines ...string) {
		for _, l := range lines {
			_, _ = io.WriteString(c, l+"\r\n")
		}
	}
	reply("220 fwdtest ESMTP")
	var m Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO":
			reply("250-fwdtest", "250-AUTH PLAIN", "250 8BITMIME")
		case "HELO":
			reply("250 fwdtest")
		case "AUTH":
			f := strings.Fields(line)
			if len(f) == 3 && strings.EqualFold(f[1], "PLAIN") {
				m.Auth = decodePlain(f[2])
				reply("235 2.7.0 Authentication successful")
			} else {
				reply("504 unsupported")
			}
		case "MAIL":
			m.From = strings.Trim(strings.TrimPrefix(line[5:], "FROM:"), "<> ")
			reply("250 OK")
		case "RCPT":
			m.To = append(m.To, strings.Trim(strings.TrimPrefix(line[5:], "TO:"), "<> "))
			reply("250 OK")
		case "DATA":
			reply("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.Mail <- m
			m = Mail{Auth: m.Auth}
			reply("250 OK queued")
		case "RSET", "NOOP":
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func decodePlain(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(string(b), "\x00", "|")
}

// Wait returns the next mail, failing the test after timeout.
func (s *SMTPServer) Wait(t testing.TB, timeout time.Duration) Mail {
	t.Helper()
	select {
	case m := <-s.Mail:
		return m
	case <-time.After(timeout):
		t.Fatal("no mail arrived")
		return Mail{}
	}
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
