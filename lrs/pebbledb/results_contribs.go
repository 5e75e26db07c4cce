package pebbledb

import (
	"bytes"
	"slices"
	"sync"

	"github.com/lrs-project/lrs/forward"
)

// contribCache keeps the decoded contributions of recently computed
// results, so that the read model, which computes a result again from all
// its contributions on every statement that adds one, does not scan and
// decode them all again each time (a result of a participant who sends
// hundreds of statements without a registration: the scan and the decode
// of its contributions were most of the CPU of an ingest with forwarding).
//
// One process owns the store, and every write of a contribution goes
// through AddContributions or VoidStatements, which, after their commit
// and under the statement's stripe lock, put the contribution written
// into the cached entry of its result (when there is one) and count the
// write in the result's slot of stamps; DeleteResults drops everything.
// ResultContributions takes a result's stamp before it opens its iterator
// and keeps what it read only if no write was counted since: a write it
// may not have seen. So a cached entry is what the store holds, every
// write committed before a read began included.
//
// The slices handed out are shared with the cache: a write replaces an
// entry's slice (copy on write), never changes it, and the caller must
// not change them either (ResultStore.ResultContributions).
type contribCache struct {
	mu      sync.Mutex
	stamps  [resultStampSlots]uint64 // contribution writes per slot
	epoch   uint64                   // DeleteResults
	entries map[string][]forward.Contribution
	total   int // contributions held
}

// maxCachedContributions bounds the contributions held (about 300 bytes
// each): at the bound, everything is dropped at once.
const maxCachedContributions = 1 << 16

// contribMark is what a read remembers to keep its result.
type contribMark struct{ stamp, epoch uint64 }

func (cc *contribCache) mark(d *DB, prefix string) contribMark {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return contribMark{cc.stamps[d.stampSlot(prefix)], cc.epoch}
}

// get returns the cached contributions of the result of prefix.
func (cc *contribCache) get(prefix string) ([]forward.Contribution, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cs, ok := cc.entries[prefix]
	return cs, ok
}

// fill keeps cs (in key order, as read) as the contributions of the
// result of prefix if no write was counted since m.
func (cc *contribCache) fill(d *DB, prefix string, m contribMark, cs []forward.Contribution) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if m.stamp != cc.stamps[d.stampSlot(prefix)] || m.epoch != cc.epoch || len(cs) > maxCachedContributions/4 {
		return
	}
	if _, ok := cc.entries[prefix]; ok {
		return
	}
	if cc.entries == nil || cc.total+len(cs) > maxCachedContributions {
		cc.entries, cc.total = make(map[string][]forward.Contribution, 256), 0
	}
	cc.entries[prefix] = slices.Clip(cs)
	cc.total += len(cs)
}

// wrote counts a committed write of contribution c (stored under
// contribKey(c.ResultKey, c.StatementID)) and puts it into its result's
// entry. The caller holds the statement's stripe lock.
func (cc *contribCache) wrote(d *DB, c forward.Contribution) {
	prefix := string(contribPrefix(c.ResultKey))
	c.New = false // a read contribution is never New
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.stamps[d.stampSlot(prefix)]++
	cs, ok := cc.entries[prefix]
	if !ok {
		return
	}
	key := contribKey(c.ResultKey, c.StatementID)
	base := len(prefix)
	i, found := slices.BinarySearchFunc(cs, key[base:], func(x forward.Contribution, k []byte) int {
		return bytes.Compare(appendEsc(nil, x.StatementID), k)
	})
	next := make([]forward.Contribution, 0, len(cs)+1)
	next = append(next, cs[:i]...)
	next = append(next, c)
	if found {
		next = append(next, cs[i+1:]...)
	} else {
		next = append(next, cs[i:]...)
		cc.total++
	}
	cc.entries[prefix] = next
}

// clear drops every entry and makes the reads under way keep nothing
// (DeleteResults, after its commit).
func (cc *contribCache) clear() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.epoch++
	cc.entries, cc.total = nil, 0
}
