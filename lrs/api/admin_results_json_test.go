package api

import (
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/lrs-project/lrs/forward"
)

// BenchmarkResultsPageJSON measures the representation of a page of 100
// results (resultOut and the encoding of the page), without the store.
//
//	go test -run '^$' -bench ResultsPageJSON ./lrs/api
func BenchmarkResultsPageJSON(b *testing.B) {
	day := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	c, s, sc := true, false, 0.75
	page := make([]forward.ObjectiveResult, 100)
	for i := range page {
		v := forward.Values{Completion: &c, Success: &s, Score: &forward.Score{Scaled: &sc}, Duration: "PT12M30S", Attempts: 2,
			FirstActivity: day, LastActivity: day.Add(time.Duration(i) * time.Minute), CompletedAt: day.Add(time.Hour)}
		page[i] = forward.ObjectiveResult{
			ResultKey: forward.ResultKey{Org: "bench", ObjectiveID: "objective-1", Participant: "mbox:mailto:learner@example.com", Registration: "1b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10"},
			Actor:     forward.Actor{Name: "Learner", Mbox: "mailto:learner@example.com"}, Computed: v, Statements: 6, Revision: 6,
			Sources:   forward.Sources{Completion: "2b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10", Success: "3b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10"},
			CreatedAt: day, UpdatedAt: v.LastActivity,
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		out := make([]resultJSON, len(page))
		for i, r := range page {
			out[i] = resultOut(r, false)
		}
		if _, err := gojson.Marshal(resultsPageJSON{Results: out}); err != nil {
			b.Fatal(err)
		}
	}
}

// A result's times, formatted once as text, are what encoding a
// time.Time gave before: RFC 3339 in UTC with the fraction it needs.
func TestResultTimeText(t *testing.T) {
	east := time.FixedZone("UTC+5", 5*3600)
	for _, tm := range []time.Time{
		time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 9, 1, 10, 30, 0, 120_000_000, time.UTC),
		time.Date(2026, 9, 1, 10, 30, 0, 123_000_000, east),
		time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
	} {
		want, err := gojson.Marshal(tm.UTC())
		if err != nil {
			t.Fatal(err)
		}
		got, err := gojson.Marshal(timeText(tm))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
	if timeTextOrNil(time.Time{}) != nil {
		t.Error("the zero time is not null")
	}
	r := forward.ObjectiveResult{CreatedAt: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 9, 1, 0, 0, 1, 500_000_000, east),
		Computed: forward.Values{FirstActivity: time.Date(2026, 9, 1, 0, 0, 0, 0, east)}}
	b, _ := gojson.Marshal(resultOut(r, false))
	var back struct {
		UpdatedAt     time.Time  `json:"updated_at"`
		FirstActivity *time.Time `json:"first_activity"`
		LastActivity  *time.Time `json:"last_activity"`
	}
	if err := gojson.Unmarshal(b, &back); err != nil || !back.UpdatedAt.Equal(r.UpdatedAt) || back.FirstActivity == nil ||
		!back.FirstActivity.Equal(r.Computed.FirstActivity) || back.LastActivity != nil {
		t.Errorf("a result's times: %s (%v)", b, err)
	}
}
