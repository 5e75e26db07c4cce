package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestXAPIRules runs the rules the ADL conformance suites check last on
// the booted binary, on both engines: the authority's shape, format=ids
// (against the schema's golden fixtures), durations compared at 0.01 s
// when a statement is sent again, Boolean parameters in any letter case,
// profile PUTs without concurrency headers under 1.0.x, and
// LRS_XAPI_VERSIONS.
func TestXAPIRules(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, testXAPIRules)
}

func testXAPIRules(t *testing.T, storeEnv []string) {
	const key, secret = "rules-key", "rules-secret-0123456789"
	env := append(slices.Clone(storeEnv), "LRS_BOOTSTRAP_KEY="+key, "LRS_BOOTSTRAP_SECRET="+secret)
	p := startLRS(t, env...)
	c2 := &client{t: t, base: p.base + "/xapi", key: key, secret: secret, version: "2.0.0"}
	c1 := &client{t: t, base: c2.base, key: key, secret: secret, version: "1.0.3"}
	ada := `{"mbox":"mailto:ada@example.com"}`

	t.Run("authority is an Agent or an anonymous Group of two Agents", func(t *testing.T) {
		c2.t, c1.t = t, t
		app := map[string]any{"account": map[string]any{"homePage": "http://example.com/xAPI/OAuth/Token", "name": "app"}}
		user := map[string]any{"mbox": "mailto:user@example.com"}
		for name, authority := range map[string]map[string]any{
			"identified Group": {"objectType": "Group", "mbox": "mailto:team@example.com", "member": []any{app, user}},
			"one member":       {"objectType": "Group", "member": []any{app}},
			"three members":    {"objectType": "Group", "member": []any{app, user, map[string]any{"mbox": "mailto:third@example.com"}}},
		} {
			st := e2eStatement(uuid.NewString(), "ada@example.com", "attempted", "authority")
			st["authority"] = authority
			r := c2.expect(http.StatusBadRequest, http.MethodPost, "/statements", st)
			if !strings.Contains(string(r.body), "$.authority") || !strings.Contains(string(r.body), "authority") {
				t.Errorf("%s: message %s does not name the authority rule", name, r.body)
			}
			c2.expect(http.StatusNotFound, http.MethodGet, "/statements?statementId="+st["id"].(string), nil)
		}
		st := e2eStatement(uuid.NewString(), "ada@example.com", "attempted", "authority")
		st["authority"] = map[string]any{"objectType": "Group", "member": []any{app, user}}
		c2.expect(http.StatusOK, http.MethodPost, "/statements", st)
		got := decodeStatement(t, c2.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+st["id"].(string), nil).body)
		if a, _ := got["authority"].(map[string]any); a["objectType"] == "Group" {
			t.Errorf("the submitted authority was kept: %v", got["authority"])
		}
	})

	t.Run("format=ids matches the golden fixtures", func(t *testing.T) {
		c2.t = t
		files, err := filepath.Glob("../../schema/testdata/format-ids/*.json")
		if err != nil || len(files) == 0 {
			t.Fatalf("golden fixtures: %v (%d files)", err, len(files))
		}
		want := map[string]map[string]any{} // by statement id
		for _, f := range files {
			var fx struct{ Exact, IDs map[string]any }
			b, err := os.ReadFile(f)
			if err != nil || json.Unmarshal(b, &fx) != nil {
				t.Fatalf("%s: %v", f, err)
			}
			id := uuid.NewString()
			for _, k := range []string{"stored", "authority", "version"} { // the LRS sets them
				delete(fx.Exact, k)
			}
			fx.Exact["id"], fx.IDs["id"] = id, id
			c2.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+id, fx.Exact)
			want[id] = fx.IDs
		}
		check := func(t *testing.T, got map[string]any) {
			t.Helper()
			id, _ := got["id"].(string)
			w, ok := want[id]
			if !ok {
				return // another subtest's statement
			}
			if a, _ := got["authority"].(map[string]any); len(a) != 1 || a["account"] == nil {
				t.Errorf("statement %s: authority %v, want its account alone", id, got["authority"])
			}
			for _, k := range []string{"stored", "authority", "version"} {
				delete(got, k)
			}
			w = maps.Clone(w)
			for _, k := range []string{"stored", "authority", "version"} {
				delete(w, k)
			}
			if !reflect.DeepEqual(got, w) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(w)
				t.Errorf("format=ids of %s:\n got %s\nwant %s", id, gb, wb)
			}
		}
		for id := range want {
			check(t, decodeStatement(t, c2.expect(http.StatusOK, http.MethodGet, "/statements?format=ids&statementId="+id, nil).body))
		}
		// A query keeps the format on every page of its more links.
		seen, path := 0, "/statements?format=ids&limit=3&agent="+url.QueryEscape(ada)
		for path != "" {
			var sr statementResult
			if err := json.Unmarshal(c2.expect(http.StatusOK, http.MethodGet, path, nil).body, &sr); err != nil {
				t.Fatal(err)
			}
			for _, st := range sr.Statements {
				if _, ok := want[st["id"].(string)]; ok {
					seen++
				}
				check(t, st)
			}
			path = strings.TrimPrefix(sr.More, "/xapi")
		}
		if seen == 0 {
			t.Error("the format=ids query returned none of the fixtures' statements")
		}
	})

	t.Run("a statement sent again compares durations at 0.01 s", func(t *testing.T) {
		c2.t = t
		id := uuid.NewString()
		withDuration := func(d string) map[string]any {
			st := e2eStatement(id, "ada@example.com", "completed", "durations")
			st["result"] = map[string]any{"duration": d}
			return st
		}
		c2.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+id, withDuration("PT1M0.12S"))
		for _, same := range []string{"PT1M0.12S", "PT1M0.1237S", "PT60.129S"} {
			c2.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+id, withDuration(same))
		}
		c2.expect(http.StatusOK, http.MethodPost, "/statements", []any{withDuration("PT1M0.121S")})
		r := c2.expect(http.StatusConflict, http.MethodPut, "/statements?statementId="+id, withDuration("PT1M0.13S"))
		if !strings.Contains(string(r.body), id) {
			t.Errorf("409 %s does not name the statement", r.body)
		}
		got := decodeStatement(t, c2.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+id, nil).body)
		if d := got["result"].(map[string]any)["duration"]; d != "PT1M0.12S" {
			t.Errorf("stored duration %v, want the first one, PT1M0.12S", d)
		}
	})

	t.Run("Boolean parameters in any letter case", func(t *testing.T) {
		c2.t = t
		id := uuid.NewString()
		st := e2eStatement(id, "ann@example.com", "attempted", "booleans")
		st["context"] = map[string]any{"instructor": map[string]any{"mbox": "mailto:teacher@example.com"},
			"contextActivities": map[string]any{"parent": []any{map[string]any{"id": "http://example.com/e2e/booleans-course"}}}}
		c2.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+id, st)
		teacher := url.QueryEscape(`{"mbox":"mailto:teacher@example.com"}`)
		for _, q := range []string{"related_agents=True&agent=" + teacher, "related_activities=TRUE&activity=http://example.com/e2e/booleans-course"} {
			if ids := c2.queryAll("/statements?" + q); !slices.Equal(ids, []string{id}) {
				t.Errorf("%s: %v, want [%s]", q, ids, id)
			}
		}
		if ids := c2.queryAll("/statements?related_agents=False&agent=" + teacher); len(ids) != 0 {
			t.Errorf("related_agents=False: %v, want none", ids)
		}
		r := c2.expect(http.StatusOK, http.MethodGet, "/statements?attachments=True&statementId="+id, nil)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/mixed") {
			t.Errorf("attachments=True: Content-Type %q, want multipart/mixed", ct)
		}
		r = c2.expect(http.StatusBadRequest, http.MethodGet, "/statements?related_agents=yes&agent="+teacher, nil)
		if !strings.Contains(string(r.body), `related_agents must be true or false, not \"yes\"`) {
			t.Errorf("related_agents=yes: %s", r.body)
		}
	})

	t.Run("1.0.x profile PUT without If-Match or If-None-Match", func(t *testing.T) {
		c2.t, c1.t = t, t
		agentProfile := "/agents/profile?" + url.Values{"agent": {ada}, "profileId": {"p-" + uuid.NewString()}}.Encode()
		activityProfile := "/activities/profile?" + url.Values{"activityId": {"http://example.com/e2e/profiles"}, "profileId": {"p-" + uuid.NewString()}}.Encode()
		for _, path := range []string{agentProfile, activityProfile} {
			r := c1.expect(http.StatusBadRequest, http.MethodPut, path, map[string]any{"v": 1})
			if !strings.Contains(string(r.body), "If-None-Match: *") {
				t.Errorf("PUT %s without headers: %s, want a message naming If-None-Match: *", path, r.body)
			}
			c1.expect(http.StatusNotFound, http.MethodGet, path, nil)
			c1.expect(http.StatusNoContent, http.MethodPut, path, map[string]any{"v": 1}, "If-None-Match", "*")
			c1.expect(http.StatusConflict, http.MethodPut, path, map[string]any{"v": 2})
			if got := decodeStatement(t, c1.expect(http.StatusOK, http.MethodGet, path, nil).body); got["v"] != 1.0 {
				t.Errorf("PUT %s: the document changed to %v after a refused PUT", path, got)
			}
		}
		// State keeps its rules; 2.0 creates profiles without the headers.
		state := "/activities/state?" + url.Values{"activityId": {"http://example.com/e2e/profiles"}, "agent": {ada}, "stateId": {"s"}}.Encode()
		c1.expect(http.StatusNoContent, http.MethodPut, state, map[string]any{"v": 1})
		c1.expect(http.StatusNoContent, http.MethodPut, state, map[string]any{"v": 2})
		c2.expect(http.StatusNoContent, http.MethodPut, "/agents/profile?"+url.Values{"agent": {ada}, "profileId": {"p-" + uuid.NewString()}}.Encode(), map[string]any{"v": 1})
	})

	// The same store served as a pure 1.0.3 LRS.
	p.stop()
	p = startLRS(t, append(env, "LRS_XAPI_VERSIONS=1.0.3")...)
	c2.base, c1.base = p.base+"/xapi", p.base+"/xapi"
	t.Run("LRS_XAPI_VERSIONS=1.0.3", func(t *testing.T) {
		c2.t, c1.t = t, t
		anon := &client{t: t, base: c1.base}
		about := anon.expect(http.StatusOK, http.MethodGet, "/about", nil)
		var ab struct{ Version []string }
		if err := json.Unmarshal(about.body, &ab); err != nil || !slices.Equal(ab.Version, []string{"1.0.3"}) {
			t.Errorf("about = %s (%v), want version [1.0.3]", about.body, err)
		}
		for name, r := range map[string]response{
			"2.0.0":     c2.expect(http.StatusBadRequest, http.MethodGet, "/statements", nil),
			"no header": (&client{t: t, base: c1.base, key: key, secret: secret}).expect(http.StatusBadRequest, http.MethodPost, "/statements", e2eStatement("", "ada@example.com", "attempted", "v")),
		} {
			if v := r.header.Get("X-Experience-API-Version"); v != "1.0.3" {
				t.Errorf("%s: answered with X-Experience-API-Version %q, want 1.0.3", name, v)
			}
			if !strings.Contains(string(r.body), "supported: 1.0.x") {
				t.Errorf("%s: %s does not name the supported versions", name, r.body)
			}
		}
		r := c1.expect(http.StatusOK, http.MethodPost, "/statements", e2eStatement("", "ada@example.com", "attempted", "v"))
		var ids []string
		if err := json.Unmarshal(r.body, &ids); err != nil || len(ids) != 1 {
			t.Fatalf("POST: %s", r.body)
		}
		got := decodeStatement(t, c1.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+ids[0], nil).body)
		if got["version"] != "1.0.0" {
			t.Errorf("statement version %v, want 1.0.0", got["version"])
		}
		if all := c1.queryAll("/statements?agent=" + url.QueryEscape(ada)); len(all) < 2 {
			t.Errorf("statements stored under 2.0 are not served: %d", len(all))
		}
	})
}
