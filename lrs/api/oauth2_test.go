package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// withTokens serves the token endpoint with tokens sealed by the key kept
// in db (so that every node over db shares it).
func withTokens(t *testing.T, db *pebbledb.DB) func(*api.Options) {
	return func(o *api.Options) {
		key, err := auth.LoadTokenKey(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := auth.NewTokens(o.Auth.(*auth.Authenticator), key, auth.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o.Tokens = tok
	}
}

func noSlowdown(o *api.Options) { o.Slowdown.Disabled = true }

// tokenReq is a token request: a form body, optional Basic credentials and
// extra headers (name, value pairs).
type tokenReq struct {
	form        url.Values
	user, pass  string
	contentType string // default application/x-www-form-urlencoded
	query       string
	header      []string
}

type tokenResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (n *lrsNode) token(r tokenReq) tokenResp {
	n.t.Helper()
	u := n.srv.URL + api.TokenPath
	if r.query != "" {
		u += "?" + r.query
	}
	hr, err := http.NewRequest("POST", u, strings.NewReader(r.form.Encode()))
	if err != nil {
		n.t.Fatal(err)
	}
	ct := r.contentType
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	hr.Header.Set("Content-Type", ct)
	if r.user != "" {
		hr.SetBasicAuth(r.user, r.pass)
	}
	for i := 0; i+1 < len(r.header); i += 2 {
		hr.Header.Set(r.header[i], r.header[i+1])
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	out := tokenResp{status: res.StatusCode, header: res.Header}
	out.raw, _ = io.ReadAll(res.Body)
	if err := json.Unmarshal(out.raw, &out.body); err != nil {
		n.t.Fatalf("token answer %d %q is not JSON: %v", res.StatusCode, out.raw, err)
	}
	return out
}

// issue gets a token with form client authentication.
func (n *lrsNode) issue(c credOut, scope string) string {
	n.t.Helper()
	r := n.token(tokenReq{form: url.Values{"grant_type": {"client_credentials"}, "client_id": {c.Key}, "client_secret": {c.Secret}, "scope": {scope}}})
	tok, _ := r.body["access_token"].(string)
	if r.status != 200 || tok == "" {
		n.t.Fatalf("token request for %s: %d %s", scope, r.status, r.raw)
	}
	return tok
}

// bearer sends an xAPI request with a bearer token.
func (n *lrsNode) bearer(token, method, path, body string, header ...string) (int, http.Header, []byte) {
	n.t.Helper()
	return n.send(method, path, body, append([]string{"Authorization", "Bearer " + token}, header...)...)
}

// descriptionChars reports whether s keeps to RFC 6749 §5.2's
// error_description characters.
func descriptionChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func TestTokenEndpoint(t *testing.T) {
	db := openPebble(t)
	n := newNode(t, db, time.Second, noSlowdown, withTokens(t, db))
	writer := n.newCred("acme", auth.ScopeStatementsWrite)
	all := n.newCred("acme", auth.ScopeAll)
	revoked := n.newCred("acme", auth.ScopeAll)
	n.admin("POST", api.AdminPrefix+"/credentials/"+revoked.Key+"/revoke", "", 200, nil)
	// An operator-chosen secret that form encoding changes.
	plus, err := auth.CredentialWithSecret("acme", "plus", "plus-client", "a+b%2Fc secret", []string{auth.ScopeAll}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCredential(t.Context(), plus); err != nil {
		t.Fatal(err)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	const cc, defaultScope = "client_credentials", "statements/write statements/read/mine"
	tests := []struct {
		name      string
		req       tokenReq
		status    int
		code      string // OAuth error, "" for success
		scope     string // granted scope answered
		challenge bool   // WWW-Authenticate expected
	}{
		{name: "form authentication, xapi:write", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key, "client_secret", writer.Secret, "scope", "xapi:write")}, status: 200, scope: "xapi:write"},
		{name: "Basic authentication", req: tokenReq{form: form("grant_type", cc, "scope", "xapi:read"), user: url.QueryEscape(all.Key), pass: url.QueryEscape(all.Secret)}, status: 200, scope: "xapi:read"},
		{name: "Basic with client_id repeated in the body", req: tokenReq{form: form("grant_type", cc, "client_id", all.Key, "scope", "xapi:all"), user: all.Key, pass: all.Secret}, status: 200, scope: "xapi:all"},
		{name: "Basic, form-encoded as RFC 6749 asks", req: tokenReq{form: form("grant_type", cc), user: "plus-client", pass: url.QueryEscape("a+b%2Fc secret")}, status: 200, scope: defaultScope},
		{name: "Basic, sent without the encoding", req: tokenReq{form: form("grant_type", cc), user: "plus-client", pass: "a+b%2Fc secret"}, status: 200, scope: defaultScope},
		{name: "no scope: xAPI's default", req: tokenReq{form: form("grant_type", cc, "client_id", all.Key, "client_secret", all.Secret)}, status: 200, scope: defaultScope},
		{name: "no scope: the default as far as held", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key, "client_secret", writer.Secret)}, status: 200, scope: "statements/write"},
		{name: "empty scope is omitted", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key, "client_secret", writer.Secret, "scope", "")}, status: 200, scope: "statements/write"},
		{name: "xapi:all narrowed to the credential", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key, "client_secret", writer.Secret, "scope", "xapi:all")}, status: 200, scope: "statements/write"},
		{name: "charset parameter", req: tokenReq{form: form("grant_type", cc, "client_id", all.Key, "client_secret", all.Secret), contentType: "application/x-www-form-urlencoded; charset=UTF-8"}, status: 200, scope: defaultScope},

		{name: "wrong secret", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key, "client_secret", "wrong-secret")}, status: 401, code: "invalid_client", challenge: true},
		{name: "wrong Basic secret", req: tokenReq{form: form("grant_type", cc), user: writer.Key, pass: "wrong-secret"}, status: 401, code: "invalid_client", challenge: true},
		{name: "unknown client", req: tokenReq{form: form("grant_type", cc, "client_id", "nobody", "client_secret", "whatever-secret")}, status: 401, code: "invalid_client", challenge: true},
		{name: "no secret", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key)}, status: 401, code: "invalid_client", challenge: true},
		{name: "no client authentication", req: tokenReq{form: form("grant_type", cc)}, status: 401, code: "invalid_client", challenge: true},
		{name: "not Basic", req: tokenReq{form: form("grant_type", cc), header: []string{"Authorization", "Bearer something"}}, status: 401, code: "invalid_client", challenge: true},
		{name: "revoked credential", req: tokenReq{form: form("grant_type", cc, "client_id", revoked.Key, "client_secret", revoked.Secret)}, status: 401, code: "invalid_client", challenge: true},
		{name: "two authentication methods", req: tokenReq{form: form("grant_type", cc, "client_id", all.Key, "client_secret", all.Secret), user: all.Key, pass: all.Secret}, status: 400, code: "invalid_request"},
		{name: "Basic and another client_id", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key), user: all.Key, pass: all.Secret}, status: 400, code: "invalid_request"},
		{name: "no grant_type", req: tokenReq{form: form("client_id", all.Key, "client_secret", all.Secret)}, status: 400, code: "invalid_request"},
		{name: "password grant", req: tokenReq{form: form("grant_type", "password", "client_id", all.Key, "client_secret", all.Secret)}, status: 400, code: "unsupported_grant_type"},
		{name: "scope the credential lacks", req: tokenReq{form: form("grant_type", cc, "client_id", writer.Key, "client_secret", writer.Secret, "scope", "xapi:read")}, status: 400, code: "invalid_scope"},
		{name: "unknown scope", req: tokenReq{form: form("grant_type", cc, "client_id", all.Key, "client_secret", all.Secret, "scope", "xapi:admin")}, status: 400, code: "invalid_scope"},
		{name: "repeated parameter", req: tokenReq{form: form("grant_type", cc, "client_id", all.Key, "client_secret", all.Secret, "scope", "xapi:read", "scope", "xapi:write")}, status: 400, code: "invalid_request"},
		{name: "JSON body", req: tokenReq{form: form("grant_type", cc), contentType: "application/json"}, status: 400, code: "invalid_request"},
		{name: "secret in the URL", req: tokenReq{form: form("grant_type", cc, "client_id", all.Key), query: "client_secret=" + url.QueryEscape(all.Secret)}, status: 400, code: "invalid_request"},
		{name: "oversized body", req: tokenReq{form: form("grant_type", cc, "padding", strings.Repeat("x", 20<<10))}, status: 413, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := n.token(tt.req)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.raw, tt.status)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("Cache-Control %q, Pragma %q; want no-store, no-cache", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			for _, secret := range []string{writer.Secret, all.Secret, revoked.Secret, "a+b%2Fc secret"} {
				if strings.Contains(string(r.raw), secret) {
					t.Errorf("the answer holds a secret: %s", r.raw)
				}
			}
			if tt.code != "" {
				desc, _ := r.body["error_description"].(string)
				if r.body["error"] != tt.code || desc == "" || !descriptionChars(desc) {
					t.Errorf("error %v (%q), want %s with a plain description", r.body["error"], desc, tt.code)
				}
				if _, ok := r.body["access_token"]; ok {
					t.Errorf("an error answer holds an access token: %s", r.raw)
				}
				if got := r.header.Get("WWW-Authenticate"); tt.challenge != strings.HasPrefix(got, "Basic ") {
					t.Errorf("WWW-Authenticate %q (challenge expected: %v)", got, tt.challenge)
				}
				return
			}
			if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(3600) || r.body["scope"] != tt.scope {
				t.Errorf("answer %s, want Bearer, expires_in 3600, scope %q", r.raw, tt.scope)
			}
			if tok, _ := r.body["access_token"].(string); len(tok) < 40 {
				t.Errorf("access_token %q", tok)
			}
		})
	}

	res, err := http.Get(n.srv.URL + api.TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d, want 405", api.TokenPath, res.StatusCode)
	}
	for outcome, want := range map[string]float64{"issued": 10, "invalid_client": 7, "invalid_request": 7, "unsupported_grant_type": 1, "invalid_scope": 2} {
		if got := counterValue(t, n.reg, "lrs_oauth2_token_requests_total", "outcome", outcome); got != want {
			t.Errorf("lrs_oauth2_token_requests_total{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
}

// TestBearerOnEveryResource: a token's scopes decide what it may do on each
// xAPI resource, and what it writes carries the credential's authority.
func TestBearerOnEveryResource(t *testing.T) {
	db := openPebble(t)
	n := newNode(t, db, time.Second, noSlowdown, withTokens(t, db))
	c := n.newCred("acme", auth.ScopeAll)
	all, write, read := n.issue(c, "xapi:all"), n.issue(c, "xapi:write"), n.issue(c, "xapi:read")

	id := uuid.NewString()
	statement := `{"id":"` + id + `","actor":{"mbox":"mailto:ann@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/course"}}`
	if st, _, b := n.bearer(write, "POST", "/xapi/statements", statement); st != 200 {
		t.Fatalf("POST statements with a xapi:write token: %d %s", st, b)
	}
	st, _, b := n.bearer(read, "GET", "/xapi/statements?statementId="+id, "")
	if st != 200 {
		t.Fatalf("GET the statement with a xapi:read token: %d %s", st, b)
	}
	var got struct{ Authority json.RawMessage }
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "the authority (the credential's)", got.Authority, string(c.Authority))

	state := "/xapi/activities/state?activityId=" + url.QueryEscape("http://example.com/course") +
		"&agent=" + url.QueryEscape(`{"mbox":"mailto:ann@example.com"}`) + "&stateId=bookmark"
	profile := "/xapi/activities/profile?activityId=" + url.QueryEscape("http://example.com/course") + "&profileId=p1"
	agentProfile := "/xapi/agents/profile?agent=" + url.QueryEscape(`{"mbox":"mailto:ann@example.com"}`) + "&profileId=p1"
	activity := "/xapi/activities?activityId=" + url.QueryEscape("http://example.com/course")
	agents := "/xapi/agents?agent=" + url.QueryEscape(`{"mbox":"mailto:ann@example.com"}`)
	tests := []struct {
		name, token, method, path, body string
		want                            int
	}{
		{"write: no statement reads", write, "GET", "/xapi/statements", "", 403},
		{"write: no state", write, "PUT", state, `{"page":1}`, 403},
		{"read: no statement writes", read, "POST", "/xapi/statements", statement, 403},
		{"all: state", all, "PUT", state, `{"page":1}`, 204},
		{"read: state read", read, "GET", state, "", 200},
		{"read: no state write", read, "PUT", state, `{"page":2}`, 403},
		{"all: activity profile", all, "PUT", profile, `{"a":1}`, 204},
		{"read: activity profile", read, "GET", profile, "", 200},
		{"all: agent profile", all, "PUT", agentProfile, `{"a":1}`, 204},
		{"read: agent profile", read, "GET", agentProfile, "", 200},
		{"read: activities", read, "GET", activity, "", 200},
		{"read: agents", read, "GET", agents, "", 200},
		{"write: no activities", write, "GET", activity, "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.method == "PUT" && tt.path != state {
				hdr = []string{"If-None-Match", "*"}
			}
			st, h, b := n.bearer(tt.token, tt.method, tt.path, tt.body, hdr...)
			if st != tt.want {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, st, b, tt.want)
			}
			if st == 403 && !strings.Contains(h.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Errorf("403 without an insufficient_scope challenge: %q", h.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestBearerRefusals: tokens that do not authenticate are 401 with a
// Bearer challenge and counted; a revoked credential's tokens die at once
// on the process that revoked it and within the cache TTL on another that
// shares the store (and its signing key).
func TestBearerRefusals(t *testing.T) {
	db := openPebble(t)
	const ttl = 300 * time.Millisecond
	n1 := newNode(t, db, ttl, noSlowdown, withTokens(t, db))
	n2 := newNode(t, db, ttl, noSlowdown, withTokens(t, db))
	c := n1.newCred("acme", auth.ScopeAll)
	tok := n1.issue(c, "xapi:all")
	for _, n := range []*lrsNode{n1, n2} {
		if st, _, b := n.bearer(tok, "GET", "/xapi/statements", ""); st != 200 {
			t.Fatalf("a token issued by the first node: %d %s", st, b)
		}
	}

	for name, bad := range map[string]string{"garbage": "not-a-token", "tampered": tok[:len(tok)-2] + "AA", "empty": ""} {
		st, h, b := n1.bearer(bad, "GET", "/xapi/statements", "")
		if st != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s token: %d %q %s, want 401 with a Bearer invalid_token challenge", name, st, h.Get("WWW-Authenticate"), b)
		}
	}
	if got := counterValue(t, n1.reg, "lrs_auth_failures_total", "reason", "invalid_token"); got != 3 {
		t.Errorf("lrs_auth_failures_total{reason=invalid_token} = %v, want 3", got)
	}

	// Without credentials, the challenge offers both schemes.
	r, _ := http.NewRequest("GET", n1.srv.URL+"/xapi/statements", nil)
	r.Header.Set("X-Experience-API-Version", "2.0.0")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ch := strings.Join(res.Header.Values("WWW-Authenticate"), ", "); res.StatusCode != 401 || !strings.Contains(ch, "Basic ") || !strings.Contains(ch, "Bearer ") {
		t.Errorf("no credentials: %d, challenges %q; want 401 offering Basic and Bearer", res.StatusCode, ch)
	}

	n1.admin("POST", api.AdminPrefix+"/credentials/"+c.Key+"/revoke", "", 200, nil)
	revoked := time.Now()
	if st, h, _ := n1.bearer(tok, "GET", "/xapi/statements", ""); st != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "revoked") {
		t.Errorf("the revoking node: %d %q, want 401 at once", st, h.Get("WWW-Authenticate"))
	}
	for {
		sent := time.Since(revoked)
		st, _, _ := n2.bearer(tok, "GET", "/xapi/statements", "")
		if st == 401 {
			break
		}
		if sent > ttl+200*time.Millisecond {
			t.Fatalf("the other node accepted the revoked credential's token %v after the revocation (cache TTL %v)", sent, ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := counterValue(t, n1.reg, "lrs_auth_failures_total", "reason", "revoked"); got != 1 {
		t.Errorf("lrs_auth_failures_total{reason=revoked} = %v, want 1", got)
	}
}

// TestTokenFailuresSlowed: failed token requests count towards the same
// per-client slowdown as failed Basic attempts.
func TestTokenFailuresSlowed(t *testing.T) {
	db := openPebble(t)
	n := newNode(t, db, time.Hour, withTokens(t, db), func(o *api.Options) {
		o.Slowdown = api.SlowdownOptions{After: 3, Delay: time.Second, MaxDelay: 2 * time.Second}
	})
	c := n.newCred("acme", auth.ScopeAll)
	bad := tokenReq{form: url.Values{"grant_type": {"client_credentials"}, "client_id": {c.Key}, "client_secret": {"wrong-secret"}}}
	for i := range 2 {
		start := time.Now()
		if r := n.token(bad); r.status != 401 {
			t.Fatalf("wrong secret: %d", r.status)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("failure %d took %v: the first failures must not be delayed", i+1, d)
		}
	}
	if st, _ := n.xapi(c.Key, "wrong-secret", "GET", "/xapi/statements", ""); st != 401 { // the third, by Basic
		t.Fatalf("wrong Basic secret: %d", st)
	}
	start := time.Now()
	n.token(bad)
	if d := time.Since(start); d < time.Second {
		t.Errorf("4th failure within the window answered in %v, want ≥ 1s", d)
	}
	start = time.Now()
	if tok := n.issue(c, "xapi:write"); tok == "" || time.Since(start) > 500*time.Millisecond {
		t.Errorf("a successful token request from the same client took %v, want no delay", time.Since(start))
	}
	if got := counterValue(t, n.reg, "lrs_auth_failures_total", "reason", "wrong_secret"); got != 4 {
		t.Errorf("lrs_auth_failures_total{reason=wrong_secret} = %v, want 4", got)
	}
}

// versionHeader adds the xAPI version header to every request.
type versionHeader struct{ next http.RoundTripper }

func (v versionHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Experience-API-Version", "1.0.3")
	return v.next.RoundTrip(r)
}

// TestClientCredentialsLibrary: a client built on golang.org/x/oauth2's
// client credentials flow gets a token, in each client authentication
// style, and posts statements with it.
func TestClientCredentialsLibrary(t *testing.T) {
	db := openPebble(t)
	n := newNode(t, db, time.Second, noSlowdown, withTokens(t, db))
	c := n.newCred("acme", auth.ScopeStatementsWrite, auth.ScopeStatementsReadMine)
	for name, style := range map[string]oauth2.AuthStyle{"header": oauth2.AuthStyleInHeader, "params": oauth2.AuthStyleInParams, "autodetect": oauth2.AuthStyleAutoDetect} {
		t.Run(name, func(t *testing.T) {
			cfg := clientcredentials.Config{
				ClientID: c.Key, ClientSecret: c.Secret, TokenURL: n.srv.URL + api.TokenPath,
				Scopes: []string{"xapi:write"}, AuthStyle: style,
			}
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: versionHeader{http.DefaultTransport}})
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute || tok.Extra("scope") != "xapi:write" {
				t.Errorf("token: type %q, expires in %v, scope %v", tok.TokenType, time.Until(tok.Expiry), tok.Extra("scope"))
			}
			client := cfg.Client(ctx)
			id := uuid.NewString()
			res, err := client.Post(n.srv.URL+"/xapi/statements", "application/json", strings.NewReader(
				`{"id":"`+id+`","actor":{"mbox":"mailto:bo@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},"object":{"id":"http://example.com/quiz"}}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(string(b), id) {
				t.Fatalf("POST statements through the oauth2 client: %d %s", res.StatusCode, b)
			}
			// The token holds statements/write only, though the
			// credential could also read its own statements.
			res, err = client.Get(n.srv.URL + "/xapi/statements?statementId=" + id)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 403 {
				t.Errorf("GET with a xapi:write token: %d, want 403", res.StatusCode)
			}
		})
	}
}
