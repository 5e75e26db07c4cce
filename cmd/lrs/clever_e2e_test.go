package main

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/clever/clevertest"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

// learnerSession is resSession for another learner (its own statement
// ids, the same registration).
func learnerSession(email, prefix string, start int, scaled float64, pass bool) string {
	sts := resSession(email+"/"+prefix, start, scaled, pass)
	for i, s := range sts {
		s = strings.Replace(s, `"mailto:ada@example.com"`, `"mailto:`+email+`"`, 1)
		sts[i] = strings.Replace(s, `"Ada Lovelace"`, `"`+email+`"`, 1)
	}
	return "[" + strings.Join(sts, ",") + "]"
}

// cleverStatus is what the e2e reads of a configuration's status.
type cleverStatus struct {
	Status                                       string
	LastError                                    string `json:"last_error"`
	Queued, Delivered, Parked, Rejected, Skipped int
}

// cleverDistrict is a simulated district: two sections of a course, three
// students on their rosters.
type cleverDistrict struct {
	sim        *clevertest.Server
	url, id    string
	tok        string
	secA, secB string
	students   map[string]string // email → Clever id
}

func newCleverDistrict(t *testing.T) *cleverDistrict {
	d := &cleverDistrict{sim: clevertest.New(clevertest.Options{}), id: clevertest.NewID(), secA: clevertest.NewID(), secB: clevertest.NewID(),
		students: map[string]string{}}
	d.url = clevertest.Start(t, d.sim)
	d.tok = d.sim.AddDistrict(clevertest.District{ID: d.id, Name: "Springfield"})
	course := clevertest.NewID()
	d.sim.AddSection(clevertest.Section{ID: d.secA, District: d.id, Course: course, Name: "Period 1"})
	d.sim.AddSection(clevertest.Section{ID: d.secB, District: d.id, Course: course, Name: "Period 2"})
	for email, secs := range map[string][]string{
		"ada@example.com": {d.secA}, "grace@example.com": {d.secB}, "alan@example.com": {d.secA, d.secB},
	} {
		id := clevertest.NewID()
		d.students[email] = id
		d.sim.AddStudent(clevertest.User{ID: id, District: d.id, Email: email}, secs...)
	}
	return d
}

// points is the grade of a student in the one assignment of a section
// (-1: none).
func (d *cleverDistrict) points(section, email string) float64 {
	as := d.sim.Assignments(section)
	if len(as) != 1 {
		return -1
	}
	s, ok := d.sim.Submission(section, as[0].ID, d.students[email])
	if !ok || s.GradePoints == nil {
		return -1
	}
	return *s.GradePoints
}

// Clever grade passback through the booted binary, on both engines:
// statements posted by a content provider become one assignment per
// section of the objective and each student's grade in it; a better
// retake updates the grade; a learner on no roster is skipped with the
// reason and the status stays OK; a revoked token is Server Error and an
// alert mail, and the configuration edited with a new token delivers and
// is OK again.
func TestCleverEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		d := newCleverDistrict(t)
		smtpd := forwardtest.NewSMTPServer(t)
		up := startLRS(t, append(upstreamEnv(storeEnv), "LRS_SMTP_HOST="+smtpd.Host, fmt.Sprintf("LRS_SMTP_PORT=%d", smtpd.Port),
			"LRS_SMTP_FROM=lrs@example.com", "LRS_FORWARD_PROBE_INTERVAL=1s", "LRS_FORWARD_RECOVERY_DELAY=1s")...)
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		a := fwdAdmin(t, up)
		bearer := adminBearer()

		// The objective, then the configuration mapping it to both
		// sections, then the objective attached to it.
		var obj, cfg struct{ ID string }
		r := a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{"name": "Fire safety", "activity_id": resAct}, bearer...)
		if err := json.Unmarshal(r.body, &obj); err != nil || obj.ID == "" {
			t.Fatalf("objective create answered %s (%v)", r.body, err)
		}
		config := func(tok string) map[string]any {
			return map[string]any{
				"name": "Springfield gradebook", "contact_email": "ops@example.com", "type": "clever",
				"properties": map[string]string{"base_url": d.url, "sections": `{"` + obj.ID + `":["` + d.secA + `","` + d.secB + `"]}`},
				"secrets":    map[string]string{"token": tok},
			}
		}
		r = a.expect(http.StatusCreated, http.MethodPost, "/configurations", config(d.tok), bearer...)
		if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
			t.Fatalf("configuration create answered %s (%v)", r.body, err)
		}
		a.expect(http.StatusOK, http.MethodPut, "/objectives/"+obj.ID, map[string]any{
			"name": "Fire safety", "activity_id": resAct, "configurations": []string{cfg.ID}}, bearer...)

		// Test connection is the readiness check.
		r = a.expect(http.StatusOK, http.MethodPost, "/configurations/"+cfg.ID+"/test", nil, bearer...)
		if !strings.Contains(string(r.body), "Ready: grades can be written") || !strings.Contains(string(r.body), "2 synced in the LMS") {
			t.Fatalf("test connection answered %s", r.body)
		}
		if d.sim.TotalCreated() != 0 {
			t.Fatal("test connection created an assignment")
		}

		status := func() cleverStatus {
			t.Helper()
			var st cleverStatus
			r := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, bearer...)
			if err := json.Unmarshal(r.body, &st); err != nil {
				t.Fatalf("status %s: %v", r.body, err)
			}
			return st
		}
		eventually := func(what string, ok func() bool) {
			t.Helper()
			forwardtest.Eventually(t, 20*time.Second, func() error {
				if !ok() {
					return fmt.Errorf("%s: status %+v, grades A %v/%v, B %v/%v", what, status(),
						d.points(d.secA, "ada@example.com"), d.points(d.secA, "alan@example.com"),
						d.points(d.secB, "grace@example.com"), d.points(d.secB, "alan@example.com"))
				}
				return nil
			})
		}

		// A content provider posts each learner's session.
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("ada@example.com", "1", 0, 0.92, true))
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("grace@example.com", "1", 0, 0.5, false))
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("alan@example.com", "1", 0, 0.8, true))
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("zed@example.com", "1", 0, 0.7, true))
		eventually("the first sessions", func() bool {
			st := status()
			return st.Delivered == 3 && st.Skipped == 1 && st.Queued == 0 && st.Status == "OK"
		})
		for _, g := range []struct {
			section, email string
			points         float64
		}{{d.secA, "ada@example.com", 92}, {d.secB, "grace@example.com", 50}, {d.secA, "alan@example.com", 80}, {d.secB, "alan@example.com", 80}} {
			if p := d.points(g.section, g.email); p != g.points {
				t.Errorf("%s: %v points, want %v", g.email, p, g.points)
			}
		}
		for _, sec := range []string{d.secA, d.secB} {
			if n := d.sim.Created(sec, "Fire safety"); n != 1 {
				t.Errorf("section %s: %d assignments \"Fire safety\" created, want 1", sec, n)
			}
		}
		var skipped struct {
			Deliveries []struct{ Participant, State, Reason string }
		}
		r = a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/deliveries?state=skipped", nil, bearer...)
		if err := json.Unmarshal(r.body, &skipped); err != nil || len(skipped.Deliveries) != 1 ||
			skipped.Deliveries[0].Participant != "zed@example.com" || !strings.Contains(skipped.Deliveries[0].Reason, "not a student of section(s) ") ||
			!strings.Contains(skipped.Deliveries[0].Reason, d.secA) || !strings.Contains(skipped.Deliveries[0].Reason, d.secB) {
			t.Errorf("skipped deliveries %s (%v): want zed's, with the reason", r.body, err)
		}
		if r := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/attempts?limit=100", nil, bearer...); !strings.Contains(string(r.body), `"skipped"`) && !strings.Contains(string(r.body), ` 1 skipped"`) {
			t.Errorf("the delivery log shows no skip (a skipped attempt, or a batch's skipped item): %s", r.body)
		}

		// A better retake updates the grade, in the same assignment.
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("ada@example.com", "2", 60, 0.97, true))
		eventually("the retake", func() bool { return d.points(d.secA, "ada@example.com") == 97 })

		// The token is revoked: Server Error and a mail to the contact.
		d.sim.RevokeToken(d.tok)
		x.expect(http.StatusOK, http.MethodPost, "/statements", learnerSession("grace@example.com", "2", 60, 0.9, true))
		eventually("the revoked token", func() bool { return status().Status == "Server Error" })
		if st := status(); !strings.Contains(st.LastError, "Clever refused the credentials") || strings.Contains(st.LastError, d.tok) {
			t.Errorf("last error %q: want the refusal, without the token", st.LastError)
		}
		m := smtpd.Wait(t, 20*time.Second)
		body, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.To) != 1 || m.To[0] != "ops@example.com" || !strings.Contains(string(body), "Server Error") || strings.Contains(string(body), d.tok) {
			t.Errorf("alert mail to %v:\n%s\nwant the Server Error to ops@example.com, without the token", m.To, body)
		}

		// A new token, put in the configuration: the grade goes, OK again.
		tok := d.sim.IssueToken(d.id)
		a.expect(http.StatusOK, http.MethodPut, "/configurations/"+cfg.ID, config(tok), bearer...)
		eventually("the new token", func() bool {
			return d.points(d.secB, "grace@example.com") == 90 && status().Status == "OK"
		})
		for _, sec := range []string{d.secA, d.secB} {
			if n := d.sim.Created(sec, "Fire safety"); n != 1 {
				t.Errorf("section %s: %d assignments created in all, want 1", sec, n)
			}
		}
		for _, w := range append(d.sim.Windows(d.tok), d.sim.Windows(tok)...) {
			if w.Limited > 0 {
				t.Errorf("window %v: %d requests refused with 429", w.Start, w.Limited)
			}
		}
	})
}
