package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/forwardtest"
)

// The request preview of postback and Clever configurations through the
// booted binary's admin API and CLI, on both engines: for the sample and
// for a stored result, the exact request of a postback (Basic header
// "[redacted]") and every request of a Clever grade in order, each with
// its purpose (the token fetch, the section's students, the assignment,
// the grade), the ids only Clever knows as placeholders; no secret shown
// and nothing sent to either server. Once the engine created a section's
// assignment (a real grade, to the simulated Clever), the preview names
// it and creates nothing, and the next learner's grade goes to it.
func TestPreviewCLIPostbackAndClever(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		t.Cleanup(srv.Close)
		up := startLRS(t, upstreamEnv(storeEnv)...)
		a := fwdAdmin(t, up)
		bearer := adminBearer()
		create := func(body map[string]any) string {
			t.Helper()
			r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", body, bearer...)
			var cfg struct{ ID string }
			if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
				t.Fatalf("configuration create answered %s (%v)", r.body, err)
			}
			return cfg.ID
		}
		const pbPassword, clSecret = "pb-pass-word-42", "clever-client-secret-42"
		pb := create(map[string]any{"name": "SCORM LMS", "contact_email": "ops@example.com", "type": "postback",
			"properties": map[string]string{"url": srv.URL + "/postback", "authType": "httpbasic"},
			"secrets":    map[string]string{"userName": "lms", "password": pbPassword}})
		section := "5fee004cca2e43cf27000007"
		cl := create(map[string]any{"name": "Springfield <script>alert(1)</script>", "contact_email": "ops@example.com", "type": "clever",
			"properties": map[string]string{"base_url": srv.URL, "token_url": srv.URL + "/oauth/tokens", "district_id": "5b2ad81a709e300001e2cd7a",
				"sections": `{"*":["` + section + `"]}`},
			"secrets": map[string]string{"client_id": "clever-app-id", "client_secret": clSecret}})
		noSecret := func(what, out string) {
			t.Helper()
			for _, s := range []string{pbPassword, clSecret, "clever-app-id"} {
				if strings.Contains(out, s) {
					t.Errorf("%s shows a secret:\n%s", what, out)
				}
			}
		}

		out := mustAdmin(t, up.base, "configuration", "preview", "--org", "default", pb)
		for _, want := range []string{"POST " + srv.URL + "/postback\n", "Authorization: Basic [redacted]\n", "Content-Type: application/json; charset=UTF-8\n", `"learner":{"id":"ada@example.com"`} {
			if !strings.Contains(out, want) {
				t.Errorf("the postback's preview has no %q:\n%s", want, out)
			}
		}
		noSecret("the postback's preview", out)
		out = mustAdmin(t, up.base, "configuration", "preview", "--org", "default", cl)
		for _, want := range []string{
			"# 1. fetches the district's token with the client credentials",
			"GET " + srv.URL + "/oauth/tokens?district=5b2ad81a709e300001e2cd7a&owner_type=district\nAccept: application/json\nAuthorization: Basic [redacted]\n",
			"# 2. lists the students of section " + section,
			"# 3. creates the objective's assignment in section " + section,
			"# 4. writes the grade in section " + section + "\nPATCH " + srv.URL + "/v3.1/sections/" + section + "/assignments/{assignment_id}/submissions/{student_id}\n",
			"Authorization: Bearer [redacted]\n", `"grade_points":92`, "note: nothing was sent to Clever",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("Clever's preview has no %q:\n%s", want, out)
			}
		}
		noSecret("Clever's preview", out)
		var p struct {
			Requests []struct{ Purpose, Method, URL string }
		}
		if err := json.Unmarshal([]byte(mustAdmin(t, up.base, "configuration", "preview", "--org", "default", cl, "--json")), &p); err != nil || len(p.Requests) != 4 || p.Requests[3].Method != "PATCH" {
			t.Errorf("Clever's preview --json: %+v, %v", p, err)
		}

		// A stored result: Ada's, of an objective attached to neither.
		r := a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{"name": "Fire safety", "activity_id": resAct}, bearer...)
		var obj struct{ ID string }
		if err := json.Unmarshal(r.body, &obj); err != nil || obj.ID == "" {
			t.Fatalf("objective create answered %s (%v)", r.body, err)
		}
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("pvcli-a", 0, 0.75, true), ",")+"]")
		var real string
		forwardtest.Eventually(t, 10*time.Second, func() error {
			var err error
			real, err = admin(t, up.base, "configuration", "preview", "--org", "default", cl, "--objective", obj.ID, "--participant", "mbox:mailto:ada@example.com", "--registration", resReg)
			return err
		})
		for _, want := range []string{"to find the Clever id of ada@example.com", `"title":"Fire safety"`, `"grade_points":75`,
			"note: the objective is not attached to this configuration"} {
			if !strings.Contains(real, want) {
				t.Errorf("Clever's preview of Ada's result has no %q:\n%s", want, real)
			}
		}
		noSecret("Clever's preview of a result", real)
		real = mustAdmin(t, up.base, "configuration", "preview", "--org", "default", pb, "--objective", obj.ID, "--participant", "mbox:mailto:ada@example.com", "--registration", resReg)
		if !strings.Contains(real, `"learner":{"id":"ada@example.com"`) || !strings.Contains(real, `"score":{"scaled":75}`) || !strings.Contains(real, `"xapiRegistrationId":"`+resReg+`"`) {
			t.Errorf("the postback's preview of Ada's result:\n%s", real)
		}
		noSecret("the postback's preview of a result", real)

		// The console: the result's page links to each configuration's
		// "Preview request" page with the result chosen; the page shows
		// every request, escaped; a missing result is said beside the
		// participant; an xAPI configuration has no such page.
		adminJSON(t, up.base, "POST", "/accounts", `{"email":"ada@example.com","role":"org_admin","org":"default","password":"ada's long passphrase"}`, 201)
		h := consoleSignIn(t, up.base, "ada@example.com", "ada's long passphrase")
		page := h.get(http.StatusOK, "/console/orgs/default/objectives/"+obj.ID+"/result?participant=mbox:mailto:ada@example.com&registration="+resReg)
		clLink := "/console/orgs/default/configurations/" + cl + "/request?objective=" + obj.ID + "&amp;participant=mbox%3Amailto%3Aada%40example.com&amp;registration=" + resReg
		for _, want := range []string{`<ul class="inline-list" id="result-previews">`, `<a href="` + clLink + `">Springfield &lt;script&gt;alert(1)&lt;/script&gt;</a> <span class="muted">(not attached to this objective)</span>`,
			`<a href="/console/orgs/default/configurations/` + pb + `/request?objective=`} {
			if !strings.Contains(page, want) {
				t.Errorf("the result's page lacks %s", want)
			}
		}
		page = h.get(http.StatusOK, strings.ReplaceAll(clLink, "&amp;", "&"))
		for _, want := range []string{`<title>Preview request: Springfield &lt;script&gt;alert(1)&lt;/script&gt;`, `<h2 id="request-title">The requests for this result</h2>`,
			`<ol class="requests" id="preview-requests">`, `<li id="preview-request-3">`, `<code class="request-line">PATCH ` + srv.URL + `/v3.1/sections/` + section + `/assignments/{assignment_id}/submissions/{student_id}</code>`,
			`<li><code>Authorization: Bearer [redacted]</code></li>`, `&#34;grade_points&#34;:75`, `<option value="` + obj.ID + `" selected>Fire safety</option>`,
			`value="mbox:mailto:ada@example.com"`, "the objective is not attached to this configuration"} {
			if !strings.Contains(page, want) {
				t.Errorf("Clever's request preview page lacks %s", want)
			}
		}
		if strings.Contains(page, "<script>alert") {
			t.Error("the configuration's name is not escaped")
		}
		noSecret("Clever's request preview page", page)
		page = h.get(http.StatusOK, "/console/orgs/default/configurations/"+pb+"/request")
		for _, want := range []string{`<h2 id="request-title">The request for a sample result</h2>`, `<code id="preview-line">POST ` + srv.URL + `/postback</code>`,
			`<li><code>Authorization: Basic [redacted]</code></li>`, `<option value="" selected>A sample result</option>`} {
			if !strings.Contains(page, want) {
				t.Errorf("the postback's request preview page lacks %s", want)
			}
		}
		noSecret("the postback's request preview page", page)
		page = h.get(http.StatusNotFound, "/console/orgs/default/configurations/"+pb+"/request?objective="+obj.ID+"&participant=mbox:mailto:nobody@example.com")
		if !strings.Contains(page, `id="f-participant-error"`) || !strings.Contains(page, "No result of this participant in this objective") || strings.Contains(page, `id="request-title"`) {
			t.Errorf("the request preview of a missing result:\n%s", page)
		}
		if page := h.get(http.StatusOK, "/console/orgs/default/configurations/"+pb); !strings.Contains(page, `<a class="button secondary" href="/console/orgs/default/configurations/`+pb+`/request" id="request-preview">Preview request</a>`) {
			t.Errorf("the postback's page has no link to its request preview")
		}
		xc := createXAPIConfiguration(t, up, "Downstream", srv.URL+"/xapi")
		h.get(http.StatusConflict, "/console/orgs/default/configurations/"+xc+"/request")
		if n := hits.Load(); n != 0 {
			t.Errorf("the previews sent %d requests", n)
		}

		// A configuration to the simulated Clever, the objective attached:
		// Ada's better retake creates the section's assignment and grades
		// her; then the preview of Alan's result (and the sample's, of the
		// same objective) writes to that assignment, with no creation, and
		// the engine's send of Alan's grade goes there too.
		d := newCleverDistrict(t)
		cl2 := create(map[string]any{"name": "Springfield gradebook", "contact_email": "ops@example.com", "type": "clever",
			"properties": map[string]string{"base_url": d.url, "sections": `{"` + obj.ID + `":["` + d.secA + `"]}`},
			"secrets":    map[string]string{"token": d.tok}})
		a.expect(http.StatusOK, http.MethodPut, "/objectives/"+obj.ID, map[string]any{
			"name": "Fire safety", "activity_id": resAct, "configurations": []string{cl2}}, bearer...)
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("ada@example.com", "pv2", 0, 0.9, true))
		forwardtest.Eventually(t, 20*time.Second, func() error {
			if p := d.points(d.secA, "ada@example.com"); p != 90 {
				return fmt.Errorf("Ada's grade: %v", p)
			}
			return nil
		})
		asgs := d.sim.Assignments(d.secA)
		if len(asgs) != 1 {
			t.Fatalf("%d assignments in the section", len(asgs))
		}
		write := "writes the grade in section " + d.secA + ", in the objective's assignment there (created by an earlier grade: its id is recorded)\nPATCH " +
			d.url + "/v3.1/sections/" + d.secA + "/assignments/" + asgs[0].ID + "/submissions/{student_id}\n"
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("alan@example.com", "pv2", 0, 0.8, true))
		forwardtest.Eventually(t, 10*time.Second, func() error {
			var err error
			real, err = admin(t, up.base, "configuration", "preview", "--org", "default", cl2, "--objective", obj.ID, "--participant", "mbox:mailto:alan@example.com", "--registration", resReg)
			return err
		})
		sample := mustAdmin(t, up.base, "configuration", "preview", "--org", "default", cl2)
		for what, out := range map[string]string{"Alan's result": real, "the sample": sample} {
			if !strings.Contains(out, "# 2. "+write) || strings.Contains(out, "POST ") || strings.Contains(out, "creates the objective's assignment") ||
				strings.Contains(out, "{assignment_id}") {
				t.Errorf("the preview of %s once the assignment is recorded:\n%s", what, out)
			}
		}
		forwardtest.Eventually(t, 20*time.Second, func() error {
			if p := d.points(d.secA, "alan@example.com"); p != 80 {
				return fmt.Errorf("Alan's grade: %v", p)
			}
			return nil
		})
		if n := d.sim.Created(d.secA, "Fire safety"); n != 1 || len(d.sim.Assignments(d.secA)) != 1 {
			t.Errorf("%d assignments created in the section, want 1", n)
		}
	})
}
