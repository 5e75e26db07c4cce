package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/schema"
)

// testAuth is a hand-written Authenticator: key → secret → Principal.
type testAuth map[string]struct {
	secret string
	p      auth.Principal
}

func (a testAuth) Authenticate(_ context.Context, key, secret string) (auth.Principal, error) {
	switch key {
	case "down":
		return auth.Principal{}, lrs.Errorf(lrs.EUNAVAILABLE, "storage down")
	case "broken":
		return auth.Principal{}, errors.New("disk on fire")
	case "panic":
		panic("authenticator panicked")
	}
	c, ok := a[key]
	if !ok || c.secret != secret {
		return auth.Principal{}, auth.ErrBadCredentials
	}
	return c.p, nil
}

func principal(key, org string, scopes ...string) auth.Principal {
	return auth.Principal{
		Key: key, Org: org, Name: key, Scopes: scopes,
		Authority: []byte(`{"objectType":"Agent","account":{"homePage":"http://example.com","name":"` + key + `"}}`),
	}
}

var credentials = testAuth{
	"writer": {"s-writer", principal("writer", "org1", auth.ScopeAll)},
	"reader": {"s-reader", principal("reader", "org1", auth.ScopeStatementsRead)},
	"allrd":  {"s-allrd", principal("allrd", "org1", auth.ScopeAllRead)},
	"wonly":  {"s-wonly", principal("wonly", "org1", auth.ScopeStatementsWrite)},
	"mine":   {"s-mine", principal("mine", "org1", auth.ScopeStatementsReadMine)},
	"other":  {"s-other", principal("other", "org2", auth.ScopeAll)},
}

type env struct {
	t   *testing.T
	srv *httptest.Server
	reg *prometheus.Registry
	svc *lrs.Service
}

func newEnv(t *testing.T, tune ...func(*api.Options)) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	st := openStore(t)
	svc := lrs.NewService(st, lrs.ServiceOptions{MaxLimit: 50, Metrics: lrs.NewMetrics(reg)})
	opts := api.Options{
		Service:        svc,
		Documents:      lrs.NewDocuments(st.(lrs.DocumentStore), nil),
		Auth:           credentials,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:     reg,
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		MaxBodyBytes:   64 << 10,
		MaxBatch:       30,
	}
	for _, f := range tune {
		f(&opts)
	}
	h, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, reg: reg, svc: svc}
}

// req is one request. Zero values mean: key "writer", version "2.0.0",
// Content-Type application/json when there is a body. Key or version "-"
// leaves the header out.
type req struct {
	method, path, body string
	key, version       string
	header             []string
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (e *env) do(r req) resp {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	switch r.key {
	case "-":
	case "":
		hr.SetBasicAuth("writer", "s-writer")
	default:
		c := credentials[r.key]
		hr.SetBasicAuth(r.key, c.secret)
	}
	switch r.version {
	case "-":
	case "":
		hr.Header.Set("X-Experience-API-Version", "2.0.0")
	default:
		hr.Header.Set("X-Experience-API-Version", r.version)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(r.header); i += 2 {
		if r.header[i+1] == "" {
			hr.Header.Del(r.header[i])
		} else {
			hr.Header.Set(r.header[i], r.header[i+1])
		}
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) expect(want int, r req) resp {
	e.t.Helper()
	got := e.do(r)
	if got.status != want {
		e.t.Fatalf("%s %s: got %s, want %d", r.method, r.path, got, want)
	}
	return got
}

func stmt(id, mbox, verb, activity string) string {
	m := map[string]any{
		"actor":  map[string]any{"objectType": "Agent", "mbox": "mailto:" + mbox},
		"verb":   map[string]any{"id": "http://adlnet.gov/expapi/verbs/" + verb, "display": map[string]any{"en-US": verb, "fr": verb + "-fr"}},
		"object": map[string]any{"id": "http://example.com/act/" + activity},
	}
	if id != "" {
		m["id"] = id
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func errorCode(t *testing.T, r resp) (string, string) {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return b.Error.Code, b.Error.Message
}

type check func(t *testing.T, r resp)

func hasHeader(name, want string) check {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func bodyContains(s string) check {
	return func(t *testing.T, r resp) {
		t.Helper()
		if !strings.Contains(string(r.body), s) {
			t.Errorf("body %s does not contain %q", r.body, s)
		}
	}
}

func codeIs(code string) check {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got, _ := errorCode(t, r); got != code {
			t.Errorf("error code %q, want %q (%s)", got, code, r.body)
		}
	}
}

type tcase struct {
	name   string
	req    req
	want   int
	checks []check
}

func run(t *testing.T, e *env, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			got := e.do(tc.req)
			if got.status != tc.want {
				t.Fatalf("%s %s: got %s, want %d", tc.req.method, tc.req.path, got, tc.want)
			}
			for _, c := range tc.checks {
				c(t, got)
			}
		})
	}
}

func TestAbout(t *testing.T) {
	e := newEnv(t)
	run(t, e, []tcase{
		{name: "GET without auth or version", req: req{method: "GET", path: "/xapi/about", key: "-", version: "-"}, want: 200,
			checks: []check{
				bodyContains(`"version":["1.0.3","2.0.0"]`), bodyContains(`"extensions":{}`),
				hasHeader("X-Experience-API-Version", "2.0.0"), hasHeader("Access-Control-Allow-Origin", "*"),
			}},
		{name: "HEAD", req: req{method: "HEAD", path: "/xapi/about", key: "-", version: "-"}, want: 200,
			checks: []check{func(t *testing.T, r resp) {
				if len(r.body) != 0 {
					t.Errorf("HEAD body %q", r.body)
				}
			}}},
		{name: "bad version header ignored", req: req{method: "GET", path: "/xapi/about", version: "9.9"}, want: 200},
	})
}

func TestAuthVersionAndScopes(t *testing.T) {
	e := newEnv(t)
	const q = "/xapi/statements"
	put := "/xapi/statements?statementId=" + uuid.NewString()
	run(t, e, []tcase{
		{name: "missing credentials", req: req{method: "GET", path: q, key: "-"}, want: 401,
			checks: []check{hasHeader("WWW-Authenticate", `Basic realm="xAPI"`), codeIs(lrs.EUNAUTHORIZED), hasHeader("X-Experience-API-Version", "2.0.0")}},
		{name: "undecodable credentials", req: req{method: "GET", path: q, key: "-", header: []string{"Authorization", "Basic !!!"}}, want: 401,
			checks: []check{hasHeader("WWW-Authenticate", `Basic realm="xAPI"`)}},
		{name: "wrong secret", req: req{method: "GET", path: q, key: "-", header: []string{"Authorization", "Basic d3JpdGVyOm5vcGU="}}, want: 401,
			checks: []check{hasHeader("WWW-Authenticate", `Basic realm="xAPI"`)}},
		{name: "unknown key", req: req{method: "GET", path: q, key: "nobody"}, want: 401},
		{name: "auth storage unavailable", req: req{method: "GET", path: q, key: "down"}, want: 503, checks: []check{codeIs(lrs.EUNAVAILABLE)}},
		{name: "auth storage broken", req: req{method: "GET", path: q, key: "broken"}, want: 500,
			checks: []check{codeIs(lrs.EINTERNAL), func(t *testing.T, r resp) {
				if strings.Contains(string(r.body), "fire") {
					t.Errorf("internal error echoed: %s", r.body)
				}
			}}},
		{name: "panic recovered", req: req{method: "GET", path: q, key: "panic"}, want: 500, checks: []check{bodyContains("Internal error.")}},
		{name: "missing version", req: req{method: "GET", path: q, version: "-"}, want: 400,
			checks: []check{codeIs(lrs.EINVALID), bodyContains("X-Experience-API-Version"), hasHeader("X-Experience-API-Version", "2.0.0")}},
		{name: "unsupported version", req: req{method: "GET", path: q, version: "1.1.0"}, want: 400},
		{name: "version 1.0 answered 1.0.3", req: req{method: "GET", path: q, version: "1.0"}, want: 200,
			checks: []check{hasHeader("X-Experience-API-Version", "1.0.3")}},
		{name: "version 1.0.1 answered 1.0.3", req: req{method: "GET", path: q, version: "1.0.1"}, want: 200,
			checks: []check{hasHeader("X-Experience-API-Version", "1.0.3")}},
		{name: "version 2.0 answered 2.0.0", req: req{method: "GET", path: q, version: "2.0"}, want: 200,
			checks: []check{hasHeader("X-Experience-API-Version", "2.0.0")}},
		{name: "read scope cannot write", req: req{method: "PUT", path: put, key: "reader", body: stmt("", "a@example.com", "attempted", "x")}, want: 403,
			checks: []check{codeIs(lrs.EFORBIDDEN), bodyContains("statements/write")}},
		{name: "write scope cannot read", req: req{method: "GET", path: q, key: "wonly"}, want: 403, checks: []check{bodyContains("statements/read")}},
		{name: "read/mine grants a filtered GET", req: req{method: "GET", path: q, key: "mine"}, want: 200},
		{name: "statements/read reads", req: req{method: "GET", path: q, key: "reader"}, want: 200},
		{name: "all/read reads", req: req{method: "HEAD", path: q, key: "allrd"}, want: 200},
		{name: "write scope writes", req: req{method: "POST", path: q, key: "wonly", body: stmt("", "a@example.com", "attempted", "x")}, want: 200},
	})
}

// TestVersionsSetting: Options.Versions (LRS_XAPI_VERSIONS) decides what
// About lists, which version headers are accepted, and the version a
// response without one of its own carries (the newest served).
func TestVersionsSetting(t *testing.T) {
	t.Run("1.0.3 alone", func(t *testing.T) {
		e := newEnv(t, func(o *api.Options) { o.Versions = []schema.Version{schema.V1_0_3} })
		v103 := hasHeader("X-Experience-API-Version", "1.0.3")
		state := "/xapi/activities/state?" + url.Values{"activityId": {"http://example.com/a"}, "agent": {`{"mbox":"mailto:a@example.com"}`}, "stateId": {"s"}}.Encode()
		run(t, e, []tcase{
			{name: "about lists 1.0.3 only", req: req{method: "GET", path: "/xapi/about", key: "-", version: "-"}, want: 200,
				checks: []check{bodyContains(`"version":["1.0.3"]`), v103}},
			{name: "no version header: 400 answered as 1.0.3", req: req{method: "GET", path: "/xapi/statements", version: "-"}, want: 400,
				checks: []check{v103, bodyContains("supported: 1.0.x")}},
			{name: "POST without version header", req: req{method: "POST", path: "/xapi/statements", version: "-", body: stmt("", "a@example.com", "attempted", "x")}, want: 400,
				checks: []check{v103}},
			{name: "2.0.0 is refused", req: req{method: "GET", path: "/xapi/statements", version: "2.0.0"}, want: 400,
				checks: []check{v103, codeIs(lrs.EINVALID), bodyContains(`version \"2.0.0\" is not supported (supported: 1.0.x)`)}},
			{name: "2.0 is refused on documents too", req: req{method: "GET", path: state, version: "2.0"}, want: 400, checks: []check{v103}},
			{name: "1.0.3 is served", req: req{method: "GET", path: "/xapi/statements", version: "1.0.3"}, want: 200, checks: []check{v103}},
			{name: "1.0.0 is served as 1.0.3", req: req{method: "POST", path: "/xapi/statements", version: "1.0.0", body: stmt("", "a@example.com", "attempted", "x")}, want: 200,
				checks: []check{v103}},
			{name: "unknown path", req: req{method: "GET", path: "/xapi/nothing", version: "1.0.3"}, want: 404, checks: []check{v103}},
		})
	})
	t.Run("2.0.0 alone", func(t *testing.T) {
		e := newEnv(t, func(o *api.Options) { o.Versions = []schema.Version{schema.V2_0_0} })
		run(t, e, []tcase{
			{name: "about lists 2.0.0 only", req: req{method: "GET", path: "/xapi/about", key: "-", version: "-"}, want: 200,
				checks: []check{bodyContains(`"version":["2.0.0"]`)}},
			{name: "1.0.3 is refused", req: req{method: "GET", path: "/xapi/statements", version: "1.0.3"}, want: 400,
				checks: []check{hasHeader("X-Experience-API-Version", "2.0.0"), bodyContains("supported: 2.0.x")}},
			{name: "2.0.0 is served", req: req{method: "GET", path: "/xapi/statements"}, want: 200},
		})
	})
	t.Run("both, listed newest first and twice", func(t *testing.T) {
		e := newEnv(t, func(o *api.Options) {
			o.Versions = []schema.Version{schema.V2_0_0, schema.V1_0_3, schema.V2_0_0}
		})
		run(t, e, []tcase{
			{name: "about lists them oldest first, once", req: req{method: "GET", path: "/xapi/about", key: "-", version: "-"}, want: 200,
				checks: []check{bodyContains(`"version":["1.0.3","2.0.0"]`)}},
			{name: "no version header: answered as 2.0.0", req: req{method: "GET", path: "/xapi/statements", version: "-"}, want: 400,
				checks: []check{hasHeader("X-Experience-API-Version", "2.0.0")}},
		})
	})
	t.Run("a version schema does not implement", func(t *testing.T) {
		_, err := api.New(api.Options{Service: lrs.NewService(openStore(t), lrs.ServiceOptions{}), Documents: lrs.NewDocuments(nil, nil),
			Auth: credentials, Versions: []schema.Version{"1.1.0"}})
		if err == nil || !strings.Contains(err.Error(), `"1.1.0"`) {
			t.Errorf("New with version 1.1.0: %v, want an error naming it", err)
		}
	})
}

func TestPutAndPost(t *testing.T) {
	e := newEnv(t)
	id := uuid.NewString()
	put := "/xapi/statements?statementId=" + id
	batch := "[" + stmt("", "a@example.com", "completed", "1") + "," + stmt("", "b@example.com", "completed", "2") + "," + stmt("", "c@example.com", "completed", "3") + "]"
	var over []string
	for range 31 {
		over = append(over, stmt("", "a@example.com", "completed", "1"))
	}
	big := `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.y/v"},"object":{"id":"http://x.y/a"},"result":{"response":"` + strings.Repeat("x", 70<<10) + `"}}`
	idsCheck := func(n int) check {
		return func(t *testing.T, r resp) {
			t.Helper()
			var ids []string
			if err := json.Unmarshal(r.body, &ids); err != nil || len(ids) != n {
				t.Fatalf("body %s: want %d ids (%v)", r.body, n, err)
			}
			for _, id := range ids {
				if uuid.Validate(id) != nil {
					t.Errorf("id %q is not a UUID", id)
				}
			}
		}
	}
	presetIDs := []string{uuid.NewString(), uuid.NewString()}
	run(t, e, []tcase{
		{name: "PUT stores", req: req{method: "PUT", path: put, body: stmt("", "ann@example.com", "attempted", "course")}, want: 204,
			checks: []check{func(t *testing.T, r resp) {
				if r.header.Get("X-Experience-API-Consistent-Through") == "" {
					t.Error("no Consistent-Through")
				}
			}}},
		{name: "PUT same again", req: req{method: "PUT", path: put, body: stmt("", "ann@example.com", "attempted", "course")}, want: 204},
		{name: "PUT different conflicts", req: req{method: "PUT", path: put, body: stmt("", "ann@example.com", "failed", "course")}, want: 409, checks: []check{codeIs(lrs.ECONFLICT)}},
		{name: "PUT id differs from body id", req: req{method: "PUT", path: "/xapi/statements?statementId=" + uuid.NewString(), body: stmt(uuid.NewString(), "ann@example.com", "failed", "course")}, want: 400},
		{name: "PUT missing statementId", req: req{method: "PUT", path: "/xapi/statements", body: stmt("", "ann@example.com", "attempted", "course")}, want: 400, checks: []check{bodyContains("statementId")}},
		{name: "PUT bad statementId", req: req{method: "PUT", path: "/xapi/statements?statementId=nope", body: stmt("", "ann@example.com", "attempted", "course")}, want: 400},
		{name: "PUT unknown param", req: req{method: "PUT", path: put + "&foo=1", body: stmt("", "ann@example.com", "attempted", "course")}, want: 400, checks: []check{bodyContains(`\"foo\"`)}},
		{name: "PUT array body", req: req{method: "PUT", path: "/xapi/statements?statementId=" + uuid.NewString(), body: "[" + stmt("", "ann@example.com", "attempted", "course") + "]"}, want: 400},
		{name: "PUT wrong content type", req: req{method: "PUT", path: put, body: stmt("", "ann@example.com", "attempted", "course"), header: []string{"Content-Type", "text/plain"}}, want: 400, checks: []check{bodyContains("text/plain")}},
		{name: "PUT json with charset", req: req{method: "PUT", path: put, body: stmt("", "ann@example.com", "attempted", "course"), header: []string{"Content-Type", "application/json; charset=utf-8"}}, want: 204},
		{name: "PUT multipart not yet", req: req{method: "PUT", path: put, body: "--x--", header: []string{"Content-Type", "multipart/mixed; boundary=x"}}, want: 400, checks: []check{bodyContains("multipart/mixed")}},
		{name: "POST single", req: req{method: "POST", path: "/xapi/statements", body: stmt("", "a@example.com", "completed", "1")}, want: 200, checks: []check{idsCheck(1), hasHeader("Content-Type", "application/json")}},
		{name: "POST batch", req: req{method: "POST", path: "/xapi/statements", body: batch}, want: 200, checks: []check{idsCheck(3)}},
		{name: "POST batch keeps ids in order", req: req{method: "POST", path: "/xapi/statements",
			body: "[" + stmt(presetIDs[0], "a@example.com", "completed", "1") + "," + stmt(presetIDs[1], "b@example.com", "completed", "2") + "]"}, want: 200,
			checks: []check{bodyContains(`["` + presetIDs[0] + `","` + presetIDs[1] + `"]`)}},
		{name: "POST empty array", req: req{method: "POST", path: "/xapi/statements", body: "[]"}, want: 200, checks: []check{func(t *testing.T, r resp) {
			if string(r.body) != "[]" {
				t.Errorf("body %s, want []", r.body)
			}
		}}},
		{name: "POST malformed JSON", req: req{method: "POST", path: "/xapi/statements", body: `{"actor": `}, want: 400, checks: []check{codeIs(lrs.EINVALID), bodyContains("byte")}},
		{name: "POST invalid statement", req: req{method: "POST", path: "/xapi/statements", body: `{"actor":{"mbox":"ann@example.com"},"verb":{"id":"http://x.y/z"},"object":{"id":"http://x.y/a"}}`}, want: 400,
			checks: []check{codeIs(lrs.EINVALID), bodyContains("$.actor.mbox")}},
		{name: "POST oversize body", req: req{method: "POST", path: "/xapi/statements", body: big}, want: 413, checks: []check{codeIs(lrs.ETOOLARGE)}},
		{name: "POST over batch", req: req{method: "POST", path: "/xapi/statements", body: "[" + strings.Join(over, ",") + "]"}, want: 413, checks: []check{codeIs(lrs.ETOOLARGE)}},
		{name: "POST query param", req: req{method: "POST", path: "/xapi/statements?statementId=" + uuid.NewString(), body: stmt("", "a@example.com", "completed", "1")}, want: 400},
		{name: "POST wrong content type", req: req{method: "POST", path: "/xapi/statements", body: "x=1", header: []string{"Content-Type", "application/x-www-form-urlencoded"}}, want: 400},
		{name: "POST missing content type", req: req{method: "POST", path: "/xapi/statements", body: "[]", header: []string{"Content-Type", ""}}, want: 400},
	})
}

func TestGetStatements(t *testing.T) {
	e := newEnv(t)
	id, voided, voider := uuid.NewString(), uuid.NewString(), uuid.NewString()
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + id, body: stmt("", "ann@example.com", "attempted", "course")})
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + voided, body: stmt("", "bob@example.com", "attempted", "course")})
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + voider, body: `{"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided","display":{"en-US":"voided"}},"object":{"objectType":"StatementRef","id":"` + voided + `"}}`})
	time.Sleep(5 * time.Millisecond) // queries stop at Consistent-Through, one millisecond before now
	agent := url.QueryEscape(`{"mbox":"mailto:ann@example.com"}`)
	idOf := func(want string) check {
		return func(t *testing.T, r resp) {
			t.Helper()
			var st map[string]any
			if err := json.Unmarshal(r.body, &st); err != nil || st["id"] != want {
				t.Errorf("body %s: want statement %s (%v)", r.body, want, err)
			}
		}
	}
	lastModified := func(t *testing.T, r resp) {
		t.Helper()
		if _, err := http.ParseTime(r.header.Get("Last-Modified")); err != nil {
			t.Errorf("Last-Modified %q: %v", r.header.Get("Last-Modified"), err)
		}
	}
	ctRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	consistent := func(t *testing.T, r resp) {
		t.Helper()
		if got := r.header.Get("X-Experience-API-Consistent-Through"); !ctRE.MatchString(got) {
			t.Errorf("Consistent-Through %q", got)
		}
	}
	count := func(n int) check {
		return func(t *testing.T, r resp) {
			t.Helper()
			var sr struct {
				Statements []map[string]any
				More       *string
			}
			if err := json.Unmarshal(r.body, &sr); err != nil || sr.More == nil {
				t.Fatalf("body %s: not a StatementResult (%v)", r.body, err)
			}
			if len(sr.Statements) != n {
				t.Errorf("%d statements, want %d: %s", len(sr.Statements), n, r.body)
			}
		}
	}
	run(t, e, []tcase{
		{name: "by id", req: req{method: "GET", path: "/xapi/statements?statementId=" + id}, want: 200,
			checks: []check{idOf(id), lastModified, consistent, hasHeader("Content-Type", "application/json")}},
		{name: "by upper-case id", req: req{method: "GET", path: "/xapi/statements?statementId=" + strings.ToUpper(id)}, want: 200, checks: []check{idOf(id)}},
		{name: "format ids", req: req{method: "GET", path: "/xapi/statements?format=ids&statementId=" + id}, want: 200,
			checks: []check{idOf(id), func(t *testing.T, r resp) {
				if strings.Contains(string(r.body), "display") {
					t.Errorf("format=ids kept display: %s", r.body)
				}
			}}},
		{name: "format canonical with Accept-Language", req: req{method: "GET", path: "/xapi/statements?format=canonical&statementId=" + id, header: []string{"Accept-Language", "fr"}}, want: 200,
			checks: []check{bodyContains(`"fr":"attempted-fr"`), func(t *testing.T, r resp) {
				if strings.Contains(string(r.body), "en-US") {
					t.Errorf("canonical kept en-US: %s", r.body)
				}
			}}},
		{name: "unknown id", req: req{method: "GET", path: "/xapi/statements?statementId=" + uuid.NewString()}, want: 404, checks: []check{codeIs(lrs.ENOTFOUND), consistent}},
		{name: "other org cannot see", req: req{method: "GET", path: "/xapi/statements?statementId=" + id, key: "other"}, want: 404},
		{name: "voided by statementId", req: req{method: "GET", path: "/xapi/statements?statementId=" + voided}, want: 404},
		{name: "voided by voidedStatementId", req: req{method: "GET", path: "/xapi/statements?voidedStatementId=" + voided}, want: 200, checks: []check{idOf(voided), lastModified}},
		{name: "not voided by voidedStatementId", req: req{method: "GET", path: "/xapi/statements?voidedStatementId=" + id}, want: 404},
		{name: "HEAD by id has no body", req: req{method: "HEAD", path: "/xapi/statements?statementId=" + id}, want: 200,
			checks: []check{lastModified, consistent, func(t *testing.T, r resp) {
				if len(r.body) != 0 {
					t.Errorf("HEAD body %q", r.body)
				}
				if r.header.Get("Content-Length") == "" || r.header.Get("Content-Length") == "0" {
					t.Errorf("HEAD Content-Length %q", r.header.Get("Content-Length"))
				}
			}}},
		{name: "HEAD error has no body", req: req{method: "HEAD", path: "/xapi/statements?statementId=" + uuid.NewString()}, want: 404},
		{name: "attachments multipart", req: req{method: "GET", path: "/xapi/statements?attachments=true&statementId=" + id}, want: 200,
			checks: []check{func(t *testing.T, r resp) {
				if !strings.HasPrefix(r.header.Get("Content-Type"), "multipart/mixed; boundary=") {
					t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
				}
			}, bodyContains("Content-Type: application/json\r\n\r\n{"), bodyContains(id)}},
		{name: "query all", req: req{method: "GET", path: "/xapi/statements"}, want: 200, checks: []check{count(2), lastModified, consistent}},
		{name: "query by agent", req: req{method: "GET", path: "/xapi/statements?agent=" + agent}, want: 200, checks: []check{count(1)}},
		{name: "query by verb", req: req{method: "GET", path: "/xapi/statements?verb=http://adlnet.gov/expapi/verbs/voided"}, want: 200, checks: []check{count(1)}},
		// The voiding statement targets a statement about the activity, so it matches too.
		{name: "query by activity", req: req{method: "GET", path: "/xapi/statements?activity=http://example.com/act/course&ascending=true"}, want: 200, checks: []check{count(2)}},
		{name: "query empty has Last-Modified", req: req{method: "GET", path: "/xapi/statements?verb=http://example.com/none"}, want: 200, checks: []check{count(0), lastModified}},
		{name: "query since future", req: req{method: "GET", path: "/xapi/statements?since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))}, want: 200, checks: []check{count(0)}},
		{name: "query until past", req: req{method: "GET", path: "/xapi/statements?until=2000-01-01T00:00:00Z"}, want: 200, checks: []check{count(0)}},
		{name: "HEAD query has no body", req: req{method: "HEAD", path: "/xapi/statements"}, want: 200, checks: []check{lastModified, func(t *testing.T, r resp) {
			if len(r.body) != 0 {
				t.Errorf("HEAD body %q", r.body)
			}
		}}},
		{name: "unknown param", req: req{method: "GET", path: "/xapi/statements?foo=bar"}, want: 400, checks: []check{bodyContains(`\"foo\"`)}},
		{name: "repeated param", req: req{method: "GET", path: "/xapi/statements?limit=1&limit=2"}, want: 400},
		{name: "statementId with voidedStatementId", req: req{method: "GET", path: "/xapi/statements?statementId=" + id + "&voidedStatementId=" + voided}, want: 400},
		{name: "statementId with verb", req: req{method: "GET", path: "/xapi/statements?statementId=" + id + "&verb=http://x.y/z"}, want: 400, checks: []check{bodyContains("verb")}},
		{name: "voidedStatementId with limit", req: req{method: "GET", path: "/xapi/statements?voidedStatementId=" + voided + "&limit=1"}, want: 400},
		{name: "more with limit", req: req{method: "GET", path: "/xapi/statements?more=abc&limit=1"}, want: 400},
		{name: "bad more token", req: req{method: "GET", path: "/xapi/statements?more=abc"}, want: 400},
		{name: "bad statementId", req: req{method: "GET", path: "/xapi/statements?statementId=12"}, want: 400},
		{name: "bad registration", req: req{method: "GET", path: "/xapi/statements?registration=12"}, want: 400},
		{name: "bad agent", req: req{method: "GET", path: "/xapi/statements?agent=" + url.QueryEscape(`{"name":"x"}`)}, want: 400, checks: []check{bodyContains("agent")}},
		{name: "agent not JSON", req: req{method: "GET", path: "/xapi/statements?agent=x"}, want: 400},
		{name: "verb not an IRI", req: req{method: "GET", path: "/xapi/statements?verb=not-an-iri"}, want: 400},
		{name: "activity not an IRI", req: req{method: "GET", path: "/xapi/statements?activity=course"}, want: 400},
		{name: "bad since", req: req{method: "GET", path: "/xapi/statements?since=yesterday"}, want: 400},
		{name: "bad until", req: req{method: "GET", path: "/xapi/statements?until=2020-13-01"}, want: 400},
		{name: "negative limit", req: req{method: "GET", path: "/xapi/statements?limit=-1"}, want: 400},
		{name: "bad limit", req: req{method: "GET", path: "/xapi/statements?limit=ten"}, want: 400},
		{name: "bad ascending", req: req{method: "GET", path: "/xapi/statements?ascending=yes"}, want: 400},
		{name: "bad related_agents", req: req{method: "GET", path: "/xapi/statements?related_agents=1"}, want: 400},
		{name: "bad attachments", req: req{method: "GET", path: "/xapi/statements?attachments=on"}, want: 400},
		{name: "bad format", req: req{method: "GET", path: "/xapi/statements?format=full"}, want: 400},
	})
}

// TestBooleanParameters: related_agents, related_activities, attachments
// and ascending take true or false in any letter case; anything else is a
// 400 naming the parameter and the value.
func TestBooleanParameters(t *testing.T) {
	e := newEnv(t)
	first, second := uuid.NewString(), uuid.NewString()
	withContext := func(id string) string {
		return `{"id":"` + id + `","actor":{"mbox":"mailto:ann@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},"object":{"id":"http://example.com/act/quiz"},` +
			`"context":{"instructor":{"mbox":"mailto:teacher@example.com"},"contextActivities":{"parent":[{"id":"http://example.com/act/course"}]}}}`
	}
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + first, body: withContext(first)})
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + second, body: withContext(second)})
	time.Sleep(5 * time.Millisecond) // queries stop at Consistent-Through, one millisecond before now
	teacher := url.QueryEscape(`{"mbox":"mailto:teacher@example.com"}`)
	idsOf := func(t *testing.T, r resp) []string {
		t.Helper()
		var sr struct{ Statements []struct{ ID string } }
		if err := json.Unmarshal(r.body, &sr); err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		var got []string
		for _, s := range sr.Statements {
			got = append(got, s.ID)
		}
		return got
	}
	// ids checks the statements returned, in order.
	ids := func(want ...string) check {
		return func(t *testing.T, r resp) {
			t.Helper()
			if got := idsOf(t, r); !slices.Equal(got, want) {
				t.Errorf("statements %v, want %v", got, want)
			}
		}
	}
	// Newest first by default; both may share a stored millisecond, so the
	// order is read, not assumed.
	newestFirst := idsOf(t, e.expect(200, req{method: "GET", path: "/xapi/statements"}))
	if len(newestFirst) != 2 {
		t.Fatalf("statements %v, want 2", newestFirst)
	}
	oldestFirst := []string{newestFirst[1], newestFirst[0]}
	contentType := func(prefix string) check {
		return func(t *testing.T, r resp) {
			t.Helper()
			if !strings.HasPrefix(r.header.Get("Content-Type"), prefix) {
				t.Errorf("Content-Type %q, want %s…", r.header.Get("Content-Type"), prefix)
			}
		}
	}
	get := func(query string) req { return req{method: "GET", path: "/xapi/statements?" + query} }
	cases := []tcase{
		{name: "related_agents=True", req: get("related_agents=True&agent=" + teacher), want: 200, checks: []check{ids(newestFirst...)}},
		{name: "related_agents=TRUE", req: get("related_agents=TRUE&agent=" + teacher), want: 200, checks: []check{ids(newestFirst...)}},
		{name: "related_agents=False", req: get("related_agents=False&agent=" + teacher), want: 200, checks: []check{ids()}},
		{name: "related_activities=tRuE", req: get("related_activities=tRuE&activity=http://example.com/act/course"), want: 200, checks: []check{ids(newestFirst...)}},
		{name: "related_activities=FALSE", req: get("related_activities=FALSE&activity=http://example.com/act/course"), want: 200, checks: []check{ids()}},
		{name: "ascending=True", req: get("ascending=True"), want: 200, checks: []check{ids(oldestFirst...)}},
		{name: "attachments=True", req: get("attachments=True&statementId=" + first), want: 200, checks: []check{contentType("multipart/mixed; boundary=")}},
		{name: "attachments=False", req: get("attachments=False&statementId=" + first), want: 200, checks: []check{contentType("application/json")}},
	}
	for _, name := range []string{"related_agents", "related_activities", "attachments", "ascending"} {
		for _, bad := range []string{"1", "yes", "", "truee", "T"} {
			cases = append(cases, tcase{name: name + "=" + bad, req: get(name + "=" + bad), want: 400,
				checks: []check{codeIs(lrs.EINVALID), bodyContains(name + ` must be true or false, not \"` + bad + `\"`)}})
		}
	}
	run(t, e, cases)
}

func TestQueryPaging(t *testing.T) {
	e := newEnv(t)
	var batch []string
	for i := range 25 {
		batch = append(batch, stmt("", fmt.Sprintf("learner%d@example.com", i%5), "completed", "course"))
	}
	e.expect(200, req{method: "POST", path: "/xapi/statements", body: stmt("", "x@example.com", "attempted", "other")})
	r := e.expect(200, req{method: "POST", path: "/xapi/statements", body: "[" + strings.Join(batch, ",") + "]"})
	var ids []string
	if err := json.Unmarshal(r.body, &ids); err != nil || len(ids) != 25 {
		t.Fatalf("POST: %s", r)
	}
	// Queries stop at Consistent-Through, one millisecond before now.
	time.Sleep(5 * time.Millisecond)

	queryAll := func(t *testing.T, path string, format string) (got []string, pages int) {
		t.Helper()
		for path != "" {
			r := e.expect(200, req{method: "GET", path: path})
			if r.header.Get("Last-Modified") == "" || r.header.Get("X-Experience-API-Consistent-Through") == "" {
				t.Errorf("GET %s: missing Last-Modified or Consistent-Through", path)
			}
			var sr struct {
				Statements []map[string]any
				More       string
			}
			if err := json.Unmarshal(r.body, &sr); err != nil {
				t.Fatalf("GET %s: %v: %s", path, err, r.body)
			}
			for _, s := range sr.Statements {
				got = append(got, s["id"].(string))
				if format == "ids" {
					if _, ok := s["verb"].(map[string]any)["display"]; ok {
						t.Errorf("page %d lost format=ids: %v", pages, s)
					}
				}
			}
			pages++
			if sr.More != "" && !strings.HasPrefix(sr.More, "/xapi/statements?more=") {
				t.Fatalf("more %q is not under the root", sr.More)
			}
			path = sr.More
		}
		return got, pages
	}
	cases := []struct {
		name, path, format string
		want               []string
		pages              int
	}{
		{"verb limit 10", "/xapi/statements?verb=http://adlnet.gov/expapi/verbs/completed&limit=10", "", ids, 3},
		{"ascending limit 10 ids format", "/xapi/statements?verb=http://adlnet.gov/expapi/verbs/completed&limit=10&ascending=true&format=ids", "ids", ids, 3},
		{"agent", "/xapi/statements?limit=2&agent=" + url.QueryEscape(`{"mbox":"mailto:learner2@example.com"}`), "", []string{ids[2], ids[7], ids[12], ids[17], ids[22]}, 3},
		{"limit 0 is server max", "/xapi/statements?limit=0", "", append([]string{"?"}, ids...), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			got, pages := queryAll(t, tc.path, tc.format)
			if pages != tc.pages {
				t.Errorf("%d pages, want %d", pages, tc.pages)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d statements, want %d", len(got), len(tc.want))
			}
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Errorf("statement %s returned twice", id)
				}
				seen[id] = true
			}
			for _, id := range tc.want {
				if id != "?" && !seen[id] {
					t.Errorf("statement %s missing", id)
				}
			}
		})
	}
	t.Run("more from another org", func(t *testing.T) {
		e.t = t
		r := e.expect(200, req{method: "GET", path: "/xapi/statements?limit=1"})
		var sr struct{ More string }
		_ = json.Unmarshal(r.body, &sr)
		if sr.More == "" {
			t.Fatal("no more link")
		}
		e.expect(400, req{method: "GET", path: sr.More, key: "other"})
	})
}

func TestCORSAndRoutes(t *testing.T) {
	ready := errors.New("not yet")
	e := newEnv(t, func(o *api.Options) {
		o.Ready = func(context.Context) error { return ready }
	})
	run(t, e, []tcase{
		{name: "preflight", req: req{method: "OPTIONS", path: "/xapi/statements", key: "-", version: "-", header: []string{"Origin", "http://app.example.com"}}, want: 204,
			checks: []check{
				hasHeader("Access-Control-Allow-Origin", "http://app.example.com"),
				hasHeader("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE, OPTIONS"),
				hasHeader("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, Accept-Language"),
				hasHeader("Access-Control-Max-Age", "86400"),
			}},
		{name: "CORS on GET", req: req{method: "GET", path: "/xapi/statements", header: []string{"Origin", "http://app.example.com"}}, want: 200,
			checks: []check{
				hasHeader("Access-Control-Allow-Origin", "http://app.example.com"),
				hasHeader("Access-Control-Expose-Headers", "ETag, Last-Modified, X-Experience-API-Version, X-Experience-API-Consistent-Through, Content-Type"),
			}},
		{name: "CORS on 401", req: req{method: "GET", path: "/xapi/statements", key: "-"}, want: 401, checks: []check{hasHeader("Access-Control-Allow-Origin", "*")}},
		{name: "unknown route", req: req{method: "GET", path: "/xapi/nothing-here"}, want: 404, checks: []check{codeIs(lrs.ENOTFOUND), hasHeader("Content-Type", "application/json")}},
		{name: "unknown route outside root", req: req{method: "GET", path: "/nothing"}, want: 404, checks: []check{codeIs(lrs.ENOTFOUND)}},
		{name: "trailing slash", req: req{method: "GET", path: "/xapi/statements/"}, want: 404},
		{name: "DELETE statements", req: req{method: "DELETE", path: "/xapi/statements"}, want: 405, checks: []check{codeIs("method_not_allowed"), hasHeader("Content-Type", "application/json")}},
		{name: "healthz", req: req{method: "GET", path: "/healthz", key: "-", version: "-"}, want: 200, checks: []check{func(t *testing.T, r resp) {
			if string(r.body) != "ok" {
				t.Errorf("body %q", r.body)
			}
		}}},
		{name: "readyz failing", req: req{method: "GET", path: "/readyz", key: "-", version: "-"}, want: 503, checks: []check{codeIs(lrs.EUNAVAILABLE)}},
		{name: "metrics", req: req{method: "GET", path: "/metrics", key: "-", version: "-"}, want: 200, checks: []check{bodyContains("lrs_http_requests_total")}},
	})
	ready = nil
	run(t, e, []tcase{{name: "readyz ok", req: req{method: "GET", path: "/readyz", key: "-", version: "-"}, want: 200}})

	e2 := newEnv(t, func(o *api.Options) { o.MetricsHandler = nil; o.Root = "/lrs/" })
	run(t, e2, []tcase{
		{name: "no metrics handler", req: req{method: "GET", path: "/metrics"}, want: 404},
		{name: "custom root", req: req{method: "GET", path: "/lrs/statements"}, want: 200},
		{name: "default root absent", req: req{method: "GET", path: "/xapi/statements"}, want: 404},
	})
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.expect(200, req{method: "GET", path: "/xapi/statements"})
	e.expect(200, req{method: "GET", path: "/xapi/statements"})
	e.expect(401, req{method: "GET", path: "/xapi/statements", key: "-"})
	e.expect(404, req{method: "GET", path: "/xapi/nope"})
	e.expect(405, req{method: "DELETE", path: "/xapi/statements"})

	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "lrs_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			counts[l["route"]+" "+l["method"]+" "+l["status"]] = m.GetCounter().GetValue()
		}
	}
	for k, want := range map[string]float64{
		"/xapi/statements GET 200": 2,
		"/xapi/statements GET 401": 1,
		"unmatched GET 404":        1,
		"unmatched DELETE 405":     1,
	} {
		if counts[k] != want {
			t.Errorf("lrs_http_requests_total{%s} = %v, want %v (all: %v)", k, counts[k], want, counts)
		}
	}
	histograms := 0
	for _, mf := range mfs {
		if mf.GetName() == "lrs_http_request_duration_seconds" {
			histograms = len(mf.GetMetric())
		}
	}
	if histograms == 0 {
		t.Error("no lrs_http_request_duration_seconds series")
	}
	// A second handler on the same registry reuses the collectors.
	if _, err := api.New(api.Options{Service: e.svc, Documents: lrs.NewDocuments(openStore(t).(lrs.DocumentStore), nil), Auth: credentials, Registerer: e.reg}); err != nil {
		t.Errorf("second New on the same registry: %v", err)
	}
}

func TestAlternateSyntax(t *testing.T) {
	e := newEnv(t)
	id := uuid.NewString()
	basic := "Basic d3JpdGVyOnMtd3JpdGVy" // writer:s-writer
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	formCT := []string{"Content-Type", "application/x-www-form-urlencoded"}
	removed := bodyContains("2.0.0 removed the alternate request syntax")
	run(t, e, []tcase{
		{name: "PUT via form, headers in form", req: req{method: "POST", path: "/xapi/statements?method=PUT", key: "-", version: "-", header: formCT,
			body: form("statementId", id, "content", stmt("", "alt@example.com", "attempted", "alt"), "Authorization", basic,
				"X-Experience-API-Version", "1.0.3", "Content-Type", "application/json")}, want: 204,
			checks: []check{hasHeader("X-Experience-API-Version", "1.0.3")}},
		{name: "GET via form", req: req{method: "POST", path: "/xapi/statements?method=GET", version: "1.0.3", header: formCT,
			body: form("statementId", id)}, want: 200, checks: []check{bodyContains(id)}},
		{name: "POST via form without Content-Type field", req: req{method: "POST", path: "/xapi/statements?method=POST", version: "1.0.3", header: formCT,
			body: form("content", stmt("", "alt@example.com", "attempted", "alt2"))}, want: 200},
		{name: "DELETE via form", req: req{method: "POST", path: "/xapi/statements?method=DELETE", version: "1.0.3", header: formCT, body: form("statementId", id)}, want: 405},
		{name: "2.0 rejects method", req: req{method: "POST", path: "/xapi/statements?method=GET", header: formCT, body: form("statementId", id)}, want: 400,
			checks: []check{removed}},
		{name: "2.0 in form rejects method", req: req{method: "POST", path: "/xapi/statements?method=GET", version: "-", header: formCT,
			body: form("statementId", id, "X-Experience-API-Version", "2.0.0")}, want: 400},
		{name: "other query param", req: req{method: "POST", path: "/xapi/statements?method=GET&statementId=" + id, version: "1.0.3", header: formCT}, want: 400},
		{name: "bad method", req: req{method: "POST", path: "/xapi/statements?method=PATCH", version: "1.0.3", header: formCT}, want: 400},
		{name: "not a form", req: req{method: "POST", path: "/xapi/statements?method=GET", version: "1.0.3", body: "{}"}, want: 400},
		{name: "unknown form param", req: req{method: "POST", path: "/xapi/statements?method=GET", version: "1.0.3", header: formCT, body: form("foo", "bar")}, want: 400,
			checks: []check{bodyContains("foo")}},
		// Under 2.0: a 400 saying 2.0 removed the syntax, also when the
		// credentials are in the form as 1.0.3 clients send them; without
		// valid credentials still a 401.
		{name: "2.0, credentials in the form", req: req{method: "POST", path: "/xapi/statements?method=GET", key: "-", header: formCT,
			body: form("Authorization", basic)}, want: 400, checks: []check{removed, codeIs(lrs.EINVALID)}},
		{name: "2.0 and credentials in the form", req: req{method: "POST", path: "/xapi/activities/state?method=GET", key: "-", version: "-", header: formCT,
			body: form("Authorization", basic, "X-Experience-API-Version", "2.0.0", "activityId", docAct, "agent", docAgent, "stateId", "s")}, want: 400, checks: []check{removed}},
		{name: "2.0, no credentials", req: req{method: "POST", path: "/xapi/statements?method=GET", key: "-", header: formCT, body: form()}, want: 401},
		{name: "2.0, wrong credentials in the form", req: req{method: "POST", path: "/xapi/statements?method=GET", key: "-", header: formCT,
			body: form("Authorization", "Basic d3JpdGVyOndyb25n")}, want: 401}, // writer:wrong
	})
}
