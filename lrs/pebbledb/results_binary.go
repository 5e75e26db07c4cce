package pebbledb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/lrs-project/lrs/forward"
)

// The binary form of the results read model's records (result and
// contribution), written since version 2 of their shape: a record is its
// version byte, then its fields in a fixed order, each a varint, a
// length-prefixed string, a flag byte or the 8 bytes of a float64. A
// statement id or a registration that is a canonical UUID is stored as its
// 16 bytes. Times are milliseconds since the epoch (0 for the zero time),
// zig-zag varints.
//
// The records of version 1 are JSON (results_records.go): a JSON record
// begins with '{', never a version byte, so both read, and a record is
// written in the binary form whenever it is written again (every write of
// a result or a contribution). A binary record of a later version does
// not read (errRecordVersion); a binary before this one (JSON only) does
// not read the binary records (README).
//
// Against JSON (goccy/go-json): a result of the ingest benchmark's shape
// is 292 bytes instead of 820 and its contribution 226 instead of 440
// (BenchmarkResultRecords: about 2.5 times faster to encode, 2 to decode);
// the read model writes one result and one contribution per statement,
// and Pebble's memtable, flushes and compactions pay for every byte.

// Version 3 of a result writes a source that repeats an earlier one of
// the same record as one byte, srcRepeat+i for the earlier source i (the
// seven sources of a result of one statement are one id: 23 bytes instead
// of 119, in a record of about 196 bytes instead of 292, which the store
// writes twice, rr/ and ru/); version 2 records still read.
//
// Version 4 of a result and 3 of a contribution leave out what their key
// holds (organization, objective, participant, registration; and the
// contribution's statement id): every read has the key, and gives them
// to the decoder (about 65 bytes fewer in each of rr/ and ru/, 80 in rk/).
// Records of earlier versions carry them, and read as they did.
const (
	resultBinaryVersion       = 4
	contributionBinaryVersion = 3
	srcRepeat                 = 2 // after the tags of recEnc.id
)

var errShortResultRecord = errors.New("truncated results record")

// recEnc appends the fields of a binary record.
type recEnc struct{ b []byte }

func (e *recEnc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *recEnc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *recEnc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *recEnc) ms(m msTime)      { e.varint(int64(m)) }

// id appends s, as its 16 bytes when it is a canonical (lower-case,
// hyphenated) UUID.
func (e *recEnc) id(s string) {
	if u, ok := canonicalUUID(s); ok {
		e.b = append(e.b, 1)
		e.b = append(e.b, u[:]...)
		return
	}
	e.b = append(e.b, 0)
	e.str(s)
}

// canonicalUUID parses s if it is a UUID in its canonical form
// (8-4-4-4-12 lower-case hexadecimal digits), the form formatUUID gives
// back.
func canonicalUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i--
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func formatUUID(u []byte) string {
	const digits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, x := range u[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[x>>4], digits[x&15]
		j += 2
	}
	return string(out[:])
}

func (e *recEnc) float(f float64) { e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(f)) }

func (e *recEnc) score(s *forward.Score) {
	ps := [4]*float64{s.Scaled, s.Raw, s.Min, s.Max}
	var mask byte
	for i, p := range ps {
		if p != nil {
			mask |= 1 << i
		}
	}
	e.b = append(e.b, mask)
	for _, p := range ps {
		if p != nil {
			e.float(*p)
		}
	}
}

// Flags of a values or contribution byte.
const (
	fCompletionSet = 1 << iota
	fCompletion
	fSuccessSet
	fSuccess
	fScore
	fVoided
)

func boolFlags(completion, success *bool) byte {
	var f byte
	if completion != nil {
		f |= fCompletionSet
		if *completion {
			f |= fCompletion
		}
	}
	if success != nil {
		f |= fSuccessSet
		if *success {
			f |= fSuccess
		}
	}
	return f
}

func (e *recEnc) actor(a forward.Actor) {
	e.str(a.Name)
	e.str(a.Mbox)
	e.str(a.MboxSHA1Sum)
	e.str(a.OpenID)
	e.str(a.AccountHomePage)
	e.str(a.AccountName)
}

func (e *recEnc) values(v forward.Values) {
	f := boolFlags(v.Completion, v.Success)
	if v.Score != nil {
		f |= fScore
	}
	e.b = append(e.b, f)
	if v.Score != nil {
		e.score(v.Score)
	}
	e.str(v.Duration)
	e.varint(int64(v.Attempts))
	e.ms(toMs(v.FirstActivity))
	e.ms(toMs(v.LastActivity))
	e.ms(toMs(v.CompletedAt))
}

func (e *recEnc) fields(fs []forward.ResultField) {
	e.uvarint(uint64(len(fs)))
	for _, f := range fs {
		e.str(string(f))
	}
}

// recDec reads the fields of a binary record; the first error sticks.
type recDec struct {
	b   []byte
	err error
}

func (d *recDec) fail() {
	if d.err == nil {
		d.err = errShortResultRecord
	}
	d.b = nil
}

func (d *recDec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDec) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recDec) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *recDec) ms() msTime { return msTime(d.varint()) }

func (d *recDec) id() string {
	switch d.byte() {
	case 0:
		return d.str()
	case 1:
		if len(d.b) < 16 {
			d.fail()
			return ""
		}
		s := formatUUID(d.b[:16])
		d.b = d.b[16:]
		return s
	}
	d.fail()
	return ""
}

func (d *recDec) score() *forward.Score {
	mask := d.byte()
	// One allocation for the score and its values.
	var v struct {
		s forward.Score
		f [4]float64
	}
	ps := [4]**float64{&v.s.Scaled, &v.s.Raw, &v.s.Min, &v.s.Max}
	for i, p := range ps {
		if mask&(1<<i) != 0 {
			if len(d.b) < 8 {
				d.fail()
				return &v.s
			}
			v.f[i] = math.Float64frombits(binary.BigEndian.Uint64(d.b))
			d.b = d.b[8:]
			*p = &v.f[i]
		}
	}
	return &v.s
}

func flagBools(f byte) (completion, success *bool) {
	if f&fCompletionSet != 0 {
		completion = ptrTo(f&fCompletion != 0)
	}
	if f&fSuccessSet != 0 {
		success = ptrTo(f&fSuccess != 0)
	}
	return completion, success
}

func ptrTo[T any](v T) *T { return &v }

func (d *recDec) actor() forward.Actor {
	return forward.Actor{Name: d.str(), Mbox: d.str(), MboxSHA1Sum: d.str(), OpenID: d.str(), AccountHomePage: d.str(), AccountName: d.str()}
}

func (d *recDec) values() forward.Values {
	var v forward.Values
	f := d.byte()
	v.Completion, v.Success = flagBools(f)
	if f&fScore != 0 {
		v.Score = d.score()
	}
	v.Duration = d.str()
	v.Attempts = int(d.varint())
	v.FirstActivity, v.LastActivity, v.CompletedAt = d.ms().time(), d.ms().time(), d.ms().time()
	return v
}

func (d *recDec) fields() []forward.ResultField {
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) { // each field takes a byte at least
		if n != 0 {
			d.fail()
		}
		return nil
	}
	out := make([]forward.ResultField, n)
	for i := range out {
		out[i] = forward.ResultField(d.str())
	}
	return out
}

// end checks that the record was read to its end.
func (d *recDec) end(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return fmt.Errorf("%s record: %w", what, d.err)
	}
	return nil
}

// checkBinaryVersion checks the version byte of a binary record.
func checkBinaryVersion(b []byte, version byte) error {
	if len(b) == 0 {
		return errShortResultRecord
	}
	if b[0] != version {
		return fmt.Errorf("%w: results record version %d", errRecordVersion, b[0])
	}
	return nil
}

func encodeContribution(c forward.Contribution) ([]byte, error) {
	e := recEnc{b: make([]byte, 0, 160+len(c.Participant)+len(c.Verb)+len(c.Activity))}
	e.b = append(e.b, contributionBinaryVersion) // the key fields: from the key (version 3)
	e.ms(toMs(c.Stored))
	e.ms(toMs(c.Timestamp))
	e.str(c.Verb)
	e.str(c.Activity)
	f := boolFlags(c.Completion, c.Success)
	if c.Score != nil {
		f |= fScore
	}
	if c.Voided {
		f |= fVoided
	}
	e.b = append(e.b, f)
	if c.Score != nil {
		e.score(c.Score)
	}
	e.str(c.Duration)
	e.actor(c.Actor)
	return e.b, nil
}

// decodeContribution decodes the record stored under contribKey(k, stmt).
func decodeContribution(k forward.ResultKey, stmt string, b []byte) (forward.Contribution, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeContributionJSON(b)
	}
	var c forward.Contribution
	d := recDec{b: b[min(len(b), 1):]}
	if len(b) > 0 && b[0] == 2 { // version 2: with the key fields
		c.Org, c.ObjectiveID, c.Participant, c.Registration = d.str(), d.str(), d.str(), d.id()
		c.StatementID = d.id()
	} else if err := checkBinaryVersion(b, contributionBinaryVersion); err != nil {
		return forward.Contribution{}, err
	} else {
		c.ResultKey, c.StatementID = k, stmt
	}
	c.Stored, c.Timestamp = d.ms().time(), d.ms().time()
	c.Verb, c.Activity = d.str(), d.str()
	f := d.byte()
	c.Completion, c.Success = flagBools(f)
	if f&fScore != 0 {
		c.Score = d.score()
	}
	c.Voided = f&fVoided != 0
	c.Duration = d.str()
	c.Actor = d.actor()
	if err := d.end("contribution"); err != nil {
		return forward.Contribution{}, err
	}
	return c, nil
}

func encodeResult(r forward.ObjectiveResult) ([]byte, error) {
	e := recEnc{b: make([]byte, 0, 256+len(r.Participant))}
	e.b = append(e.b, resultBinaryVersion) // the key fields: from the key (version 4)
	e.actor(r.Actor)
	e.values(r.Computed)
	s := r.Sources
	srcs := [...]string{s.Completion, s.Success, s.Score, s.Duration, s.FirstActivity, s.LastActivity, s.CompletedAt}
	for i, id := range srcs {
		if j := slices.Index(srcs[:i], id); j >= 0 {
			e.b = append(e.b, srcRepeat+byte(j))
			continue
		}
		e.id(id)
	}
	e.varint(int64(r.Statements))
	e.values(r.Override.Values)
	fs := make([]string, 0, len(r.Override.Set))
	for f := range r.Override.Set {
		fs = append(fs, string(f))
	}
	slices.Sort(fs)
	e.uvarint(uint64(len(fs)))
	for _, f := range fs {
		o := r.Override.Set[forward.ResultField(f)]
		e.str(f)
		e.str(o.By)
		e.ms(toMs(o.At))
		e.str(o.Reason)
	}
	e.uvarint(uint64(len(r.History)))
	for _, h := range r.History {
		e.ms(toMs(h.At))
		e.str(h.By)
		e.str(h.Reason)
		e.fields(h.Set)
		e.values(h.Values)
		e.fields(h.Cleared)
		e.varint(h.Revision)
	}
	e.varint(r.Revision)
	e.varint(r.Gen)
	e.ms(toMs(r.RulesAt))
	e.ms(toMs(r.CreatedAt))
	e.ms(toMs(r.UpdatedAt))
	return e.b, nil
}

// decodeResult decodes the record stored under resultKey(k) (or its copy
// in ru/).
func decodeResult(k forward.ResultKey, b []byte) (forward.ObjectiveResult, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeResultJSON(b)
	}
	var r forward.ObjectiveResult
	d := recDec{b: b[min(len(b), 1):]}
	switch {
	case len(b) > 0 && (b[0] == 2 || b[0] == 3): // with the key fields (2: no repeated sources)
		r.Org, r.ObjectiveID, r.Participant, r.Registration = d.str(), d.str(), d.str(), d.id()
	default:
		if err := checkBinaryVersion(b, resultBinaryVersion); err != nil {
			return forward.ObjectiveResult{}, err
		}
		r.ResultKey = k
	}
	r.Actor = d.actor()
	r.Computed = d.values()
	s := &r.Sources
	srcs := [...]*string{&s.Completion, &s.Success, &s.Score, &s.Duration, &s.FirstActivity, &s.LastActivity, &s.CompletedAt}
	for i, p := range srcs {
		if len(d.b) > 0 && d.b[0] >= srcRepeat && d.b[0] < srcRepeat+byte(i) {
			*p = *srcs[d.b[0]-srcRepeat]
			d.b = d.b[1:]
			continue
		}
		*p = d.id()
	}
	r.Statements = int(d.varint())
	r.Override.Values = d.values()
	if n := d.uvarint(); n > 0 {
		if n > uint64(len(d.b)) {
			d.fail()
		} else {
			r.Override.Set = make(map[forward.ResultField]forward.OverrideEntry, n)
			for range n {
				f := forward.ResultField(d.str())
				r.Override.Set[f] = forward.OverrideEntry{By: d.str(), At: d.ms().time(), Reason: d.str()}
			}
		}
	}
	if n := d.uvarint(); n > 0 {
		if n > uint64(len(d.b)) {
			d.fail()
		} else {
			r.History = make([]forward.OverrideEvent, n)
			for i := range r.History {
				h := &r.History[i]
				h.At, h.By, h.Reason = d.ms().time(), d.str(), d.str()
				h.Set, h.Values, h.Cleared, h.Revision = d.fields(), d.values(), d.fields(), d.varint()
			}
		}
	}
	r.Revision, r.Gen = d.varint(), d.varint()
	r.RulesAt, r.CreatedAt, r.UpdatedAt = d.ms().time(), d.ms().time(), d.ms().time()
	if err := d.end("result"); err != nil {
		return forward.ObjectiveResult{}, err
	}
	return r, nil
}
