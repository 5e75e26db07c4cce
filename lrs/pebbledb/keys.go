package pebbledb

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// Key layout of statements (layout 3; layout 1 is migrated on open, and
// layout 2 is layout 3 without postings of several ids, see migrate.go):
//
//	S<org><id>                       -> record value (see encodeRecord), in
//	                                    blob files: the only key span
//	                                    starting with S (statementRecords)
//	P<term hash><stored BE ms><id>   -> more ids (16 bytes each, ascending)
//	                                    under that hash and time, or empty:
//	                                    one posting per term hash of a
//	                                    batch (postings.go)
//	R<org><target id><id>            -> empty, for Referrers
//	meta/statements                  -> "4", the layout of the keys above
//
// and of the rest:
//
//	c/<key>                          -> JSON of auth.Credential
//	org/<id>                         -> JSON of auth.Organization
//	key/<name>                       -> version byte, secret key (secretkeys.go)
//
// where <x> is x with each 0x00 byte written as 0x00 0xFF, followed by the
// terminator 0x00 0x01 (order-preserving and prefix-free); <id> is a
// statement id, a lower-case UUID, as its 16 bytes (their order is the
// order of the text); and <term hash> is the first 8 bytes of
// SHA-256(<org> term): fixed-width posting keys (34 bytes, where whole
// IRIs made them 60 to 200), which keep the LSM's rewriting cheap. Two
// terms may share a hash; a query therefore checks each hit against its
// record (same stored time, the term among the record's terms).

func appendEsc(b []byte, s string) []byte {
	for { // a run without zero bytes at a time (nearly always the whole of s)
		i := strings.IndexByte(s, 0)
		if i < 0 {
			b = append(b, s...)
			break
		}
		b = append(append(b, s[:i]...), 0, 0xff)
		s = s[i+1:]
	}
	return append(b, 0, 1)
}

const (
	idLen      = 16
	hashLen    = 8
	postingLen = 1 + hashLen + 8 + idLen
	allTerm    = "*" // lrs.TermAll
)

// parseID returns the 16 bytes of a lower-case UUID; false for any other
// string (no record can have it).
func parseID(id string) (b [idLen]byte, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return b, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i--
			continue
		}
		hi, ok1 := fromHex(id[i])
		lo, ok2 := fromHex(id[i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[j] = hi<<4 | lo
		j++
	}
	return b, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// formatID is the text of a 16-byte id.
func formatID(b []byte) string {
	const hex = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hex[c>>4], hex[c&0xf]
		j += 2
	}
	return string(s[:])
}

func recordKey(org string, id [idLen]byte) []byte {
	b := make([]byte, 0, 1+len(org)+2+idLen)
	b = append(b, 'S')
	b = appendEsc(b, org)
	return append(b, id[:]...)
}

// termPrefix is the prefix of the postings of term in org.
func termPrefix(org, term string) []byte {
	h := sha256.New()
	h.Write([]byte(org))
	h.Write([]byte{0})
	h.Write([]byte(term))
	var sum [sha256.Size]byte
	b := make([]byte, 1, postingLen)
	b[0] = 'P'
	return append(b, h.Sum(sum[:0])[:hashLen]...)
}

// appendMs appends ms as 8 big-endian bytes that sort like the signed value.
func appendMs(b []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(ms)^(1<<63))
}

// postingKey is the posting of id under the term whose prefix is p.
func postingKey(p []byte, ms int64, id [idLen]byte) []byte {
	k := make([]byte, 0, postingLen)
	return append(appendMs(append(k, p...), ms), id[:]...)
}

func refPrefix(org string, target [idLen]byte) []byte {
	b := make([]byte, 0, 1+len(org)+2+2*idLen)
	b = append(b, 'R')
	b = appendEsc(b, org)
	return append(b, target[:]...)
}

func refKey(org string, target, id [idLen]byte) []byte {
	return append(refPrefix(org, target), id[:]...)
}

var layoutKey = []byte("meta/statements")

// layout is the statement key layout this version writes. Layout 4 has
// the statement keys of layout 3; it was introduced so that a version
// that knows only layout 3 refuses a store this one has written: such a
// version does not read the results indexes of results layout 2 (its
// lists filtered on completion or success would come back empty) nor
// the result records of this version (see migrateResults).
const layout = "4"

var credPrefix = []byte("c/")

func credKey(key string) []byte { return append([]byte("c/"), key...) }

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// floorMs returns t in whole milliseconds, rounded down.
func floorMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Before(time.UnixMilli(ms)) {
		ms--
	}
	return ms
}

// record is the stored form of an lrs.StatementRecord (without its id).
type record struct {
	storedMs  int64
	voided    bool
	refTarget string
	terms     []string
	raw       []byte
}

const recordVersion = 1

func encodeRecord(r *record) []byte { return appendRecord(make([]byte, 0, recordLen(r)), r) }

// recordLen is the length of r's encoding.
func recordLen(r *record) int {
	n := 1 + 8 + 1 + uvarintLen(len(r.refTarget)) + len(r.refTarget) + uvarintLen(len(r.terms)) + len(r.raw)
	for _, t := range r.terms {
		n += uvarintLen(len(t)) + len(t)
	}
	return n
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// appendRecord appends r's encoding to b.
func appendRecord(b []byte, r *record) []byte {
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.storedMs))
	if r.voided {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.refTarget)))
	b = append(b, r.refTarget...)
	b = binary.AppendUvarint(b, uint64(len(r.terms)))
	for _, t := range r.terms {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return append(b, r.raw...)
}

var errCorrupt = errors.New("corrupt record value")

// decodeRecord copies everything out of b (which pebble owns).
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 10 || b[0] != recordVersion {
		return r, errCorrupt
	}
	r.storedMs = int64(binary.BigEndian.Uint64(b[1:]))
	r.voided = b[9] == 1
	b = b[10:]
	str := func() (string, bool) { return readUvarintString(&b) }
	var ok bool
	if r.refTarget, ok = str(); !ok {
		return r, errCorrupt
	}
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return r, errCorrupt
	}
	b = b[n:]
	r.terms = make([]string, cnt)
	for i := range r.terms {
		if r.terms[i], ok = str(); !ok {
			return r, errCorrupt
		}
	}
	r.raw = append([]byte(nil), b...)
	return r, nil
}

// readUvarintString reads a length-prefixed (uvarint) string from *b and
// advances *b past it; false when *b is too short.
func readUvarintString(b *[]byte) (string, bool) {
	l, n := binary.Uvarint(*b)
	if n <= 0 || uint64(len(*b)-n) < l {
		return "", false
	}
	s := string((*b)[n : n+int(l)])
	*b = (*b)[n+int(l):]
	return s, true
}
