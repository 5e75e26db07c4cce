package pebbledb

import (
	"context"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	cpebble "github.com/cockroachdb/pebble"
)

// The conflict check of an insert asks whether a record with a client's
// statement id exists. The id is new nearly always, and Pebble answers a
// miss with a bloom-filter probe of every level that may hold it, reading
// filter and index blocks of freshly compacted tables from disk. An idSet
// answers the same question from memory for all but a small fraction of
// ids: a bloom filter of every stored id of one organization, built once
// per process from the TermAll postings (16-byte ids, no values, so the
// scan is short) and kept up to date by every insert. It never says "absent"
// for a stored id; when it says "maybe", the store is read.
//
// It grows as a stack of bloom filters, each twice the capacity of the one
// before (a bloom filter cannot grow), at a false-positive rate of 0.1 %
// each: with n ids there are about log2(n/64k) of them, ≈1.8 bytes per id.
type idSet struct {
	mu     sync.RWMutex
	ready  bool // every id stored before the set existed has been added
	blooms []*bloom.BloomFilter
	n      uint // ids in the last filter
}

const (
	idSetFirst = 64 << 10 // capacity of the first filter
	idSetFP    = 0.001
)

func newIDSet() *idSet {
	return &idSet{blooms: []*bloom.BloomFilter{bloom.NewWithEstimates(idSetFirst, idSetFP)}}
}

func (s *idSet) add(id []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.blooms[len(s.blooms)-1]
	if s.n >= idSetFirst<<(len(s.blooms)-1) {
		last = bloom.NewWithEstimates(idSetFirst<<len(s.blooms), idSetFP)
		s.blooms = append(s.blooms, last)
		s.n = 0
	}
	last.Add(id)
	s.n++
}

// mayHold is false only when no record has id. Before the set is ready it
// is always true.
func (s *idSet) mayHold(id []byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ready {
		return true
	}
	for _, b := range s.blooms {
		if b.Test(id) {
			return true
		}
	}
	return false
}

// idSets are the idSets of the organizations this process inserted into.
type idSets struct {
	mu   sync.Mutex
	orgs map[string]*idSet
}

// idSet returns org's set, creating it (and starting the scan that fills
// it) on first use. An insert must take the set before its commit and add
// its ids after: a record committed before the set existed is seen by the
// scan, which starts later; one committed after is added by its insert.
func (d *DB) idSet(org string) *idSet {
	d.ids.mu.Lock()
	defer d.ids.mu.Unlock()
	if s, ok := d.ids.orgs[org]; ok {
		return s
	}
	s := newIDSet()
	d.ids.orgs[org] = s
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		if err := d.fillIDSet(d.bgCtx, org, s); err != nil {
			d.logger.Warn("no in-memory filter of stored statement ids; every conflict check reads the store", "org", org, "err", err)
		}
	}()
	return s
}

// fillIDSet adds the ids of org's stored records to s, then marks it ready.
func (d *DB) fillIDSet(ctx context.Context, org string, s *idSet) error {
	if err := d.acquire(ctx, "scan statement ids"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	p := termPrefix(org, allTerm)
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := it.Key()
		if len(k) != postingLen {
			continue
		}
		s.add(k[len(k)-idLen:])
	}
	if err := it.Error(); err != nil {
		return err
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	return nil
}
