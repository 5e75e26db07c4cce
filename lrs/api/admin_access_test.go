package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

const accessTestToken = "access-test-admin-token-0123456789abcdef"

// accessFixture is an LRS with two organizations, an operator and an
// administrator of each organization.
type accessFixture struct {
	srv      *httptest.Server
	id       *auth.Identity
	db       *pebbledb.DB
	accounts map[string]auth.Account // operator, admin-a, admin-b
	routes   []string                // "METHOD /path" under AdminPrefix
}

func newAccessFixture(t *testing.T) *accessFixture {
	t.Helper()
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	key, err := auth.LoadIdentityKey(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.NewIdentity(db, key, auth.IdentityOptions{Password: auth.PasswordParams{Memory: 64, Time: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.Wait)
	f := &accessFixture{id: id, db: db, accounts: map[string]auth.Account{}}
	for _, o := range []string{"org-a", "org-b"} {
		if err := db.CreateOrg(ctx, auth.Organization{ID: o, Name: strings.ToUpper(o), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range map[string]auth.NewAccount{
		"operator": {Email: "op@example.com", Role: auth.RoleOperator},
		"admin-a":  {Email: "a@example.com", Role: auth.RoleOrgAdmin, Org: "org-a"},
		"admin-b":  {Email: "b@example.com", Role: auth.RoleOrgAdmin, Org: "org-b"},
	} {
		a, err := id.CreateAccount(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		f.accounts[name] = a
	}
	authn := auth.NewAuthenticator(db, auth.AuthenticatorOptions{})
	e, h, err := build(Options{
		Service:   lrs.NewService(db, lrs.ServiceOptions{Activities: db, Agents: db}),
		Documents: lrs.NewDocuments(db, nil),
		Auth:      authn,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Slowdown:  SlowdownOptions{Disabled: true},
		Admin:     &AdminOptions{Token: accessTestToken, Store: db, HomePage: "http://lrs.test", Identity: id, Audit: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range e.Routes() {
		if p, ok := strings.CutPrefix(r.Path, AdminPrefix); ok && p != "/openapi.json" {
			f.routes = append(f.routes, r.Method+" "+p)
		}
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// session signs the account in (a fresh session per call) and returns its
// cookie and CSRF token.
func (f *accessFixture) session(t *testing.T, name string) (*http.Cookie, string) {
	t.Helper()
	tok, _, err := f.id.StartSession(context.Background(), f.accounts[name], "password", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: sessionCookieName, Value: tok}, f.id.CSRFToken(tok)
}

// fill gives a route's parameters values that reach the handler but change
// nothing: the organization org-a, and ids that do not exist.
func fill(route string) string {
	segs := strings.Split(route, "/")
	for i, s := range segs {
		switch {
		case s == ":org":
			segs[i] = "org-a"
		case strings.HasPrefix(s, ":"):
			segs[i] = "no-such-" + s[1:]
		}
	}
	return strings.Join(segs, "/")
}

// expectedAccess is who may use a route, written apart from adminAccess so
// that a change of the rule must be made twice: the routes that anyone or
// anyone signed in may use are listed, organization routes are those with
// :org but renaming and deleting the organization, and everything else is
// the operators'.
func expectedAccess(method, path string) access {
	route := method + " " + path
	switch route {
	case "POST /session", "GET /session/oidc", "GET /session/oidc/callback",
		"POST /invitations/accept", "POST /password-reset", "POST /password-reset/confirm":
		return accessPublic
	case "GET /session", "DELETE /session", "DELETE /sessions":
		return accessSignedIn
	case "PATCH /orgs/:org", "DELETE /orgs/:org":
		return accessOperator
	}
	if strings.Contains(path+"/", "/:org/") {
		return accessOrg
	}
	return accessOperator
}

// TestAdminAccessEveryRoute walks every admin route gin serves, as the
// operator token, an operator, the organization's administrator, another
// organization's administrator and no one, and checks the route's access
// rule: a route added without a rule fails here.
func TestAdminAccessEveryRoute(t *testing.T) {
	f := newAccessFixture(t)
	if len(f.routes) < 40 {
		t.Fatalf("only %d admin routes found: %q", len(f.routes), f.routes)
	}
	allowed := map[string]func(access) bool{
		"token":    func(access) bool { return true },
		"operator": func(access) bool { return true },
		"admin-a":  func(a access) bool { return a != accessOperator },
		"admin-b":  func(a access) bool { return a == accessSignedIn || a == accessPublic },
		"nobody":   func(a access) bool { return a == accessPublic },
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, route := range f.routes {
		method, path, _ := strings.Cut(route, " ")
		acc, listed := accessOf(method, path)
		if !listed {
			t.Errorf("%s has no access rule: list it in adminAccess (admin_access.go)", route)
			continue
		}
		if want := expectedAccess(method, path); acc != want {
			t.Errorf("%s is a %s route; this test expects a %s route (change both deliberately)", route, acc, want)
			continue
		}
		for _, who := range []string{"token", "operator", "admin-a", "admin-b", "nobody"} {
			req, err := http.NewRequest(method, f.srv.URL+AdminPrefix+fill(path), nil)
			if err != nil {
				t.Fatal(err)
			}
			if method != http.MethodGet && method != http.MethodDelete {
				req.Body = io.NopCloser(strings.NewReader("not JSON"))
				req.Header.Set("Content-Type", "application/json")
			}
			switch who {
			case "token":
				req.Header.Set("Authorization", "Bearer "+accessTestToken)
			case "nobody":
			default:
				ck, csrf := f.session(t, who)
				req.AddCookie(ck)
				req.Header.Set(CSRFHeader, csrf)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			refused := res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden
			want := allowed[who](acc)
			switch {
			case want && refused:
				t.Errorf("%s (%s route) as %s: %d %s, want it allowed", route, acc, who, res.StatusCode, body)
			case !want && who == "nobody" && res.StatusCode != http.StatusUnauthorized:
				t.Errorf("%s (%s route) without a session: %d %s, want 401", route, acc, res.StatusCode, body)
			case !want && who != "nobody" && res.StatusCode != http.StatusForbidden:
				t.Errorf("%s (%s route) as %s: %d %s, want 403", route, acc, who, res.StatusCode, body)
			}
		}
	}
	// Every rule names a served route (no stale entries).
	for k := range adminAccess {
		found := false
		for _, r := range f.routes {
			found = found || r == k
		}
		if !found {
			t.Errorf("adminAccess lists %s, which is not served", k)
		}
	}
}
