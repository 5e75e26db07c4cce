package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

// An in-process OpenID provider for the single sign-on tests: zitadel/oidc's
// provider (package op, with the storage and login page of its example
// server), on a local port, with the users and clients a test registers.

type testUsers map[string]*storage.User // by id

func (u testUsers) GetUserByID(id string) *storage.User { return u[id] }
func (u testUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u testUsers) ExampleClientID() string { return "service" }

type provider struct {
	t       *testing.T
	srv     *httptest.Server
	issuer  string
	clients map[string]*storage.Client

	mu   sync.Mutex
	swap string // when set, the id_token every token answer carries instead of its own
}

// newProvider starts a provider whose users are ada (ada@example.com) and
// bob (bob@example.com), each with the password "<name>-password".
func newProvider(t *testing.T) *provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{t: t, issuer: "http://" + ln.Addr().String(), clients: map[string]*storage.Client{}}
	users := testUsers{}
	for _, name := range []string{"ada", "bob"} {
		users[name+"-id"] = &storage.User{ID: name + "-id", Username: name, Password: name + "-password",
			FirstName: strings.ToUpper(name[:1]) + name[1:], LastName: "Tester", Email: name + "@example.com",
			EmailVerified: true, PreferredLanguage: language.English}
	}
	op := exampleop.SetupServer(p.issuer, storage.NewStorageWithClients(users, p.clients), nil, false)
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		swap := p.swap
		p.mu.Unlock()
		if swap == "" || r.URL.Path != "/oauth/token" {
			op.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		op.ServeHTTP(rec, r)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err == nil && answer["id_token"] != nil {
			answer["id_token"] = swap
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(answer)
	}))
	p.srv.Listener.Close()
	p.srv.Listener = ln
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// register adds a confidential client with a redirect URI (before any
// request uses it).
func (p *provider) register(id, secret, redirect string) {
	p.clients[id] = storage.WebClient(id, secret, redirect)
}

func (p *provider) setSwap(idToken string) {
	p.mu.Lock()
	p.swap = idToken
	p.mu.Unlock()
}

// noFollow is an HTTP client that keeps cookies and returns redirects.
func noFollow() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// login signs a user in at the provider, from an authorization request URL,
// and returns the URL the provider redirects back to (not requested).
func (p *provider) login(t *testing.T, c *http.Client, authorize, username string) *url.URL {
	t.Helper()
	res := get(t, c, authorize)
	loc, err := res.Location()
	if err != nil {
		t.Fatalf("authorization request %s: %d, no redirect to the login page", authorize, res.StatusCode)
	}
	id := loc.Query().Get("authRequestID")
	form := url.Values{"id": {id}, "username": {username}, "password": {username + "-password"}}
	res, err = c.PostForm(p.issuer+"/login/username", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for range 5 { // the provider's own redirects, up to the client's
		loc, err = res.Location()
		if err != nil {
			t.Fatalf("login of %s: %d, no redirect", username, res.StatusCode)
		}
		if !strings.HasPrefix(loc.String(), p.issuer) {
			return loc
		}
		res = get(t, c, loc.String())
	}
	t.Fatalf("login of %s: too many redirects", username)
	return nil
}

// idTokenFor runs a whole flow for another client and returns its ID token.
func (p *provider) idTokenFor(t *testing.T, client, secret, redirect, nonce, username string) string {
	t.Helper()
	c := noFollow()
	q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"x"}, "nonce": {nonce}}
	back := p.login(t, c, p.issuer+"/auth?"+q.Encode(), username)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {redirect}}
	req, _ := http.NewRequest("POST", p.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token for %s: %d %s", client, res.StatusCode, b)
	}
	return tok.IDToken
}

// ssoLRS boots lrs with the provider as its deployment provider (email
// claim) and as org-b's own provider (the preferred_username claim, bob
// mapped to an administrator), and registers lrs as the provider's client.
func ssoLRS(t *testing.T, p *provider) *proc {
	t.Helper()
	orgFile := filepath.Join(t.TempDir(), "org-providers.json")
	orgs, _ := json.Marshal([]map[string]any{{"org": "org-b", "issuer": p.issuer, "client_id": "lrs-org-b", "client_secret": "org-b-secret",
		"claim": "preferred_username", "values": []string{"bob"}}})
	if err := os.WriteFile(orgFile, orgs, 0o600); err != nil {
		t.Fatal(err)
	}
	l := startLRS(t, "LRS_DATA_DIR="+t.TempDir(), "LRS_ADMIN_TOKEN="+testAdminToken,
		"LRS_OIDC_ISSUER="+p.issuer, "LRS_OIDC_CLIENT_ID=lrs", "LRS_OIDC_CLIENT_SECRET=lrs-secret",
		"LRS_OIDC_ORG_PROVIDERS="+orgFile)
	callback := l.base + "/admin/v1/session/oidc/callback"
	p.register("lrs", "lrs-secret", callback)
	p.register("lrs-org-b", "org-b-secret", callback)
	p.register("other", "other-secret", callback)
	return l
}

// adminJSON sends an admin request with the operator token.
func adminJSON(t *testing.T, base, method, path, body string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/admin/v1"+path, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	return b
}

// startSSO begins a sign-in at lrs and logs in at the provider; it returns
// the callback URL to lrs with its code and state (not requested), and the
// nonce lrs asked for.
func startSSO(t *testing.T, l *proc, p *provider, c *http.Client, providerName, username string) (*url.URL, string) {
	t.Helper()
	res := get(t, c, l.base+"/admin/v1/session/oidc?provider="+providerName)
	loc, err := res.Location()
	if err != nil || !strings.HasPrefix(loc.String(), p.issuer) {
		t.Fatalf("sign-in start: %d %v, want a redirect to the provider", res.StatusCode, loc)
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request without PKCE, state or nonce: %s", loc)
	}
	return p.login(t, c, loc.String(), username), q.Get("nonce")
}

// finish requests the callback and returns where lrs sends the browser.
func finish(t *testing.T, c *http.Client, callback *url.URL) string {
	t.Helper()
	res := get(t, c, callback.String())
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d, want 303", res.StatusCode)
	}
	return res.Header.Get("Location")
}

func withQuery(u *url.URL, k, v string) *url.URL {
	c := *u
	q := c.Query()
	q.Set(k, v)
	c.RawQuery = q.Encode()
	return &c
}

// whoAmI returns the signed-in account's email ("" when not signed in).
func whoAmI(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	res, err := c.Get(base + "/admin/v1/session")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s struct {
		Account struct{ Email, Role, Org string }
	}
	_ = json.NewDecoder(res.Body).Decode(&s)
	return s.Account.Email
}

// TestSingleSignOnRefusals: the OpenID Connect flow against a real
// provider refuses a tampered state, a replayed code and an ID token for
// another audience, signs in an existing account by its verified email,
// and maps an organization provider's claim to that organization's
// administrator.
func TestSingleSignOnRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	p := newProvider(t)
	l := ssoLRS(t, p)
	adminJSON(t, l.base, "POST", "/orgs", `{"id":"org-a","name":"Org A"}`, 201)
	adminJSON(t, l.base, "POST", "/orgs", `{"id":"org-b","name":"Org B"}`, 201)
	adminJSON(t, l.base, "POST", "/accounts", `{"email":"ada@example.com","role":"org_admin","org":"org-a"}`, 201)

	// A tampered state is refused before any code is exchanged.
	c := noFollow()
	back, _ := startSSO(t, l, p, c, "sso", "ada")
	if got := finish(t, c, withQuery(back, "state", back.Query().Get("state")+"x")); got != "/console/login?error=state" {
		t.Errorf("tampered state: sent to %q, want the sign-in page with error=state", got)
	}
	if who := whoAmI(t, c, l.base); who != "" {
		t.Fatalf("signed in as %s after a tampered state", who)
	}

	// The untampered flow signs ada in.
	c = noFollow()
	back, _ = startSSO(t, l, p, c, "sso", "ada")
	if got := finish(t, c, back); got != "/console/" {
		t.Fatalf("sign-in: sent to %q, want /console/", got)
	}
	if who := whoAmI(t, c, l.base); who != "ada@example.com" {
		t.Fatalf("signed in as %q, want ada@example.com", who)
	}
	// Replaying its code in a new sign-in (new state, the old code) is refused.
	replay := noFollow()
	fresh, _ := startSSO(t, l, p, replay, "sso", "ada")
	if got := finish(t, replay, withQuery(fresh, "code", back.Query().Get("code"))); got != "/console/login?error=code" {
		t.Errorf("replayed code: sent to %q, want error=code", got)
	}
	if who := whoAmI(t, replay, l.base); who != "" {
		t.Errorf("signed in as %s with a replayed code", who)
	}

	// An ID token the provider issued to another client (right nonce, right
	// signature, wrong audience) is refused.
	c = noFollow()
	back, nonce := startSSO(t, l, p, c, "sso", "ada")
	p.setSwap(p.idTokenFor(t, "other", "other-secret", l.base+"/admin/v1/session/oidc/callback", nonce, "ada"))
	got := finish(t, c, back)
	p.setSwap("")
	if got != "/console/login?error=token" {
		t.Errorf("ID token for another audience: sent to %q, want error=token", got)
	}
	if who := whoAmI(t, c, l.base); who != "" {
		t.Errorf("signed in as %s with another audience's ID token", who)
	}
	if !strings.Contains(l.out(), `expected audience \"lrs\"`) {
		t.Errorf("the refusal is not logged as an audience mismatch:\n%s", grepLines(l.out(), "OpenID Connect"))
	}

	// bob has no account: the deployment provider (email claim) refuses
	// him; org-b's provider maps his username to an administrator of org-b.
	c = noFollow()
	back, _ = startSSO(t, l, p, c, "sso", "bob")
	if got := finish(t, c, back); got != "/console/login?error=account" {
		t.Errorf("bob through the deployment provider: sent to %q, want error=account", got)
	}
	back, _ = startSSO(t, l, p, c, "org-b", "bob")
	if got := finish(t, c, back); got != "/console/" {
		t.Fatalf("bob through org-b's provider: sent to %q, want /console/", got)
	}
	var accounts struct {
		Accounts []struct{ Email, Role, Org string }
	}
	_ = json.Unmarshal(adminJSON(t, l.base, "GET", "/accounts", "", 200), &accounts)
	found := false
	for _, a := range accounts.Accounts {
		found = found || a.Email == "bob@example.com" && a.Role == "org_admin" && a.Org == "org-b"
	}
	if !found {
		t.Errorf("no org_admin account of org-b for bob: %+v", accounts.Accounts)
	}
	// ada (an administrator of org-a) cannot sign in through org-b's provider.
	c = noFollow()
	back, _ = startSSO(t, l, p, c, "org-b", "ada")
	if got := finish(t, c, back); got != "/console/login?error=account" {
		t.Errorf("ada through org-b's provider: sent to %q, want error=account", got)
	}
}
