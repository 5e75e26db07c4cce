package pebbledb

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/lrs-project/lrs/forward"
)

// resultReads remembers what GetResults read of each result (whether it
// is stored, its generation and its index keys), so that PutResults, which
// must know them to compare-and-swap and to replace the index keys, need
// not read the result again under its stripe lock when nothing wrote to
// the result since. One process owns the store, and every write of a
// result goes through PutResults (which counts its writes in a slot of
// stamps chosen by the key's hash, after the commit and before it unlocks
// the key's stripe) or DeleteResults (which counts in epoch); a
// remembered read is used, under the key's stripe lock, only when both
// counts are still those seen before the read, so it is what the store
// holds. Keys sharing a slot only make a read be taken again. The slots
// are many more than the lock stripes: with 8 writers of batches of 100
// in flight, nearly every one of 256 stripes is written between a read
// and its write.
//
// The read model reads each result it writes twice otherwise, and for a
// new result both reads are misses, which Pebble answers with a
// bloom-filter probe of every level (filter and index blocks of freshly
// compacted tables read from disk): a quarter of the read model's CPU in
// BenchmarkIngestResults.
type resultReads struct {
	stamps [resultStampSlots]atomic.Uint64 // result writes committed per slot
	epoch  atomic.Uint64                   // DeleteResults committed

	mu sync.Mutex
	m  map[string]resultRead // by result key (rr/…)
}

// resultRead is what one read of a result found, and when.
type resultRead struct {
	stamp, epoch uint64
	found        bool
	gen          int64
	index        [][2][]byte // resultIndexKeys of the stored result
}

// maxResultReads bounds the remembered reads: PutResults takes them, the
// others (reads not followed by a write) are dropped all at once.
const maxResultReads = 1 << 14

const resultStampSlots = 1 << 16

func (d *DB) stampSlot(key string) int { return int(maphash.String(d.seed, key) % resultStampSlots) }

// mark returns the counts to remember with a read of the result at key,
// taken before the read.
func (rr *resultReads) mark(d *DB, key string) (stamp, epoch uint64) {
	return rr.stamps[d.stampSlot(key)].Load(), rr.epoch.Load()
}

func (rr *resultReads) put(key string, r resultRead) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.m == nil || len(rr.m) >= maxResultReads {
		rr.m = make(map[string]resultRead, 1024)
	}
	rr.m[key] = r
}

// take returns (and forgets) the read of the result at key if it is still
// what the store holds. The caller holds the key's stripe lock.
func (rr *resultReads) take(d *DB, key string) (resultRead, bool) {
	rr.mu.Lock()
	r, ok := rr.m[key]
	if ok {
		delete(rr.m, key)
	}
	rr.mu.Unlock()
	if !ok || r.stamp != rr.stamps[d.stampSlot(key)].Load() || r.epoch != rr.epoch.Load() {
		return resultRead{}, false
	}
	return r, true
}

// wrote counts a write of the results at keys (after its commit, under
// their stripe locks).
func (rr *resultReads) wrote(d *DB, keys []string) {
	for _, k := range keys {
		rr.stamps[d.stampSlot(k)].Add(1)
	}
}

// resultSet returns org's set of stored result keys (rr/…), on the terms
// of idSet (idfilter.go), filled from the participants' index keys (rp/,
// one per result, small values): GetResults answers "not stored" for a
// new result from memory instead of a point read that misses. PutResults
// takes it before the commit that creates a result and adds the key after
// the commit, before it counts the write (resultReads.wrote): a read that
// finds the key absent from the set while its create is committing took
// its mark before the count, so PutResults reads it again.
func (d *DB) resultSet(org string) *idSet {
	p := fwdKey("rp/", org)
	return d.set(&d.resultIDs, org, func(ctx context.Context, s *idSet) error {
		return d.fillSet(ctx, p, s, func(k, _ []byte) {
			rest := k[len(p):]
			participant, n := unescNext(rest)
			if n < 0 {
				return
			}
			objective, m := unescNext(rest[n:])
			if m < 0 {
				return
			}
			registration, l := unescNext(rest[n+m:])
			if l < 0 {
				return
			}
			s.add(resultKey(forward.ResultKey{Org: org, ObjectiveID: objective, Participant: participant, Registration: registration}))
		})
	})
}
