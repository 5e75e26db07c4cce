package clever_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/clever/clevertest"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

var start = time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)

// env is a simulated district with sections and students, and the
// options of the destinations under test (one process unless a test makes
// several).
type env struct {
	sim      *clevertest.Server
	clock    *clevertest.Clock
	url      string
	district string
	tok      string
	sections []string
	students map[string]string // email → Clever id
	store    *forwardtest.Memory
	opts     clever.Options
}

type envOpts struct {
	lmsType    string
	sections   int
	perSection int // students per section
	simLimit   int // the simulator's rate limit (default 1200)
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.sections == 0 {
		o.sections = 1
	}
	e := &env{clock: clevertest.NewClock(start), students: map[string]string{}, store: forwardtest.NewMemory()}
	e.sim = clevertest.New(clevertest.Options{Clock: e.clock, RateLimit: o.simLimit})
	e.url = clevertest.Start(t, e.sim)
	e.district = clevertest.NewID()
	e.tok = e.sim.AddDistrict(clevertest.District{ID: e.district, Name: "Springfield", LMSType: o.lmsType})
	for s := range o.sections {
		id := clevertest.NewID()
		e.sections = append(e.sections, id)
		e.sim.AddSection(clevertest.Section{ID: id, District: e.district, Course: course, Name: fmt.Sprintf("Period %d", s+1)})
		for i := range o.perSection {
			e.addStudent(fmt.Sprintf("s%d.%d@example.com", s, i), id)
		}
	}
	e.opts = clever.Options{Clock: e.clock, Assignments: e.store, Timeout: 5 * time.Second, Egress: forwardtest.Loopback}
	e.opts.Limiters = clever.NewLimiters(e.clock, 1)
	return e
}

// course is the Clever course id of every section of an env.
const course = "c0ffee000000000000000001"

func (e *env) addStudent(email string, sections ...string) string {
	id := clevertest.NewID()
	e.students[email] = id
	e.sim.AddStudent(clevertest.User{ID: id, District: e.district, Email: email}, sections...)
	return id
}

// props maps objective "obj-1" (and every other) to all sections.
func (e *env) props(extra ...string) map[string]string {
	p := map[string]string{
		clever.PropBaseURL:  e.url,
		clever.PropTokenURL: e.url + "/oauth/tokens",
		clever.PropSections: `{"*":["` + strings.Join(e.sections, `","`) + `"]}`,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

func (e *env) dest(t testing.TB, props map[string]string, secrets map[string]string) *clever.Destination {
	t.Helper()
	if secrets == nil {
		secrets = map[string]string{clever.SecretToken: e.tok}
	}
	d, err := clever.New(forward.Configuration{Org: "org", ID: "cfg", Type: clever.TypeClever, Properties: props}, secrets, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

func scored(scaled float64, success bool) clever.Result {
	return clever.Result{Completed: ptr(true), Success: ptr(success), Scaled: ptr(scaled)}
}

func grade(objective, email string, r clever.Result) clever.Grade {
	return clever.Grade{Objective: objective, ObjectiveName: "Fire drill " + objective, Participant: email, Result: r}
}

func want(t testing.TB, o clever.Outcome, class string) {
	t.Helper()
	if o.Class != class {
		t.Fatalf("outcome %+v, want %s", o, class)
	}
}

// onlyAssignment returns the one assignment of a section.
func (e *env) onlyAssignment(t testing.TB, section string) clevertest.Assignment {
	t.Helper()
	as := e.sim.Assignments(section)
	if len(as) != 1 {
		t.Fatalf("section %s has %d assignments, want 1", section, len(as))
	}
	return as[0]
}

func (e *env) points(t testing.TB, section, email string) float64 {
	t.Helper()
	a := e.onlyAssignment(t, section)
	s, ok := e.sim.Submission(section, a.ID, e.students[email])
	if !ok || s.GradePoints == nil {
		t.Fatalf("%s has no grade in section %s", email, section)
	}
	return *s.GradePoints
}

var bg = context.Background()

// createDirect creates an assignment through the API, as another client
// would, and returns its id.
func createDirect(base, tok, section string) (string, error) {
	body := `{"title":"Fire drill obj-1","description":"d","due_date":"2030-01-01T00:00:00.000Z"}`
	req, err := http.NewRequest("POST", base+"/v3.1/sections/"+section+"/assignments", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("create: %d %v", resp.StatusCode, err)
	}
	return out.Data.ID, nil
}

// rawGet is a request of another client of the token.
func rawGet(t testing.TB, u, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
