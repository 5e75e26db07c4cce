package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

const adminToken = "test-admin-token-0123456789abcdef-xyz"

// syncBuffer is a concurrency-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lrsNode is one LRS process: an HTTP server over a shared store, with its
// own authenticator (and cache).
type lrsNode struct {
	t     *testing.T
	srv   *httptest.Server
	reg   *prometheus.Registry
	authn *auth.Authenticator
	audit *syncBuffer
}

func openPebble(t *testing.T) *pebbledb.DB {
	t.Helper()
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newNode(t *testing.T, db *pebbledb.DB, ttl time.Duration, tune ...func(*api.Options)) *lrsNode {
	t.Helper()
	reg := prometheus.NewRegistry()
	authn := auth.NewAuthenticator(db, auth.AuthenticatorOptions{TTL: ttl})
	t.Cleanup(authn.Wait)
	audit := &syncBuffer{}
	opts := api.Options{
		Service:        lrs.NewService(db, lrs.ServiceOptions{MaxLimit: 50, Activities: db, Agents: db}),
		Documents:      lrs.NewDocuments(db, nil),
		Auth:           authn,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:     reg,
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Admin: &api.AdminOptions{
			Token: adminToken, Store: db, HomePage: "http://lrs.test",
			Audit:  slog.New(slog.NewJSONHandler(audit, nil)),
			Forget: authn.Forget,
		},
	}
	for _, f := range tune {
		f(&opts)
	}
	h, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &lrsNode{t: t, srv: srv, reg: reg, authn: authn, audit: audit}
}

// admin sends an admin request and decodes a JSON answer into out.
func (n *lrsNode) admin(method, path, body string, want int, out any) []byte {
	n.t.Helper()
	return n.adminAs(adminToken, method, path, body, want, out)
}

func (n *lrsNode) adminAs(token, method, path, body string, want int, out any) []byte {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			n.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

// xapi sends an xAPI request with Basic credentials and returns the status
// and body.
func (n *lrsNode) xapi(key, secret, method, path, body string) (int, []byte) {
	n.t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte(key + ":" + secret))
	st, _, b := n.send(method, path, body, "Authorization", "Basic "+basic)
	return st, b
}

// send sends an xAPI request (version 2.0.0) with the headers (name, value
// pairs) and returns the status, headers and body.
func (n *lrsNode) send(method, path, body string, header ...string) (int, http.Header, []byte) {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	r.Header.Set("X-Experience-API-Version", "2.0.0")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

type credOut struct {
	Key       string          `json:"key"`
	Secret    string          `json:"secret"`
	Org       string          `json:"org"`
	Name      string          `json:"name"`
	Scopes    []string        `json:"scopes"`
	Authority json.RawMessage `json:"authority"`
	Revoked   bool            `json:"revoked"`
	ExpiresAt *time.Time      `json:"expires_at"`
	LastUsed  *time.Time      `json:"last_used"`
}

// newCred creates an organization (if new) and a credential in it.
func (n *lrsNode) newCred(org string, scopes ...string) credOut {
	n.t.Helper()
	r, _ := http.NewRequest("GET", n.srv.URL+api.AdminPrefix+"/orgs/"+org, nil)
	r.Header.Set("Authorization", "Bearer "+adminToken)
	if res, err := http.DefaultClient.Do(r); err == nil {
		res.Body.Close()
		if res.StatusCode == 404 {
			n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"`+org+`","name":"Org `+org+`"}`, 201, nil)
		}
	}
	sc, _ := json.Marshal(scopes)
	var c credOut
	n.admin("POST", api.AdminPrefix+"/orgs/"+org+"/credentials", `{"name":"test","scopes":`+string(sc)+`}`, 201, &c)
	return c
}

func TestAdminDisabledWithoutOptions(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/admin/v1/orgs", "/admin/v1/openapi.json"} {
		if r := e.do(req{method: "GET", path: p, key: "-", version: "-"}); r.status != 404 {
			t.Errorf("GET %s without an admin token configured: %s, want 404", p, r)
		}
	}
}

func TestAdminRejectsShortToken(t *testing.T) {
	db := openPebble(t)
	_, err := api.New(api.Options{Service: lrs.NewService(db, lrs.ServiceOptions{}), Documents: lrs.NewDocuments(db, nil),
		Auth: auth.NewAuthenticator(db, auth.AuthenticatorOptions{}), Admin: &api.AdminOptions{Token: "short", Store: db}})
	if err == nil || !strings.Contains(err.Error(), "32") {
		t.Errorf("New with a short admin token: %v, want an error naming the minimum length", err)
	}
}

func TestAdminToken(t *testing.T) {
	n := newNode(t, openPebble(t), time.Second, func(o *api.Options) { o.Slowdown.Disabled = true })
	for _, tok := range []string{"", "wrong", adminToken + "x", strings.ToUpper(adminToken)} {
		n.adminAs(tok, "GET", "/admin/v1/orgs", "", 401, nil)
	}
	n.adminAs(adminToken, "GET", "/admin/v1/orgs", "", 200, nil)
	if got := counterValue(t, n.reg, "lrs_auth_failures_total", "reason", "admin_token"); got != 4 {
		t.Errorf("lrs_auth_failures_total{reason=admin_token} = %v, want 4", got)
	}
	// The document is public.
	n.adminAs("", "GET", "/admin/v1/openapi.json", "", 200, nil)
}

// counterValue returns the value of the counter series with the labels (0
// if none).
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if w, ok := want[lp.GetName()]; ok && w != lp.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestAdminLifecycle(t *testing.T) {
	n := newNode(t, openPebble(t), time.Hour)
	var org struct{ ID, Name string }
	n.admin("POST", "/admin/v1/orgs", `{"name":"Acme"}`, 201, &org)
	if org.ID == "" || org.Name != "Acme" {
		t.Fatalf("created organization %+v", org)
	}
	n.admin("POST", "/admin/v1/orgs", `{"id":"`+org.ID+`","name":"again"}`, 409, nil)
	n.admin("PATCH", "/admin/v1/orgs/"+org.ID, `{"name":"Acme Corp"}`, 200, &org)
	if org.Name != "Acme Corp" {
		t.Errorf("renamed organization: %+v", org)
	}
	var list struct{ Organizations []struct{ ID string } }
	n.admin("GET", "/admin/v1/orgs", "", 200, &list)
	if len(list.Organizations) != 1 || list.Organizations[0].ID != org.ID {
		t.Errorf("organizations: %+v", list)
	}
	n.admin("POST", "/admin/v1/orgs/nope/credentials", `{"name":"x","scopes":["all"]}`, 404, nil)

	var c credOut
	n.admin("POST", "/admin/v1/orgs/"+org.ID+"/credentials", `{"name":"app","scopes":["statements/write","statements/read"]}`, 201, &c)
	if c.Key == "" || len(c.Secret) < 40 || c.Org != org.ID || !strings.Contains(string(c.Authority), c.Key) {
		t.Fatalf("created credential %+v", c)
	}
	if st, b := n.xapi(c.Key, c.Secret, "POST", "/xapi/statements", stmt("", "a@example.com", "attempted", "x")); st != 200 {
		t.Fatalf("POST statements with the new credential: %d %s", st, b)
	}
	if st, _ := n.xapi(c.Key, c.Secret+"x", "GET", "/xapi/statements", ""); st != 401 {
		t.Errorf("wrong secret: %d, want 401", st)
	}
	var got credOut
	n.admin("GET", "/admin/v1/credentials/"+c.Key, "", 200, &got)
	if got.Secret != "" || got.Key != c.Key {
		t.Errorf("GET credential shows %+v (the secret must never be shown again)", got)
	}
	var creds struct{ Credentials []credOut }
	n.admin("GET", "/admin/v1/orgs/"+org.ID+"/credentials", "", 200, &creds)
	if len(creds.Credentials) != 1 || creds.Credentials[0].Key != c.Key || creds.Credentials[0].Secret != "" {
		t.Errorf("credentials of the org: %+v", creds)
	}
	n.authn.Wait()
	n.admin("GET", "/admin/v1/credentials/"+c.Key, "", 200, &got)
	if got.LastUsed == nil {
		t.Errorf("last_used not recorded after a request")
	}

	// Scopes changed: the next request sees them at once on this process.
	n.admin("PATCH", "/admin/v1/credentials/"+c.Key, `{"scopes":["statements/read"]}`, 200, &got)
	if st, _ := n.xapi(c.Key, c.Secret, "POST", "/xapi/statements", stmt("", "a@example.com", "attempted", "x")); st != 403 {
		t.Errorf("POST after write scope removed: %d, want 403", st)
	}
	n.admin("DELETE", "/admin/v1/orgs/"+org.ID, "", 409, nil) // still has a credential

	n.admin("POST", "/admin/v1/credentials/"+c.Key+"/revoke", "", 200, &got)
	if !got.Revoked {
		t.Errorf("revoke answered %+v", got)
	}
	st, b := n.xapi(c.Key, c.Secret, "GET", "/xapi/statements", "")
	if st != 401 || !strings.Contains(string(b), "revoked") {
		t.Errorf("GET with a revoked credential: %d %s, want 401 naming the revocation", st, b)
	}
	n.admin("PATCH", "/admin/v1/credentials/"+c.Key, `{"revoked":false}`, 400, nil)
	n.admin("DELETE", "/admin/v1/credentials/"+c.Key, "", 204, nil)
	n.admin("DELETE", "/admin/v1/credentials/"+c.Key, "", 404, nil)
	n.admin("DELETE", "/admin/v1/orgs/"+org.ID, "", 204, nil)
	n.admin("GET", "/admin/v1/orgs/"+org.ID, "", 404, nil)

	// Audit: who, what, when; and counted.
	log := n.audit.String()
	for _, want := range []string{`"action":"org.create"`, `"action":"credential.revoke"`, `"who":"admin-token"`, `"target":"` + c.Key + `"`, `"at":`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, c.Secret) {
		t.Errorf("the audit log holds the secret")
	}
	if got := counterValue(t, n.reg, "lrs_admin_actions_total", "action", "credential.revoke", "outcome", "ok"); got != 1 {
		t.Errorf("lrs_admin_actions_total{credential.revoke,ok} = %v, want 1", got)
	}
}

func TestAdminValidationListsEveryField(t *testing.T) {
	n := newNode(t, openPebble(t), time.Hour)
	n.admin("POST", "/admin/v1/orgs", `{"id":"acme","name":"Acme"}`, 201, nil)
	b := n.admin("POST", "/admin/v1/orgs/acme/credentials",
		`{"name":"","scopes":["all","statements/everything"],"expires_at":"2001-01-01T00:00:00Z"}`, 400, nil)
	for _, want := range []string{"name: is required", `scopes[1]: "statements/everything" is not an xAPI scope`, "expires_at: must be in the future"} {
		if _, msg := errorCode(t, resp{body: b}); !strings.Contains(msg, want) {
			t.Errorf("400 message %q lacks %q", msg, want)
		}
	}
	b = n.admin("POST", "/admin/v1/orgs", `{"id":"a b","name":""}`, 400, nil)
	for _, want := range []string{"id: may hold only", "name: is required"} {
		if _, msg := errorCode(t, resp{body: b}); !strings.Contains(msg, want) {
			t.Errorf("400 message %q lacks %q", msg, want)
		}
	}
	for _, body := range []string{`{"name":"x","scopes":["all"],"extra":1}`, `{"name":"x","scopes":"all"}`, `not json`, `{"name":"x","scopes":[]}`} {
		n.admin("POST", "/admin/v1/orgs/acme/credentials", body, 400, nil)
	}
}

func TestAdminExpiry(t *testing.T) {
	n := newNode(t, openPebble(t), time.Hour)
	n.admin("POST", "/admin/v1/orgs", `{"id":"acme","name":"Acme"}`, 201, nil)
	exp := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	var c credOut
	n.admin("POST", "/admin/v1/orgs/acme/credentials", `{"name":"x","scopes":["all"],"expires_at":"`+exp+`"}`, 201, &c)
	if st, _ := n.xapi(c.Key, c.Secret, "GET", "/xapi/statements", ""); st != 200 {
		t.Fatalf("before expiry: %d", st)
	}
	time.Sleep(time.Until(c.ExpiresAt.Add(10 * time.Millisecond)))
	if st, b := n.xapi(c.Key, c.Secret, "GET", "/xapi/statements", ""); st != 401 || !strings.Contains(string(b), "expired") {
		t.Errorf("after expiry: %d %s, want 401 naming the expiry", st, b)
	}
	n.admin("PATCH", "/admin/v1/credentials/"+c.Key, `{"no_expiry":true}`, 200, nil)
	if st, _ := n.xapi(c.Key, c.Secret, "GET", "/xapi/statements", ""); st != 200 {
		t.Errorf("after removing the expiry: %d, want 200", st)
	}
}

// TestRevocationOnSecondProcess: two processes share a store; a revocation
// made through the first is refused by the second within its cache TTL.
func TestRevocationOnSecondProcess(t *testing.T) {
	db := openPebble(t)
	const ttl = 300 * time.Millisecond
	p1, p2 := newNode(t, db, ttl), newNode(t, db, ttl)
	c := p1.newCred("acme", auth.ScopeAll)
	if st, _ := p2.xapi(c.Key, c.Secret, "GET", "/xapi/statements", ""); st != 200 {
		t.Fatalf("second process before revocation: %d", st)
	}
	p1.admin("POST", "/admin/v1/credentials/"+c.Key+"/revoke", "", 200, nil)
	revoked := time.Now()
	if st, _ := p1.xapi(c.Key, c.Secret, "GET", "/xapi/statements", ""); st != 401 {
		t.Errorf("revoking process: %d, want 401 at once", st)
	}
	for {
		sent := time.Since(revoked) // the bound is on when a request arrives
		st, _ := p2.xapi(c.Key, c.Secret, "GET", "/xapi/statements", "")
		if st == 401 {
			break
		}
		if sent > ttl+200*time.Millisecond {
			t.Fatalf("second process still accepted the revoked credential in a request sent %v after the revocation (TTL %v)", sent, ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuthFailureSlowdown(t *testing.T) {
	n := newNode(t, openPebble(t), time.Hour, func(o *api.Options) {
		o.Slowdown = api.SlowdownOptions{After: 3, Delay: time.Second, MaxDelay: 2 * time.Second}
	})
	c := n.newCred("acme", auth.ScopeAll)
	for i := 0; i < 3; i++ {
		start := time.Now()
		if st, _ := n.xapi(c.Key, "wrong-secret", "GET", "/xapi/statements", ""); st != 401 {
			t.Fatalf("wrong secret: %d", st)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("failure %d took %v: the first failures must not be delayed", i+1, d)
		}
	}
	start := time.Now()
	n.xapi(c.Key, "wrong-secret", "GET", "/xapi/statements", "")
	if d := time.Since(start); d < time.Second {
		t.Errorf("4th failure within the window answered in %v, want ≥ 1s", d)
	}
	start = time.Now()
	if st, _ := n.xapi(c.Key, c.Secret, "GET", "/xapi/statements", ""); st != 200 || time.Since(start) > 500*time.Millisecond {
		t.Errorf("a successful request from the same client: %d in %v, want 200 without delay", st, time.Since(start))
	}
	n.xapi("nobody", "whatever", "GET", "/xapi/statements", "")
	for reason, want := range map[string]float64{"wrong_secret": 4, "unknown_key": 1} {
		if got := counterValue(t, n.reg, "lrs_auth_failures_total", "reason", reason); got != want {
			t.Errorf("lrs_auth_failures_total{reason=%s} = %v, want %v", reason, got, want)
		}
	}
}
