package pebbledb

import (
	"encoding/binary"
	"errors"
	"time"
)

// Key layout (every variable part is escaped, so no org, term or id can
// make one key a prefix of another's space):
//
//	s/<org><id>                      -> record value (see encodeRecord)
//	p/<org><term><stored BE ms><id>  -> empty, one posting per term
//	ref/<org><target><id>            -> empty, for Referrers
//	c/<key>                          -> JSON of auth.Credential
//	org/<id>                         -> JSON of auth.Organization
//	key/<name>                       -> version byte, secret key (secretkeys.go)
//
// where <x> is x with each 0x00 byte written as 0x00 0xFF, followed by the
// terminator 0x00 0x01 (order-preserving and prefix-free), except the final
// <id> of a posting or ref key, which is written raw (it ends the key).

func appendEsc(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0, 0xff)
		} else {
			b = append(b, s[i])
		}
	}
	return append(b, 0, 1)
}

func recordKey(org, id string) []byte {
	b := make([]byte, 0, 2+len(org)+len(id)+4)
	b = append(b, "s/"...)
	b = appendEsc(b, org)
	return appendEsc(b, id)
}

func termPrefix(org, term string) []byte {
	b := make([]byte, 0, 2+len(org)+len(term)+4+8+36)
	b = append(b, "p/"...)
	b = appendEsc(b, org)
	return appendEsc(b, term)
}

// appendMs appends ms as 8 big-endian bytes that sort like the signed value.
func appendMs(b []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(ms)^(1<<63))
}

func postingKey(org, term string, ms int64, id string) []byte {
	return append(appendMs(termPrefix(org, term), ms), id...)
}

func refPrefix(org, target string) []byte {
	b := make([]byte, 0, 4+len(org)+len(target)+4+36)
	b = append(b, "ref/"...)
	b = appendEsc(b, org)
	return appendEsc(b, target)
}

func refKey(org, target, id string) []byte { return append(refPrefix(org, target), id...) }

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

func encodeRecord(r *record) []byte {
	n := 1 + 8 + 1 + 10 + len(r.refTarget) + 10 + len(r.raw)
	for _, t := range r.terms {
		n += 10 + len(t)
	}
	b := make([]byte, 0, n)
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
