package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The results through the booted binary, on both engines: an objective
// created with the CLI, a cmi5 session and a retake POSTed to the xAPI
// endpoint, the progress, lists, filters, paging and the CSV export read
// through the admin API and the CLI, an override that survives later
// statements and is cleared, a voiding statement, the attempt rule
// switched by an edit, and the refusals of bad input.

const (
	resCredKey    = "results-key"
	resCredSecret = "results-secret-0123456789abcdef"
)

// resultDoc is what the tests read of a result's JSON.
type resultDoc struct {
	ID              string
	ObjectiveID     string `json:"objective_id"`
	Participant     string
	Registration    string
	Completion      *bool
	Success         *bool
	Score           *struct{ Scaled, Raw, Min, Max *float64 }
	Duration        *string
	DurationSeconds *float64 `json:"duration_seconds"`
	Attempts        int
	CompletedAt     *string `json:"completed_at"`
	Statements      int
	Revision        int64
	Sources         map[string]string
	Computed        struct {
		Success *bool
		Score   *struct{ Scaled *float64 }
	}
	Overrides map[string]struct {
		Value  any
		By     string
		Reason string
	}
	History []struct {
		Reason   string
		Cleared  []string
		Revision int64
	} `json:"override_history"`
}

func graceStmt(id, verb string, min int, result string) string {
	return strings.Replace(resStmt(id, verb, resAct, min, result), `"mailto:ada@example.com"`, `"mailto:grace@example.com"`, 1)
}

func TestResultsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		p := startLRS(t, append(storeEnv, "LRS_ADMIN_TOKEN="+testAdminToken, "LRS_BOOTSTRAP_KEY="+resCredKey, "LRS_BOOTSTRAP_SECRET="+resCredSecret)...)
		x := &client{t: t, base: p.base + "/xapi", key: resCredKey, secret: resCredSecret, version: "1.0.3"}
		a := &client{t: t, base: p.base + "/admin/v1/orgs/default"}
		bearer := adminBearer()

		out := mustAdmin(t, p.base, "objective", "create", "--org", "default", "--name", "Fire safety", "--activity-id", resAct)
		m := regexp.MustCompile(`(?m)^id:\s+(\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("objective create printed no id:\n%s", out)
		}
		obj := m[1]
		progress := "/objectives/" + obj + "/progress?participant=ada@example.com&registration=" + resReg

		// A cmi5 session, one request per statement, as an AU sends it.
		for _, raw := range resSession("e2e-a", 0, 0.92, true) {
			x.expect(http.StatusOK, http.MethodPost, "/statements", raw)
		}
		var r resultDoc
		get := func(path string, dst any) {
			t.Helper()
			reflect.ValueOf(dst).Elem().SetZero() // decoding into a used map would merge
			if err := json.Unmarshal(a.expect(http.StatusOK, http.MethodGet, path, nil, bearer...).body, dst); err != nil {
				t.Fatal(err)
			}
		}
		get(progress, &r)
		if !*r.Completion || !*r.Success || *r.Score.Scaled != 0.92 || *r.Score.Raw != 92 || *r.Duration != "PT5M" || *r.DurationSeconds != 300 ||
			r.Attempts != 1 || r.Statements != 5 || r.Revision != 5 || r.CompletedAt == nil || *r.CompletedAt != "2026-09-02T08:03:00Z" ||
			r.Participant != resAda || r.Sources["success"] != sessionID("e2e-a", "verdict") || r.ID == "" {
			t.Errorf("progress after the session: %+v", r)
		}
		if out := mustAdmin(t, p.base, "result", "get", "--org", "default", "--objective", obj, "--participant", "ada@example.com", "--registration", resReg); !strings.Contains(out, "completion:     completed") ||
			!strings.Contains(out, "success:        passed") || !strings.Contains(out, "score:          0.92") {
			t.Errorf("result get:\n%s", out)
		}

		// A lower retake keeps the pass; Grace fails (no registration).
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("e2e-b", 60, 0.5, false), ",")+"]")
		get(progress, &r)
		if !*r.Success || *r.Score.Scaled != 0.92 || r.Attempts != 2 {
			t.Errorf("after a lower retake: success %v score %v attempts %d", *r.Success, *r.Score.Scaled, r.Attempts)
		}
		graceFail := strings.Replace(graceStmt("7c9e6679-7425-40de-944b-e07fc1f90ae7", "failed", 10, `{"success":false,"score":{"scaled":0.3}}`),
			`"registration":"`+resReg+`",`, "", 1)
		x.expect(http.StatusOK, http.MethodPost, "/statements", graceFail)

		// Lists: filters, paging.
		var l struct {
			Results    []resultDoc
			NextCursor string `json:"next_cursor"`
		}
		list := func(q string) []string {
			t.Helper()
			var ps []string
			for cursor := ""; ; {
				path := "/objectives/" + obj + "/results?limit=1&" + q
				if cursor != "" {
					path += "&cursor=" + url.QueryEscape(cursor)
				}
				l.NextCursor = ""
				get(path, &l)
				for _, res := range l.Results {
					ps = append(ps, res.Participant)
				}
				if cursor = l.NextCursor; cursor == "" {
					return ps
				}
			}
		}
		for q, want := range map[string][]string{
			"":                {resAda, "mbox:mailto:grace@example.com"},
			"passed=true":     {resAda},
			"passed=false":    {"mbox:mailto:grace@example.com"},
			"completed=false": {"mbox:mailto:grace@example.com"},
			"since=2000-01-01T00:00:00Z&completed=true": {resAda},
		} {
			if got := list(q); !slices.Equal(got, want) {
				t.Errorf("results?%s: %v, want %v", q, got, want)
			}
		}
		if out := mustAdmin(t, p.base, "result", "list", "--org", "default", "--objective", obj, "--passed", "false", "--limit", "1"); !strings.Contains(out, "mbox:mailto:grace@example.com") ||
			strings.Contains(out, resAda) || strings.Contains(out, "more: --cursor") {
			t.Errorf("result list --passed false:\n%s", out)
		}
		if out := mustAdmin(t, p.base, "result", "list", "--org", "default", "--objective", obj, "--limit", "1"); !strings.Contains(out, resAda) || !strings.Contains(out, "more: --cursor") {
			t.Errorf("result list --limit 1:\n%s", out)
		}
		if out, err := admin(t, p.base, "result", "list", "--org", "default"); err == nil || !strings.Contains(out+err.Error(), "--objective or --participant") {
			t.Errorf("result list without objective or participant: %v\n%s", err, out)
		}
		get("/results?participant=grace@example.com", &l)
		if len(l.Results) != 1 || l.Results[0].ObjectiveID != obj {
			t.Errorf("Grace's results: %+v", l.Results)
		}

		// The export, by the CLI and over HTTP.
		csvOut := mustAdmin(t, p.base, "result", "export", "--org", "default", "--objective", obj)
		rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][0] != "objective_id" || !strings.Contains(csvOut, "\r\n") {
			t.Fatalf("export: %v\n%q", err, csvOut)
		}
		col := func(row []string, name string) string { return row[slices.Index(rows[0], name)] }
		if col(rows[1], "participant") != resAda || col(rows[1], "success") != "true" || col(rows[1], "score_scaled") != "0.92" ||
			col(rows[1], "duration_seconds") != "300" || col(rows[2], "success") != "false" || col(rows[2], "registration") != "" || col(rows[1], "name") != "Ada Lovelace" {
			t.Errorf("export rows: %q", rows[1:])
		}
		res := a.expect(http.StatusOK, http.MethodGet, "/objectives/"+obj+"/results.csv?passed=false", nil, bearer...)
		if ct := res.header.Get("Content-Type"); ct != "text/csv; charset=utf-8; header=present" || bytes.Count(res.body, []byte("\r\n")) != 2 {
			t.Errorf("export over HTTP: %s\n%q", ct, res.body)
		}

		// An override by the CLI; a later passing session changes what the
		// statements say, not the override; clearing it.
		out = mustAdmin(t, p.base, "result", "override", "--org", "default", "--objective", obj, "--participant", "ada@example.com",
			"--registration", resReg, "--set", "success=false", "--set", "score=0.4", "--reason", "the exam was taken by someone else")
		if !strings.Contains(out, "success:        failed") || !strings.Contains(out, "override:     success = false by admin-token") {
			t.Errorf("result override:\n%s", out)
		}
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("e2e-c", 120, 0.97, true), ",")+"]")
		get(progress, &r)
		if *r.Success || *r.Score.Scaled != 0.4 || *r.Computed.Score.Scaled != 0.97 || r.Overrides["success"].Reason != "the exam was taken by someone else" || r.Attempts != 3 {
			t.Errorf("the override under a later session: %+v", r)
		}
		rev := r.Revision
		a.expect(http.StatusOK, http.MethodPost, "/objectives/"+obj+"/progress/override?participant=ada@example.com&registration="+resReg,
			`{"clear":["success","score"],"reason":"confirmed with the proctor"}`, bearer...)
		get(progress, &r)
		if !*r.Success || *r.Score.Scaled != 0.97 || len(r.Overrides) != 0 || r.Revision != rev+1 || len(r.History) != 2 || r.History[1].Revision != r.Revision {
			t.Errorf("after clearing: %+v", r)
		}

		// Voiding Grace's only verdict withdraws it.
		x.expect(http.StatusOK, http.MethodPost, "/statements", `{"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},
"object":{"objectType":"StatementRef","id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}}`)
		var g resultDoc
		get("/objectives/"+obj+"/progress?participant=grace@example.com", &g)
		if g.Success != nil || g.Score != nil || g.Statements != 0 {
			t.Errorf("Grace after voiding her statement: %+v", g)
		}

		// The attempt rule switched by an edit: the latest attempt (e2e-c,
		// passed 0.97) is also the best, so check with a failing one.
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("e2e-d", 180, 0.2, false), ",")+"]")
		a.expect(http.StatusOK, http.MethodPut, "/objectives/"+obj, map[string]any{"name": "Fire safety", "activity_id": resAct, "latest_attempt_counts": true}, bearer...)
		get(progress, &r)
		if *r.Success || *r.Score.Scaled != 0.2 {
			t.Errorf("after switching to the latest attempt: success %v score %v", *r.Success, *r.Score.Scaled)
		}

		if out := mustAdmin(t, p.base, "result", "recompute", "--org", "default", "--objective", obj); !strings.Contains(out, "2 results recomputed") {
			t.Errorf("result recompute:\n%s", out)
		}

		// Refusals.
		for _, tc := range []struct {
			method, path, body string
			status             int
			msg                string
		}{
			{"GET", "/objectives/" + obj + "/progress", "", 400, "participant: is required"},
			{"GET", "/objectives/" + obj + "/progress?participant=ada", "", 400, "give an email"},
			{"GET", "/objectives/nope/progress?participant=ada@example.com", "", 404, `no objective`},
			{"GET", "/objectives/" + obj + "/progress?participant=ada@example.com", "", 404, "no result"},
			{"GET", "/objectives/" + obj + "/results?cursor=garbage", "", 400, "cursor"},
			{"GET", "/objectives/" + obj + "/results?passed=yes&limit=0", "", 400, "want true or false; limit: want a number from 1 to 1000"},
			{"GET", "/objectives/" + obj + "/results?since=yesterday", "", 400, "since"},
			{"GET", "/results", "", 400, "participant: is required"},
			{"POST", "/objectives/" + obj + "/progress/override?participant=ada@example.com&registration=" + resReg, `{"set":{"success":true}}`, 400, "reason: is required"},
			{"POST", "/objectives/" + obj + "/progress/override?participant=ada@example.com&registration=" + resReg, `{"set":{"attempts":null},"reason":"x"}`, 400, "set.attempts: must be a whole number"},
			{"POST", "/objectives/" + obj + "/progress/override?participant=ada@example.com&registration=" + resReg, `{"set":{"grade":"A"},"reason":"x"}`, 400, "grade: not a value"},
			{"POST", "/objectives/" + obj + "/progress/override?participant=ada@example.com&registration=" + resReg, `{"clear":["score"],"reason":"x"}`, 409, "nothing to clear"},
			{"POST", "/objectives/" + obj + "/progress/override?participant=ada@example.com&registration=" + resReg, `{"set":{},"reason":"x","extra":1}`, 400, "unknown field"},
		} {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			res := a.do(tc.method, tc.path, body, bearer...)
			if res.status != tc.status || !strings.Contains(string(res.body), tc.msg) {
				t.Errorf("%s %s: %d %s; want %d with %q", tc.method, tc.path, res.status, res.body, tc.status, tc.msg)
			}
		}

		metrics := (&client{t: t, base: p.base}).expect(http.StatusOK, http.MethodGet, "/metrics", nil)
		if !regexp.MustCompile(`lrs_forward_result_changes_total\{cause="statements"\} [1-9]`).Match(metrics.body) ||
			!regexp.MustCompile(`lrs_forward_result_changes_total\{cause="override"\} 2`).Match(metrics.body) {
			t.Errorf("metrics lack the result changes:\n%s", grepLines(string(metrics.body), "result_changes"))
		}
	})
}
