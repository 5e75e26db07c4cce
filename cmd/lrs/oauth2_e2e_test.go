package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The OAuth 2.0 end-to-end tests: a reporting integration that gets its
// token from the booted binary, tokens refused for the right reasons on
// both engines, tokens shared by processes over one database, and the
// project's own xAPI destination forwarding with OAuth2 to a second lrs.

const (
	oauthBootKey    = "oauth-boot-key"
	oauthBootSecret = "oauth-boot-secret-0123456789abcdef"
)

var (
	tokenURLRE = regexp.MustCompile(`(?m)^OAuth 2\.0 token URL: (\S+)$`)
	endpointRE = regexp.MustCompile(`(?m)^xAPI endpoint: (\S+)$`)
)

// tokenAnswer is a decoded answer of the token endpoint.
type tokenAnswer struct {
	status      int
	header      http.Header
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
	raw         []byte
}

// requestToken posts a form token request the way LinkedIn Learning's
// reporting integration does: grant_type, client_id, client_secret, scope.
func requestToken(t *testing.T, tokenURL, id, secret, scope string) tokenAnswer {
	t.Helper()
	res, err := http.PostForm(tokenURL, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {scope},
	})
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer res.Body.Close()
	a := tokenAnswer{status: res.StatusCode, header: res.Header}
	a.raw, _ = io.ReadAll(res.Body)
	if err := json.Unmarshal(a.raw, &a); err != nil {
		t.Fatalf("token answer %d %q: %v", res.StatusCode, a.raw, err)
	}
	return a
}

func mustToken(t *testing.T, tokenURL, id, secret, scope string) string {
	t.Helper()
	a := requestToken(t, tokenURL, id, secret, scope)
	if a.status != http.StatusOK || a.AccessToken == "" {
		t.Fatalf("token request (scope %q): %d %s", scope, a.status, a.raw)
	}
	return a.AccessToken
}

func bearerHeader(token string) []string { return []string{"Authorization", "Bearer " + token} }

// newCredential creates a credential with the admin CLI and returns its
// key and secret.
func newCredential(t *testing.T, p *proc, org, name string, scopes ...string) (string, string) {
	t.Helper()
	args := []string{"credential", "create", "--org", org, "--name", name}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	out := mustAdmin(t, p.base, args...)
	km, sm := keyRE.FindStringSubmatch(out), secretRE.FindStringSubmatch(out)
	if km == nil || sm == nil {
		t.Fatalf("credential create printed no key and secret:\n%s", out)
	}
	return km[1], sm[1]
}

// TestLinkedInLearningReporting is the README walkthrough: an LMS
// administrator copies the Auth URL, the Tracking URL, a client id and a
// secret into a LinkedIn-Learning-style reporting integration, which gets
// a token with scope=xapi:write and posts completions as xAPI 1.0.0.
func TestLinkedInLearningReporting(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, testLinkedInLearningReporting)
}

func testLinkedInLearningReporting(t *testing.T, storeEnv []string) {
	env := append(slices.Clone(storeEnv), "LRS_ADMIN_TOKEN="+testAdminToken,
		"LRS_BOOTSTRAP_KEY="+oauthBootKey, "LRS_BOOTSTRAP_SECRET="+oauthBootSecret)
	p := startLRS(t, env...)
	if isMongoEnv(env) {
		waitOutput(t, p, `store="mongodb`)
	}
	am, em := tokenURLRE.FindStringSubmatch(p.out()), endpointRE.FindStringSubmatch(p.out())
	if am == nil || em == nil {
		t.Fatalf("the start-up banner names no token URL or xAPI endpoint:\n%s", p.out())
	}
	authURL, trackingURL := am[1], em[1]
	if authURL != p.base+"/oauth2/token" || trackingURL != p.base+"/xapi/" {
		t.Errorf("banner: Auth URL %s, Tracking URL %s; want %s/oauth2/token and %s/xapi/", authURL, trackingURL, p.base, p.base)
	}
	id, secret := newCredential(t, p, "default", "LinkedIn Learning", "statements/write")

	a := requestToken(t, authURL, id, secret, "xapi:write")
	if a.status != http.StatusOK || a.TokenType != "Bearer" || a.ExpiresIn != 3600 || a.Scope != "xapi:write" || a.AccessToken == "" {
		t.Fatalf("token answer %d %s, want a Bearer token for xapi:write, expires_in 3600", a.status, a.raw)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("token answer Cache-Control %q, want no-store", a.header.Get("Cache-Control"))
	}

	// Completions, as the integration sends them: xAPI 1.0.0, Bearer.
	lil := &client{t: t, base: strings.TrimSuffix(trackingURL, "/"), version: "1.0.0"}
	var sent []map[string]any
	var ids []string
	for _, learner := range []string{"ann", "bo"} {
		sid := uuid.NewString()
		s := e2eStatement(sid, learner+"@example.com", "completed", "linkedin/course/"+learner)
		s["result"] = map[string]any{"completion": true, "duration": "PT42M"}
		sent = append(sent, s)
		ids = append(ids, sid)
	}
	r := lil.expect(http.StatusOK, http.MethodPost, "/statements", sent, bearerHeader(a.AccessToken)...)
	if v := r.header.Get("X-Experience-API-Version"); !strings.HasPrefix(v, "1.0.") {
		t.Errorf("a 1.0.0 client was answered with version %q", v)
	}
	// One by PUT too, which some integrations use.
	putID := uuid.NewString()
	lil.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+putID,
		e2eStatement("", "cy@example.com", "completed", "linkedin/course/cy"), bearerHeader(a.AccessToken)...)
	ids = append(ids, putID)

	// The LMS side reads them, with the authority of the integration's
	// credential.
	lms := &client{t: t, base: p.base + "/xapi", key: oauthBootKey, secret: oauthBootSecret, version: "2.0.0"}
	for _, sid := range ids {
		r := lms.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+sid, nil)
		var st struct {
			Authority struct {
				Account struct{ Name string } `json:"account"`
			} `json:"authority"`
		}
		if err := json.Unmarshal(r.body, &st); err != nil || st.Authority.Account.Name != id {
			t.Errorf("statement %s: authority %s (%v), want the integration credential %s", sid, r.body, err, id)
		}
	}
	// The credential list shows the integration's use.
	deadline := time.Now().Add(10 * time.Second)
	for {
		line := grepLines(mustAdmin(t, p.base, "credential", "list", "--org", "default"), id)
		if line != "" && !strings.Contains(line, "never") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the credential list never showed the integration's last use: %q", line)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The token writes; it does not read.
	if r := lil.do(http.MethodGet, "/statements", nil, bearerHeader(a.AccessToken)...); r.status != http.StatusForbidden {
		t.Errorf("GET with the xapi:write token: %d %s, want 403", r.status, r.body)
	}

	// The signing key lives in the store: a restart keeps the tokens.
	p.stop()
	p2 := startLRS(t, env...)
	lil.base = p2.base + "/xapi"
	lil.expect(http.StatusOK, http.MethodPost, "/statements",
		e2eStatement("", "dee@example.com", "completed", "linkedin/course/dee"), bearerHeader(a.AccessToken)...)
}

// TestTokenRefusals: expired, revoked and out-of-scope tokens are refused
// with the right codes, on both engines.
func TestTokenRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, testTokenRefusals)
}

func testTokenRefusals(t *testing.T, storeEnv []string) {
	const ttl = 2 * time.Second
	p := startLRS(t, append(slices.Clone(storeEnv), "LRS_ADMIN_TOKEN="+testAdminToken, "LRS_TOKEN_TTL="+ttl.String())...)
	tokenURL := p.base + "/oauth2/token"
	id, secret := newCredential(t, p, "default", "provider", "statements/write", "statements/read/mine")
	c := &client{t: t, base: p.base + "/xapi", version: "2.0.0"}
	statement := func() map[string]any { return e2eStatement(uuid.NewString(), "ann@example.com", "passed", "quiz") }

	// Out of scope: the token endpoint grants nothing beyond the
	// credential, and a resource refuses what the token lacks.
	if a := requestToken(t, tokenURL, id, secret, "state"); a.status != http.StatusBadRequest || a.Error != "invalid_scope" {
		t.Errorf("scope the credential lacks: %d %s, want 400 invalid_scope", a.status, a.raw)
	}
	if a := requestToken(t, tokenURL, id, "wrong-secret", "xapi:write"); a.status != http.StatusUnauthorized || a.Error != "invalid_client" || a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("wrong secret: %d %s, want 401 invalid_client with a challenge", a.status, a.raw)
	}
	write := mustToken(t, tokenURL, id, secret, "xapi:write")
	c.expect(http.StatusOK, http.MethodPost, "/statements", statement(), bearerHeader(write)...)
	r := c.do(http.MethodGet, "/statements", nil, bearerHeader(write)...)
	if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("GET with a xapi:write token: %d %q, want 403 insufficient_scope", r.status, r.header.Get("WWW-Authenticate"))
	}
	read := mustToken(t, tokenURL, id, secret, "xapi:read") // narrowed to statements/read/mine
	c.expect(http.StatusOK, http.MethodGet, "/statements", nil, bearerHeader(read)...)
	if r := c.do(http.MethodPost, "/statements", statement(), bearerHeader(read)...); r.status != http.StatusForbidden {
		t.Errorf("POST with a xapi:read token: %d, want 403", r.status)
	}

	// Expired: refused once its lifetime is over, and not before.
	issued := time.Now()
	expiring := mustToken(t, tokenURL, id, secret, "xapi:write")
	for {
		r := c.do(http.MethodPost, "/statements", statement(), bearerHeader(expiring)...)
		if r.status == http.StatusUnauthorized {
			if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) || !strings.Contains(string(r.body), "expired") {
				t.Errorf("expired token: %q %s, want an invalid_token challenge saying it expired", r.header.Get("WWW-Authenticate"), r.body)
			}
			if age := time.Since(issued); age < ttl {
				t.Errorf("the token was refused %v after it was issued, before its lifetime (%v) was over", age, ttl)
			}
			break
		}
		if r.status != http.StatusOK {
			t.Fatalf("POST with a live token: %d %s", r.status, r.body)
		}
		if time.Since(issued) > ttl+2*time.Second { // the lifetime is rounded up to whole seconds
			t.Fatalf("the token is still accepted %v after it was issued (lifetime %v)", time.Since(issued), ttl)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Revoked: refused at once by the process that revoked the credential.
	live := mustToken(t, tokenURL, id, secret, "xapi:write")
	c.expect(http.StatusOK, http.MethodPost, "/statements", statement(), bearerHeader(live)...)
	mustAdmin(t, p.base, "credential", "revoke", "--key", id)
	r = c.do(http.MethodPost, "/statements", statement(), bearerHeader(live)...)
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "revoked") {
		t.Errorf("token of a revoked credential: %d %s, want 401 at once", r.status, r.body)
	}
	if a := requestToken(t, tokenURL, id, secret, "xapi:write"); a.status != http.StatusUnauthorized || a.Error != "invalid_client" {
		t.Errorf("token request of a revoked credential: %d %s, want 401 invalid_client", a.status, a.raw)
	}

	metrics := (&client{t: t, base: p.base}).expect(http.StatusOK, http.MethodGet, "/metrics", nil)
	for _, series := range []string{`lrs_auth_failures_total{reason="token_expired"} 1`, `lrs_auth_failures_total{reason="revoked"} 2`,
		`lrs_oauth2_token_requests_total{outcome="invalid_scope"} 1`, `lrs_oauth2_token_requests_total{outcome="issued"} 4`} {
		if !strings.Contains(string(metrics.body), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

// TestTokenAcrossProcesses: processes sharing one MongoDB database share
// the signing key, so a token issued by one is honoured by another, which
// refuses it within 5 s of its credential's revocation, as it does Basic.
func TestTokenAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	env := append(mongoStoreEnv(t), "LRS_ADMIN_TOKEN="+testAdminToken)
	p1 := startLRS(t, env...)
	p2 := startLRS(t, env...)
	id, secret := newCredential(t, p1, "default", "provider", "all")
	tok := mustToken(t, p1.base+"/oauth2/token", id, secret, "xapi:all")
	c2 := &client{t: t, base: p2.base + "/xapi", version: "2.0.0"}
	c2.expect(http.StatusOK, http.MethodGet, "/statements", nil, bearerHeader(tok)...)
	mustAdmin(t, p1.base, "credential", "revoke", "--key", id)
	revoked := time.Now()
	for {
		sent := time.Since(revoked)
		if c2.do(http.MethodGet, "/statements", nil, bearerHeader(tok)...).status == http.StatusUnauthorized {
			break
		}
		if sent > 5*time.Second+500*time.Millisecond {
			t.Fatalf("the second process still accepted the token in a request sent %v after its credential's revocation (bound: 5 s)", sent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("revocation observed by the second process after %v", time.Since(revoked).Round(time.Millisecond))
}

// TestForwardOAuth2: the xAPI destination in OAuth2 mode forwards to a
// second lrs that issues the tokens (lrs to lrs, no fake token server).
func TestForwardOAuth2(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	down, downC := startDownstream(t)
	up := startLRS(t, upstreamEnv([]string{"LRS_DATA_DIR=" + t.TempDir()})...)
	activity := "http://example.com/e2e/oauth2/" + uuid.NewString()
	id := setupForwardingWith(t, up, activity,
		map[string]string{
			"endpoint": down.base + "/xapi/", "version": "1.0.3",
			"auth": "oauth2", "token_url": down.base + "/oauth2/token", "scope": "xapi:write",
		},
		map[string]string{"client_id": fwdDownKey, "client_secret": fwdDownSecret})

	// Test connection: a token, then a read that a xapi:write token may
	// not do (the downstream credential could; the token is narrower).
	r := fwdAdmin(t, up).expect(http.StatusOK, http.MethodPost, "/configurations/"+id+"/test", nil, adminBearer()...)
	var probe struct {
		OK         bool   `json:"ok"`
		HTTPStatus int    `json:"http_status"`
		Message    string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &probe); err != nil || !probe.OK || probe.HTTPStatus != http.StatusForbidden {
		t.Errorf("test connection: %s (%v), want ok with the 403 of a write-only token", r.body, err)
	}

	upC := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "2.0.0"}
	var acked []string
	for range 3 {
		sts, ids := fwdBatch(5, activity)
		upC.expect(http.StatusOK, http.MethodPost, "/statements", sts)
		acked = append(acked, ids...)
	}
	waitDownstream(t, downC, activity, acked, forwardWait)

	metrics := string((&client{t: t, base: down.base}).expect(http.StatusOK, http.MethodGet, "/metrics", nil).body)
	if m := regexp.MustCompile(`(?m)^lrs_oauth2_token_requests_total\{outcome="issued"\} (\d+)$`).FindStringSubmatch(metrics); m == nil || m[1] == "0" {
		t.Errorf("the downstream issued no token: the statements did not come with its bearer tokens")
	}
	if strings.Contains(metrics, `lrs_auth_failures_total{reason="wrong_secret"}`) {
		t.Errorf("the downstream counted failed authentications:\n%s", grepLines(metrics, "lrs_auth_failures_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
