package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// An objective's results and their overrides in the console, over HTTP
// against the booted binary on both engines, as a browser without script
// sends its forms: the list on the objective's page with its filters (the
// admin API's problems beside them), paging and CSV export; a result's
// page; an override refused without the CSRF token, refused with the
// results service's own problems beside the inputs (the same the admin API
// answers for the same values), then stored, shown with who, when and why,
// and read back through the admin API; cleared; and another
// organization's administrator refused on the pages and the posts.

// consoleHTTP is a signed-in console client that does not follow redirects.
type consoleHTTP struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func consoleSignIn(t *testing.T, base, email, password string) *consoleHTTP {
	t.Helper()
	c := signInHTTP(t, base, email, password, http.StatusCreated)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h := &consoleHTTP{t: t, c: c, base: base}
	m := csrfRE.FindStringSubmatch(h.get(http.StatusOK, "/console/"))
	if m == nil {
		t.Fatalf("no CSRF token on %s's home page", email)
	}
	h.csrf = m[1]
	return h
}

func (h *consoleHTTP) get(want int, path string) string {
	h.t.Helper()
	res, err := h.c.Get(h.base + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		h.t.Fatalf("GET %s: %d, want %d\n%s", path, res.StatusCode, want, b)
	}
	return string(b)
}

// post sends a form (with the CSRF token unless csrf is false) and
// returns the page or the redirect's target.
func (h *consoleHTTP) post(want int, path string, v url.Values, csrf bool) (page, location string) {
	h.t.Helper()
	if csrf {
		v.Set("csrf_token", h.csrf)
	}
	res, err := h.c.PostForm(h.base+path, v)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		h.t.Fatalf("POST %s: %d, want %d\n%s", path, res.StatusCode, want, b)
	}
	return string(b), res.Header.Get("Location")
}

// fieldError is the text beside the input of the id ("" for none).
func fieldError(page, id string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(id) + `-error"><span class="visually-hidden">Error: </span>([^<]*)</p>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// cell is the text of the element of the id (tags dropped).
func cell(page, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</td>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
}

// resultLinks are the result pages the objective's page links to.
func resultLinks(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<a href="([^"]+/result\?[^"]+)" id="result-`).FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestConsoleResultsOverride(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		p := startLRS(t, append(storeEnv, "LRS_ADMIN_TOKEN="+testAdminToken, "LRS_FORWARD_KEY="+fwdTestKey,
			"LRS_BOOTSTRAP_KEY="+resCredKey, "LRS_BOOTSTRAP_SECRET="+resCredSecret)...)
		adminJSON(t, p.base, "POST", "/orgs", `{"id":"org-b","name":"Beta Academy"}`, 201)
		adminJSON(t, p.base, "POST", "/accounts", `{"email":"ada@example.com","role":"org_admin","org":"default","password":"ada's long passphrase"}`, 201)
		adminJSON(t, p.base, "POST", "/accounts", `{"email":"bob@example.com","role":"org_admin","org":"org-b","password":"bob's long passphrase"}`, 201)
		var obj struct{ ID string }
		if err := json.Unmarshal(adminJSON(t, p.base, "POST", "/orgs/default/objectives", `{"name":"Fire safety","activity_id":"`+resAct+`"}`, 201), &obj); err != nil {
			t.Fatal(err)
		}
		x := &client{t: t, base: p.base + "/xapi", key: resCredKey, secret: resCredSecret, version: "1.0.3"}
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("console-a", 0, 0.92, true), ",")+"]")
		grace := strings.Replace(graceStmt("0b6f4f4e-8d0c-4c43-9a53-0c4d6b1f7a10", "failed", 10, `{"success":false,"score":{"scaled":0.3}}`),
			`"registration":"`+resReg+`",`, "", 1)
		grace = strings.Replace(grace, `"Ada Lovelace"`, `"<img src=x onerror=alert(1)> Grace"`, 1)
		x.expect(http.StatusOK, http.MethodPost, "/statements", grace)

		ada := consoleSignIn(t, p.base, "ada@example.com", "ada's long passphrase")
		objPage := "/console/orgs/default/objectives/" + obj.ID

		// The list, its filters and paging, its export.
		page := ada.get(http.StatusOK, objPage)
		links := resultLinks(page)
		if len(links) != 2 || !strings.Contains(page, `id="result-list"`) || !strings.Contains(page, "Ada Lovelace") || !strings.Contains(page, "grace@example.com") {
			t.Fatalf("the objective's results: %q\n%s", links, page)
		}
		if !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt; Grace") || strings.Contains(page, "<img src=x") {
			t.Errorf("a participant's name with markup is not shown as text")
		}
		csvLink := `href="/admin/v1/orgs/default/objectives/` + obj.ID + `/results.csv"`
		if !strings.Contains(page, csvLink) {
			t.Errorf("no export link %s", csvLink)
		}
		if csv := ada.get(http.StatusOK, "/admin/v1/orgs/default/objectives/"+obj.ID+"/results.csv"); strings.Count(csv, "\r\n") != 3 {
			t.Errorf("the export through the session: %q", csv)
		}
		if page := ada.get(http.StatusOK, objPage+"?passed=false"); !slicesHave(resultLinks(page), "grace%40example.com") || len(resultLinks(page)) != 1 ||
			!strings.Contains(page, `/results.csv?passed=false"`) {
			t.Errorf("passed=false lists %q", resultLinks(page))
		}
		page = ada.get(http.StatusOK, objPage+"?passed=maybe&since=yesterday")
		if e := fieldError(page, "f-passed"); e != `"maybe": want true or false.` {
			t.Errorf("the filter's error: %q", e)
		}
		if e := fieldError(page, "f-since"); e != `"yesterday" is not an RFC 3339 time.` {
			t.Errorf("since's error: %q", e)
		}
		if len(resultLinks(page)) != 0 || !strings.Contains(page, `id="results-invalid"`) {
			t.Errorf("results listed under invalid filters")
		}
		if page := ada.get(http.StatusOK, objPage+"?limit=5000&cursor=nonsense"); !strings.Contains(page, "Limit: want a number from 1 to 1000.") {
			t.Errorf("a limit out of range is not said")
		}
		if page := ada.get(http.StatusOK, objPage+"?cursor=nonsense"); !strings.Contains(page, "Cursor: not a cursor of this list") {
			t.Errorf("a bad cursor is not said")
		}
		page = ada.get(http.StatusOK, objPage+"?limit=1")
		next := regexp.MustCompile(`href="([^"]+)" id="results-next"`).FindStringSubmatch(page)
		if len(resultLinks(page)) != 1 || next == nil {
			t.Fatalf("the first page of one: %q, next %v", resultLinks(page), next)
		}
		second := ada.get(http.StatusOK, strings.TrimPrefix(html.UnescapeString(next[1]), p.base))
		if l := resultLinks(second); len(l) != 1 || l[0] == resultLinks(page)[0] || strings.Contains(second, `id="results-next"`) {
			t.Errorf("the second page: %q after %q", l, resultLinks(page))
		}

		// Ada's result page.
		var adaLink string
		for _, l := range links {
			if strings.Contains(l, "ada%40example.com") {
				adaLink = l
			}
		}
		page = ada.get(http.StatusOK, adaLink)
		if cell(page, "eff-success") != "Passed" || cell(page, "eff-score") != "scaled 0.92 · raw 92 · min 0 · max 100" || !strings.Contains(page, `id="no-history"`) {
			t.Fatalf("the result's page:\n%s", page)
		}
		progress := "/orgs/default/objectives/" + obj.ID + "/progress?participant=ada@example.com&registration=" + resReg
		var before resultDoc
		_ = json.Unmarshal(adminJSON(t, p.base, "GET", progress, "", 200), &before)

		// Without the CSRF token: refused, nothing stored.
		form := url.Values{"participant": {"mbox:mailto:ada@example.com"}, "registration": {resReg}, "success": {"false"}, "reason": {"retake"}}
		ada.post(http.StatusForbidden, objPage+"/result", form, false)

		// The service's problems beside their inputs, as the admin API
		// states them for the same values.
		bad := url.Values{"participant": {"mbox:mailto:ada@example.com"}, "registration": {resReg}, "score": {"set"},
			"score.scaled": {"2"}, "score.raw": {"lots"}, "score.min": {"10"}, "score.max": {"5"}, "reason": {"  "}}
		page, _ = ada.post(http.StatusBadRequest, objPage+"/result", bad, true)
		apiAnswer := string(adminJSON(t, p.base, "POST", "/orgs/default/objectives/"+obj.ID+"/progress/override?participant=ada@example.com&registration="+resReg,
			`{"set":{"score":{"scaled":2,"min":10,"max":5}},"reason":"  "}`, 400))
		for id, want := range map[string]string{
			"f-reason":       "is required",
			"f-score-scaled": "must be from -1 to 1",
			"f-score-min":    "must be less than score.max",
			"f-score-raw":    "must be a number",
		} {
			if e := fieldError(page, id); !strings.EqualFold(e, want+".") {
				t.Errorf("beside %s: %q, want %q", id, e, want)
			}
			if id != "f-score-raw" && !strings.Contains(apiAnswer, want) {
				t.Errorf("the admin API does not say %q: %s", want, apiAnswer)
			}
		}
		if !strings.Contains(page, `id="error-summary"`) || !strings.Contains(page, `value="lots"`) {
			t.Errorf("no summary, or the typed values are lost")
		}

		// The override, with markup in its reason.
		const reason = `<script>alert(1)</script> the proctor's call`
		form.Set("reason", reason)
		form.Set("score", "set")
		form.Set("score.scaled", "0.4")
		_, loc := ada.post(http.StatusSeeOther, objPage+"/result", form, true)
		if !strings.Contains(loc, "done=overridden") {
			t.Fatalf("after the override: sent to %q", loc)
		}
		page = ada.get(http.StatusOK, loc)
		if !strings.Contains(page, "The override is saved.") || cell(page, "eff-success") != "Failed" || cell(page, "comp-success") != "Passed" ||
			!strings.HasPrefix(cell(page, "eff-score"), "scaled 0.4") || !strings.Contains(cell(page, "ovr-success"), "by account:ada@example.com") ||
			!strings.Contains(cell(page, "ovr-success"), reason) {
			t.Errorf("the overridden result's page: success %q/%q, score %q, override %q", cell(page, "eff-success"), cell(page, "comp-success"),
				cell(page, "eff-score"), cell(page, "ovr-success"))
		}
		if strings.Contains(page, "<script>alert") {
			t.Errorf("the reason is not escaped")
		}
		var after resultDoc
		_ = json.Unmarshal(adminJSON(t, p.base, "GET", progress, "", 200), &after)
		if *after.Success || *after.Score.Scaled != 0.4 || after.Overrides["success"].By != "account:ada@example.com" ||
			after.Overrides["success"].Reason != reason || after.Revision != before.Revision+1 || len(after.History) != 1 {
			t.Errorf("the admin API after the console's override: %+v", after)
		}
		if page := ada.get(http.StatusOK, objPage); !strings.Contains(page, `class="badge badge-override"`) {
			t.Errorf("the list does not mark the override")
		}

		// Another organization's administrator: refused on the pages and
		// the posts, and org-b's pages have no such objective.
		bob := consoleSignIn(t, p.base, "bob@example.com", "bob's long passphrase")
		bob.get(http.StatusForbidden, objPage)
		bob.get(http.StatusForbidden, loc)
		bob.post(http.StatusForbidden, objPage+"/result", url.Values{"participant": {"ada@example.com"}, "registration": {resReg}, "success": {"true"}, "reason": {"mine"}}, true)
		bob.get(http.StatusNotFound, "/console/orgs/org-b/objectives/"+obj.ID+"/result?participant=ada@example.com&registration="+resReg)
		bob.post(http.StatusNotFound, "/console/orgs/org-b/objectives/"+obj.ID+"/result", url.Values{"participant": {"ada@example.com"}, "registration": {resReg}, "success": {"true"}, "reason": {"mine"}}, true)
		ada.get(http.StatusNotFound, "/console/orgs/default/objectives/"+obj.ID+"/result?participant=nobody@example.com")

		// Clearing, from the form.
		_, loc = ada.post(http.StatusSeeOther, objPage+"/result", url.Values{"participant": {"mbox:mailto:ada@example.com"}, "registration": {resReg},
			"success": {"clear"}, "score": {"clear"}, "reason": {"confirmed with the proctor"}}, true)
		page = ada.get(http.StatusOK, loc)
		var cleared resultDoc
		_ = json.Unmarshal(adminJSON(t, p.base, "GET", progress, "", 200), &cleared)
		if !*cleared.Success || len(cleared.Overrides) != 0 || len(cleared.History) != 2 || cleared.Revision != after.Revision+1 {
			t.Errorf("after clearing: %+v", cleared)
		}
		// Clearing what is not overridden (a stale form): the service's
		// conflict, said on the page, nothing written.
		page, _ = ada.post(http.StatusConflict, objPage+"/result", url.Values{"participant": {"mbox:mailto:ada@example.com"}, "registration": {resReg},
			"success": {"clear"}, "reason": {"again"}}, true)
		if !strings.Contains(page, "Nothing to clear: success is not overridden.") {
			t.Errorf("clearing what is not overridden:\n%s", page)
		}
		page = ada.get(http.StatusOK, loc)
		if cell(page, "eff-success") != "Passed" || !strings.Contains(page, "Success cleared") || !strings.Contains(page, "Success set to Failed") {
			t.Errorf("the history after clearing:\n%s", page)
		}

		// Duration, attempts and the times are set from the form too: bad
		// values are refused beside their inputs (the service's words, and
		// the admin API's for attempts that are not a whole number),
		// nothing stored; good ones are in effect, and can be cleared.
		who := url.Values{"participant": {"mbox:mailto:ada@example.com"}, "registration": {resReg}}
		with := func(kv ...string) url.Values {
			v := url.Values{}
			for k, vs := range who {
				v[k] = vs
			}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		page = ada.get(http.StatusOK, loc)
		for _, want := range []string{`<select id="f-duration-do" name="duration.do"`, `<option value="set">Set to the value below</option>`,
			`data-when-input="duration.do" data-when-values="[&#34;set&#34;]"`, `<input id="f-attempts" name="attempts" type="text" value="1"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the override form lacks %s", want)
			}
		}
		page, _ = ada.post(http.StatusBadRequest, objPage+"/result", with("duration.do", "set", "duration", "90 minutes", "attempts.do", "set", "attempts", "two",
			"first_activity.do", "set", "first_activity", "yesterday", "reason", "from the paper log"), true)
		apiAnswer = string(adminJSON(t, p.base, "POST", "/orgs/default/objectives/"+obj.ID+"/progress/override?participant=ada@example.com&registration="+resReg,
			`{"set":{"duration":"90 minutes","attempts":"two"},"reason":"r"}`, 400))
		for id, want := range map[string]string{
			"f-duration":       `"90 minutes" is not an ISO 8601 duration.`,
			"f-attempts":       "Must be a whole number.",
			"f-first-activity": "Must be a time (RFC 3339).",
		} {
			if e := fieldError(page, id); e != want {
				t.Errorf("beside %s: %q, want %q", id, e, want)
			}
		}
		if !strings.Contains(apiAnswer, "must be a whole number") || !strings.Contains(page, `value="90 minutes"`) || !strings.Contains(page, `value="yesterday"`) {
			t.Errorf("the admin API's answer %s, or the typed values are lost", apiAnswer)
		}
		var unchanged resultDoc
		_ = json.Unmarshal(adminJSON(t, p.base, "GET", progress, "", 200), &unchanged)
		if unchanged.Revision != cleared.Revision {
			t.Errorf("a refused override changed the result: revision %d, was %d", unchanged.Revision, cleared.Revision)
		}
		_, loc = ada.post(http.StatusSeeOther, objPage+"/result", with("duration.do", "set", "duration", "PT1H30M", "attempts.do", "set", "attempts", "3",
			"completed_at.do", "set", "completed_at", "2026-03-01T10:15:00Z", "reason", "from the paper log"), true)
		page = ada.get(http.StatusOK, loc)
		if cell(page, "eff-duration") != "PT1H30M" || cell(page, "eff-attempts") != "3" || cell(page, "eff-completed_at") != "2026-03-01 10:15:00 UTC" ||
			!strings.Contains(cell(page, "ovr-attempts"), "by account:ada@example.com") {
			t.Errorf("after setting duration, attempts and completed at: %q %q %q %q", cell(page, "eff-duration"), cell(page, "eff-attempts"),
				cell(page, "eff-completed_at"), cell(page, "ovr-attempts"))
		}
		var set resultDoc
		_ = json.Unmarshal(adminJSON(t, p.base, "GET", progress, "", 200), &set)
		if set.Duration == nil || *set.Duration != "PT1H30M" || set.Attempts != 3 || set.CompletedAt == nil || *set.CompletedAt != "2026-03-01T10:15:00Z" ||
			len(set.Overrides) != 3 {
			t.Errorf("the admin API after setting them: %+v", set)
		}
		_, loc = ada.post(http.StatusSeeOther, objPage+"/result", with("attempts.do", "clear", "reason", "counted twice"), true)
		var one resultDoc
		_ = json.Unmarshal(adminJSON(t, p.base, "GET", progress, "", 200), &one)
		if _, still := one.Overrides["attempts"]; still || len(one.Overrides) != 2 || one.Attempts == 3 {
			t.Errorf("after clearing attempts: %+v", one)
		}
	})
}

func slicesHave(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
