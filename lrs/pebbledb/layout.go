package pebbledb

// The statement key layout and record codec of keys.go, exported for
// tools/enginebench, which compares storage engines on this exact format
// (so that its figures measure what the store writes, not a copy of it).
// The store itself uses the unexported functions.

// RecordValue is the value stored under RecordKey: a statement without its
// id (which ends the key).
type RecordValue struct {
	StoredMs  int64
	Voided    bool
	RefTarget string
	Terms     []string
	Raw       []byte
}

// RecordKey is the key of statement id's record in org; id must be a
// UUID (it panics otherwise, as only a caller's bug can make it one).
func RecordKey(org, id string) []byte { return recordKey(org, mustID(id)) }

func mustID(id string) [idLen]byte {
	b, ok := parseID(id)
	if !ok {
		panic("pebbledb: not a UUID: " + id)
	}
	return b
}

// PostingPrefix is the prefix of every posting of term in org.
func PostingPrefix(org, term string) []byte { return termPrefix(org, term) }

// PostingKey is the posting of the statement id (a UUID), stored at
// storedMs, under term: PostingPrefix (a fixed-width hash of org and term),
// the stored time (8 bytes that sort like the signed millisecond count),
// then the id's 16 bytes.
func PostingKey(org, term string, storedMs int64, id string) []byte {
	return postingKey(termPrefix(org, term), storedMs, mustID(id))
}

// AppendMs appends ms as PostingKey writes it.
func AppendMs(b []byte, ms int64) []byte { return appendMs(b, ms) }

// PrefixEnd is the smallest key greater than every key with prefix p (nil:
// no upper bound).
func PrefixEnd(p []byte) []byte { return prefixEnd(p) }

// EncodeRecord encodes v as the store does.
func EncodeRecord(v RecordValue) []byte {
	return encodeRecord(&record{storedMs: v.StoredMs, voided: v.Voided, refTarget: v.RefTarget, terms: v.Terms, raw: v.Raw})
}

// DecodeRecord decodes what EncodeRecord returned; it copies out of b.
func DecodeRecord(b []byte) (RecordValue, error) {
	r, err := decodeRecord(b)
	if err != nil {
		return RecordValue{}, err
	}
	return RecordValue{StoredMs: r.storedMs, Voided: r.voided, RefTarget: r.refTarget, Terms: r.terms, Raw: r.raw}, nil
}

// PostingID is the statement id a PostingKey ends with.
func PostingID(posting []byte) string { return formatID(posting[len(posting)-idLen:]) }
