package enginebench

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/lrs/pebbledb"
)

const (
	org        = "org1"
	nVerbs     = 20
	nAgents    = 10_000
	nActs      = 2_000
	nRegs      = 50_000
	baseMs     = int64(1_700_000_000_000)
	stepMs     = 3 // mean distance between stored times
	voidedRate = 0.01
)

// gen produces a deterministic stream of synthetic statements.
type gen struct {
	rng  *rand.Rand
	ms   int64
	regs []string
}

func newGen(seed uint64) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, 42)), ms: baseMs}
	r := rand.New(rand.NewPCG(7, 7))
	g.regs = make([]string, nRegs)
	for i := range g.regs {
		g.regs[i] = uuid(r)
	}
	return g
}

func uuid(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	s := fmt.Sprintf("%016x%016x", a, b)
	return s[0:8] + "-" + s[8:12] + "-4" + s[13:16] + "-a" + s[17:20] + "-" + s[20:32]
}

func agent(n int) string    { return fmt.Sprintf("mbox:mailto:user%d@example.com", n) }
func verb(n int) string     { return fmt.Sprintf("http://adlnet.gov/expapi/verbs/verb%d", n) }
func activity(n int) string { return fmt.Sprintf("http://example.com/activities/course-%d", n) }

const pad = "................................................................................................................................................................................................................................................................"

func (g *gen) next() Record {
	id := uuid(g.rng)
	g.ms += int64(g.rng.IntN(2*stepMs + 1))
	a, v, o, reg := agent(g.rng.IntN(nAgents)), verb(g.rng.IntN(nVerbs)), activity(g.rng.IntN(nActs)), g.regs[g.rng.IntN(nRegs)]
	raw := fmt.Sprintf(`{"id":%q,"actor":{"objectType":"Agent","mbox":%q},"verb":{"id":%q,"display":{"en-US":"did"}},"object":{"objectType":"Activity","id":%q,"definition":{"name":{"en-US":"Course"}}},"context":{"registration":%q},"stored":%q,"timestamp":%q,"authority":{"objectType":"Agent","mbox":"mailto:lrs@example.com"},"version":"1.0.3","result":{"x":%q}}`,
		id, a[5:], v, o, reg, time.UnixMilli(g.ms).UTC().Format(time.RFC3339Nano), time.UnixMilli(g.ms).UTC().Format(time.RFC3339Nano), pad[:130])
	return Record{ID: id, RecordValue: pebbledb.RecordValue{
		StoredMs: g.ms, Voided: g.rng.Float64() < voidedRate, Raw: []byte(raw),
		Terms: []string{"*", "v:" + v, "a:" + a, "ra:" + a, "o:" + o, "ro:" + o, "r:" + reg, "ra:mbox:mailto:lrs@example.com"},
	}}
}

func (g *gen) batch(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = g.next()
	}
	return out
}

type result struct {
	engine          string
	n               int
	bulkRate        float64 // statements/s, batches of 100, whole build
	bulkLastRate    float64 // statements/s, last 10% of the build
	groupRate       float64 // statements/s, 8 goroutines x batches of 1
	q10p50, q10p99  time.Duration
	q100p50, q100p9 time.Duration
	diskBytes       int64
	peakRSS         string
}

func datasetN() int {
	if s := os.Getenv("ENGINEBENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err == nil && n > 0 {
			return n
		}
	}
	return 2000 // keeps `go test ./...` fast
}

// TestCompare builds ENGINEBENCH_N statements (default 2000) in each engine
// and logs insert throughput, query latencies, on-disk size and peak RSS.
// Select one engine with -run 'TestCompare/^pebble$' (or pebbletuned, bbolt).
func TestCompare(t *testing.T) {
	n := datasetN()
	engines := []struct {
		name string
		open func(dir string) (engine, error)
	}{
		{"pebble", func(d string) (engine, error) { return openPebble(d, false) }},
		{"pebbletuned", func(d string) (engine, error) { return openPebble(d, true) }},
		{"bbolt", func(d string) (engine, error) { return openBolt(d) }},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			resetPeakRSS()
			dir := os.Getenv("ENGINEBENCH_DIR")
			if dir == "" {
				dir = t.TempDir()
			} else {
				dir = filepath.Join(dir, e.name)
				os.RemoveAll(dir)
				os.MkdirAll(dir, 0o755)
				defer os.RemoveAll(dir)
			}
			eng, err := e.open(dir)
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, e.name, eng, n)
			if err := eng.close(); err != nil {
				t.Fatal(err)
			}
			r.diskBytes = dirSize(dir)
			r.peakRSS = peakRSS()
			t.Logf("RESULT engine=%s n=%d bulk100=%.0f st/s (last10%%=%.0f) 8xsingle=%.0f st/s q10 p50=%v p99=%v q100 p50=%v p99=%v disk=%.1f MiB peakRSS=%s",
				r.engine, r.n, r.bulkRate, r.bulkLastRate, r.groupRate, r.q10p50, r.q10p99, r.q100p50, r.q100p9,
				float64(r.diskBytes)/(1<<20), r.peakRSS)
		})
	}
}

func run(t *testing.T, name string, eng engine, n int) result {
	r := result{engine: name, n: n}
	g := newGen(1)
	// (a) bulk: batches of 100, one synced write each.
	start := time.Now()
	var lastStart time.Time
	lastFrom := n - n/10
	for done := 0; done < n; {
		if done >= lastFrom && lastStart.IsZero() {
			lastStart = time.Now()
		}
		k := min(100, n-done)
		if err := eng.insert(org, g.batch(k)); err != nil {
			t.Fatal(err)
		}
		done += k
		if done%100_000 == 0 {
			t.Logf("%s: %d stored, %.0f st/s", name, done, float64(done)/time.Since(start).Seconds())
		}
	}
	r.bulkRate = float64(n) / time.Since(start).Seconds()
	r.bulkLastRate = float64(n-lastFrom) / time.Since(lastStart).Seconds()

	// Conflict detection works.
	dup := g.batch(1)
	if err := eng.insert(org, dup); err != nil {
		t.Fatal(err)
	}
	if err := eng.insert(org, dup); err != errConflict {
		t.Fatalf("duplicate insert: %v", err)
	}

	// (a') 8 goroutines, batches of 1, synced, for a fixed duration.
	dur := 5 * time.Second
	if n < 10_000 {
		dur = 500 * time.Millisecond
	}
	var count atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(dur)
	gstart := time.Now()
	var mu sync.Mutex
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				mu.Lock()
				rec := g.batch(1)
				mu.Unlock()
				if err := eng.insertGroup(org, rec); err != nil {
					t.Error(err)
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	r.groupRate = float64(count.Load()) / time.Since(gstart).Seconds()
	maxMs := g.ms

	// (b) term queries, descending, with random stored ranges.
	qr := rand.New(rand.NewPCG(99, 99))
	randQuery := func() (string, int64, int64) {
		var term string
		switch qr.IntN(4) {
		case 0:
			term = "a:" + agent(qr.IntN(nAgents))
		case 1:
			term = "v:" + verb(qr.IntN(nVerbs))
		case 2:
			term = "o:" + activity(qr.IntN(nActs))
		default:
			term = "r:" + g.regs[qr.IntN(nRegs)]
		}
		var since, until int64
		if qr.IntN(2) == 0 { // half the queries bound stored
			since = baseMs + qr.Int64N(maxMs-baseMs)
			if qr.IntN(2) == 0 {
				until = since + qr.Int64N(maxMs-since+1)
			}
		}
		return term, since, until
	}
	nq := 2000
	if n < 10_000 {
		nq = 200
	}
	for i := 0; i < nq/5; i++ { // warm up
		term, s, u := randQuery()
		if _, err := eng.query(org, term, s, u, 10, true); err != nil {
			t.Fatal(err)
		}
	}
	measure := func(limit int) (time.Duration, time.Duration) {
		lat := make([]time.Duration, nq)
		hits := 0
		for i := range lat {
			term, s, u := randQuery()
			t0 := time.Now()
			recs, err := eng.query(org, term, s, u, limit, true)
			lat[i] = time.Since(t0)
			if err != nil {
				t.Fatal(err)
			}
			for j := 1; j < len(recs); j++ {
				if recs[j].StoredMs > recs[j-1].StoredMs {
					t.Fatal("not descending")
				}
			}
			hits += len(recs)
		}
		if hits == 0 {
			t.Fatal("no query found a statement: the posting ranges are wrong")
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	r.q10p50, r.q10p99 = measure(10)
	r.q100p50, r.q100p9 = measure(100)
	return r
}

func dirSize(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// resetPeakRSS resets VmHWM (Linux); best effort.
func resetPeakRSS() {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.Join(strings.Fields(l[6:]), " ")
		}
	}
	return "n/a"
}
