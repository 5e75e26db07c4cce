package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
)

// rawConn is a client connection that writes requests by hand.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// exchange writes head (a request line and headers, without the blank
// line) and then partial body bytes, and reads the answer without sending
// the rest. It fails the test if no answer comes within wait.
func (c *rawConn) exchange(head, partial string, wait time.Duration) *http.Response {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, head+"\r\n\r\n"+partial); err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		c.t.Fatal(err)
	}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("no answer within %v: %v", wait, err)
	}
	if _, err := io.ReadAll(res.Body); err != nil {
		c.t.Fatalf("read the answer's body: %v", err)
	}
	res.Body.Close()
	return res
}

// closedWithin reports whether the server closes the connection within wait.
func (c *rawConn) closedWithin(wait time.Duration) bool {
	c.t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		c.t.Fatal(err)
	}
	_, err := c.br.ReadByte()
	return err == io.EOF
}

// A client without valid credentials that declares a body and sends one
// byte of it gets its 401 at once (credentials come before the body), and
// the connection is closed rather than kept waiting for the rest.
func TestRefusedBeforeTheBody(t *testing.T) {
	n := newNode(t, openPebble(t), time.Second, func(o *api.Options) { o.Slowdown.Disabled = true })
	addr := strings.TrimPrefix(n.srv.URL, "http://")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("nobody:wrong-secret"))
	tests := []struct{ name, head string }{
		{"xAPI without credentials", "POST /xapi/statements HTTP/1.1\r\nHost: lrs\r\nX-Experience-API-Version: 2.0.0\r\nContent-Type: application/json\r\nContent-Length: 100000"},
		{"xAPI with wrong credentials", "PUT /xapi/activities/state?activityId=http%3A%2F%2Fexample.com%2Fa&agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.com%22%7D&stateId=s HTTP/1.1\r\nHost: lrs\r\nAuthorization: " + basic + "\r\nX-Experience-API-Version: 2.0.0\r\nContent-Type: application/json\r\nContent-Length: 100000"},
		{"xAPI, chunked", "POST /xapi/statements HTTP/1.1\r\nHost: lrs\r\nX-Experience-API-Version: 2.0.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"},
		{"admin API with a wrong token", "POST /admin/v1/orgs HTTP/1.1\r\nHost: lrs\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\nContent-Length: 100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			partial := "{"
			if strings.Contains(tt.head, "chunked") {
				partial = "186a0\r\n{"
			}
			c := dialRaw(t, addr)
			// Without the change the answer waits for the whole body: forever here.
			if res := c.exchange(tt.head, partial, 10*time.Second); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", res.StatusCode)
			}
			if !c.closedWithin(10 * time.Second) {
				t.Error("the connection stayed open after the 401, with an unread body on it")
			}
		})
	}
	// A refusal without a body keeps the connection (browsers ask first
	// without credentials): a second request on it is answered.
	c := dialRaw(t, addr)
	const get = "GET /xapi/statements HTTP/1.1\r\nHost: lrs\r\nX-Experience-API-Version: 2.0.0"
	for i := range 2 {
		if res := c.exchange(get, "", 10*time.Second); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %d without credentials: status %d, want 401", i+1, res.StatusCode)
		}
	}
}

// slowDocuments is a document store that takes its time to write, as a
// distant database does.
type slowDocuments struct {
	lrs.DocumentStore
	delay time.Duration
}

func (s slowDocuments) PutDocument(ctx context.Context, org string, doc lrs.Document, pre lrs.Precondition) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.DocumentStore.PutDocument(ctx, org, doc, pre)
}

// The body deadline bounds how long a body may take to arrive, not how
// long the request may take once it has.
func TestBodyDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	st := openStore(t)
	e := newEnv(t, func(o *api.Options) {
		o.BodyTimeout = timeout
		o.Documents = lrs.NewDocuments(slowDocuments{st.(lrs.DocumentStore), 3 * timeout}, nil)
	})
	addr := strings.TrimPrefix(e.srv.URL, "http://")

	t.Run("a body that does not arrive closes the connection", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		basic := base64.StdEncoding.EncodeToString([]byte("writer:s-writer"))
		if _, err := io.WriteString(conn, "POST /xapi/statements HTTP/1.1\r\nHost: lrs\r\nAuthorization: Basic "+basic+
			"\r\nX-Experience-API-Version: 2.0.0\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		// Generous: the server must give up long before this.
		if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(conn) // whatever it answers, it must then close
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the connection was still open 20s after a body deadline of %v", timeout)
		}
	})

	t.Run("a slow handler after the body is not cut short", func(t *testing.T) {
		path := statePath("stateId", "slow")
		e.expect(http.StatusNoContent, req{method: "PUT", path: path, body: `{"a":1}`})
		e.expect(http.StatusOK, req{method: "GET", path: path})
	})
}
