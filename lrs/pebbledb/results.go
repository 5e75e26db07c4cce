package pebbledb

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
)

var _ forward.ResultStore = (*DB)(nil)

// Key layout of the results read model (<x> escaped as in keys.go, <ms>
// as appendMs, <c> and <s> one byte: 1 when the effective result is
// completed / passed, else 0):
//
//	rk/<org><objective><participant><registration><statement>
//	                                          -> contributionRecord
//	rv/<org><statement>                       -> the voiding statement's id
//	rr/<org><objective><participant><registration>
//	                                          -> resultRecord
//	rf/<org><objective><c><s><participant><registration> -> empty
//	ru/<org><objective><updated ms><participant><registration> -> <c><s><resultRecord>
//	rp/<org><participant><objective><registration>      -> <c><s><updated ms>
//	meta/results                              -> "2", the layout of these keys
//
// The rf/, ru/ and rp/ keys index the results for ListResults; they
// are written in the batch that writes the result (under its stripe lock),
// so that they always match it. The ru/ value carries a copy of the
// result's record, so that a page ordered by update time is one scan
// instead of a seek per result into rr/ (whose keys it visits in no
// order); ru/ values of earlier stores hold the flags alone, and such a
// page seeks their records. Contributions and voids of one statement
// hold the stripe lock of (org, statement), so an add and a void of it
// never interleave. Derived writes are not synced on their own: Pebble's
// write-ahead log keeps them in order, so they are durable once a later
// synced write (a statement, a delivery, the reconciler's watermark) is,
// and a crash loses a suffix of them that the reconciler rebuilds.

func contribPrefix(k forward.ResultKey) []byte {
	return fwdKey("rk/", k.Org, k.ObjectiveID, k.Participant, k.Registration)
}
func contribKey(k forward.ResultKey, stmt string) []byte { return appendEsc(contribPrefix(k), stmt) }
func voidKey(org, stmt string) []byte                    { return fwdKey("rv/", org, stmt) }
func resultKey(k forward.ResultKey) []byte {
	return fwdKey("rr/", k.Org, k.ObjectiveID, k.Participant, k.Registration)
}

// resultDecoder decodes the record of the result k (decodeResult).
func resultDecoder(k forward.ResultKey) func([]byte) (forward.ObjectiveResult, error) {
	return func(b []byte) (forward.ObjectiveResult, error) { return decodeResult(k, b) }
}

// contribDecoder decodes the record of the contribution of statement
// stmt to the result k (decodeContribution).
func contribDecoder(k forward.ResultKey, stmt string) func([]byte) (forward.Contribution, error) {
	return func(b []byte) (forward.Contribution, error) { return decodeContribution(k, stmt, b) }
}

// parseResultKeyRest reads the participant and registration that end a
// result key (rr/, rf/, ru/ after its time): all of rest.
func parseResultKeyRest(rest []byte) (forward.ResultKey, bool) {
	p, n := unescNext(rest)
	if n < 0 {
		return forward.ResultKey{}, false
	}
	r, m := unescNext(rest[n:])
	return forward.ResultKey{Participant: p, Registration: r}, m >= 0 && n+m == len(rest)
}

func flag(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// ruIndex is the position of the ru/ key in resultIndexKeys.
const ruIndex = 1

// resultIndexKeys are the index keys (and values) of r; the ru/ value
// without the record PutResults appends to it. They share one buffer (an
// allocation instead of a dozen: every write of a result computes them).
func resultIndexKeys(r forward.ObjectiveResult) [][2][]byte {
	c, s := flag(r.Completed()), flag(r.Passed())
	ms := floorMs(r.UpdatedAt)
	n := len(r.Org) + len(r.ObjectiveID) + len(r.Participant) + len(r.Registration) + 8 // escaped, without zero bytes
	b := make([]byte, 0, 3*(3+n+8)+12)
	start := 0
	key := func() []byte { k := b[start:len(b):len(b)]; start = len(b); return k }
	obj := func(p string) { b = appendEsc(appendEsc(append(b, p...), r.Org), r.ObjectiveID) }
	pr := func() { b = appendEsc(appendEsc(b, r.Participant), r.Registration) }
	obj("rf/")
	b = append(b, c, s)
	pr()
	rf := key()
	obj("ru/")
	b = appendMs(b, ms)
	pr()
	ru := key()
	b = appendEsc(appendEsc(appendEsc(appendEsc(append(b, "rp/"...), r.Org), r.Participant), r.ObjectiveID), r.Registration)
	rp := key()
	b = append(b, c, s)
	ruVal := key()
	b = appendMs(append(b, c, s), ms)
	rpVal := key()
	return [][2][]byte{{rf, nil}, {ru, ruVal}, {rp, rpVal}}
}

// batchOps are the writes of a batch, added to it in key order (apply):
// the memtable's skiplist inserts of neighbouring keys reuse each other's
// search path (as setSorted does for statements). Of two writes of one
// key, the later is added later, so it wins.
type batchOps []batchOp

type batchOp struct {
	k, v []byte
	del  bool
}

func (o *batchOps) set(k, v []byte) { *o = append(*o, batchOp{k: k, v: v}) }
func (o *batchOps) del(k []byte)    { *o = append(*o, batchOp{k: k, del: true}) }

func (o batchOps) apply(b *cpebble.Batch) error {
	slices.SortStableFunc(o, func(x, y batchOp) int { return bytes.Compare(x.k, y.k) })
	for _, op := range o {
		var err error
		if op.del {
			err = b.Delete(op.k, nil)
		} else {
			err = b.Set(op.k, op.v, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func stmtStripeKey(org, stmt string) string { return org + "\x00" + stmt }

// AddContributions inserts each contribution whose key is free (or
// replaces one stored later), voided when its statement is (rv/), under
// the stripe locks of the statements. A New one is written without
// reading its key: a point read that misses, nearly always, and costs a
// bloom-filter probe of every level.
func (d *DB) AddContributions(ctx context.Context, cs []forward.Contribution) error {
	if err := d.acquire(ctx, "add contributions"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(cs) == 0 {
		return nil
	}
	locks := make([]string, len(cs))
	for i, c := range cs {
		locks[i] = stmtStripeKey(c.Org, c.StatementID)
	}
	defer d.lockIDs(locks...)()
	b := d.db.NewBatch()
	defer b.Close()
	var written []forward.Contribution // in the batch's order: of two writes of a key, the later wins
	var ops batchOps
	inBatch := map[string]forward.Contribution{}
	for i, c := range cs {
		key := contribKey(c.ResultKey, c.StatementID)
		old, ok := inBatch[string(key)]
		if !ok && !c.New {
			var err error
			if old, ok, err = fwdGet(d, key, contribDecoder(c.ResultKey, c.StatementID)); err != nil {
				return fwdErr("add contributions", err)
			}
		}
		if ok {
			if !c.Stored.Before(old.Stored) {
				continue
			}
			c.Voided = c.Voided || old.Voided
		}
		if !c.Voided {
			hasVoids, err := d.orgHasVoids(c.Org)
			if err != nil {
				return fwdErr("add contributions", err)
			}
			if hasVoids {
				voided, err := d.get(voidKey(c.Org, c.StatementID), nil)
				if err != nil {
					return fwdErr("add contributions", err)
				}
				c.Voided = voided
			}
		}
		if c.New {
			cs[i].Voided = c.Voided
		}
		v, err := encodeContribution(c)
		if err != nil {
			return fwdErr("add contributions", err)
		}
		ops.set(key, v)
		inBatch[string(key)] = c
		written = append(written, c)
	}
	if len(ops) == 0 {
		return nil
	}
	if err := ops.apply(b); err != nil {
		return fwdErr("add contributions", err)
	}
	if err := b.Commit(cpebble.NoSync); err != nil {
		return fwdErr("add contributions", err)
	}
	for _, c := range written { // after the commit, under the stripe locks (results_contribs.go)
		d.contribs.wrote(d, c)
	}
	return nil
}

// VoidStatements records each target voided, then marks its stored
// contributions, under the stripe locks of the targets.
func (d *DB) VoidStatements(ctx context.Context, org string, voids []forward.Void) error {
	if err := d.acquire(ctx, "void statements"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(voids) == 0 {
		return nil
	}
	locks := make([]string, len(voids))
	for i, v := range voids {
		locks[i] = stmtStripeKey(org, v.Target)
	}
	defer d.lockIDs(locks...)()
	d.voidOrgs.Store(org, true) // before the voids: an add of a target holds its stripe meanwhile
	b := d.db.NewBatch()
	defer b.Close()
	var written []forward.Contribution
	for _, v := range voids {
		if err := b.Set(voidKey(org, v.Target), []byte(v.By), nil); err != nil {
			return fwdErr("void statements", err)
		}
		for _, k := range v.Results {
			k.Org = org
			key := contribKey(k, v.Target)
			c, ok, err := fwdGet(d, key, contribDecoder(k, v.Target))
			if err != nil {
				return fwdErr("void statements", err)
			}
			if !ok || c.Voided {
				continue
			}
			c.Voided = true
			val, err := encodeContribution(c)
			if err != nil {
				return fwdErr("void statements", err)
			}
			if err := b.Set(key, val, nil); err != nil {
				return fwdErr("void statements", err)
			}
			written = append(written, c)
		}
	}
	if err := b.Commit(cpebble.NoSync); err != nil {
		return fwdErr("void statements", err)
	}
	for _, c := range written { // after the commit, under the stripe locks (results_contribs.go)
		d.contribs.wrote(d, c)
	}
	return nil
}

// orgHasVoids reports whether org has voided statements: most have none,
// which spares an add the read of its statements' voids. The answer is
// read from the store once per organization and process, then kept by
// VoidStatements (one process owns the store).
func (d *DB) orgHasVoids(org string) (bool, error) {
	if v, ok := d.voidOrgs.Load(org); ok {
		return v.(bool), nil
	}
	found := false
	err := d.fwdScan(fwdKey("rv/", org), false, func(_, _ []byte) (bool, error) {
		found = true
		return false, nil
	})
	if err != nil {
		return false, err
	}
	v, _ := d.voidOrgs.LoadOrStore(org, found)
	return v.(bool), nil
}

// ResultContributions scans each result's contributions (rk/), or takes
// them from the cache of decoded contributions (results_contribs.go).
func (d *DB) ResultContributions(ctx context.Context, keys []forward.ResultKey) (map[forward.ResultKey][]forward.Contribution, error) {
	if err := d.acquire(ctx, "result contributions"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := make(map[forward.ResultKey][]forward.Contribution, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	// One iterator over the contributions, seeking forward from result to
	// result in key order.
	prefixes := make([][]byte, len(keys))
	marks := make([]contribMark, len(keys)) // before the iterator
	order := make([]int, 0, len(keys))      // the results to read
	for i, k := range keys {
		prefixes[i] = contribPrefix(k)
		if cs, ok := d.contribs.get(string(prefixes[i])); ok {
			out[k] = cs
			continue
		}
		marks[i] = d.contribs.mark(d, string(prefixes[i]))
		order = append(order, i)
	}
	if len(order) == 0 {
		return out, nil
	}
	sort.Slice(order, func(a, b int) bool { return bytes.Compare(prefixes[order[a]], prefixes[order[b]]) < 0 })
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: prefixes[order[0]], UpperBound: prefixEnd(prefixes[order[len(order)-1]])})
	if err != nil {
		return nil, fwdErr("result contributions", err)
	}
	defer it.Close()
	for _, i := range order {
		k := keys[i]
		if _, done := out[k]; done {
			continue
		}
		var cs []forward.Contribution
		for ok := it.SeekGE(prefixes[i]); ok && bytes.HasPrefix(it.Key(), prefixes[i]); ok = it.Next() {
			stmt, n := unescNext(it.Key()[len(prefixes[i]):])
			if n < 0 {
				return nil, fwdErr("result contributions", errBadIndexKey)
			}
			c, err := decodeContribution(k, stmt, it.Value())
			if err != nil {
				return nil, fwdErr("result contributions", err)
			}
			cs = append(cs, c)
		}
		if err := it.Error(); err != nil {
			return nil, fwdErr("result contributions", err)
		}
		if len(cs) > 0 {
			out[k] = cs
			d.contribs.fill(d, string(prefixes[i]), marks[i], cs)
		}
	}
	return out, nil
}

// GetResults reads each result (rr/).
func (d *DB) GetResults(ctx context.Context, keys []forward.ResultKey) (map[forward.ResultKey]forward.ObjectiveResult, error) {
	if err := d.acquire(ctx, "get results"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := make(map[forward.ResultKey]forward.ObjectiveResult, len(keys))
	for _, k := range keys {
		key := resultKey(k)
		stamp, epoch := d.results.mark(d, string(key))
		var r forward.ObjectiveResult
		var ok bool
		if d.resultSet(k.Org).mayHold(key) { // else not stored (results_reads.go)
			var err error
			if r, ok, err = fwdGet(d, key, resultDecoder(k)); err != nil {
				return nil, fwdErr("get results", err)
			}
		}
		read := resultRead{stamp: stamp, epoch: epoch, found: ok}
		if ok {
			out[k] = r
			read.gen, read.index = r.Gen, resultIndexKeys(r)
		}
		d.results.put(string(key), read)
	}
	return out, nil
}

var errRepeatedResult = errors.New("a result is repeated in PutResults")

// PutResults writes, in one batch under the stripe locks of the results,
// each result whose stored Gen is still the one it was read at, with its
// index keys.
func (d *DB) PutResults(ctx context.Context, rs []forward.ObjectiveResult, durable bool) ([]forward.ResultKey, error) {
	if err := d.acquire(ctx, "put results"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	if len(rs) == 0 {
		return nil, nil
	}
	keys := make([]string, len(rs))
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		keys[i] = string(resultKey(r.ResultKey))
		if seen[keys[i]] {
			return nil, fwdErr("put results", errRepeatedResult)
		}
		seen[keys[i]] = true
	}
	defer d.lockIDs(keys...)()
	defer d.results.wrote(d, keys) // after the commit and the sets, before the unlock
	var created [][]byte           // the keys of the results created, for their sets
	var sets []*idSet
	b := d.db.NewBatch()
	defer b.Close()
	var conflicts []forward.ResultKey
	ops := make(batchOps, 0, 4*len(rs))
	for i, r := range rs {
		// What the store holds: the read of GetResults when no write
		// came since (results_reads.go), else a read.
		old, ok := d.results.take(d, keys[i])
		if !ok {
			stored, found, err := fwdGet(d, []byte(keys[i]), resultDecoder(r.ResultKey))
			if err != nil {
				return nil, fwdErr("put results", err)
			}
			old = resultRead{found: found, gen: stored.Gen}
			if found {
				old.index = resultIndexKeys(stored)
			}
		}
		if old.gen != r.Gen || old.found != (r.Gen != 0) {
			conflicts = append(conflicts, r.ResultKey)
			continue
		}
		r.Gen = old.gen + 1
		normResult(&r)
		v, err := encodeResult(r)
		if err != nil {
			return nil, fwdErr("put results", err)
		}
		ops.set([]byte(keys[i]), v)
		if !old.found {
			created = append(created, []byte(keys[i]))
			sets = append(sets, d.resultSet(r.Org)) // before the commit
		}
		// The index keys that changed (each index holds one key per result).
		// The ru/ key is set again on every write: its value carries the
		// record, which every write changes (Gen).
		was := old.index
		for j, kv := range resultIndexKeys(r) {
			val := kv[1]
			if j == ruIndex {
				val = append(slices.Clip(val), v...)
			} else if was != nil && bytes.Equal(was[j][0], kv[0]) && bytes.Equal(was[j][1], kv[1]) {
				continue
			}
			if was != nil && !bytes.Equal(was[j][0], kv[0]) {
				ops.del(was[j][0])
			}
			ops.set(kv[0], val)
		}
	}
	if len(ops) == 0 {
		return conflicts, nil
	}
	if err := ops.apply(b); err != nil {
		return nil, fwdErr("put results", err)
	}
	opt := cpebble.NoSync
	if durable {
		opt = cpebble.Sync
	}
	if err := b.Commit(opt); err != nil {
		return nil, fwdErr("put results", err)
	}
	for i, key := range created {
		sets[i].add(key)
	}
	return conflicts, nil
}

// normResult truncates r's own times to the millisecond, as they are
// stored (the index keys are computed from the stored form).
func normResult(r *forward.ObjectiveResult) {
	r.UpdatedAt, r.CreatedAt, r.RulesAt = normMs(r.UpdatedAt), normMs(r.CreatedAt), normMs(r.RulesAt)
}

// resultPos is a result found in an index: its key, and what the index
// says of it.
type resultPos struct {
	forward.ResultCursor
	completed, passed bool
	record            []byte // the result's record, when the scan read it
}

// ListResults scans the index that serves q (the participant's rp/ keys,
// or the objective's ru/ with Since, rf/ with Completed or Passed, rr/
// otherwise), filters on what the index keys hold, and reads the
// results found, all on one snapshot.
func (d *DB) ListResults(ctx context.Context, q forward.ResultQuery) ([]forward.ObjectiveResult, error) {
	if err := d.acquire(ctx, "list results"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.ObjectiveResult{}
	if q.Limit <= 0 {
		return out, nil
	}
	snap := d.db.NewSnapshot()
	defer snap.Close()
	var pos []resultPos
	var err error
	if q.Participant != "" {
		pos, err = d.participantResults(snap, q)
	} else {
		pos, err = d.objectiveResults(snap, q)
	}
	if err != nil {
		return nil, fwdErr("list results", err)
	}
	// The records: decoded from the scan (rr/), or read with one iterator
	// over the organization's results, seeking forward in key order.
	prefix := fwdKey("rr/", q.Org)
	it, err := snap.NewIter(&cpebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fwdErr("list results", err)
	}
	defer it.Close()
	keys := make([][]byte, len(pos))
	rks := make([]forward.ResultKey, len(pos))
	order := make([]int, len(pos)) // the positions in key order, for forward seeks
	for i, p := range pos {
		rks[i] = forward.ResultKey{Org: q.Org, ObjectiveID: p.ObjectiveID, Participant: p.Participant, Registration: p.Registration}
		keys[i] = resultKey(rks[i])
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return bytes.Compare(keys[order[a]], keys[order[b]]) < 0 })
	found := make([]*forward.ObjectiveResult, len(pos))
	for _, i := range order {
		v := pos[i].record
		if v == nil {
			if !it.SeekGE(keys[i]) || !bytes.Equal(it.Key(), keys[i]) {
				if err := it.Error(); err != nil {
					return nil, fwdErr("list results", err)
				}
				continue // not on this snapshot (the index and the record are written together)
			}
			v = it.Value()
		}
		r, err := decodeResult(rks[i], v)
		if err != nil {
			return nil, fwdErr("list results", err)
		}
		found[i] = &r
	}
	for _, r := range found {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// filtered reports whether a result with these index values passes q's
// filters.
func filtered(q forward.ResultQuery, completed, passed bool, updatedMs int64) bool {
	return (q.Completed == nil || *q.Completed == completed) && (q.Passed == nil || *q.Passed == passed) &&
		(q.Since.IsZero() || updatedMs >= floorMs(q.Since))
}

// participantResults reads the participant's index keys (few), filters,
// orders them as q says and keeps one page after q.After.
func (d *DB) participantResults(snap *cpebble.Snapshot, q forward.ResultQuery) ([]resultPos, error) {
	prefix := fwdKey("rp/", q.Org, q.Participant)
	if q.ObjectiveID != "" {
		prefix = appendEsc(prefix, q.ObjectiveID)
	}
	it, err := snap.NewIter(&cpebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	base := len(fwdKey("rp/", q.Org, q.Participant))
	var all []resultPos
	for ok := it.First(); ok; ok = it.Next() {
		rest := it.Key()[base:]
		obj, n := unescNext(rest)
		if n < 0 {
			return nil, errBadIndexKey
		}
		reg, m := unescNext(rest[n:])
		v := it.Value()
		if m < 0 || len(v) != 10 {
			return nil, errBadIndexKey
		}
		ms := msFromKey(v[2:])
		if !filtered(q, v[0] == 1, v[1] == 1, ms) {
			continue
		}
		p := resultPos{ResultCursor: forward.ResultCursor{UpdatedAt: fwdMsTime(ms), ObjectiveID: obj, Participant: q.Participant, Registration: reg},
			completed: v[0] == 1, passed: v[1] == 1}
		if q.After == nil || q.Less(*q.After, p.ResultCursor) {
			all = append(all, p)
		}
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return q.Less(all[i].ResultCursor, all[j].ResultCursor) })
	return all[:min(len(all), q.Limit)], nil
}

var errBadIndexKey = errors.New("malformed results index key")

// msFromKey reads an appendMs time.
func msFromKey(b []byte) int64 {
	var u uint64
	for _, x := range b[:8] {
		u = u<<8 | uint64(x)
	}
	return int64(u ^ (1 << 63))
}

// objectiveResults scans the objective's index that serves q from q.After
// on, until it has a page.
func (d *DB) objectiveResults(snap *cpebble.Snapshot, q forward.ResultQuery) ([]resultPos, error) {
	obj := fwdKey("", q.Org, q.ObjectiveID)
	var prefix []byte
	var after func(c forward.ResultCursor) []byte
	var parse func(rest, v []byte) (resultPos, bool)
	pr := func(b []byte, c forward.ResultCursor) []byte {
		return appendEsc(appendEsc(b, c.Participant), c.Registration)
	}
	switch {
	case !q.Since.IsZero():
		prefix = append([]byte("ru/"), obj...)
		after = func(c forward.ResultCursor) []byte {
			return pr(appendMs(slices.Clone(prefix), floorMs(c.UpdatedAt)), c)
		}
		parse = func(rest, v []byte) (resultPos, bool) {
			if len(rest) < 8 || len(v) < 2 {
				return resultPos{}, false
			}
			k, ok := parseResultKeyRest(rest[8:])
			pos := resultPos{ResultCursor: forward.ResultCursor{UpdatedAt: fwdMsTime(msFromKey(rest)), Participant: k.Participant, Registration: k.Registration},
				completed: v[0] == 1, passed: v[1] == 1}
			if len(v) > 2 { // the record (earlier stores: the flags alone)
				pos.record = v[2:]
			}
			return pos, ok
		}
	case q.Completed != nil || q.Passed != nil:
		return d.flagResults(snap, q, obj)
	default:
		prefix = append([]byte("rr/"), obj...)
		after = func(c forward.ResultCursor) []byte { return pr(slices.Clone(prefix), c) }
		parse = func(rest, v []byte) (resultPos, bool) {
			k, ok := parseResultKeyRest(rest)
			return resultPos{ResultCursor: forward.ResultCursor{Participant: k.Participant, Registration: k.Registration}, record: v}, ok
		}
	}
	lower := prefix
	if !q.Since.IsZero() {
		lower = appendMs(slices.Clone(prefix), floorMs(q.Since))
	}
	if q.After != nil {
		if a := append(after(*q.After), 0); string(a) > string(lower) { // the smallest key after the cursor's
			lower = a
		}
	}
	it, err := snap.NewIter(&cpebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []resultPos
	for ok := it.First(); ok && len(out) < q.Limit; ok = it.Next() {
		p, ok := parse(it.Key()[len(prefix):], it.Value())
		if !ok {
			return nil, errBadIndexKey
		}
		p.ObjectiveID = q.ObjectiveID
		if filtered(q, p.completed, p.passed, floorMs(p.UpdatedAt)) {
			p.record = slices.Clone(p.record) // the iterator's until Next
			out = append(out, p)
		}
	}
	return out, it.Error()
}

// flagResults reads a page of the objective's results with the flags q
// asks for from the rf/ ranges that hold them (one with both filters,
// two without one of them): each range is in (participant, registration)
// order, and so is the merge of their iterators (the keys after the flags
// compare as the positions do).
func (d *DB) flagResults(snap *cpebble.Snapshot, q forward.ResultQuery, obj []byte) ([]resultPos, error) {
	type rng struct {
		it     *cpebble.Iterator
		prefix []byte
		c, s   byte
		ok     bool
	}
	var rs []*rng
	defer func() {
		for _, r := range rs {
			_ = r.it.Close()
		}
	}()
	for c := range byte(2) {
		for s := range byte(2) {
			if q.Completed != nil && flag(*q.Completed) != c || q.Passed != nil && flag(*q.Passed) != s {
				continue
			}
			prefix := append(append(append([]byte("rf/"), obj...), c), s)
			lower := prefix
			if q.After != nil { // the smallest key after the cursor's
				a := append(appendEsc(appendEsc(slices.Clone(prefix), q.After.Participant), q.After.Registration), 0)
				if string(a) > string(lower) {
					lower = a
				}
			}
			it, err := snap.NewIter(&cpebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
			if err != nil {
				return nil, err
			}
			rs = append(rs, &rng{it: it, prefix: prefix, c: c, s: s, ok: it.First()})
		}
	}
	var out []resultPos
	for len(out) < q.Limit {
		var next *rng
		for _, r := range rs {
			if r.ok && (next == nil || bytes.Compare(r.it.Key()[len(r.prefix):], next.it.Key()[len(next.prefix):]) < 0) {
				next = r
			}
		}
		if next == nil {
			break
		}
		k, ok := parseResultKeyRest(next.it.Key()[len(next.prefix):])
		if !ok {
			return nil, errBadIndexKey
		}
		out = append(out, resultPos{ResultCursor: forward.ResultCursor{ObjectiveID: q.ObjectiveID, Participant: k.Participant, Registration: k.Registration},
			completed: next.c == 1, passed: next.s == 1})
		next.ok = next.it.Next()
	}
	for _, r := range rs {
		if err := r.it.Error(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DeleteResults deletes the objective's results with their participant
// index keys, then its other index ranges and its contributions, in one
// synced batch.
func (d *DB) DeleteResults(ctx context.Context, org, objectiveID string) error {
	if err := d.acquire(ctx, "delete results"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	b := d.db.NewBatch()
	defer b.Close()
	prefix := fwdKey("rr/", org, objectiveID)
	err := d.fwdScan(prefix, false, func(k, v []byte) (bool, error) {
		rk, ok := parseResultKeyRest(k[len(prefix):])
		if !ok {
			return false, errBadIndexKey
		}
		rk.Org, rk.ObjectiveID = org, objectiveID
		r, err := decodeResult(rk, v)
		if err != nil {
			return false, err
		}
		ks := resultIndexKeys(r)
		return true, b.Delete(ks[len(ks)-1][0], nil) // rp/
	})
	if err != nil {
		return fwdErr("delete results", err)
	}
	for _, p := range []string{"rr/", "rf/", "ru/", "rk/"} {
		prefix := fwdKey(p, org, objectiveID)
		if err := b.DeleteRange(prefix, prefixEnd(prefix), nil); err != nil {
			return fwdErr("delete results", err)
		}
	}
	defer d.results.epoch.Add(1) // after the commit (results_reads.go)
	defer d.contribs.clear()     // after the commit (results_contribs.go)
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("delete results", err)
	}
	return nil
}
