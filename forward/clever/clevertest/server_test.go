package clevertest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/clever/clevertest"
)

var t0 = time.Date(2026, 9, 1, 10, 0, 30, 0, time.UTC)

// world is a simulator with one district (canvas unless set), a section
// with two students, a teacher, and a second district with a section.
type world struct {
	sim                 *clevertest.Server
	clock               *clevertest.Clock
	url, tok, otherTok  string
	district, section   string
	student, student2   string
	teacher, otherSec   string
	unsynced, unrelated string
}

func newWorld(t *testing.T, lmsType string) *world {
	t.Helper()
	w := &world{clock: clevertest.NewClock(t0)}
	w.sim = clevertest.New(clevertest.Options{Clock: w.clock, RateLimit: 50})
	w.url = clevertest.Start(t, w.sim)
	w.district, w.section = clevertest.NewID(), clevertest.NewID()
	w.student, w.student2, w.teacher = clevertest.NewID(), clevertest.NewID(), clevertest.NewID()
	w.unsynced, w.unrelated = clevertest.NewID(), clevertest.NewID()
	w.tok = w.sim.AddDistrict(clevertest.District{ID: w.district, Name: "Springfield", LMSType: lmsType})
	w.sim.AddSection(clevertest.Section{ID: w.section, District: w.district, Course: "c1", Name: "Math 1"})
	w.sim.AddSection(clevertest.Section{ID: w.unsynced, District: w.district, Course: "c1", Name: "Math 2", NotSynced: true})
	w.sim.AddStudent(clevertest.User{ID: w.student, District: w.district, Email: "Ann@Example.com"}, w.section)
	w.sim.AddStudent(clevertest.User{ID: w.student2, District: w.district, Email: "bob@example.com", NoLTILaunch: true}, w.section)
	w.sim.AddStudent(clevertest.User{ID: w.unrelated, District: w.district, Email: "eve@example.com"})
	w.sim.AddTeacher(clevertest.User{ID: w.teacher, District: w.district, Email: "t@example.com"})
	other := clevertest.NewID()
	w.otherTok = w.sim.AddDistrict(clevertest.District{ID: other, Name: "Shelbyville"})
	w.otherSec = clevertest.NewID()
	w.sim.AddSection(clevertest.Section{ID: w.otherSec, District: other, Course: "c9"})
	return w
}

type reply struct {
	status int
	header http.Header
	body   string
	msg    string
}

func (w *world) do(t *testing.T, method, path, tok, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &m)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b), msg: m.Message}
}

func (w *world) future() string {
	return w.clock.Now().Add(48 * time.Hour).Format("2006-01-02T15:04:05.000Z")
}

func (w *world) create(t *testing.T, extra string) string {
	t.Helper()
	body := `{"title":"Fire drill","description":"VR objective","due_date":"` + w.future() + `","grading_type":"points","points_possible":100,"submission_types":["text"],"max_attempts":1` + extra + `}`
	r := w.do(t, "POST", "/v3.1/sections/"+w.section+"/assignments", w.tok, body)
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var a struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatal(err)
	}
	return a.Data["id"].(string)
}

func TestAuthentication(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	path := "/v3.1/sections/" + w.section + "/users?role=student"
	for _, tc := range []struct {
		name, auth string
		status     int
		msg        string
	}{
		{"no header", "", 401, "No authorization provided"},
		{"basic instead of bearer", "Basic " + w.tok, 401, "No authorization provided"},
		{"empty bearer", "Bearer ", 401, "No authorization provided"},
		{"unknown token", "Bearer 0123456789abcdef0123456789abcdef01234567", 403, "Could not authorize token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", w.url+path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), `"message":"`+tc.msg+`"`) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tc.status, tc.msg)
			}
		})
	}
	// A revoked token is unknown.
	w.sim.RevokeToken(w.tok)
	if r := w.do(t, "GET", path, w.tok, ""); r.status != 403 || r.msg != "Could not authorize token" {
		t.Fatalf("revoked: %d %s", r.status, r.body)
	}
}

func TestTokensAreScopedToOneDistrict(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	for _, tc := range []struct{ path, tok string }{
		{"/v3.1/sections/" + w.otherSec, w.tok},
		{"/v3.1/sections/" + w.otherSec + "/users", w.tok},
		{"/v3.1/districts/" + w.district, w.otherTok},
		{"/v3.1/courses/c1/sections", w.otherTok},
	} {
		if r := w.do(t, "GET", tc.path, tc.tok, ""); r.status != 404 || r.msg != "Resource not found" {
			t.Errorf("%s with the other district's token: %d %s", tc.path, r.status, r.body)
		}
	}
	body := `{"title":"x","description":"y","due_date":"` + w.future() + `"}`
	if r := w.do(t, "POST", "/v3.1/sections/"+w.section+"/assignments", w.otherTok, body); r.status != 404 {
		t.Errorf("create in another district's section: %d %s", r.status, r.body)
	}
	if r := w.do(t, "GET", "/v3.1/districts", w.otherTok, ""); r.status != 200 || strings.Contains(r.body, w.district) {
		t.Errorf("districts list shows another district: %s", r.body)
	}
}

func TestPathsAndMethods(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	id := w.create(t, "")
	for _, tc := range []struct {
		method, path string
		status       int
		msg          string
	}{
		{"GET", "/v3.0/sections/" + w.section + "/users", 404, ""},
		{"GET", "/sections/" + w.section, 404, ""},
		{"GET", "/v3.1/classes", 404, ""},
		{"PUT", "/v3.1/sections/" + w.section + "/assignments/" + id, 405, ""},
		{"GET", "/v3.1/sections/" + w.section + "/assignments", 405, ""}, // no list endpoint
		{"POST", "/v3.1/sections/" + w.section + "/assignments/" + id + "/submissions/" + w.student, 405, ""},
		{"GET", "/v3.1/sections/not-hex/assignments/" + id, 400, `section_id in path must be of type mongo-id: "not-hex"`},
		{"GET", "/v3.1/sections/" + strings.ToUpper(w.section) + "/assignments/" + id, 400, ""},
		{"GET", "/v3.1/sections/" + clevertest.NewID() + "/assignments/" + id, 404, "Resource not found"},
		{"GET", "/v3.1/sections/" + w.section + "/assignments/12345", 400, "INVALID_ID"},
		{"GET", "/v3.1/sections/" + w.section + "/assignments/0b7f5c1e-3c1a-4d0a-9a77-6f0f1e0c2a11", 404, "Assignment does not exist"},
		{"GET", "/v3.1/sections/" + w.section + "/assignments/" + id + "/submissions/xyz", 400, `user_id in path must be of type mongo-id: "xyz"`},
		{"GET", "/v3.1/sections/" + w.unsynced + "/assignments/" + id, 400, "section is not synced with the LMS"},
	} {
		r := w.do(t, tc.method, tc.path, w.tok, "")
		if r.status != tc.status || (tc.msg != "" && r.msg != tc.msg) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.status, r.body, tc.status, tc.msg)
		}
	}
	if r := w.do(t, "GET", "/v3.0/districts", w.tok, ""); !strings.Contains(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("other version: %s, want an HTML page", r.header.Get("Content-Type"))
	}
}

func TestCreateAssignmentValidation(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	future, past := w.future(), w.clock.Now().Add(-time.Minute).Format(time.RFC3339)
	valid := func(extra string) string {
		return `{"title":"t","description":"d","due_date":"` + future + `"` + extra + `}`
	}
	for _, tc := range []struct{ name, body, msg string }{
		{"empty body", ``, "request body is required, but was empty"},
		{"bad JSON", `{"assignee_mode": ,}`, "invalid character ',' looking for beginning of value"},
		{"not an object", `[1]`, "request body must be a JSON object"},
		{"all required missing", `{}`, "missing required field(s): title, description, due_date"},
		{"title null", `{"title":null,"description":"d","due_date":"` + future + `"}`, "missing required field(s): title"},
		{"empty description", `{"title":"t","description":"","due_date":"` + future + `"}`, "missing required field(s): description"},
		{"due date in the past", `{"title":"t","description":"d","due_date":"` + past + `"}`, "due_date must be in the future"},
		{"due date now", `{"title":"t","description":"d","due_date":"` + w.clock.Now().Format(time.RFC3339) + `"}`, "due_date must be in the future"},
		{"due date not a time", `{"title":"t","description":"d","due_date":"2026-13-01"}`, `parsing time "2026-13-01"`},
		{"title a number", `{"title":5,"description":"d","due_date":"` + future + `"}`, `title in body must be of type string: "number"`},
		{"points as string", valid(`,"points_possible":"100"`), `points_possible in body must be of type number: "string"`},
		{"max attempts fraction", valid(`,"max_attempts":1.5`), `max_attempts in body must be of type integer: "number"`},
		{"max attempts string", valid(`,"max_attempts":"1"`), `max_attempts in body must be of type integer: "string"`},
		{"grading type", valid(`,"grading_type":"stars"`), "validation failure list:\ngrading_type in body should be one of [points percent pass_fail letter_grade]"},
		{"assignee mode", valid(`,"assignee_mode":"everyone"`), "validation failure list:\nassignee_mode in body should be one of [all individuals]"},
		{"submission type", valid(`,"submission_types":["text","video"]`), "validation failure list:\nsubmission_types.1 in body should be one of [link file text discussion]"},
		{"submission types not array", valid(`,"submission_types":"text"`), `submission_types in body must be of type array: "string"`},
		{"state", valid(`,"state":"closed"`), "validation failure list:\nstate in body should be one of [draft scheduled open locked]"},
		{"attachment type", valid(`,"attachments":[{"type":"link","url":"https://x"}]`), "validation failure list:\nattachments.0.type in body should be one of [file]"},
		{"two enum failures", valid(`,"grading_type":"x","assignee_mode":"y"`), "validation failure list:\nassignee_mode in body should be one of [all individuals]\ngrading_type in body should be one of [points percent pass_fail letter_grade]"},
		{"assignee not an id", valid(`,"assignee_mode":"individuals","assignee_ids":["bob"]`), `assignee_ids in body must be of type mongo-id: "bob"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.do(t, "POST", "/v3.1/sections/"+w.section+"/assignments", w.tok, tc.body)
			if r.status != 400 || !strings.HasPrefix(r.msg, tc.msg) {
				t.Fatalf("got %d %s, want 400 %q", r.status, r.body, tc.msg)
			}
		})
	}
	if n := w.sim.TotalCreated(); n != 0 {
		t.Fatalf("%d assignments created by refused requests", n)
	}
}

func TestCreateAssignmentAnswer(t *testing.T) {
	w := newWorld(t, clevertest.Schoology)
	body := `{"title":"Fire drill","description":"VR","due_date":"` + w.future() + `","points_possible":100,"max_attempts":2,"submission_types":["text"],"state":"draft","unknown_member":true}`
	r := w.do(t, "POST", "/v3.1/sections/"+w.section+"/assignments", w.tok, body)
	if r.status != 200 { // 200, not 201
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var a struct {
		Data struct {
			ID             string  `json:"id"`
			State          string  `json:"state"`
			PointsPossible float64 `json:"points_possible"`
			MaxAttempts    int     `json:"max_attempts"`
			Created        string  `json:"created"`
			LastModified   string  `json:"last_modified"`
			DueDate        string  `json:"due_date"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatal(err)
	}
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	msRe := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	if !uuidRe.MatchString(a.Data.ID) {
		t.Errorf("id %q is not a UUID", a.Data.ID)
	}
	for _, ts := range []string{a.Data.Created, a.Data.LastModified, a.Data.DueDate} {
		if !msRe.MatchString(ts) {
			t.Errorf("timestamp %q is not RFC 3339 UTC with milliseconds", ts)
		}
	}
	if a.Data.State != "draft" || a.Data.PointsPossible != 100 || a.Data.MaxAttempts != 2 {
		t.Errorf("answer: %s", r.body)
	}
	if n := w.sim.Created(w.section, "Fire drill"); n != 1 {
		t.Errorf("created counter %d", n)
	}
	// Read, update and delete.
	p := "/v3.1/sections/" + w.section + "/assignments/" + a.Data.ID
	if r := w.do(t, "GET", p, w.tok, ""); r.status != 200 || !strings.Contains(r.body, `"title":"Fire drill"`) {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	if r := w.do(t, "PATCH", p, w.tok, `{"due_date":"2020-01-01T00:00:00.000Z"}`); r.status != 400 || r.msg != "due_date must be in the future" {
		t.Fatalf("patch past due date: %d %s", r.status, r.body)
	}
	if r := w.do(t, "PATCH", p, w.tok, `{"title":"Fire drill 2"}`); r.status != 200 || !strings.Contains(r.body, `"title":"Fire drill 2"`) {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := w.do(t, "DELETE", p, w.tok, ""); r.status != 200 || r.body != "" {
		t.Fatalf("delete: %d %q", r.status, r.body)
	}
	if r := w.do(t, "GET", p, w.tok, ""); r.status != 404 || r.msg != "Assignment does not exist" {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
}

func TestProviderModes(t *testing.T) {
	t.Run("canvas ignores state", func(t *testing.T) {
		w := newWorld(t, clevertest.Canvas)
		id := w.create(t, `,"state":"draft"`)
		r := w.do(t, "GET", "/v3.1/sections/"+w.section+"/assignments/"+id, w.tok, "")
		if !strings.Contains(r.body, `"state":"open"`) {
			t.Fatalf("canvas kept the state: %s", r.body)
		}
	})
	t.Run("schoology refuses link submissions", func(t *testing.T) {
		w := newWorld(t, clevertest.Schoology)
		body := `{"title":"t","description":"d","due_date":"` + w.future() + `","submission_types":["link"]}`
		r := w.do(t, "POST", "/v3.1/sections/"+w.section+"/assignments", w.tok, body)
		if r.status != 400 || r.msg != "Schoology does not support submission type of link" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("schoology needs an LTI launch", func(t *testing.T) {
		w := newWorld(t, clevertest.Schoology)
		id := w.create(t, "")
		p := "/v3.1/sections/" + w.section + "/assignments/" + id + "/submissions/" + w.student2
		if r := w.do(t, "PATCH", p, w.tok, `{"grade_points":80}`); r.status != 500 || r.msg != "Error updating submission" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		w.sim.SetLTILaunched(w.student2, true)
		if r := w.do(t, "PATCH", p, w.tok, `{"grade_points":80}`); r.status != 200 {
			t.Fatalf("after launch: %d %s", r.status, r.body)
		}
	})
	for _, mode := range []string{clevertest.Canvas, clevertest.Schoology, clevertest.GoogleClassroom} {
		t.Run(mode+" submission id", func(t *testing.T) {
			w := newWorld(t, mode)
			id := w.create(t, "")
			r := w.do(t, "GET", "/v3.1/sections/"+w.section+"/assignments/"+id+"/submissions/"+w.student, w.tok, "")
			var s struct {
				Data map[string]any `json:"data"`
			}
			_ = json.Unmarshal([]byte(r.body), &s)
			_, has := s.Data["id"]
			if has != (mode != clevertest.GoogleClassroom) {
				t.Fatalf("%s: id present=%v: %s", mode, has, r.body)
			}
		})
	}
}

func TestSubmissions(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	id := w.create(t, "")
	p := "/v3.1/sections/" + w.section + "/assignments/" + id + "/submissions/"
	for _, tc := range []struct{ name, user, body, msg string }{
		{"empty body", w.student, ``, "request body is required, but was empty"},
		{"points as string", w.student, `{"grade_points":"92"}`, `grade_points in body must be of type number: "string"`},
		{"grade as number", w.student, `{"grade":92}`, `grade in body must be of type string: "number"`},
		{"state", w.student, `{"state":"graded"}`, "validation failure list:\nstate in body should be one of [created submitted returned reclaimed]"},
		{"flags", w.student, `{"flags":["late","absent"]}`, "validation failure list:\nflags.1 in body should be one of [excused late missing]"},
		{"extra attempts", w.student, `{"extra_attempts":0.5}`, `extra_attempts in body must be of type integer: "number"`},
		{"unknown grader", w.student, `{"grade_points":1,"grader_id":"` + w.student2 + `"}`, "NOT_FOUND: Person with id clever:" + w.student2 + " not found for this integration."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := w.do(t, "PATCH", p+tc.user, w.tok, tc.body); r.status != 400 || r.msg != tc.msg {
				t.Fatalf("got %d %s, want 400 %q", r.status, r.body, tc.msg)
			}
		})
	}
	// Not enrolled in the section, or unenrolled later.
	if r := w.do(t, "PATCH", p+w.unrelated, w.tok, `{"grade_points":1}`); r.status != 404 || r.msg != "User not found" {
		t.Fatalf("unenrolled: %d %s", r.status, r.body)
	}
	if r := w.do(t, "PATCH", p+clevertest.NewID(), w.tok, `{"grade_points":1}`); r.status != 404 || r.msg != "User not found" {
		t.Fatalf("unknown: %d %s", r.status, r.body)
	}
	// Overwrite semantics, full echo.
	ok := w.do(t, "PATCH", p+w.student, w.tok, `{"grade_points":70,"grade":"70","grade_comment":"first","state":"returned","grader_id":"`+w.teacher+`"}`)
	w.clock.Advance(time.Minute)
	ok = w.do(t, "PATCH", p+w.student, w.tok, `{"grade_points":92,"grade":"92"}`)
	if ok.status != 200 {
		t.Fatalf("patch: %d %s", ok.status, ok.body)
	}
	var s struct {
		Data struct {
			AssignmentID string  `json:"assignment_id"`
			UserID       string  `json:"user_id"`
			State        string  `json:"state"`
			GradePoints  float64 `json:"grade_points"`
			Grade        string  `json:"grade"`
			Comment      string  `json:"grade_comment"`
			LastModified string  `json:"last_modified"`
		} `json:"data"`
	}
	_ = json.Unmarshal([]byte(ok.body), &s)
	if s.Data.AssignmentID != id || s.Data.UserID != w.student || s.Data.GradePoints != 92 || s.Data.Grade != "92" ||
		s.Data.Comment != "first" || s.Data.State != "returned" || s.Data.LastModified != "2026-09-01T10:01:30.000Z" {
		t.Fatalf("echo: %s", ok.body)
	}
	if n := w.sim.Grades(w.student); n != 2 {
		t.Fatalf("grades counter %d", n)
	}
	w.sim.Unenroll(w.section, w.student)
	if r := w.do(t, "PATCH", p+w.student, w.tok, `{"grade_points":1}`); r.status != 404 || r.msg != "User not found" {
		t.Fatalf("after unenrol: %d %s", r.status, r.body)
	}
	// The assignment deleted in the LMS.
	w.sim.DeleteAssignment(w.section, id)
	if r := w.do(t, "PATCH", p+w.student2, w.tok, `{"grade_points":1}`); r.status != 404 || r.msg != "Assignment does not exist" {
		t.Fatalf("deleted assignment: %d %s", r.status, r.body)
	}
}

func TestIndividualAssignees(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	id := w.create(t, `,"assignee_mode":"individuals","assignee_ids":["`+w.student+`"]`)
	p := "/v3.1/sections/" + w.section + "/assignments/" + id + "/submissions/"
	if r := w.do(t, "PATCH", p+w.student2, w.tok, `{"grade_points":1}`); r.status != 404 || r.msg != "User not found" {
		t.Fatalf("not assigned: %d %s", r.status, r.body)
	}
	if r := w.do(t, "PATCH", p+w.student, w.tok, `{"grade_points":1}`); r.status != 200 {
		t.Fatalf("assigned: %d %s", r.status, r.body)
	}
}

func TestInactiveDistrictRefusesWrites(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	id := w.create(t, "")
	for _, state := range []string{clevertest.StateDisconnected, clevertest.StateError, clevertest.StateMatchingInProgress,
		clevertest.StateInitialSyncProcessing, clevertest.StatePendingAuthorization, ""} {
		w.sim.SetLMSState(w.district, state)
		body := `{"title":"t","description":"d","due_date":"` + w.future() + `"}`
		if r := w.do(t, "POST", "/v3.1/sections/"+w.section+"/assignments", w.tok, body); r.status != 400 || r.msg != "lms connection is not active for this district" {
			t.Errorf("%q create: %d %s", state, r.status, r.body)
		}
		p := "/v3.1/sections/" + w.section + "/assignments/" + id + "/submissions/" + w.student
		if r := w.do(t, "PATCH", p, w.tok, `{"grade_points":1}`); r.status != 400 {
			t.Errorf("%q patch: %d %s", state, r.status, r.body)
		}
		if r := w.do(t, "GET", "/v3.1/districts/"+w.district, w.tok, ""); !strings.Contains(r.body, `"lms_state":"`+state+`"`) {
			t.Errorf("district shows %s", r.body)
		}
	}
}

func TestRoster(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	big := clevertest.NewID()
	w.sim.AddSection(clevertest.Section{ID: big, District: w.district, Course: "c1"})
	for i := range 5 {
		w.sim.AddStudent(clevertest.User{ID: clevertest.NewID(), District: w.district, Email: "s" + strconv.Itoa(i) + "@example.com"}, big)
	}
	seen := map[string]bool{}
	next := "/v3.1/sections/" + big + "/users?role=student&limit=2"
	pages := 0
	for next != "" {
		r := w.do(t, "GET", next, w.tok, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", next, r.status, r.body)
		}
		var p struct {
			Data []struct {
				Data struct {
					ID    string `json:"id"`
					Email string `json:"email"`
				} `json:"data"`
			} `json:"data"`
			Links []struct{ Rel, URI string } `json:"links"`
		}
		_ = json.Unmarshal([]byte(r.body), &p)
		next = ""
		for _, l := range p.Links {
			if l.Rel == "next" {
				next = l.URI
			}
		}
		for _, u := range p.Data {
			seen[u.Data.ID] = true
		}
		pages++
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("%d users in %d pages", len(seen), pages)
	}
	for _, q := range []struct {
		query  string
		status int
	}{{"role=parent", 400}, {"limit=abc", 400}, {"limit=0", 400}, {"limit=10001", 413}} {
		if r := w.do(t, "GET", "/v3.1/sections/"+big+"/users?"+q.query, w.tok, ""); r.status != q.status {
			t.Errorf("%s: %d %s", q.query, r.status, r.body)
		}
	}
	r := w.do(t, "GET", "/v3.1/courses/c1/sections", w.tok, "")
	if r.status != 200 || !strings.Contains(r.body, `"synced_in_lms":false`) || !strings.Contains(r.body, big) {
		t.Fatalf("course sections: %d %s", r.status, r.body)
	}
}

func TestRateLimit(t *testing.T) {
	w := newWorld(t, clevertest.Canvas) // 50 per minute
	path := "/v3.1/districts/" + w.district
	for i := 1; i <= 50; i++ {
		r := w.do(t, "GET", path, w.tok, "")
		if r.status != 200 || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(50-i) || r.header.Get("X-RateLimit-Limit") != "50" ||
			r.header.Get("X-RateLimit-Reset") != strconv.FormatInt(time.Date(2026, 9, 1, 10, 1, 0, 0, time.UTC).Unix(), 10) || r.header.Get("X-RateLimit-Bucket") == "" {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
	}
	r := w.do(t, "GET", path, w.tok, "")
	if r.status != 429 || r.body != "" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("over the limit: %d %q %v", r.status, r.body, r.header)
	}
	// Another token has its own window; errors carry the headers too.
	if r := w.do(t, "GET", path, w.otherTok, ""); r.status != 404 || r.header.Get("X-RateLimit-Remaining") != "49" {
		t.Fatalf("other token: %d %v", r.status, r.header)
	}
	w.clock.Advance(30 * time.Second) // the next window
	if r := w.do(t, "GET", path, w.tok, ""); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "49" {
		t.Fatalf("next window: %d %v", r.status, r.header)
	}
	ws := w.sim.Windows(w.tok)
	if len(ws) != 2 || ws[0].Requests != 51 || ws[0].Limited != 1 || ws[1].Requests != 1 {
		t.Fatalf("windows %+v", ws)
	}
}

func TestFaults(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	path := "/v3.1/districts/" + w.district
	for _, status := range []int{500, 502, 503} {
		w.sim.Inject(clevertest.Fault{Path: "/v3.1/districts", Status: status})
		if r := w.do(t, "GET", path, w.tok, ""); r.status != status {
			t.Fatalf("fault %d: got %d", status, r.status)
		}
	}
	if r := w.do(t, "GET", path, w.tok, ""); r.status != 200 {
		t.Fatalf("after faults: %d", r.status)
	}
	// Reset: no HTTP answer at all.
	w.sim.Inject(clevertest.Fault{Reset: true})
	req, _ := http.NewRequest("GET", w.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+w.tok)
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // no silent retry on a new connection
	if _, err := fresh.Do(req); err == nil || !(errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset")) {
		t.Fatalf("reset: %v", err)
	}
	// Slow: the client gives up; the write still happens.
	body := `{"title":"Slow","description":"d","due_date":"` + w.future() + `"}`
	w.sim.Inject(clevertest.Fault{Method: "POST", Delay: time.Hour})
	req, _ = http.NewRequest("POST", w.url+"/v3.1/sections/"+w.section+"/assignments", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.tok)
	c := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := c.Do(req); err == nil {
		t.Fatal("slow answer arrived")
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.sim.Created(w.section, "Slow") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the slow request was never processed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// After: processed, then the answer is a 502.
	w.sim.Inject(clevertest.Fault{Method: "POST", Status: 502, After: true})
	body = `{"title":"Lost","description":"d","due_date":"` + w.future() + `"}`
	if r := w.do(t, "POST", "/v3.1/sections/"+w.section+"/assignments", w.tok, body); r.status != 502 || w.sim.Created(w.section, "Lost") != 1 {
		t.Fatalf("after fault: %d, created %d", r.status, w.sim.Created(w.section, "Lost"))
	}
}

func TestTokenEndpoint(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	get := func(user, pass, query string, basic bool) reply {
		req, _ := http.NewRequest("GET", w.url+"/oauth/tokens?"+query, nil)
		if basic {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, body: string(b)}
	}
	id, secret := w.sim.ClientID(), w.sim.ClientSecret()
	if r := get("", "", "owner_type=district", false); r.status != 401 {
		t.Errorf("no auth: %d", r.status)
	}
	if r := get(id, "wrong", "owner_type=district", true); r.status != 401 {
		t.Errorf("wrong secret: %d", r.status)
	}
	if r := get(id, secret, "", true); r.status != 400 {
		t.Errorf("no owner_type: %d", r.status)
	}
	r := get(id, secret, "owner_type=district&district="+w.district, true)
	var toks struct {
		Data []struct {
			AccessToken string `json:"access_token"`
			Owner       struct{ Type, ID string }
		} `json:"data"`
	}
	_ = json.Unmarshal([]byte(r.body), &toks)
	if r.status != 200 || len(toks.Data) != 1 || toks.Data[0].AccessToken != w.tok || toks.Data[0].Owner.ID != w.district || toks.Data[0].Owner.Type != "district" {
		t.Fatalf("tokens: %d %s", r.status, r.body)
	}
	if r := get(id, secret, "owner_type=district", true); strings.Count(r.body, "access_token") != 2 {
		t.Fatalf("all districts: %s", r.body)
	}
}

func TestClockWaitsForEveryParty(t *testing.T) {
	c := clevertest.NewClock(t0)
	c.Join()
	c.Join()
	done := make(chan time.Time)
	go func() {
		_ = c.Sleep(t.Context(), time.Second)
		done <- c.Now()
	}()
	// One party sleeps, one runs: time stands still.
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("clock moved to %v with a party running", got)
	}
	c.Leave() // the running party finishes: the sleeper wakes a second later
	if got := <-done; !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("woke at %v", got)
	}
}

func TestSubmissionsList(t *testing.T) {
	w := newWorld(t, clevertest.Canvas)
	for range 3 {
		w.sim.AddStudent(clevertest.User{ID: clevertest.NewID(), District: w.district, Email: clevertest.NewID() + "@example.com"}, w.section)
	}
	id := w.create(t, "")
	base := "/v3.1/sections/" + w.section + "/assignments/" + id + "/submissions"
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?cursor=not-a-cursor!"} {
		if r := w.do(t, "GET", base+q, w.tok, ""); r.status != 400 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	seen := 0
	next := base + "?limit=2"
	var first string
	for next != "" {
		r := w.do(t, "GET", next, w.tok, "")
		var p struct {
			Data []struct {
				UserID string `json:"user_id"`
				State  string
			}
			Links []struct{ Rel, URI string }
		}
		if err := json.Unmarshal([]byte(r.body), &p); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", next, r.status, r.body)
		}
		seen += len(p.Data)
		next = ""
		for _, l := range p.Links {
			if l.Rel == "next" {
				next = l.URI
				if first == "" {
					first = l.URI
				}
			}
		}
	}
	if seen != 5 { // the two students of the world and three more
		t.Fatalf("%d submissions", seen)
	}
	// The next link lasts two hours.
	w.clock.Advance(2*time.Hour + time.Second)
	if r := w.do(t, "GET", first, w.tok, ""); r.status != 400 || r.msg != "cursor expired" {
		t.Fatalf("expired cursor: %d %s", r.status, r.body)
	}
}
