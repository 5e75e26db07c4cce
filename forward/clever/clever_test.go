package clever_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/clever/clevertest"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

func TestAssignmentOncePerSectionAndObjective(t *testing.T) {
	e := newEnv(t, envOpts{sections: 3, perSection: 4})
	d := e.dest(t, e.props(), nil)
	var wg sync.WaitGroup
	for email := range e.students {
		for _, obj := range []string{"obj-1", "obj-2"} {
			wg.Add(1)
			e.clock.Join() // concurrent workers: the clock moves when all sleep
			go func() {
				defer wg.Done()
				defer e.clock.Leave()
				want(t, d.Send(bg, grade(obj, email, scored(0.92, true))), forward.OutcomeSuccess)
			}()
		}
	}
	wg.Wait()
	for _, sec := range e.sections {
		for _, obj := range []string{"obj-1", "obj-2"} {
			if n := e.sim.Created(sec, "Fire drill "+obj); n != 1 {
				t.Errorf("section %s, %s: %d assignments created, want 1", sec, obj, n)
			}
		}
	}
	// The assignment as configured: future due date, points, text, one attempt.
	a := e.sim.Assignments(e.sections[0])[0]
	if !a.DueDate.Equal(a.Created.Add(clever.DefaultDueDateOffset).Truncate(time.Millisecond)) || *a.PointsPossible != 100 || a.GradingType != "points" ||
		strings.Join(a.SubmissionType, ",") != "text" || *a.MaxAttempts != 1 || a.Description != "Result of Fire drill "+strings.TrimPrefix(a.Title, "Fire drill ")+", sent by the learning record store." {
		t.Errorf("assignment %+v", a)
	}
	s, _ := e.sim.Submission(e.sections[0], a.ID, e.students["s0.0@example.com"])
	if *s.GradePoints != 92 || *s.Grade != "92" || *s.GradeComment != "Passed, score 92%" || s.State != "returned" {
		t.Errorf("submission %+v", s)
	}
}

func TestAssignmentOnceAcrossProcesses(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 20})
	// Four processes: each its own destination, HTTP client and limiters,
	// one shared assignment store.
	var dests []*clever.Destination
	for range 4 {
		e.opts.Limiters = clever.NewLimiters(e.clock, 0.25)
		dests = append(dests, e.dest(t, e.props(), nil))
	}
	var wg sync.WaitGroup
	i := 0
	for email := range e.students {
		d := dests[i%len(dests)]
		i++
		wg.Add(1)
		e.clock.Join()
		go func() {
			defer wg.Done()
			defer e.clock.Leave()
			want(t, d.Send(bg, grade("obj-1", email, scored(0.5, true))), forward.OutcomeSuccess)
		}()
	}
	wg.Wait()
	if n := e.sim.TotalCreated(); n != 1 {
		t.Fatalf("%d assignments created, want 1", n)
	}
	rec, err := e.store.GetAssignment(bg, forward.AssignmentKey{Org: "org", Configuration: "cfg", Section: e.sections[0], Objective: "obj-1"})
	if err != nil || rec.AssignmentID != e.onlyAssignment(t, e.sections[0]).ID {
		t.Fatalf("stored %+v, %v", rec, err)
	}
}

func TestRetakeImprovesTheGrade(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 1})
	d := e.dest(t, e.props(), nil)
	email := "s0.0@example.com"
	want(t, d.Send(bg, grade("obj-1", email, scored(0.55, false))), forward.OutcomeSuccess)
	if p := e.points(t, e.sections[0], email); p != 55 {
		t.Fatalf("first attempt: %v points", p)
	}
	want(t, d.Send(bg, grade("obj-1", email, scored(0.9, true))), forward.OutcomeSuccess)
	a := e.onlyAssignment(t, e.sections[0])
	s, _ := e.sim.Submission(e.sections[0], a.ID, e.students[email])
	if *s.GradePoints != 90 || *s.GradeComment != "Passed, score 90%" || s.Updates != 2 {
		t.Fatalf("after the retake: %+v", s)
	}
	if n := e.sim.TotalCreated(); n != 1 {
		t.Fatalf("%d assignments", n)
	}
}

func TestStudentNotOnTheRosterIsSkipped(t *testing.T) {
	e := newEnv(t, envOpts{sections: 2, perSection: 2})
	d := e.dest(t, e.props(), nil)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)

	o := d.Send(bg, grade("obj-1", "stranger@example.com", scored(1, true)))
	want(t, o, clever.OutcomeSkipped)
	if !strings.Contains(o.Message, "not a student of section(s) ") || !strings.Contains(o.Message, e.sections[0]) || !strings.Contains(o.Message, e.sections[1]) {
		t.Fatalf("reason %q", o.Message)
	}
	// Unenrolled after the roster was read: Clever answers User not found,
	// the roster is read again, and the student is skipped.
	e.sim.Unenroll(e.sections[0], e.students["s0.1@example.com"])
	o = d.Send(bg, grade("obj-1", "s0.1@example.com", scored(1, true)))
	want(t, o, clever.OutcomeSkipped)
	if e.sim.Grades(e.students["s0.1@example.com"]) != 0 {
		t.Fatal("graded an unenrolled student")
	}
	// Not an email; nothing to grade.
	want(t, d.Send(bg, grade("obj-1", "not an email", scored(1, true))), clever.OutcomeSkipped)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", clever.Result{})), clever.OutcomeSkipped)
}

func TestRosterIsPagedCaseInsensitiveAndCached(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 1100}) // three pages of 500
	e.addStudent("Mixed.Case@Example.COM", e.sections[0])
	d := e.dest(t, e.props(), nil)
	before := e.sim.Requests()
	want(t, d.Send(bg, grade("obj-1", "mixed.case@example.com", scored(0.7, true))), forward.OutcomeSuccess)
	if n := e.sim.Requests() - before; n != 3+1+1 { // roster pages, create, PATCH
		t.Fatalf("%d requests, want 5", n)
	}
	before = e.sim.Requests()
	want(t, d.Send(bg, grade("obj-1", "s0.1099@example.com", scored(0.7, true))), forward.OutcomeSuccess)
	if n := e.sim.Requests() - before; n != 1 {
		t.Fatalf("%d requests with a cached roster, want 1", n)
	}
	// A student enrolled after the roster was read is found once the
	// roster is older than RosterMinAge.
	late := e.addStudent("late@example.com", e.sections[0])
	want(t, d.Send(bg, grade("obj-1", "late@example.com", scored(0.7, true))), clever.OutcomeSkipped)
	e.clock.Advance(2 * time.Minute)
	want(t, d.Send(bg, grade("obj-1", "late@example.com", scored(0.7, true))), forward.OutcomeSuccess)
	if e.sim.Grades(late) != 1 {
		t.Fatal("the late student was not graded")
	}
}

func TestUserNotFoundForARosterStudentIsRejected(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 2})
	d := e.dest(t, e.props(), nil)
	e.sim.Inject(clevertest.Fault{Method: "PATCH", Status: 404, Body: `{"message":"User not found"}`, Times: 2})
	before := e.sim.Requests()
	o := d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
	want(t, o, forward.OutcomeItem)
	// roster, create, PATCH, roster again, PATCH again: never a loop.
	if n := e.sim.Requests() - before; n != 5 {
		t.Fatalf("%d requests, want 5", n)
	}
}

func TestRevokedTokenIsServerError(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 1})
	d := e.dest(t, e.props(), nil)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
	e.sim.RevokeToken(e.tok)
	o := d.Send(bg, grade("obj-1", "s0.0@example.com", scored(0.5, true)))
	want(t, o, forward.OutcomeDestination)
	if o.Status != 403 || !strings.Contains(o.Message, "Could not authorize token") || strings.Contains(o.Message, e.tok) {
		t.Fatalf("outcome %+v", o)
	}
	// A fixed token (a new configuration revision) delivers.
	fixed := e.sim.IssueToken(e.district)
	d = e.dest(t, e.props(), map[string]string{clever.SecretToken: fixed})
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(0.5, true))), forward.OutcomeSuccess)
	if p := e.points(t, e.sections[0], "s0.0@example.com"); p != 50 {
		t.Fatalf("points %v", p)
	}
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 1})
	props := e.props(clever.PropDistrictID, e.district)
	secrets := map[string]string{clever.SecretClientID: e.sim.ClientID(), clever.SecretClientSecret: e.sim.ClientSecret()}
	d := e.dest(t, props, secrets)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
	// The token is rotated: the refused token is fetched again, once.
	e.sim.RevokeToken(e.tok)
	e.sim.IssueToken(e.district)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(0.4, true))), forward.OutcomeSuccess)
	if p := e.points(t, e.sections[0], "s0.0@example.com"); p != 40 {
		t.Fatalf("points %v", p)
	}

	bad := e.dest(t, props, map[string]string{clever.SecretClientID: e.sim.ClientID(), clever.SecretClientSecret: "wrong-secret"})
	o := bad.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
	want(t, o, forward.OutcomeDestination)
	if o.Status != 401 || strings.Contains(o.Message, "wrong-secret") {
		t.Fatalf("outcome %+v", o)
	}
	other := e.dest(t, e.props(clever.PropDistrictID, clevertest.NewID()), secrets)
	o = other.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
	want(t, o, forward.OutcomeDestination)
	if !strings.Contains(o.Message, "no token for district") {
		t.Fatalf("outcome %+v", o)
	}
}

func TestRateLimitAnswersAreHonoured(t *testing.T) {
	t.Run("429", func(t *testing.T) {
		// Another client of the same token spends the window between two
		// of our requests: our next request is refused with a 429.
		e := newEnv(t, envOpts{perSection: 2, simLimit: 20})
		d := e.dest(t, e.props(), nil)
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess) // roster, create, PATCH
		for range 17 {
			if status := rawGet(t, e.url+"/v3.1/districts/"+e.district, e.tok); status != 200 {
				t.Fatalf("the other client got %d", status)
			}
		}
		o := d.Send(bg, grade("obj-1", "s0.1@example.com", scored(1, true)))
		want(t, o, forward.OutcomeTransient)
		reset := start.Truncate(time.Minute).Add(time.Minute)
		if o.Status != 429 || o.RetryAfter != reset.Sub(e.clock.Now()) || o.RetryAfter <= 0 {
			t.Fatalf("outcome %+v at %v", o, e.clock.Now())
		}
		// The next send waits for the window's reset: no second 429.
		want(t, d.Send(bg, grade("obj-1", "s0.1@example.com", scored(1, true))), forward.OutcomeSuccess)
		if e.clock.Now().Before(reset) {
			t.Fatalf("sent at %v, before the reset %v", e.clock.Now(), reset)
		}
		limited := 0
		for _, w := range e.sim.Windows(e.tok) {
			limited += w.Limited
		}
		if limited != 1 {
			t.Fatalf("%d requests refused, want 1 (no loop on 429)", limited)
		}
	})
	t.Run("remaining 0", func(t *testing.T) {
		// Another configuration of the process with the same token spends
		// the window: its last answer says none remain, and every user of
		// the token (one limiter per token) waits for the reset.
		e := newEnv(t, envOpts{perSection: 2, simLimit: 20})
		d := e.dest(t, e.props(), nil)
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess) // roster, create, PATCH
		other := e.dest(t, e.props(), nil)
		for range 16 {
			want(t, other.Test(bg).Outcome, forward.OutcomeSuccess) // 1 district + 1 section read each... until remaining is 0
			if e.sim.Windows(e.tok)[0].Requests >= 20 {
				break
			}
		}
		want(t, d.Send(bg, grade("obj-1", "s0.1@example.com", scored(1, true))), forward.OutcomeSuccess)
		for _, w := range e.sim.Windows(e.tok) {
			if w.Limited != 0 || w.Requests > 20 {
				t.Fatalf("window %+v", w)
			}
		}
	})
}

func TestAssignmentDeletedInTheLMSIsRecreatedOnce(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 2})
	d := e.dest(t, e.props(), nil)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
	first := e.onlyAssignment(t, e.sections[0])
	e.sim.DeleteAssignment(e.sections[0], first.ID)

	want(t, d.Send(bg, grade("obj-1", "s0.1@example.com", scored(0.8, true))), forward.OutcomeSuccess)
	second := e.onlyAssignment(t, e.sections[0])
	if second.ID == first.ID || e.sim.Created(e.sections[0], "Fire drill obj-1") != 2 {
		t.Fatalf("not recreated: %+v", second)
	}
	rec, _ := e.store.GetAssignment(bg, forward.AssignmentKey{Org: "org", Configuration: "cfg", Section: e.sections[0], Objective: "obj-1"})
	if rec.AssignmentID != second.ID {
		t.Fatalf("store names %s, want %s", rec.AssignmentID, second.ID)
	}
	if p := e.points(t, e.sections[0], "s0.1@example.com"); p != 80 {
		t.Fatalf("points %v", p)
	}
	// Deleted again at once: recreated once, then a failure, not a loop.
	e.sim.Inject(clevertest.Fault{Method: "PATCH", Status: 404, Body: `{"message":"Assignment does not exist"}`, Times: 2})
	o := d.Send(bg, grade("obj-1", "s0.1@example.com", scored(0.9, true)))
	want(t, o, forward.OutcomeDestination)
	if n := e.sim.Created(e.sections[0], "Fire drill obj-1"); n != 3 {
		t.Fatalf("%d created, want 3", n)
	}
}

func TestInactiveDistrictIsServerError(t *testing.T) {
	for _, state := range []string{clevertest.StateDisconnected, clevertest.StateMatchingInProgress, ""} {
		t.Run(state, func(t *testing.T) {
			e := newEnv(t, envOpts{perSection: 2})
			d := e.dest(t, e.props(), nil)
			want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
			e.sim.SetLMSState(e.district, state)
			e.clock.Advance(2 * time.Minute)                 // past the district cache
			for _, obj := range []string{"obj-1", "obj-2"} { // PATCH, then create
				o := d.Send(bg, grade(obj, "s0.1@example.com", scored(1, true)))
				want(t, o, forward.OutcomeDestination)
				if !strings.Contains(o.Message, "LMS connection of district Springfield is "+map[string]string{"": "not set up"}[state]+state) {
					t.Fatalf("%s: %q", obj, o.Message)
				}
			}
		})
	}
}

func TestUnsyncedOrForeignSectionIsServerError(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 1})
	e.sim.SetSynced(e.sections[0], false)
	d := e.dest(t, e.props(), nil)
	o := d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
	want(t, o, forward.OutcomeDestination)
	if !strings.Contains(o.Message, "not synced in the LMS") {
		t.Fatalf("%q", o.Message)
	}
	foreign := clevertest.NewID()
	e.sim.AddSection(clevertest.Section{ID: foreign, District: clevertest.NewID()})
	d = e.dest(t, e.props(clever.PropSections, `{"obj-1":["`+foreign+`"]}`), nil)
	o = d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
	want(t, o, forward.OutcomeDestination)
	if o.Status != 404 || !strings.Contains(o.Message, "not visible to the token") {
		t.Fatalf("%+v", o)
	}
	// An objective mapped nowhere is this item's problem only.
	want(t, d.Send(bg, grade("obj-2", "s0.0@example.com", scored(1, true))), forward.OutcomeItem)
}

func TestProviderQuirks(t *testing.T) {
	t.Run("schoology without LTI launch", func(t *testing.T) {
		e := newEnv(t, envOpts{lmsType: clevertest.Schoology, perSection: 1})
		id := e.students["s0.0@example.com"]
		e.sim.SetLTILaunched(id, false)
		d := e.dest(t, e.props(), nil)
		o := d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
		want(t, o, forward.OutcomeItem)
		if !strings.Contains(o.Message, "LTI link") {
			t.Fatalf("%q", o.Message)
		}
		e.sim.SetLTILaunched(id, true)
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
	})
	t.Run("schoology refuses link submissions", func(t *testing.T) {
		e := newEnv(t, envOpts{lmsType: clevertest.Schoology, perSection: 1})
		d := e.dest(t, e.props(clever.PropSubmissionTypes, "link"), nil)
		o := d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
		want(t, o, forward.OutcomeDestination)
		if !strings.Contains(o.Message, "Schoology does not support submission type of link") {
			t.Fatalf("%q", o.Message)
		}
		if r := d.Test(bg); r.Ready || !strings.Contains(r.Verdict, "link submission type") {
			t.Fatalf("readiness %+v", r)
		}
	})
	t.Run("google classroom", func(t *testing.T) {
		e := newEnv(t, envOpts{lmsType: clevertest.GoogleClassroom, perSection: 1})
		want(t, e.dest(t, e.props(), nil).Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
	})
}

func TestFailuresAreClassified(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 1})
	e.opts.Timeout = 300 * time.Millisecond
	d := e.dest(t, e.props(), nil)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
	for _, tc := range []struct {
		name  string
		fault clevertest.Fault
		class string
	}{
		{"500", clevertest.Fault{Status: 500}, forward.OutcomeTransient},
		{"502", clevertest.Fault{Status: 502, Body: "<html>bad gateway</html>"}, forward.OutcomeTransient},
		{"503", clevertest.Fault{Status: 503}, forward.OutcomeTransient},
		{"501", clevertest.Fault{Status: 501}, forward.OutcomeDestination},
		{"405", clevertest.Fault{Status: 405, Body: " "}, forward.OutcomeDestination},
		{"302", clevertest.Fault{Status: 302}, forward.OutcomeDestination},
		{"200 HTML", clevertest.Fault{Status: 200, Body: "<html>maintenance</html>"}, forward.OutcomeDestination},
		{"bad grade", clevertest.Fault{Status: 400, Body: `{"message":"validation failure list:\ngrade_points in body should be greater than or equal to 0"}`}, forward.OutcomeItem},
		{"reset", clevertest.Fault{Reset: true}, forward.OutcomeTransport},
		{"slow", clevertest.Fault{Delay: time.Minute}, forward.OutcomeTransport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault.Method = "PATCH"
			e.sim.Inject(tc.fault)
			o := d.Send(bg, grade("obj-1", "s0.0@example.com", scored(0.3, true)))
			want(t, o, tc.class)
			if strings.Contains(o.Message, e.tok) {
				t.Fatalf("token in %q", o.Message)
			}
		})
	}
	// Nothing is left over: the next grade goes through.
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(0.3, true))), forward.OutcomeSuccess)
}

func TestCourseMapping(t *testing.T) {
	e := newEnv(t, envOpts{sections: 3, perSection: 2})
	e.sim.SetSynced(e.sections[2], false)
	d := e.dest(t, e.props(clever.PropSections, `{"obj-1":{"course":"`+course+`"}}`), nil)
	want(t, d.Send(bg, grade("obj-1", "s1.0@example.com", scored(0.75, true))), forward.OutcomeSuccess)
	if p := e.points(t, e.sections[1], "s1.0@example.com"); p != 75 {
		t.Fatalf("points %v", p)
	}
	if e.sim.TotalCreated() != 1 {
		t.Fatalf("%d assignments: created in sections the student is not in", e.sim.TotalCreated())
	}
	// The student of the unsynced section is skipped.
	want(t, d.Send(bg, grade("obj-1", "s2.0@example.com", scored(0.75, true))), clever.OutcomeSkipped)
}

func TestPassFailAndPercent(t *testing.T) {
	e := newEnv(t, envOpts{perSection: 2})
	d := e.dest(t, e.props(clever.PropGradingType, "pass_fail", clever.PropPointsPossible, "10"), nil)
	want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(0.4, false))), forward.OutcomeSuccess)
	a := e.onlyAssignment(t, e.sections[0])
	s, _ := e.sim.Submission(e.sections[0], a.ID, e.students["s0.0@example.com"])
	if a.GradingType != "pass_fail" || *s.Grade != "fail" || *s.GradePoints != 0 || *s.GradeComment != "Failed, score 40%" {
		t.Fatalf("%+v %+v", a, s)
	}
	p := e.dest(t, e.props(clever.PropGradingType, "percent", clever.PropPointsPossible, "50"), nil)
	want(t, p.Send(bg, grade("obj-2", "s0.1@example.com", scored(0.875, true))), forward.OutcomeSuccess)
	for _, a := range e.sim.Assignments(e.sections[0]) {
		if a.GradingType == "percent" {
			s, _ := e.sim.Submission(e.sections[0], a.ID, e.students["s0.1@example.com"])
			if *s.Grade != "87.5%" || *s.GradePoints != 43.75 {
				t.Fatalf("%+v", s)
			}
			return
		}
	}
	t.Fatal("no percent assignment")
}

func TestReadiness(t *testing.T) {
	e := newEnv(t, envOpts{sections: 2})
	d := e.dest(t, e.props(), nil)
	r := d.Test(bg)
	if !r.Ready || r.Outcome.Class != forward.OutcomeSuccess || r.District.LMSType != "canvas" || len(r.Sections) != 2 ||
		!strings.Contains(r.Verdict, "Ready") || !strings.Contains(r.Verdict, "Springfield") || !strings.Contains(r.Verdict, "2 synced") {
		t.Fatalf("%+v", r)
	}
	if e.sim.TotalCreated() != 0 || e.sim.Grades("") != 0 {
		t.Fatal("the check wrote")
	}

	e.sim.SetSynced(e.sections[1], false)
	e.sim.SetLMSState(e.district, clevertest.StateDisconnected)
	r = d.Test(bg)
	if r.Ready || r.Outcome.Class != forward.OutcomeDestination || !strings.Contains(r.Verdict, "disconnected") ||
		!strings.Contains(r.Verdict, "Section "+e.sections[1]+" (Period 2) is not synced") {
		t.Fatalf("%+v", r)
	}

	foreign := clevertest.NewID()
	r = e.dest(t, e.props(clever.PropSections, `{"obj-1":["`+foreign+`"]}`), nil).Test(bg)
	if r.Ready || !strings.Contains(r.Verdict, "Section "+foreign+" is not visible") {
		t.Fatalf("%+v", r)
	}

	e.sim.RevokeToken(e.tok)
	r = d.Test(bg)
	if r.Ready || r.Outcome.Class != forward.OutcomeDestination || r.Outcome.Status != 403 {
		t.Fatalf("%+v", r)
	}

	r = e.dest(t, e.props(clever.PropBaseURL, "http://127.0.0.1:1"), nil).Test(bg)
	if r.Ready || r.Outcome.Class != forward.OutcomeTransport {
		t.Fatalf("%+v", r)
	}
}

func TestReservations(t *testing.T) {
	key := func(e *env) forward.AssignmentKey {
		return forward.AssignmentKey{Org: "org", Configuration: "cfg", Section: e.sections[0], Objective: "obj-1"}
	}
	t.Run("a dead worker's reservation is taken over after the TTL", func(t *testing.T) {
		e := newEnv(t, envOpts{perSection: 1})
		e.opts.ReservationTTL = 2 * time.Minute
		_, _, _ = e.store.ReserveAssignment(bg, forward.AssignmentRecord{Key: key(e), Reservation: "dead", ReservedAt: start})
		d := e.dest(t, e.props(), nil)
		// Fresh: the worker waits for it, then gives up (retried later).
		o := d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true)))
		want(t, o, forward.OutcomeTransient)
		if e.sim.TotalCreated() != 0 {
			t.Fatal("created while another reservation was fresh")
		}
		e.clock.Advance(2 * time.Minute) // now older than the TTL
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
		rec, _ := e.store.GetAssignment(bg, key(e))
		if e.sim.TotalCreated() != 1 || rec.AssignmentID == "" || rec.Reservation == "dead" {
			t.Fatalf("created %d, record %+v", e.sim.TotalCreated(), rec)
		}
	})
	t.Run("a failed create releases its reservation", func(t *testing.T) {
		e := newEnv(t, envOpts{perSection: 1})
		d := e.dest(t, e.props(), nil)
		e.sim.Inject(clevertest.Fault{Method: "POST", Status: 503})
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeTransient)
		if _, err := e.store.GetAssignment(bg, key(e)); err != forward.ErrNoAssignment {
			t.Fatalf("record left: %v", err)
		}
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
		if e.sim.TotalCreated() != 1 {
			t.Fatalf("%d created", e.sim.TotalCreated())
		}
	})
	t.Run("a slow worker that lost its reservation deletes its assignment", func(t *testing.T) {
		e := newEnv(t, envOpts{perSection: 1})
		st := &stealingStore{Memory: e.store, url: e.url, tok: e.tok}
		e.opts.Assignments = st
		d := e.dest(t, e.props(), nil)
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
		a := e.onlyAssignment(t, e.sections[0]) // the orphan is gone
		if a.ID != st.winner || e.sim.TotalCreated() != 2 {
			t.Fatalf("left %s, want the winner %s (created %d)", a.ID, st.winner, e.sim.TotalCreated())
		}
		if p := e.points(t, e.sections[0], "s0.0@example.com"); p != 100 {
			t.Fatalf("points %v", p)
		}
	})
	t.Run("a create whose answer is lost is the window that remains", func(t *testing.T) {
		// Clever created the assignment, the answer never came: nothing can
		// find it again, so the next attempt creates a second one. This is
		// the documented window (assignments.go); the test keeps it honest.
		e := newEnv(t, envOpts{perSection: 1})
		d := e.dest(t, e.props(), nil)
		e.sim.Inject(clevertest.Fault{Method: "POST", Status: 502, After: true})
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeTransient)
		want(t, d.Send(bg, grade("obj-1", "s0.0@example.com", scored(1, true))), forward.OutcomeSuccess)
		if n := e.sim.TotalCreated(); n != 2 {
			t.Fatalf("%d created", n)
		}
	})
}

// stealingStore plays a second process that takes the reservation over
// while the first worker's POST is in flight: at Resolve, the record is
// another worker's, with an assignment that worker created.
type stealingStore struct {
	*forwardtest.Memory
	url    string
	tok    string
	winner string
}

func (s *stealingStore) ResolveAssignment(ctx context.Context, key forward.AssignmentKey, reservation, id string, at time.Time) error {
	if s.winner == "" {
		rec, _ := s.GetAssignment(ctx, key)
		if err := s.ReleaseAssignment(ctx, rec); err != nil {
			return err
		}
		// The winner's assignment, made through the API like any other.
		winner, err := createDirect(s.url, s.tok, key.Section)
		if err != nil {
			return err
		}
		s.winner = winner
		if _, _, err := s.ReserveAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "winner", ReservedAt: at}); err != nil {
			return err
		}
		if err := s.Memory.ResolveAssignment(ctx, key, "winner", winner, at); err != nil {
			return err
		}
	}
	return s.Memory.ResolveAssignment(ctx, key, reservation, id, at)
}
