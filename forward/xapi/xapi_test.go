package xapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/xapi"
)

func item(i int) forward.Item {
	id := fmt.Sprintf("7fa459ea-ee8a-4ca4-894e-db77e16035%02d", i)
	return forward.Item{Delivery: forward.Delivery{StatementID: id}, Statement: forwardtest.Statement(id, "a@example.com")}
}

func items(n int) []forward.Item {
	out := make([]forward.Item, n)
	for i := range out {
		out[i] = item(i)
	}
	return out
}

func basicConfig(endpoint string) forward.Configuration {
	return forward.Configuration{ID: "c", Org: "o", Type: xapi.TypeName, Properties: map[string]string{"endpoint": endpoint}}
}

func newBasic(t testing.TB, endpoint, secret string) *xapi.Destination {
	t.Helper()
	d, err := xapi.New(basicConfig(endpoint), map[string]string{"key": forwardtest.DownKey, "secret": secret}, xapi.Options{Egress: forwardtest.Loopback, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSendClassifies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		outcome string
		status  int
		retry   time.Duration
	}{
		{"401", status(401, `{"message":"bad credentials"}`), forward.OutcomeDestination, 401, 0},
		{"403", status(403, ``), forward.OutcomeDestination, 403, 0},
		{"404", status(404, `<html>not found</html>`), forward.OutcomeDestination, 404, 0},
		{"405", status(405, ``), forward.OutcomeDestination, 405, 0},
		{"302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusFound) }, forward.OutcomeDestination, 302, 0},
		{"200 HTML", status(200, `<html>login</html>`), forward.OutcomeDestination, 200, 0},
		{"429 Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(429)
		}, forward.OutcomeTransient, 429, 2 * time.Minute},
		{"503", status(503, ``), forward.OutcomeTransient, 503, 0},
		{"408", status(408, ``), forward.OutcomeTransient, 408, 0},
		{"500", status(500, ``), forward.OutcomeTransient, 500, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			r := newBasic(t, srv.URL, "hunter2").Send(context.Background(), items(2))
			if r.Outcome != tc.outcome || r.Status != tc.status || r.RetryAfter != tc.retry {
				t.Fatalf("got %+v, want %s %d retry %v", r, tc.outcome, tc.status, tc.retry)
			}
		})
	}
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func TestSendTransportFailures(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // refused
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(http.NotFoundHandler())
	defer plainSrv.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(500 * time.Millisecond) }))
	defer slow.Close()
	for name, endpoint := range map[string]string{
		"refused":     url,
		"dns":         "http://no-such-host.invalid/xapi",
		"certificate": tlsSrv.URL,
		"not tls":     strings.Replace(plainSrv.URL, "http://", "https://", 1),
		"timeout":     slow.URL,
	} {
		t.Run(name, func(t *testing.T) {
			d, err := xapi.New(basicConfig(endpoint), map[string]string{"key": "k", "secret": "hunter2"}, xapi.Options{Egress: forwardtest.Loopback, Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			r := d.Send(context.Background(), items(1))
			if r.Outcome != forward.OutcomeTransport || r.Status != 0 || strings.Contains(r.Message, "hunter2") {
				t.Fatalf("got %+v", r)
			}
		})
	}
}

// 413 halves the batch until it fits; a single statement still too large
// is rejected.
func TestSendHalvesOn413(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/about") {
			http.NotFound(w, r) // no About: the configured version is kept
			return
		}
		var list []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&list)
		mu.Lock()
		sizes = append(sizes, len(list))
		mu.Unlock()
		if len(list) > 2 {
			w.WriteHeader(413)
			return
		}
		ids := make([]string, len(list))
		for i, s := range list {
			ids[i] = s["id"].(string)
			if _, ok := s["stored"]; ok {
				t.Error("stored was sent")
			}
			if _, ok := s["authority"]; ok {
				t.Error("authority was sent")
			}
		}
		_ = json.NewEncoder(w).Encode(ids)
	}))
	defer srv.Close()
	r := newBasic(t, srv.URL, "x").Send(context.Background(), items(8))
	if r.Outcome != forward.OutcomeSuccess || len(r.Rejected) != 0 {
		t.Fatalf("got %+v", r)
	}
	if fmt.Sprint(sizes) != "[8 4 2 2 4 2 2]" {
		t.Fatalf("batch sizes %v", sizes)
	}
}

// oauth is a token endpoint and a gate in front of the downstream: tokens
// live ttl on the test clock; an expired or revoked token gets 401.
type oauth struct {
	mu      sync.Mutex
	clock   *forwardtest.Clock
	ttl     time.Duration
	tokens  map[string]time.Time
	issued  int
	n       int
	refused int
}

func (o *oauth) token(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, `{"error":"invalid_request"}`, 400)
		return
	}
	_ = r.ParseForm()
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "xapi:write" {
		http.Error(w, `{"error":"invalid_request"}`, 400)
		return
	}
	if r.Form.Get("client_id") != "lms" || r.Form.Get("client_secret") != "client-s3cret" {
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	o.mu.Lock()
	o.n++
	o.issued++
	tok := fmt.Sprintf("token-%d", o.n)
	o.tokens[tok] = o.clock.Now().Add(o.ttl)
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": int(o.ttl.Seconds()), "token_type": "Bearer"})
}

func (o *oauth) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		o.mu.Lock()
		exp, ok := o.tokens[tok]
		valid := ok && o.clock.Now().Before(exp)
		if !valid {
			o.refused++
		}
		o.mu.Unlock()
		if !valid {
			w.WriteHeader(401)
			return
		}
		r.SetBasicAuth(forwardtest.DownKey, forwardtest.DownSecret)
		next.ServeHTTP(w, r)
	})
}

func (o *oauth) revokeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.tokens)
}

func (o *oauth) counts() (issued, refused int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.issued, o.refused
}

func TestOAuth2TokensCachedAndRefreshed(t *testing.T) {
	clock := forwardtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := &oauth{clock: clock, ttl: 10 * time.Minute, tokens: map[string]time.Time{}}
	tokenSrv := httptest.NewServer(http.HandlerFunc(o.token))
	defer tokenSrv.Close()
	down := forwardtest.NewLRS(t, o.gate)
	cfg := forward.Configuration{ID: "c", Org: "o", Type: xapi.TypeName, Properties: map[string]string{
		"endpoint": down.Srv.URL + "/xapi/statements", "auth": "oauth2", "token_url": tokenSrv.URL + "/oauth2/token",
		"scope": "xapi:write", "client_id": "lms",
	}}
	d, err := xapi.New(cfg, map[string]string{"client_secret": "client-s3cret"}, xapi.Options{Egress: forwardtest.Loopback, Now: clock.Now, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	send := func(i int) forward.Result { return d.Send(context.Background(), []forward.Item{item(i)}) }

	if r := send(0); r.Outcome != forward.OutcomeSuccess {
		t.Fatalf("first send: %+v", r)
	}
	if r := send(1); r.Outcome != forward.OutcomeSuccess {
		t.Fatalf("second send: %+v", r)
	}
	if issued, _ := o.counts(); issued != 1 {
		t.Fatalf("%d tokens issued, want 1 (cached)", issued)
	}
	// Within a minute of expiry the token is refreshed before use.
	clock.Advance(9*time.Minute + 30*time.Second)
	if r := send(2); r.Outcome != forward.OutcomeSuccess {
		t.Fatalf("send near expiry: %+v", r)
	}
	if issued, refused := o.counts(); issued != 2 || refused != 0 {
		t.Fatalf("issued %d refused %d, want 2 and 0", issued, refused)
	}
	// A token the server stopped accepting: 401, refreshed once, sent.
	o.revokeAll()
	if r := send(3); r.Outcome != forward.OutcomeSuccess {
		t.Fatalf("send after revocation: %+v", r)
	}
	if issued, refused := o.counts(); issued != 3 || refused != 1 {
		t.Fatalf("issued %d refused %d, want 3 and 1", issued, refused)
	}
	for i := range 4 {
		if down.Accepted(item(i).Delivery.StatementID) != 1 {
			t.Fatalf("statement %d not accepted once", i)
		}
	}
}

func TestOAuth2BadClient(t *testing.T) {
	clock := forwardtest.NewClock(time.Now())
	o := &oauth{clock: clock, ttl: time.Hour, tokens: map[string]time.Time{}}
	tokenSrv := httptest.NewServer(http.HandlerFunc(o.token))
	defer tokenSrv.Close()
	cfg := forward.Configuration{Properties: map[string]string{
		"endpoint": "http://127.0.0.1:1/xapi", "auth": "oauth2", "token_url": tokenSrv.URL, "scope": "xapi:write",
	}}
	d, err := xapi.New(cfg, map[string]string{"client_id": "lms", "client_secret": "wrong-s3cret"}, xapi.Options{Egress: forwardtest.Loopback})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Send(context.Background(), items(1))
	if r.Outcome != forward.OutcomeDestination || r.Status != 400 || !strings.Contains(r.Message, "invalid_client") || strings.Contains(r.Message, "wrong-s3cret") {
		t.Fatalf("got %+v", r)
	}
}

func TestNewValidates(t *testing.T) {
	for name, props := range map[string]map[string]string{
		"no endpoint":    {},
		"relative":       {"endpoint": "/xapi"},
		"bad version":    {"endpoint": "http://x/xapi", "version": "1.1"},
		"bad auth":       {"endpoint": "http://x/xapi", "auth": "digest"},
		"oauth no token": {"endpoint": "http://x/xapi", "auth": "oauth2"},
	} {
		if _, err := xapi.New(forward.Configuration{Properties: props}, map[string]string{"key": "k", "secret": "s", "client_id": "c", "client_secret": "s"}, xapi.Options{Egress: forwardtest.Loopback}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// An LRS whose About lists only 1.0.3 gets 1.0.3 requests although the
// configuration says 2.0.0, and statements marked 2.0.0 lose that mark (a
// 1.0.3 LRS rejects it and sets its own): the downstream, which validates
// them under 1.0.3, accepts them.
func TestVersionNegotiatedWithAbout(t *testing.T) {
	down := forwardtest.NewLRS(t, nil)
	var mu sync.Mutex
	var seen []string
	only103 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/about") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"version":["1.0.3"]}`)
			return
		}
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Experience-API-Version"))
		mu.Unlock()
		down.Srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(only103.Close)

	cfg := basicConfig(only103.URL + "/xapi/")
	cfg.Properties["version"] = "2.0.0"
	d, err := xapi.New(cfg, map[string]string{"key": forwardtest.DownKey, "secret": forwardtest.DownSecret}, xapi.Options{Egress: forwardtest.Loopback, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	it := item(40)
	var m map[string]any
	if err := json.Unmarshal(it.Statement, &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = "2.0.0"
	it.Statement, _ = json.Marshal(m)

	if r := d.Send(context.Background(), []forward.Item{it}); r.Outcome != forward.OutcomeSuccess {
		t.Fatalf("send: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0] != "1.0.3" {
		t.Errorf("versions sent = %v, want 1.0.3", seen)
	}
	if n := down.Accepted(it.Delivery.StatementID); n != 1 {
		t.Errorf("the downstream accepted the statement %d times, want 1", n)
	}
}

// What the token endpoint answers, as forwarding sees it: client
// authentication in a Basic header, a form-encoded token (cached for its
// lifetime), a transient failure with its Retry-After, and answers without
// a usable token.
func TestOAuth2TokenEndpointAnswers(t *testing.T) {
	bearer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
				w.WriteHeader(401)
				return
			}
			r.SetBasicAuth(forwardtest.DownKey, forwardtest.DownSecret)
			next.ServeHTTP(w, r)
		})
	}
	down := forwardtest.NewLRS(t, bearer)
	for _, tc := range []struct {
		name       string
		clientAuth string
		answer     func(w http.ResponseWriter, r *http.Request)
		outcome    string
		status     int
		retry      time.Duration
		message    string
		requests   int // token requests for two sends (a failing one is asked again by the POST after About)
	}{
		{"basic client auth", "basic", func(w http.ResponseWriter, r *http.Request) {
			id, secret, ok := r.BasicAuth()
			_ = r.ParseForm()
			if !ok || id != "lms" || secret != "client-s3cret" || r.Form.Has("client_secret") {
				w.WriteHeader(401)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`)
		}, forward.OutcomeSuccess, 200, 0, "", 1},
		{"form-encoded token", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
			_, _ = io.WriteString(w, "access_token=tok-2&token_type=bearer&expires_in=600")
		}, forward.OutcomeSuccess, 200, 0, "", 1},
		{"503 with Retry-After", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, "busy; client-s3cret")
		}, forward.OutcomeTransient, 503, 30 * time.Second, "token endpoint: HTTP 503: busy; [redacted]", 4},
		{"no access token", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"token_type":"Bearer"}`)
		}, forward.OutcomeDestination, 0, 0, "missing access_token", 4},
		{"not a bearer token", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok-3","token_type":"mac"}`)
		}, forward.OutcomeDestination, 0, 0, "token type mac is not Bearer", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			requests := 0
			tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				mu.Unlock()
				tc.answer(w, r)
			}))
			defer tokenSrv.Close()
			props := map[string]string{"endpoint": down.Endpoint(), "auth": "oauth2", "token_url": tokenSrv.URL}
			if tc.clientAuth != "" {
				props["client_auth"] = tc.clientAuth
			}
			d, err := xapi.New(forward.Configuration{Properties: props}, map[string]string{"client_id": "lms", "client_secret": "client-s3cret"},
				xapi.Options{Egress: forwardtest.Loopback, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				r := d.Send(context.Background(), []forward.Item{item(60 + i)})
				if r.Outcome != tc.outcome || r.Status != tc.status || r.RetryAfter != tc.retry ||
					!strings.Contains(r.Message, tc.message) || strings.Contains(r.Message, "client-s3cret") {
					t.Fatalf("send %d: %+v, want %s %d retry %v %q", i, r, tc.outcome, tc.status, tc.retry, tc.message)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if requests != tc.requests {
				t.Errorf("%d token requests for two sends, want %d", requests, tc.requests)
			}
		})
	}
}
