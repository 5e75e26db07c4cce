package forward

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// computeResult orders the contributions as compareOrder does (timestamp,
// then stored time, then statement id), times before 1970 and within one
// second included: its first and last statements are compareOrder's
// first and last, and the completion of "latest attempt counts" follows
// the latest statement.
func TestComputeResultOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	o := Objective{ID: "o", ActivityID: "a"}
	bases := []time.Time{time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)}
	for round := range 200 {
		n := 1 + r.IntN(30)
		cs := make([]Contribution, n)
		for i := range cs {
			base := bases[r.IntN(len(bases))]
			cs[i] = Contribution{StatementID: fmt.Sprintf("s%03d", r.IntN(1000)), Activity: "a", Verb: VerbCompleted,
				Timestamp: base.Add(time.Duration(r.IntN(3000)-1500) * time.Millisecond),
				Stored:    base.Add(time.Duration(r.IntN(3)) * time.Millisecond), Completion: ptr(r.IntN(2) == 0)}
		}
		ptrs := make([]*Contribution, n)
		for i := range cs {
			ptrs[i] = &cs[i]
		}
		slices.SortFunc(ptrs, compareOrder)
		v, src, _, _ := computeResult(o, cs)
		if src.FirstActivity != ptrs[0].StatementID || !v.FirstActivity.Equal(ptrs[0].Timestamp) ||
			src.LastActivity != ptrs[n-1].StatementID || !v.LastActivity.Equal(ptrs[n-1].Timestamp) {
			t.Fatalf("round %d: first %s last %s, want %s and %s", round, src.FirstActivity, src.LastActivity, ptrs[0].StatementID, ptrs[n-1].StatementID)
		}
		latest := o
		latest.LatestAttemptCounts = true
		if v, _, _, _ := computeResult(latest, cs); *v.Completion != *ptrs[n-1].Completion {
			t.Fatalf("round %d: latest attempt's completion %v, want the last statement's %v", round, *v.Completion, *ptrs[n-1].Completion)
		}
	}
}

// BenchmarkComputeResult computes a result of 200 contributions (a
// participant's statements without a registration).
//
//	go test -run '^$' -bench ComputeResult ./forward
func BenchmarkComputeResult(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	o := Objective{ID: "o", ActivityID: "https://example.com/activities/0"}
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	verbs := []string{VerbCompleted, VerbPassed, VerbFailed, VerbInitialized, "http://adlnet.gov/expapi/verbs/answered"}
	cs := make([]Contribution, 200)
	for i := range cs {
		sc := r.Float64()
		cs[i] = Contribution{StatementID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", r.Uint32()), Activity: string([]byte(o.ActivityID)),
			Verb: verbs[r.IntN(len(verbs))], Timestamp: base.Add(time.Duration(r.IntN(1e6)) * time.Millisecond), Stored: base,
			Score: &Score{Scaled: &sc}, Success: ptr(true), Completion: ptr(true), Duration: "PT1M"}
	}
	b.ReportAllocs()
	for b.Loop() {
		computeResult(o, cs)
	}
}
