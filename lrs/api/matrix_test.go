package api_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/auth"
)

// The isolation and scope matrices run against real credentials (created
// through the admin API, checked by auth.Authenticator) on the embedded
// engine.

const (
	mxAct   = "http://example.com/act/matrix"
	mxAgent = `{"objectType":"Agent","mbox":"mailto:ann@example.com"}`
)

func mxQ(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "/xapi" + path + "?" + v.Encode()
}

var (
	mxState        = mxQ("/activities/state", "activityId", mxAct, "agent", mxAgent, "stateId", "s1")
	mxStates       = mxQ("/activities/state", "activityId", mxAct, "agent", mxAgent)
	mxActProfile   = mxQ("/activities/profile", "activityId", mxAct, "profileId", "p1")
	mxAgentProfile = mxQ("/agents/profile", "agent", mxAgent, "profileId", "p1")
	mxActivity     = mxQ("/activities", "activityId", mxAct)
	mxPerson       = mxQ("/agents", "agent", mxAgent)
)

func mxStatement(id, name string) string {
	b, _ := json.Marshal(map[string]any{
		"id":     id,
		"actor":  map[string]any{"objectType": "Agent", "mbox": "mailto:ann@example.com", "name": name},
		"verb":   map[string]any{"id": "http://adlnet.gov/expapi/verbs/attempted"},
		"object": map[string]any{"id": mxAct, "definition": map[string]any{"name": map[string]any{"en-US": name}}},
	})
	return string(b)
}

// TestIsolationMatrix: for every xAPI resource, a credential of org A can
// neither read nor change org B's data.
func TestIsolationMatrix(t *testing.T) {
	n := newNode(t, openPebble(t), time.Hour)
	a, b := n.newCred("org-a", auth.ScopeAll), n.newCred("org-b", auth.ScopeAll)
	as := func(c credOut, method, path, body string) (int, string) {
		t.Helper()
		st, out := n.xapi(c.Key, c.Secret, method, path, body)
		return st, string(out)
	}
	mustB := func(method, path, body string, want int) string {
		t.Helper()
		st, out := as(b, method, path, body)
		if st != want {
			t.Fatalf("org B %s %s: %d %s, want %d", method, path, st, out, want)
		}
		return out
	}
	// Org B's data in every resource.
	sid := uuid.NewString()
	mustB("PUT", "/xapi/statements?statementId="+sid, mxStatement(sid, "secret-b-name"), 204)
	mustB("POST", "/xapi/statements", mxStatement(uuid.NewString(), "secret-b-name"), 200)
	mustB("PUT", mxState, `{"owner":"b"}`, 204)
	mustB("POST", mxActProfile, `{"owner":"b"}`, 204)
	mustB("POST", mxAgentProfile, `{"owner":"b"}`, 204)

	reads := []struct {
		name, path string
		want       int    // status for org A
		absent     string // must not appear in A's answer
	}{
		{"statement by id", "/xapi/statements?statementId=" + sid, 404, "secret-b-name"},
		{"statement query", "/xapi/statements", 200, sid},
		{"statement query by agent", mxQ("/statements", "agent", mxAgent), 200, sid},
		{"statement query by activity", mxQ("/statements", "activity", mxAct), 200, sid},
		{"voided statement", "/xapi/statements?voidedStatementId=" + sid, 404, "secret-b-name"},
		{"state", mxState, 404, "owner"},
		{"state ids", mxStates, 200, "s1"},
		{"activity profile", mxActProfile, 404, "owner"},
		{"activity profile ids", mxQ("/activities/profile", "activityId", mxAct), 200, "p1"},
		{"agent profile", mxAgentProfile, 404, "owner"},
		{"agent profile ids", mxQ("/agents/profile", "agent", mxAgent), 200, "p1"},
		{"activity definition", mxActivity, 200, "secret-b-name"},
		{"person", mxPerson, 200, "secret-b-name"},
	}
	for _, r := range reads {
		t.Run("read "+r.name, func(t *testing.T) {
			st, out := as(a, "GET", r.path, "")
			if st != r.want || strings.Contains(out, r.absent) {
				t.Errorf("org A GET %s: %d %s; want %d without %q", r.path, st, out, r.want, r.absent)
			}
		})
	}

	// B's more token is refused to A.
	mustB("POST", "/xapi/statements", mxStatement(uuid.NewString(), "secret-b-name"), 200)
	var page struct{ More string }
	_ = json.Unmarshal([]byte(mustB("GET", "/xapi/statements?limit=1", "", 200)), &page)
	if page.More == "" {
		t.Fatal("no more link for org B")
	}
	if st, out := as(a, "GET", page.More, ""); st != 400 {
		t.Errorf("org A following org B's more link: %d %s, want 400", st, out)
	}

	// Writes by A land in A: B's data is unchanged.
	writes := []struct{ method, path, body string }{
		{"PUT", "/xapi/statements?statementId=" + sid, mxStatement(sid, "a-name")},
		{"POST", "/xapi/statements", "[" + mxStatement(sid, "a-name2") + "]"},
		{"POST", mxState, `{"owner":"a"}`},
		{"DELETE", mxStates, ""},
		{"POST", mxActProfile, `{"owner":"a"}`},
		{"DELETE", mxActProfile, ""},
		{"POST", mxAgentProfile, `{"owner":"a"}`},
		{"DELETE", mxAgentProfile, ""},
	}
	for _, w := range writes {
		if st, out := as(a, w.method, w.path, w.body); st >= 500 || st == 401 || st == 403 {
			t.Errorf("org A %s %s: %d %s", w.method, w.path, st, out)
		}
	}
	if out := mustB("GET", "/xapi/statements?statementId="+sid, "", 200); !strings.Contains(out, "secret-b-name") {
		t.Errorf("org B's statement changed: %s", out)
	}
	for _, p := range []string{mxState, mxActProfile, mxAgentProfile} {
		if out := mustB("GET", p, "", 200); out != `{"owner":"b"}` {
			t.Errorf("org B's document %s is now %s", p, out)
		}
	}
	if out := mustB("GET", mxActivity, "", 200); !strings.Contains(out, "secret-b-name") {
		t.Errorf("org B's activity definition changed: %s", out)
	}
}

// TestScopeMatrix: for every resource and method, each scope is allowed or
// refused (403 naming the scopes wanted) as the xAPI specification says.
func TestScopeMatrix(t *testing.T) {
	n := newNode(t, openPebble(t), time.Hour)
	creds := map[string]credOut{}
	for _, s := range auth.Scopes {
		creds[s] = n.newCred("org-a", s)
	}
	const (
		sw, sr, srm = auth.ScopeStatementsWrite, auth.ScopeStatementsRead, auth.ScopeStatementsReadMine
		ar, all     = auth.ScopeAllRead, auth.ScopeAll
		state, def  = auth.ScopeState, auth.ScopeDefine
		prof        = auth.ScopeProfile
	)
	cases := []struct {
		method, path, body string
		allowed            []string
	}{
		{"GET", "/xapi/statements", "", []string{sr, srm, ar, all}},
		{"HEAD", "/xapi/statements", "", []string{sr, srm, ar, all}},
		{"PUT", "/xapi/statements?statementId=" + uuid.NewString(), mxStatement("", "x"), []string{sw, all}},
		{"POST", "/xapi/statements", mxStatement(uuid.NewString(), "x"), []string{sw, all}},
		{"GET", mxActivity, "", []string{sr, ar, all, def, state, prof}},
		{"GET", mxPerson, "", []string{sr, ar, all, def, state, prof}},
		{"GET", mxState, "", []string{state, ar, all}},
		{"PUT", mxState, `{"x":1}`, []string{state, all}},
		{"POST", mxState, `{"x":1}`, []string{state, all}},
		{"DELETE", mxState, "", []string{state, all}},
		{"GET", mxActProfile, "", []string{prof, ar, all}},
		{"POST", mxActProfile, `{"x":1}`, []string{prof, all}},
		{"DELETE", mxActProfile, "", []string{prof, all}},
		{"GET", mxAgentProfile, "", []string{prof, ar, all}},
		{"POST", mxAgentProfile, `{"x":1}`, []string{prof, all}},
		{"DELETE", mxAgentProfile, "", []string{prof, all}},
	}
	for _, tc := range cases {
		for _, scope := range auth.Scopes {
			c := creds[scope]
			body := tc.body
			if tc.method == "PUT" && strings.Contains(tc.path, "statementId=") {
				id := strings.TrimPrefix(tc.path[strings.Index(tc.path, "statementId="):], "statementId=")
				body = mxStatement(id, "x")
			}
			if tc.method == "POST" && strings.HasPrefix(tc.path, "/xapi/statements") {
				body = mxStatement(uuid.NewString(), "x")
			}
			st, out := n.xapi(c.Key, c.Secret, tc.method, tc.path, body)
			allowed := slices.Contains(tc.allowed, scope)
			switch {
			case allowed && (st == 401 || st == 403 || st >= 500):
				t.Errorf("%s %s with scope %s: %d %s, want it allowed", tc.method, tc.path, scope, st, out)
			case !allowed && st != 403:
				t.Errorf("%s %s with scope %s: %d %s, want 403", tc.method, tc.path, scope, st, out)
			case !allowed && tc.method != "HEAD" && !strings.Contains(string(out), "lack the "+tc.allowed[0]):
				t.Errorf("%s %s with scope %s: 403 message %s does not name the missing scope", tc.method, tc.path, scope, out)
			}
		}
	}
}

// TestReadMine: statements/read/mine sees only the statements stored with
// its own credential's authority, through queries, paging and GET by id.
func TestReadMine(t *testing.T) {
	n := newNode(t, openPebble(t), time.Hour)
	mine := n.newCred("org-a", auth.ScopeStatementsWrite, auth.ScopeStatementsReadMine)
	other := n.newCred("org-a", auth.ScopeStatementsWrite, auth.ScopeStatementsRead)
	post := func(c credOut, body string) {
		t.Helper()
		if st, out := n.xapi(c.Key, c.Secret, "POST", "/xapi/statements", body); st != 200 {
			t.Fatalf("POST: %d %s", st, out)
		}
	}
	m1, m2, o1, ref := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	post(mine, mxStatement(m1, "m1"))
	post(other, mxStatement(o1, "o1"))
	post(mine, mxStatement(m2, "m2"))
	// Another authority's statement referring to mine is not mine.
	post(other, `{"id":"`+ref+`","actor":{"mbox":"mailto:bob@example.com"},"verb":{"id":"http://example.com/commented"},"object":{"objectType":"StatementRef","id":"`+m1+`"}}`)

	ids := func(c credOut, path string) ([]string, string) {
		t.Helper()
		st, out := n.xapi(c.Key, c.Secret, "GET", path, "")
		if st != 200 {
			t.Fatalf("GET %s: %d %s", path, st, out)
		}
		var page struct {
			Statements []struct{ ID string }
			More       string
		}
		if err := json.Unmarshal(out, &page); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range page.Statements {
			got = append(got, s.ID)
		}
		return got, page.More
	}
	got, _ := ids(mine, "/xapi/statements")
	if want := []string{m2, m1}; !slices.Equal(got, want) {
		t.Errorf("read/mine query: %q, want %q", got, want)
	}
	got, _ = ids(mine, mxQ("/statements", "activity", mxAct))
	if want := []string{m2, m1}; !slices.Equal(got, want) {
		t.Errorf("read/mine query by activity: %q, want %q", got, want)
	}
	// Paging keeps the filter.
	first, more := ids(mine, "/xapi/statements?limit=1")
	second, _ := ids(mine, more)
	if !slices.Equal(append(first, second...), []string{m2, m1}) {
		t.Errorf("read/mine pages: %q then %q", first, second)
	}
	// A token of an unfiltered query is refused to read/mine.
	_, otherMore := ids(other, "/xapi/statements?limit=1")
	if st, _ := n.xapi(mine.Key, mine.Secret, "GET", otherMore, ""); st != 400 {
		t.Errorf("read/mine following an unfiltered more link: %d, want 400", st)
	}
	for id, want := range map[string]int{m1: 200, o1: 404, ref: 404} {
		if st, _ := n.xapi(mine.Key, mine.Secret, "GET", "/xapi/statements?statementId="+id, ""); st != want {
			t.Errorf("read/mine GET statementId=%s: %d, want %d", id, st, want)
		}
	}
	got, _ = ids(other, "/xapi/statements")
	if len(got) != 4 {
		t.Errorf("statements/read sees %q, want all 4", got)
	}
}
