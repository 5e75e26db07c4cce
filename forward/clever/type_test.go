package clever_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
)

// The registry's checks and the package's own say the same, once per
// field: the fields list every property and secret Validate knows.
func TestTypeChecksOncePerField(t *testing.T) {
	typ := clever.Type(func(forward.Configuration, map[string]string) (forward.Destination, error) { return nil, nil })
	if _, err := forward.NewRegistry(typ); err != nil {
		t.Fatal(err)
	}
	good := map[string]string{clever.PropSections: `{"*":["5fee004cca2e43cf27000007"]}`}
	if errs := typ.Check(good, map[string]string{clever.SecretToken: "tok"}); len(errs) != 0 {
		t.Fatalf("a valid configuration: %q", errs)
	}
	for _, f := range typ.Properties {
		if errs := clever.Validate(map[string]string{f.Name: "", clever.PropSections: good[clever.PropSections]}, map[string]string{clever.SecretToken: "tok"}); slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, "unknown") }) {
			t.Errorf("property %s is not one Validate knows: %q", f.Name, errs)
		}
	}
	props := map[string]string{clever.PropGradingType: "letter_grade", clever.PropPointsPossible: "-1",
		clever.PropBaseURL: "ftp://x", "colour": "red", clever.SecretClientSecret: "s"}
	errs := typ.Check(props, nil)
	fields := map[string]int{}
	for _, e := range errs {
		f, _, _ := strings.Cut(e, ": ")
		fields[f]++
	}
	for _, f := range []string{"properties.grading_type", "properties.points_possible", "properties.base_url", "properties.colour",
		"properties.client_secret", "properties.sections", "secrets.token"} {
		if fields[f] != 1 {
			t.Errorf("%s is reported %d times, want once: %q", f, fields[f], errs)
		}
	}
}

func TestGradeOfAResult(t *testing.T) {
	yes, scaled, raw := true, 0.5, 9.0
	r := forward.ObjectiveResult{
		ResultKey: forward.ResultKey{Org: "o", ObjectiveID: "obj", Participant: "mbox:mailto:ada@example.com"},
		Computed:  forward.Values{Completion: &yes, Score: &forward.Score{Scaled: &scaled}},
	}
	g := clever.GradeOf("Quiz", r)
	if g.Objective != "obj" || g.ObjectiveName != "Quiz" || g.Participant != "ada@example.com" ||
		g.Result.Completed == nil || !*g.Result.Completed || g.Result.Success != nil || g.Result.Scaled == nil || *g.Result.Scaled != 0.5 {
		t.Errorf("grade of the computed result: %+v", g)
	}
	// An override wins; the actor's mbox names the participant.
	r.Actor.Mbox = "mailto:Ada@Example.com"
	r.Override.Set = map[forward.ResultField]forward.OverrideEntry{forward.FieldScore: {}}
	r.Override.Values.Score = &forward.Score{Raw: &raw}
	if g := clever.GradeOf("Quiz", r); g.Participant != "Ada@Example.com" || g.Result.Scaled != nil || g.Result.Raw == nil || *g.Result.Raw != 9 {
		t.Errorf("grade of the overridden result: %+v", g)
	}
	// No email: none (Send skips it with the reason).
	r.Actor.Mbox, r.Participant = "", "account:https://sso.example.com grace"
	if g := clever.GradeOf("Quiz", r); g.Participant != "" {
		t.Errorf("participant of an account: %q", g.Participant)
	}
}

func TestReadinessAsATestResult(t *testing.T) {
	r := clever.Readiness{Ready: true, Verdict: "Ready: grades can be written.", Outcome: clever.Outcome{Class: forward.OutcomeSuccess, Status: 200, Message: "x"}}
	if got := r.Result(); got.Outcome != forward.OutcomeSuccess || got.Status != 200 || got.Message != r.Verdict {
		t.Errorf("ready: %+v", got)
	}
	r = clever.Readiness{Verdict: "Not ready: Clever could not be read. Clever refused the credentials", Outcome: clever.Outcome{Class: forward.OutcomeDestination, Status: 403}}
	if got := r.Result(); got.Outcome != forward.OutcomeDestination || got.Status != 403 || got.Message != r.Verdict {
		t.Errorf("not ready: %+v", got)
	}
}
