package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newHook(t *testing.T, c webhook.Config, s webhook.Secrets, o webhook.Options) *webhook.Webhook {
	t.Helper()
	if s.SigningSecret == "" && c.Mode != webhook.ModeFile {
		s.SigningSecret = secret
	}
	if o.Egress == nil {
		o.Egress = forwardtest.Loopback // the test receivers listen on loopback
	}
	w, err := webhook.New("cfg-1", "Chapter AMS", c, s, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w
}

// input is the sample result with its own id.
func input(id string) webhook.Input {
	in := webhook.Sample("", "")
	in.Result.ID = id
	return in
}

func simpleConfig(u string) webhook.Config {
	return webhook.Config{
		URL: u + "/credits/{{result.key}}",
		Fields: []webhook.Field{
			{Target: "data.member_email", Source: "participant.email", Required: true},
			{Target: "data.member_id", Source: "participant.external_id", Format: "int"},
			{Target: "data.completed_on", Source: "result.completed_at", Format: "date:MM/DD/YYYY", Zone: "America/Chicago"},
			{Target: "data.passed", Source: "result.passed", Format: "bool:Y/N"},
			{Target: "data.score", Source: "result.score.scaled", Format: "percent:1"},
			{Target: "data.hours", Source: "objective.credits", Format: "decimal:2"},
			{Target: "data.reference", Source: "result.key", Required: true},
			{Target: "source", Constant: json.RawMessage(`"lrs"`)},
		},
	}
}

func simpleChecks() []webhooktest.Check {
	return []webhooktest.Check{
		{Field: "data.member_email", Type: "email", Required: true},
		{Field: "data.member_id", Type: "integer", Required: true},
		{Field: "data.completed_on", Type: "date:MM/DD/YYYY", Required: true},
		{Field: "data.passed", Type: "oneof:Y|N", Required: true},
		{Field: "data.score", Type: "number", Required: true},
		{Field: "data.hours", Type: "number", Required: true},
		{Field: "data.reference", Type: "uuid", Required: true},
		{Field: "source", Type: "oneof:lrs", Required: true},
	}
}

// TestSendImmediate sends one result to a receiver that verifies the
// signature, the headers, the types and date formats, and dedupes.
func TestSendImmediate(t *testing.T) {
	rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Method: "POST", Fields: simpleChecks(), Key: "data.reference"})
	w := newHook(t, simpleConfig(rcv.URL), webhook.Secrets{}, webhook.Options{UserAgent: "lrs-forwarder/test"})
	in := input("res-1")
	if o := w.Send(context.Background(), []webhook.Input{in}); o.Class != webhook.ClassSuccess || o.Status != 200 {
		t.Fatalf("Send: %+v", o)
	}
	got := rcv.WaitAccepted(t, 1, 5*time.Second)[0]
	key := webhook.Key("cfg-1", "res-1")
	if got.Path != "/credits/"+key {
		t.Errorf("path %s, want /credits/%s", got.Path, key)
	}
	want := fmt.Sprintf(`{"data":{"member_email":"ada@example.com","member_id":100042,"completed_on":"09/02/2026","passed":"Y","score":92.0,"hours":1.50,"reference":%q},"source":"lrs"}`, key)
	if string(got.Body) != want {
		t.Errorf("body\n%s\nwant\n%s", got.Body, want)
	}
	if got.Header.Get("User-Agent") != "lrs-forwarder/test" || got.Header.Get("Idempotency-Key") != got.ID() {
		t.Errorf("headers %v", got.Header)
	}
	if got.ID() != webhook.MessageID(key, got.Body) {
		t.Errorf("webhook-id %s is not the message id of the body", got.ID())
	}
	// The same content again (a retry after a lost answer): the receiver
	// answers 200 and counts it once.
	if o := w.Send(context.Background(), []webhook.Input{in}); o.Class != webhook.ClassSuccess {
		t.Fatalf("second Send: %+v", o)
	}
	reqs := rcv.Requests()
	if len(reqs) != 2 || !reqs[1].Duplicate || reqs[1].ID() != got.ID() || len(rcv.Accepted()) != 1 {
		t.Fatalf("requests %+v", reqs)
	}
	// A newer value of the same result is a new message with the same key.
	score := 0.97
	in.Result.Score.Scaled, in.Result.Revision = &score, 2
	if o := w.Send(context.Background(), []webhook.Input{in}); o.Class != webhook.ClassSuccess {
		t.Fatalf("third Send: %+v", o)
	}
	acc := rcv.WaitAccepted(t, 2, 5*time.Second)
	if acc[1].ID() == acc[0].ID() || acc[1].Items[0]["data"].(map[string]any)["reference"] != key {
		t.Errorf("update: id %s after %s, item %v", acc[1].ID(), acc[0].ID(), acc[1].Items[0])
	}
	if in.ConfigurationID != "" {
		t.Error("Send changed the caller's input")
	}
}

func TestSendForm(t *testing.T) {
	rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, ContentType: "form", Method: "PUT", Fields: []webhooktest.Check{
		{Field: "member.email", Type: "email", Required: true},
		{Field: "name & title", Type: "string", Required: true},
		{Field: "passed", Type: "oneof:1|0", Required: true},
		{Field: "when", Type: "date:unix", Required: true},
		{Field: "time", Type: "duration:iso8601", Required: true},
	}})
	c := webhook.Config{URL: rcv.URL + "/form?member={{participant.external_id}}", Method: "PUT", ContentType: webhook.ContentForm, Fields: []webhook.Field{
		{Target: "member.email", Source: "participant.email"},
		{Target: "name & title", Source: "objective.name"},
		{Target: "passed", Source: "result.passed", Format: "bool:1/0"},
		{Target: "when", Source: "result.completed_at", Format: "date:unix"},
		{Target: "time", Source: "result.duration"},
	}}
	w := newHook(t, c, webhook.Secrets{}, webhook.Options{})
	in := input("r")
	in.Objective.Name = "Fire & safety = 100%"
	if o := w.Send(context.Background(), []webhook.Input{in}); o.Class != webhook.ClassSuccess {
		t.Fatalf("Send: %+v; %+v", o, rcv.Requests())
	}
	got := rcv.WaitAccepted(t, 1, 5*time.Second)[0]
	if string(got.Body) != "member.email=ada%40example.com&name+%26+title=Fire+%26+safety+%3D+100%25&passed=1&when=1788336899&time=PT25M30S" {
		t.Errorf("body %s", got.Body)
	}
	if got.RawQuery != "member=100042" || got.Items[0]["name & title"] != in.Objective.Name {
		t.Errorf("query %q, items %v", got.RawQuery, got.Items)
	}
}

// TestURLTemplateEscaping: a value cannot leave its path segment or its
// query parameter.
func TestURLTemplateEscaping(t *testing.T) {
	rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret})
	c := webhook.Config{
		URL:    rcv.URL + "/members/{{participant.external_id}}/credits?course={{objective.name}}&on={{result.completed_at|date:YYYY-MM-DD}}",
		Fields: []webhook.Field{{Target: "x", Source: "result.id"}},
	}
	w := newHook(t, c, webhook.Secrets{}, webhook.Options{})
	cases := []struct{ id, name, path, query string }{
		{"a/b?c#d", "x&y=z+w", "/members/a%2Fb%3Fc%23d/credits", "course=x%26y%3Dz%2Bw&on=2026-09-02"},
		{"..", "é ü", "/members/%2E%2E/credits", "course=%C3%A9+%C3%BC&on=2026-09-02"},
		{"100 42", "%2F", "/members/100%2042/credits", "course=%252F&on=2026-09-02"},
	}
	for i, tc := range cases {
		in := input(fmt.Sprint("r", i))
		in.Participant.ExternalID, in.Objective.Name = tc.id, tc.name
		if o := w.Send(context.Background(), []webhook.Input{in}); o.Class != webhook.ClassSuccess {
			t.Fatalf("Send: %+v", o)
		}
		got := rcv.Requests()[i]
		if got.Path != tc.path || got.RawQuery != tc.query {
			t.Errorf("%q/%q: path %s query %s, want %s %s", tc.id, tc.name, got.Path, got.RawQuery, tc.path, tc.query)
		}
		q, _ := url.ParseQuery(got.RawQuery)
		if q.Get("course") != tc.name {
			t.Errorf("course decodes to %q, want %q", q.Get("course"), tc.name)
		}
	}
	// A missing value makes the item unsendable, not a wrong URL.
	in := input("no-id")
	in.Participant.ExternalID = ""
	o := w.Send(context.Background(), []webhook.Input{in})
	if o.Class != webhook.ClassItem || !strings.Contains(o.Rejected["no-id"], "participant.external_id has no value") {
		t.Errorf("Send without a value: %+v", o)
	}
}

// TestRender covers nested targets, JSON pointers, key order, absent
// values and required ones.
func TestRender(t *testing.T) {
	c := webhook.Config{URL: "https://x.example/h", Fields: []webhook.Field{
		{Target: "z", Source: "objective.name"},
		{Target: "/a/b~1c", Source: "participant.email"},
		{Target: "a.d~0e", Source: "result.status"},
		{Target: "a.score", Source: "result.score.raw"},
		{Target: "m", Source: "objective.extra.product_code"},
		{Target: "flag", Constant: json.RawMessage(`true`)},
		{Target: "n", Constant: json.RawMessage(`1.50`)},
	}}
	w := newHook(t, c, webhook.Secrets{}, webhook.Options{})
	in := input("r")
	in.Result.Score.Raw = nil
	req, rejected := w.Build([]webhook.Input{in}, time.Unix(1700000000, 0))
	if len(rejected) != 0 {
		t.Fatal(rejected)
	}
	want := `{"z":"Fire safety drill","a":{"b/c":"ada@example.com","d~0e":"passed"},"m":"FS101","flag":true,"n":1.50}`
	if string(req.Body) != want {
		t.Errorf("body %s\nwant %s", req.Body, want)
	}
	// Required values missing: every problem of the input is listed.
	c.Fields = append(c.Fields, webhook.Field{Target: "id", Source: "participant.external_id", Required: true},
		webhook.Field{Target: "ce", Source: "objective.credits", Required: true})
	w = newHook(t, c, webhook.Secrets{}, webhook.Options{})
	in.Participant.ExternalID, in.Objective.Credits = "", nil
	req, rejected = w.Build([]webhook.Input{in}, time.Now())
	if req != nil || !strings.Contains(rejected["r"], "id: required, but participant.external_id has no value") ||
		!strings.Contains(rejected["r"], "ce: required, but objective.credits has no value") {
		t.Errorf("rejected %v", rejected)
	}
}

// TestOutcomes drives every answer of sinks.md §0.2 through a receiver.
func TestOutcomes(t *testing.T) {
	now := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		answer     webhooktest.Answer
		class      string
		status     int
		retryAfter time.Duration
		stop       bool
		msg        string
	}{
		{"200", webhooktest.Answer{Status: 200}, webhook.ClassSuccess, 200, 0, false, ""},
		{"204", webhooktest.Answer{Status: 204}, webhook.ClassSuccess, 204, 0, false, ""},
		{"301 is a failure", webhooktest.Answer{Status: 301, Location: "https://elsewhere.example/"}, webhook.ClassDestination, 301, 0, false, "redirected to https://elsewhere.example/"},
		{"400 refuses the item", webhooktest.Answer{Status: 400, Body: `{"error":"PersonID unknown"}`}, webhook.ClassItem, 400, 0, false, "PersonID unknown"},
		{"401", webhooktest.Answer{Status: 401, Body: "bad key"}, webhook.ClassDestination, 401, 0, false, "HTTP 401: bad key"},
		{"404", webhooktest.Answer{Status: 404}, webhook.ClassDestination, 404, 0, false, "HTTP 404"},
		{"410 stops", webhooktest.Answer{Status: 410}, webhook.ClassDestination, 410, 0, true, "asked to stop"},
		{"422", webhooktest.Answer{Status: 422}, webhook.ClassItem, 422, 0, false, ""},
		{"429 with seconds", webhooktest.Answer{Status: 429, RetryAfter: "120"}, webhook.ClassTransient, 429, 2 * time.Minute, false, ""},
		{"503 with a date", webhooktest.Answer{Status: 503, RetryAfter: now.Add(90 * time.Second).Format(http.TimeFormat)}, webhook.ClassTransient, 503, 90 * time.Second, false, ""},
		{"500", webhooktest.Answer{Status: 500, Body: "boom"}, webhook.ClassTransient, 500, 0, false, "HTTP 500: boom"},
		{"timeout", webhooktest.Answer{Hang: true}, webhook.ClassTransport, 0, 0, false, "timeout"},
		{"reset", webhooktest.Answer{Reset: true}, webhook.ClassTransport, 0, 0, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Now: func() time.Time { return now }})
			c := simpleConfig(rcv.URL)
			c.Timeout = "1s"
			w := newHook(t, c, webhook.Secrets{}, webhook.Options{Now: func() time.Time { return now }})
			rcv.Then(tc.answer)
			o := w.Send(context.Background(), []webhook.Input{input("r")})
			if o.Class != tc.class || o.Status != tc.status || o.RetryAfter != tc.retryAfter || o.Stop != tc.stop || !strings.Contains(o.Message, tc.msg) {
				t.Fatalf("outcome %+v, want class %s status %d retry-after %v stop %v message …%s…", o, tc.class, tc.status, tc.retryAfter, tc.stop, tc.msg)
			}
			if tc.class == webhook.ClassItem && o.Rejected["r"] == "" {
				t.Errorf("the refused item is not listed: %+v", o)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		w := newHook(t, simpleConfig(u), webhook.Secrets{}, webhook.Options{})
		if o := w.Send(context.Background(), []webhook.Input{input("r")}); o.Class != webhook.ClassTransport || !strings.Contains(o.Message, "refused") {
			t.Fatalf("outcome %+v", o)
		}
	})
}

// TestSendBatch sends batches in both envelopes to receivers that check
// the envelope, the item keys and the batch size.
func TestSendBatch(t *testing.T) {
	for _, env := range []string{webhook.EnvelopeItems, webhook.EnvelopeArray} {
		t.Run(env, func(t *testing.T) {
			rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Envelope: env, MaxItems: 2, Key: "data.reference", Fields: simpleChecks()})
			c := simpleConfig(rcv.URL)
			c.URL, c.Mode, c.Envelope, c.MaxItems = rcv.URL+"/batch", webhook.ModeBatch, env, 2
			w := newHook(t, c, webhook.Secrets{}, webhook.Options{})
			if w.MaxBatch() != 2 {
				t.Errorf("MaxBatch %d", w.MaxBatch())
			}
			ins := []webhook.Input{input("a"), input("b"), input("c"), input("d"), input("e")}
			o := w.Send(context.Background(), ins)
			if o.Class != webhook.ClassSuccess || len(o.Rejected) != 0 {
				t.Fatalf("Send: %+v; %+v", o, rcv.Requests())
			}
			acc := rcv.WaitAccepted(t, 3, 5*time.Second)
			var refs []string
			for _, it := range rcv.Items() {
				refs = append(refs, it["data"].(map[string]any)["reference"].(string))
			}
			want := []string{webhook.Key("cfg-1", "a"), webhook.Key("cfg-1", "b"), webhook.Key("cfg-1", "c"), webhook.Key("cfg-1", "d"), webhook.Key("cfg-1", "e")}
			if strings.Join(refs, ",") != strings.Join(want, ",") {
				t.Errorf("items %v, want %v", refs, want)
			}
			// The same batch again carries the same id (the receiver
			// dedupes it); one newer value makes it a new batch.
			w.Send(context.Background(), ins[:2])
			if r := rcv.Requests(); !r[len(r)-1].Duplicate || r[len(r)-1].ID() != acc[0].ID() {
				t.Errorf("repeat: %+v", r[len(r)-1])
			}
			ins[1].Result.Attempts = 2
			c.Fields = append(c.Fields, webhook.Field{Target: "attempts", Source: "result.attempts"})
			w = newHook(t, c, webhook.Secrets{}, webhook.Options{})
			w.Send(context.Background(), ins[:2])
			if r := rcv.Requests(); r[len(r)-1].Duplicate || r[len(r)-1].ID() == acc[0].ID() {
				t.Errorf("changed batch: %+v", r[len(r)-1])
			}
		})
	}
}

// TestBatchBisect: a receiver that refuses any batch holding one bad item
// gets the others, and the bad one is rejected alone.
func TestBatchBisect(t *testing.T) {
	rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Envelope: "items", Key: "data.reference",
		Fields: []webhooktest.Check{{Field: "data.score", Type: "number", Required: true}}})
	c := simpleConfig(rcv.URL)
	c.URL, c.Mode, c.MaxItems = rcv.URL+"/batch", webhook.ModeBatch, 10
	w := newHook(t, c, webhook.Secrets{}, webhook.Options{})
	var ins []webhook.Input
	for i := range 6 {
		ins = append(ins, input(fmt.Sprint("r", i)))
	}
	ins[4].Result.Score.Scaled = nil // renders without data.score: the receiver wants it
	ins[2].Participant.Email = ""    // cannot be rendered at all (required)
	o := w.Send(context.Background(), ins)
	if o.Class != webhook.ClassSuccess || len(o.Rejected) != 2 || o.Rejected["r4"] == "" || !strings.Contains(o.Rejected["r2"], "participant.email has no value") {
		t.Fatalf("outcome %+v", o)
	}
	var got []string
	for _, it := range rcv.Items() {
		got = append(got, it["data"].(map[string]any)["reference"].(string))
	}
	want := []string{webhook.Key("cfg-1", "r0"), webhook.Key("cfg-1", "r1"), webhook.Key("cfg-1", "r3"), webhook.Key("cfg-1", "r5")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

// TestStaticAuth: each static kind sends its header, which the receiver
// requires.
func TestStaticAuth(t *testing.T) {
	cases := []struct {
		name   string
		c      webhook.Config
		s      webhook.Secrets
		header string
		value  string
	}{
		{"basic", webhook.Config{Auth: webhook.AuthBasic, Username: "lrs"}, webhook.Secrets{Password: "pa:ss"}, "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("lrs:pa:ss"))},
		{"bearer", webhook.Config{Auth: webhook.AuthBearer}, webhook.Secrets{Token: "tok-123"}, "Authorization", "Bearer tok-123"},
		{"api key", webhook.Config{Auth: webhook.AuthAPIKey, APIKeyHeader: "x-api-key"}, webhook.Secrets{APIKey: "k-9"}, "X-Api-Key", "k-9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Headers: map[string]string{tc.header: tc.value}})
			c := simpleConfig(rcv.URL)
			c.Auth, c.Username, c.APIKeyHeader = tc.c.Auth, tc.c.Username, tc.c.APIKeyHeader
			w := newHook(t, c, tc.s, webhook.Options{})
			if o := w.Send(context.Background(), []webhook.Input{input("r")}); o.Class != webhook.ClassSuccess {
				t.Fatalf("Send: %+v", o)
			}
			// A receiver wanting another value refuses it (the check bites).
			other := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Headers: map[string]string{tc.header: tc.value + "x"}})
			c.URL = other.URL + "/x"
			w = newHook(t, c, tc.s, webhook.Options{})
			if o := w.Send(context.Background(), []webhook.Input{input("r")}); o.Class != webhook.ClassDestination || o.Status != 401 {
				t.Fatalf("Send to a receiver wanting another value: %+v", o)
			}
		})
	}
}

// tokenServer is an OAuth2 token endpoint that counts requests and
// issues tok-1, tok-2…
type tokenServer struct {
	*httptest.Server
	n      atomic.Int32
	refuse atomic.Bool
}

func newTokenServer(t *testing.T, clientID, clientSecret string) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if !ok {
			_ = r.ParseForm()
			id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if ts.refuse.Load() || id != clientID || sec != clientSecret || r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			// Echoes the secret, as some endpoints do: it must not reach the outcome.
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad secret %s"}`, sec)
			return
		}
		n := ts.n.Add(1)
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600,"scope":%q}`, n, r.FormValue("scope"))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestOAuth2(t *testing.T) {
	for _, in := range []string{"body", "basic"} {
		t.Run(in, func(t *testing.T) {
			ts := newTokenServer(t, "client", "s3cret-value")
			rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret})
			c := simpleConfig(rcv.URL)
			c.Auth, c.TokenURL, c.ClientID, c.Scope, c.CredentialsIn = webhook.AuthOAuth2, ts.URL, "client", "ams.write", in
			w := newHook(t, c, webhook.Secrets{ClientSecret: "s3cret-value"}, webhook.Options{})
			for i := range 3 {
				if o := w.Send(context.Background(), []webhook.Input{input(fmt.Sprint("r", i))}); o.Class != webhook.ClassSuccess {
					t.Fatalf("Send %d: %+v", i, o)
				}
			}
			if n := ts.n.Load(); n != 1 {
				t.Errorf("%d token requests for 3 sends, want 1 (cached)", n)
			}
			if got := rcv.Requests()[2].Header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("Authorization %q", got)
			}
			// The receiver refuses the cached token once: one new token, the
			// request repeated with it.
			rcv.Then(webhooktest.Answer{Status: 401})
			if o := w.Send(context.Background(), []webhook.Input{input("r9")}); o.Class != webhook.ClassSuccess {
				t.Fatalf("Send after a 401: %+v", o)
			}
			reqs := rcv.Requests()
			if ts.n.Load() != 2 || reqs[len(reqs)-1].Header.Get("Authorization") != "Bearer tok-2" {
				t.Errorf("%d tokens, last request with %q", ts.n.Load(), reqs[len(reqs)-1].Header.Get("Authorization"))
			}
			// Refused twice: no third try, a destination error.
			rcv.Then(webhooktest.Answer{Status: 401}, webhooktest.Answer{Status: 401})
			before := len(rcv.Requests())
			if o := w.Send(context.Background(), []webhook.Input{input("r10")}); o.Class != webhook.ClassDestination || o.Status != 401 {
				t.Fatalf("Send refused twice: %+v", o)
			}
			if got := len(rcv.Requests()) - before; got != 2 {
				t.Errorf("%d requests, want 2", got)
			}
			// The token endpoint refuses the client: Server Error, the OAuth
			// error code named, the echoed secret not.
			ts.refuse.Store(true)
			rcv.Then(webhooktest.Answer{Status: 401})
			o := w.Send(context.Background(), []webhook.Input{input("r11")})
			if o.Class != webhook.ClassDestination || !strings.Contains(o.Message, "token endpoint: HTTP 401: invalid_client") || strings.Contains(o.Message, "s3cret") {
				t.Fatalf("refused client: %+v", o)
			}
		})
	}
}

func TestOAuth2TokenEndpointDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	c := simpleConfig("https://ams.example.invalid")
	c.Auth, c.TokenURL, c.ClientID = webhook.AuthOAuth2, srv.URL, "client"
	w := newHook(t, c, webhook.Secrets{ClientSecret: "sec"}, webhook.Options{})
	if o := w.Send(context.Background(), []webhook.Input{input("r")}); o.Class != webhook.ClassTransient || o.Status != 503 {
		t.Fatalf("outcome %+v", o)
	}
	srv.Close()
	if o := w.Send(context.Background(), []webhook.Input{input("r")}); o.Class != webhook.ClassTransport || !strings.Contains(o.Message, "token endpoint") {
		t.Fatalf("outcome %+v", o)
	}
}

// TestSecretsRedactedFromOutcomes: a receiver echoing what it got (a
// debugging proxy, a WAF page) leaks no secret into the outcome.
func TestSecretsRedactedFromOutcomes(t *testing.T) {
	pass := "p@ss w/rd&=1"
	rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret})
	c := simpleConfig(rcv.URL)
	c.Auth, c.Username = webhook.AuthBasic, "lrs"
	w := newHook(t, c, webhook.Secrets{Password: pass}, webhook.Options{})
	basic := base64.StdEncoding.EncodeToString([]byte("lrs:" + pass))
	echo := fmt.Sprintf("got Authorization: Basic %s; password=%s; form=%s; json=%s; secret=%s",
		basic, pass, url.QueryEscape(pass), `p@ss w\/rd\u0026=1`, strings.TrimPrefix(secret, "whsec_"))
	rcv.Then(webhooktest.Answer{Status: 403, Body: echo})
	o := w.Send(context.Background(), []webhook.Input{input("r")})
	for _, leak := range []string{basic, pass, url.QueryEscape(pass), strings.TrimPrefix(secret, "whsec_")} {
		if strings.Contains(o.Message, leak) {
			t.Errorf("outcome leaks %q: %s", leak, o.Message)
		}
	}
	if !strings.Contains(o.Message, "[redacted]") {
		t.Errorf("message %q", o.Message)
	}
}

// TestPreview renders the exact request without sending it: the body and
// signature Build gives, secrets redacted, no token fetched.
func TestPreview(t *testing.T) {
	ts := newTokenServer(t, "client", "cs-secret")
	at := time.Unix(1788336899, 0)
	cases := []struct {
		name   string
		c      webhook.Config
		s      webhook.Secrets
		header string
		want   string
	}{
		{"basic", webhook.Config{Auth: webhook.AuthBasic, Username: "lrs"}, webhook.Secrets{Password: "hunter22"}, "Authorization", "Basic [redacted]"},
		{"bearer", webhook.Config{Auth: webhook.AuthBearer}, webhook.Secrets{Token: "tok-abcdef"}, "Authorization", "Bearer [redacted]"},
		{"api key", webhook.Config{Auth: webhook.AuthAPIKey, APIKeyHeader: "X-Key"}, webhook.Secrets{APIKey: "key-abcdef"}, "X-Key", "[redacted]"},
		{"oauth2", webhook.Config{Auth: webhook.AuthOAuth2, TokenURL: ts.URL, ClientID: "client"}, webhook.Secrets{ClientSecret: "cs-secret"}, "Authorization", "Bearer [redacted]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := simpleConfig("https://ams.example.org")
			c.Auth, c.Username, c.APIKeyHeader, c.TokenURL, c.ClientID = tc.c.Auth, tc.c.Username, tc.c.APIKeyHeader, tc.c.TokenURL, tc.c.ClientID
			// A constant that happens to hold a secret is redacted too.
			c.Fields = append(c.Fields, webhook.Field{Target: "oops", Constant: json.RawMessage(fmt.Sprintf("%q", tc.s.Password+tc.s.Token+tc.s.APIKey+tc.s.ClientSecret))})
			w := newHook(t, c, tc.s, webhook.Options{})
			in := input("r")
			p := w.Preview([]webhook.Input{in}, at)
			req, _ := w.Build([]webhook.Input{in}, at)
			if p.Method != "POST" || p.URL != req.URL || p.Headers[http.CanonicalHeaderKey(tc.header)][0] != tc.want {
				t.Errorf("preview %+v", p)
			}
			if p.Headers["Webhook-Signature"][0] != req.Header.Get("webhook-signature") || p.Headers["Webhook-Timestamp"][0] != "1788336899" {
				t.Errorf("signature headers %v", p.Headers)
			}
			if !strings.Contains(p.Body, `"oops":"[redacted]"`) || strings.Replace(string(req.Body), tc.s.Password+tc.s.Token+tc.s.APIKey+tc.s.ClientSecret, "[redacted]", 1) != p.Body {
				t.Errorf("body %s\nrequest %s", p.Body, req.Body)
			}
			all, _ := json.Marshal(p)
			for _, sec := range []string{"hunter22", "tok-abcdef", "key-abcdef", "cs-secret", strings.TrimPrefix(secret, "whsec_")} {
				if strings.Contains(string(all), sec) {
					t.Errorf("preview leaks %s: %s", sec, all)
				}
			}
		})
	}
	if n := ts.n.Load(); n != 0 {
		t.Errorf("preview fetched %d tokens", n)
	}
}

func TestWants(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		trigger           string
		completed, passed *bool
		want              bool
	}{
		{"", &yes, nil, true},
		{"", nil, &yes, true},
		{"", &no, &no, false},
		{webhook.TriggerPass, &yes, &no, false},
		{webhook.TriggerPass, nil, &yes, true},
		{webhook.TriggerChange, nil, nil, true},
	}
	for _, tc := range cases {
		c := simpleConfig("https://x.example")
		c.Trigger = tc.trigger
		w := newHook(t, c, webhook.Secrets{}, webhook.Options{})
		if got := w.Wants(webhook.Result{Completed: tc.completed, Passed: tc.passed}); got != tc.want {
			t.Errorf("trigger %q completed %v passed %v: %v", tc.trigger, tc.completed, tc.passed, got)
		}
	}
}

func TestRenderErrorType(t *testing.T) {
	w := newHook(t, simpleConfig("https://x.example"), webhook.Secrets{}, webhook.Options{})
	in := input("r")
	in.Participant.Email = ""
	_, rejected := w.Build([]webhook.Input{in}, time.Now())
	if !strings.Contains(rejected["r"], "data.member_email: required") {
		t.Errorf("rejected %v", rejected)
	}
	var ve *webhook.ValidationError
	if errors.As(webhook.Validate(webhook.Config{}, webhook.Secrets{}), &ve) && len(ve.Problems) < 3 {
		t.Errorf("problems %v", ve.Problems)
	}
}
