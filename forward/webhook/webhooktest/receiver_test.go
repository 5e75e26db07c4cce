package webhooktest_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// The Standard Webhooks libraries' test secret.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var now = time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)

func sign(t *testing.T, id string, ts int64, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// req is a request the test sends; mutate spoils one thing.
type req struct {
	method, contentType, body, id string
	ts                            int64
	sig                           string // "" signs correctly
	header                        map[string]string
}

func (r req) send(t *testing.T, url string) *http.Response {
	t.Helper()
	if r.method == "" {
		r.method = "POST"
	}
	if r.contentType == "" {
		r.contentType = "application/json"
	}
	if r.id == "" {
		r.id = "msg_1"
	}
	if r.ts == 0 {
		r.ts = now.Unix()
	}
	if r.sig == "" {
		r.sig = sign(t, r.id, r.ts, r.body)
	}
	hr, err := http.NewRequest(r.method, url, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", r.contentType)
	hr.Header.Set("webhook-id", r.id)
	hr.Header.Set("webhook-timestamp", strconv.FormatInt(r.ts, 10))
	hr.Header.Set("webhook-signature", r.sig)
	hr.Header.Set("Idempotency-Key", r.id)
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func newReceiver(t *testing.T, o webhooktest.Options) *webhooktest.Receiver {
	o.Secret = secret
	o.Now = func() time.Time { return now }
	return webhooktest.NewReceiver(t, o)
}

// TestReceiverChecks: each check refuses what it should, with the status
// a receiver would answer, and accepts the valid request.
func TestReceiverChecks(t *testing.T) {
	valid := `{"email":"ada@example.com","n":3,"score":92.5,"ok":true,"on":"2026-09-02","at":"2026-09-02T08:14:59Z","ts":1788336899,"ms":1788336899000,"d":"PT1H2.5S","key":"6fa459ea-ee8a-5ca4-894e-db77e160355e","s":"Complete","nested":{"x":"y"}}`
	checks := []webhooktest.Check{
		{Field: "email", Type: "email", Required: true},
		{Field: "n", Type: "integer", Required: true},
		{Field: "score", Type: "number", Required: true},
		{Field: "ok", Type: "boolean", Required: true},
		{Field: "on", Type: "date:YYYY-MM-DD", Required: true},
		{Field: "at", Type: "date:rfc3339", Required: true},
		{Field: "ts", Type: "date:unix", Required: true},
		{Field: "ms", Type: "date:unix_ms", Required: true},
		{Field: "d", Type: "duration:iso8601", Required: true},
		{Field: "key", Type: "uuid", Required: true},
		{Field: "s", Type: "oneof:Complete|Incomplete", Required: true},
		{Field: "nested.x", Type: "string", Required: true},
		{Field: "/nested/x", Type: "string", Required: true},
		{Field: "optional", Type: "string"},
	}
	swap := func(from, to string) string { return strings.Replace(valid, from, to, 1) }
	cases := []struct {
		name   string
		r      req
		status int
		want   string
	}{
		{"valid", req{body: valid}, 200, ""},
		{"tampered body", req{body: valid, sig: sign(t, "msg_1", now.Unix(), valid+" ")}, 401, "no valid v1 signature"},
		{"signature over a re-serialized body", req{body: valid, sig: sign(t, "msg_1", now.Unix(), strings.ReplaceAll(valid, ":", ": "))}, 401, "no valid v1 signature"},
		{"signature of another id", req{body: valid, sig: sign(t, "msg_2", now.Unix(), valid)}, 401, "no valid v1 signature"},
		{"v1a is not v1", req{body: valid, sig: strings.Replace(sign(t, "msg_1", now.Unix(), valid), "v1,", "v1a,", 1)}, 401, "no valid v1 signature"},
		{"timestamp 6 minutes old", req{body: valid, ts: now.Add(-6 * time.Minute).Unix()}, 401, "off"},
		{"timestamp 6 minutes ahead", req{body: valid, ts: now.Add(6 * time.Minute).Unix()}, 401, "off"},
		{"timestamp 4 minutes old is fine", req{body: valid, ts: now.Add(-4 * time.Minute).Unix()}, 200, ""},
		{"no signature", req{body: valid, header: map[string]string{"webhook-signature": ""}}, 400, "missing"},
		{"no id", req{body: valid, header: map[string]string{"webhook-id": ""}}, 400, "missing"},
		{"id with a dot", req{body: valid, id: "a.b"}, 400, "contains '.'"},
		{"timestamp not a number", req{body: valid, header: map[string]string{"webhook-timestamp": "soon"}}, 400, "not an integer"},
		{"wrong content type", req{body: valid, contentType: "text/plain"}, 415, "Content-Type"},
		{"json with charset is fine", req{body: valid, contentType: "application/json; charset=utf-8"}, 200, ""},
		{"wrong method", req{body: valid, method: "PUT"}, 405, "method PUT"},
		{"idempotency key differs", req{body: valid, header: map[string]string{"Idempotency-Key": "other"}}, 422, "differs from webhook-id"},
		{"not json", req{body: "{"}, 422, "not one JSON value"},
		{"two values", req{body: valid + valid}, 422, "not one JSON value"},
		{"array instead of object", req{body: "[" + valid + "]"}, 422, "not a JSON object"},
		{"missing required", req{body: swap(`"email":"ada@example.com",`, "")}, 422, "email is missing"},
		{"bad email", req{body: swap(`"ada@example.com"`, `"ada"`)}, 422, "not an email"},
		{"float for integer", req{body: swap(`"n":3`, `"n":3.5`)}, 422, "not an integer"},
		{"string for integer", req{body: swap(`"n":3`, `"n":"3"`)}, 422, "not an integer"},
		{"string for unix time", req{body: swap(`"ts":1788336899`, `"ts":"1788336899"`)}, 422, "not a unix time"},
		{"string for number", req{body: swap(`"score":92.5`, `"score":"92.5"`)}, 422, "not a number"},
		{"string for boolean", req{body: swap(`"ok":true`, `"ok":"true"`)}, 422, "not a boolean"},
		{"wrong date format", req{body: swap(`"on":"2026-09-02"`, `"on":"09/02/2026"`)}, 422, "not a date as YYYY-MM-DD"},
		{"impossible date", req{body: swap(`"on":"2026-09-02"`, `"on":"2026-02-30"`)}, 422, "not a date"},
		{"unpadded date", req{body: swap(`"on":"2026-09-02"`, `"on":"2026-9-2"`)}, 422, "not a date"},
		{"date without zone", req{body: swap(`"at":"2026-09-02T08:14:59Z"`, `"at":"2026-09-02T08:14:59"`)}, 422, "not an RFC 3339"},
		{"seconds for unix_ms", req{body: swap(`"ms":1788336899000`, `"ms":1788336899`)}, 422, "not in milliseconds"},
		{"fraction for unix", req{body: swap(`"ts":1788336899`, `"ts":1788336899.5`)}, 422, "not a unix time"},
		{"bad duration", req{body: swap(`"PT1H2.5S"`, `"90 minutes"`)}, 422, "not an ISO 8601 duration"},
		{"bad uuid", req{body: swap(`"6fa459ea-ee8a-5ca4-894e-db77e160355e"`, `"6fa459ea"`)}, 422, "not a UUID"},
		{"not in oneof", req{body: swap(`"Complete"`, `"Done"`)}, 422, "not one of"},
		{"nested of the wrong type", req{body: swap(`{"x":"y"}`, `{"x":1}`)}, 422, "nested.x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, webhooktest.Options{Method: "POST", Fields: checks})
			resp := tc.r.send(t, rcv.URL)
			got := rcv.Requests()
			if resp.StatusCode != tc.status || len(got) != 1 || got[0].Status != tc.status {
				t.Fatalf("status %d, want %d; %+v", resp.StatusCode, tc.status, got)
			}
			if tc.want == "" {
				if len(got[0].Problems) != 0 || len(rcv.Accepted()) != 1 {
					t.Fatalf("problems %v", got[0].Problems)
				}
				return
			}
			if !strings.Contains(strings.Join(got[0].Problems, "; "), tc.want) || len(rcv.Accepted()) != 0 {
				t.Fatalf("problems %v, want …%s…", got[0].Problems, tc.want)
			}
		})
	}
}

// TestReceiverMultipleSignatures: one valid signature among several (key
// rotation) is enough, as the specification's own test has it.
func TestReceiverMultipleSignatures(t *testing.T) {
	rcv := newReceiver(t, webhooktest.Options{})
	body := `{"a":1}`
	sigs := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,xyz " + sign(t, "msg_1", now.Unix(), body) + " v1,bm90LWl0"
	if resp := (req{body: body, sig: sigs}).send(t, rcv.URL); resp.StatusCode != 200 {
		t.Fatalf("status %d: %+v", resp.StatusCode, rcv.Requests())
	}
}

// TestReceiverSpecVector: the receiver accepts the specification's test
// vector at its time and refuses it now.
func TestReceiverSpecVector(t *testing.T) {
	at := time.Unix(1614265330, 0)
	rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Now: func() time.Time { return at }})
	r := req{body: `{"test": 2432232314}`, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", ts: at.Unix(), sig: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
	if resp := r.send(t, rcv.URL); resp.StatusCode != 200 {
		t.Fatalf("status %d: %+v", resp.StatusCode, rcv.Requests())
	}
	later := newReceiver(t, webhooktest.Options{})
	if resp := r.send(t, later.URL); resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestReceiverDedupe(t *testing.T) {
	rcv := newReceiver(t, webhooktest.Options{Success: 204})
	for i := range 3 {
		if resp := (req{body: `{"a":1}`, id: "msg_same"}).send(t, rcv.URL); resp.StatusCode != 204 {
			t.Fatalf("delivery %d: %d", i, resp.StatusCode)
		}
	}
	(req{body: `{"a":2}`, id: "msg_other"}).send(t, rcv.URL)
	reqs := rcv.Requests()
	if len(reqs) != 4 || reqs[0].Duplicate || !reqs[1].Duplicate || !reqs[2].Duplicate || reqs[3].Duplicate {
		t.Fatalf("requests %+v", reqs)
	}
	if acc := rcv.Accepted(); len(acc) != 2 || acc[0].ID() != "msg_same" || acc[1].ID() != "msg_other" {
		t.Fatalf("accepted %+v", acc)
	}
	// A refused request does not count as received: its retry is new.
	rcv2 := newReceiver(t, webhooktest.Options{})
	(req{body: `{"a":1}`, id: "msg_x", contentType: "text/plain"}).send(t, rcv2.URL)
	(req{body: `{"a":1}`, id: "msg_x"}).send(t, rcv2.URL)
	if r := rcv2.Requests(); r[1].Duplicate || len(rcv2.Accepted()) != 1 {
		t.Fatalf("requests %+v", r)
	}
}

func TestReceiverHeaders(t *testing.T) {
	rcv := newReceiver(t, webhooktest.Options{Headers: map[string]string{"Authorization": "Bearer t"}})
	if resp := (req{body: `{}`}).send(t, rcv.URL); resp.StatusCode != 401 {
		t.Errorf("without: %d", resp.StatusCode)
	}
	if resp := (req{body: `{}`, id: "m2", header: map[string]string{"Authorization": "Bearer t"}}).send(t, rcv.URL); resp.StatusCode != 200 {
		t.Errorf("with: %d", resp.StatusCode)
	}
}

func TestReceiverEnvelopes(t *testing.T) {
	item := func(k string) string { return fmt.Sprintf(`{"ref":%q,"n":1}`, k) }
	cases := []struct {
		name, envelope, body string
		maxItems             int
		status               int
		want                 string
	}{
		{"items", "items", `{"batch_id":"msg_1","items":[` + item("a") + "," + item("b") + `]}`, 0, 200, ""},
		{"items with another batch id", "items", `{"batch_id":"msg_9","items":[` + item("a") + `]}`, 0, 422, "is not the webhook-id"},
		{"items without batch id", "items", `{"items":[` + item("a") + `]}`, 0, 422, "batch_id"},
		{"items empty", "items", `{"batch_id":"msg_1","items":[]}`, 0, 422, "non-empty array"},
		{"items not objects", "items", `{"batch_id":"msg_1","items":[1,2]}`, 0, 422, "non-empty array"},
		{"items with extra members", "items", `{"batch_id":"msg_1","items":[` + item("a") + `],"more":1}`, 0, 422, "besides batch_id"},
		{"array", "array", `[` + item("a") + "," + item("b") + `]`, 0, 200, ""},
		{"array given an object", "array", item("a"), 0, 422, "not a non-empty JSON array"},
		{"repeated key", "array", `[` + item("a") + "," + item("a") + `]`, 0, 422, `repeats item 0`},
		{"missing key", "array", `[{"n":1}]`, 0, 422, "no key ref"},
		{"too many items", "array", `[` + item("a") + "," + item("b") + "," + item("c") + `]`, 2, 422, "more than 2"},
		{"field check per item", "array", `[` + item("a") + `,{"ref":"b","n":"x"}]`, 0, 422, "item 1: n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, webhooktest.Options{Envelope: tc.envelope, Key: "ref", MaxItems: tc.maxItems,
				Fields: []webhooktest.Check{{Field: "n", Type: "integer", Required: true}}})
			resp := (req{body: tc.body}).send(t, rcv.URL)
			got := rcv.Requests()[0]
			if resp.StatusCode != tc.status || (tc.want != "" && !strings.Contains(strings.Join(got.Problems, "; "), tc.want)) {
				t.Fatalf("status %d problems %v, want %d …%s…", resp.StatusCode, got.Problems, tc.status, tc.want)
			}
			if tc.status == 200 && len(rcv.Items()) != 2 {
				t.Errorf("items %v", rcv.Items())
			}
		})
	}
}

func TestReceiverForm(t *testing.T) {
	checks := []webhooktest.Check{
		{Field: "member.id", Type: "integer", Required: true},
		{Field: "passed", Type: "oneof:Y|N", Required: true},
		{Field: "score", Type: "number", Required: true},
		{Field: "ok", Type: "boolean"},
		{Field: "on", Type: "date:MM/DD/YYYY", Required: true},
	}
	cases := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"valid", "application/x-www-form-urlencoded", "member.id=42&passed=Y&score=92.5&ok=true&on=09%2F02%2F2026", 200, ""},
		{"json sent to a form receiver", "application/json", `{"member.id":42}`, 415, "Content-Type"},
		{"repeated key", "application/x-www-form-urlencoded", "member.id=42&member.id=43&passed=Y&score=1&on=09%2F02%2F2026", 422, "repeats"},
		{"bad escape", "application/x-www-form-urlencoded", "member.id=%zz", 422, "form body"},
		{"not an integer", "application/x-www-form-urlencoded", "member.id=A42&passed=Y&score=1&on=09%2F02%2F2026", 422, "not an integer"},
		{"not a boolean", "application/x-www-form-urlencoded", "member.id=42&passed=Y&score=1&ok=yes&on=09%2F02%2F2026", 422, "not a boolean"},
		{"wrong date", "application/x-www-form-urlencoded", "member.id=42&passed=Y&score=1&on=2026-09-02", 422, "not a date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, webhooktest.Options{ContentType: "form", Fields: checks})
			resp := (req{body: tc.body, contentType: tc.contentType}).send(t, rcv.URL)
			got := rcv.Requests()[0]
			if resp.StatusCode != tc.status || (tc.want != "" && !strings.Contains(strings.Join(got.Problems, "; "), tc.want)) {
				t.Fatalf("status %d problems %v, want %d …%s…", resp.StatusCode, got.Problems, tc.status, tc.want)
			}
			if tc.status == 200 && got.Items[0]["on"] != "09/02/2026" {
				t.Errorf("decoded %v", got.Items)
			}
		})
	}
}

// TestReceiverAnswers: programmed answers take effect in order, then the
// receiver judges by its checks again.
func TestReceiverAnswers(t *testing.T) {
	rcv := newReceiver(t, webhooktest.Options{})
	rcv.Then(
		webhooktest.Answer{Status: 200},
		webhooktest.Answer{Status: 204},
		webhooktest.Answer{Status: 301, Location: "https://new.example/"},
		webhooktest.Answer{Status: 400, Body: "bad item"},
		webhooktest.Answer{Status: 401},
		webhooktest.Answer{Status: 410},
		webhooktest.Answer{Status: 429, RetryAfter: "30"},
		webhooktest.Answer{Status: 500},
		webhooktest.Answer{Status: 503, RetryAfter: "120"},
	)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, want := range []struct {
		status     int
		header     string
		headerWant string
	}{
		{200, "", ""}, {204, "", ""}, {301, "Location", "https://new.example/"}, {400, "", ""}, {401, "", ""},
		{410, "", ""}, {429, "Retry-After", "30"}, {500, "", ""}, {503, "Retry-After", "120"}, {200, "", ""},
	} {
		body := fmt.Sprintf(`{"n":%d}`, i)
		id := fmt.Sprint("msg_", i)
		hr, _ := http.NewRequest("POST", rcv.URL, strings.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("webhook-id", id)
		hr.Header.Set("Idempotency-Key", id)
		hr.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		hr.Header.Set("webhook-signature", sign(t, id, now.Unix(), body))
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want.status || (want.header != "" && resp.Header.Get(want.header) != want.headerWant) {
			t.Errorf("request %d: %d %v, want %d", i, resp.StatusCode, resp.Header, want.status)
		}
	}
	// Programmed answers are not deliveries; only the last one, judged by
	// the receiver, was accepted.
	if acc := rcv.Accepted(); len(acc) != 1 || acc[0].ID() != "msg_9" {
		t.Errorf("accepted %+v", acc)
	}
}

func TestReceiverHangAndReset(t *testing.T) {
	rcv := newReceiver(t, webhooktest.Options{})
	rcv.Then(webhooktest.Answer{Hang: true}, webhooktest.Answer{Reset: true})
	post := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		body := `{}`
		hr, _ := http.NewRequestWithContext(ctx, "POST", rcv.URL, bytes.NewReader([]byte(body)))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("webhook-id", "m")
		hr.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		hr.Header.Set("webhook-signature", sign(t, "m", now.Unix(), body))
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(hr)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	start := time.Now()
	if err := post(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("hang took %v", elapsed)
	}
	if err := post(5 * time.Second); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset: %v", err)
	}
	reqs := rcv.Requests()
	if len(reqs) != 2 || reqs[0].Status != 0 || reqs[1].Status != 0 || len(rcv.Accepted()) != 0 {
		t.Errorf("requests %+v", reqs)
	}
}

// TestReceiverCloseReleasesHangs: closing the receiver does not wait for
// a client that never gives up.
func TestReceiverCloseReleasesHangs(t *testing.T) {
	rcv := newReceiver(t, webhooktest.Options{})
	rcv.Then(webhooktest.Answer{Hang: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		body := `{}`
		hr, _ := http.NewRequest("POST", rcv.URL, strings.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("webhook-id", "m")
		hr.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		hr.Header.Set("webhook-signature", sign(t, "m", now.Unix(), body))
		if resp, err := http.DefaultClient.Do(hr); err == nil {
			resp.Body.Close()
		}
	}()
	for len(rcv.Requests()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	rcv.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close left the request hanging")
	}
}
