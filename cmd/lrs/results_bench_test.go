package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// BenchmarkResultQueries measures the admin API's result queries, handler
// included (routing, the organization and objective checks, the store,
// JSON), over an embedded store holding LRS_BENCH_RESULTS results
// (default 100,000) of one objective: 50,000 participants with two
// registrations each, 70 % completed, 50 % passed, updated over a day.
// Each sub-benchmark reports the p50 and p99 of its requests.
//
//	go test -run '^$' -bench ResultQueries -benchtime 2000x ./cmd/lrs
func BenchmarkResultQueries(b *testing.B) {
	n := 100_000
	if v := os.Getenv("LRS_BENCH_RESULTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	db, err := pebbledb.Open(b.TempDir(), pebbledb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	const org, obj = "bench", "objective-1"
	if err := db.CreateOrg(ctx, auth.Organization{ID: org, Name: "Bench", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	if err := db.PutObjective(ctx, forward.Objective{ID: obj, Org: org, Name: "Bench", ActivityID: "https://example.com/course", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	day := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 1))
	participant := func(i int) string { return fmt.Sprintf("mbox:mailto:learner%d@example.com", i) }
	registration := func(i, k int) string {
		return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%d/%d", i, k)).String()
	}
	start := time.Now()
	var batch []forward.ObjectiveResult
	for i := range n {
		v := forward.Values{Attempts: 1 + r.IntN(3), FirstActivity: day, LastActivity: day.Add(time.Duration(r.IntN(86400)) * time.Second), Duration: "PT12M30S"}
		c, s, sc := r.Float64() < 0.7, r.Float64() < 0.5, r.Float64()
		v.Completion, v.Success, v.Score = &c, &s, &forward.Score{Scaled: &sc}
		batch = append(batch, forward.ObjectiveResult{
			ResultKey: forward.ResultKey{Org: org, ObjectiveID: obj, Participant: participant(i / 2), Registration: registration(i/2, i%2)},
			Actor:     forward.Actor{Name: "Learner", Mbox: "mailto:learner@example.com"}, Computed: v, Statements: 6, Revision: 6,
			Sources:   forward.Sources{Completion: uuid.NewString(), Success: uuid.NewString(), Score: uuid.NewString()},
			CreatedAt: day, UpdatedAt: v.LastActivity,
		})
		if len(batch) == 1000 || i == n-1 {
			if c, err := db.PutResults(ctx, batch, false); err != nil || len(c) > 0 {
				b.Fatalf("fill: %v %v", c, err)
			}
			batch = batch[:0]
		}
	}
	b.Logf("stored %d results in %v", n, time.Since(start).Round(time.Millisecond))

	types, err := destinationTypes(ForwardConfig{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.New(api.Options{
		Service: lrs.NewService(db, lrs.ServiceOptions{}), Documents: lrs.NewDocuments(db, nil), Auth: auth.NewAuthenticator(db, auth.AuthenticatorOptions{}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Admin: &api.AdminOptions{Token: testAdminToken, Store: db, Audit: slog.New(slog.DiscardHandler),
			Forward: forward.NewAdmin(db, types, forward.AdminOptions{Results: forward.NewResults(db, nil, forward.ResultsOptions{})})},
	})
	if err != nil {
		b.Fatal(err)
	}
	// get answers a request and times the handler (not what the client
	// then does with the answer).
	get := func(b *testing.B, path string) ([]byte, time.Duration) {
		req := httptest.NewRequest(http.MethodGet, api.AdminPrefix+"/orgs/"+org+path, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(t0)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Bytes(), d
	}
	// pages walks a list page by page (from the start again at its end).
	pages := func(query string) func(b *testing.B) time.Duration {
		cursor := ""
		return func(b *testing.B) time.Duration {
			path := "/objectives/" + obj + "/results?limit=100" + query
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var page struct {
				Results    []json.RawMessage
				NextCursor string `json:"next_cursor"`
			}
			body, d := get(b, path)
			if err := json.Unmarshal(body, &page); err != nil || len(page.Results) == 0 {
				b.Fatalf("%s: %d results, %v", path, len(page.Results), err)
			}
			cursor = page.NextCursor
			return d
		}
	}
	for _, q := range []struct {
		name string
		run  func(b *testing.B) time.Duration
	}{
		{"progress", func(b *testing.B) time.Duration {
			k := r.IntN(n)
			_, d := get(b, "/objectives/"+obj+"/progress?participant=learner"+strconv.Itoa(k/2)+"@example.com&registration="+registration(k/2, k%2))
			return d
		}},
		{"participant", func(b *testing.B) time.Duration {
			_, d := get(b, "/results?participant=learner"+strconv.Itoa(r.IntN(n/2))+"@example.com")
			return d
		}},
		{"page-of-100", pages("")},
		{"page-of-100-completed", pages("&completed=true")},
		{"page-of-100-not-passed", pages("&passed=false")},
		{"page-of-100-since", pages("&since=" + day.Add(12*time.Hour).Format(time.RFC3339))},
		{"page-of-100-since-passed", pages("&passed=true&since=" + day.Add(12*time.Hour).Format(time.RFC3339))},
	} {
		b.Run(q.name, func(b *testing.B) {
			d := make([]time.Duration, 0, b.N)
			for b.Loop() {
				d = append(d, q.run(b))
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
