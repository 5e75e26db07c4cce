package enginebench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/google/btree"
)

// What keeping objective results would cost if nothing were written to
// storage at all: the results read model held only in memory, in the four
// orders its queries read (by participant and registration, by update
// time, by effective flags, by participant across objectives), each
// statement folded into its result and the result moved in every order.
// It is the floor under any design that keeps those orders current per
// statement, persisted or not; BENCHMARKS.md ("The floor of the 10 %
// target") compares it with the ingest cost of a statement. The model holds
// only what the orders need and a compact contribution per statement (the
// real one also parses the statement, computes every rule and carries
// sources, overrides and history), so the figure is a lower bound.

type memContribution struct {
	stmt   [16]byte
	ts     int64
	flags  uint8
	scaled float64
}

type memResult struct {
	objective, participant, registration string
	updated                              int64
	flags                                uint8
	revision                             uint64
	scaled                               float64
	first, last                          int64
	contributions                        []memContribution
}

func keyLess(a, b *memResult) bool {
	if a.objective != b.objective {
		return a.objective < b.objective
	}
	if a.participant != b.participant {
		return a.participant < b.participant
	}
	return a.registration < b.registration
}

type timeEntry struct {
	r       *memResult
	updated int64
}

func timeLess(a, b timeEntry) bool {
	if a.updated != b.updated {
		return a.updated < b.updated
	}
	return keyLess(a.r, b.r)
}

func participantLess(a, b *memResult) bool {
	if a.participant != b.participant {
		return a.participant < b.participant
	}
	if a.objective != b.objective {
		return a.objective < b.objective
	}
	return a.registration < b.registration
}

type memResults struct {
	byKey         *btree.BTreeG[*memResult]
	byTime        *btree.BTreeG[timeEntry]
	byParticipant *btree.BTreeG[*memResult]
	byFlags       [4]*btree.BTreeG[*memResult] // completed<<1 | passed
}

func newMemResults() *memResults {
	m := &memResults{
		byKey:         btree.NewG(32, keyLess),
		byTime:        btree.NewG(32, timeLess),
		byParticipant: btree.NewG(32, participantLess),
	}
	for i := range m.byFlags {
		m.byFlags[i] = btree.NewG(32, keyLess)
	}
	return m
}

// apply folds c into the result of (objective, participant, registration)
// at time now and moves the result in every order.
func (m *memResults) apply(objective, participant, registration string, c memContribution, now int64) {
	probe := &memResult{objective: objective, participant: participant, registration: registration}
	r, ok := m.byKey.Get(probe)
	if ok {
		m.byTime.Delete(timeEntry{r, r.updated})
		m.byFlags[r.flags].Delete(r)
	} else {
		r = probe
		m.byKey.ReplaceOrInsert(r)
		m.byParticipant.ReplaceOrInsert(r)
	}
	r.contributions = append(r.contributions, c)
	r.scaled = max(r.scaled, c.scaled)
	if r.first == 0 || c.ts < r.first {
		r.first = c.ts
	}
	r.last = max(r.last, c.ts)
	r.flags |= c.flags & 3
	r.revision++
	r.updated = now
	m.byTime.ReplaceOrInsert(timeEntry{r, now})
	m.byFlags[r.flags].ReplaceOrInsert(r)
}

func memParticipant(n int) string { return fmt.Sprintf("mbox:mailto:user%d@example.com", n) }

func memRegistration(run, i int) string {
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", i, run, i)
}

// TestMemResultsOrders checks that the model the benchmark times keeps its
// four orders in step: each holds every result once, in its order, with
// the result's current values.
func TestMemResultsOrders(t *testing.T) {
	m := newMemResults()
	r := rand.New(rand.NewPCG(3, 3))
	for i := range 5000 {
		obj := fmt.Sprintf("objective-%d", r.IntN(3))
		m.apply(obj, memParticipant(r.IntN(50)), memRegistration(0, r.IntN(400)),
			memContribution{ts: int64(i), flags: uint8(r.IntN(4)), scaled: r.Float64()}, int64(1000+i))
	}
	var all []*memResult
	m.byKey.Ascend(func(r *memResult) bool { all = append(all, r); return true })
	if len(all) == 0 || m.byTime.Len() != len(all) || m.byParticipant.Len() != len(all) {
		t.Fatalf("orders hold %d, %d and %d results", len(all), m.byTime.Len(), m.byParticipant.Len())
	}
	if !slices.IsSortedFunc(all, func(a, b *memResult) int { return cmpBool(keyLess(a, b), keyLess(b, a)) }) {
		t.Fatal("the key order is not sorted")
	}
	statements := 0
	flagged := 0
	for f, tree := range m.byFlags {
		flagged += tree.Len()
		tree.Ascend(func(r *memResult) bool {
			if int(r.flags) != f {
				t.Errorf("result %s/%s under flags %d has flags %d", r.participant, r.registration, f, r.flags)
			}
			return true
		})
	}
	if flagged != len(all) {
		t.Fatalf("the flag orders hold %d results, the key order %d", flagged, len(all))
	}
	prev := int64(-1)
	m.byTime.Ascend(func(e timeEntry) bool {
		if e.updated != e.r.updated || e.updated <= prev {
			t.Errorf("time order: entry at %d for a result updated at %d after %d", e.updated, e.r.updated, prev)
		}
		prev = e.updated
		statements += len(e.r.contributions)
		return true
	})
	if statements != 5000 {
		t.Fatalf("the results hold %d contributions, want 5000", statements)
	}
	var last *memResult
	m.byParticipant.Ascend(func(r *memResult) bool {
		if last != nil && !participantLess(last, r) {
			t.Errorf("participant order: %s after %s", r.participant, last.participant)
		}
		last = r
		return true
	})
}

func cmpBool(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// BenchmarkMemResults times folding a statement that creates a new result
// (the worst case of BenchmarkIngestResults in cmd/lrs: 10,000 agents, a
// registration each time) into a model already holding n results, and
// reports the heap each result takes.
func BenchmarkMemResults(b *testing.B) {
	const objective = "0f6c3c1e-8e0b-4f55-9a5a-2d9f1b5c7a10"
	participants := make([]string, 10000)
	for i := range participants {
		participants[i] = memParticipant(i)
	}
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("results=%d", n), func(b *testing.B) {
			m := newMemResults()
			r := rand.New(rand.NewPCG(1, 1))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range n {
				m.apply(objective, participants[r.IntN(len(participants))], memRegistration(0, i),
					memContribution{ts: int64(i), flags: uint8(r.IntN(4)), scaled: r.Float64()}, int64(i))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
			regs := make([]string, b.N)
			for i := range regs {
				regs[i] = memRegistration(1, i)
			}
			b.ResetTimer()
			for i := range b.N {
				m.apply(objective, participants[r.IntN(len(participants))], regs[i],
					memContribution{ts: int64(n + i), flags: uint8(r.IntN(4)), scaled: r.Float64()}, int64(n+i))
			}
			b.StopTimer()
			b.ReportMetric(heap, "heap-B/result")
		})
	}
}
