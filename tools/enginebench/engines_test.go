package enginebench

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	bolt "go.etcd.io/bbolt"

	"github.com/lrs-project/lrs/lrs/pebbledb"
)

var errConflict = errors.New("conflict")

type engine interface {
	// insert checks that no id exists and writes all records in one
	// synced batch.
	insert(org string, recs []Record) error
	// insertGroup is insert for concurrent single-record callers (bbolt
	// uses db.Batch to group their commits).
	insertGroup(org string, recs []Record) error
	// query scans term's postings in (since, until], in order, looks up
	// each hit's record and skips voided ones, up to limit.
	query(org, term string, sinceMs, untilMs int64, limit int, desc bool) ([]Record, error)
	close() error
}

// bounds returns the posting range of (since, until] (0 = unbounded).
func bounds(org, term string, sinceMs, untilMs int64) (lo, hi []byte) {
	p := TermPrefix(org, term)
	if sinceMs != 0 {
		lo = pebbledb.AppendMs(bytes.Clone(p), sinceMs+1)
	} else {
		lo = bytes.Clone(p)
	}
	if untilMs != 0 {
		hi = pebbledb.AppendMs(bytes.Clone(p), untilMs+1)
	} else {
		hi = pebbledb.PrefixEnd(p)
	}
	return lo, hi
}

// ---- pebble ----

type pebbleEngine struct {
	db      *pebble.DB
	cache   interface{ Unref() }
	stripes [256]sync.Mutex
}

// openPebble opens pebble with default options and a 64 MiB cache; tuned
// adds bloom filters on every level (the conflict check is a point lookup
// of a random id, usually a miss) and a 32 MiB memtable.
func openPebble(dir string, tuned bool) (*pebbleEngine, error) {
	c := pebble.NewCache(64 << 20)
	o := &pebble.Options{Cache: c}
	if tuned {
		o.MemTableSize = 32 << 20
		o.Levels = make([]pebble.LevelOptions, 7)
		for i := range o.Levels {
			o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		}
	}
	db, err := pebble.Open(dir, o)
	if err != nil {
		c.Unref()
		return nil, err
	}
	return &pebbleEngine{db: db, cache: c}, nil
}

func stripeOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() & 255)
}

func (e *pebbleEngine) insert(org string, recs []Record) error {
	idx := make([]int, 0, len(recs))
	seen := map[int]bool{}
	for _, r := range recs {
		s := stripeOf(r.ID)
		if !seen[s] {
			seen[s] = true
			idx = append(idx, s)
		}
	}
	sort.Ints(idx)
	for _, s := range idx {
		e.stripes[s].Lock()
	}
	defer func() {
		for _, s := range idx {
			e.stripes[s].Unlock()
		}
	}()
	b := e.db.NewBatch()
	defer b.Close()
	for i := range recs {
		r := &recs[i]
		pk := PrimaryKey(org, r.ID)
		_, closer, err := e.db.Get(pk)
		if err == nil {
			closer.Close()
			return errConflict
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return err
		}
		b.Set(pk, Encode(r), nil)
		for _, t := range r.Terms {
			b.Set(PostingKey(org, t, r.StoredMs, r.ID), nil, nil)
		}
	}
	return b.Commit(pebble.Sync)
}

func (e *pebbleEngine) insertGroup(org string, recs []Record) error { return e.insert(org, recs) }

func (e *pebbleEngine) query(org, term string, sinceMs, untilMs int64, limit int, desc bool) ([]Record, error) {
	lo, hi := bounds(org, term, sinceMs, untilMs)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Record
	ok := it.First()
	if desc {
		ok = it.Last()
	}
	for ; ok && len(out) < limit; ok = step(it, desc) {
		id := PostingID(it.Key())
		v, closer, err := e.db.Get(PrimaryKey(org, id))
		if err != nil {
			return nil, err
		}
		r, err := Decode(id, v)
		closer.Close()
		if err != nil {
			return nil, err
		}
		if !r.Voided {
			out = append(out, r)
		}
	}
	return out, it.Error()
}

func step(it *pebble.Iterator, desc bool) bool {
	if desc {
		return it.Prev()
	}
	return it.Next()
}

func (e *pebbleEngine) close() error {
	err := e.db.Close()
	e.cache.Unref()
	return err
}

// ---- bbolt ----

var bucket = []byte("lrs")

type boltEngine struct{ db *bolt.DB }

func openBolt(dir string) (*boltEngine, error) {
	db, err := bolt.Open(filepath.Join(dir, "lrs.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &boltEngine{db: db}, nil
}

func boltPut(org string, recs []Record) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for i := range recs {
			r := &recs[i]
			pk := PrimaryKey(org, r.ID)
			if b.Get(pk) != nil {
				return errConflict
			}
			if err := b.Put(pk, Encode(r)); err != nil {
				return err
			}
			for _, t := range r.Terms {
				if err := b.Put(PostingKey(org, t, r.StoredMs, r.ID), []byte{}); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

func (e *boltEngine) insert(org string, recs []Record) error {
	return e.db.Update(boltPut(org, recs))
}

func (e *boltEngine) insertGroup(org string, recs []Record) error {
	return e.db.Batch(boltPut(org, recs))
}

func (e *boltEngine) query(org, term string, sinceMs, untilMs int64, limit int, desc bool) ([]Record, error) {
	lo, hi := bounds(org, term, sinceMs, untilMs)
	var out []Record
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		c := b.Cursor()
		var k []byte
		if desc {
			k, _ = c.Seek(hi)
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		} else {
			k, _ = c.Seek(lo)
		}
		for k != nil && len(out) < limit {
			if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
				break
			}
			id := PostingID(k)
			v := b.Get(PrimaryKey(org, id))
			if v == nil {
				return fmt.Errorf("dangling posting %q", k)
			}
			r, err := Decode(id, v)
			if err != nil {
				return err
			}
			if !r.Voided {
				out = append(out, r)
			}
			if desc {
				k, _ = c.Prev()
			} else {
				k, _ = c.Next()
			}
		}
		return nil
	})
	return out, err
}

func (e *boltEngine) close() error { return e.db.Close() }
