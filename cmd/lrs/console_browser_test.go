package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser tests drive the console in headless Chromium (Debian's chromium
// package; make test installs it and sets LRS_TEST_REQUIRE_BROWSER=1, so
// that a missing browser fails the suite instead of skipping it). One
// browser serves every test of this binary; each test gets its own
// browser context (its own cookies).

var browser struct {
	once   sync.Once
	ctx    context.Context // the browser's
	cancel func()
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
		_ = os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// newTab returns a context driving a fresh browser context of the shared
// browser, ended with the test.
func newTab(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("LRS_TEST_REQUIRE_BROWSER") != "" {
			t.Fatal("LRS_TEST_REQUIRE_BROWSER is set but chromium is not installed (make test installs it: apt-get install chromium)")
		}
		t.Skip("chromium is not installed (make test installs it)")
	}
	browser.once.Do(func() {
		if browser.dir, browser.err = os.MkdirTemp("", "lrs-chromium"); browser.err != nil {
			return
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path),
			chromedp.Flag("headless", true),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.UserDataDir(browser.dir),
		)
		bctx, bcancel := chromedp.NewContext(actx)
		if browser.err = chromedp.Do(bctx); browser.err != nil { // starts the browser
			bcancel()
			acancel()
			return
		}
		browser.ctx = bctx
		browser.cancel = func() { bcancel(); acancel() }
	})
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancel() })
	return ctx
}

func drive(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		url, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", what, url, err)
	}
}

// text returns the text of the element with the id, once it is visible.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
		url, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("wait for #%s at %s: %v; the page says:\n%s", id, url, err, body)
	}
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("read #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// TestConsoleSignInBrowser: in a real browser, an operator signs in with a
// password and out; an organization's administrator signs in through the
// OpenID provider, lands on their organization's page (its name, a
// script, shown as text) and signs out.
func TestConsoleSignInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary and a browser")
	}
	p := newProvider(t)
	l := ssoLRS(t, p)
	const orgName = `<script>document.title="owned"</script> & Co`
	adminJSON(t, l.base, "POST", "/orgs", fmt.Sprintf(`{"id":"org-a","name":%q}`, orgName), 201)
	adminJSON(t, l.base, "POST", "/accounts", `{"email":"op@example.com","role":"operator","password":"a long operator passphrase"}`, 201)
	adminJSON(t, l.base, "POST", "/accounts", `{"email":"ada@example.com","role":"org_admin","org":"org-a"}`, 201)

	// Password sign-in, a wrong password first.
	ctx := newTab(t)
	drive(t, ctx, "open the sign-in page",
		chromedp.Navigate(l.base+"/console/"), // not signed in: sent to the sign-in page
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "op@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "not the passphrase"),
		chromedp.Click(chromedp.ID("sign-in")))
	if got := text(t, ctx, "error"); !strings.Contains(got, "The email or the password is wrong") {
		t.Errorf("wrong password: the page says %q", got)
	}
	drive(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("password"), "a long operator passphrase"),
		chromedp.Click(chromedp.ID("sign-in")))
	if got := text(t, ctx, "signed-in"); !strings.Contains(got, "op@example.com") {
		t.Errorf("landing page: %q, want signed in as op@example.com", got)
	}
	if got := text(t, ctx, "role"); !strings.Contains(got, "Operator") {
		t.Errorf("landing page role: %q", got)
	}
	drive(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")))
	if got := text(t, ctx, "notice"); got != "You are signed out." {
		t.Errorf("after sign-out: %q", got)
	}
	drive(t, ctx, "open the console signed out", chromedp.Navigate(l.base+"/console/"), chromedp.WaitVisible(chromedp.ID("email")))

	// Single sign-on, in a fresh browser context.
	ctx = newTab(t)
	drive(t, ctx, "sign in through the provider",
		chromedp.Navigate(l.base+"/console/login"),
		chromedp.WaitVisible(chromedp.ID("sso-sso")),
		chromedp.Click(chromedp.ID("sso-sso")),
		chromedp.WaitVisible(chromedp.ID("username")), // the provider's login page
		chromedp.SendKeys(chromedp.ID("username"), "ada"),
		chromedp.SendKeys(chromedp.ID("password"), "ada-password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	if got := text(t, ctx, "signed-in"); !strings.Contains(got, "ada@example.com") {
		t.Errorf("landing after single sign-on: %q", got)
	}
	if got := text(t, ctx, "org-name"); got != orgName {
		t.Errorf("organization name shown as %q, want the text %q", got, orgName)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "Console · lrs" {
		t.Errorf("the page title is %q: the organization's name ran as script", title)
	}
	drive(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")))
	if got := text(t, ctx, "notice"); got != "You are signed out." {
		t.Errorf("after sign-out: %q", got)
	}
}
