package pebbledb

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"
)

// Layout 1 of the statement keys (before layouts 2 and 3, see keys.go):
//
//	s/<org><id>                      -> record value (the same as layout 3's)
//	p/<org><term><stored BE ms><id>  -> empty, one posting per term
//	ref/<org><target><id>            -> empty
//
// with <x> escaped as in keys.go and the final <id> of a posting or ref key
// raw text. A store of layout 1 is migrated when it is opened: every record
// is written again under layout 3, then the layout-1 keys are deleted and
// the layout recorded, in one synced batch. A crash in between leaves
// layout 1 in place (and some layout-2 keys, written again by the next
// attempt), so the migration simply runs again.
var (
	layout1Records  = []byte("s/")
	layout1Postings = []byte("p/")
	layout1Refs     = []byte("ref/")
)

// migrate brings the statement keys to layout 4 (those of layout 3).
func (d *DB) migrate() error {
	var cur []byte
	if _, err := d.get(layoutKey, func(v []byte) error { cur = bytes.Clone(v); return nil }); err != nil {
		return fmt.Errorf("pebble: read the statement key layout: %w", err)
	}
	switch string(cur) {
	case layout:
		return nil
	case "2", "3":
		// Layout 3 reads every posting of layout 2 (a key without a value
		// lists its own id) and writes postings with more; layout 4 has
		// the keys of layout 3: nothing to rewrite, but a version that
		// knows only layout 2 or 3 must refuse the store from now on.
		if err := d.db.Set(layoutKey, []byte(layout), cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: record the statement key layout: %w", err)
		}
		return nil
	case "":
	default:
		return fmt.Errorf("pebble: the store's statements are in key layout %q, which this version does not know (it writes layout %s): it was written by a newer version", cur, layout)
	}
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: layout1Records, UpperBound: prefixEnd(layout1Records)})
	if err != nil {
		return fmt.Errorf("pebble: migrate statements: %w", err)
	}
	defer it.Close()
	start := time.Now()
	n := 0
	b := d.db.NewBatch()
	for ok := it.First(); ok; ok = it.Next() {
		if n == 0 {
			d.logger.Info("migrating the stored statements to key layout " + layout + " (fixed-width posting keys); the store opens when it is done")
		}
		org, id, err := parseLayout1RecordKey(it.Key())
		if err != nil {
			b.Close()
			return fmt.Errorf("pebble: migrate statements: key %q: %w", it.Key(), err)
		}
		bid, ok := parseID(id)
		if !ok {
			b.Close()
			return fmt.Errorf("pebble: migrate statements: statement id %q is not a lower-case UUID", id)
		}
		r, err := decodeRecord(it.Value())
		if err != nil {
			b.Close()
			return fmt.Errorf("pebble: migrate statements: statement %s: %w", id, err)
		}
		kvs, err := recordKeys(nil, org, bid, &r)
		if err == nil {
			err = setSorted(b, kvs, nil)
		}
		if err != nil {
			b.Close()
			return fmt.Errorf("pebble: migrate statements: statement %s: %w", id, err)
		}
		if n++; b.Len() > 4<<20 {
			if err := b.Commit(cpebble.NoSync); err != nil {
				b.Close()
				return fmt.Errorf("pebble: migrate statements: %w", err)
			}
			b.Close()
			b = d.db.NewBatch()
		}
	}
	defer b.Close()
	if err := it.Error(); err != nil {
		return fmt.Errorf("pebble: migrate statements: %w", err)
	}
	for _, p := range [][]byte{layout1Records, layout1Postings, layout1Refs} {
		if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return fmt.Errorf("pebble: migrate statements: %w", err)
		}
	}
	if err := b.Set(layoutKey, []byte(layout), nil); err != nil {
		return fmt.Errorf("pebble: migrate statements: %w", err)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: migrate statements: %w", err)
	}
	if n > 0 {
		d.logger.Info("migrated the stored statements to key layout "+layout, "statements", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// parseLayout1RecordKey splits s/<org><id>.
func parseLayout1RecordKey(k []byte) (org, id string, err error) {
	rest := k[len(layout1Records):]
	org, rest, ok := unescape(rest)
	if !ok {
		return "", "", errors.New("bad organization")
	}
	id, rest, ok = unescape(rest)
	if !ok || len(rest) != 0 {
		return "", "", errors.New("bad id")
	}
	return org, id, nil
}

// Layout 1 of the results indexes (before layout 2, see results.go): the
// flags of a result in two keys,
//
//	rc/<org><objective><c><participant><registration> -> <s>
//	rs/<org><objective><s><participant><registration> -> <c>
//
// where layout 2 writes one, rf/<org><objective><c><s><participant>
// <registration>. A store without meta/results is of layout 1 (or new) and
// is migrated when it is opened: an rf/ key is written for each rc/ key,
// then the rc/ and rs/ ranges are deleted and the layout recorded, in one
// synced batch. A crash in between leaves the rc/ keys in place (and some
// rf/ keys, the same the next attempt writes), so the migration simply
// runs again. A version before layout 2 does not read the rf/ keys: its
// lists with a completed or passed filter would be empty (README).
var (
	resultsLayoutKey      = []byte("meta/results")
	resultsLayout1Flags   = []byte("rc/")
	resultsLayout1Success = []byte("rs/")
)

const resultsLayout = "2"

// migrateResults brings the results indexes to layout 2.
func (d *DB) migrateResults() error {
	var cur []byte
	if _, err := d.get(resultsLayoutKey, func(v []byte) error { cur = bytes.Clone(v); return nil }); err != nil {
		return fmt.Errorf("pebble: read the results key layout: %w", err)
	}
	switch string(cur) {
	case resultsLayout:
		return nil
	case "":
	default:
		return fmt.Errorf("pebble: the store's results are in key layout %q, which this version does not know (it writes layout %s): it was written by a newer version", cur, resultsLayout)
	}
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: resultsLayout1Flags, UpperBound: prefixEnd(resultsLayout1Flags)})
	if err != nil {
		return fmt.Errorf("pebble: migrate results: %w", err)
	}
	defer it.Close()
	start := time.Now()
	n := 0
	b := d.db.NewBatch()
	for ok := it.First(); ok; ok = it.Next() {
		if n == 0 {
			d.logger.Info("migrating the stored results to key layout " + resultsLayout + " (one flags index instead of two); the store opens when it is done")
		}
		k, err := resultsLayout1ToFlags(it.Key(), it.Value())
		if err == nil {
			err = b.Set(k, nil, nil)
		}
		if err != nil {
			b.Close()
			return fmt.Errorf("pebble: migrate results: key %q: %w", it.Key(), err)
		}
		if n++; b.Len() > 4<<20 {
			if err := b.Commit(cpebble.NoSync); err != nil {
				b.Close()
				return fmt.Errorf("pebble: migrate results: %w", err)
			}
			b.Close()
			b = d.db.NewBatch()
		}
	}
	defer b.Close()
	if err := it.Error(); err != nil {
		return fmt.Errorf("pebble: migrate results: %w", err)
	}
	for _, p := range [][]byte{resultsLayout1Flags, resultsLayout1Success} {
		if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return fmt.Errorf("pebble: migrate results: %w", err)
		}
	}
	if err := b.Set(resultsLayoutKey, []byte(resultsLayout), nil); err != nil {
		return fmt.Errorf("pebble: migrate results: %w", err)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: migrate results: %w", err)
	}
	if n > 0 {
		d.logger.Info("migrated the stored results to key layout "+resultsLayout, "results", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// resultsLayout1ToFlags is the rf/ key of the rc/ key k with value v.
func resultsLayout1ToFlags(k, v []byte) ([]byte, error) {
	rest := k[len(resultsLayout1Flags):]
	i := 0
	for range 2 { // org, objective
		_, n := unescNext(rest[i:])
		if n < 0 {
			return nil, errBadIndexKey
		}
		i += n
	}
	if i >= len(rest) || len(v) != 1 {
		return nil, errBadIndexKey
	}
	out := make([]byte, 0, len(k)+1)
	out = append(append(out, "rf/"...), rest[:i+1]...) // org, objective, <c>
	out = append(out, v[0])                            // <s>
	return append(out, rest[i+1:]...), nil             // participant, registration
}
