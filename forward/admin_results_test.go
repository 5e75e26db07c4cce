package forward_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

// resultsAdmin is an administration with the results read model, over
// one memory store, with the objective "fire" of resOrg.
type resultsAdmin struct {
	*resFixture
	admin *forward.Admin
}

func newResultsAdmin(t *testing.T) *resultsAdmin {
	t.Helper()
	f := newResFixture(t, false)
	h := &resultsAdmin{resFixture: f}
	h.admin = forward.NewAdmin(f.db, forwardtest.Registry(t, probeType()), forward.AdminOptions{
		Results: f.results, Invalidate: f.results.Invalidate, Now: func() time.Time { return resT0.Add(48 * time.Hour) }})
	return h
}

func TestParseParticipant(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"ada@example.com", resAda, ""},
		{"Ada@Example.com", resAda, ""},
		{"mailto:ada@example.com", resAda, ""},
		{"mbox:mailto:ADA@example.com", resAda, ""},
		{"mbox_sha1sum:" + strings.Repeat("AB", 20), "mbox_sha1sum:" + strings.Repeat("ab", 20), ""},
		{"openid:https://id.example.com/ada", "openid:https://id.example.com/ada", ""},
		{"account:https://sso.example.com ada.l", "account:https://sso.example.com ada.l", ""},
		{"", "", "participant: is required"},
		{"ada", "", "give an email"},
		{"mbox:ada@example.com", "", "mbox:mailto:<email>"},
		{"mailto:not an email", "", "not an email address"},
		{"mbox_sha1sum:abc", "", "40 hex digits"},
		{"openid:relative/path", "", "absolute IRI"},
		{"account:https://sso.example.com", "", "account:<homePage> <name>"},
		{"account:nohome ada", "", "account:<homePage> <name>"},
		{strings.Repeat("a", 1001) + "@example.com", "", "at most 1000 bytes"},
	} {
		got, err := forward.ParseParticipant(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("ParseParticipant(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !errors.Is(err, forward.ErrInvalid) || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseParticipant(%q): %v; want ErrInvalid with %q", tc.in, err, tc.err)
		}
	}
	if r, err := forward.ParseRegistration("A3B1C2D4-0000-4000-8000-000000000001"); err != nil || r != resReg {
		t.Errorf("ParseRegistration: %q, %v", r, err)
	}
	if _, err := forward.ParseRegistration("a3b1c2d40000400080000000000000001"); !errors.Is(err, forward.ErrInvalid) {
		t.Errorf("ParseRegistration of a non-UUID: %v", err)
	}
}

func TestCheckOverride(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		in   forward.OverrideInput
		want []string // substrings of the problems, in order; none: valid
	}{
		{"valid set and clear", forward.OverrideInput{Values: forward.Values{Completion: ptrTo(true), Score: &forward.Score{Raw: f(8), Min: f(0), Max: f(10)}},
			Set: []forward.ResultField{forward.FieldCompletion, forward.FieldScore}, Clear: []forward.ResultField{forward.FieldSuccess}, Reason: "oral exam"}, nil},
		{"no reason", forward.OverrideInput{Values: forward.Values{Attempts: 1}, Set: []forward.ResultField{forward.FieldAttempts}}, []string{"reason: is required"}},
		{"nothing", forward.OverrideInput{Reason: "x"}, []string{"at least one value"}},
		{"unknown field, twice", forward.OverrideInput{Set: []forward.ResultField{"grade"}, Clear: []forward.ResultField{"grade"}, Reason: "x"},
			[]string{"grade: not a value", "grade: not a value", "named twice"}},
		{"values missing or wrong", forward.OverrideInput{Values: forward.Values{Duration: "12 min", Attempts: -1, Score: &forward.Score{Scaled: f(1.5), Raw: f(11), Min: f(10), Max: f(10)}},
			Set: []forward.ResultField{forward.FieldCompletion, forward.FieldSuccess, forward.FieldDuration, forward.FieldAttempts, forward.FieldScore, forward.FieldCompletedAt}, Reason: "x"},
			[]string{"completion: must be true or false", "success: must be true or false", "duration: \"12 min\"", "attempts: must not be negative",
				"score.min: must be less", "score.raw: must be from", "score.scaled: must be from -1 to 1", "completed_at: must be a time"}},
		{"an empty score", forward.OverrideInput{Values: forward.Values{Score: &forward.Score{}}, Set: []forward.ResultField{forward.FieldScore}, Reason: "x"},
			[]string{"score: must hold at least one"}},
		{"a long reason", forward.OverrideInput{Clear: []forward.ResultField{forward.FieldScore}, Reason: strings.Repeat("é", 501)}, []string{"at most 500 characters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := forward.CheckOverride(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d: %q, want one with %q", i, got[i], w)
				}
			}
		})
	}
}

func TestAdminResults(t *testing.T) {
	h := newResultsAdmin(t)
	ctx := t.Context()
	h.store(t, session("s1", 0, 0.9, true)...)
	grace := stmt("grace-1", vComp, resAct, 3, "")
	grace.Raw = []byte(strings.NewReplacer("mailto:Ada@example.com", "mailto:grace@example.com", `"registration":"`+resReg+`"`, "").Replace(string(grace.Raw)))
	h.store(t, grace)

	r, err := h.admin.Result(ctx, resOrg, "fire", "Ada@example.com", strings.ToUpper(resReg))
	if err != nil || !r.Passed() || r.Participant != resAda {
		t.Fatalf("Result: %+v, %v", r, err)
	}
	for _, tc := range []struct {
		objective, participant, registration string
		kind                                 error
		msg                                  string
	}{
		{"nope", "ada@example.com", "", forward.ErrNotFound, `no objective "nope"`},
		{"fire", "ada@example.com", "", forward.ErrNotFound, "(no registration)"},
		{"fire", "grace@example.com", resReg, forward.ErrNotFound, "registration " + resReg},
		{"fire", "ada", "", forward.ErrInvalid, "participant"},
		{"fire", "ada@example.com", "nope", forward.ErrInvalid, "registration"},
	} {
		if _, err := h.admin.Result(ctx, resOrg, tc.objective, tc.participant, tc.registration); !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Result(%s, %s, %s): %v; want %v with %q", tc.objective, tc.participant, tc.registration, err, tc.kind, tc.msg)
		}
	}

	// Lists and their checks.
	page, next, err := h.admin.ListResults(ctx, forward.ResultQuery{Org: resOrg, ObjectiveID: "fire", Completed: ptrTo(true), Limit: 10})
	if err != nil || len(page) != 2 || next != nil {
		t.Fatalf("completed results: %d, next %v, %v", len(page), next, err)
	}
	page, next, err = h.admin.ListResults(ctx, forward.ResultQuery{Org: resOrg, ObjectiveID: "fire", Limit: 1})
	if err != nil || len(page) != 1 || next == nil || next.Participant != page[0].Participant {
		t.Fatalf("a first page of one: %d, next %v, %v", len(page), next, err)
	}
	page, next, err = h.admin.ListResults(ctx, forward.ResultQuery{Org: resOrg, ObjectiveID: "fire", Limit: 1, After: next})
	if err != nil || len(page) != 1 || next != nil || page[0].Participant != "mbox:mailto:grace@example.com" {
		t.Fatalf("the last page: %d, next %v, %v", len(page), next, err)
	}
	page, _, err = h.admin.ListResults(ctx, forward.ResultQuery{Org: resOrg, Participant: "ada@example.com", Limit: 10})
	if err != nil || len(page) != 1 || page[0].ObjectiveID != "fire" {
		t.Fatalf("Ada's results: %+v, %v", page, err)
	}
	for _, q := range []forward.ResultQuery{
		{Org: resOrg, Limit: 10},
		{Org: resOrg, ObjectiveID: "fire", Limit: 0},
		{Org: resOrg, ObjectiveID: "fire", Limit: 1001},
		{Org: resOrg, Participant: "nobody", Limit: 10},
	} {
		if _, _, err := h.admin.ListResults(ctx, q); !errors.Is(err, forward.ErrInvalid) {
			t.Errorf("ListResults(%+v): %v, want ErrInvalid", q, err)
		}
	}
	var all []string
	if err := h.admin.EachResult(ctx, forward.ResultQuery{Org: resOrg, ObjectiveID: "fire"}, func(r forward.ObjectiveResult) error {
		all = append(all, r.Registration)
		return nil
	}); err != nil || len(all) != 2 {
		t.Errorf("EachResult: %v, %v", all, err)
	}

	// Overrides.
	r, err = h.admin.OverrideResult(ctx, resOrg, "fire", "ada@example.com", resReg, forward.OverrideInput{
		Values: forward.Values{Success: ptrTo(false)}, Set: []forward.ResultField{forward.FieldSuccess}, Reason: "cheated", By: "admin-token"})
	if err != nil || r.Passed() || r.Override.Set[forward.FieldSuccess].By != "admin-token" {
		t.Fatalf("OverrideResult: %+v, %v", r, err)
	}
	if _, err := h.admin.OverrideResult(ctx, resOrg, "fire", "ada@example.com", resReg, forward.OverrideInput{Clear: []forward.ResultField{forward.FieldScore}, Reason: "x"}); !errors.Is(err, forward.ErrConflict) {
		t.Errorf("clearing a value that is not overridden: %v, want ErrConflict", err)
	}
	if _, err := h.admin.OverrideResult(ctx, resOrg, "fire", "ada@example.com", resReg, forward.OverrideInput{Reason: "x"}); !errors.Is(err, forward.ErrInvalid) {
		t.Errorf("an empty override: %v, want ErrInvalid", err)
	}
	if _, err := h.admin.OverrideResult(ctx, resOrg, "fire", "nobody@example.com", "", forward.OverrideInput{Clear: []forward.ResultField{forward.FieldScore}, Reason: "x"}); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("an override of no result: %v, want ErrNotFound", err)
	}
}

func TestAdminObjectiveRulesRecompute(t *testing.T) {
	h := newResultsAdmin(t)
	ctx := t.Context()
	h.store(t, session("s1", 0, 0.9, true)...)
	h.store(t, session("s2", 60, 0.5, false)...)
	in := forward.ObjectiveInput{Name: "Fire safety", ActivityID: resAct, LatestAttemptCounts: true}
	o, err := h.admin.UpdateObjective(ctx, resOrg, "fire", in)
	if err != nil || !o.LatestAttemptCounts {
		t.Fatalf("UpdateObjective: %+v, %v", o, err)
	}
	if r := h.result(t); r.Passed() || *r.Computed.Score.Scaled != 0.5 {
		t.Errorf("after switching to the latest attempt: %s", summary(r))
	}
	// Only passed and failed count now: the completed statements no longer
	// do.
	in.Verbs = []string{vPassed, vFailed}
	if _, err := h.admin.UpdateObjective(ctx, resOrg, "fire", in); err != nil {
		t.Fatal(err)
	}
	if r := h.result(t); r.Computed.Completion != nil || r.Statements != 2 {
		t.Errorf("after narrowing the verbs: %s", summary(r))
	}
	if n, err := h.admin.RecomputeResults(ctx, resOrg, "fire"); err != nil || n != 1 {
		t.Errorf("RecomputeResults: %d, %v", n, err)
	}
	if err := h.admin.DeleteObjective(ctx, resOrg, "fire"); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.db.GetResults(ctx, []forward.ResultKey{h.key()}); len(got) != 0 {
		t.Errorf("the results of a deleted objective stay: %d", len(got))
	}
	// Without a read model, results answer ErrConflict.
	bare := forward.NewAdmin(h.db, forwardtest.Registry(t, probeType()), forward.AdminOptions{})
	if _, _, err := bare.ListResults(ctx, forward.ResultQuery{Org: resOrg, ObjectiveID: "fire", Limit: 1}); !errors.Is(err, forward.ErrConflict) {
		t.Errorf("results without a read model: %v", err)
	}
}
