package api_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/api"
)

// form posts a form as a browser on this site does.
func (b *browser) form(path string, v url.Values, header ...string) (*http.Response, string) {
	b.t.Helper()
	r, err := http.NewRequest("POST", b.base+path, strings.NewReader(v.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestConsolePages(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil)
	n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"org-a","name":"<b>Acme</b>"}`, 201, nil)
	n.newAccount("a@example.com", "org_admin", "org-a")
	b := n.browser()

	res, page := b.do("GET", "/console/", "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
		t.Fatalf("console signed out: %d to %q, want the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}
	res, page = b.do("GET", "/console/login", "")
	csp := res.Header.Get("Content-Security-Policy")
	if res.StatusCode != 200 || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") ||
		res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(string(page), `action="/console/login"`) {
		t.Errorf("sign-in page: %d, CSP %q:\n%s", res.StatusCode, csp, page)
	}
	if res, css := b.do("GET", "/console/assets/console.css", ""); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || len(css) < 100 {
		t.Errorf("style sheet: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// A wrong password shows the error and keeps the (escaped) email.
	res, html := b.form("/console/login", url.Values{"email": {`a@example.com"><script>`}, "password": {"wrong"}})
	if res.StatusCode != 401 || !strings.Contains(html, "The email or the password is wrong.") || strings.Contains(html, `"><script>`) {
		t.Errorf("failed sign-in page: %d\n%s", res.StatusCode, html)
	}
	// A cross-site post is refused.
	if res, _ := b.form("/console/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}}, "Sec-Fetch-Site", "cross-site"); res.StatusCode != 403 {
		t.Errorf("cross-site sign-in: %d, want 403", res.StatusCode)
	}
	res, _ = b.form("/console/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, home := b.do("GET", "/console/", "")
	if !strings.Contains(string(home), "a@example.com") || !strings.Contains(string(home), "&lt;b&gt;Acme&lt;/b&gt;") {
		t.Errorf("landing page:\n%s", home)
	}
	// Sign-out needs the page's CSRF token.
	if res, _ := b.form("/console/logout", url.Values{}); res.StatusCode != 403 {
		t.Errorf("sign-out without the CSRF token: %d, want 403", res.StatusCode)
	}
	b.want(200, "GET", api.AdminPrefix+"/session", "")
	i := strings.Index(string(home), `name="csrf_token" value="`)
	if i < 0 {
		t.Fatalf("no CSRF token on the landing page:\n%s", home)
	}
	csrf := string(home)[i+len(`name="csrf_token" value="`):]
	csrf = csrf[:strings.IndexByte(csrf, '"')]
	if res, _ := b.form("/console/logout", url.Values{"csrf_token": {csrf}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login?done=signed-out" {
		t.Errorf("sign-out: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	b.want(401, "GET", api.AdminPrefix+"/session", "")

	// The forgot-password page answers the same for any email.
	_, known := b.form("/console/forgot", url.Values{"email": {"a@example.com"}})
	_, unknown := b.form("/console/forgot", url.Values{"email": {"nobody@example.com"}})
	if known != unknown || !strings.Contains(known, "If an account has this email") {
		t.Errorf("forgot-password answers differ or lack the notice:\n%s\n---\n%s", known, unknown)
	}
	// A password page with a used or unknown token says so.
	res, html = b.form("/console/reset", url.Values{"token": {"not-a-token"}, "password": {testPassword}})
	if res.StatusCode != 400 || !strings.Contains(html, "This link is not valid") {
		t.Errorf("reset with an unknown token: %d\n%s", res.StatusCode, html)
	}
}

func TestConsoleFormLimits(t *testing.T) {
	n := newIdentityNode(t, openPebble(t), auth.IdentityOptions{}, nil)
	n.newAccount("a@example.com", "operator", "")
	b := n.browser()
	res, _ := b.form("/console/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}, "pad": {strings.Repeat("x", 100<<10)}})
	if res.StatusCode == http.StatusSeeOther {
		t.Error("a 100 KiB sign-in form was accepted")
	}
	// An address the validator lets through but mail parsing refuses is a
	// 400, not a 500.
	for _, e := range []string{"a..b@example.com", "a@b@example.com", "A <a@example.com>"} {
		body := `{"email":"` + e + `","role":"operator"}`
		if res, out := b.do("POST", api.AdminPrefix+"/accounts", body, "Authorization", "Bearer "+adminToken); res.StatusCode != 400 || !strings.Contains(string(out), "email") {
			t.Errorf("email %q: %d %s, want a 400 naming the email", e, res.StatusCode, out)
		}
	}
}
