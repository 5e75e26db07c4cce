package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/clever/clevertest"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

// arrivals records when each request reached the simulator.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivals) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.times = append(a.times, time.Now())
		a.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// busiest is the largest number of requests that arrived within any
// interval of length d.
func (a *arrivals) busiest(d time.Duration) int {
	a.mu.Lock()
	ts := slices.Clone(a.times)
	a.mu.Unlock()
	slices.SortFunc(ts, time.Time.Compare)
	most, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= d {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// A drain of many grades across sections through the booted binary: the
// requests of every process sharing the token keep to the configured
// limit times LRS_CLEVER_RATE_SHARE (the simulator never answers 429 and
// no request is repeated), every student gets the grade once, and each
// section one assignment. A process is killed with SIGKILL mid-drain and
// started again: nothing is lost, no section gets a second assignment. On
// MongoDB two processes share the store and the token, each with half of
// the limit.
func TestCleverDrainEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	const share = "1/2"
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		mongoRun := isMongoEnv(storeEnv)
		// The 5,000 grades across 40 sections, at a limit (per
		// minute, the configuration's rate_limit) high enough to drain
		// them in seconds; the limiter's rules do not depend on its size.
		sections, limit := 40, 60000
		// The MongoDB test server (FerretDB) is much slower per write than
		// the embedded store (a few sends a second on the test machine,
		// under the limit): fewer grades there, where the run proves two
		// processes sharing the token and the assignments, and the
		// embedded run that the limiter holds the drain to the share.
		grades := 5000
		if mongoRun {
			grades, sections, limit = 96, 8, 12000
		}
		sim := clevertest.New(clevertest.Options{RateLimit: limit})
		var arr arrivals
		srv := httptest.NewServer(arr.wrap(sim))
		t.Cleanup(srv.Close)
		district := clevertest.NewID()
		tok := sim.AddDistrict(clevertest.District{ID: district, Name: "Shelbyville"})
		var secs []string
		students := map[string]string{}
		var emails []string
		for s := range sections {
			id := clevertest.NewID()
			secs = append(secs, id)
			sim.AddSection(clevertest.Section{ID: id, District: district, Name: fmt.Sprintf("Period %d", s+1)})
		}
		for i := range grades {
			email, id := fmt.Sprintf("s%03d@example.com", i), clevertest.NewID()
			students[email] = id
			emails = append(emails, email)
			sim.AddStudent(clevertest.User{ID: id, District: district, Email: email}, secs[i%sections])
		}

		env := append(upstreamEnv(storeEnv), "LRS_CLEVER_RATE_SHARE="+share, "LRS_FORWARD_IN_FLIGHT=8", "LRS_FORWARD_PROBE_INTERVAL=1s")
		if mongoRun {
			// The deliveries the killed process had claimed are the other
			// process's (or the restarted one's) after a short lease.
			env = append(env, "LRS_FORWARD_LEASE=3s", "LRS_FORWARD_ATTEMPT_TIMEOUT=1s")
		}
		procs := []*proc{startLRS(t, env...)}
		if mongoRun {
			waitOutput(t, procs[0], `store="mongodb`)
			procs = append(procs, startLRS(t, env...))
			waitOutput(t, procs[1], `store="mongodb`)
		}
		a := fwdAdmin(t, procs[0])
		bearer := adminBearer()
		// The README's CLI flow: the configuration mapping every objective,
		// its readiness check, the objective attached to it.
		out := mustAdmin(t, procs[0].base, "configuration", "create", "--org", "default", "--type", "clever",
			"--name", "Shelbyville gradebook", "--contact-email", "ops@example.com", "--district-token", tok,
			"--sections", `{"*":["`+strings.Join(secs, `","`)+`"]}`, "--base-url", srv.URL, "--rate-limit", fmt.Sprint(limit))
		m := regexp.MustCompile(`(?m)^id:\s+(\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("configuration create printed no id:\n%s", out)
		}
		cfg := struct{ ID string }{m[1]}
		if out := mustAdmin(t, procs[0].base, "configuration", "test", "--org", "default", "--id", cfg.ID); !strings.Contains(out, "Ready: grades can be written") ||
			!strings.Contains(out, fmt.Sprintf("%d synced in the LMS", sections)) || strings.Contains(out, tok) {
			t.Fatalf("configuration test printed:\n%s", out)
		}
		mustAdmin(t, procs[0].base, "objective", "create", "--org", "default", "--name", "Water safety",
			"--activity-id", resAct, "--configuration", cfg.ID)

		// One verdict per student, posted in batches to the processes in
		// turn, each student's score their number's last two digits.
		start := time.Now()
		for b := 0; b < grades; b += 100 {
			var sts []string
			for i := b; i < min(b+100, grades); i++ {
				sts = append(sts, strings.Replace(resStmt(uuid.NewString(), "passed", resAct, 0,
					fmt.Sprintf(`{"success":true,"score":{"scaled":%v}}`, float64(i%100)/100)),
					`"mailto:ada@example.com"`, `"mailto:`+emails[i]+`"`, 1))
			}
			p := procs[(b/100)%len(procs)]
			x := &client{t: t, base: p.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
			x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(sts, ",")+"]")
		}

		t.Logf("%d statements posted in %v", grades, time.Since(start).Round(time.Millisecond))
		graded := func() int {
			n := 0
			for _, id := range students {
				if sim.Grades(id) > 0 {
					n++
				}
			}
			return n
		}
		killedAt := 0
		{
			// SIGKILL mid-drain, then the same store again (on MongoDB the
			// other process drains meanwhile).
			forwardtest.Eventually(t, 60*time.Second, func() error {
				if n := graded(); n < grades/4 {
					return fmt.Errorf("%d of %d graded", n, grades)
				}
				return nil
			})
			if err := procs[0].cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-procs[0].exited
			killedAt = graded()
			if killedAt == grades {
				t.Fatal("the drain ended before the kill")
			}
			procs[0] = startLRS(t, env...)
			a = fwdAdmin(t, procs[0])
		}
		forwardtest.Eventually(t, 90*time.Second, func() error {
			if n := graded(); n < grades {
				st := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, bearer...).body
				return fmt.Errorf("%d of %d graded; status %s", n, grades, st)
			}
			return nil
		})
		elapsed := time.Since(start)

		// Every grade, in the one assignment of the student's section.
		for i, email := range emails {
			sec := secs[i%sections]
			as := sim.Assignments(sec)
			if len(as) != 1 {
				t.Fatalf("section %d: %d assignments", i%sections, len(as))
			}
			sub, ok := sim.Submission(sec, as[0].ID, students[email])
			if want := float64(i % 100); !ok || sub.GradePoints == nil || *sub.GradePoints != want {
				t.Errorf("%s: grade %+v, want %v points", email, sub, want)
			}
		}
		repeated := 0
		for _, id := range students {
			if n := sim.Grades(id); n > 1 {
				repeated += n - 1
			}
		}
		for s, sec := range secs {
			if n := sim.Created(sec, "Water safety"); n != 1 {
				t.Errorf("section %d: %d assignments created, want 1", s, n)
			}
		}
		// Within the limit: no 429, and no more in any 3 seconds than the
		// processes' buckets let through (one request each, then the
		// allowance per minute spread evenly; 5 % and ten requests for the
		// jitter between a permit and the request's arrival on a loaded
		// machine, where a stalled sender's requests arrive bunched). Without the limiter the binary sends several times as
		// many.
		for _, w := range sim.Windows(tok) {
			if w.Limited > 0 || w.Requests > limit {
				t.Errorf("window %v: %d requests, %d answered 429", w.Start, w.Requests, w.Limited)
			}
		}
		perProcess := float64(clever.Allowance(limit, 0.5)-1) / 60 // per second
		const span = 3 * time.Second
		bound := int(float64(len(procs))*(1+perProcess*span.Seconds())*1.05) + 10
		busiest := arr.busiest(span)
		if busiest > bound {
			t.Errorf("%d requests within %v, more than the %d the rate share allows", busiest, span, bound)
		}
		// No request went again but the grades a kill cut short: the
		// readiness check's (the district, each section), a PATCH per
		// student, a roster read per section and process, a create per
		// section.
		// The restarted process reads the rosters again; the sends in
		// flight at the kill go again: at most LRS_FORWARD_IN_FLIGHT (8)
		// sends of clever.SinkBatch (10) grades, each a PATCH of the same
		// value.
		const inFlightGrades = 8 * 10
		requests, most := sim.Requests(), 1+sections+grades+sections*len(procs)+sections+sections+inFlightGrades
		if requests > most || repeated > inFlightGrades {
			t.Errorf("%d requests (at most %d expected), %d grades written twice", requests, most, repeated)
		}
		t.Logf("%d grades in %d sections by %d process(es) in %v: %d requests, at most %d within 3 s (bound %d, %.1f/s per process); killed after %d graded, %d written twice",
			grades, sections, len(procs), elapsed.Round(time.Millisecond), requests, busiest, bound, perProcess, killedAt, repeated)
	})
}
