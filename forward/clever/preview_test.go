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
// Once the section's assignment is created, the preview (of a result or
// of the sample, read from the assignment store) shows its id and no
// creation, exactly as the destination then sends.
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
	p := cfg.PreviewGrade(g, at, nil)
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
	same := func(p forward.Preview, sent []recorded, ids *strings.Replacer) {
		t.Helper()
		if len(sent) != len(p.Requests) {
			t.Fatalf("the destination sent %d requests, the preview shows %d: %+v", len(sent), len(p.Requests), p.Requests)
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
	}
	same(p, sent, ids)
	if !strings.Contains(p.Requests[2].URL, "/assignments/{assignment_id}/submissions/{student_id}") || p.Method != "PATCH" || p.URL != p.Requests[2].URL ||
		!strings.Contains(p.Body, `"grade":"92%"`) || p.Headers["Authorization"][0] != "Bearer [redacted]" {
		t.Errorf("the grade write of the preview: %s %s %s %v", p.Method, p.URL, p.Body, p.Headers)
	}
	if !strings.Contains(p.Requests[0].Purpose, "to find the Clever id of "+email) || !strings.Contains(p.Requests[1].Purpose, "for its first grade there only") {
		t.Errorf("the purposes: %q, %q", p.Requests[0].Purpose, p.Requests[1].Purpose)
	}

	// The assignment is recorded now: the preview of a second
	// participant's result (the type's, reading the store) grades in it
	// and creates nothing, request for request what a destination (a new
	// one: no roster cached) then sends.
	asg := e.onlyAssignment(t, sec).ID
	typ := clever.Type(nil)
	conf := forward.Configuration{Org: "org", ID: "cfg", Type: clever.TypeClever, Properties: props}
	env := forward.PreviewEnv{Assignments: e.store}
	email2 := "s0.1@example.com"
	it := item(email2, forward.Values{Completion: ptr(true), Success: ptr(true), Score: &forward.Score{Scaled: ptr(0.5)}})
	p2, err := typ.PreviewItem(t.Context(), env, conf, secrets, it, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.taken()) != len(sent) {
		t.Fatal("the preview of a result sent requests")
	}
	if len(p2.Requests) != 2 || p2.Method != http.MethodPatch || p2.URL != srv.URL+"/v3.1/sections/"+sec+"/assignments/"+asg+"/submissions/{student_id}" ||
		!strings.Contains(p2.Requests[1].Purpose, "created by an earlier grade") || strings.Contains(p2.Notes[len(p2.Notes)-1], clever.PlaceholderAssignment) {
		t.Errorf("the preview once the assignment is recorded: %+v", p2)
	}
	g2, _ := clever.GradeOfItem(it)
	if out := e.dest(t, props, secrets).Send(t.Context(), g2); out.Class != forward.OutcomeSuccess {
		t.Fatalf("the second send: %+v", out)
	}
	same(p2, rec.taken()[len(sent):], strings.NewReplacer(clever.PlaceholderStudent, e.students[email2]))
	if n := len(e.sim.Assignments(sec)); n != 1 {
		t.Errorf("%d assignments in the section, want 1", n)
	}
	// The sample's objective (here obj-1, the first one named) too; the
	// assignment is the configuration's: another one's preview creates it.
	one := e.props(clever.PropGradingType, clever.GradingPercent, clever.PropSections, `{"obj-1":["`+sec+`"]}`)
	one[clever.PropBaseURL] = srv.URL
	conf.Properties = one
	if p, err := typ.Preview(t.Context(), env, conf, secrets, e.clock.Now()); err != nil || len(p.Requests) != 2 ||
		p.URL != srv.URL+"/v3.1/sections/"+sec+"/assignments/"+asg+"/submissions/{student_id}" {
		t.Errorf("the sample's preview once the assignment is recorded: %+v, %v", p, err)
	}
	conf.ID = "other"
	if p, err := typ.Preview(t.Context(), env, conf, secrets, e.clock.Now()); err != nil || len(p.Requests) != 3 || p.Requests[1].Method != http.MethodPost ||
		!strings.Contains(p.URL, "/assignments/{assignment_id}/") {
		t.Errorf("another configuration's preview: %+v, %v", p, err)
	}
	sent = rec.taken()

	// Client credentials: the token fetch first, Basic redacted; a course:
	// its sections, and a placeholder section.
	cc := e.props()
	cc[clever.PropBaseURL], cc[clever.PropTokenURL], cc[clever.PropDistrictID] = srv.URL, srv.URL+"/oauth/tokens", e.district
	cc[clever.PropSections] = `{"obj-1":{"course":"` + course + `"}}`
	cfg, err = clever.Parse(cc, map[string]string{clever.SecretClientID: e.sim.ClientID(), clever.SecretClientSecret: e.sim.ClientSecret()})
	if err != nil {
		t.Fatal(err)
	}
	p = cfg.PreviewGrade(g, e.clock.Now(), nil)
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
		p := cfg.PreviewGrade(tc.g, e.clock.Now(), nil)
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
