package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/schema"
)

// hookDest is the destination of the test type: it answers a test as its
// url says (".../down": no answer), naming its token (which the console
// must never show).
type hookDest struct{ url, token string }

func (d hookDest) Send(context.Context, []forward.Item) forward.Result { return forward.Result{} }
func (d hookDest) MaxBatch() int                                       { return 1 }
func (d hookDest) Test(context.Context) forward.Result {
	if strings.HasSuffix(d.url, "/down") {
		return forward.Result{Outcome: forward.OutcomeTransport, Message: "connection refused (token " + d.token + ")"}
	}
	return forward.Result{Outcome: forward.OutcomeSuccess, Status: 200, Message: "ready: the hook answers"}
}

// hookType is a destination type the console has never heard of, with
// what later types declare: a mapping in JSON with a live preview, a group
// of fields that applies in one mode, a number, a secret, a readiness
// check. Its form must come from these declarations alone.
func hookType() forward.Type {
	batch := &forward.Condition{Property: "mode", Values: []string{"batch"}}
	return forward.Type{
		Name: "hook", Label: "Test hook", Description: "a hook for the console's tests", Sink: forward.SinkOverwrite,
		TestLabel: "Check readiness", Target: "url",
		Properties: []forward.Field{
			{Name: "url", Label: "URL", Required: true, Example: "https://hooks.example/in", Description: "where results go"},
			{Name: "mode", Label: "Mode", Enum: []string{"immediate", "batch"}, Default: "immediate", Description: "when to send"},
			{Name: "max_items", Label: "Batch size", Kind: forward.KindNumber, Group: "Batching", When: batch, Description: "results per request"},
			{Name: "mapping", Label: "Field mapping", Kind: forward.KindJSON, Required: true, Description: "a JSON array of {target, source}"},
		},
		Secrets: []forward.Field{{Name: "token", Label: "Token", Required: true, Description: "the bearer token"}},
		Validate: func(props, secrets map[string]string) []string {
			var errs []string
			if m := props["mapping"]; m != "" {
				var fs []map[string]string
				if err := json.Unmarshal([]byte(m), &fs); err != nil {
					errs = append(errs, "properties.mapping: want a JSON array of {target, source}")
				}
				for i, f := range fs {
					if f["target"] == "" {
						errs = append(errs, fmt.Sprintf("properties.mapping[%d].target: is required", i))
					}
				}
			}
			if u := props["url"]; u != "" && !strings.HasPrefix(u, "https://") {
				errs = append(errs, "properties.url: want an https URL")
			}
			return errs
		},
		Factory: func(c forward.Configuration, secrets map[string]string) (forward.Destination, error) {
			return hookDest{url: c.Properties["url"], token: secrets["token"]}, nil
		},
		Preview: func(_ context.Context, _ forward.PreviewEnv, c forward.Configuration, secrets map[string]string, at time.Time) (forward.Preview, error) {
			var fs []map[string]string
			_ = json.Unmarshal([]byte(c.Properties["mapping"]), &fs)
			body := map[string]string{}
			for _, f := range fs {
				body[f["target"]] = "sample " + f["source"]
			}
			b, _ := json.Marshal(body)
			return forward.Preview{Method: "POST", URL: c.Properties["url"], Body: string(b),
				Headers: map[string][]string{"Authorization": {"Bearer " + secrets["token"]}}}, nil
		},
	}
}

// consoleNode is an LRS with accounts, forwarding of the test type and
// statement counts, two organizations and an administrator of each.
func consoleNode(t *testing.T) (*identityNode, *pebbledb.DB) {
	t.Helper()
	db := openPebble(t)
	types, err := forward.NewRegistry(hookType())
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := forward.NewSealer([]byte(strings.Repeat("k", forward.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	n := newIdentityNode(t, db, auth.IdentityOptions{}, nil, func(o *api.Options) {
		o.Admin.Forward = forward.NewAdmin(db, types, forward.AdminOptions{Sealer: sealer})
		o.Service = lrs.NewService(db, lrs.ServiceOptions{MaxLimit: 50, Activities: db, Agents: db, Counts: db})
	})
	n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"org-a","name":"Acme <b>A</b>"}`, 201, nil)
	n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"org-b","name":"Beta"}`, 201, nil)
	n.newAccount("a@example.com", "org_admin", "org-a")
	n.newAccount("b@example.com", "org_admin", "org-b")
	n.newAccount("op@example.com", "operator", "")
	return n, db
}

// consoleIn signs a browser in through the console's form and returns it
// with the CSRF token of its pages.
func (n *identityNode) consoleIn(email string) (*browser, string) {
	n.t.Helper()
	b := n.browser()
	res, _ := b.form("/console/login", url.Values{"email": {email}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		n.t.Fatalf("sign-in of %s: %d", email, res.StatusCode)
	}
	_, home := b.do("GET", "/console/", "")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(home)
	if m == nil {
		n.t.Fatalf("no CSRF token on the home page:\n%s", home)
	}
	return b, string(m[1])
}

// page GETs a console page and checks its status.
func (b *browser) page(want int, path string, header ...string) string {
	b.t.Helper()
	res, body := b.do("GET", path, "", header...)
	if res.StatusCode != want {
		b.t.Fatalf("GET %s: %d, want %d\n%s", path, res.StatusCode, want, body)
	}
	return string(body)
}

// post sends a console form with the CSRF token and checks its status.
func (b *browser) post(want int, path, csrf string, v url.Values, header ...string) (*http.Response, string) {
	b.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	v.Set("csrf_token", csrf)
	res, body := b.form(path, v, header...)
	if res.StatusCode != want {
		b.t.Fatalf("POST %s: %d, want %d\n%s", path, res.StatusCode, want, body)
	}
	return res, body
}

// errorOf returns the text beside the field of the id ("" when none).
func errorOf(page, id string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(id) + `-error"><span class="visually-hidden">Error: </span>([^<]*)</p>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestConsoleConfigurations(t *testing.T) {
	n, _ := consoleNode(t)
	b, csrf := n.consoleIn("a@example.com")
	base := "/console/orgs/org-a/configurations"

	if page := b.page(200, base); !strings.Contains(page, `id="no-configurations"`) || !strings.Contains(page, "Acme &lt;b&gt;A&lt;/b&gt;") {
		t.Errorf("the empty list:\n%s", page)
	}
	// Step 1: the service's problems of the name and the contact email,
	// beside their fields.
	_, page := b.post(400, base+"/new", csrf, url.Values{"name": {""}, "contact_email": {"not an address"}, "type": {"hook"}})
	if e := errorOf(page, "f-name"); e != "Is required." {
		t.Errorf("the name's error: %q\n%s", e, page)
	}
	if e := errorOf(page, "f-contact-email"); !strings.Contains(e, "is not an email address") {
		t.Errorf("the contact email's error: %q", e)
	}
	if !strings.Contains(page, `<a href="#f-name">Name: Is required.</a>`) || !strings.Contains(page, `aria-describedby="f-name-help f-name-error"`) {
		t.Errorf("the summary or the field's description:\n%s", page)
	}
	// Step 2 is the type's form, from its declarations.
	const name = `LMS <script>alert("x")</script>`
	_, page = b.post(200, base+"/new", csrf, url.Values{"name": {name}, "contact_email": {"ops@example.com"}, "type": {"hook"}})
	for _, want := range []string{
		`<input id="f-properties-url" name="properties.url" type="text" value="" placeholder="Example: https://hooks.example/in"`,
		`<select id="f-properties-mode" name="properties.mode"`,
		`<option value="immediate" selected>immediate (default)</option>`,
		`<fieldset class="group" data-when-input="properties.mode" data-when-values="[&#34;batch&#34;]">`,
		`<textarea id="f-properties-mapping" name="properties.mapping" rows="10" class="json"`,
		`<input id="f-secrets-token" name="secrets.token" type="password" value="" autocomplete="off"`,
		`data-preview="/console/orgs/org-a/configurations/preview"`,
		`<input type="hidden" name="name" value="LMS &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("step 2 lacks %s", want)
		}
	}
	if strings.Contains(page, `<script>alert`) {
		t.Error("step 2 shows the name unescaped")
	}
	// Its problems go beside their fields, the whole mapping's and one of
	// its items' alike; the secret typed is never sent back.
	form := url.Values{"name": {name}, "contact_email": {"ops@example.com"}, "type": {"hook"}, "identifier": {"mbox"},
		"properties.url": {"http://hooks.example/in"}, "properties.mapping": {`[{"source":"score"}]`}, "secrets.token": {"s3cret-token"}}
	_, page = b.post(400, base, csrf, form)
	if e := errorOf(page, "f-properties-url"); e != "Want an https URL." {
		t.Errorf("the url's error: %q", e)
	}
	if e := errorOf(page, "f-properties-mapping"); e != "Item 1: target: is required." {
		t.Errorf("the mapping's error: %q\n%s", e, page)
	}
	if strings.Contains(page, "s3cret-token") {
		t.Error("the form shows the secret typed")
	}
	if !strings.Contains(page, `value="http://hooks.example/in"`) || !strings.Contains(page, `[{&#34;source&#34;:&#34;score&#34;}]`) {
		t.Error("the form lost what was typed")
	}
	// The preview, as console.js asks for it: the body and the headers,
	// the secret redacted, the text escaped.
	form.Set("properties.url", "https://hooks.example/in")
	form.Set("properties.mapping", `[{"target":"member","source":"<b>email</b>"}]`)
	_, part := b.post(200, base+"/preview", csrf, form, "X-Console-Fragment", "1")
	if !strings.Contains(part, `POST https://hooks.example/in`) || !strings.Contains(part, "Bearer [redacted]") ||
		!strings.Contains(part, `sample \u003cb\u003eemail\u003c/b\u003e`) || strings.Contains(part, "<b>") || strings.Contains(part, "s3cret") || strings.Contains(part, "<html") {
		t.Errorf("the preview fragment:\n%s", part)
	}
	res, _ := b.post(303, base, csrf, form)
	loc := res.Header.Get("Location")
	id := strings.TrimSuffix(strings.TrimPrefix(loc, base+"/"), "?done=created")
	if len(id) != 36 {
		t.Fatalf("created: to %q", loc)
	}
	page = b.page(200, loc)
	for _, want := range []string{`id="status-badge"><span class="badge badge-none">Not attempted</span>`, `<button type="submit" id="test">Check readiness</button>`,
		`<p class="notice" role="status" id="notice">Created.</p>`, `data-live="` + base + `/` + id + `/live"`, `<dd id="cfg-target"><code>https://hooks.example/in</code>`,
		`<figure class="chart" id="chart-day" data-swap>`, `<figure class="chart" id="chart-month" data-swap>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the configuration's page lacks %s", want)
		}
	}
	if strings.Contains(page, "s3cret-token") || strings.Contains(page, `<script>alert`) {
		t.Errorf("the configuration's page shows a secret or runs the name:\n%s", page)
	}
	if list := b.page(200, base); !strings.Contains(list, `LMS &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) || !strings.Contains(list, `id="st-`+id+`" data-swap>`) {
		t.Errorf("the list:\n%s", list)
	}
	// Test connection, as console.js sends it and without script.
	_, part = b.post(200, base+"/"+id+"/test", csrf, nil, "X-Console-Fragment", "1")
	if !strings.Contains(part, `<span id="test-status">OK</span>`) || !strings.Contains(part, "ready: the hook answers") || strings.Contains(part, "<html") {
		t.Errorf("test connection fragment:\n%s", part)
	}
	// An edit keeps the stored secret when none is typed.
	edit := b.page(200, base+"/"+id+"/edit")
	if !strings.Contains(edit, "Leave every secret empty to keep the stored ones") || !strings.Contains(edit, `value="https://hooks.example/in"`) {
		t.Errorf("the edit form:\n%s", edit)
	}
	form.Del("secrets.token")
	form.Set("properties.url", "https://hooks.example/down")
	form.Set("name", "Hook")
	if res, _ := b.post(303, base+"/"+id+"/edit", csrf, form); !strings.HasSuffix(res.Header.Get("Location"), "?done=saved") {
		t.Errorf("edit: to %q", res.Header.Get("Location"))
	}
	_, page = b.post(200, base+"/"+id+"/test", csrf, nil)
	if !strings.Contains(page, `<span id="test-status">Can&#39;t Connect</span>`) || !strings.Contains(page, "token [redacted]") || strings.Contains(page, "s3cret-token") {
		t.Errorf("test connection without script, after the edit:\n%s", page)
	}
	// The live part: the status, the chart of the day and the log.
	part = b.page(200, base+"/"+id+"/live", "X-Console-Fragment", "1")
	for _, want := range []string{`id="status" data-swap`, `id="chart-day" data-swap`, `id="chart-month" data-swap`, `id="log" data-swap`} {
		if !strings.Contains(part, want) {
			t.Errorf("the live part lacks %s:\n%s", want, part)
		}
	}
	if _, part := b.post(200, base+"/"+id+"/redrive", csrf, nil, "X-Console-Fragment", "1"); !strings.Contains(part, "Nothing was parked or rejected") {
		t.Errorf("retry parked now: %s", part)
	}
	// A form without the page's token, or from another site, does nothing.
	if res, _ := b.form(base+"/"+id+"/delete", url.Values{}); res.StatusCode != 403 {
		t.Errorf("delete without the CSRF token: %d", res.StatusCode)
	}
	if res, _ := b.form(base+"/"+id+"/delete", url.Values{"csrf_token": {csrf}}, "Sec-Fetch-Site", "cross-site"); res.StatusCode != 403 {
		t.Errorf("delete from another site: %d", res.StatusCode)
	}
	// Another organization's administrator reaches none of it.
	other, otherCSRF := n.consoleIn("b@example.com")
	for _, p := range []string{base, base + "/" + id, base + "/" + id + "/live", "/console/orgs/org-a", "/console/orgs/org-a/statements", "/console/orgs"} {
		if res, body := other.do("GET", p, ""); res.StatusCode != 403 || strings.Contains(string(body), "hooks.example") {
			t.Errorf("org-b's administrator GET %s: %d", p, res.StatusCode)
		}
	}
	other.post(403, base+"/"+id+"/delete", otherCSRF, nil)
	other.post(403, base, otherCSRF, form)
	if _, err := n.adminAsSession(other, "GET", api.AdminPrefix+"/orgs/org-a/configurations/"+id); err == nil {
		t.Error("org-b's administrator read org-a's configuration through the admin API")
	}
	b.post(303, base+"/"+id+"/delete", csrf, nil)
	b.page(404, base+"/"+id)
}

// adminAsSession sends an admin API request with the browser's session.
func (n *identityNode) adminAsSession(b *browser, method, path string) ([]byte, error) {
	res, body := b.do(method, path, "")
	if res.StatusCode != 200 {
		return body, errors.New(res.Status)
	}
	return body, nil
}

func TestConsoleObjectivesAndCredentials(t *testing.T) {
	n, _ := consoleNode(t)
	b, csrf := n.consoleIn("a@example.com")
	var cfg struct{ ID string }
	b.csrf = ""
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/configurations", `{"name":"Hook","contact_email":"ops@example.com","type":"hook",
		"properties":{"url":"https://hooks.example/in","mapping":"[]"},"secrets":{"token":"t0ken-value"}}`, 201, &cfg)

	// An objective: the service's IRI rule beside its field.
	base := "/console/orgs/org-a/objectives"
	_, page := b.post(400, base, csrf, url.Values{"name": {"Quiz"}, "activity_id": {"not an iri"}, "verbs": {"http://adlnet.gov/expapi/verbs/passed\nnope"}})
	if e := errorOf(page, "f-activity-id"); !strings.Contains(e, "is not an absolute IRI") {
		t.Errorf("the activity's error: %q", e)
	}
	if e := errorOf(page, "f-verbs"); !strings.Contains(e, `Item 2: &#34;nope&#34; is not an absolute IRI.`) {
		t.Errorf("the verbs' error: %q", e)
	}
	res, _ := b.post(303, base, csrf, url.Values{"name": {"Quiz"}, "activity_id": {"https://courses.example/quiz"}})
	obj := strings.TrimSuffix(strings.TrimPrefix(res.Header.Get("Location"), base+"/"), "?done=created")
	page = b.page(200, base+"/"+obj)
	if !strings.Contains(page, `<option value="`+cfg.ID+`">Hook (Test hook)</option>`) || !strings.Contains(page, `id="none-attached"`) {
		t.Errorf("the objective's page offers no configuration to attach:\n%s", page)
	}
	b.post(303, base+"/"+obj+"/attach", csrf, url.Values{"configuration": {cfg.ID}})
	page = b.page(200, base+"/"+obj)
	if !strings.Contains(page, `id="st-`+cfg.ID+`" data-swap>`) || !strings.Contains(page, `data-live="/console/orgs/org-a/configurations/live"`) {
		t.Errorf("the attached configuration with its live status:\n%s", page)
	}
	var got struct{ Configurations []string }
	n.admin("GET", api.AdminPrefix+"/orgs/org-a/objectives/"+obj, "", 200, &got)
	if len(got.Configurations) != 1 || got.Configurations[0] != cfg.ID {
		t.Errorf("the admin API sees the objective's configurations %v", got.Configurations)
	}
	// Attaching another organization's configuration is the service's
	// refusal, shown beside the drop-down.
	_, page = b.post(400, base+"/"+obj+"/attach", csrf, url.Values{"configuration": {"no-such-configuration"}})
	if e := errorOf(page, "f-configuration"); !strings.Contains(e, "No configuration &#34;no-such-configuration&#34; in this organization") {
		t.Errorf("attach an unknown configuration: %q", e)
	}

	// A credential: its secret shown once, and it works.
	cbase := "/console/orgs/org-a/credentials"
	_, page = b.post(400, cbase, csrf, url.Values{"name": {""}, "expires_at": {"yesterday"}})
	if errorOf(page, "f-name") != "Is required." || errorOf(page, "f-scopes") != "Is required." ||
		!strings.Contains(errorOf(page, "f-expires-at"), "Want a date and a time") {
		t.Errorf("the credential's problems:\n%s", page)
	}
	_, page = b.post(201, cbase, csrf, url.Values{"name": {"Quiz tool"}, "scopes": {"statements/write", "statements/read"}})
	key := regexp.MustCompile(`<code id="new-key">([^<]+)</code>`).FindStringSubmatch(page)
	secret := regexp.MustCompile(`<code id="new-secret">([^<]+)</code>`).FindStringSubmatch(page)
	if key == nil || secret == nil {
		t.Fatalf("no key and secret on the answer:\n%s", page)
	}
	if list := b.page(200, cbase); strings.Contains(list, secret[1]) || !strings.Contains(list, key[1]) {
		t.Error("the list shows the secret, or not the key")
	}
	stmt := `{"actor":{"mbox":"mailto:ada@example.com","name":"Ada"},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed","display":{"en-US":"passed"}},"object":{"id":"https://courses.example/quiz","definition":{"name":{"en-US":"<i>Quiz</i>"}}}}`
	r, _ := http.NewRequest("POST", n.srv.URL+"/xapi/statements", strings.NewReader(stmt))
	r.SetBasicAuth(key[1], secret[1])
	r.Header.Set("X-Experience-API-Version", "1.0.3")
	r.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(r); err != nil || res.StatusCode != 200 {
		t.Fatalf("a statement with the new credential: %v %v", res.Status, err)
	}
	// The statement browser finds it with the resource's filters; the raw
	// JSON is shown escaped.
	sbase := "/console/orgs/org-a/statements"
	page = b.page(200, sbase+"?agent=ada%40example.com&verb=http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fpassed")
	if !strings.Contains(page, "<strong>Ada</strong> passed <strong>&lt;i&gt;Quiz&lt;/i&gt;</strong>") || !strings.Contains(page, "&#34;mbox&#34;: &#34;mailto:ada@example.com&#34;") {
		t.Errorf("the browser:\n%s", page)
	}
	if page := b.page(200, sbase+"?agent=bob%40example.com"); !strings.Contains(page, `id="no-statements"`) {
		t.Error("another agent's statements")
	}
	if page := b.page(400, sbase+"?verb=passed"); !strings.Contains(errorOf(page, "f-verb"), "Must be an absolute IRI") {
		t.Errorf("a bad verb filter: %q", errorOf(page, "f-verb"))
	}
	if page := b.page(200, "/console/orgs/org-a"); !strings.Contains(page, `<figure class="chart" id="chart-statements" data-swap>`) ||
		!strings.Contains(page, "In all: 1 statements.") {
		t.Errorf("the overview's chart:\n%s", page)
	}
	// Another organization's browser does not see it.
	other, _ := n.consoleIn("b@example.com")
	if page := other.page(200, "/console/orgs/org-b/statements?agent=ada%40example.com"); !strings.Contains(page, `id="no-statements"`) {
		t.Error("org-b's browser shows org-a's statement")
	}
	// Revoking.
	b.post(303, cbase+"/"+key[1]+"/revoke", csrf, nil)
	if list := b.page(200, cbase); !strings.Contains(list, `<td id="state-`+key[1]+`"><span class="badge badge-none">revoked</span>`) {
		t.Errorf("after revoking:\n%s", list)
	}
	other2, csrf2 := n.consoleIn("b@example.com")
	other2.post(403, cbase+"/"+key[1]+"/revoke", csrf2, nil)
	_ = schema.V2_0_0
}

func TestConsoleOperators(t *testing.T) {
	n, _ := consoleNode(t)
	b, csrf := n.consoleIn("op@example.com")
	page := b.page(200, "/console/orgs")
	if !strings.Contains(page, `id="org-org-a">Acme &lt;b&gt;A&lt;/b&gt;</a>`) {
		t.Errorf("the organizations:\n%s", page)
	}
	_, page = b.post(400, "/console/orgs", csrf, url.Values{"id": {"org-a"}, "name": {"Again"}})
	if e := errorOf(page, "f-id"); e != "An organization with this id already exists." {
		t.Errorf("a taken id: %q", e)
	}
	b.post(303, "/console/orgs", csrf, url.Values{"id": {"org-c"}, "name": {"Gamma"}})
	// An invitation without mail: its link is shown.
	_, page = b.post(400, "/console/accounts/invite", csrf, url.Values{"email": {"a@example.com"}, "role": {"org_admin"}, "org": {"org-a"}})
	if e := errorOf(page, "f-email"); e != "An account with this email already exists." {
		t.Errorf("inviting an account's email: %q", e)
	}
	_, page = b.post(400, "/console/accounts/invite", csrf, url.Values{"email": {"c@example.com"}, "role": {"org_admin"}, "org": {"no-such-org"}})
	if e := errorOf(page, "f-org"); !strings.Contains(e, "No organization") {
		t.Errorf("inviting to a missing organization: %q\n%s", e, page)
	}
	_, page = b.post(201, "/console/accounts/invite", csrf, url.Values{"email": {"c@example.com"}, "role": {"org_admin"}, "org": {"org-c"}})
	if !strings.Contains(page, `<code id="invite-link">http://lrs.test/console/accept?token=`) {
		t.Errorf("the invitation's link:\n%s", page)
	}
	// Disabling an account signs it out; one's own account cannot be.
	a, _ := n.consoleIn("a@example.com")
	var accounts struct{ Accounts []struct{ ID, Email string } }
	n.admin("GET", api.AdminPrefix+"/accounts", "", 200, &accounts)
	ids := map[string]string{}
	for _, x := range accounts.Accounts {
		ids[x.Email] = x.ID
	}
	b.post(303, "/console/accounts/"+ids["a@example.com"]+"/disable", csrf, nil)
	if res, _ := a.do("GET", "/console/orgs/org-a", ""); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the disabled account's session: %d", res.StatusCode)
	}
	if _, page := b.post(409, "/console/accounts/"+ids["op@example.com"]+"/disable", csrf, nil); !strings.Contains(page, "cannot disable your own account") {
		t.Errorf("disabling oneself:\n%s", page)
	}
	// The organization admins' pages are not theirs.
	c, ccsrf := n.consoleIn("b@example.com")
	c.page(403, "/console/accounts")
	c.post(403, "/console/accounts/invite", ccsrf, url.Values{"email": {"x@example.com"}, "role": {"operator"}})
	c.post(403, "/console/orgs", ccsrf, url.Values{"name": {"Mine"}})
}
