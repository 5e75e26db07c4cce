package clever_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

// recorded is a request the simulated Clever received.
type recorded struct {
	Method, URL, Body string
	Header            http.Header
}

// recorder is the simulator behind a handler that records every request.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	next http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{Method: req.Method, URL: "http://" + req.Host + req.URL.RequestURI(), Body: string(b), Header: req.Header.Clone()})
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recorder) taken() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// The preview of a grade is the requests the destination then really
// sends, in order (method, URL, body, headers), with the ids only Clever
// knows as placeholders and the token "[redacted]"; rendering it sends
// nothing. With client credentials the token fetch comes first; with a
// course, its sections' list; a grade that would not be sent says why.
func TestPreviewIsWhatIsSent(t *testing.T) {
	e := newEnv(t, envOpts{sections: 1, perSection: 2})
	rec := &recorder{next: e.sim}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	props := e.props(clever.PropGradingType, clever.GradingPercent)
	props[clever.PropBaseURL], props[clever.PropTokenURL] = srv.URL, srv.URL+"/oauth/tokens"
	secrets := map[string]string{clever.SecretToken: e.tok}
	cfg, err := clever.Parse(props, secrets)
	if err != nil {
		t.Fatal(err)
	}
	email := "s0.0@example.com"
	g := grade("obj-1", email, scored(0.92, true))
	at := e.clock.Now()
	p := cfg.PreviewGrade(g, at)
	if n := len(rec.taken()); n != 0 {
		t.Fatalf("the preview sent %d requests", n)
	}
	if len(p.Requests) != 3 {
		t.Fatalf("preview of a grade to one section: %d requests, want 3 (students, assignment, grade): %+v", len(p.Requests), p.Requests)
	}
	if out := e.dest(t, props, secrets).Send(t.Context(), g); out.Class != forward.OutcomeSuccess {
		t.Fatalf("the send: %+v", out)
	}
	sent := rec.taken()
	if len(sent) != len(p.Requests) {
		t.Fatalf("the destination sent %d requests, the preview shows %d", len(sent), len(p.Requests))
	}
	sec := e.sections[0]
	ids := strings.NewReplacer(clever.PlaceholderStudent, e.students[email], clever.PlaceholderAssignment, e.onlyAssignment(t, sec).ID)
	// The due date counts from the assignment's POST (after the rate
	// limiter's wait, on the simulated clock): from the preview's time in
	// the preview.
	due := regexp.MustCompile(`"due_date":"[^"]*"`)
	if !strings.Contains(p.Requests[1].Body, `"due_date":"`+clever.FormatTime(at.Add(30*24*time.Hour))+`"`) {
		t.Errorf("the preview's due date: %s", p.Requests[1].Body)
	}
	for i, r := range p.Requests {
		s := sent[i]
		if r.Method != s.Method || ids.Replace(r.URL) != s.URL || due.ReplaceAllString(r.Body, "") != due.ReplaceAllString(s.Body, "") {
			t.Errorf("request %d: preview %s %s %s\n                 sent %s %s %s", i, r.Method, r.URL, r.Body, s.Method, s.URL, s.Body)
		}
		for k, v := range r.Headers {
			want := s.Header.Get(k)
			if k == "Authorization" {
				want = strings.Replace(want, e.tok, "[redacted]", 1)
			}
			if len(v) != 1 || v[0] != want {
				t.Errorf("request %d: header %s %q, sent %q", i, k, v, want)
			}
		}
		if r.Purpose == "" || strings.Contains(r.URL+r.Body+r.Purpose, e.tok) {
			t.Errorf("request %d has no purpose, or the token: %+v", i, r)
		}
	}
	if !strings.Contains(p.Requests[2].URL, "/assignments/{assignment_id}/submissions/{student_id}") || p.Method != "PATCH" || p.URL != p.Requests[2].URL ||
		!strings.Contains(p.Body, `"grade":"92%"`) || p.Headers["Authorization"][0] != "Bearer [redacted]" {
		t.Errorf("the grade write of the preview: %s %s %s %v", p.Method, p.URL, p.Body, p.Headers)
	}
	if !strings.Contains(p.Requests[0].Purpose, "to find the Clever id of "+email) || !strings.Contains(p.Requests[1].Purpose, "for its first grade there only") {
		t.Errorf("the purposes: %q, %q", p.Requests[0].Purpose, p.Requests[1].Purpose)
	}

	// Client credentials: the token fetch first, Basic redacted; a course:
	// its sections, and a placeholder section.
	cc := e.props()
	cc[clever.PropBaseURL], cc[clever.PropTokenURL], cc[clever.PropDistrictID] = srv.URL, srv.URL+"/oauth/tokens", e.district
	cc[clever.PropSections] = `{"obj-1":{"course":"` + course + `"}}`
	cfg, err = clever.Parse(cc, map[string]string{clever.SecretClientID: e.sim.ClientID(), clever.SecretClientSecret: e.sim.ClientSecret()})
	if err != nil {
		t.Fatal(err)
	}
	p = cfg.PreviewGrade(g, e.clock.Now())
	var lines []string
	for _, r := range p.Requests {
		lines = append(lines, r.Method+" "+strings.TrimPrefix(r.URL, srv.URL))
	}
	wantLines := []string{
		"GET /oauth/tokens?district=" + e.district + "&owner_type=district",
		"GET /v3.1/courses/" + course + "/sections?limit=500",
		"GET /v3.1/sections/{section_id}/users?role=student&limit=500",
		"POST /v3.1/sections/{section_id}/assignments",
		"PATCH /v3.1/sections/{section_id}/assignments/{assignment_id}/submissions/{student_id}",
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("the requests with client credentials and a course:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	if h := p.Requests[0].Headers["Authorization"]; len(h) != 1 || h[0] != "Basic [redacted]" {
		t.Errorf("the token fetch's Authorization: %q", h)
	}
	if n := len(rec.taken()); n != len(sent) {
		t.Fatalf("the second preview sent %d requests", n-len(sent))
	}

	// Not sent: why, and no request.
	for _, tc := range []struct {
		g    clever.Grade
		note string
	}{
		{grade("obj-1", "not an email", scored(0.5, true)), "the participant is not an email address"},
		{grade("obj-1", email, clever.Result{}), "no score, success or completion"},
		{grade("obj-2", email, scored(0.5, true)), "objective obj-2 is mapped to no Clever section"},
	} {
		p := cfg.PreviewGrade(tc.g, e.clock.Now())
		if len(p.Requests) != 0 || p.Method != "" || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "would not be sent: ") || !strings.Contains(p.Notes[0], tc.note) {
			t.Errorf("preview of %+v: %+v", tc.g, p)
		}
	}
}

// Through the administration (the admin API's preview): the sample grade
// of a Clever configuration, the secrets nowhere in it.
func TestAdminPreviewOfClever(t *testing.T) {
	typ := clever.Type(func(forward.Configuration, map[string]string) (forward.Destination, error) { return nil, nil })
	reg, err := forward.NewRegistry(typ)
	if err != nil {
		t.Fatal(err)
	}
	st := forwardtest.NewMemory()
	a := forward.NewAdmin(st, reg, forward.AdminOptions{})
	sec := "5fee004cca2e43cf27000007"
	in := forward.ConfigurationInput{Name: "District", ContactEmail: "ops@example.com", Type: clever.TypeClever,
		Properties: map[string]string{clever.PropSections: `{"quiz-1":["` + sec + `"]}`, clever.PropDistrictID: "5b2ad81a709e300001e2cd7a"},
		Secrets:    map[string]string{clever.SecretClientID: "app-client-id", clever.SecretClientSecret: "very-secret-client-secret"}}
	p, err := a.Preview(t.Context(), "org", "", in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	if strings.Contains(string(b), "very-secret-client-secret") || strings.Contains(string(b), "app-client-id") {
		t.Fatalf("a secret in the preview: %s", b)
	}
	if len(p.Requests) != 4 || p.Requests[0].Method != "GET" || !strings.HasPrefix(p.Requests[0].URL, clever.DefaultTokenURL+"?") ||
		p.URL != clever.DefaultBaseURL+"/v3.1/sections/"+sec+"/assignments/{assignment_id}/submissions/{student_id}" ||
		!strings.Contains(p.Requests[2].Body, `"title":`) || !strings.Contains(p.Requests[2].Body, "Fire safety drill") {
		t.Fatalf("the sample's requests: %s", b)
	}
}
