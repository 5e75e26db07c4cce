package postback_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/postback"
)

func ptr[T any](v T) *T { return &v }

// fixture is a completed, passed result with every value, its first
// activity given in another zone (sent in UTC) and its updated time with
// microseconds (sent to the millisecond).
func fixture() postback.Input {
	dur := 12*time.Minute + 30*time.Second
	return postback.Input{
		Organization: "org-1",
		Objective:    postback.Objective{ID: "objective-42", Name: "Fire safety drill", ActivityIRI: "https://courses.example.com/fire-safety"},
		Participant:  postback.Participant{Email: "ada@example.com", Name: "Ada  Lovelace"},
		Result: postback.Result{
			Registration: "a3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
			Completed:    ptr(true), Passed: ptr(true),
			Score:           postback.Score{Scaled: ptr(0.92), Raw: ptr(46.0), Min: ptr(0.0), Max: ptr(50.0)},
			Duration:        &dur,
			FirstActivityAt: time.Date(2026, 9, 2, 10, 1, 0, 0, time.FixedZone("CEST", 2*3600)),
			LastActivityAt:  time.Date(2026, 9, 2, 8, 14, 59, 0, time.UTC),
			CompletedAt:     time.Date(2026, 9, 2, 8, 14, 59, 0, time.UTC),
			Attempts:        2, Revision: 5,
			CreatedAt: time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC),
			UpdatedAt: time.Date(2026, 9, 2, 8, 15, 1, 234567000, time.UTC),
		},
	}
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.Bytes()
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct{ format, file string }{
		{"", "course.json"}, {"course", "course.json"}, {"activity", "activity.json"}, {"full", "full.json"},
	} {
		reg, err := postback.Render(fixture(), tc.format)
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		got, _ := json.Marshal(reg)
		if want := golden(t, tc.file); !bytes.Equal(got, want) {
			t.Errorf("resultsFormat %q:\n got %s\nwant %s", tc.format, got, want)
		}
	}
}

func TestRenderBareResult(t *testing.T) {
	// A result with nothing but its participant, objective and updated
	// time: unknown states, no score, zero time, no optional dates.
	in := postback.Input{
		Organization: "org-1",
		Objective:    postback.Objective{ID: "objective-42", Name: "Fire safety drill"},
		Participant:  postback.Participant{Email: "grace@example.com", Name: "Grace"},
		Result:       postback.Result{UpdatedAt: time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)},
	}
	reg, err := postback.Render(in, postback.FormatCourse)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(reg)
	want := `{"id":"bc824cd1-7564-5b03-bd91-fc2dd9aec03b","instance":0,"updated":"2026-09-02T08:00:00.000Z",` +
		`"registrationCompletion":"UNKNOWN","registrationCompletionAmount":0,"registrationSuccess":"UNKNOWN",` +
		`"totalSecondsTracked":0,"course":{"id":"objective-42","title":"Fire safety drill","version":0},` +
		`"learner":{"id":"grace@example.com","email":"grace@example.com","firstName":"Grace"},` +
		`"tags":[],"globalObjectives":[],"sharedData":[]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRegistrationID(t *testing.T) {
	// Values computed independently (Python's uuid.uuid5).
	if got := postback.RegistrationID("org-1", "objective-42", "ada@example.com", "a3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"); got != "7ada9b45-fae1-5eb4-9d5f-599a64433f14" {
		t.Errorf("RegistrationID = %s", got)
	}
	in := fixture()
	ids := map[string]bool{in.RegistrationID(): true}
	for _, change := range []func(*postback.Input){
		func(in *postback.Input) { in.Organization = "org-2" },
		func(in *postback.Input) { in.Objective.ID = "objective-43" },
		func(in *postback.Input) { in.Participant.Email = "grace@example.com" },
		func(in *postback.Input) { in.Result.Registration = "" },
		func(in *postback.Input) { in.Organization, in.Objective.ID = "org-1\x00objective-42", "" }, // no ambiguity across the separator
	} {
		c := fixture()
		change(&c)
		if ids[c.RegistrationID()] {
			t.Errorf("%+v shares an id", c)
		}
		ids[c.RegistrationID()] = true
	}
	// Every other value of the result keeps the id (a new revision is the
	// same registration).
	c := fixture()
	c.Result.Revision, c.Result.Completed, c.Result.UpdatedAt = 9, ptr(false), time.Now()
	if c.RegistrationID() != in.RegistrationID() {
		t.Error("the id changed with the result's values")
	}
}

func TestDeliveryID(t *testing.T) {
	a := postback.DeliveryID("r", []byte(`{"x":1}`))
	if a != postback.DeliveryID("r", []byte(`{"x":1}`)) {
		t.Error("not stable")
	}
	if a == postback.DeliveryID("r", []byte(`{"x":2}`)) || a == postback.DeliveryID("s", []byte(`{"x":1}`)) {
		t.Error("not distinct")
	}
	if len(a) != 36 || a[14] != '5' || !strings.ContainsAny(a[19:20], "89ab") {
		t.Errorf("%s is not a version-5 UUID", a)
	}
}

func TestEnumMapping(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                string
		r                   postback.Result
		completion, success string
		amount              float64
		cmi                 string
	}{
		{"nothing known", postback.Result{}, "UNKNOWN", "UNKNOWN", 0, "unknown"},
		{"launched (first activity)", postback.Result{FirstActivityAt: at}, "INCOMPLETE", "UNKNOWN", 0, "incomplete"},
		{"launched (last activity)", postback.Result{LastActivityAt: at}, "INCOMPLETE", "UNKNOWN", 0, "incomplete"},
		{"an attempt", postback.Result{Attempts: 1}, "INCOMPLETE", "UNKNOWN", 0, "incomplete"},
		{"not completed", postback.Result{Completed: ptr(false)}, "INCOMPLETE", "UNKNOWN", 0, "incomplete"},
		{"completed", postback.Result{Completed: ptr(true)}, "COMPLETED", "UNKNOWN", 100, "completed"},
		{"passed, completion unknown", postback.Result{Passed: ptr(true)}, "UNKNOWN", "PASSED", 0, "unknown"},
		{"failed and completed", postback.Result{Completed: ptr(true), Passed: ptr(false)}, "COMPLETED", "FAILED", 100, "completed"},
		{"passed and completed", postback.Result{Completed: ptr(true), Passed: ptr(true)}, "COMPLETED", "PASSED", 100, "completed"},
		{"failed, incomplete", postback.Result{Completed: ptr(false), Passed: ptr(false), Attempts: 3}, "INCOMPLETE", "FAILED", 0, "incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture()
			in.Result = tc.r
			in.Result.UpdatedAt = at
			reg, err := postback.Render(in, postback.FormatFull)
			if err != nil {
				t.Fatal(err)
			}
			ad, child := reg.ActivityDetails, reg.ActivityDetails.Children[0]
			if reg.RegistrationCompletion != tc.completion || ad.ActivityCompletion != tc.completion || child.ActivityCompletion != tc.completion {
				t.Errorf("completion %s/%s/%s, want %s", reg.RegistrationCompletion, ad.ActivityCompletion, child.ActivityCompletion, tc.completion)
			}
			if reg.RegistrationSuccess != tc.success || ad.ActivitySuccess != tc.success || child.Runtime.RuntimeSuccessStatus != tc.success {
				t.Errorf("success %s/%s/%s, want %s", reg.RegistrationSuccess, ad.ActivitySuccess, child.Runtime.RuntimeSuccessStatus, tc.success)
			}
			if reg.RegistrationCompletionAmount != tc.amount || ad.CompletionAmount.Scaled != tc.amount {
				t.Errorf("completion amount %v, want %v", reg.RegistrationCompletionAmount, tc.amount)
			}
			if child.Runtime.CompletionStatus != tc.cmi {
				t.Errorf("runtime completionStatus %s, want %s", child.Runtime.CompletionStatus, tc.cmi)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    postback.Score
		want float64
		ok   bool
	}{
		{"scaled 0.92 (not 92.00000000000001)", postback.Score{Scaled: ptr(0.92)}, 92, true},
		{"scaled 1", postback.Score{Scaled: ptr(1.0)}, 100, true},
		{"scaled 0", postback.Score{Scaled: ptr(0.0)}, 0, true},
		{"scaled 0.285 (28.499999999999996 in floating point)", postback.Score{Scaled: ptr(0.285)}, 28.5, true},
		{"scaled 0.12345 rounds half up", postback.Score{Scaled: ptr(0.12345)}, 12.35, true},
		{"scaled 0.12344 rounds down", postback.Score{Scaled: ptr(0.12344)}, 12.34, true},
		{"scaled 0.01005 (0.01004999… in binary) rounds up", postback.Score{Scaled: ptr(0.01005)}, 1.01, true},
		{"scaled 0.70005 (0.70004999… in binary) rounds up", postback.Score{Scaled: ptr(0.70005)}, 70.01, true},
		{"scaled 0.07", postback.Score{Scaled: ptr(0.07)}, 7, true},
		{"scaled 1e-05", postback.Score{Scaled: ptr(0.00001)}, 0, true},
		{"negative scaled is 0", postback.Score{Scaled: ptr(-0.5)}, 0, true},
		{"scaled -1 is 0", postback.Score{Scaled: ptr(-1.0)}, 0, true},
		{"scaled wins over raw", postback.Score{Scaled: ptr(0.5), Raw: ptr(9.0), Max: ptr(10.0)}, 50, true},
		{"raw within min and max", postback.Score{Raw: ptr(46.0), Min: ptr(0.0), Max: ptr(50.0)}, 92, true},
		{"raw without min", postback.Score{Raw: ptr(7.0), Max: ptr(8.0)}, 87.5, true},
		{"raw with a min", postback.Score{Raw: ptr(15.0), Min: ptr(10.0), Max: ptr(20.0)}, 50, true},
		{"raw one third", postback.Score{Raw: ptr(1.0), Max: ptr(3.0)}, 33.33, true},
		{"raw two thirds", postback.Score{Raw: ptr(2.0), Max: ptr(3.0)}, 66.67, true},
		{"negative raw range", postback.Score{Raw: ptr(-5.0), Min: ptr(-10.0), Max: ptr(10.0)}, 25, true},
		{"raw below min is 0", postback.Score{Raw: ptr(-1.0), Min: ptr(0.0), Max: ptr(10.0)}, 0, true},
		{"raw above max is 100", postback.Score{Raw: ptr(11.0), Max: ptr(10.0)}, 100, true},
		{"raw alone: no score", postback.Score{Raw: ptr(46.0)}, 0, false},
		{"max equals min: no score", postback.Score{Raw: ptr(5.0), Min: ptr(5.0), Max: ptr(5.0)}, 0, false},
		{"no parts: no score", postback.Score{}, 0, false},
	} {
		got, ok := postback.Percent(tc.s)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Percent = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	// Absent score: no score object at all.
	in := fixture()
	in.Result.Score = postback.Score{Raw: ptr(3.0)}
	reg, _ := postback.Render(in, postback.FormatActivity)
	if reg.Score != nil || reg.ActivityDetails.Score != nil {
		t.Errorf("a score was sent for a score that cannot be scaled: %+v", reg.Score)
	}
	// A negative score keeps its exact value in the runtime data.
	in.Result.Score = postback.Score{Scaled: ptr(-0.25)}
	reg, _ = postback.Render(in, postback.FormatFull)
	if reg.Score.Scaled != 0 || reg.ActivityDetails.Children[0].Runtime.ScoreScaled != "-0.25" {
		t.Errorf("negative score: %v, runtime %q", reg.Score.Scaled, reg.ActivityDetails.Children[0].Runtime.ScoreScaled)
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		d        *time.Duration
		seconds  float64
		tracked  string
		duration string
	}{
		{nil, 0, "0000:00:00", "PT0S"},
		{ptr(time.Duration(0)), 0, "0000:00:00", "PT0S"},
		{ptr(-time.Second), 0, "0000:00:00", "PT0S"},
		{ptr(750 * time.Second), 750, "0000:12:30", "PT12M30S"},
		{ptr(time.Hour), 3600, "0001:00:00", "PT1H"},
		{ptr(1500 * time.Millisecond), 1.5, "0000:00:01.50", "PT1.50S"},
		{ptr(2*time.Hour + 3*time.Minute + 4560*time.Millisecond), 7384.56, "0002:03:04.56", "PT2H3M4.56S"},
		{ptr(4*time.Millisecond + 5*time.Millisecond), 0.01, "0000:00:00.01", "PT0.01S"}, // rounded to hundredths
		{ptr(10001 * time.Hour), 36003600, "10001:00:00", "PT10001H"},
	} {
		if got := postback.Seconds(tc.d); got != tc.seconds {
			t.Errorf("Seconds(%v) = %v, want %v", tc.d, got, tc.seconds)
		}
		if got := postback.TimeTracked(tc.d); got != tc.tracked {
			t.Errorf("TimeTracked(%v) = %q, want %q", tc.d, got, tc.tracked)
		}
		if got := postback.ISODuration(tc.d); got != tc.duration {
			t.Errorf("ISODuration(%v) = %q, want %q", tc.d, got, tc.duration)
		}
	}
}

func TestLearnerNames(t *testing.T) {
	for _, tc := range []struct {
		p           postback.Participant
		first, last string
	}{
		{postback.Participant{Name: "Ada Lovelace"}, "Ada", "Lovelace"},
		{postback.Participant{Name: "Ludwig van Beethoven"}, "Ludwig", "van Beethoven"},
		{postback.Participant{Name: "  Grace   Brewster  Hopper "}, "Grace", "Brewster Hopper"},
		{postback.Participant{Name: "Hypatia"}, "Hypatia", ""},
		{postback.Participant{}, "", ""},
		{postback.Participant{Name: "ignored name", FirstName: "Mary Ann", LastName: "Evans"}, "Mary Ann", "Evans"},
		{postback.Participant{Name: "ignored", LastName: "Only"}, "", "Only"},
	} {
		in := fixture()
		tc.p.Email = "x@example.com"
		in.Participant = tc.p
		reg, err := postback.Render(in, "")
		if err != nil {
			t.Fatal(err)
		}
		if reg.Learner.FirstName != tc.first || reg.Learner.LastName != tc.last || reg.Learner.ID != "x@example.com" || reg.Learner.Email != "x@example.com" {
			t.Errorf("%+v: learner %+v, want %q %q", tc.p, reg.Learner, tc.first, tc.last)
		}
	}
}

func TestRenderRefusesWhatCannotBeSent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*postback.Input)
		format string
		want   string
	}{
		{"no email", func(in *postback.Input) { in.Participant.Email = "" }, "", "no participant email"},
		{"no objective", func(in *postback.Input) { in.Objective.ID = "" }, "", "no objective id"},
		{"no updated time", func(in *postback.Input) { in.Result.UpdatedAt = time.Time{} }, "", "no updated time"},
		{"several at once", func(in *postback.Input) { in.Participant.Email, in.Result.UpdatedAt = "", time.Time{} }, "", "no participant email, no updated time"},
		{"no activity IRI for activityDetails", func(in *postback.Input) { in.Objective.ActivityIRI = "" }, "activity", "no activity IRI"},
	} {
		in := fixture()
		tc.change(&in)
		_, err := postback.Render(in, tc.format)
		if !errors.Is(err, postback.ErrNotSendable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrNotSendable with %q", tc.name, err, tc.want)
		}
	}
	// Without activityDetails the activity IRI is not needed.
	in := fixture()
	in.Objective.ActivityIRI = ""
	if _, err := postback.Render(in, "course"); err != nil {
		t.Errorf("course format without an activity IRI: %v", err)
	}
	if _, err := postback.Render(fixture(), "xml"); err == nil || errors.Is(err, postback.ErrNotSendable) {
		t.Errorf("an unknown format: %v", err)
	}
}
