package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// slowConn is a connection that sends part of a request and then only a
// byte now and then, as a slowloris client does.
type slowConn struct {
	conn net.Conn
	mu   sync.Mutex
	done bool          // the server closed it
	got  []byte        // what the server answered before closing
	err  error         // how reading ended
	end  chan struct{} // closed when reading ended
}

// dialFrom connects to addr from the local address ip (any 127.0.0.0/8
// address is the loopback interface on Linux).
func dialFrom(ip, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return d.Dial("tcp", addr)
}

// TestSlowClientsDoNotHoldTheServer holds 300 slow connections open (half
// never finish their headers, half declare a body and send one byte of it,
// with valid credentials) while a normal client stores and reads
// statements; every slow connection is then closed by the server at its
// deadline, however it trickles bytes, and one more connection than the
// cap from one address is refused with a 429.
func TestSlowClientsDoNotHoldTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	if _, err := dialFrom("127.0.0.2", "127.0.0.1:1"); err != nil && strings.Contains(err.Error(), "assign requested address") {
		t.Skip("127.0.0.2 is not a local address here")
	}
	const (
		key, secret = "slow-key", "slow-secret-0123456789abcdef"
		addresses   = 6
		perAddress  = 50 // the cap: 300 in all
		deadline    = 5 * time.Second
	)
	p := startLRS(t,
		"LRS_DATA_DIR="+t.TempDir(),
		"LRS_BOOTSTRAP_KEY="+key, "LRS_BOOTSTRAP_SECRET="+secret,
		"LRS_READ_HEADER_TIMEOUT="+deadline.String(), "LRS_READ_BODY_TIMEOUT="+deadline.String(),
		fmt.Sprintf("LRS_MAX_CONNS_PER_CLIENT=%d", perAddress),
	)
	addr := strings.TrimPrefix(p.base, "http://")
	basic := base64.StdEncoding.EncodeToString([]byte(key + ":" + secret))
	slowHeaders := "POST /xapi/statements HTTP/1.1\r\nHost: lrs\r\nX-Pad: "
	slowBody := "POST /xapi/statements HTTP/1.1\r\nHost: lrs\r\nAuthorization: Basic " + basic +
		"\r\nX-Experience-API-Version: 2.0.0\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n["

	var slow []*slowConn
	t.Cleanup(func() {
		for _, s := range slow {
			s.conn.Close()
		}
	})
	opened := time.Now()
	for a := range addresses {
		ip := fmt.Sprintf("127.0.0.%d", a+2)
		for i := range perAddress {
			c, err := dialFrom(ip, addr)
			if err != nil {
				t.Fatalf("slow connection %d from %s: %v", i, ip, err)
			}
			s := &slowConn{conn: c, end: make(chan struct{})}
			slow = append(slow, s)
			start := slowHeaders
			if i%2 == 1 {
				start = slowBody
			}
			if _, err := io.WriteString(c, start); err != nil {
				t.Fatalf("slow connection %d from %s: %v", i, ip, err)
			}
			go func() {
				defer close(s.end)
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
				got, err := io.ReadAll(c)
				s.mu.Lock()
				s.done, s.got, s.err = true, got, err
				s.mu.Unlock()
			}()
		}
	}
	// They trickle a byte each every 500ms: absolute deadlines still close them.
	stopTrickle := make(chan struct{})
	defer close(stopTrickle)
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
			}
			for _, s := range slow {
				_, _ = s.conn.Write([]byte("1"))
			}
		}
	}()

	// One more connection from an address at its cap is refused, readably.
	extra, err := dialFrom("127.0.0.2", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = extra.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(extra, "GET /xapi/about HTTP/1.1\r\nHost: lrs\r\n\r\n")
	answer, _ := io.ReadAll(extra)
	extra.Close()
	if !strings.HasPrefix(string(answer), "HTTP/1.1 429 ") || !strings.Contains(string(answer), "too_many_connections") {
		t.Errorf("a connection over the cap of %d from one address was answered %q, want a 429", perAddress, answer)
	}

	// A normal client is served meanwhile, correctly; its bounds are generous.
	c := &client{t: t, base: p.base + "/xapi", key: key, secret: secret, version: "2.0.0"}
	for i := range 10 {
		id := uuid.NewString()
		start := time.Now()
		c.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+id, e2eStatement("", fmt.Sprintf("ann%d@example.com", i), "attempted", "slow"))
		got := decodeStatement(t, c.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+id, nil).body)
		if got["id"] != id {
			t.Fatalf("GET statement %s answered statement %v", id, got["id"])
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("a PUT and a GET beside 300 slow connections took %v", d)
		}
	}
	// All 300 were still held while it was served.
	if held := time.Since(opened); held < deadline {
		open := 0
		for _, s := range slow {
			s.mu.Lock()
			if !s.done {
				open++
			}
			s.mu.Unlock()
		}
		if open != len(slow) {
			t.Errorf("%d of %d slow connections were open while the normal client was served, want all", open, len(slow))
		}
	} else {
		t.Logf("the normal client took %v, longer than the deadline: not checked that the slow connections were open meanwhile", held)
	}

	// Every slow connection is closed by the server, well within a generous
	// bound of its deadline (not by the client's 2-minute read deadline).
	for i, s := range slow {
		select {
		case <-s.end:
		case <-time.After(time.Until(opened.Add(60 * time.Second))):
			t.Fatalf("slow connection %d still open 60s after it was opened (deadline %v)", i, deadline)
		}
		s.mu.Lock()
		err, got := s.err, string(s.got)
		s.mu.Unlock()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow connection %d was not closed by the server", i)
		}
		if i%2 == 1 && !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Errorf("slow body %d: the server answered %q before closing, want a 400", i, got)
		}
	}
	t.Logf("300 slow connections closed by the server %v after they were opened (deadline %v)", time.Since(opened).Round(100*time.Millisecond), deadline)

	// Their slots are free again: the same addresses are served.
	for a := range addresses {
		ip := fmt.Sprintf("127.0.0.%d", a+2)
		waitUntil(t, 10*time.Second, ip+" served again after its slow connections closed", func() bool {
			conn, err := dialFrom(ip, addr)
			if err != nil {
				return false
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(conn, "GET /xapi/about HTTP/1.1\r\nHost: lrs\r\nConnection: close\r\n\r\n")
			answer, _ := io.ReadAll(conn)
			return strings.HasPrefix(string(answer), "HTTP/1.1 200 ")
		})
	}
	select {
	case <-p.exited:
		t.Fatalf("lrs exited:\n%s", p.out())
	default:
	}
	if strings.Contains(p.out(), "panic") {
		t.Errorf("lrs panicked:\n%s", p.out())
	}
}

// waitUntil polls cond every 50ms until it holds, failing the test after
// timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
