package postback_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/postback"
	"github.com/lrs-project/lrs/forward/postback/postbacktest"
)

// password has characters that form, JSON and Basic encodings change.
const password = "p@ss w&rd=€+/\"x"

func newPostback(t *testing.T, props, secrets map[string]string, opts postback.Options) *postback.Postback {
	t.Helper()
	if opts.Egress == nil {
		opts.Egress = forwardtest.Loopback // the receivers listen on loopback
	}
	p, err := postback.New(props, secrets, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSendBothAuthTypesEachFormat(t *testing.T) {
	for _, auth := range []string{"form", "httpbasic"} {
		for _, format := range []string{"course", "activity", "full"} {
			t.Run(auth+"/"+format, func(t *testing.T) {
				r := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: auth, UserName: "lms-user", Password: password, ResultsFormat: format})
				p := newPostback(t, map[string]string{"url": r.URL, "authType": auth, "resultsFormat": format},
					map[string]string{"userName": "lms-user", "password": password}, postback.Options{UserAgent: "lrs-forwarder/test"})
				res := p.Send(context.Background(), fixture())
				if res.Outcome != forward.OutcomeSuccess || res.Status != 200 {
					t.Fatalf("Send = %+v; receiver: %+v", res, r.Requests())
				}
				acc := r.Accepted()
				if len(acc) != 1 {
					t.Fatalf("accepted %d of %d requests: %+v", len(acc), len(r.Requests()), r.Requests())
				}
				q := acc[0]
				if want := golden(t, format+".json"); !bytes.Equal(q.Data, want) {
					t.Errorf("the receiver decoded\n %s\nwant\n %s", q.Data, want)
				}
				if got, want := q.Header.Get("X-LRS-Delivery-ID"), postback.DeliveryID(fixture().RegistrationID(), q.Data); got != want {
					t.Errorf("delivery id %q, want %q", got, want)
				}
				if ua := q.Header.Get("User-Agent"); ua != "lrs-forwarder/test" {
					t.Errorf("User-Agent = %q", ua)
				}
				if auth == "form" && q.Header.Get("Authorization") != "" {
					t.Error("form auth sent an Authorization header")
				}
				reg, ok := r.Registration(fixture().RegistrationID())
				if !ok || *reg.Score.Scaled != 92 || reg.RegistrationCompletion != "COMPLETED" {
					t.Errorf("applied %+v", reg)
				}
				if len(r.Violations()) != 0 {
					t.Errorf("violations: %+v", r.Violations())
				}
			})
		}
	}
}

func TestSendWithoutCredentials(t *testing.T) {
	for _, auth := range []string{"form", "httpbasic"} {
		var got *http.Request
		var body []byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, body = r, must(io.ReadAll(r.Body))
		}))
		p := newPostback(t, map[string]string{"url": srv.URL, "authType": auth}, nil, postback.Options{})
		if res := p.Send(context.Background(), fixture()); res.Outcome != forward.OutcomeSuccess {
			t.Fatalf("%s: %+v", auth, res)
		}
		srv.Close()
		if got.Header.Get("Authorization") != "" {
			t.Errorf("%s: Authorization sent without credentials", auth)
		}
		if auth == "form" {
			form, _ := url.ParseQuery(string(body))
			if len(form) != 1 || form.Get("data") == "" {
				t.Errorf("form fields %v, want data only", form)
			}
		}
	}
	// A user name without a password is sent as it is.
	r := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: "httpbasic", UserName: "lms"})
	p := newPostback(t, map[string]string{"url": r.URL, "authType": "httpbasic", "userName": "lms"}, nil, postback.Options{})
	if res := p.Send(context.Background(), fixture()); res.Outcome != forward.OutcomeSuccess {
		t.Errorf("Basic with an empty password: %+v", res)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestUpdatedMovesForward(t *testing.T) {
	// Three changes of one result, sent in order: the receiver applies
	// each and sees no violation; a late older value (what a retry that
	// did not read the current result would send) is one.
	r := postbacktest.NewReceiver(t, postbacktest.Options{})
	p := newPostback(t, map[string]string{"url": r.URL}, nil, postback.Options{})
	in := fixture()
	base := in.Result.UpdatedAt
	for i, scaled := range []float64{0.4, 0.7, 0.92} {
		in.Result.Revision, in.Result.UpdatedAt, in.Result.Score = int64(i+1), base.Add(time.Duration(i)*time.Millisecond), postback.Score{Scaled: ptr(scaled)}
		if res := p.Send(context.Background(), in); res.Outcome != forward.OutcomeSuccess {
			t.Fatal(res)
		}
	}
	if v := r.Violations(); len(v) != 0 {
		t.Fatalf("violations: %+v", v)
	}
	if reg, _ := r.Registration(in.RegistrationID()); *reg.Score.Scaled != 92 || len(r.Accepted()) != 3 {
		t.Fatalf("applied %v after %d", *reg.Score.Scaled, len(r.Accepted()))
	}
	in.Result.UpdatedAt, in.Result.Score = base, postback.Score{Scaled: ptr(0.4)}
	p.Send(context.Background(), in)
	if v := r.Violations(); len(v) != 1 || v[0].Registration != in.RegistrationID() {
		t.Fatalf("violations: %+v", v)
	}
	if reg, _ := r.Registration(in.RegistrationID()); *reg.Score.Scaled != 92 {
		t.Errorf("the older value replaced the newer one: %v", *reg.Score.Scaled)
	}
}

func TestClassification(t *testing.T) {
	// Every answer the receiver can give, through a real HTTP exchange.
	now := time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, tc := range []struct {
		name       string
		answer     postbacktest.Answer
		outcome    string
		status     int
		retryAfter time.Duration
		message    string
	}{
		{"200", postbacktest.Answer{Status: 200}, forward.OutcomeSuccess, 200, 0, ""},
		{"204", postbacktest.Answer{Status: 204}, forward.OutcomeSuccess, 204, 0, ""},
		{"302 counts as delivered", postbacktest.Answer{Status: 302, Location: other.URL + "/login"}, forward.OutcomeSuccess, 302, 0, "counted as delivered"},
		{"301", postbacktest.Answer{Status: 301, Location: other.URL}, forward.OutcomeSuccess, 301, 0, "update the URL"},
		{"307 (would repeat the POST)", postbacktest.Answer{Status: 307, Location: other.URL}, forward.OutcomeSuccess, 307, 0, other.URL},
		{"400 refuses this registration", postbacktest.Answer{Status: 400, Body: `{"message":"unknown learner"}`}, forward.OutcomeItem, 400, 0, "HTTP 400: unknown learner"},
		{"409", postbacktest.Answer{Status: 409}, forward.OutcomeItem, 409, 0, "HTTP 409"},
		{"413", postbacktest.Answer{Status: 413}, forward.OutcomeItem, 413, 0, "HTTP 413"},
		{"422", postbacktest.Answer{Status: 422, Body: "bad score"}, forward.OutcomeItem, 422, 0, "HTTP 422: bad score"},
		{"401 bad credentials", postbacktest.Answer{Status: 401, Body: "Unauthorized"}, forward.OutcomeDestination, 401, 0, "HTTP 401: Unauthorized"},
		{"403", postbacktest.Answer{Status: 403}, forward.OutcomeDestination, 403, 0, "HTTP 403"},
		{"404 wrong URL", postbacktest.Answer{Status: 404}, forward.OutcomeDestination, 404, 0, "HTTP 404"},
		{"405", postbacktest.Answer{Status: 405}, forward.OutcomeDestination, 405, 0, "HTTP 405"},
		{"410", postbacktest.Answer{Status: 410}, forward.OutcomeDestination, 410, 0, "HTTP 410"},
		{"418 other 4xx", postbacktest.Answer{Status: 418}, forward.OutcomeDestination, 418, 0, "HTTP 418"},
		{"408", postbacktest.Answer{Status: 408}, forward.OutcomeTransient, 408, 0, "HTTP 408"},
		{"429 with seconds", postbacktest.Answer{Status: 429, RetryAfter: "120"}, forward.OutcomeTransient, 429, 2 * time.Minute, "HTTP 429"},
		{"500", postbacktest.Answer{Status: 500, Body: "<html>boom</html>"}, forward.OutcomeTransient, 500, 0, "HTTP 500: <html>boom</html>"},
		{"502", postbacktest.Answer{Status: 502}, forward.OutcomeTransient, 502, 0, "HTTP 502"},
		{"503 with a date", postbacktest.Answer{Status: 503, RetryAfter: now.Add(90 * time.Second).Format(http.TimeFormat)}, forward.OutcomeTransient, 503, 90 * time.Second, "HTTP 503"},
		{"504", postbacktest.Answer{Status: 504}, forward.OutcomeTransient, 504, 0, "HTTP 504"},
		{"timeout", postbacktest.Answer{Hang: true}, forward.OutcomeTransport, 0, 0, "timeout"},
		{"connection reset", postbacktest.Answer{Reset: true}, forward.OutcomeTransport, 0, 0, "reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := postbacktest.NewReceiver(t, postbacktest.Options{})
			r.Then(tc.answer)
			p := newPostback(t, map[string]string{"url": r.URL}, nil,
				postback.Options{Timeout: 300 * time.Millisecond, Now: func() time.Time { return now }})
			res := p.Send(context.Background(), fixture())
			if res.Outcome != tc.outcome || res.Status != tc.status || res.RetryAfter != tc.retryAfter || !strings.Contains(res.Message, tc.message) {
				t.Errorf("Send = %+v\nwant outcome %s, status %d, retry after %v, message with %q", res, tc.outcome, tc.status, tc.retryAfter, tc.message)
			}
			if n := len(r.Requests()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry, no repeat)", n)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("a redirect was followed %d times", n)
	}
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		p := newPostback(t, map[string]string{"url": "http://" + addr + "/pb"}, nil, postback.Options{})
		res := p.Send(context.Background(), fixture())
		if res.Outcome != forward.OutcomeTransport || res.Status != 0 || !strings.Contains(res.Message, "refused") {
			t.Errorf("Send = %+v", res)
		}
	})
}

func TestRedirectsNeverFollowed(t *testing.T) {
	// Even with a client that follows redirects: a 307 would post the
	// form, password included, to wherever the receiver points.
	var hits atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer trap.Close()
	r := postbacktest.NewReceiver(t, postbacktest.Options{UserName: "u", Password: password})
	r.Then(postbacktest.Answer{Status: 307, Location: trap.URL})
	follows := &http.Client{}
	p := newPostback(t, map[string]string{"url": r.URL}, map[string]string{"userName": "u", "password": password}, postback.Options{Client: follows})
	if res := p.Send(context.Background(), fixture()); res.Outcome != forward.OutcomeSuccess || res.Status != 307 {
		t.Errorf("Send = %+v", res)
	}
	if hits.Load() != 0 {
		t.Error("the redirect was followed")
	}
	if follows.CheckRedirect != nil {
		t.Error("the caller's client was changed")
	}
}

func TestNoSecretInOutcomes(t *testing.T) {
	// A receiver that echoes the request it refuses: body, Authorization,
	// its base64 credentials decoded, and the password in several
	// encodings.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pass, ok := r.BasicAuth()
		var tail string
		if !ok { // form: the password is a field
			form, _ := url.ParseQuery(string(b))
			user, pass = form.Get("userName"), form.Get("password")
			_, tail, _ = strings.Cut(string(b), "&password=")
		}
		w.Header().Set("Location", "https://elsewhere.example/?p="+url.QueryEscape(pass))
		status := 500
		if r.URL.Query().Get("status") != "" {
			status = 302
		}
		w.WriteHeader(status)
		j, _ := json.Marshal(pass) // & as \u0026
		var plain bytes.Buffer
		enc := json.NewEncoder(&plain)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(pass)
		io.WriteString(w, strings.Join([]string{r.Header.Get("Authorization"), user + ":" + pass, string(j), plain.String(),
			base64.StdEncoding.EncodeToString([]byte(pass)), url.PathEscape(pass), tail, string(b)}, " | "))
	}))
	defer echo.Close()
	forms := []string{password, url.QueryEscape(password), url.PathEscape(password), `p@ss w&rd=€+/\"x`, `p@ss w\u0026rd=€+/\"x`,
		base64.StdEncoding.EncodeToString([]byte(password)), base64.StdEncoding.EncodeToString([]byte("u:" + password))}
	for _, auth := range []string{"form", "httpbasic"} {
		for _, u := range []string{echo.URL, echo.URL + "?status=302"} {
			p := newPostback(t, map[string]string{"url": u, "authType": auth}, map[string]string{"userName": "u", "password": password}, postback.Options{})
			res := p.Send(context.Background(), fixture())
			if res.Message == "" || !strings.Contains(res.Message, "[redacted]") {
				t.Errorf("%s %s: message %q shows nothing redacted", auth, u, res.Message)
			}
			for _, f := range forms {
				if strings.Contains(res.Message, f) {
					t.Errorf("%s %s: the message carries the password as %q: %s", auth, u, f, res.Message)
				}
			}
		}
	}
}

func TestTestPostback(t *testing.T) {
	clock := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	r := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: "httpbasic", UserName: "u", Password: "pw", ResultsFormat: "activity"})
	p := newPostback(t, map[string]string{"url": r.URL, "authType": "httpbasic", "resultsFormat": "activity"},
		map[string]string{"userName": "u", "password": "pw"}, postback.Options{Now: now})

	r.Then(postbacktest.Answer{Status: 500})
	if res := p.TestPostback(context.Background()); res.Outcome != forward.OutcomeTransient || res.Status != 500 {
		t.Fatalf("TestPostback = %+v", res)
	}
	if n := len(r.Requests()); n != 1 {
		t.Fatalf("%d requests after a failed test, want 1: a test is never retried", n)
	}
	if res := p.TestPostback(context.Background()); res.Outcome != forward.OutcomeSuccess {
		t.Fatalf("TestPostback = %+v; %+v", res, r.Requests())
	}
	clock = clock.Add(time.Minute)
	if res := p.TestPostback(context.Background()); res.Outcome != forward.OutcomeSuccess {
		t.Fatalf("TestPostback = %+v", res)
	}
	acc := r.Accepted()
	if len(acc) != 2 || len(r.Violations()) != 0 {
		t.Fatalf("accepted %d, violations %+v: a later test must not look older or equal", len(acc), r.Violations())
	}
	reg := acc[1].Registration
	if reg.Learner.Email != "ada@example.com" || reg.Updated != "2026-12-02T17:01:00.000Z" || reg.ActivityDetails == nil ||
		reg.ActivityDetails.Children[0].ID != "https://courses.example.com/fire-safety" {
		t.Errorf("test registration = %+v", reg)
	}
}

func TestPreview(t *testing.T) {
	for _, auth := range []string{"form", "httpbasic"} {
		t.Run(auth, func(t *testing.T) {
			r := postbacktest.NewReceiver(t, postbacktest.Options{})
			u := r.URL + "?key=" + url.QueryEscape(password)
			p := newPostback(t, map[string]string{"url": u, "authType": auth}, map[string]string{"userName": "lms-user", "password": password}, postback.Options{})
			in := fixture()
			in.Result.Overridden = true
			pv := p.Preview(in)
			if len(r.Requests()) != 0 {
				t.Fatal("a preview sent a request")
			}
			all, _ := json.Marshal(pv)
			for _, f := range []string{password, url.QueryEscape(password), base64.StdEncoding.EncodeToString([]byte("lms-user:" + password))} {
				if strings.Contains(string(all), f) {
					t.Errorf("the preview carries the password as %q: %s", f, all)
				}
			}
			if pv.Method != "POST" || !strings.HasPrefix(pv.URL, r.URL+"?key=") || !strings.Contains(pv.URL, "redacted") || !pv.Overridden {
				t.Errorf("preview = %+v", pv)
			}
			var reg bytes.Buffer
			_ = json.Compact(&reg, pv.Registration)
			if want := golden(t, "course.json"); !bytes.Equal(reg.Bytes(), want) {
				t.Errorf("preview registration\n %s\nwant\n %s", reg.Bytes(), want)
			}
			// The body is exactly what Build sends, but for the password.
			req, err := p.Build(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := pv.Headers["X-Lrs-Delivery-Id"]; len(got) != 1 || got[0] != req.DeliveryID {
				t.Errorf("delivery id %v, want %s", got, req.DeliveryID)
			}
			switch auth {
			case "form":
				form, err := url.ParseQuery(pv.Body)
				if err != nil || form.Get("password") != "[redacted]" || form.Get("userName") != "lms-user" || form.Get("data") != string(req.JSON) {
					t.Errorf("form body %q (%v)", pv.Body, err)
				}
				if strings.Join(pv.Headers["Content-Type"], "") != "application/x-www-form-urlencoded; charset=UTF-8" || pv.Headers["Authorization"] != nil {
					t.Errorf("headers %v", pv.Headers)
				}
			case "httpbasic":
				if pv.Body != string(req.Body) || strings.Join(pv.Headers["Authorization"], "") != "Basic [redacted]" ||
					strings.Join(pv.Headers["Content-Type"], "") != "application/json; charset=UTF-8" {
					t.Errorf("body %q, headers %v", pv.Body, pv.Headers)
				}
			}
		})
	}
	p := newPostback(t, map[string]string{"url": "https://lms.example.com/pb"}, nil, postback.Options{})
	in := fixture()
	in.Participant.Email = ""
	if pv := p.Preview(in); !strings.Contains(pv.NotSendable, "no participant email") || pv.Body != "" {
		t.Errorf("preview of an unsendable result = %+v", pv)
	}
	if pv := p.Preview(postback.Sample(time.Now())); pv.NotSendable != "" || pv.Body == "" {
		t.Errorf("preview of the sample = %+v", pv)
	}
}

func TestNotSendableIsRejectedWithoutARequest(t *testing.T) {
	r := postbacktest.NewReceiver(t, postbacktest.Options{})
	p := newPostback(t, map[string]string{"url": r.URL}, nil, postback.Options{})
	in := fixture()
	in.Result.UpdatedAt = time.Time{}
	res := p.Send(context.Background(), in)
	if res.Outcome != forward.OutcomeItem || !strings.Contains(res.Message, "not sendable: the result has no updated time") {
		t.Errorf("Send = %+v", res)
	}
	if len(r.Requests()) != 0 {
		t.Error("an unsendable result was sent")
	}
}

func TestDeliveryIDAcrossRetries(t *testing.T) {
	r := postbacktest.NewReceiver(t, postbacktest.Options{})
	r.Then(postbacktest.Answer{Status: 503})
	p := newPostback(t, map[string]string{"url": r.URL}, nil, postback.Options{})
	in := fixture()
	p.Send(context.Background(), in)
	p.Send(context.Background(), in) // the engine's retry of the same revision
	in.Result.Revision, in.Result.UpdatedAt = 6, in.Result.UpdatedAt.Add(time.Second)
	p.Send(context.Background(), in)
	reqs := r.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	id := func(i int) string { return reqs[i].Header.Get("X-LRS-Delivery-ID") }
	if id(0) == "" || id(0) != id(1) || id(2) == id(0) {
		t.Errorf("delivery ids %s %s %s: want the same for a retry, new for a change", id(0), id(1), id(2))
	}
	if len(r.Accepted()) != 2 || len(r.Violations()) != 0 {
		t.Errorf("accepted %d, violations %v", len(r.Accepted()), r.Violations())
	}
}
