package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/lrs/api"
)

// A client over its connection cap gets a 429 it can read, and its next
// connection is accepted once one of its others has closed.
func TestLimitConnsPerClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	limited, err := api.LimitConnsPerClient(ln, api.ConnLimitOptions{PerClient: 2, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), ReadHeaderTimeout: time.Minute}
	go srv.Serve(limited)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	get := func(conn net.Conn) (*http.Response, string, error) {
		t.Helper()
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: lrs\r\n\r\n"); err != nil {
			return nil, "", err
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, string(b), err
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	first, second := dial(), dial()
	for i, c := range []net.Conn{first, second} {
		if res, body, err := get(c); err != nil || res.StatusCode != 200 || body != "ok" {
			t.Fatalf("connection %d within the cap: %v %v %q", i+1, res, err, body)
		}
	}
	res, body, err := get(dial())
	if err != nil {
		t.Fatalf("the connection over the cap got no readable answer: %v", err)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !res.Close ||
		json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "too_many_connections" {
		t.Errorf("over the cap: %d %v %q, want a 429 with Retry-After, Connection: close and a JSON error", res.StatusCode, res.Header, body)
	}
	if got := counterValue(t, reg, "lrs_http_connections_refused_total"); got != 1 {
		t.Errorf("lrs_http_connections_refused_total = %v, want 1", got)
	}

	// The slot of a closed connection is freed (the server notices the
	// close in the background: poll).
	first.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, _, err := get(dial())
		if err == nil && res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted 10s after one of the client's closed: %v %v", res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
