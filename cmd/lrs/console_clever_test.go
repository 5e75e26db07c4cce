package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A Clever configuration created from the console, as a browser without
// script sends the two steps, against the booted binary and a simulated
// Clever district on both engines: step 2 is the type's form in its
// groups (the section mapping in JSON, the credentials as secret fields),
// the service's problem of a bad mapping shows beside it without the typed
// token, "Check readiness" is the test and answers the readiness check,
// and a learner on no roster shows as Skipped in the delivery log and
// the counts.
func TestConsoleClever(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		d := newCleverDistrict(t)
		up := startLRS(t, upstreamEnv(storeEnv)...)
		adminJSON(t, up.base, "POST", "/accounts", `{"email":"ada@example.com","role":"org_admin","org":"default","password":"ada's long passphrase"}`, 201)
		var obj struct{ ID string }
		if err := json.Unmarshal(adminJSON(t, up.base, "POST", "/orgs/default/objectives", `{"name":"Fire safety","activity_id":"`+resAct+`"}`, 201), &obj); err != nil {
			t.Fatal(err)
		}
		h := consoleSignIn(t, up.base, "ada@example.com", "ada's long passphrase")
		base := "/console/orgs/default/configurations"
		if page := h.get(http.StatusOK, base+"/new"); !strings.Contains(page, `<label for="f-type-`) || !strings.Contains(page, ">Clever grade passback</label>") {
			t.Errorf("step 1 does not offer Clever by its label:\n%s", page)
		}
		step1 := url.Values{"name": {"Springfield gradebook"}, "contact_email": {"ops@example.com"}, "type": {"clever"}}
		page, _ := h.post(http.StatusOK, base+"/new", step1, true)
		for _, want := range []string{
			`<legend>Sections</legend>`,
			`<label for="f-properties-sections">Section mapping <span class="req">(required)</span></label>`,
			`<textarea id="f-properties-sections" name="properties.sections" rows="10" class="json"`,
			`<legend>District and credentials</legend>`,
			`<input id="f-secrets-token" name="secrets.token" type="password"`,
			`<input id="f-secrets-client-secret" name="secrets.client_secret" type="password"`,
			`<label for="f-secrets-token">District-app token</label>`,
			`<legend>Assignment</legend>`,
			`<option value="pass_fail">pass_fail</option>`,
			`<legend>Advanced</legend>`,
			`<tr><th scope="row">Fire safety</th><td><code>` + obj.ID + `</code></td></tr>`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("step 2 of a Clever configuration lacks %s", want)
			}
		}
		const tokenTyped = "typed-token-never-shown"
		form := url.Values{"name": {"Springfield gradebook"}, "contact_email": {"ops@example.com"}, "type": {"clever"}, "identifier": {"mbox"},
			"properties.base_url": {d.url}, "properties.sections": {`{"` + obj.ID + `": "not a list"}`}, "secrets.token": {tokenTyped}}
		page, _ = h.post(http.StatusBadRequest, base, form, true)
		if e := fieldError(page, "f-properties-sections"); e == "" || strings.Contains(page, tokenTyped) {
			t.Errorf("a bad section mapping: beside it %q (or the typed token is shown)\n%s", e, page)
		}
		form.Set("properties.sections", `{"`+obj.ID+`": ["`+d.secA+`", "`+d.secB+`"]}`)
		form.Set("secrets.token", d.tok)
		_, loc := h.post(http.StatusSeeOther, base, form, true)
		cfgPath := strings.TrimSuffix(loc, "?done=created")
		cfg := cfgPath[strings.LastIndexByte(cfgPath, '/')+1:]
		page = h.get(http.StatusOK, cfgPath)
		if !strings.Contains(page, `<button type="submit" id="test">Check readiness</button>`) || !strings.Contains(page, `<dd id="cfg-type">Clever grade passback</dd>`) ||
			strings.Contains(page, d.tok) {
			t.Errorf("the Clever configuration's page:\n%s", page)
		}
		page, _ = h.post(http.StatusOK, cfgPath+"/test", url.Values{}, true)
		if !strings.Contains(page, `<strong>Check readiness: <span id="test-status">OK</span></strong>`) || !strings.Contains(page, "Ready: grades can be written") {
			t.Errorf("the readiness check without script:\n%s", page)
		}

		// A learner on no roster of the sections: Skipped, with the reason.
		adminJSON(t, up.base, "PUT", "/orgs/default/objectives/"+obj.ID, `{"name":"Fire safety","activity_id":"`+resAct+`","configurations":["`+cfg+`"]}`, 200)
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("zed@example.com", "1", 0, 0.7, true))
		deadline := time.Now().Add(forwardWait)
		for {
			part := h.getFragment(cfgPath + "/live")
			if strings.Contains(part, `<dd id="count-skipped">1</dd>`) && strings.Contains(part, `<span class="badge badge-none">Skipped</span>`) {
				if !strings.Contains(part, "not a student of") || !strings.Contains(part, `<span class="badge badge-none">Not attempted</span>`) {
					t.Errorf("the skip's reason in the log, and the status left as it was:\n%s", part)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no skip shown after %v:\n%s", forwardWait, part)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The page lists the skipped delivery with its reason.
		page = h.get(http.StatusOK, cfgPath)
		if i := strings.Index(page, `<div id="skipped">`); i < 0 || !strings.Contains(page[i:], "zed@example.com") || !strings.Contains(page[i:], "not a student of") {
			t.Errorf("the configuration's page does not list the skipped delivery:\n%s", page)
		}
	})
}
