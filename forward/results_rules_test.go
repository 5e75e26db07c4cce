package forward

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

const ruleAct = "https://example.com/courses/fire-safety"

var ruleT0 = time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)

// contrib is a contribution of statement id at minute min of the test day.
func contrib(id string, min int, verb string) Contribution {
	return Contribution{
		ResultKey:   ResultKey{Org: "acme", ObjectiveID: "obj", Participant: "mbox:mailto:ada@example.com"},
		StatementID: id, Stored: ruleT0.Add(time.Duration(min)*time.Minute + time.Second),
		Timestamp: ruleT0.Add(time.Duration(min) * time.Minute), Verb: verb, Activity: ruleAct,
		Actor: Actor{Name: "Ada " + id, Mbox: "mailto:ada@example.com"},
	}
}

func withScore(c Contribution, scaled float64) Contribution {
	c.Score = &Score{Scaled: &scaled}
	return c
}

func withResult(c Contribution, completion, success *bool) Contribution {
	c.Completion, c.Success = completion, success
	return c
}

func withDuration(c Contribution, d string) Contribution { c.Duration = d; return c }

// cmi5Session is a cmi5 AU session: launched, initialized, answered,
// completed, passed (with scaled), terminated, from minute start on.
func cmi5Session(prefix string, start int, scaled float64, pass bool) []Contribution {
	verdict := VerbPassed
	if !pass {
		verdict = VerbFailed
	}
	return []Contribution{
		contrib(prefix+"-launched", start, VerbLaunched),
		contrib(prefix+"-initialized", start+1, VerbInitialized),
		contrib(prefix+"-answered", start+2, "http://adlnet.gov/expapi/verbs/answered"),
		withResult(contrib(prefix+"-completed", start+3, VerbCompleted), ptr(true), nil),
		withDuration(withResult(withScore(contrib(prefix+"-"+verdictName(pass), start+4, verdict), scaled), nil, ptr(pass)), "PT4M"),
		withDuration(contrib(prefix+"-terminated", start+5, "http://adlnet.gov/expapi/verbs/terminated"), "PT5M"),
	}
}

func verdictName(pass bool) string {
	if pass {
		return "passed"
	}
	return "failed"
}

func boolStr(b *bool) string {
	if b == nil {
		return "unknown"
	}
	return fmt.Sprint(*b)
}

func scoreStr(s *Score) string {
	if s == nil || s.Scaled == nil {
		return "none"
	}
	return fmt.Sprint(*s.Scaled)
}

func TestResultRules(t *testing.T) {
	best := Objective{ID: "obj", ActivityID: ruleAct}
	latest := Objective{ID: "obj", ActivityID: ruleAct, LatestAttemptCounts: true}
	at := func(min int) time.Time { return ruleT0.Add(time.Duration(min) * time.Minute) }
	retake := slices.Concat(cmi5Session("s1", 0, 0.9, true), cmi5Session("s2", 60, 0.5, false))
	relaunch := slices.Concat(cmi5Session("s1", 0, 0.9, true), []Contribution{
		contrib("s2-launched", 60, VerbLaunched), contrib("s2-initialized", 61, VerbInitialized)})
	for _, tc := range []struct {
		name       string
		obj        Objective
		cs         []Contribution
		completion string
		success    string
		score      string
		sources    Sources
		attempts   int
		completed  time.Time
		statements int
	}{
		{
			name: "cmi5 session", obj: best, cs: cmi5Session("s1", 0, 0.92, true),
			completion: "true", success: "true", score: "0.92", attempts: 1, completed: at(3), statements: 6,
			sources: Sources{Completion: "s1-completed", Success: "s1-passed", Score: "s1-passed", Duration: "s1-terminated",
				FirstActivity: "s1-launched", LastActivity: "s1-terminated", CompletedAt: "s1-completed"},
		},
		{
			name: "a retake with a lower score keeps the pass and the score", obj: best, cs: retake,
			completion: "true", success: "true", score: "0.9", attempts: 2, completed: at(3), statements: 12,
			sources: Sources{Completion: "s2-completed", Success: "s1-passed", Score: "s1-passed", Duration: "s2-terminated",
				FirstActivity: "s1-launched", LastActivity: "s2-terminated", CompletedAt: "s1-completed"},
		},
		{
			name: "latest attempt counts: the retake's fail and score", obj: latest, cs: retake,
			completion: "true", success: "false", score: "0.5", attempts: 2, completed: at(63), statements: 12,
			sources: Sources{Completion: "s2-completed", Success: "s2-failed", Score: "s2-failed", Duration: "s2-terminated",
				FirstActivity: "s1-launched", LastActivity: "s2-terminated", CompletedAt: "s2-completed"},
		},
		{
			name: "an incomplete relaunch does not undo a pass", obj: best, cs: relaunch,
			completion: "true", success: "true", score: "0.9", attempts: 2, completed: at(3), statements: 8,
			sources: Sources{Completion: "s1-completed", Success: "s1-passed", Score: "s1-passed", Duration: "s1-terminated",
				FirstActivity: "s1-launched", LastActivity: "s2-initialized", CompletedAt: "s1-completed"},
		},
		{
			name: "latest attempt counts: an incomplete relaunch starts over", obj: latest, cs: relaunch,
			completion: "unknown", success: "unknown", score: "none", attempts: 2, statements: 8,
			sources: Sources{FirstActivity: "s1-launched", LastActivity: "s2-initialized"},
		},
		{
			name: "failed then passed: the later pass", obj: best,
			cs:         []Contribution{contrib("f", 0, VerbFailed), contrib("p", 5, VerbPassed)},
			completion: "unknown", success: "true", score: "none", attempts: 1, statements: 2,
			sources: Sources{Success: "p", FirstActivity: "f", LastActivity: "p"},
		},
		{
			name: "two fails: the later one sets it", obj: best,
			cs:         []Contribution{contrib("f1", 0, VerbFailed), contrib("f2", 5, VerbFailed)},
			completion: "unknown", success: "false", score: "none", attempts: 1, statements: 2,
			sources: Sources{Success: "f2", FirstActivity: "f1", LastActivity: "f2"},
		},
		{
			name: "result fields win over the verb", obj: best,
			cs:         []Contribution{withResult(contrib("c", 0, VerbCompleted), ptr(false), nil), withResult(contrib("p", 1, VerbPassed), nil, ptr(false))},
			completion: "false", success: "false", score: "none", attempts: 1, statements: 2,
			sources: Sources{Completion: "c", Success: "p", FirstActivity: "c", LastActivity: "p"},
		},
		{
			name: "voided, other-activity and other-verb statements do not count",
			obj:  Objective{ID: "obj", ActivityID: ruleAct, Verbs: []string{VerbPassed, VerbFailed}},
			cs: func() []Contribution {
				voided := withScore(contrib("voided", 9, VerbPassed), 1)
				voided.Voided = true
				other := withScore(contrib("other", 8, VerbPassed), 1)
				other.Activity = "https://example.com/other"
				return []Contribution{withScore(contrib("f", 1, VerbFailed), 0.2), voided, other, contrib("c", 7, VerbCompleted)}
			}(),
			completion: "unknown", success: "false", score: "0.2", attempts: 1, statements: 1,
			sources: Sources{Success: "f", Score: "f", FirstActivity: "f", LastActivity: "f"},
		},
		{
			name: "equal timestamps: stored, then id, decide", obj: best,
			cs: func() []Contribution {
				a, b, c := withScore(contrib("a", 0, ""), 0.5), withScore(contrib("b", 0, ""), 0.5), withScore(contrib("c", 0, ""), 0.5)
				a.Stored = b.Stored.Add(time.Millisecond) // a is stored last
				return []Contribution{a, b, c}
			}(),
			completion: "unknown", success: "unknown", score: "0.5", attempts: 1, statements: 3,
			sources: Sources{Score: "a", FirstActivity: "b", LastActivity: "a"},
		},
		{name: "nothing counts", obj: best, completion: "unknown", success: "unknown", score: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, src, _, n := computeResult(tc.obj, tc.cs)
			if got := boolStr(v.Completion); got != tc.completion {
				t.Errorf("completion %s, want %s", got, tc.completion)
			}
			if got := boolStr(v.Success); got != tc.success {
				t.Errorf("success %s, want %s", got, tc.success)
			}
			if got := scoreStr(v.Score); got != tc.score {
				t.Errorf("score %s, want %s", got, tc.score)
			}
			if v.Attempts != tc.attempts || n != tc.statements {
				t.Errorf("attempts %d, statements %d; want %d, %d", v.Attempts, n, tc.attempts, tc.statements)
			}
			if !v.CompletedAt.Equal(tc.completed) {
				t.Errorf("completed at %v, want %v", v.CompletedAt, tc.completed)
			}
			if src != tc.sources {
				t.Errorf("sources\n got %+v\nwant %+v", src, tc.sources)
			}
		})
	}
}

func TestResultRulesScores(t *testing.T) {
	obj := Objective{ID: "obj", ActivityID: ruleAct}
	raw := func(id string, min int, r, lo, hi *float64) Contribution {
		c := contrib(id, min, "")
		c.Score = &Score{Raw: r, Min: lo, Max: hi}
		return c
	}
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		cs   []Contribution
		want string // statement that sets the score
	}{
		{"the highest scaled", []Contribution{withScore(contrib("a", 0, ""), 0.7), withScore(contrib("b", 1, ""), 0.9), withScore(contrib("c", 2, ""), 0.8)}, "b"},
		{"raw mapped by min and max compares with scaled", []Contribution{withScore(contrib("a", 0, ""), 0.7), raw("b", 1, f(80), f(0), f(100))}, "b"},
		{"a comparable score beats a raw-only one", []Contribution{raw("a", 0, f(95), nil, nil), withScore(contrib("b", 1, ""), -0.5)}, "b"},
		{"raw-only scores by raw", []Contribution{raw("a", 0, f(12), nil, nil), raw("b", 1, f(7), nil, nil)}, "a"},
		{"equal scores: the later", []Contribution{withScore(contrib("a", 0, ""), 0.7), withScore(contrib("b", 1, ""), 0.7)}, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, src, _, _ := computeResult(obj, tc.cs)
			if src.Score != tc.want {
				t.Errorf("score set by %q, want %q", src.Score, tc.want)
			}
		})
	}
}

// The result is a function of the set of contributions: every order of
// arrival gives the same values, sources and actor (all permutations of a
// small set, random ones of a large set, in both modes).
func TestResultRulesOrderFree(t *testing.T) {
	small := slices.Concat(cmi5Session("s1", 0, 0.9, true)[3:], cmi5Session("s2", 60, 0.5, false)[3:])
	large := slices.Concat(cmi5Session("s1", 0, 0.6, false), cmi5Session("s2", 30, 0.95, true),
		cmi5Session("s3", 60, 0.95, true), cmi5Session("s4", 90, 0.4, false))
	// Ties on timestamp, broken by stored then id.
	large[7].Timestamp, large[13].Timestamp = large[2].Timestamp, large[2].Timestamp
	large[13].Stored = large[7].Stored
	for _, obj := range []Objective{{ID: "obj", ActivityID: ruleAct}, {ID: "obj", ActivityID: ruleAct, LatestAttemptCounts: true}} {
		want := describe(computeResult(obj, small))
		n := 0
		permute(slices.Clone(small), 0, func(p []Contribution) {
			n++
			if got := describe(computeResult(obj, p)); got != want {
				t.Fatalf("latest=%v: order %v gives\n%s\nwant\n%s", obj.LatestAttemptCounts, ids(p), got, want)
			}
		})
		if n != 720 {
			t.Fatalf("%d permutations, want 720", n)
		}
		want = describe(computeResult(obj, large))
		r := rand.New(rand.NewPCG(1, 2))
		for range 2000 {
			p := slices.Clone(large)
			r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
			if got := describe(computeResult(obj, p)); got != want {
				t.Fatalf("latest=%v: order %v gives\n%s\nwant\n%s", obj.LatestAttemptCounts, ids(p), got, want)
			}
		}
	}
}

// describe prints a computed result with its pointers followed.
func describe(v Values, src Sources, a Actor, n int) string {
	return fmt.Sprintf("completion=%s success=%s score=%s duration=%s attempts=%d first=%v last=%v completed=%v %+v %+v %d",
		boolStr(v.Completion), boolStr(v.Success), scoreStr(v.Score), v.Duration, v.Attempts,
		v.FirstActivity, v.LastActivity, v.CompletedAt, src, a, n)
}

func permute(a []Contribution, k int, visit func([]Contribution)) {
	if k == len(a) {
		visit(a)
		return
	}
	for i := k; i < len(a); i++ {
		a[k], a[i] = a[i], a[k]
		permute(a, k+1, visit)
		a[k], a[i] = a[i], a[k]
	}
}

func ids(cs []Contribution) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.StatementID
	}
	return out
}

func TestResultEffective(t *testing.T) {
	r := ObjectiveResult{Computed: Values{Completion: ptr(false), Attempts: 3, Score: &Score{Scaled: ptr(0.4)}}}
	r.Override = Override{Values: Values{Completion: ptr(true), Attempts: 0},
		Set: map[ResultField]OverrideEntry{FieldCompletion: {By: "ops"}, FieldAttempts: {By: "ops"}}}
	v := r.Effective()
	if !*v.Completion || v.Attempts != 0 || *v.Score.Scaled != 0.4 {
		t.Errorf("effective %+v: want the overridden completion and attempts over the computed score", v)
	}
	if !r.Completed() || r.Passed() || !slices.Equal(r.OverriddenFields(), []ResultField{FieldCompletion, FieldAttempts}) {
		t.Errorf("completed %v passed %v overridden %v", r.Completed(), r.Passed(), r.OverriddenFields())
	}
	k := ResultKey{Org: "a", ObjectiveID: "b", Participant: "c", Registration: "d"}
	if k.ID() != k.ID() || k.ID() == (ResultKey{Org: "a", ObjectiveID: "b", Participant: "c\x00d"}).ID() {
		t.Errorf("result ids: %s is not stable or collides", k.ID())
	}
}
