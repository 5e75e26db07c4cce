package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/schema"
)

// BenchmarkIngestResults measures what keeping results costs ingest on
// the embedded engine: batches of 100 statements from 8 goroutines into
// the LRS service (parse included, HTTP not), with the binary's
// observers, without an objective ("baseline") and with one objective
// that every statement matches ("results"). The statements are those of
// cmd/lrsbench's shape: 10,000 agents, 50,000 registrations, 20 verbs,
// a result (score, success, completion, duration) on each. "shared" is
// "results" with 100 agents and no registration: 100 results that
// every statement of their participant adds to (a result is computed
// from all its contributions, so this is the read model's worst case).
// It reports statements per second and the process's CPU time per
// statement.
//
//	go test -run '^$' -bench IngestResults -benchtime 400x -count 3 ./cmd/lrs
func BenchmarkIngestResults(b *testing.B) {
	verbs := []string{"completed", "attempted", "passed", "failed", "answered", "experienced", "launched", "initialized",
		"terminated", "progressed", "scored", "mastered", "interacted", "registered", "resumed", "suspended", "commented",
		"shared", "responded", "attended"}
	const activity = "http://example.com/activities/0"
	batch := func(r *rand.Rand, now time.Time, agents int, registrations bool) []byte {
		body := []byte{'['}
		for i := range 100 {
			if i > 0 {
				body = append(body, ',')
			}
			n, v := r.IntN(agents), verbs[r.IntN(len(verbs))]
			reg := uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%d", r.IntN(50000))).String()
			ctx := fmt.Sprintf(`"registration":%q,`, reg)
			if !registrations {
				ctx = ""
			}
			body = fmt.Appendf(body, `{"id":%q,"actor":{"objectType":"Agent","mbox":"mailto:user%d@example.com","name":"User %d"},
"verb":{"id":"http://adlnet.gov/expapi/verbs/%s","display":{"en-US":%q}},
"object":{"objectType":"Activity","id":%q,"definition":{"name":{"en-US":"Activity 0"},"type":"http://adlnet.gov/expapi/activities/course"}},
"result":{"score":{"scaled":%.2f},"success":true,"completion":true,"duration":"PT1M30S"},
"context":{%s"contextActivities":{"parent":[{"id":"http://example.com/courses/0"}]}},"timestamp":%q}`,
				uuid.NewString(), n, n, v, v, activity, r.Float64(), ctx,
				now.Format(time.RFC3339Nano))
		}
		return append(body, ']')
	}
	for _, mode := range []string{"baseline", "results", "shared"} {
		b.Run(mode, func(b *testing.B) {
			db, err := pebbledb.Open(b.TempDir(), pebbledb.Options{CacheBytes: benchCacheBytes()})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if mode != "baseline" {
				if err := db.PutObjective(b.Context(), forward.Objective{ID: "bench", Org: "default", Name: "Bench", ActivityID: activity, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
			results := forward.NewResults(db, &laterStatements{}, forward.ResultsOptions{Metrics: forward.NewResultMetrics(nil)})
			obs := forward.Observers{forward.NewObligations(db, nil, nil), results}
			svc := lrs.NewService(db, lrs.ServiceOptions{Observer: observer{obs}, Activities: db, Agents: db})
			bodies := make([][]byte, b.N)
			r := rand.New(rand.NewPCG(7, 7))
			for i := range bodies {
				if mode == "shared" {
					bodies[i] = batch(r, time.Now().UTC(), 100, false)
				} else {
					bodies[i] = batch(r, time.Now().UTC(), 10000, true)
				}
			}
			w := lrs.Writer{Org: "default", Authority: []byte(`{"objectType":"Agent","account":{"homePage":"https://lrs.example","name":"k"}}`)}
			next := make(chan []byte)
			var wg sync.WaitGroup
			var cpu0, cpu1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0)
			b.ResetTimer()
			start := time.Now()
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for body := range next {
						stmts, _, err := schema.ParseStatements(body, schema.V1_0_3, 1000)
						if err == nil {
							_, err = svc.PostStatements(b.Context(), w, stmts, schema.V1_0_3)
						}
						if err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for _, body := range bodies {
				next <- body
			}
			close(next)
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1)
			cpu := time.Duration(cpu1.Utime.Nano()+cpu1.Stime.Nano()-cpu0.Utime.Nano()-cpu0.Stime.Nano()) * time.Nanosecond
			n := float64(100 * b.N)
			b.ReportMetric(n/elapsed.Seconds(), "st/s")
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/st")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchCacheBytes is the block cache of the benchmark's store:
// LRS_BENCH_CACHE_MB, else the binary's default (64 MiB).
func benchCacheBytes() int64 {
	mb, _ := strconv.Atoi(os.Getenv("LRS_BENCH_CACHE_MB"))
	return int64(mb) << 20
}
