package pebbledb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
)

// Postings of key layout 3. A posting key is P<term hash><stored ms><id>
// (layout 2's); its value lists more ids stored at the same time under the
// same term hash, as 16 bytes each, in ascending order and all greater
// than the key's id. An empty value (every posting of layout 2) lists the
// key's id alone. An insert writes one posting per term hash of the batch
// rather than one per term of each statement: the statements of a batch
// share their stored time, and many of their terms (the verb, the
// authority, TermAll, the activities of a course), so the memtable, the
// flushes and the compactions handle about half the keys.
//
// Within one term hash and stored time, postings are ordered by their
// first id, but the ids of two postings (two batches stored in the same
// millisecond) interleave: a query therefore reads every posting of a
// (term hash, stored time) run before it returns any of its ids, in id
// order (see run).
//
// A posting key is never written twice with different values: a batch's
// key ends with an id that the batch inserts, and AddTerms writes the
// single posting of an existing id only when no posting key of that id
// exists under the term hash (postingAdds).

// runLen is the length of a posting key's run prefix: P, term hash, ms.
const runLen = 1 + hashLen + 8

// postingEntry is a statement's id under one posting run.
type postingEntry struct {
	run [runLen]byte
	id  [idLen]byte
}

// batchPostings appends the postings of records to out, in key order: per
// term hash and stored time, one key with the smallest id and a value with
// the others. prefix returns a term's posting prefix (termPrefix, memoized
// by the caller).
func batchPostings(out []kv, recs []*record, ids [][idLen]byte, prefix func(term string) []byte) []kv {
	n := 0
	for _, r := range recs {
		n += len(r.terms) + 1
	}
	entries := make([]postingEntry, 0, n)
	for i, r := range recs {
		forPostingTerms(r.terms, func(t string) {
			e := postingEntry{id: ids[i]}
			appendMs(append(e.run[:0], prefix(t)...), r.storedMs)
			entries = append(entries, e)
		})
	}
	slices.SortFunc(entries, func(a, b postingEntry) int {
		if c := bytes.Compare(a.run[:], b.run[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	entries = slices.Compact(entries) // two terms of a record may share a hash
	runs := 0
	for i := range entries {
		if i == 0 || entries[i].run != entries[i-1].run {
			runs++
		}
	}
	keys := make([]byte, 0, runs*postingLen)           // one allocation for the keys,
	vals := make([]byte, 0, (len(entries)-runs)*idLen) // one for the values
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].run == entries[i].run {
			j++
		}
		k := len(keys)
		keys = append(append(keys, entries[i].run[:]...), entries[i].id[:]...)
		v := len(vals)
		for _, e := range entries[i+1 : j] {
			vals = append(vals, e.id[:]...)
		}
		out = append(out, kv{k: keys[k:len(keys):len(keys)], v: vals[v:len(vals):len(vals)]})
		i = j
	}
	return out
}

// forPostingTerms calls fn with every distinct term of a record and
// TermAll, which every record is indexed under: the terms themselves when
// they hold it already, sorted and distinct (as the service writes them).
func forPostingTerms(terms []string, fn func(string)) {
	ready := len(terms) > 0 && terms[0] == allTerm
	for i := 1; ready && i < len(terms); i++ {
		ready = terms[i-1] < terms[i]
	}
	if !ready {
		terms = postingTerms(terms)
	}
	for _, t := range terms {
		fn(t)
	}
}

var errBadPosting = errors.New("bad posting")

// appendPostingIDs appends the ids of the posting k, v to out.
func appendPostingIDs(out [][idLen]byte, k, v []byte) ([][idLen]byte, error) {
	if len(k) != postingLen || len(v)%idLen != 0 {
		return out, errBadPosting
	}
	out = append(out, [idLen]byte(k[runLen:]))
	for ; len(v) > 0; v = v[idLen:] {
		out = append(out, [idLen]byte(v[:idLen]))
	}
	return out, nil
}

// run collects the ids of the postings of one (term hash, stored time) and
// hands them out in id order, ascending or not.
type run struct {
	prefix [runLen]byte
	ids    [][idLen]byte
	taken  bool
}

// add adds the posting k, v; it reports false (adding nothing) when k
// starts another run while this one holds ids not yet taken.
func (r *run) add(k, v []byte) (bool, error) {
	if len(k) != postingLen {
		return false, errBadPosting
	}
	if r.taken {
		r.ids, r.taken = r.ids[:0], false
	}
	if len(r.ids) > 0 && !bytes.Equal(k[:runLen], r.prefix[:]) {
		return false, nil
	}
	r.prefix = [runLen]byte(k[:runLen])
	var err error
	r.ids, err = appendPostingIDs(r.ids, k, v)
	return true, err
}

// ms is the stored time of the run.
func (r *run) ms() int64 { return int64(binary.BigEndian.Uint64(r.prefix[1+hashLen:]) ^ (1 << 63)) }

// take returns the run's distinct ids in order (valid until the next add)
// and empties the run.
func (r *run) take(ascending bool) [][idLen]byte {
	slices.SortFunc(r.ids, func(a, b [idLen]byte) int {
		if ascending {
			return bytes.Compare(a[:], b[:])
		}
		return bytes.Compare(b[:], a[:])
	})
	r.taken = true
	return slices.Compact(r.ids)
}
