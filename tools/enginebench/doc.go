// Package enginebench compares the embedded storage engines (Pebble and
// bbolt) on the embedded store's own key layout and record codec, imported
// from lrs/pebbledb: one record per statement under its record key and one
// empty posting key per term (the term's prefix, the stored time, the id),
// so that a term query is an ordered range scan. The comparison lives in
// the tests; set ENGINEBENCH_N to build a large dataset (see BENCHMARKS.md).
//
// It is a module of its own so that bbolt, which only this comparison
// needs, stays out of the server's dependencies.
package enginebench

import "github.com/lrs-project/lrs/lrs/pebbledb"

// Record is a statement as the benchmark stores it: its id and the value
// lrs/pebbledb keeps under its record key.
type Record struct {
	ID string
	pebbledb.RecordValue
}

// PrimaryKey is the record key of id in org.
func PrimaryKey(org, id string) []byte { return pebbledb.RecordKey(org, id) }

// TermPrefix is the prefix of term's postings in org.
func TermPrefix(org, term string) []byte { return pebbledb.PostingPrefix(org, term) }

// PostingKey is the posting of id, stored at ms, under term.
func PostingKey(org, term string, ms int64, id string) []byte {
	return pebbledb.PostingKey(org, term, ms, id)
}

// Encode is the record value of r.
func Encode(r *Record) []byte { return pebbledb.EncodeRecord(r.RecordValue) }

// Decode is the inverse of Encode; it copies out of b.
func Decode(id string, b []byte) (Record, error) {
	v, err := pebbledb.DecodeRecord(b)
	return Record{ID: id, RecordValue: v}, err
}

// PostingID is the statement id of a posting key.
func PostingID(k []byte) string { return pebbledb.PostingID(k) }
