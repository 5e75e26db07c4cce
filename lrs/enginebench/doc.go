// Package enginebench compares the embedded storage engines (Pebble and
// bbolt) on the LRS key layout: primary records under s/<org>/<id> and one
// empty posting key per term under p/<org>/<term>\x00<stored><id>, so that a
// term query is an ordered range scan. The comparison lives in the tests;
// set ENGINEBENCH_N to build a large dataset (see BENCHMARKS.md).
package enginebench

import (
	"encoding/binary"
	"errors"
)

// Record is a statement as the benchmark stores it.
type Record struct {
	ID        string
	StoredMs  int64
	Voided    bool
	RefTarget string
	Terms     []string
	Raw       []byte
}

// PrimaryKey is s/<org>/<id>.
func PrimaryKey(org, id string) []byte {
	return append([]byte("s/"+org+"/"), id...)
}

// TermPrefix is p/<org>/<term>\x00.
func TermPrefix(org, term string) []byte {
	b := make([]byte, 0, len(org)+len(term)+4)
	b = append(b, "p/"...)
	b = append(b, org...)
	b = append(b, '/')
	b = append(b, term...)
	return append(b, 0)
}

// AppendMs appends the 8-byte big-endian order-preserving millis.
func AppendMs(b []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(ms)^(1<<63))
}

// PostingKey is p/<org>/<term>\x00<stored BE millis><id>.
func PostingKey(org, term string, ms int64, id string) []byte {
	return append(AppendMs(TermPrefix(org, term), ms), id...)
}

// Encode is the compact binary record value.
func Encode(r *Record) []byte {
	n := 8 + 1 + 2 + len(r.RefTarget) + 2 + len(r.Raw)
	for _, t := range r.Terms {
		n += 2 + len(t)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint64(b, uint64(r.StoredMs))
	if r.Voided {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.RefTarget)))
	b = append(b, r.RefTarget...)
	b = binary.AppendUvarint(b, uint64(len(r.Terms)))
	for _, t := range r.Terms {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return append(b, r.Raw...)
}

var errCorrupt = errors.New("enginebench: corrupt record")

// Decode is the inverse of Encode; it copies out of b.
func Decode(id string, b []byte) (Record, error) {
	r := Record{ID: id}
	if len(b) < 9 {
		return r, errCorrupt
	}
	r.StoredMs = int64(binary.BigEndian.Uint64(b))
	r.Voided = b[8] == 1
	b = b[9:]
	str := func() (string, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return "", false
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s, true
	}
	var ok bool
	if r.RefTarget, ok = str(); !ok {
		return r, errCorrupt
	}
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return r, errCorrupt
	}
	b = b[n:]
	r.Terms = make([]string, cnt)
	for i := range r.Terms {
		if r.Terms[i], ok = str(); !ok {
			return r, errCorrupt
		}
	}
	r.Raw = append([]byte(nil), b...)
	return r, nil
}
