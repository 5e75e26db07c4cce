package forward_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

func TestEgressAllowsPublicUnicastOnly(t *testing.T) {
	var def *forward.Egress
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "224.0.0.1": false, "255.255.255.255": false, "192.0.2.1": false,
		"::ffff:127.0.0.1": false, "::ffff:169.254.169.254": false, "64:ff9b::a00:1": false, "2002:7f00:1::": false,
		"240.0.0.1": false, "198.18.0.1": false,
	} {
		if got, why := def.Allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("default policy: %s allowed = %v (%s), want %v", addr, got, why, want)
		}
	}
	open := forward.MustEgress("127.0.0.0/8, 10.0.0.0/8,fd00::1")
	for addr, want := range map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.1": true, "10.9.9.9": true, "fd00::1": true,
		"fd00::2": false, "192.168.1.1": false, "169.254.169.254": false, "8.8.8.8": true} {
		if got, _ := open.Allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %s allowed = %v, want %v", open, addr, got, want)
		}
	}
	if _, err := forward.ParseEgress("10.0.0.0/8,nope,300.1.1.1/8"); err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), `"300.1.1.1/8"`) {
		t.Errorf("ParseEgress of bad networks: %v", err)
	}
}

func TestEgressCheckURLAtSave(t *testing.T) {
	ctx := context.Background()
	var def *forward.Egress
	for raw, want := range map[string]string{
		"https://93.184.215.14/xapi/":        "",
		"https://lms.invalid/xapi/":          "", // does not resolve now: checked when connecting
		"http://127.0.0.1:8080/xapi/":        "127.0.0.1 is a loopback address",
		"http://169.254.169.254/latest/":     "a link-local address",
		"http://[::1]/":                      "::1 is a loopback address",
		"http://[::ffff:10.0.0.1]/":          "10.0.0.1 is a private address",
		"http://2130706433/":                 "non-standard notation",
		"http://0x7f.1/":                     "non-standard notation",
		"http://017700000001/":               "non-standard notation",
		"http://127.1/":                      "non-standard notation",
		"https://user:pass@lms.example.com/": "must not carry a user name or password",
		"https://key@lms.example.com/":       "must not carry a user name or password",
		"ftp://lms.example.com/":             "want an absolute http(s) URL",
		"/relative":                          "want an absolute http(s) URL",
		"http://localhost:9/":                "resolves to",
		"https://lms.example.com:99999/":     "want 1 to 65535",
	} {
		err := def.CheckURL(ctx, raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want it accepted", raw, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckURL(%q) = %v, want an error with %q", raw, err, want)
		}
	}
	if err := forward.MustEgress("127.0.0.0/8,::1/128").CheckURL(ctx, "http://localhost:9/"); err != nil {
		t.Errorf("localhost with loopback allowed: %v", err)
	}
}

// The policy holds at dial time, on the address a name resolves to then,
// whatever was checked at save time (DNS rebinding).
func TestEgressCheckedAtDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := forward.NewHTTPClient(forward.HTTPOptions{Timeout: 2 * time.Second})
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		_, err := c.Get(u)
		if !errors.Is(err, forward.ErrEgress) {
			t.Fatalf("GET %s under the default policy: %v, want the egress policy's refusal", u, err)
		}
		if msg := forward.TransportMessage(err); !strings.Contains(msg, "loopback address") || !strings.Contains(msg, "LRS_FORWARD_ALLOWED_NETWORKS") {
			t.Errorf("the refusal reads %q", msg)
		}
	}
	open := forward.NewHTTPClient(forward.HTTPOptions{Timeout: 2 * time.Second, Egress: forward.MustEgress("127.0.0.0/8,::1/128")})
	res, err := open.Get("http://localhost:" + port + "/")
	if err != nil {
		t.Fatalf("GET with loopback allowed: %v", err)
	}
	res.Body.Close()
}

// The kit's client follows no redirect, so a destination cannot send the
// credentials on to another host.
func TestHTTPClientFollowsNoRedirect(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed, with Authorization %q", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := forward.NewHTTPClient(forward.HTTPOptions{Timeout: 2 * time.Second, Egress: forward.MustEgress("127.0.0.0/8")})
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
	req.SetBasicAuth("key", "secret-value")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("status %d, want the 307 itself", res.StatusCode)
	}
}

// The per-attempt deadline bounds every phase: a listener that never
// answers, one that sends headers and then trickles the body forever, and
// one that never finishes the TLS handshake.
func TestHTTPClientDeadlineBoundsEveryPhase(t *testing.T) {
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	trickle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(200)
		for r.Context().Err() == nil {
			_, _ = w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	}))
	defer trickle.Close()
	const deadline = 500 * time.Millisecond
	c := forward.NewHTTPClient(forward.HTTPOptions{Timeout: deadline, Egress: forward.MustEgress("127.0.0.0/8")})
	for name, u := range map[string]string{
		"no answer":        "http://" + hang.Addr().String() + "/",
		"no TLS handshake": "https://" + hang.Addr().String() + "/",
		"trickled body":    trickle.URL,
	} {
		start := time.Now()
		res, err := c.Get(u)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		took := time.Since(start)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if took > 10*deadline {
			t.Errorf("%s: the attempt took %v, want it bounded by the %v deadline", name, took, deadline)
		}
		if msg := forward.TransportMessage(err); !strings.Contains(msg, "timeout") {
			t.Errorf("%s: %q, want a timeout", name, msg)
		}
	}
}

// An address that is not a URL (an SFTP server's host[:port]) is checked
// at save like a URL's host.
func TestEgressCheckAddressAtSave(t *testing.T) {
	ctx := context.Background()
	var def *forward.Egress
	for raw, want := range map[string]string{
		"93.184.215.14:22":     "",
		"93.184.215.14":        "",
		"sftp.invalid:2222":    "", // does not resolve now: checked when connecting
		"127.0.0.1:22":         "127.0.0.1 is a loopback address",
		"10.1.2.3":             "10.1.2.3 is a private address",
		"169.254.169.254:22":   "a link-local address",
		"[::1]:22":             "::1 is a loopback address",
		"2130706433:22":        "non-standard notation",
		"localhost:22":         "resolves to",
		"sftp.example.org:0":   "want 1 to 65535",
		"sftp.example.org:ssh": "want 1 to 65535",
		"user@host:22":         "want host or host:port",
		":22":                  "want host or host:port",
	} {
		err := def.CheckAddress(ctx, raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckAddress(%q) = %v, want it accepted", raw, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckAddress(%q) = %v, want an error with %q", raw, err, want)
		}
	}
	if err := forward.MustEgress("127.0.0.0/8,::1/128").CheckAddress(ctx, "127.0.0.1:2222"); err != nil {
		t.Errorf("a loopback SFTP server with loopback allowed: %v", err)
	}
}
