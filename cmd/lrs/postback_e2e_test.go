package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward/postback"
	"github.com/lrs-project/lrs/forward/postback/postbacktest"
)

// Postbacks through the booted binary, on both engines: a postback
// configuration attached to an objective; the "send test postback" action;
// a cmi5 session gives one result whose postbacks never go backwards and
// end on its final value; a lower retake does not lower the pass; an
// override is posted and survives a later session; three changes while
// the receiver fails reach it as the newest only once it is back; a voided
// statement withdraws what it set.
func TestPostbackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		recv := postbacktest.NewReceiver(t, postbacktest.Options{AuthType: "httpbasic", UserName: "lms", Password: "pb-secret-0123"})
		up := startLRS(t, upstreamEnv(storeEnv)...)
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		a := fwdAdmin(t, up)
		bearer := adminBearer()
		r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", map[string]any{
			"name": "Registrations", "contact_email": "ops@example.com", "type": "postback",
			"properties": map[string]string{"url": recv.URL, "authType": "httpbasic"},
			"secrets":    map[string]string{"userName": "lms", "password": "pb-secret-0123"},
		}, bearer...)
		var cfg struct{ ID string }
		if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
			t.Fatalf("configuration create answered %s (%v)", r.body, err)
		}
		r = a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
			"name": "Fire safety", "activity_id": resAct, "configurations": []string{cfg.ID},
		}, bearer...)
		var obj struct{ ID string }
		if err := json.Unmarshal(r.body, &obj); err != nil || obj.ID == "" {
			t.Fatalf("objective create answered %s (%v)", r.body, err)
		}

		// The test postback: a sample learner, answered with the outcome.
		r = a.expect(http.StatusOK, http.MethodPost, "/configurations/"+cfg.ID+"/test", nil, bearer...)
		if !strings.Contains(string(r.body), "success") {
			t.Fatalf("test postback answered %s", r.body)
		}
		recv.WaitAccepted(t, 1, 10*time.Second)
		regID := postback.RegistrationID("default", obj.ID, "ada@example.com", resReg)
		progress := "/objectives/" + obj.ID + "/progress?participant=ada@example.com&registration=" + resReg
		var cur resultDoc
		current := func() resultDoc {
			t.Helper()
			cur = resultDoc{}
			if err := json.Unmarshal(a.expect(http.StatusOK, http.MethodGet, progress, nil, bearer...).body, &cur); err != nil {
				t.Fatal(err)
			}
			return cur
		}
		// settled waits until the receiver holds the result's current values.
		settled := func(what string, ok func(postbacktest.Registration) bool) postbacktest.Registration {
			t.Helper()
			deadline := time.Now().Add(20 * time.Second)
			for {
				if reg, found := recv.Registration(regID); found && ok(reg) {
					return reg
				}
				if time.Now().After(deadline) {
					reg, _ := recv.Registration(regID)
					// What the upstream says of the configuration, to tell a
					// delivery waiting on its retry schedule from one lost.
					var diag strings.Builder
					for _, part := range []string{"/status", "/deliveries", "/attempts"} {
						r := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+part, nil, bearer...)
						diag.WriteString("\n" + part + ": " + string(r.body))
					}
					t.Fatalf("%s: the receiver holds %+v; %d requests; the upstream's view:%s", what, reg, len(recv.Requests()), diag.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		scaled := func(reg postbacktest.Registration) float64 {
			if reg.Score == nil || reg.Score.Scaled == nil {
				return -1
			}
			return *reg.Score.Scaled
		}

		// A cmi5 session, one request per statement.
		for _, raw := range resSession("pb-a", 0, 0.92, true) {
			x.expect(http.StatusOK, http.MethodPost, "/statements", raw)
		}
		settled("after the session", func(reg postbacktest.Registration) bool {
			return reg.RegistrationCompletion == "COMPLETED" && reg.RegistrationSuccess == "PASSED" && scaled(reg) == 92
		})
		rev := current().Revision
		if n := len(recv.Accepted()) - 1; n < 1 || int64(n) > rev {
			t.Errorf("%d postbacks for a result at revision %d: want at least one, at most one per change", n, rev)
		}

		// A lower retake: the pass and the score stay.
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("pb-b", 60, 0.5, false), ",")+"]")
		if c := current(); c.Revision == rev {
			t.Fatalf("the retake changed nothing (attempts %d)", c.Attempts)
		}
		// Its last activity (minute 65) tells its postback from the session's.
		settled("after a lower retake", func(reg postbacktest.Registration) bool {
			return reg.ActivityDetails == nil && reg.RegistrationSuccess == "PASSED" && scaled(reg) == 92 &&
				reg.LastAccessDate == "2026-09-02T09:05:00.000Z"
		})

		// An override is posted, and a later better session leaves it.
		a.expect(http.StatusOK, http.MethodPost, progress[:strings.Index(progress, "?")]+"/override"+progress[strings.Index(progress, "?"):],
			`{"set":{"success":false,"score":{"scaled":0.4}},"reason":"taken by someone else"}`, bearer...)
		settled("after the override", func(reg postbacktest.Registration) bool {
			return reg.RegistrationSuccess == "FAILED" && scaled(reg) == 40
		})
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("pb-c", 120, 0.97, true), ",")+"]")
		if c := current(); *c.Computed.Score.Scaled != 0.97 || *c.Success {
			t.Fatalf("the later session: %+v", c)
		}
		settled("the override under a later session", func(reg postbacktest.Registration) bool {
			return reg.RegistrationSuccess == "FAILED" && scaled(reg) == 40 && reg.RegistrationCompletion == "COMPLETED"
		})

		// Three changes while the receiver fails: only the newest arrives once it is back.
		recv.Then(postbacktest.Answer{Status: 503})
		before := len(recv.Accepted())
		for i, score := range []string{"0.41", "0.42", "0.43"} {
			a.expect(http.StatusOK, http.MethodPost, progress[:strings.Index(progress, "?")]+"/override"+progress[strings.Index(progress, "?"):],
				`{"set":{"score":{"scaled":`+score+`}},"reason":"regrade `+string(rune('1'+i))+`"}`, bearer...)
		}
		settled("after the outage", func(reg postbacktest.Registration) bool { return scaled(reg) == 43 })
		got := recv.Accepted()[before:]
		if len(got) != 1 {
			t.Errorf("%d postbacks applied after the outage, want the newest once", len(got))
		}
		for _, q := range got {
			if q.Registration != nil && q.Registration.ID == regID && scaled(*q.Registration) != 43 {
				t.Errorf("an older value reached the receiver after the outage: %v", scaled(*q.Registration))
			}
		}
		// Cleared, the override gives way to the statements (0.97); voiding
		// that verdict withdraws it: the best remaining one (0.92) is posted.
		a.expect(http.StatusOK, http.MethodPost, progress[:strings.Index(progress, "?")]+"/override"+progress[strings.Index(progress, "?"):],
			`{"clear":["success","score"],"reason":"confirmed"}`, bearer...)
		settled("after clearing", func(reg postbacktest.Registration) bool {
			return reg.RegistrationSuccess == "PASSED" && scaled(reg) == 97
		})
		x.expect(http.StatusOK, http.MethodPost, "/statements", `{"id":"`+uuid.NewString()+`","actor":{"mbox":"mailto:admin@example.com"},
"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"`+sessionID("pb-c", "verdict")+`"}}`)
		settled("after voiding the best verdict", func(reg postbacktest.Registration) bool {
			return reg.RegistrationSuccess == "PASSED" && scaled(reg) == 92
		})
		if v := recv.Violations(); len(v) != 0 {
			t.Errorf("ordering violations: %+v", v)
		}
	})
}
