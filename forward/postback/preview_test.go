package postback_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/postback"
)

// The preview of a postback configuration (the admin API's and the
// console's) is the request a send of the same result makes, with the
// password "[redacted]" in the form, the Basic header "[redacted]", and
// the password nowhere; it sends nothing.
func TestPostbackPreviewIsWhatIsSent(t *testing.T) {
	var got struct {
		method, url, body string
		header            http.Header
		n                 int
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.url, got.body, got.header = r.Method, "http://"+r.Host+r.URL.RequestURI(), string(b), r.Header.Clone()
		got.n++
	}))
	t.Cleanup(srv.Close)
	reg, err := forward.NewRegistry(postback.Type(func(forward.Configuration, map[string]string) (forward.Destination, error) { return nil, nil }))
	if err != nil {
		t.Fatal(err)
	}
	const password = "p4ss&word=secret"
	at := time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)
	a := forward.NewAdmin(forwardtest.NewMemory(), reg, forward.AdminOptions{Now: func() time.Time { return at }})
	for _, auth := range []string{postback.AuthForm, postback.AuthHTTPBasic} {
		t.Run(auth, func(t *testing.T) {
			got.n = 0
			props := map[string]string{postback.PropURL: srv.URL + "/scorm/postback?lms=1", postback.PropAuthType: auth, postback.PropResultsFormat: postback.FormatActivity}
			secrets := map[string]string{postback.SecretUserName: "lms-user", postback.SecretPassword: password}
			p, err := a.Preview(t.Context(), "org", "", forward.ConfigurationInput{Name: "LMS", ContactEmail: "ops@example.com", Type: postback.TypeName, Properties: props, Secrets: secrets})
			if err != nil {
				t.Fatal(err)
			}
			if got.n != 0 {
				t.Fatal("the preview sent a request")
			}
			pb, err := postback.New(props, secrets, postback.Options{Egress: forwardtest.Loopback, Now: func() time.Time { return at }})
			if err != nil {
				t.Fatal(err)
			}
			if r := pb.Send(t.Context(), postback.Sample(at)); r.Outcome != forward.OutcomeSuccess {
				t.Fatalf("the send: %+v", r)
			}
			b, _ := json.Marshal(p)
			if strings.Contains(string(b), "p4ss") || strings.Contains(string(b), url.QueryEscape(password)) {
				t.Fatalf("the password in the preview: %s", b)
			}
			want := got.body
			if auth == postback.AuthForm {
				want = strings.Replace(want, url.QueryEscape(password), url.QueryEscape("[redacted]"), 1)
				// The user name is a secret too: the administration redacts it.
				want = strings.Replace(want, "lms-user", "[redacted]", 1)
				if len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], `the registration JSON in the form's data field: {"id":`) {
					t.Errorf("the form's note: %q", p.Notes)
				}
			} else if len(p.Notes) != 0 {
				t.Errorf("notes of a Basic postback: %q", p.Notes)
			}
			if p.Method != got.method || p.URL != got.url || p.Body != want {
				t.Errorf("preview %s %s\n%s\nsent    %s %s\n%s", p.Method, p.URL, p.Body, got.method, got.url, want)
			}
			for k, v := range p.Headers {
				w := got.header.Get(k)
				if k == "Authorization" {
					w = "Basic [redacted]"
				}
				if len(v) != 1 || v[0] != w {
					t.Errorf("header %s: preview %q, sent %q", k, v, got.header.Get(k))
				}
			}
			if auth == postback.AuthHTTPBasic && p.Headers["Authorization"] == nil {
				t.Error("no Authorization in the Basic preview")
			}
			if len(p.Headers) < 3 {
				t.Errorf("the preview's headers: %v", p.Headers)
			}
		})
	}
}
