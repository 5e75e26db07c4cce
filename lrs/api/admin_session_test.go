package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/auth/mail"
	"github.com/lrs-project/lrs/auth/mail/mailtest"
	"github.com/lrs-project/lrs/forward/email"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

const testPassword = "correct horse battery staple"

// clock is a settable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// cheap Argon2id parameters: the tests check behaviour, not cost.
var testHash = auth.PasswordParams{Memory: 64, Time: 1}

type identityNode struct {
	*lrsNode
	id   *auth.Identity
	smtp *mailtest.Server
}

// newIdentityNode is an LRS process with accounts (and mail through a real
// SMTP listener when smtp is set).
func newIdentityNode(t *testing.T, db *pebbledb.DB, opts auth.IdentityOptions, smtp *mailtest.Server, tune ...func(*api.Options)) *identityNode {
	t.Helper()
	key, err := auth.LoadIdentityKey(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Password == (auth.PasswordParams{}) {
		opts.Password = testHash
	}
	id, err := auth.NewIdentity(db, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.Wait)
	var mailer api.AccountMailer
	if smtp != nil {
		sender, err := email.New(email.Settings{Host: smtp.Host, Port: smtp.Port, From: "lrs@example.com"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.New("LRS <lrs@example.com>", "http://lrs.test", sender)
		if err != nil {
			t.Fatal(err)
		}
		mailer = m
	}
	tune = append([]func(*api.Options){func(o *api.Options) {
		o.Admin.Identity = id
		o.Admin.Mailer = mailer
		o.Slowdown = api.SlowdownOptions{Disabled: true}
	}}, tune...)
	return &identityNode{lrsNode: newNode(t, db, time.Second, tune...), id: id, smtp: smtp}
}

// browser is a client with a cookie jar, as a browser or script is.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func (n *identityNode) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: n.t, base: n.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// do sends a request; header holds name, value pairs. The CSRF token is
// sent when known.
func (b *browser) do(method, path, body string, header ...string) (*http.Response, []byte) {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if b.csrf != "" {
		r.Header.Set(api.CSRFHeader, b.csrf)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res, out
}

func (b *browser) want(status int, method, path, body string, header ...string) []byte {
	b.t.Helper()
	res, out := b.do(method, path, body, header...)
	if res.StatusCode != status {
		b.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, out, status)
	}
	return out
}

type sessionOut struct {
	Via       string `json:"via"`
	Role      string `json:"role"`
	Org       string `json:"org"`
	CSRFToken string `json:"csrf_token"`
	Account   struct {
		ID, Email, Name, Role, Org string
	} `json:"account"`
}

// signIn signs the browser in and keeps the CSRF token.
func (b *browser) signIn(email, password string) sessionOut {
	b.t.Helper()
	var s sessionOut
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	if err := json.Unmarshal(b.want(http.StatusCreated, "POST", api.AdminPrefix+"/session", string(body)), &s); err != nil {
		b.t.Fatal(err)
	}
	b.csrf = s.CSRFToken
	return s
}

// newAccount creates an account with the operator token.
func (n *identityNode) newAccount(email, role, org string) string {
	n.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "role": role, "org": org, "password": testPassword, "name": "Name of " + email})
	var a struct{ ID string }
	n.admin("POST", api.AdminPrefix+"/accounts", string(body), http.StatusCreated, &a)
	return a.ID
}

func TestSessionSignInAndCSRF(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil)
	n.newCred("org-a", "all")
	n.newAccount("Op@Example.com", "operator", "")
	b := n.browser()

	// Wrong passwords, unknown emails: one answer.
	for _, body := range []string{`{"email":"op@example.com","password":"wrong password!"}`, `{"email":"nobody@example.com","password":"wrong password!"}`} {
		if res, out := b.do("POST", api.AdminPrefix+"/session", body); res.StatusCode != 401 || !strings.Contains(string(out), "the email or the password is wrong") {
			t.Errorf("sign-in %s: %d %s, want 401", body, res.StatusCode, out)
		}
	}
	res, _ := b.do("POST", api.AdminPrefix+"/session", `{"email":"OP@example.COM","password":"`+testPassword+`"}`)
	if res.StatusCode != 201 {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	ck := res.Cookies()
	if len(ck) != 1 || ck[0].Name != "lrs_session" || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || ck[0].Path != "/" || ck[0].Secure {
		t.Errorf("session cookie %+v: want lrs_session, HttpOnly, SameSite=Lax, Path=/, not Secure over http", ck)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("sign-in answer Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
	}
	s := b.signIn("op@example.com", testPassword)
	if s.Role != "operator" || s.Account.Email != "op@example.com" || s.CSRFToken == "" {
		t.Fatalf("session %+v", s)
	}
	var who sessionOut
	_ = json.Unmarshal(b.want(200, "GET", api.AdminPrefix+"/session", ""), &who)
	if who.Via != "session" || who.Account.Email != "op@example.com" || who.CSRFToken != s.CSRFToken {
		t.Errorf("GET /session = %+v", who)
	}

	// State-changing requests need the CSRF token, from this site.
	csrf := b.csrf
	b.csrf = ""
	b.want(403, "POST", api.AdminPrefix+"/orgs", `{"id":"org-x","name":"X"}`)
	b.want(403, "POST", api.AdminPrefix+"/orgs", `{"id":"org-x","name":"X"}`, api.CSRFHeader, "forged")
	b.csrf = csrf
	b.want(403, "POST", api.AdminPrefix+"/orgs", `{"id":"org-x","name":"X"}`, "Origin", "https://evil.example")
	b.want(403, "POST", api.AdminPrefix+"/orgs", `{"id":"org-x","name":"X"}`, "Sec-Fetch-Site", "cross-site")
	b.want(201, "POST", api.AdminPrefix+"/orgs", `{"id":"org-x","name":"X"}`, "Origin", n.srv.URL)
	b.want(200, "GET", api.AdminPrefix+"/orgs", "") // reads need no token

	// The audit log names the account.
	if !strings.Contains(n.audit.String(), `"who":"account:op@example.com","client":"127.0.0.1","action":"org.create"`) {
		t.Errorf("audit log lacks the account's org.create:\n%s", n.audit.String())
	}
	if !strings.Contains(n.audit.String(), `"action":"session.create","target":"op@example.com"`) {
		t.Errorf("audit log lacks the sign-in:\n%s", n.audit.String())
	}

	b.want(204, "DELETE", api.AdminPrefix+"/session", "")
	b.want(401, "GET", api.AdminPrefix+"/session", "")
	// A cross-site sign-in (login CSRF) is refused.
	b.want(403, "POST", api.AdminPrefix+"/session", `{"email":"op@example.com","password":"`+testPassword+`"}`, "Origin", "https://evil.example")

	if got := counterValue(t, n.reg, "lrs_admin_sign_ins_total", "method", "password", "outcome", "wrong_password"); got != 1 {
		t.Errorf("wrong_password sign-ins = %v, want 1", got)
	}
	if got := counterValue(t, n.reg, "lrs_admin_sign_ins_total", "method", "password", "outcome", "unknown_account"); got != 1 {
		t.Errorf("unknown_account sign-ins = %v, want 1", got)
	}
}

func TestSessionSecureCookie(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil, func(o *api.Options) { o.Admin.HomePage = "https://lrs.example" })
	n.newAccount("op@example.com", "operator", "")
	b := n.browser()
	res, _ := b.do("POST", api.AdminPrefix+"/session", `{"email":"op@example.com","password":"`+testPassword+`"}`, "Origin", "https://lrs.example")
	ck := res.Cookies()
	if res.StatusCode != 201 || len(ck) != 1 || ck[0].Name != "__Host-lrs_session" || !ck[0].Secure || !ck[0].HttpOnly {
		t.Fatalf("sign-in with an https public URL: %d, cookies %+v; want a Secure __Host- cookie", res.StatusCode, ck)
	}
}

func TestSessionSignOutEverywhere(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil)
	n.newAccount("op@example.com", "operator", "")
	laptop, phone, other := n.browser(), n.browser(), n.browser()
	laptop.signIn("op@example.com", testPassword)
	phone.signIn("op@example.com", testPassword)
	n.newAccount("op2@example.com", "operator", "")
	other.signIn("op2@example.com", testPassword)
	var out struct {
		SignedOut int `json:"signed_out"`
	}
	_ = json.Unmarshal(laptop.want(200, "DELETE", api.AdminPrefix+"/sessions", ""), &out)
	if out.SignedOut != 2 {
		t.Errorf("signed out %d sessions, want 2", out.SignedOut)
	}
	laptop.want(401, "GET", api.AdminPrefix+"/session", "")
	phone.want(401, "GET", api.AdminPrefix+"/session", "")
	other.want(200, "GET", api.AdminPrefix+"/session", "")
}

// TestSessionRevocationAcrossProcesses: two processes share the store; a
// sign-out, a disabled account and a role change on one are in force on
// the other within its cache TTL.
func TestSessionRevocationAcrossProcesses(t *testing.T) {
	db := openPebble(t)
	const ttl = 300 * time.Millisecond
	a := newIdentityNode(t, db, auth.IdentityOptions{CacheTTL: ttl}, nil)
	b := newIdentityNode(t, db, auth.IdentityOptions{CacheTTL: ttl}, nil)
	a.newCred("org-a", "all")
	a.newCred("org-b", "all")
	adminID := a.newAccount("admin@example.com", "org_admin", "org-a")
	onA := a.browser()
	onA.signIn("admin@example.com", testPassword)
	onB := &browser{t: t, c: onA.c, base: b.srv.URL, csrf: onA.csrf} // the same cookie, at the other process
	onB.want(200, "GET", api.AdminPrefix+"/orgs/org-a/credentials", "")

	within := func(what string, ok func() bool) {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > ttl+2*time.Second {
				t.Fatalf("%s: still in force on the other process after %s (cache TTL %s)", what, time.Since(start), ttl)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A role change (to another organization) follows.
	a.admin("PATCH", api.AdminPrefix+"/accounts/"+adminID, `{"org":"org-b"}`, 200, nil)
	within("moving the account to org-b", func() bool {
		res, _ := onB.do("GET", api.AdminPrefix+"/orgs/org-a/credentials", "")
		return res.StatusCode == 403
	})
	onB.want(200, "GET", api.AdminPrefix+"/orgs/org-b/credentials", "")
	// A sign-out follows.
	onA.want(204, "DELETE", api.AdminPrefix+"/session", "")
	onA.want(401, "GET", api.AdminPrefix+"/session", "") // at once where it was made
	within("the sign-out", func() bool {
		res, _ := onB.do("GET", api.AdminPrefix+"/session", "")
		return res.StatusCode == 401
	})
	// Disabling the account follows.
	onA.signIn("admin@example.com", testPassword)
	onB.csrf = onA.csrf
	onB.want(200, "GET", api.AdminPrefix+"/session", "")
	a.admin("PATCH", api.AdminPrefix+"/accounts/"+adminID, `{"disabled":true}`, 200, nil)
	within("disabling the account", func() bool {
		res, _ := onB.do("GET", api.AdminPrefix+"/session", "")
		return res.StatusCode == 401
	})
	if res, out := onA.do("POST", api.AdminPrefix+"/session", `{"email":"admin@example.com","password":"`+testPassword+`"}`); res.StatusCode != 403 || !strings.Contains(string(out), "disabled") {
		t.Errorf("sign-in of a disabled account: %d %s, want 403", res.StatusCode, out)
	}
}

func TestSessionExpiry(t *testing.T) {
	clk := &clock{t: time.Now()}
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{IdleTimeout: 10 * time.Minute, MaxAge: time.Hour,
		TouchInterval: time.Minute, CacheTTL: time.Nanosecond, Now: clk.Now}, nil)
	n.newAccount("op@example.com", "operator", "")
	b := n.browser()
	b.signIn("op@example.com", testPassword)
	// Used every 9 minutes, the session lives on, up to its absolute end.
	for range 6 {
		clk.Add(9 * time.Minute)
		b.want(200, "GET", api.AdminPrefix+"/session", "")
		n.id.Wait() // the touch is written
	}
	clk.Add(7 * time.Minute) // 61 minutes after sign-in
	b.want(401, "GET", api.AdminPrefix+"/session", "")

	b.signIn("op@example.com", testPassword)
	clk.Add(10*time.Minute + time.Second) // idle too long
	b.want(401, "GET", api.AdminPrefix+"/session", "")
}

func TestSignInThrottling(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{Throttle: auth.ThrottleOptions{Failures: 3, Base: time.Minute, ClientFailures: 8}}, nil)
	n.newAccount("op@example.com", "operator", "")
	b := n.browser()
	for _, email := range []string{"op@example.com", "nobody@example.com"} {
		for i := range 3 {
			if res, _ := b.do("POST", api.AdminPrefix+"/session", `{"email":"`+email+`","password":"wrong password!"}`); res.StatusCode != 401 {
				t.Fatalf("%s failure %d: %d, want 401", email, i, res.StatusCode)
			}
		}
		// Throttled now, even with the right password: the same for an
		// email with an account and one without.
		res, out := b.do("POST", api.AdminPrefix+"/session", `{"email":"`+email+`","password":"`+testPassword+`"}`)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s after 3 failures: %d %s (Retry-After %q), want 429 with Retry-After", email, res.StatusCode, out, res.Header.Get("Retry-After"))
		}
	}
	// Per client address: 8 failures over any emails, then refused.
	for i := range 2 {
		b.do("POST", api.AdminPrefix+"/session", `{"email":"x`+string(rune('a'+i))+`@example.com","password":"wrong password!"}`)
	}
	if res, _ := b.do("POST", api.AdminPrefix+"/session", `{"email":"new@example.com","password":"wrong password!"}`); res.StatusCode != 429 {
		t.Errorf("after 8 failures from one address: %d, want 429", res.StatusCode)
	}
	for outcome, want := range map[string]float64{"throttled_account": 2, "throttled_client": 1, "wrong_password": 3, "unknown_account": 5} {
		if got := counterValue(t, n.reg, "lrs_admin_sign_ins_total", "method", "password", "outcome", outcome); got != want {
			t.Errorf("sign-ins %s = %v, want %v", outcome, got, want)
		}
	}
}

func TestInvitationByMail(t *testing.T) {
	smtp := mailtest.NewServer(t)
	clk := &clock{t: time.Now()}
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{InvitationTTL: time.Hour, Now: clk.Now}, smtp)
	n.newCred("org-a", "all")
	n.newAccount("op@example.com", "operator", "")
	op := n.browser()
	op.signIn("op@example.com", testPassword)

	var inv struct {
		ID        string `json:"id"`
		MailSent  *bool  `json:"mail_sent"`
		AcceptURL string `json:"accept_url"`
		CreatedBy string `json:"created_by"`
	}
	_ = json.Unmarshal(op.want(201, "POST", api.AdminPrefix+"/invitations", `{"email":"Ada@Example.com","name":"Ada","role":"org_admin","org":"org-a"}`), &inv)
	if inv.MailSent == nil || !*inv.MailSent || inv.AcceptURL != "" || inv.CreatedBy != "account:op@example.com" {
		t.Errorf("invitation %+v: want mailed, without its link in the answer", inv)
	}
	op.want(409, "POST", api.AdminPrefix+"/invitations", `{"email":"op@example.com","role":"operator"}`)
	op.want(400, "POST", api.AdminPrefix+"/invitations", `{"email":"x@example.com","role":"org_admin","org":"no-such-org"}`)
	m := smtp.Wait(t, 10*time.Second)
	link := m.Link()
	if len(m.To) != 1 || m.To[0] != "ada@example.com" || !strings.HasPrefix(link, "http://lrs.test/console/accept?token=") {
		t.Fatalf("invitation mail to %v with link %q:\n%s", m.To, link, m.Body())
	}
	if !strings.Contains(m.Body(), `the organization "org-a"`) || !strings.Contains(m.Body(), "op@example.com invites you") {
		t.Errorf("invitation mail body:\n%s", m.Body())
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")
	if strings.Contains(string(op.want(200, "GET", api.AdminPrefix+"/invitations", "")), token) {
		t.Error("the invitation list shows the token")
	}

	ada := n.browser()
	ada.want(400, "POST", api.AdminPrefix+"/invitations/accept", `{"token":"`+token+`","password":"short"}`)
	var s sessionOut
	_ = json.Unmarshal(ada.want(201, "POST", api.AdminPrefix+"/invitations/accept", `{"token":"`+token+`","password":"`+testPassword+`"}`), &s)
	if s.Account.Email != "ada@example.com" || s.Role != "org_admin" || s.Org != "org-a" || s.Account.Name != "Ada" {
		t.Errorf("accepted invitation's session %+v", s)
	}
	ada.csrf = s.CSRFToken
	ada.want(200, "GET", api.AdminPrefix+"/orgs/org-a/credentials", "")
	// Single use.
	n.browser().want(400, "POST", api.AdminPrefix+"/invitations/accept", `{"token":"`+token+`","password":"`+testPassword+`"}`)
	// Expiring.
	op.want(201, "POST", api.AdminPrefix+"/invitations", `{"email":"late@example.com","role":"operator"}`)
	late := smtp.Wait(t, 10*time.Second).Link()
	clk.Add(time.Hour)
	lu, _ := url.Parse(late)
	if _, out := n.browser().do("POST", api.AdminPrefix+"/invitations/accept", `{"token":"`+lu.Query().Get("token")+`","password":"`+testPassword+`"}`); !strings.Contains(string(out), "expired") {
		t.Errorf("expired invitation: %s", out)
	}
}

func TestInvitationWithoutMail(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil)
	var inv struct {
		ID        string `json:"id"`
		MailSent  *bool  `json:"mail_sent"`
		AcceptURL string `json:"accept_url"`
	}
	n.admin("POST", api.AdminPrefix+"/invitations", `{"email":"op@example.com","role":"operator"}`, 201, &inv)
	if inv.MailSent == nil || *inv.MailSent || !strings.HasPrefix(inv.AcceptURL, "http://lrs.test/console/accept?token=") {
		t.Fatalf("invitation without SMTP %+v: want its link in the answer", inv)
	}
	n.admin("DELETE", api.AdminPrefix+"/invitations/"+inv.ID, "", 204, nil)
	n.admin("DELETE", api.AdminPrefix+"/invitations/"+inv.ID, "", 404, nil)
	u, _ := url.Parse(inv.AcceptURL)
	n.browser().want(400, "POST", api.AdminPrefix+"/invitations/accept", `{"token":"`+u.Query().Get("token")+`","password":"`+testPassword+`"}`)
}

func TestPasswordResetByMail(t *testing.T) {
	smtp := mailtest.NewServer(t)
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{Now: clk.Now}, smtp)
	n.newAccount("op@example.com", "operator", "")
	old := n.browser()
	old.signIn("op@example.com", testPassword)

	// The same answer for an email without an account; no mail for it.
	anon := n.browser()
	unknown := anon.want(202, "POST", api.AdminPrefix+"/password-reset", `{"email":"nobody@example.com"}`)
	known := anon.want(202, "POST", api.AdminPrefix+"/password-reset", `{"email":"OP@example.com"}`)
	if string(unknown) != string(known) {
		t.Errorf("reset answers differ: %s and %s", unknown, known)
	}
	m := smtp.Wait(t, 10*time.Second)
	if m.To[0] != "op@example.com" {
		t.Fatalf("reset mail to %v, want op@example.com", m.To)
	}
	u, _ := url.Parse(m.Link())
	if u.Path != "/console/reset" {
		t.Fatalf("reset link %q", m.Link())
	}
	token := u.Query().Get("token")
	const newPassword = "a new and longer passphrase"
	anon.want(400, "POST", api.AdminPrefix+"/password-reset/confirm", `{"token":"`+token+`","password":"short"}`)
	anon.want(204, "POST", api.AdminPrefix+"/password-reset/confirm", `{"token":"`+token+`","password":"`+newPassword+`"}`)
	anon.want(400, "POST", api.AdminPrefix+"/password-reset/confirm", `{"token":"`+token+`","password":"`+newPassword+`"}`)
	old.want(401, "GET", api.AdminPrefix+"/session", "") // signed out everywhere
	anon.want(401, "POST", api.AdminPrefix+"/session", `{"email":"op@example.com","password":"`+testPassword+`"}`)
	anon.signIn("op@example.com", newPassword)

	// One reset mail a minute per account: a second request at once is
	// answered alike but mails nothing; two minutes later it mails again.
	anon.want(202, "POST", api.AdminPrefix+"/password-reset", `{"email":"op@example.com"}`)
	first := smtp.Wait(t, 10*time.Second)
	if again := anon.want(202, "POST", api.AdminPrefix+"/password-reset", `{"email":"op@example.com"}`); string(again) != string(known) {
		t.Errorf("a throttled reset request is answered %s", again)
	}
	clk.Add(2 * time.Minute)
	anon.want(202, "POST", api.AdminPrefix+"/password-reset", `{"email":"op@example.com"}`)
	second := smtp.Wait(t, 10*time.Second)
	if !strings.Contains(first.Body(), "until 2026-03-01 11:00 UTC") || !strings.Contains(second.Body(), "until 2026-03-01 11:02 UTC") {
		t.Errorf("the mails after the throttled request are not the first and the later one:\n%s\n---\n%s", first.Body(), second.Body())
	}
	select {
	case extra := <-smtp.Mail:
		t.Errorf("an unexpected mail to %v", extra.To)
	default:
	}
}

func TestAccountAdministration(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil)
	n.newCred("org-a", "all")
	opID := n.newAccount("op@example.com", "operator", "")
	op := n.browser()
	op.signIn("op@example.com", testPassword)
	for _, tc := range []struct{ body, want string }{
		{`{"email":"x","role":"operator"}`, "email"},
		{`{"email":"x@example.com","role":"king"}`, "role"},
		{`{"email":"x@example.com","role":"org_admin"}`, "org"},
		{`{"email":"x@example.com","role":"operator","org":"org-a"}`, "org"},
		{`{"email":"x@example.com","role":"operator","password":"short"}`, "password: must be at least 12"},
		{`{"email":"x@example.com","role":"org_admin","org":"nope"}`, "no organization"},
	} {
		if _, out := op.do("POST", api.AdminPrefix+"/accounts", tc.body); !strings.Contains(string(out), tc.want) {
			t.Errorf("create %s: %s, want an error naming %q", tc.body, out, tc.want)
		}
	}
	op.want(409, "POST", api.AdminPrefix+"/accounts", `{"email":"OP@example.com","role":"operator"}`)
	op.want(409, "DELETE", api.AdminPrefix+"/accounts/"+opID, "")
	op.want(409, "PATCH", api.AdminPrefix+"/accounts/"+opID, `{"disabled":true}`)
	var a struct {
		ID          string
		HasPassword bool `json:"has_password"`
	}
	_ = json.Unmarshal(op.want(201, "POST", api.AdminPrefix+"/accounts", `{"email":"sso@example.com","role":"org_admin","org":"org-a"}`), &a)
	if a.HasPassword {
		t.Error("an account created without a password has one")
	}
	n.browser().want(401, "POST", api.AdminPrefix+"/session", `{"email":"sso@example.com","password":"`+testPassword+`"}`)
	op.want(200, "PATCH", api.AdminPrefix+"/accounts/"+a.ID, `{"password":"`+testPassword+`"}`)
	other := n.browser()
	other.signIn("sso@example.com", testPassword)
	var out struct {
		SignedOut int `json:"signed_out"`
	}
	_ = json.Unmarshal(op.want(200, "DELETE", api.AdminPrefix+"/accounts/"+a.ID+"/sessions", ""), &out)
	if out.SignedOut != 1 {
		t.Errorf("signed out %d sessions, want 1", out.SignedOut)
	}
	other.want(401, "GET", api.AdminPrefix+"/session", "")
	op.want(204, "DELETE", api.AdminPrefix+"/accounts/"+a.ID, "")
	op.want(404, "GET", api.AdminPrefix+"/accounts/"+a.ID, "")
	if b := op.want(200, "GET", api.AdminPrefix+"/accounts", ""); strings.Contains(string(b), "password_hash") || strings.Contains(string(b), "argon2") {
		t.Errorf("the account list shows password hashes: %s", b)
	}
}

// TestOrgAdminCredentials: an organization's administrator manages its
// credentials under /orgs/{org}, and no other organization's.
func TestOrgAdminCredentials(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil)
	credA := n.newCred("org-a", "all")
	credB := n.newCred("org-b", "all")
	n.newAccount("a@example.com", "org_admin", "org-a")
	b := n.browser()
	b.signIn("a@example.com", testPassword)
	b.want(200, "GET", api.AdminPrefix+"/orgs/org-a/credentials/"+credA.Key, "")
	b.want(404, "GET", api.AdminPrefix+"/orgs/org-a/credentials/"+credB.Key, "") // another organization's key under ours
	b.want(403, "GET", api.AdminPrefix+"/orgs/org-b/credentials/"+credB.Key, "")
	b.want(403, "GET", api.AdminPrefix+"/credentials/"+credA.Key, "")
	b.want(403, "GET", api.AdminPrefix+"/orgs", "")
	b.want(200, "GET", api.AdminPrefix+"/orgs/org-a", "")
	b.want(403, "DELETE", api.AdminPrefix+"/orgs/org-a", "")
	var c credOut
	_ = json.Unmarshal(b.want(201, "POST", api.AdminPrefix+"/orgs/org-a/credentials", `{"name":"mine","scopes":["statements/write"]}`), &c)
	b.want(200, "POST", api.AdminPrefix+"/orgs/org-a/credentials/"+c.Key+"/revoke", "")
	if st, _ := n.xapi(c.Key, c.Secret, "GET", "/xapi/statements", ""); st != 401 {
		t.Errorf("a credential revoked by its organization's administrator: %d, want 401", st)
	}
	b.want(204, "DELETE", api.AdminPrefix+"/orgs/org-a/credentials/"+c.Key, "")
	b.want(403, "POST", api.AdminPrefix+"/orgs/org-b/credentials", `{"name":"theirs","scopes":["all"]}`)
}
