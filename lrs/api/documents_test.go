package api_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

const (
	docAct   = "http://example.com/activities/doc"
	docAgent = `{"mbox":"mailto:ann@example.com"}`
	docReg   = "8F1E3C9A-2B4D-4E6F-8A0B-1C2D3E4F5A6B"
)

// q builds a query string from name, value pairs.
func q(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return path + "?" + v.Encode()
}

func statePath(kv ...string) string {
	return q("/xapi/activities/state", append([]string{"activityId", docAct, "agent", docAgent}, kv...)...)
}

func actProfilePath(kv ...string) string {
	return q("/xapi/activities/profile", append([]string{"activityId", docAct}, kv...)...)
}

func agentProfilePath(kv ...string) string {
	return q("/xapi/agents/profile", append([]string{"agent", docAgent}, kv...)...)
}

func etagOf(s string) string {
	sum := sha1.Sum([]byte(s))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func bodyIs(want string) check {
	return func(t *testing.T, r resp) {
		t.Helper()
		if string(r.body) != want {
			t.Errorf("body %q, want %q", r.body, want)
		}
	}
}

func jsonIDs(want ...string) check {
	return func(t *testing.T, r resp) {
		t.Helper()
		var got []string
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("body %q is not a JSON array of strings: %v", r.body, err)
		}
		if want == nil {
			want = []string{}
		}
		if got == nil || !slices.Equal(got, want) {
			t.Errorf("ids %q, want %q", got, want)
		}
	}
}

func jsonObjectIs(want string) check {
	return func(t *testing.T, r resp) {
		t.Helper()
		var got, w map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("body %q: %v", r.body, err)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("document %s, want %s", gb, wb)
		}
	}
}

func noHeader(name string) check {
	return func(t *testing.T, r resp) {
		t.Helper()
		if v := r.header.Get(name); v != "" {
			t.Errorf("%s = %q, want none", name, v)
		}
	}
}

func emptyBody(t *testing.T, r resp) {
	t.Helper()
	if len(r.body) != 0 {
		t.Errorf("body %q, want none", r.body)
	}
}

func init() {
	credentials["stateonly"] = struct {
		secret string
		p      auth.Principal
	}{"s-stateonly", principal("stateonly", "org1", auth.ScopeState)}
	credentials["profileonly"] = struct {
		secret string
		p      auth.Principal
	}{"s-profileonly", principal("profileonly", "org1", auth.ScopeProfile)}
}

// TestDocumentsEveryResource runs the same life cycle on the three
// resources.
func TestDocumentsEveryResource(t *testing.T) {
	for _, res := range []struct {
		name    string
		path    func(kv ...string) string
		idParam string
		scope   string
	}{
		{"state", statePath, "stateId", auth.ScopeState},
		{"activity profile", actProfilePath, "profileId", auth.ScopeProfile},
		{"agent profile", agentProfilePath, "profileId", auth.ScopeProfile},
	} {
		t.Run(res.name, func(t *testing.T) {
			e := newEnv(t)
			one := res.path(res.idParam, "doc1")
			two := res.path(res.idParam, "doc2")
			v1 := `{"a":1,"b":{"x":1}}`
			run(t, e, []tcase{
				{name: "GET missing", req: req{method: "GET", path: one}, want: 404, checks: []check{codeIs(lrs.ENOTFOUND)}},
				{name: "HEAD missing", req: req{method: "HEAD", path: one}, want: 404},
				{name: "list empty", req: req{method: "GET", path: res.path()}, want: 200,
					checks: []check{jsonIDs(), hasHeader("Content-Type", "application/json"), noHeader("Last-Modified")}},
				{name: "PUT create", req: req{method: "PUT", path: one, body: v1, header: []string{"If-None-Match", "*"}}, want: 204, checks: []check{emptyBody}},
				{name: "GET", req: req{method: "GET", path: one, header: []string{"Origin", "http://app.example.com"}}, want: 200, checks: []check{
					bodyIs(v1), hasHeader("Content-Type", "application/json"), hasHeader("ETag", etagOf(v1)),
					hasHeader("Access-Control-Expose-Headers", "ETag, Last-Modified, X-Experience-API-Version, X-Experience-API-Consistent-Through, Content-Type"),
					hasHeader("Access-Control-Allow-Origin", "http://app.example.com"),
					func(t *testing.T, r resp) {
						lm, err := http.ParseTime(r.header.Get("Last-Modified"))
						if err != nil || time.Since(lm) > time.Minute || time.Until(lm) > time.Second {
							t.Errorf("Last-Modified %q (%v)", r.header.Get("Last-Modified"), err)
						}
					},
				}},
				{name: "HEAD", req: req{method: "HEAD", path: one}, want: 200, checks: []check{
					emptyBody, hasHeader("ETag", etagOf(v1)), hasHeader("Content-Type", "application/json"),
				}},
				{name: "POST merge", req: req{method: "POST", path: one, body: `{"b":2,"c":3}`, header: []string{"If-Match", etagOf(v1)}}, want: 204},
				{name: "GET merged", req: req{method: "GET", path: one}, want: 200, checks: []check{
					jsonObjectIs(`{"a":1,"b":2,"c":3}`), hasHeader("Content-Type", "application/json"),
				}},
				{name: "POST creates", req: req{method: "POST", path: two, body: `{"z":1}`}, want: 204},
				{name: "list", req: req{method: "GET", path: res.path()}, want: 200, checks: []check{jsonIDs("doc1", "doc2"), func(t *testing.T, r resp) {
					if _, err := http.ParseTime(r.header.Get("Last-Modified")); err != nil {
						t.Errorf("list Last-Modified %q: %v", r.header.Get("Last-Modified"), err)
					}
					if r.header.Get("ETag") == "" {
						t.Error("list without ETag")
					}
				}}},
				{name: "HEAD list", req: req{method: "HEAD", path: res.path()}, want: 200, checks: []check{emptyBody}},
				{name: "list since future", req: req{method: "GET", path: res.path("since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))}, want: 200,
					checks: []check{jsonIDs(), noHeader("Last-Modified")}},
				{name: "list since past", req: req{method: "GET", path: res.path("since", "2020-01-01T00:00:00Z")}, want: 200, checks: []check{jsonIDs("doc1", "doc2")}},
				{name: "DELETE", req: req{method: "DELETE", path: two}, want: 204},
				{name: "DELETE missing", req: req{method: "DELETE", path: two}, want: 204},
				{name: "GET deleted", req: req{method: "GET", path: two}, want: 404},
				{name: "list after delete", req: req{method: "GET", path: res.path()}, want: 200, checks: []check{jsonIDs("doc1")}},
				{name: "other org sees nothing", req: req{method: "GET", path: one, key: "other"}, want: 404},
				{name: "read with all/read", req: req{method: "GET", path: one, key: "allrd"}, want: 200},
				{name: "write with all/read", req: req{method: "PUT", path: one, key: "allrd", body: `{}`}, want: 403, checks: []check{codeIs(lrs.EFORBIDDEN)}},
				{name: "read with statements/read", req: req{method: "GET", path: one, key: "reader"}, want: 403},
				{name: "delete with statements/write", req: req{method: "DELETE", path: one, key: "wonly"}, want: 403},
				{name: "no credentials", req: req{method: "GET", path: one, key: "-"}, want: 401},
				{name: "bad version", req: req{method: "GET", path: one, version: "0.9"}, want: 400},
				{name: "preflight", req: req{method: "OPTIONS", path: one, key: "-", version: "-"}, want: 204,
					checks: []check{hasHeader("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE, OPTIONS")}},
				{name: "PATCH", req: req{method: "PATCH", path: one}, want: 405},
				{name: "unknown parameter", req: req{method: "GET", path: res.path("color", "red")}, want: 400, checks: []check{codeIs(lrs.EINVALID)}},
				{name: "repeated id", req: req{method: "GET", path: res.path(res.idParam, "a", res.idParam, "b")}, want: 400},
				{name: "PUT without id", req: req{method: "PUT", path: res.path(), body: `{}`}, want: 400},
				{name: "POST without id", req: req{method: "POST", path: res.path(), body: `{}`}, want: 400},
				{name: "since with id", req: req{method: "GET", path: res.path(res.idParam, "doc1", "since", "2020-01-01T00:00:00Z")}, want: 400},
				{name: "since on PUT", req: req{method: "PUT", path: res.path(res.idParam, "doc1", "since", "2020-01-01T00:00:00Z"), body: `{}`}, want: 400},
				{name: "bad since", req: req{method: "GET", path: res.path("since", "yesterday")}, want: 400},
			})
			if res.idParam == "profileId" {
				run(t, e, []tcase{
					{name: "DELETE without id", req: req{method: "DELETE", path: res.path()}, want: 400},
					{name: "stateId on a profile", req: req{method: "GET", path: res.path("stateId", "x")}, want: 400},
				})
			} else {
				run(t, e, []tcase{
					{name: "profileId on state", req: req{method: "GET", path: res.path("profileId", "x")}, want: 400},
				})
			}
			// The resource's own scope allows everything; the other
			// document scope nothing.
			own, other := "stateonly", "profileonly"
			if res.scope == auth.ScopeProfile {
				own, other = other, own
			}
			run(t, e, []tcase{
				{name: "write with own scope", req: req{method: "PUT", path: one, key: own, body: `{"own":1}`, header: []string{"If-Match", "*"}}, want: 204},
				{name: "read with own scope", req: req{method: "GET", path: one, key: own}, want: 200, checks: []check{bodyIs(`{"own":1}`)}},
				{name: "read with the other scope", req: req{method: "GET", path: one, key: other}, want: 403},
				{name: "write with the other scope", req: req{method: "DELETE", path: one, key: other}, want: 403},
			})
		})
	}
}

// TestDocumentsConcurrency checks If-Match, If-None-Match, 412 and 409 on
// both versions.
func TestDocumentsConcurrency(t *testing.T) {
	for _, v := range []string{"1.0.3", "2.0.0"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t)
			st := statePath("stateId", "s")
			ap := actProfilePath("profileId", "p")
			gp := agentProfilePath("profileId", "p")
			stateOverwrite := 204 // 1.0.3: State may skip the headers
			if v == "2.0.0" {
				stateOverwrite = 409
			}
			// Creating without headers: State always may; a profile under
			// 1.0.3 may not (the client MUST send If-Match or If-None-Match,
			// Communication 3.1.s3.b1), under 2.0 it may.
			cases := []tcase{{name: "state create without headers", req: req{method: "PUT", path: st, body: `{"v":1}`}, want: 204}}
			for _, p := range []struct{ name, path string }{{"activity profile", ap}, {"agent profile", gp}} {
				if v == "2.0.0" {
					cases = append(cases, tcase{name: p.name + " create without headers", req: req{method: "PUT", path: p.path, body: `{"v":1}`}, want: 204})
					continue
				}
				cases = append(cases,
					tcase{name: p.name + " create without headers", req: req{method: "PUT", path: p.path, body: `{"v":1}`}, want: 400,
						checks: []check{codeIs(lrs.EINVALID), bodyContains("If-Match or If-None-Match"), bodyContains("send If-None-Match: * to create")}},
					tcase{name: p.name + " not created by the refused PUT", req: req{method: "GET", path: p.path}, want: 404},
					tcase{name: p.name + " create with If-None-Match", req: req{method: "PUT", path: p.path, body: `{"v":1}`, header: []string{"If-None-Match", "*"}}, want: 204},
				)
			}
			cases = append(cases, []tcase{
				// Overwriting without headers: 409 for profiles, State per version.
				{name: "state overwrite without headers", req: req{method: "PUT", path: st, body: `{"v":2}`}, want: stateOverwrite},
				{name: "activity profile overwrite without headers", req: req{method: "PUT", path: ap, body: `{"v":2}`}, want: 409,
					checks: []check{codeIs(lrs.ECONFLICT), bodyContains("If-Match")}},
				{name: "agent profile overwrite without headers", req: req{method: "PUT", path: gp, body: `{"v":2}`}, want: 409},
				{name: "activity profile unchanged after 409", req: req{method: "GET", path: ap}, want: 200, checks: []check{bodyIs(`{"v":1}`)}},
			}...)
			for _, p := range []struct{ name, path string }{{"state", st}, {"activity profile", ap}, {"agent profile", gp}} {
				cases = append(cases,
					tcase{name: p.name + " reset", req: req{method: "PUT", path: p.path, body: `{"v":1}`, header: []string{"If-Match", "*"}}, want: 204},
					tcase{name: p.name + " If-None-Match * on existing", req: req{method: "PUT", path: p.path, body: `{"v":9}`, header: []string{"If-None-Match", "*"}}, want: 412,
						checks: []check{codeIs(lrs.EPRECONDITION)}},
					tcase{name: p.name + " wrong If-Match", req: req{method: "PUT", path: p.path, body: `{"v":9}`, header: []string{"If-Match", etagOf("nope")}}, want: 412},
					tcase{name: p.name + " unchanged", req: req{method: "GET", path: p.path}, want: 200, checks: []check{bodyIs(`{"v":1}`), hasHeader("ETag", etagOf(`{"v":1}`))}},
					tcase{name: p.name + " If-Match", req: req{method: "PUT", path: p.path, body: `{"v":2}`, header: []string{"If-Match", etagOf(`{"v":1}`)}}, want: 204},
					tcase{name: p.name + " weak If-Match", req: req{method: "PUT", path: p.path, body: `{"v":3}`, header: []string{"If-Match", "W/" + etagOf(`{"v":2}`)}}, want: 204},
					tcase{name: p.name + " upper-case If-Match", req: req{method: "PUT", path: p.path, body: `{"v":4}`, header: []string{"If-Match", strings.ToUpper(etagOf(`{"v":3}`))}}, want: 204},
					tcase{name: p.name + " stale If-Match", req: req{method: "PUT", path: p.path, body: `{"v":9}`, header: []string{"If-Match", etagOf(`{"v":1}`)}}, want: 412},
					tcase{name: p.name + " POST wrong If-Match", req: req{method: "POST", path: p.path, body: `{"w":1}`, header: []string{"If-Match", etagOf("nope")}}, want: 412},
					tcase{name: p.name + " POST If-None-Match * on existing", req: req{method: "POST", path: p.path, body: `{"w":1}`, header: []string{"If-None-Match", "*"}}, want: 412},
					tcase{name: p.name + " DELETE wrong If-Match", req: req{method: "DELETE", path: p.path, header: []string{"If-Match", etagOf("nope")}}, want: 412},
					tcase{name: p.name + " still there", req: req{method: "GET", path: p.path}, want: 200, checks: []check{bodyIs(`{"v":4}`)}},
					tcase{name: p.name + " POST If-Match *", req: req{method: "POST", path: p.path, body: `{"w":1}`, header: []string{"If-Match", "*"}}, want: 204},
					tcase{name: p.name + " DELETE If-Match", req: req{method: "DELETE", path: p.path, header: []string{"If-Match", etagOf(`{"v":4,"w":1}`)}}, want: 204},
					tcase{name: p.name + " gone", req: req{method: "GET", path: p.path}, want: 404},
					tcase{name: p.name + " DELETE missing with If-Match", req: req{method: "DELETE", path: p.path, header: []string{"If-Match", etagOf("x")}}, want: 412},
					tcase{name: p.name + " PUT missing with If-Match", req: req{method: "PUT", path: p.path, body: `{}`, header: []string{"If-Match", etagOf("x")}}, want: 412},
					tcase{name: p.name + " POST missing with If-Match", req: req{method: "POST", path: p.path, body: `{}`, header: []string{"If-Match", "*"}}, want: 412},
					tcase{name: p.name + " malformed If-Match", req: req{method: "PUT", path: p.path, body: `{}`, header: []string{"If-Match", `"a" "b"`}}, want: 400},
					tcase{name: p.name + " create with If-None-Match", req: req{method: "PUT", path: p.path, body: `{"v":5}`, header: []string{"If-None-Match", "*"}}, want: 204},
				)
			}
			for i := range cases {
				cases[i].req.version = v
			}
			run(t, e, cases)
		})
	}
}

// TestDocumentsContents checks byte-exact storage, content types, merge
// rules and the body limit.
func TestDocumentsContents(t *testing.T) {
	e := newEnv(t)
	binary := make([]byte, 512)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	bin := string(binary)
	p := agentProfilePath("profileId", "bin")
	j := agentProfilePath("profileId", "json")
	txt := "text with a trailing newline\r\n"
	run(t, e, []tcase{
		{name: "PUT binary", req: req{method: "PUT", path: p, body: bin, header: []string{"Content-Type", "image/png"}}, want: 204},
		{name: "GET binary", req: req{method: "GET", path: p}, want: 200, checks: []check{
			bodyIs(bin), hasHeader("Content-Type", "image/png"), hasHeader("ETag", etagOf(bin)), hasHeader("Content-Length", "512"),
		}},
		{name: "POST merge into binary", req: req{method: "POST", path: p, body: `{"a":1}`}, want: 400, checks: []check{codeIs(lrs.EINVALID)}},
		{name: "binary unchanged", req: req{method: "GET", path: p}, want: 200, checks: []check{bodyIs(bin)}},
		{name: "PUT text", req: req{method: "PUT", path: p, body: txt, header: []string{"Content-Type", "text/plain; charset=utf-8", "If-Match", etagOf(bin)}}, want: 204},
		{name: "GET text", req: req{method: "GET", path: p}, want: 200, checks: []check{bodyIs(txt), hasHeader("Content-Type", "text/plain; charset=utf-8")}},
		{name: "PUT empty", req: req{method: "PUT", path: agentProfilePath("profileId", "empty")}, want: 204},
		{name: "GET empty", req: req{method: "GET", path: agentProfilePath("profileId", "empty")}, want: 200, checks: []check{emptyBody, hasHeader("ETag", etagOf(""))}},
		// Merge rules.
		{name: "PUT json", req: req{method: "PUT", path: j, body: `{"x":"foo","y":"bar","o":{"a":1,"b":2}}`}, want: 204},
		{name: "POST merge top level", req: req{method: "POST", path: j, body: `{"x":"bash","z":"faz","o":{"c":3}}`}, want: 204},
		{name: "merged", req: req{method: "GET", path: j}, want: 200, checks: []check{jsonObjectIs(`{"x":"bash","y":"bar","z":"faz","o":{"c":3}}`)}},
		{name: "POST array", req: req{method: "POST", path: j, body: `[1,2]`}, want: 400},
		{name: "POST not JSON", req: req{method: "POST", path: j, body: `{"a":`}, want: 400},
		{name: "POST text into json", req: req{method: "POST", path: j, body: `{"a":1}`, header: []string{"Content-Type", "text/plain"}}, want: 400},
		{name: "POST with charset", req: req{method: "POST", path: j, body: `{"q":1}`, header: []string{"Content-Type", "application/json; charset=utf-8"}}, want: 204},
		{name: "unchanged by failed merges", req: req{method: "GET", path: j}, want: 200, checks: []check{jsonObjectIs(`{"x":"bash","y":"bar","z":"faz","o":{"c":3},"q":1}`)}},
		{name: "POST new JSON not an object", req: req{method: "POST", path: agentProfilePath("profileId", "new"), body: `"str"`}, want: 400},
		{name: "POST new text stored as is", req: req{method: "POST", path: agentProfilePath("profileId", "newtext"), body: "hi", header: []string{"Content-Type", "text/plain"}}, want: 204},
		{name: "GET new text", req: req{method: "GET", path: agentProfilePath("profileId", "newtext")}, want: 200, checks: []check{bodyIs("hi"), hasHeader("Content-Type", "text/plain")}},
		// Body limit (64 KiB in newEnv).
		{name: "PUT too large", req: req{method: "PUT", path: agentProfilePath("profileId", "big"), body: strings.Repeat("x", 65<<10), header: []string{"Content-Type", "text/plain"}}, want: 413,
			checks: []check{codeIs(lrs.ETOOLARGE)}},
		{name: "POST too large", req: req{method: "POST", path: agentProfilePath("profileId", "big"), body: `{"a":"` + strings.Repeat("x", 65<<10) + `"}`}, want: 413},
		{name: "big not stored", req: req{method: "GET", path: agentProfilePath("profileId", "big")}, want: 404},
	})
}

// TestDocumentsStateScopes checks the State context: registration, agent
// and activity each select their own documents, and DELETE without stateId
// removes exactly one context.
func TestDocumentsStateScopes(t *testing.T) {
	e := newEnv(t)
	otherAgent := `{"objectType":"Agent","account":{"homePage":"http://example.com","name":"bob"}}`
	noReg := statePath("stateId", "s")
	withReg := statePath("stateId", "s", "registration", docReg)
	lowerReg := statePath("stateId", "s", "registration", strings.ToLower(docReg))
	otherAg := q("/xapi/activities/state", "activityId", docAct, "agent", otherAgent, "stateId", "s")
	otherAct := q("/xapi/activities/state", "activityId", docAct+"/2", "agent", docAgent, "stateId", "s")
	sameAgentOtherForm := q("/xapi/activities/state", "activityId", docAct, "agent", `{"objectType":"Agent","name":"Ann","mbox":"mailto:ann@example.com"}`, "stateId", "s")
	run(t, e, []tcase{
		{name: "no registration", req: req{method: "PUT", path: noReg, body: `{"r":"none"}`}, want: 204},
		{name: "registration", req: req{method: "PUT", path: withReg, body: `{"r":"reg"}`}, want: 204},
		{name: "other agent", req: req{method: "PUT", path: otherAg, body: `{"r":"bob"}`}, want: 204},
		{name: "other activity", req: req{method: "PUT", path: otherAct, body: `{"r":"act2"}`}, want: 204},
		{name: "second in registration", req: req{method: "PUT", path: statePath("stateId", "t", "registration", docReg), body: `{}`}, want: 204},
		{name: "GET no registration", req: req{method: "GET", path: noReg}, want: 200, checks: []check{bodyIs(`{"r":"none"}`)}},
		{name: "GET registration any case", req: req{method: "GET", path: lowerReg}, want: 200, checks: []check{bodyIs(`{"r":"reg"}`)}},
		{name: "GET other agent", req: req{method: "GET", path: otherAg}, want: 200, checks: []check{bodyIs(`{"r":"bob"}`)}},
		{name: "GET same agent other form", req: req{method: "GET", path: sameAgentOtherForm}, want: 200, checks: []check{bodyIs(`{"r":"none"}`)}},
		{name: "list registration", req: req{method: "GET", path: statePath("registration", docReg)}, want: 200, checks: []check{jsonIDs("s", "t")}},
		{name: "list no registration", req: req{method: "GET", path: statePath()}, want: 200, checks: []check{jsonIDs("s")}},
		{name: "DELETE all in registration", req: req{method: "DELETE", path: statePath("registration", docReg)}, want: 204},
		{name: "registration empty", req: req{method: "GET", path: statePath("registration", docReg)}, want: 200, checks: []check{jsonIDs()}},
		{name: "no registration kept", req: req{method: "GET", path: noReg}, want: 200},
		{name: "other agent kept", req: req{method: "GET", path: otherAg}, want: 200},
		{name: "DELETE all without registration", req: req{method: "DELETE", path: statePath()}, want: 204},
		{name: "no registration gone", req: req{method: "GET", path: noReg}, want: 404},
		{name: "other activity kept", req: req{method: "GET", path: otherAct}, want: 200},
		// Parameter errors.
		{name: "missing activityId", req: req{method: "GET", path: q("/xapi/activities/state", "agent", docAgent, "stateId", "s")}, want: 400, checks: []check{bodyContains("activityId")}},
		{name: "missing agent", req: req{method: "GET", path: q("/xapi/activities/state", "activityId", docAct, "stateId", "s")}, want: 400, checks: []check{bodyContains("agent")}},
		{name: "malformed agent JSON", req: req{method: "GET", path: q("/xapi/activities/state", "activityId", docAct, "agent", `{"mbox":`, "stateId", "s")}, want: 400},
		{name: "agent without IFI", req: req{method: "GET", path: q("/xapi/activities/state", "activityId", docAct, "agent", `{"name":"x"}`, "stateId", "s")}, want: 400},
		{name: "group as agent", req: req{method: "GET", path: q("/xapi/activities/state", "activityId", docAct, "agent", `{"objectType":"Group","mbox":"mailto:g@example.com"}`, "stateId", "s")}, want: 400},
		{name: "bad mbox", req: req{method: "GET", path: q("/xapi/activities/state", "activityId", docAct, "agent", `{"mbox":"ann@example.com"}`, "stateId", "s")}, want: 400},
		{name: "relative activityId", req: req{method: "GET", path: q("/xapi/activities/state", "activityId", "not-an-iri", "agent", docAgent, "stateId", "s")}, want: 400},
		{name: "bad registration", req: req{method: "GET", path: statePath("stateId", "s", "registration", "nope")}, want: 400},
		{name: "activityId on agent profile", req: req{method: "GET", path: agentProfilePath("profileId", "p", "activityId", docAct)}, want: 400},
		{name: "agent on activity profile", req: req{method: "GET", path: actProfilePath("profileId", "p", "agent", docAgent)}, want: 400},
		{name: "registration on activity profile", req: req{method: "GET", path: actProfilePath("profileId", "p", "registration", docReg)}, want: 400},
		{name: "missing agent on agent profile", req: req{method: "GET", path: q("/xapi/agents/profile", "profileId", "p")}, want: 400},
		{name: "missing activityId on activity profile", req: req{method: "GET", path: q("/xapi/activities/profile", "profileId", "p")}, want: 400},
		{name: "empty stateId", req: req{method: "GET", path: statePath("stateId", "")}, want: 400},
	})
}

// TestDocumentsSince checks that since is exclusive and Last-Modified of
// a list is its latest document.
func TestDocumentsSince(t *testing.T) {
	e := newEnv(t)
	e.expect(204, req{method: "PUT", path: actProfilePath("profileId", "old"), body: `{}`})
	first := e.expect(200, req{method: "GET", path: actProfilePath("profileId", "old")})
	time.Sleep(1100 * time.Millisecond) // Last-Modified has whole seconds
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	e.expect(204, req{method: "PUT", path: actProfilePath("profileId", "new"), body: `{}`})
	second := e.expect(200, req{method: "GET", path: actProfilePath("profileId", "new")})
	list := e.expect(200, req{method: "GET", path: actProfilePath()})
	if got, want := list.header.Get("Last-Modified"), second.header.Get("Last-Modified"); got != want || got == first.header.Get("Last-Modified") {
		t.Errorf("list Last-Modified %q, want the newest document's %q", got, want)
	}
	run(t, e, []tcase{
		{name: "since between", req: req{method: "GET", path: actProfilePath("since", mid.Format(time.RFC3339Nano))}, want: 200, checks: []check{jsonIDs("new")}},
		{name: "since with offset", req: req{method: "GET", path: actProfilePath("since", mid.In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano))}, want: 200, checks: []check{jsonIDs("new")}},
		{name: "all", req: req{method: "GET", path: actProfilePath("since", mid.Add(-time.Hour).Format(time.RFC3339Nano))}, want: 200, checks: []check{jsonIDs("new", "old")}},
	})
}

// TestDocumentsAlternateSyntax checks a document PUT through the 1.0.3
// alternate request syntax.
func TestDocumentsAlternateSyntax(t *testing.T) {
	e := newEnv(t)
	form := url.Values{}
	form.Set("activityId", docAct)
	form.Set("agent", docAgent)
	form.Set("stateId", "alt")
	form.Set("content", `{"alt":true}`)
	form.Set("Content-Type", "application/json")
	e.expect(204, req{method: "POST", path: "/xapi/activities/state?method=PUT", body: form.Encode(), version: "1.0.3",
		header: []string{"Content-Type", "application/x-www-form-urlencoded"}})
	e.expect(200, req{method: "GET", path: statePath("stateId", "alt"), version: "1.0.3"})
}
