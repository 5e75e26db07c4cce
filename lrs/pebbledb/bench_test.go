package pebbledb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lrs-project/lrs/lrs"
)

// benchRaw is a stored statement of cmd/lrsbench's shape (≈2 KB with the
// authority, stored and version the LRS adds).
const benchRaw = `{"actor":{"mbox":"mailto:user%d@example.com","name":"User %d","objectType":"Agent"},"authority":{"account":{"homePage":"http://127.0.0.1:8080","name":"benchkey"},"objectType":"Agent"},"context":{"contextActivities":{"category":[{"definition":{"type":"http://adlnet.gov/expapi/activities/profile"},"id":"https://w3id.org/xapi/cmi5/context/categories/moveon"}],"grouping":[{"definition":{"name":{"en-US":"Program %d"},"type":"http://adlnet.gov/expapi/activities/module"},"id":"http://example.com/programs/%d"}],"parent":[{"definition":{"name":{"en-US":"Course %d"},"type":"http://adlnet.gov/expapi/activities/course"},"id":"http://example.com/courses/%d"}]},"extensions":{"http://example.com/xapi/extensions/session-id":"%s"},"instructor":{"mbox":"mailto:instructor%d@example.com","name":"Instructor %d","objectType":"Agent"},"language":"en-US","platform":"Example LMS","registration":"%s"},"id":"%s","object":{"definition":{"choices":[{"description":{"en-US":"Yes"},"id":"choice-0"},{"description":{"en-US":"No"},"id":"choice-1"}],"correctResponsesPattern":["choice-%d"],"description":{"en-US":"Question %d of course %d"},"extensions":{"http://example.com/xapi/extensions/expected-duration":"PT5M"},"interactionType":"choice","name":{"en-US":"Activity %d"},"type":"http://adlnet.gov/expapi/activities/cmi.interaction"},"id":"http://example.com/activities/%d","objectType":"Activity"},"result":{"completion":true,"duration":"PT1M30S","extensions":{"http://example.com/xapi/extensions/attempt":%d},"response":"choice-%d","score":{"max":100,"min":0,"raw":%d,"scaled":%g},"success":%v},"stored":"%s","timestamp":"%s","verb":{"display":{"en-US":"%s"},"id":"http://adlnet.gov/expapi/verbs/%s"},"version":"2.0.0"}`

func benchUUID(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
}

// benchRecord is a record as the service writes it for a statement of
// lrsbench's pools (10,000 agents, 2,000 activities, 20 verbs, 50,000
// registrations): 13 terms, sorted.
func benchRecord(r *rand.Rand, now time.Time) lrs.StatementRecord {
	n, m, v := r.IntN(10000), r.IntN(2000), "verb"+strconv.Itoa(r.IntN(20))
	reg := fmt.Sprintf("a274a931-722f-5264-99a9-ba553e%06d", r.IntN(50000))
	id := benchUUID(r)
	raw := r.IntN(101)
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	body := fmt.Sprintf(benchRaw, n, n, m/100, m/100, m/10, m/10, benchUUID(r), m/100, m/100, reg, id, m%2, m%10+1, m/10, m, m,
		1+r.IntN(3), r.IntN(2), raw, float64(raw)/100, raw >= 50, ts, ts, v, v)
	agent, instructor := "mbox:mailto:user"+strconv.Itoa(n)+"@example.com", "mbox:mailto:instructor"+strconv.Itoa(m/100)+"@example.com"
	terms := []string{lrs.TermAll, "a:" + agent, "au:account:http://127.0.0.1:8080 benchkey",
		"o:http://example.com/activities/" + strconv.Itoa(m), "r:" + reg,
		"ra:" + agent, "ra:account:http://127.0.0.1:8080 benchkey", "ra:" + instructor,
		"ro:http://example.com/activities/" + strconv.Itoa(m), "ro:http://example.com/courses/" + strconv.Itoa(m/10),
		"ro:http://example.com/programs/" + strconv.Itoa(m/100), "ro:https://w3id.org/xapi/cmi5/context/categories/moveon",
		"v:http://adlnet.gov/expapi/verbs/" + v}
	return lrs.StatementRecord{ID: id, Stored: now, Raw: []byte(body), Terms: postingTerms(terms)}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInsertBatches inserts b.N batches of 100 records of lrsbench's
// shape from 8 writers into a fresh store (synced commits, flushes and
// compactions as they come) and reports the process CPU per statement. The
// records are drawn before the measurement (200 batches, each inserted
// again under new ids and the time of its insert). Run it long enough for
// the store to grow: go test -run '^$' -bench InsertBatches -benchtime 3000x.
func BenchmarkInsertBatches(b *testing.B) {
	db, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const writers, size, pool = 8, 100, 200
	r := rand.New(rand.NewPCG(1, 2))
	drawn := make([][]lrs.StatementRecord, pool)
	for i := range drawn {
		drawn[i] = make([]lrs.StatementRecord, size)
		for j := range drawn[i] {
			drawn[i][j] = benchRecord(r, time.Now())
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu := processCPU()
	b.ResetTimer()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				now := time.Now()
				recs := slices.Clone(drawn[n%pool])
				for i := range recs {
					recs[i].ID, recs[i].Stored = benchUUID(r), now
				}
				if err := db.InsertStatements(context.Background(), "default", recs); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu)/float64(time.Microsecond)/float64(b.N*size), "cpu-µs/statement")
}
