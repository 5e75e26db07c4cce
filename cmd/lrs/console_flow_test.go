package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// The console in headless Chromium against the booted binary, as an
// organization's administrator uses it: sign in with the keyboard alone,
// create a credential, create an xAPI configuration pointing at a second
// lrs, attach it to an objective, post statements with the new credential,
// and watch the status and the delivery log; stop the downstream and see
// Can't Connect appear without a reload, start it again and see OK; rename
// the configuration with a script in its name, shown as text; open the
// objective's results and override one with a reason. Another
// organization's
// administrator reaches neither the pages nor the admin API routes. Every
// main page is photographed at a laptop's and a phone's size
// (LRS_TEST_SCREENSHOTS, default a temporary directory), has no CSP
// violation and no serious or critical axe-core finding.

const consoleName = `Downstream <script>document.title="owned"</script> & co`

// artefacts is where the screenshots go.
var artefacts struct {
	once sync.Once
	dir  string
	err  error
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	artefacts.once.Do(func() {
		if d := os.Getenv("LRS_TEST_SCREENSHOTS"); d != "" {
			artefacts.dir, artefacts.err = d, os.MkdirAll(d, 0o755)
			return
		}
		artefacts.dir, artefacts.err = os.MkdirTemp("", "lrs-console-screenshots")
	})
	if artefacts.err != nil {
		t.Fatal(artefacts.err)
	}
	return artefacts.dir
}

// axeSource is axe-core's script (tools/axe, installed by make test).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "tools", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("LRS_TEST_REQUIRE_BROWSER") != "" {
			t.Fatalf("axe-core is not installed (make test installs it: npm ci --prefix tools/axe): %v", err)
		}
		t.Logf("axe-core is not installed (npm ci --prefix tools/axe): the accessibility checks are skipped")
		return ""
	}
	return string(b)
}

// cspWatch records the page's Content-Security-Policy violations in
// window.__csp, from before any script of the page runs.
const cspWatch = `window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`

// camera photographs and checks the pages of a tab.
type camera struct {
	t   *testing.T
	ctx context.Context
	dir string
	axe string
	as  string // who is signed in, in the file names
}

func newCamera(t *testing.T, ctx context.Context, as string) *camera {
	t.Helper()
	drive(t, ctx, "watch CSP violations", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
		return err
	}), laptop())
	return &camera{t: t, ctx: ctx, dir: screenshotDir(t), axe: axeSource(t), as: as}
}

func laptop() chromedp.Action[chromedp.Void] { return chromedp.EmulateViewport(1280, 860) }
func phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// shoot photographs the current page at both sizes and checks it: no CSP
// violation since it loaded, no sideways scrolling at either size, no
// serious or critical axe-core finding (at the laptop's size: the rules
// that depend on the layout, contrast and names, do not change with it).
func (c *camera) shoot(name string) {
	c.t.Helper()
	start := time.Now()
	defer func() {
		c.t.Logf("%s: photographed and checked in %v", name, time.Since(start).Round(time.Millisecond))
	}()
	csp, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		c.t.Fatalf("%s: read the CSP violations: %v", name, err)
	}
	if len(csp) > 0 {
		c.t.Errorf("%s: Content-Security-Policy violations: %q", name, csp)
	}
	for _, size := range []struct {
		name string
		set  chromedp.Action[chromedp.Void]
	}{{"phone", phone()}, {"laptop", laptop()}} {
		drive(c.t, c.ctx, "resize for "+name, size.set)
		// Readable at this size: the page itself never scrolls sideways
		// (wide tables scroll in their own region).
		over, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](`(() => {
			const w = document.documentElement.clientWidth;
			if (document.documentElement.scrollWidth <= w) return [];
			return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.scroll'))
				.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''));
		})()`))
		if err != nil {
			c.t.Fatalf("%s: measure the page: %v", name, err)
		}
		if len(over) > 0 {
			c.t.Errorf("%s at %s size: the page is wider than the screen: %q", name, size.name, over)
		}
		png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			c.t.Fatalf("%s: screenshot at %s size: %v", name, size.name, err)
		}
		if err := os.WriteFile(filepath.Join(c.dir, fmt.Sprintf("%s-%s-%s.png", c.as, name, size.name)), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
		if c.axe == "" || size.name != "laptop" {
			continue
		}
		vs, err := c.runAxe()
		if err != nil {
			c.t.Fatalf("%s at %s size: axe: %v", name, size.name, err)
		}
		for _, v := range vs {
			c.t.Errorf("%s at %s size: accessibility (%s) %s: %s, at %q", name, size.name, v.Impact, v.ID, v.Help, v.Nodes)
		}
	}
}

// runAxe injects axe-core (once per page) and returns its serious and
// critical findings.
func (c *camera) runAxe() ([]axeViolation, error) {
	loaded, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if _, err := chromedp.Run(c.ctx, chromedp.Evaluate[chromedp.Void](c.axe+";undefined")); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	var r struct {
		Passes     int
		Violations []axeViolation
	}
	r, err = chromedp.Run(c.ctx, chromedp.Evaluate[struct {
		Passes     int
		Violations []axeViolation
	}](`axe.run(document, {resultTypes: ['violations']}).then(r => ({Passes: r.passes.length,
		Violations: r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
			ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))}))`, chromedp.EvalAwaitPromise))
	if err == nil && r.Passes < 10 {
		err = fmt.Errorf("axe-core checked only %d rules: it did not run", r.Passes)
	}
	return r.Violations, err
}

// waitText waits until the text of the element with the id satisfies ok,
// polling the page (which updates itself: no reload).
func waitText(t *testing.T, ctx context.Context, id, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ""`, id)))
		if err != nil {
			t.Fatalf("read #%s: %v", id, err)
		}
		if last = strings.TrimSpace(s); ok(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond) // polling the page
	}
	t.Fatalf("#%s never became %s: %q", id, what, last)
	return ""
}

// consoleProcs boots the downstream lrs and the upstream one the console
// runs on, with an organization administrator of org-a, one of org-b and
// an operator.
func consoleProcs(t *testing.T) (up *proc, downDir, downAddr string, down *proc) {
	t.Helper()
	downDir = t.TempDir()
	down = startLRS(t, "LRS_DATA_DIR="+downDir, "LRS_BOOTSTRAP_KEY="+fwdDownKey, "LRS_BOOTSTRAP_SECRET="+fwdDownSecret)
	// A backfill goes one statement per chunk, slowly, for the browser to
	// see it run.
	up = startLRS(t, "LRS_DATA_DIR="+t.TempDir(), "LRS_ADMIN_TOKEN="+testAdminToken, "LRS_FORWARD_KEY="+fwdTestKey, "LRS_FORWARD_ALLOWED_NETWORKS="+loopbackNetworks,
		"LRS_FORWARD_BACKFILL_CHUNK=1", "LRS_FORWARD_BACKFILL_PAUSE=250ms")
	adminJSON(t, up.base, "POST", "/orgs", `{"id":"org-a","name":"Acme Learning"}`, 201)
	adminJSON(t, up.base, "POST", "/orgs", `{"id":"org-b","name":"Beta Academy"}`, 201)
	for _, a := range []string{
		`{"email":"ada@example.com","name":"Ada","role":"org_admin","org":"org-a","password":"ada's long passphrase"}`,
		`{"email":"bob@example.com","name":"Bob","role":"org_admin","org":"org-b","password":"bob's long passphrase"}`,
		`{"email":"op@example.com","name":"Olga","role":"operator","password":"the operator's passphrase"}`,
	} {
		adminJSON(t, up.base, "POST", "/accounts", a, 201)
	}
	return up, downDir, strings.TrimPrefix(down.base, "http://"), down
}

func TestConsoleForwardingBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("boots two binaries and a browser")
	}
	up, downDir, downAddr, down := consoleProcs(t)
	ctx := newTab(t)
	cam := newCamera(t, ctx, "admin")

	// Sign in with the keyboard alone (the email field has the focus).
	drive(t, ctx, "open the sign-in page", chromedp.Navigate(up.base+"/console/login"), chromedp.WaitVisible(chromedp.ID("email")))
	cam.shoot("sign-in")
	drive(t, ctx, "sign in with the keyboard",
		chromedp.KeyEvent("ada@example.com"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("ada's long passphrase"), chromedp.KeyEvent("\r"))
	if got := text(t, ctx, "signed-in"); !strings.Contains(got, "ada@example.com") {
		t.Fatalf("after sign-in: %q", got)
	}
	cam.shoot("home")
	drive(t, ctx, "open the organization", chromedp.Click(chromedp.ID("open-org")), chromedp.WaitVisible(chromedp.ID("n-credentials")))

	// A credential: its secret is shown once.
	drive(t, ctx, "create a credential",
		chromedp.Click(chromedp.ID("nav-credentials")), chromedp.WaitVisible(chromedp.ID("f-name")),
		chromedp.SendKeys(chromedp.ID("f-name"), "Quiz tool"), chromedp.Click(chromedp.ID("create-credential")))
	key, secret := text(t, ctx, "new-key"), text(t, ctx, "new-secret")
	cam.shoot("credentials")
	learner := &client{t: t, base: up.base + "/xapi", key: key, secret: secret, version: "1.0.3"}

	// An xAPI configuration pointing at the downstream, in two steps.
	drive(t, ctx, "step 1 of a configuration",
		chromedp.Click(chromedp.ID("nav-configurations")), chromedp.WaitVisible(chromedp.ID("new-configuration")))
	cam.shoot("configurations-empty")
	drive(t, ctx, "step 1 of a configuration",
		chromedp.Click(chromedp.ID("new-configuration")), chromedp.WaitVisible(chromedp.ID("f-name")),
		chromedp.SendKeys(chromedp.ID("f-name"), "Moodle LRS"), chromedp.SendKeys(chromedp.ID("f-contact-email"), "ops@example.com"))
	cam.shoot("configuration-step-1")
	drive(t, ctx, "step 2 of a configuration", chromedp.Click(chromedp.ID("next")), chromedp.WaitVisible(chromedp.ID("f-properties-endpoint")))
	// OAuth2's fields show only when OAuth2 is chosen.
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('f-properties-token-url').closest('[data-when-input]').hidden`)); err != nil || !hidden {
		t.Errorf("the OAuth2 fields are shown with basic authentication (%v)", err)
	}
	drive(t, ctx, "fill step 2",
		chromedp.SendKeys(chromedp.ID("f-properties-endpoint"), "http://"+downAddr+"/xapi/"),
		chromedp.SendKeys(chromedp.ID("f-secrets-key"), fwdDownKey),
		chromedp.SendKeys(chromedp.ID("f-secrets-secret"), fwdDownSecret))
	cam.shoot("configuration-step-2")
	drive(t, ctx, "create the configuration", chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("status-badge")))
	cfgURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	cfgURL = strings.SplitN(cfgURL, "?", 2)[0]
	cfgID := cfgURL[strings.LastIndexByte(cfgURL, '/')+1:]
	if got := text(t, ctx, "status-badge"); got != "Not attempted" {
		t.Errorf("a new configuration's status: %q", got)
	}

	// An objective, with the configuration attached from the drop-down.
	const activity = "https://courses.example.com/fire-safety"
	drive(t, ctx, "create an objective",
		chromedp.Click(chromedp.ID("nav-objectives")), chromedp.WaitVisible(chromedp.ID("f-activity-id")),
		chromedp.SendKeys(chromedp.ID("f-name"), "Fire safety"), chromedp.SendKeys(chromedp.ID("f-activity-id"), activity),
		// The new-objective form has an f-configuration too: wait for the
		// objective's page (its attach button) before choosing in it.
		chromedp.Click(chromedp.ID("create-objective")), chromedp.WaitVisible(chromedp.ID("attach")),
		chromedp.SetValue(chromedp.ID("f-configuration"), cfgID), chromedp.Click(chromedp.ID("attach")))
	waitText(t, ctx, "notice", "the notice of the attachment", func(s string) bool { return strings.Contains(s, "is attached") })
	cam.shoot("objective")
	objURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	objURL = strings.SplitN(objURL, "?", 2)[0]

	// Statements with the new credential reach the downstream; the page
	// shows OK and the delivery log by itself.
	post := func(n int) {
		t.Helper()
		for i := range n {
			st := e2eStatement(uuid.NewString(), fmt.Sprintf("learner%d@example.com", i), "passed", "x")
			st["object"] = map[string]any{"id": activity}
			learner.expect(http.StatusOK, "POST", "/statements", st)
		}
	}
	drive(t, ctx, "open the configuration", chromedp.Navigate(cfgURL), chromedp.WaitVisible(chromedp.ID("status-badge")),
		chromedp.Evaluate[chromedp.Void](`window.__sameLoad = true`))
	post(3)
	waitText(t, ctx, "status-badge", "OK", func(s string) bool { return s == "OK" })
	waitText(t, ctx, "count-delivered", "3", func(s string) bool { return s == "3" })
	if rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#log tbody tr').length`)); rows < 1 {
		t.Errorf("the delivery log shows %d attempts", rows)
	}
	cam.shoot("configuration-ok")

	// The downstream stops: Can't Connect, without a reload.
	down.stop()
	post(1)
	waitText(t, ctx, "status-badge", "Can't Connect", func(s string) bool { return s == "Can't Connect" })
	if got := waitText(t, ctx, "last-error", "an error", func(s string) bool { return s != "" }); !strings.Contains(got, "Last error") {
		t.Errorf("the last error: %q", got)
	}
	waitText(t, ctx, "count-queued", "1 queued", func(s string) bool { return s == "1" })
	cam.shoot("configuration-cant-connect")
	// It starts again: OK.
	startLRS(t, "LRS_DATA_DIR="+downDir, "LRS_BOOTSTRAP_KEY="+fwdDownKey, "LRS_BOOTSTRAP_SECRET="+fwdDownSecret, "LRS_ADDR="+downAddr)
	post(1)
	waitText(t, ctx, "status-badge", "OK", func(s string) bool { return s == "OK" })
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad === true`)); err != nil || !same {
		t.Errorf("the page was reloaded to show the status (%v)", err)
	}
	// Test connection answers in place.
	drive(t, ctx, "test connection", chromedp.Click(chromedp.ID("test")))
	if got := waitText(t, ctx, "test-status", "OK", func(s string) bool { return s != "" }); got != "OK" {
		t.Errorf("test connection: %q (%s)", got, text(t, ctx, "test-message"))
	}

	// A script in the name is shown as text.
	drive(t, ctx, "rename the configuration", chromedp.Click(chromedp.ID("edit")), chromedp.WaitVisible(chromedp.ID("f-name")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-name').value = ''`), chromedp.SendKeys(chromedp.ID("f-name"), consoleName))
	cam.shoot("configuration-edit")
	drive(t, ctx, "save the name", chromedp.Click(chromedp.ID("save")))
	waitText(t, ctx, "notice", "saved", func(s string) bool { return s == "Saved." })
	if got := text(t, ctx, "title"); got != consoleName {
		t.Errorf("the configuration's name is shown as %q, want the text %q", got, consoleName)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Title()); title != consoleName+" · lrs" {
		t.Errorf("the page title is %q: the name ran as script", title)
	}

	// Override a result: the objective's page lists the results its
	// statements made; one is opened, overridden with a reason, and shown
	// as an override there and in the list.
	drive(t, ctx, "open the objective's results", chromedp.Navigate(objURL+"#results"), chromedp.WaitVisible(chromedp.ID("result-list")))
	if rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#result-list tbody tr').length`)); rows != 3 {
		t.Errorf("the objective lists %d results, want one per learner (3)", rows)
	}
	cam.shoot("objective-results")
	drive(t, ctx, "open a result", chromedp.Click(chromedp.CSS(`#result-list tbody tr:first-child a`)), chromedp.WaitVisible(chromedp.ID("override-form")))
	if got := text(t, ctx, "eff-success"); got != "Passed" {
		t.Errorf("the result's success before the override: %q", got)
	}
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('f-score-scaled').closest('[data-when-input]').hidden`)); err != nil || !hidden {
		t.Errorf("the score's values are shown while the score is kept (%v)", err)
	}
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('f-duration').closest('[data-when-input]').hidden`)); err != nil || !hidden {
		t.Errorf("the new duration is shown while the duration is kept (%v)", err)
	}
	cam.shoot("result")
	// Without a reason: the service's problem beside the reason, the
	// summary focused, the choice kept.
	drive(t, ctx, "override without a reason", chromedp.SetValue(chromedp.ID("f-success"), "false"), chromedp.Click(chromedp.ID("save-override")),
		chromedp.WaitVisible(chromedp.ID("error-summary")))
	if got := strings.Join(strings.Fields(text(t, ctx, "f-reason-error")), " "); got != "Error: Is required." {
		t.Errorf("beside the reason: %q", got)
	}
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id + ' ' + document.getElementById('f-success').value`)); err != nil || focused != "error-summary false" {
		t.Errorf("after a refused override, the focus and the choice: %q (%v)", focused, err)
	}
	cam.shoot("result-problems")
	const why = `<b>retake</b> granted by the proctor`
	drive(t, ctx, "override the success with a reason", chromedp.SendKeys(chromedp.ID("f-reason"), why),
		chromedp.KeyEvent("\t"), chromedp.KeyEvent("\r")) // from the reason to the button, with the keyboard
	waitText(t, ctx, "notice", "the override's notice", func(s string) bool { return s == "The override is saved." })
	if eff, comp, ovr := text(t, ctx, "eff-success"), text(t, ctx, "comp-success"), text(t, ctx, "ovr-success"); eff != "Failed" || comp != "Passed" ||
		!strings.HasPrefix(ovr, "Overridden by account:ada@example.com") || !strings.HasSuffix(ovr, why) {
		t.Errorf("after the override: in effect %q, the statements say %q, override %q", eff, comp, ovr)
	}
	cam.shoot("result-overridden")
	drive(t, ctx, "back to the objective", chromedp.Click(chromedp.ID("back-to-objective")), chromedp.WaitVisible(chromedp.ID("result-list")))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#result-list .badge-override').length`)); n != 1 {
		t.Errorf("the list marks %d results as overridden, want 1", n)
	}

	// A second configuration attached with "also send what is already
	// stored": the job shows running, and done without a reload.
	second := createXAPIConfigurationIn(t, up, "org-a", "Archive LRS", "http://"+downAddr+"/xapi/")
	drive(t, ctx, "attach with a backfill", chromedp.Navigate(objURL), chromedp.WaitVisible(chromedp.ID("f-backfill")), chromedp.SetValue(chromedp.ID("f-configuration"), second), chromedp.Click(chromedp.ID("f-backfill")),
		chromedp.Click(chromedp.ID("attach")))
	row := "bf-" + second + "-" + objURL[strings.LastIndexByte(objURL, '/')+1:]
	waitText(t, ctx, "notice", "the notice of the backfill", func(s string) bool { return strings.Contains(s, "its progress shows below") })
	drive(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__sameLoad = true`))
	if got := text(t, ctx, row+"-state"); got != "running" {
		t.Errorf("the backfill's state just after the attach: %q", got)
	}
	cam.shoot("objective-backfill")
	waitText(t, ctx, row+"-state", "done", func(s string) bool { return s == "done" })
	if got := text(t, ctx, row+"-progress"); got != "5 of 5 statements sent (100 %)" {
		t.Errorf("the done backfill's progress: %q", got)
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameLoad === true`)); err != nil || !same {
		t.Errorf("the page was reloaded to show the backfill's progress (%v)", err)
	}

	// The other pages, photographed and checked.
	for _, p := range []struct{ name, path, wait string }{
		{"overview", "/console/orgs/org-a", "n-configurations"},
		{"configurations", "/console/orgs/org-a/configurations", "configurations"},
		{"objectives", "/console/orgs/org-a/objectives", "objectives"},
		{"statements", "/console/orgs/org-a/statements?limit=5", "statements"},
	} {
		drive(t, ctx, "open "+p.name, chromedp.Navigate(up.base+p.path), chromedp.WaitVisible(chromedp.ID(p.wait)))
		cam.shoot(p.name)
	}
	if got := text(t, ctx, "results-title"); !strings.HasPrefix(got, "5 statements") {
		t.Errorf("the statement browser: %q", got)
	}
	// A Clever configuration's "Preview request" page: every request of
	// a sample grade, in order (nothing is sent: its API is unreachable).
	var clever struct{ ID string }
	if err := json.Unmarshal(adminJSON(t, up.base, "POST", "/orgs/org-a/configurations", `{"name":"Springfield gradebook","contact_email":"ops@example.com","type":"clever",
		"properties":{"base_url":"http://127.0.0.1:9","sections":"{\"*\":[\"5fee004cca2e43cf27000007\"]}"},"secrets":{"token":"district-app-token"}}`, 201), &clever); err != nil {
		t.Fatal(err)
	}
	drive(t, ctx, "open the request preview", chromedp.Navigate(up.base+"/console/orgs/org-a/configurations/"+clever.ID+"/request"), chromedp.WaitVisible(chromedp.ID("preview-requests")))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#preview-requests > li').length`)); n != 3 {
		t.Errorf("the Clever preview shows %d requests, want 3 (students, assignment, grade)", n)
	}
	cam.shoot("request-preview")
	drive(t, ctx, "step 2 of a Clever configuration", chromedp.Navigate(up.base+"/console/orgs/org-a/configurations/new"), chromedp.WaitVisible(chromedp.ID("f-name")),
		chromedp.SendKeys(chromedp.ID("f-name"), "Springfield gradebook"), chromedp.SendKeys(chromedp.ID("f-contact-email"), "ops@example.com"),
		chromedp.Click(chromedp.CSS(`input[name="type"][value="clever"]`)), chromedp.Click(chromedp.ID("next")),
		chromedp.WaitVisible(chromedp.ID("f-properties-sections")))
	cam.shoot("configuration-clever")

	// Another organization's administrator reaches neither org-a's pages
	// nor its admin API routes.
	bob := newTab(t)
	drive(t, bob, "sign in as org-b's administrator", chromedp.Navigate(up.base+"/console/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "bob@example.com"), chromedp.SendKeys(chromedp.ID("password"), "bob's long passphrase"),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("signed-in")),
		chromedp.Navigate(cfgURL))
	if got := text(t, bob, "error"); !strings.Contains(got, "You may not open this page") {
		t.Errorf("org-b's administrator on org-a's configuration: %q", got)
	}
	for _, path := range []string{"/admin/v1/orgs/org-a/configurations", "/admin/v1/orgs/org-a/configurations/" + cfgID + "/status", "/admin/v1/orgs/org-a/credentials"} {
		status, err := chromedp.Run(bob, chromedp.Evaluate[int](fmt.Sprintf(`fetch(%q, {credentials: 'same-origin'}).then(r => r.status)`, path), chromedp.EvalAwaitPromise))
		if err != nil || status != http.StatusForbidden {
			t.Errorf("org-b's administrator GET %s in the browser: %d (%v), want 403", path, status, err)
		}
	}
	status, err := chromedp.Run(bob, chromedp.Evaluate[int](`fetch('/admin/v1/session').then(r => r.json()).then(s =>
		fetch('/admin/v1/orgs/org-a/configurations/`+cfgID+`/redrive', {method: 'POST', headers: {'X-CSRF-Token': s.csrf_token}})).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Errorf("org-b's administrator re-drives org-a's configuration: %d (%v), want 403", status, err)
	}

	// The operators' pages.
	op := newTab(t)
	opCam := newCamera(t, op, "operator")
	drive(t, op, "sign in as an operator", chromedp.Navigate(up.base+"/console/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "op@example.com"), chromedp.SendKeys(chromedp.ID("password"), "the operator's passphrase"),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("signed-in")),
		chromedp.Click(chromedp.ID("open-orgs")), chromedp.WaitVisible(chromedp.ID("orgs")))
	opCam.shoot("organizations")
	drive(t, op, "open the accounts", chromedp.Click(chromedp.ID("nav-accounts")), chromedp.WaitVisible(chromedp.ID("accounts")))
	opCam.shoot("accounts")
	t.Logf("screenshots in %s", screenshotDir(t))
}
