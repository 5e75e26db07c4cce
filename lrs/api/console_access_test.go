package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// expectedConsoleAccess is who may open a console page, written apart
// from the pages' mirrors: the home page is anyone's signed in, an
// organization's pages are its own, and the organizations' list and the
// accounts are the operators'.
func expectedConsoleAccess(method, path string) access {
	switch {
	case path == "/":
		return accessSignedIn
	case strings.HasPrefix(path, "/orgs/:org"):
		return accessOrg
	}
	return accessOperator
}

// consoleRoutesOf mounts the admin API and the console on a bare server
// and returns the console's routes and the admin API's.
func consoleRoutesOf(t *testing.T) ([]consoleRoute, []string) {
	t.Helper()
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	key, err := auth.LoadIdentityKey(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.NewIdentity(db, key, auth.IdentityOptions{Password: auth.PasswordParams{Memory: 64, Time: 1}})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	s := &server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.mountAdmin(e, &AdminOptions{Token: strings.Repeat("t", MinAdminTokenLen), Store: db, Identity: id}, nil); err != nil {
		t.Fatal(err)
	}
	var admin []string
	for _, r := range e.Routes() {
		if p, ok := strings.CutPrefix(r.Path, AdminPrefix); ok {
			admin = append(admin, r.Method+" "+p)
		}
	}
	return s.consoleRoutes, admin
}

// TestConsoleAccessEveryPage walks every page of the console as an
// operator, the organization's administrator, another organization's
// administrator and no one: each takes the rule of the admin route whose
// work it does, and that route exists.
func TestConsoleAccessEveryPage(t *testing.T) {
	routes, admin := consoleRoutesOf(t)
	if len(routes) < 25 {
		t.Fatalf("only %d console pages: %v", len(routes), routes)
	}
	f := newAccessFixture(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	allowed := map[string]func(access) bool{
		"operator": func(access) bool { return true },
		"admin-a":  func(a access) bool { return a != accessOperator },
		"admin-b":  func(a access) bool { return a == accessSignedIn },
	}
	for _, r := range routes {
		route := r.method + " " + r.path
		if r.mirror != "" && !slices.Contains(admin, r.mirror) {
			t.Errorf("%s does the work of %s, which the admin API does not serve", route, r.mirror)
		}
		m, p := r.rule()
		acc, _ := accessOf(m, p)
		if want := expectedConsoleAccess(r.method, r.path); acc != want {
			t.Errorf("%s is a %s page; this test expects a %s page (change both deliberately)", route, acc, want)
			continue
		}
		for _, who := range []string{"operator", "admin-a", "admin-b", "nobody"} {
			req := func(csrf string) *http.Request {
				var body io.Reader
				if r.method == http.MethodPost {
					body = strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode())
				}
				req, err := http.NewRequest(r.method, f.srv.URL+consolePath+fill(r.path), body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				return req
			}
			var rq *http.Request
			if who == "nobody" {
				rq = req("")
			} else {
				ck, csrf := f.session(t, who)
				rq = req(csrf)
				rq.AddCookie(ck)
			}
			res, err := client.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			switch {
			case who == "nobody":
				if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), consolePath+"/login") {
					t.Errorf("%s signed out: %d to %q, want the sign-in page", route, res.StatusCode, res.Header.Get("Location"))
				}
			case allowed[who](acc) && res.StatusCode == http.StatusForbidden:
				t.Errorf("%s (%s page) as %s: 403, want it allowed\n%s", route, acc, who, body)
			case !allowed[who](acc) && res.StatusCode != http.StatusForbidden:
				t.Errorf("%s (%s page) as %s: %d, want 403", route, acc, who, res.StatusCode)
			}
			if who != "nobody" && res.Header.Get("Content-Security-Policy") != consoleAppCSP {
				t.Errorf("%s as %s: CSP %q", route, who, res.Header.Get("Content-Security-Policy"))
			}
		}
		// A form without the page's token is refused before any rule.
		if r.method == http.MethodPost {
			ck, _ := f.session(t, "operator")
			rq, _ := http.NewRequest(r.method, f.srv.URL+consolePath+fill(r.path), strings.NewReader("csrf_token=forged"))
			rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rq.AddCookie(ck)
			res, err := client.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s with a forged CSRF token: %d, want 403", route, res.StatusCode)
			}
		}
	}
}
