package postbacktest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/postback/postbacktest"
)

// The receiver's own checks, each shown to refuse what it should with
// requests written by hand (not by the postback package).

const valid = `{"id":"r1","instance":0,"updated":"2026-09-02T08:15:01.000Z",
 "registrationCompletion":"COMPLETED","registrationCompletionAmount":100,"registrationSuccess":"PASSED",
 "score":{"scaled":92},"totalSecondsTracked":750,"firstAccessDate":"2026-09-02T08:01:00.000Z",
 "course":{"id":"o1","title":"Fire safety drill","version":0},
 "learner":{"id":"ada@example.com","email":"ada@example.com","firstName":"Ada","lastName":"Lovelace"},
 "tags":[],"globalObjectives":[],"sharedData":[]}`

const activity = `{"id":"o1","title":"Fire","attempts":1,"activityCompletion":"COMPLETED","activitySuccess":"PASSED",
 "score":{"scaled":92},"timeTracked":"0000:12:30","completionAmount":{"scaled":100},"children":[
 {"id":"https://courses.example.com/fire","title":"Fire","attempts":1,"activityCompletion":"COMPLETED",
  "activitySuccess":"PASSED","timeTracked":"0000:12:30","completionAmount":{"scaled":100},"children":[]}]}`

const runtime = `{"completionStatus":"completed","runtimeSuccessStatus":"PASSED","scoreScaled":"-0.5",
 "scoreRaw":"46","totalTime":"PT12M30S","timeTracked":"0000:12:30"}`

// with returns valid with the changes: a key set to raw JSON, or deleted
// when the value is "".
func with(t *testing.T, changes map[string]string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(valid), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func withActivity(t *testing.T, act string) string {
	return with(t, map[string]string{"activityDetails": act})
}

func form(fields ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Add(fields[i], fields[i+1])
	}
	return v.Encode()
}

const formType = "application/x-www-form-urlencoded; charset=UTF-8"
const jsonType = "application/json; charset=UTF-8"

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

type post struct {
	method, contentType, auth, body string
}

func send(t *testing.T, r *postbacktest.Receiver, p post) (*http.Response, []byte) {
	t.Helper()
	if p.method == "" {
		p.method = http.MethodPost
	}
	req, err := http.NewRequest(p.method, r.URL, strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	if p.contentType != "" {
		req.Header.Set("Content-Type", p.contentType)
	}
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestReceiverAcceptsBothAuthTypes(t *testing.T) {
	t.Run("form", func(t *testing.T) {
		r := postbacktest.NewReceiver(t, postbacktest.Options{UserName: "lms", Password: "s3cret&="})
		resp, body := send(t, r, post{contentType: formType, body: form("data", valid, "userName", "lms", "password", "s3cret&=")})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		got, ok := r.Registration("r1")
		if !ok || got.Learner.FirstName != "Ada" || *got.Score.Scaled != 92 || got.RegistrationSuccess != "PASSED" {
			t.Fatalf("applied registration = %+v, %v", got, ok)
		}
		if acc := r.Accepted(); len(acc) != 1 || acc[0].Form.Get("userName") != "lms" || string(acc[0].Data) != valid {
			t.Fatalf("accepted = %+v", acc)
		}
	})
	t.Run("form without credentials", func(t *testing.T) {
		r := postbacktest.NewReceiver(t, postbacktest.Options{})
		if resp, body := send(t, r, post{contentType: "application/x-www-form-urlencoded; charset=utf-8", body: form("data", valid)}); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("httpbasic", func(t *testing.T) {
		r := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: "httpbasic", UserName: "lms", Password: "pw"})
		if resp, body := send(t, r, post{contentType: jsonType, auth: basic("lms", "pw"), body: valid}); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if ids := r.Registrations(); len(ids) != 1 || ids[0] != "r1" {
			t.Fatalf("registrations = %v", ids)
		}
	})
}

func TestReceiverRefuses(t *testing.T) {
	formOpts := postbacktest.Options{UserName: "lms", Password: "pw"}
	basicOpts := postbacktest.Options{AuthType: "httpbasic", UserName: "lms", Password: "pw"}
	okForm := func(data string) post {
		return post{contentType: formType, body: form("data", data, "userName", "lms", "password", "pw")}
	}
	okJSON := func(data string) post { return post{contentType: jsonType, auth: basic("lms", "pw"), body: data} }
	for _, tc := range []struct {
		name   string
		opts   postbacktest.Options
		req    post
		status int
		want   string
	}{
		{"GET", formOpts, post{method: "GET"}, 405, "method GET"},
		{"PUT", basicOpts, post{method: "PUT", contentType: jsonType, auth: basic("lms", "pw"), body: valid}, 405, "method PUT"},
		{"form without charset", formOpts, post{contentType: "application/x-www-form-urlencoded", body: form("data", valid, "userName", "lms", "password", "pw")}, 415, "want charset=UTF-8"},
		{"form with another charset", formOpts, post{contentType: "application/x-www-form-urlencoded; charset=ISO-8859-1", body: form("data", valid)}, 415, "want charset=UTF-8"},
		{"form sent as JSON", formOpts, post{contentType: jsonType, body: valid}, 415, "want application/x-www-form-urlencoded"},
		{"no content type", formOpts, post{body: form("data", valid)}, 415, "content type"},
		{"httpbasic sent as a form", basicOpts, post{contentType: formType, auth: basic("lms", "pw"), body: form("data", valid)}, 415, "want application/json"},
		{"httpbasic without charset", basicOpts, post{contentType: "application/json", auth: basic("lms", "pw"), body: valid}, 415, "want charset=UTF-8"},
		{"form: v1 field name username", formOpts, post{contentType: formType, body: form("data", valid, "username", "lms", "password", "pw")}, 401, "userName and password"},
		{"form: unknown field", postbacktest.Options{}, post{contentType: formType, body: form("data", valid, "registration", "x")}, 400, `form field "registration": unknown`},
		{"form: data twice", postbacktest.Options{}, post{contentType: formType, body: form("data", valid, "data", valid)}, 400, "given 2 times"},
		{"form: no data", formOpts, post{contentType: formType, body: form("userName", "lms", "password", "pw")}, 400, `"data": missing`},
		{"form: wrong password", formOpts, post{contentType: formType, body: form("data", valid, "userName", "lms", "password", "nope")}, 401, "configured credentials"},
		{"form: no credentials", formOpts, post{contentType: formType, body: form("data", valid)}, 401, "configured credentials"},
		{"form: credentials in a header", formOpts, post{contentType: formType, auth: basic("lms", "pw"), body: form("data", valid, "userName", "lms", "password", "pw")}, 400, "not in an Authorization header"},
		{"form: bad escaping", postbacktest.Options{}, post{contentType: formType, body: "data=%zz"}, 400, "form:"},
		{"form: data not URL-decoded JSON", postbacktest.Options{}, post{contentType: formType, body: "data=" + url.QueryEscape(url.QueryEscape(valid))}, 400, "not a JSON object"},
		{"basic: no header", basicOpts, post{contentType: jsonType, body: valid}, 401, "HTTP Basic"},
		{"basic: wrong password", basicOpts, post{contentType: jsonType, auth: basic("lms", "nope"), body: valid}, 401, "HTTP Basic"},
		{"basic: bearer", basicOpts, post{contentType: jsonType, auth: "Bearer pw", body: valid}, 401, "HTTP Basic"},
		{"unknown field", basicOpts, okJSON(with(t, map[string]string{"registrationCompletionStatus": `"COMPLETED"`})), 400, `unknown field "registrationCompletionStatus"`},
		{"snake_case field", formOpts, okForm(with(t, map[string]string{"registration_success": `"PASSED"`})), 400, `unknown field "registration_success"`},
		{"missing updated", basicOpts, okJSON(with(t, map[string]string{"updated": ""})), 400, "updated: missing"},
		{"missing id", basicOpts, okJSON(with(t, map[string]string{"id": ""})), 400, "id: missing"},
		{"missing tags", basicOpts, okJSON(with(t, map[string]string{"tags": ""})), 400, "tags: missing"},
		{"missing totalSecondsTracked", basicOpts, okJSON(with(t, map[string]string{"totalSecondsTracked": ""})), 400, "totalSecondsTracked: missing"},
		{"empty learner id", basicOpts, okJSON(with(t, map[string]string{"learner": `{"id":"","email":"a@b.c"}`})), 400, "learner.id: empty"},
		{"empty course id", basicOpts, okJSON(with(t, map[string]string{"course": `{"id":"","title":"x","version":0}`})), 400, "course.id: empty"},
		{"lower-case completion", basicOpts, okJSON(with(t, map[string]string{"registrationCompletion": `"completed"`})), 400, `registrationCompletion: "completed"`},
		{"SCORM 1.2 status as completion", basicOpts, okJSON(with(t, map[string]string{"registrationCompletion": `"PASSED"`})), 400, "registrationCompletion"},
		{"success PASS", basicOpts, okJSON(with(t, map[string]string{"registrationSuccess": `"PASS"`})), 400, `registrationSuccess: "PASS"`},
		{"success lower-case", formOpts, okForm(with(t, map[string]string{"registrationSuccess": `"passed"`})), 400, "registrationSuccess"},
		{"score above 100", basicOpts, okJSON(with(t, map[string]string{"score": `{"scaled":150}`})), 400, "score.scaled: 150"},
		{"negative score", basicOpts, okJSON(with(t, map[string]string{"score": `{"scaled":-5}`})), 400, "score.scaled: -5"},
		{"score without scaled", basicOpts, okJSON(with(t, map[string]string{"score": `{}`})), 400, "score.scaled: missing"},
		{"score as a string", basicOpts, okJSON(with(t, map[string]string{"score": `{"scaled":"92"}`})), 400, "registration:"},
		{"completion amount above 100", basicOpts, okJSON(with(t, map[string]string{"registrationCompletionAmount": `1000`})), 400, "registrationCompletionAmount: 1000"},
		{"completed at 1 (0–1 scale)", basicOpts, okJSON(with(t, map[string]string{"registrationCompletionAmount": `1`})), 400, "want 100"},
		{"negative seconds", basicOpts, okJSON(with(t, map[string]string{"totalSecondsTracked": `-1`})), 400, "totalSecondsTracked"},
		{"date without zone", basicOpts, okJSON(with(t, map[string]string{"updated": `"2026-09-02T08:15:01"`})), 400, "updated:"},
		{"date in another zone", basicOpts, okJSON(with(t, map[string]string{"firstAccessDate": `"2026-09-02T10:01:00+02:00"`})), 400, "firstAccessDate:"},
		{"date as unix seconds", basicOpts, okJSON(with(t, map[string]string{"completedDate": `"1788336899"`})), 400, "completedDate:"},
		{"not JSON", basicOpts, okJSON("data"), 400, "not a JSON object"},
		{"a JSON array", basicOpts, okJSON("[" + valid + "]"), 400, "not a JSON object"},
		{"activity: lower-case enum", basicOpts, okJSON(withActivity(t, strings.Replace(activity, `"activitySuccess":"PASSED"`, `"activitySuccess":"passed"`, 1))), 400, "activityDetails.activitySuccess"},
		{"activity: child score out of range", basicOpts, okJSON(withActivity(t, strings.Replace(activity, `"activitySuccess":"PASSED","timeTracked"`, `"activitySuccess":"PASSED","score":{"scaled":0.92e3},"timeTracked"`, 1))), 400, "activityDetails.children[0].score.scaled"},
		{"activity: time tracked in seconds", basicOpts, okJSON(withActivity(t, strings.Replace(activity, `"0000:12:30"`, `"750"`, 1))), 400, "timeTracked"},
		{"activity: no children", basicOpts, okJSON(withActivity(t, `{"id":"o1","title":"x","attempts":1,"activityCompletion":"COMPLETED","activitySuccess":"PASSED","timeTracked":"0000:00:00"}`)), 400, "children: missing"},
		{"activity: unknown field", basicOpts, okJSON(withActivity(t, strings.Replace(activity, `"attempts":1,`, `"attempts":1,"status":"done",`, 1))), 400, `unknown field "status"`},
		{"course format with activityDetails", postbacktest.Options{AuthType: "httpbasic", ResultsFormat: "course"}, post{contentType: jsonType, body: withActivity(t, activity)}, 400, "resultsFormat course"},
		{"activity format without activityDetails", postbacktest.Options{AuthType: "httpbasic", ResultsFormat: "activity"}, post{contentType: jsonType, body: valid}, 400, "activityDetails: missing"},
		{"activity format with runtime", postbacktest.Options{AuthType: "httpbasic", ResultsFormat: "activity"}, post{contentType: jsonType,
			body: withActivity(t, strings.Replace(activity, `"children":[]}`, `"children":[],"runtime":`+runtime+`}`, 1))}, 400, "sends no runtime data"},
		{"full format without runtime", postbacktest.Options{AuthType: "httpbasic", ResultsFormat: "full"}, post{contentType: jsonType, body: withActivity(t, activity)}, 400, "runtime: missing"},
		{"runtime: scaled on 0–100", postbacktest.Options{AuthType: "httpbasic", ResultsFormat: "full"}, post{contentType: jsonType,
			body: withActivity(t, strings.Replace(activity, `"children":[]}`, `"children":[],"runtime":`+strings.Replace(runtime, `"-0.5"`, `"92"`, 1)+`}`, 1))}, 400, "runtime.scoreScaled"},
		{"runtime: total time as a timespan", postbacktest.Options{AuthType: "httpbasic", ResultsFormat: "full"}, post{contentType: jsonType,
			body: withActivity(t, strings.Replace(activity, `"children":[]}`, `"children":[],"runtime":`+strings.Replace(runtime, `"PT12M30S"`, `"0000:12:30"`, 1)+`}`, 1))}, 400, "runtime.totalTime"},
		{"runtime: completion status upper-case", postbacktest.Options{AuthType: "httpbasic", ResultsFormat: "full"}, post{contentType: jsonType,
			body: withActivity(t, strings.Replace(activity, `"children":[]}`, `"children":[],"runtime":`+strings.Replace(runtime, `"completed"`, `"COMPLETED"`, 1)+`}`, 1))}, 400, "runtime.completionStatus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := postbacktest.NewReceiver(t, tc.opts)
			resp, body := send(t, r, tc.req)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			reqs := r.Requests()
			if len(reqs) != 1 || !strings.Contains(strings.Join(reqs[0].Problems, "\n"), tc.want) {
				t.Fatalf("problems = %q, want one containing %q", reqs[0].Problems, tc.want)
			}
			if len(r.Accepted()) != 0 || len(r.Registrations()) != 0 {
				t.Errorf("a refused request was applied")
			}
		})
	}
}

func TestReceiverAcceptsEachResultsFormat(t *testing.T) {
	full := withActivity(t, strings.Replace(activity, `"children":[]}`, `"children":[],"runtime":`+runtime+`}`, 1))
	for format, body := range map[string]string{"course": valid, "activity": withActivity(t, activity), "full": full} {
		r := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: "httpbasic", ResultsFormat: format})
		if resp, b := send(t, r, post{contentType: jsonType, body: body}); resp.StatusCode != 200 {
			t.Errorf("%s: status %d: %s", format, resp.StatusCode, b)
		}
	}
}

func TestReceiverUpdatedNeverGoesBackwards(t *testing.T) {
	r := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: "httpbasic"})
	at := func(updated string, score int) string {
		return with(t, map[string]string{"updated": `"` + updated + `"`, "score": `{"scaled":` + string(rune('0'+score)) + `}`})
	}
	steps := []struct {
		body                   string
		duplicate, stale       bool
		violations, registered int
	}{
		{at("2026-09-02T08:15:01.000Z", 5), false, false, 0, 5},
		{at("2026-09-02T08:15:01.000Z", 5), true, false, 0, 5},  // a retry of the same content
		{at("2026-09-02T08:15:00.999Z", 3), false, true, 1, 5},  // older
		{at("2026-09-02T08:15:01.000Z", 7), false, true, 2, 5},  // same updated, other content
		{at("2026-09-02T08:15:01.001Z", 8), false, false, 2, 8}, // newer
	}
	for i, s := range steps {
		if resp, b := send(t, r, post{contentType: jsonType, body: s.body}); resp.StatusCode != 200 {
			t.Fatalf("step %d: status %d: %s", i, resp.StatusCode, b)
		}
		q := r.Requests()[i]
		if q.Duplicate != s.duplicate || q.Stale != s.stale || len(r.Violations()) != s.violations {
			t.Errorf("step %d: duplicate %v stale %v violations %d, want %v %v %d", i, q.Duplicate, q.Stale, len(r.Violations()), s.duplicate, s.stale, s.violations)
		}
		if got, _ := r.Registration("r1"); *got.Score.Scaled != float64(s.registered) {
			t.Errorf("step %d: applied score %v, want %d", i, *got.Score.Scaled, s.registered)
		}
	}
	v := r.Violations()
	if v[0].Registration != "r1" || v[0].Applied != "2026-09-02T08:15:01.000Z" || v[0].Got != "2026-09-02T08:15:00.999Z" || !strings.Contains(v[0].Message, "backwards") {
		t.Errorf("violation 0 = %+v", v[0])
	}
	if !strings.Contains(v[1].Message, "did not advance") {
		t.Errorf("violation 1 = %+v", v[1])
	}
	if n := len(r.Accepted()); n != 2 {
		t.Errorf("%d applied, want 2", n)
	}
	// Registrations are independent.
	other := with(t, map[string]string{"id": `"r2"`, "updated": `"2020-01-01T00:00:00.000Z"`})
	send(t, r, post{contentType: jsonType, body: other})
	if len(r.Violations()) != 2 || len(r.Registrations()) != 2 {
		t.Errorf("another registration's older updated counted: %v", r.Violations())
	}
}

func TestReceiverAnswersOnDemand(t *testing.T) {
	r := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: "httpbasic"})
	r.Then(
		postbacktest.Answer{Status: 302, Location: "https://elsewhere.example/"},
		postbacktest.Answer{Status: 400, Body: `{"message":"bad"}`},
		postbacktest.Answer{Status: 401},
		postbacktest.Answer{Status: 500},
		postbacktest.Answer{Status: 503, RetryAfter: "30"},
	)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, want := range []int{302, 400, 401, 500, 503, 200} {
		req, _ := http.NewRequest("POST", r.URL, strings.NewReader(valid))
		req.Header.Set("Content-Type", jsonType)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		switch want {
		case 302:
			if resp.Header.Get("Location") != "https://elsewhere.example/" {
				t.Errorf("Location = %q", resp.Header.Get("Location"))
			}
		case 400:
			if string(b) != `{"message":"bad"}` {
				t.Errorf("body = %q", b)
			}
		case 503:
			if resp.Header.Get("Retry-After") != "30" {
				t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
			}
		}
	}
	if acc := r.Accepted(); len(acc) != 1 || len(r.Requests()) != 6 {
		t.Errorf("programmed answers were applied: %d accepted of %d", len(acc), len(r.Requests()))
	}

	t.Run("hang", func(t *testing.T) {
		r.Then(postbacktest.Answer{Hang: true})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", r.URL, strings.NewReader(valid))
		req.Header.Set("Content-Type", jsonType)
		_, err := http.DefaultClient.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a timeout", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		r.Then(postbacktest.Answer{Reset: true})
		req, _ := http.NewRequest("POST", r.URL, strings.NewReader(valid))
		req.Header.Set("Content-Type", jsonType)
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		_, err := (&http.Client{Transport: tr}).Do(req)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("err = %v, want a connection reset", err)
		}
	})
}
