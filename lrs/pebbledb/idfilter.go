package pebbledb

import (
	"context"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	cpebble "github.com/cockroachdb/pebble/v2"
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

// idSets are the idSets of the organizations this process wrote to: of
// stored statement ids (d.ids), and of the ids that stored statements
// target by StatementRef (d.refs), so that looking for the statements
// targeting a new one, which hardly any statement is, rarely seeks the
// store.
type idSets struct {
	mu   sync.Mutex
	orgs map[string]*idSet
}

// idSet returns org's set of stored ids, creating it (and starting the
// scan that fills it) on first use. An insert must take the set before its
// commit and add its ids after: a record committed before the set existed
// is seen by the scan, which starts later; one committed after is added by
// its insert.
func (d *DB) idSet(org string) *idSet {
	return d.set(&d.ids, org, func(ctx context.Context, s *idSet) error {
		var ids [][idLen]byte
		return d.fillSet(ctx, termPrefix(org, allTerm), s, func(k, v []byte) {
			ids, _ = appendPostingIDs(ids[:0], k, v) // a bad posting holds no id
			for _, id := range ids {
				s.add(id[:])
			}
		})
	})
}

// refSet returns org's set of ids that stored records target, on the same
// terms as idSet.
func (d *DB) refSet(org string) *idSet {
	p := appendEsc([]byte("R"), org)
	return d.set(&d.refs, org, func(ctx context.Context, s *idSet) error {
		return d.fillSet(ctx, p, s, func(k, _ []byte) {
			if len(k) == len(p)+2*idLen {
				s.add(k[len(p) : len(p)+idLen])
			}
		})
	})
}

func (d *DB) set(sets *idSets, org string, fill func(context.Context, *idSet) error) *idSet {
	sets.mu.Lock()
	defer sets.mu.Unlock()
	if s, ok := sets.orgs[org]; ok {
		return s
	}
	s := newIDSet()
	sets.orgs[org] = s
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		if err := fill(d.bgCtx, s); err != nil {
			d.logger.Warn("no in-memory filter of statement ids; their lookups read the store", "org", org, "err", err)
		}
	}()
	return s
}

// fillSet calls add with every key under prefix and its value (add adds
// their ids to s), then marks s ready.
func (d *DB) fillSet(ctx context.Context, prefix []byte, s *idSet, add func(k, v []byte)) error {
	if err := d.acquire(ctx, "scan statement ids"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
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
		add(it.Key(), it.Value())
	}
	if err := it.Error(); err != nil {
		return err
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	return nil
}
