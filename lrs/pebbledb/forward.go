package pebbledb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
)

var _ forward.Store = (*DB)(nil)

// Key layout of forwarding (see keys.go for <x>; <ms> is appendMs):
//
//	fc/<org><id>                          -> configRecord (JSON, forward_records.go)
//	fo/<org><id>                          -> objectiveRecord
//	fa/<org><activity><objective>         -> empty (ObjectivesFor)
//	fd/<org><config><statement>           -> deliveryRecord
//	qc/<org><config><next attempt ms><statement>
//	                                      -> 8 zero bytes, one per pending delivery: a
//	                                         configuration's queue, due first (stores of
//	                                         earlier versions kept the lease's end there)
//	fp/<name><period 8 bytes>             -> periodRecord (PeriodStore)
//	fr/<org><config><statement>           -> rejectionRecord (DigestQueue)
//	fi/<org><config><state><created ms><statement>
//	                                      -> empty, a configuration's deliveries by state
//	fx/<org><statement><config>           -> empty (DeliveriesOfStatement)
//	fs/<org><config>                      -> statusRecord
//	fl/<org><config><at ms><seq 8 bytes>  -> attemptRecord
//	fw/<name>                             -> watermark, 8 bytes ms
//	fg/<org><config><section><objective>  -> assignmentRecord (AssignmentStore, assignments.go)
//	fk/<org><config><name>                -> fileRecord (FileStore, files.go)
//	fb/<org><config><objective>           -> backfillRecord (BackfillStore, backfills.go)
//
// Every write of a delivery holds the stripe lock of its fd/ key, so that
// its read-check-write and its index keys stay consistent; claims are also
// serialized among themselves (claimMu) so that two claimers never scan and
// lease the same due entries. Claim leases are kept in memory, not
// stored (leases.go). Claims and DueConfigurations seek each
// queue from an in-memory lower bound of its due keys (duehints.go), past
// the tombstones of the deliveries settled before it. Stores written
// before per-configuration queues kept the due index as
// q/<ms><org><config><statement>; Open moves it (releaseLeases).

func fwdKey(prefix string, parts ...string) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p) + 2
	}
	b := make([]byte, 0, n+16)
	b = append(b, prefix...)
	for _, p := range parts {
		b = appendEsc(b, p)
	}
	return b
}

func configKey(org, id string) []byte    { return fwdKey("fc/", org, id) }
func objectiveKey(org, id string) []byte { return fwdKey("fo/", org, id) }
func objActKey(org, activity, id string) []byte {
	return fwdKey("fa/", org, activity, id)
}

// deliveryPrefix begins every delivery's key (and gives deliveries their
// own lock stripes, DB.stripe).
const deliveryPrefix = "fd/"

func deliveryKey(org, config, stmt string) []byte { return fwdKey(deliveryPrefix, org, config, stmt) }
func dueKey(ms int64, org, config, stmt string) []byte {
	return appendEsc(appendMs(queuePrefix(org, config), ms), stmt)
}

// queuePrefix is the prefix of a configuration's due index.
func queuePrefix(org, config string) []byte { return fwdKey("qc/", org, config) }

var duePrefix = []byte("qc/")

// oldDuePrefix is the due index of stores written before per-configuration
// queues: q/<ms><org><config><statement>.
var oldDuePrefix = []byte("q/")

func stateIndexKey(d *forward.Delivery) []byte {
	b := fwdKey("fi/", d.Org, d.ConfigurationID, d.State)
	b = appendMs(b, floorMs(d.CreatedAt))
	return appendEsc(b, d.StatementID)
}
func stmtIndexKey(org, stmt, config string) []byte { return fwdKey("fx/", org, stmt, config) }
func statusKey(org, config string) []byte          { return fwdKey("fs/", org, config) }
func watermarkKey(name string) []byte              { return fwdKey("fw/", name) }

// msTime is ms as a UTC time.
func fwdMsTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// normMs truncates t to the millisecond in UTC; the zero time stays zero.
func normMs(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return fwdMsTime(floorMs(t))
}

func normDelivery(d *forward.Delivery) {
	d.NextAttempt = normMs(d.NextAttempt)
	d.FirstFailure = normMs(d.FirstFailure)
	d.LastAttempt = normMs(d.LastAttempt)
	d.CreatedAt = normMs(d.CreatedAt)
	d.UpdatedAt = normMs(d.UpdatedAt)
	d.LeaseUntil = normMs(d.LeaseUntil)
}

// fwdGet decodes the record at key with decode; ok is false when missing.
func fwdGet[T any](d *DB, key []byte, decode func([]byte) (T, error)) (v T, ok bool, err error) {
	ok, err = d.get(key, func(b []byte) (err error) {
		v, err = decode(b)
		return err
	})
	return v, ok, err
}

// fwdScan calls fn for every key (and value) with prefix, in key order
// (reverse when desc), until fn returns false.
func (d *DB) fwdScan(prefix []byte, desc bool, fn func(k, v []byte) (bool, error)) error {
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	var ok bool
	if desc {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	for ok {
		more, err := fn(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if desc {
			ok = it.Prev()
		} else {
			ok = it.Next()
		}
	}
	return it.Error()
}

func fwdErr(op string, err error) error { return fmt.Errorf("pebble: %s: %w", op, err) }

// ---------------------------------------------------------------------------
// Configurations and objectives

// PutConfiguration creates or replaces c.
func (d *DB) PutConfiguration(ctx context.Context, c forward.Configuration) error {
	if err := d.acquire(ctx, "put configuration"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	v, err := encodeConfig(c)
	if err != nil {
		return fwdErr("put configuration", err)
	}
	if err := d.db.Set(configKey(c.Org, c.ID), v, cpebble.Sync); err != nil {
		return fwdErr("put configuration", err)
	}
	return nil
}

// GetConfiguration returns a configuration; forward.ErrNotFound if missing.
func (d *DB) GetConfiguration(ctx context.Context, org, id string) (forward.Configuration, error) {
	if err := d.acquire(ctx, "get configuration"); err != nil {
		return forward.Configuration{}, err
	}
	defer d.mu.RUnlock()
	c, ok, err := fwdGet(d, configKey(org, id), decodeConfig)
	if err != nil {
		return forward.Configuration{}, fwdErr("get configuration", err)
	}
	if !ok {
		return forward.Configuration{}, forward.ErrNotFound
	}
	return c, nil
}

// ListConfigurations lists an organization's configurations by id.
func (d *DB) ListConfigurations(ctx context.Context, org string) ([]forward.Configuration, error) {
	if err := d.acquire(ctx, "list configurations"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.Configuration{}
	err := d.fwdScan(fwdKey("fc/", org), false, func(_, v []byte) (bool, error) {
		c, err := decodeConfig(v)
		if err != nil {
			return false, err
		}
		out = append(out, c)
		return true, nil
	})
	if err != nil {
		return nil, fwdErr("list configurations", err)
	}
	return out, nil
}

// DeleteConfiguration removes a configuration; forward.ErrNotFound if
// missing.
func (d *DB) DeleteConfiguration(ctx context.Context, org, id string) error {
	return d.fwdDeleteOne(ctx, "delete configuration", configKey(org, id), nil)
}

func (d *DB) fwdDeleteOne(ctx context.Context, op string, key []byte, extra func(v []byte, b *cpebble.Batch) error) error {
	if err := d.acquire(ctx, op); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	defer d.lockIDs(string(key))()
	var val []byte
	ok, err := d.get(key, func(v []byte) error { val = bytes.Clone(v); return nil })
	if err != nil {
		return fwdErr(op, err)
	}
	if !ok {
		return forward.ErrNotFound
	}
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Delete(key, nil); err != nil {
		return fwdErr(op, err)
	}
	if extra != nil {
		if err := extra(val, b); err != nil {
			return fwdErr(op, err)
		}
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr(op, err)
	}
	return nil
}

// PutObjective creates or replaces o, moving its activity index key when
// the activity changed.
func (d *DB) PutObjective(ctx context.Context, o forward.Objective) error {
	if err := d.acquire(ctx, "put objective"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	key := objectiveKey(o.Org, o.ID)
	defer d.lockIDs(string(key))()
	old, had, err := fwdGet(d, key, decodeObjective)
	if err != nil {
		return fwdErr("put objective", err)
	}
	v, err := encodeObjective(o)
	if err != nil {
		return fwdErr("put objective", err)
	}
	b := d.db.NewBatch()
	defer b.Close()
	if had && old.ActivityID != o.ActivityID {
		if err := b.Delete(objActKey(o.Org, old.ActivityID, o.ID), nil); err != nil {
			return fwdErr("put objective", err)
		}
	}
	if err := b.Set(key, v, nil); err != nil {
		return fwdErr("put objective", err)
	}
	if err := b.Set(objActKey(o.Org, o.ActivityID, o.ID), nil, nil); err != nil {
		return fwdErr("put objective", err)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("put objective", err)
	}
	return nil
}

// GetObjective returns an objective; forward.ErrNotFound if missing.
func (d *DB) GetObjective(ctx context.Context, org, id string) (forward.Objective, error) {
	if err := d.acquire(ctx, "get objective"); err != nil {
		return forward.Objective{}, err
	}
	defer d.mu.RUnlock()
	o, ok, err := fwdGet(d, objectiveKey(org, id), decodeObjective)
	if err != nil {
		return forward.Objective{}, fwdErr("get objective", err)
	}
	if !ok {
		return forward.Objective{}, forward.ErrNotFound
	}
	return o, nil
}

// ListObjectives lists an organization's objectives by id.
func (d *DB) ListObjectives(ctx context.Context, org string) ([]forward.Objective, error) {
	if err := d.acquire(ctx, "list objectives"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.Objective{}
	err := d.fwdScan(fwdKey("fo/", org), false, func(_, v []byte) (bool, error) {
		o, err := decodeObjective(v)
		if err != nil {
			return false, err
		}
		out = append(out, o)
		return true, nil
	})
	if err != nil {
		return nil, fwdErr("list objectives", err)
	}
	return out, nil
}

// DeleteObjective removes an objective and its activity index key.
func (d *DB) DeleteObjective(ctx context.Context, org, id string) error {
	return d.fwdDeleteOne(ctx, "delete objective", objectiveKey(org, id), func(v []byte, b *cpebble.Batch) error {
		o, err := decodeObjective(v)
		if err != nil {
			return err
		}
		return b.Delete(objActKey(org, o.ActivityID, id), nil)
	})
}

// ObjectivesFor returns the objectives of an activity, by id.
func (d *DB) ObjectivesFor(ctx context.Context, org, activityID string) ([]forward.Objective, error) {
	if err := d.acquire(ctx, "objectives for"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	p := fwdKey("fa/", org, activityID)
	var ids []string
	err := d.fwdScan(p, false, func(k, _ []byte) (bool, error) {
		ids = append(ids, unescOne(k[len(p):]))
		return true, nil
	})
	if err != nil {
		return nil, fwdErr("objectives for", err)
	}
	out := make([]forward.Objective, 0, len(ids))
	for _, id := range ids {
		o, ok, err := fwdGet(d, objectiveKey(org, id), decodeObjective)
		if err != nil {
			return nil, fwdErr("objectives for", err)
		}
		if ok && o.ActivityID == activityID {
			out = append(out, o)
		}
	}
	return out, nil
}

// ObjectiveOrgs returns the organizations that have at least one
// objective (the reconciler's work list), sorted.
func (d *DB) ObjectiveOrgs(ctx context.Context) ([]string, error) {
	if err := d.acquire(ctx, "objective orgs"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	p := []byte("fo/")
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fwdErr("objective orgs", err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; {
		org := unescOne(it.Key()[len(p):])
		out = append(out, org)
		ok = it.SeekGE(prefixEnd(fwdKey("fo/", org)))
	}
	if err := it.Error(); err != nil {
		return nil, fwdErr("objective orgs", err)
	}
	return out, nil
}

// unescOne decodes the first escaped component of b (see appendEsc).
func unescOne(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] == 0 {
			if i+1 < len(b) && b[i+1] == 0xff {
				s.WriteByte(0)
				i++
				continue
			}
			break
		}
		s.WriteByte(b[i])
	}
	return s.String()
}

// ---------------------------------------------------------------------------
// Deliveries

// getDelivery reads the delivery at key, with its lease (leases.go).
func (d *DB) getDelivery(key []byte) (forward.Delivery, bool, error) {
	dl, ok, err := fwdGet(d, key, decodeDelivery)
	if ok && err == nil {
		d.leases.overlay(string(key), &dl)
	}
	return dl, ok, err
}

// seekEach calls fn with the value of each of keys that exists (decode
// nil: existence only), reading them with one iterator in key order: a
// batch's records cost one iterator, not one point lookup each.
func (d *DB) seekEach(keys []string, fn func(key string, v []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: []byte(sorted[0]), UpperBound: append([]byte(sorted[len(sorted)-1]), 0)})
	if err != nil {
		return err
	}
	for _, k := range sorted {
		if it.SeekGE([]byte(k)) && string(it.Key()) == k {
			if err := fn(k, it.Value()); err != nil {
				_ = it.Close()
				return err
			}
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// getDeliveries reads the deliveries of keys that exist, with their
// leases (leases.go): from the records kept of pending deliveries
// (deliverycache.go), the others with seekEach. Under the stripe locks
// of keys.
func (d *DB) getDeliveries(keys []string) (map[string]forward.Delivery, error) {
	out := make(map[string]forward.Delivery, len(keys))
	var miss []string
	for _, k := range keys {
		dl, ok, err := d.recs.get(k)
		switch {
		case err != nil:
			return nil, err
		case ok:
			d.leases.overlay(k, &dl)
			out[k] = dl
		default:
			miss = append(miss, k)
		}
	}
	err := d.seekEach(miss, func(k string, v []byte) error {
		dl, err := decodeDelivery(v)
		d.leases.overlay(k, &dl)
		out[k] = dl
		return err
	})
	return out, err
}

// putDelivery writes v and moves its index keys from old (nil when new),
// adding the due key it sets to ws (the caller passes them to
// d.due.lowered after its commit: duehints.go) and the record to rs
// (unless nil; the caller passes them to d.recs.wrote after its commit:
// deliverycache.go). The record is written without dd's lease: the caller
// records that in d.leases after its commit.
func putDelivery(b *cpebble.Batch, ws *[]dueWrite, rs *[]recWrite, old *forward.Delivery, dd *forward.Delivery) error {
	if old != nil {
		if old.State == forward.StatePending {
			if err := b.Delete(dueKey(floorMs(old.NextAttempt), old.Org, old.ConfigurationID, old.StatementID), nil); err != nil {
				return err
			}
		}
		if old.State != dd.State || !old.CreatedAt.Equal(dd.CreatedAt) {
			if err := b.Delete(stateIndexKey(old), nil); err != nil {
				return err
			}
		}
	} else {
		if err := b.Set(stmtIndexKey(dd.Org, dd.StatementID, dd.ConfigurationID), nil, nil); err != nil {
			return err
		}
	}
	rec := *dd
	rec.LeaseOwner, rec.LeaseUntil = "", time.Time{}
	val, err := encodeDelivery(&rec)
	if err != nil {
		return err
	}
	key := deliveryKey(dd.Org, dd.ConfigurationID, dd.StatementID)
	if err := b.Set(key, val, nil); err != nil {
		return err
	}
	if rs != nil {
		// A copy of its length: encodeDelivery's buffer is sized for the
		// longest varints, about twice what a record takes.
		*rs = append(*rs, recWrite{key: string(key), val: bytes.Clone(val), pending: dd.State == forward.StatePending})
	}
	if err := b.Set(stateIndexKey(dd), nil, nil); err != nil {
		return err
	}
	if dd.State == forward.StatePending {
		var noLease [8]byte
		k := dueKey(floorMs(dd.NextAttempt), dd.Org, dd.ConfigurationID, dd.StatementID)
		if err := b.Set(k, noLease[:], nil); err != nil {
			return err
		}
		*ws = append(*ws, dueWrite{queue: string(queuePrefix(dd.Org, dd.ConfigurationID)), key: k})
	}
	return nil
}

// EnsureDeliveries inserts the deliveries whose key is free.
func (d *DB) EnsureDeliveries(ctx context.Context, ds []forward.Delivery) error {
	if err := d.acquire(ctx, "ensure deliveries"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(ds) == 0 {
		return nil
	}
	keys := make([]string, len(ds))
	for i := range ds {
		keys[i] = string(deliveryKey(ds[i].Org, ds[i].ConfigurationID, ds[i].StatementID))
	}
	defer d.lockIDs(keys...)()
	seen := make(map[string]bool, len(ds))
	var check []string
	for _, k := range keys {
		if d.recs.has(k) {
			seen[k] = true
		} else {
			check = append(check, k)
		}
	}
	if err := d.seekEach(check, func(k string, _ []byte) error { seen[k] = true; return nil }); err != nil {
		return fwdErr("ensure deliveries", err)
	}
	b := d.db.NewBatch()
	defer b.Close()
	var ws []dueWrite
	defer func() { d.due.lowered(ws) }() // after the commit
	var rs []recWrite
	for i, dl := range ds {
		if seen[keys[i]] {
			continue
		}
		seen[keys[i]] = true
		normDelivery(&dl)
		dl.LeaseOwner, dl.LeaseUntil = "", time.Time{}
		if err := putDelivery(b, &ws, &rs, nil, &dl); err != nil {
			return fwdErr("ensure deliveries", err)
		}
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("ensure deliveries", err)
	}
	d.recs.wrote(rs)
	return nil
}

// dueEntry is one due-index entry a claim considers.
type dueEntry struct {
	key               string // fd/ key
	org, config, stmt string
	ms                int64
}

// parseDueKey reads a qc/ key.
func parseDueKey(k []byte) (dueEntry, bool) {
	if !bytes.HasPrefix(k, duePrefix) {
		return dueEntry{}, false
	}
	rest := k[len(duePrefix):]
	org, n := unescNext(rest)
	if n < 0 {
		return dueEntry{}, false
	}
	rest = rest[n:]
	config, n := unescNext(rest)
	if n < 0 || len(rest) < n+8 {
		return dueEntry{}, false
	}
	rest = rest[n:]
	ms := int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
	stmt, n := unescNext(rest[8:])
	if n < 0 {
		return dueEntry{}, false
	}
	return dueEntry{key: string(deliveryKey(org, config, stmt)), org: org, config: config, stmt: stmt, ms: ms}, true
}

// parseOldDueKey reads a q/ key of a store written before per-configuration
// queues.
func parseOldDueKey(k []byte) (dueEntry, bool) {
	if len(k) < len(oldDuePrefix)+8 || !bytes.HasPrefix(k, oldDuePrefix) {
		return dueEntry{}, false
	}
	ms := int64(binary.BigEndian.Uint64(k[len(oldDuePrefix):]) ^ (1 << 63))
	rest := k[len(oldDuePrefix)+8:]
	var parts [3]string
	for i := range parts {
		s, n := unescNext(rest)
		if n < 0 {
			return dueEntry{}, false
		}
		parts[i] = s
		rest = rest[n:]
	}
	return dueEntry{key: string(deliveryKey(parts[0], parts[1], parts[2])), org: parts[0], config: parts[1], stmt: parts[2], ms: ms}, true
}

// unescNext decodes one escaped component and returns it and its encoded
// length (-1 if b holds no complete component).
func unescNext(b []byte) (string, int) {
	var s []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			s = append(s, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", -1
		}
		if b[i+1] == 0xff {
			s = append(s, 0)
			i++
			continue
		}
		return string(s), i + 2
	}
	return "", -1
}

// DueConfigurations returns the configurations whose queue starts with an
// entry due at now: one seek per configuration with a queue, whatever its
// length, from the queue's hint (duehints.go). The first call after Open
// walks the whole due index once to learn the queues.
func (d *DB) DueConfigurations(ctx context.Context, now time.Time) ([]forward.ConfigKey, error) {
	if err := d.acquire(ctx, "due configurations"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	nowMs := floorMs(now)
	hints, known := d.due.snapshot() // before the iterator
	var gens map[string]uint64
	if !known {
		gens = d.due.gens()
	}
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: duePrefix, UpperBound: prefixEnd(duePrefix)})
	if err != nil {
		return nil, fwdErr("due configurations", err)
	}
	defer it.Close()
	out := []forward.ConfigKey{}
	if known {
		for _, h := range hints {
			end := prefixEnd(h.queue)
			start := h.queue
			if bytes.Compare(h.low, start) > 0 {
				start = h.low
			}
			if bytes.Compare(start, end) >= 0 {
				continue // empty
			}
			if !it.SeekGE(start) || !bytes.HasPrefix(it.Key(), h.queue) {
				if err := it.Error(); err != nil {
					return nil, fwdErr("due configurations", err)
				}
				d.due.raise(h.queue, h.gen, end)
				continue
			}
			e, good := parseDueKey(it.Key())
			if !good {
				return nil, fwdErr("due configurations", fmt.Errorf("bad due key %q", it.Key()))
			}
			d.due.raise(h.queue, h.gen, bytes.Clone(it.Key()))
			if e.ms <= nowMs {
				out = append(out, forward.ConfigKey{Org: e.org, ID: e.config})
			}
		}
		return out, nil
	}
	var found []queueHint
	for ok := it.First(); ok; {
		e, good := parseDueKey(it.Key())
		if !good {
			return nil, fwdErr("due configurations", fmt.Errorf("bad due key %q", it.Key()))
		}
		q := queuePrefix(e.org, e.config)
		found = append(found, queueHint{queue: q, low: bytes.Clone(it.Key()), gen: gens[string(q)]})
		if e.ms <= nowMs {
			out = append(out, forward.ConfigKey{Org: e.org, ID: e.config})
		}
		ok = it.SeekGE(prefixEnd(q))
	}
	if err := it.Error(); err != nil {
		return nil, fwdErr("due configurations", err)
	}
	d.due.walked(found)
	return out, nil
}

// ClaimDeliveries leases up to c.Limit due, unleased pending deliveries of
// one configuration in NextAttempt order. Claims are serialized in the
// process (claimMu); each candidate is re-read under its stripe lock
// before it is leased. The leases are kept in memory (leases.go): a claim
// writes nothing to the store.
func (d *DB) ClaimDeliveries(ctx context.Context, c forward.Claim) ([]forward.Delivery, error) {
	if err := d.acquire(ctx, "claim deliveries"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	if c.Limit <= 0 {
		return []forward.Delivery{}, nil
	}
	nowMs := floorMs(c.Now)
	dueBy := c.DueBy
	if dueBy.IsZero() {
		dueBy = c.Now
	}
	until := fwdMsTime(floorMs(c.Now.Add(c.Lease)))
	d.claimMu.Lock()
	defer d.claimMu.Unlock()

	// The scan starts at the queue's hint (duehints.go), read before the
	// iterator is opened: the tombstones of the deliveries settled before
	// it are not stepped over again.
	p := queuePrefix(c.Org, c.ConfigurationID)
	upper := appendMs(bytes.Clone(p), floorMs(dueBy)+1)
	low, gen := d.due.hint(p)
	lower := p
	if bytes.Compare(low, lower) > 0 {
		lower = low
	}
	if bytes.Compare(lower, upper) >= 0 {
		return []forward.Delivery{}, nil // nothing due by dueBy
	}
	var cands []dueEntry
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fwdErr("claim deliveries", err)
	}
	head := upper // the first due key at or after lower: the new hint
	// A due key is the queue's prefix, 8 bytes of ms and the escaped
	// statement id; its delivery's key is fdp and the same statement id.
	fdp := fwdKey(deliveryPrefix, c.Org, c.ConfigurationID)
	fdk := bytes.Clone(fdp)
	for ok := it.First(); ok && len(cands) < c.Limit; ok = it.Next() {
		k := it.Key()
		if bytes.Equal(head, upper) {
			head = bytes.Clone(k)
		}
		if v := it.Value(); len(v) == 8 {
			if lu := int64(binary.BigEndian.Uint64(v)); lu != 0 && lu > nowMs {
				continue // leased (a store of an earlier version, before Open freed it)
			}
		}
		if len(k) > len(p)+8 {
			fdk = append(fdk[:len(fdp)], k[len(p)+8:]...)
			if d.leases.heldAt(fdk, nowMs) {
				continue // leased
			}
		}
		e, ok := parseDueKey(k)
		if !ok {
			_ = it.Close()
			return nil, fwdErr("claim deliveries", fmt.Errorf("bad due key %q", it.Key()))
		}
		cands = append(cands, e)
	}
	err = errors.Join(it.Error(), it.Close())
	if err != nil {
		return nil, fwdErr("claim deliveries", err)
	}
	d.due.raise(p, gen, head)
	if len(cands) == 0 {
		return []forward.Delivery{}, nil
	}
	keys := make([]string, len(cands))
	for i, e := range cands {
		keys[i] = e.key
	}
	defer d.lockIDs(keys...)()
	recs, err := d.getDeliveries(keys)
	if err != nil {
		return nil, fwdErr("claim deliveries", err)
	}
	out := make([]forward.Delivery, 0, len(cands))
	for _, e := range cands {
		old, ok := recs[e.key]
		if !ok || old.State != forward.StatePending || floorMs(old.NextAttempt) > floorMs(dueBy) ||
			(!old.LeaseUntil.IsZero() && floorMs(old.LeaseUntil) > nowMs) {
			continue
		}
		v := old
		v.LeaseOwner, v.LeaseUntil = c.Owner, until
		d.leases.store(e.key, v) // under its stripe lock
		out = append(out, v)
	}
	return out, nil
}

// UpdateDeliveries stores the progress of each of ds whose lease owner
// holds, in one commit.
func (d *DB) UpdateDeliveries(ctx context.Context, ds []forward.Delivery, owner string) ([]error, error) {
	if err := d.acquire(ctx, "update deliveries"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := make([]error, len(ds))
	if len(ds) == 0 {
		return out, nil
	}
	keys := make([]string, len(ds))
	for i, dl := range ds {
		keys[i] = string(deliveryKey(dl.Org, dl.ConfigurationID, dl.StatementID))
	}
	defer d.lockIDs(keys...)()
	recs, err := d.getDeliveries(keys)
	if err != nil {
		return nil, fwdErr("update deliveries", err)
	}
	b := d.db.NewBatch()
	defer b.Close()
	var ws []dueWrite
	defer func() { d.due.lowered(ws) }() // after the commit
	var rs []recWrite
	for i, dl := range ds {
		old, ok := recs[keys[i]] // a key twice in ds: the later one reads the earlier's write
		switch {
		case !ok:
			out[i] = forward.ErrNotFound
			continue
		case old.LeaseOwner == "" || old.LeaseOwner != owner:
			out[i] = forward.ErrLeaseLost
			continue
		}
		v := old
		applyUpdate(&v, dl)
		v.LeaseOwner, v.LeaseUntil = "", time.Time{}
		if err := putDelivery(b, &ws, &rs, &old, &v); err != nil {
			return nil, fwdErr("update deliveries", err)
		}
		recs[keys[i]] = v
	}
	if !b.Empty() {
		if err := b.Commit(cpebble.Sync); err != nil {
			return nil, fwdErr("update deliveries", err)
		}
		for i := range ds {
			if out[i] == nil {
				d.leases.store(keys[i], forward.Delivery{}) // released
			}
		}
		d.recs.wrote(rs)
	}
	return out, nil
}

// UpdateDelivery stores dl's progress if owner still holds its lease, and
// releases the lease.
func (d *DB) UpdateDelivery(ctx context.Context, dl forward.Delivery, owner string) error {
	if err := d.acquire(ctx, "update delivery"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	key := deliveryKey(dl.Org, dl.ConfigurationID, dl.StatementID)
	defer d.lockIDs(string(key))()
	old, ok, err := d.getDelivery(key)
	if err != nil {
		return fwdErr("update delivery", err)
	}
	if !ok {
		return forward.ErrNotFound
	}
	if old.LeaseOwner == "" || old.LeaseOwner != owner {
		return forward.ErrLeaseLost
	}
	v := old
	applyUpdate(&v, dl)
	v.LeaseOwner, v.LeaseUntil = "", time.Time{}
	b := d.db.NewBatch()
	defer b.Close()
	var ws []dueWrite
	defer func() { d.due.lowered(ws) }() // after the commit
	var rs []recWrite
	if err := putDelivery(b, &ws, &rs, &old, &v); err != nil {
		return fwdErr("update delivery", err)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("update delivery", err)
	}
	d.leases.store(string(key), v) // released
	d.recs.wrote(rs)
	return nil
}

// applyUpdate copies the progress fields of u into d (identity, objective,
// participant and creation time stay).
func applyUpdate(d *forward.Delivery, u forward.Delivery) {
	normDelivery(&u)
	d.State = u.State
	d.Attempts = u.Attempts
	d.NextAttempt = u.NextAttempt
	d.FirstFailure = u.FirstFailure
	d.LastAttempt = u.LastAttempt
	d.LastStatus = u.LastStatus
	d.LastError = u.LastError
	d.Reason = u.Reason
	d.UpdatedAt = u.UpdatedAt
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = normMs(time.Now())
	}
}

// GetDelivery returns one delivery; forward.ErrNotFound if missing.
func (d *DB) GetDelivery(ctx context.Context, org, configID, statementID string) (forward.Delivery, error) {
	if err := d.acquire(ctx, "get delivery"); err != nil {
		return forward.Delivery{}, err
	}
	defer d.mu.RUnlock()
	v, ok, err := d.getDelivery(deliveryKey(org, configID, statementID))
	if err != nil {
		return forward.Delivery{}, fwdErr("get delivery", err)
	}
	if !ok {
		return forward.Delivery{}, forward.ErrNotFound
	}
	return v, nil
}

// ListDeliveries lists a configuration's deliveries in state ("" for all),
// newest CreatedAt first.
func (d *DB) ListDeliveries(ctx context.Context, org, configID, state string, limit int) ([]forward.Delivery, error) {
	if err := d.acquire(ctx, "list deliveries"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.Delivery{}
	if limit <= 0 {
		return out, nil
	}
	states := []string{state}
	if state == "" {
		states = []string{forward.StatePending, forward.StateDelivered, forward.StateParked, forward.StateRejected, forward.StateSkipped}
	}
	type hit struct {
		ms   int64
		stmt string
	}
	var hits []hit
	for _, s := range states {
		p := fwdKey("fi/", org, configID, s)
		n := 0
		err := d.fwdScan(p, true, func(k, _ []byte) (bool, error) {
			if len(k) < len(p)+8 {
				return false, fmt.Errorf("bad index key %q", k)
			}
			ms := int64(binary.BigEndian.Uint64(k[len(p):]) ^ (1 << 63))
			hits = append(hits, hit{ms, unescOne(k[len(p)+8:])})
			n++
			return n < limit, nil
		})
		if err != nil {
			return nil, fwdErr("list deliveries", err)
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].ms != hits[j].ms {
			return hits[i].ms > hits[j].ms
		}
		return hits[i].stmt > hits[j].stmt
	})
	for _, h := range hits[:min(limit, len(hits))] {
		v, ok, err := d.getDelivery(deliveryKey(org, configID, h.stmt))
		if err != nil {
			return nil, fwdErr("list deliveries", err)
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// DeliveriesOfStatement lists the deliveries one statement owes, by
// configuration id.
func (d *DB) DeliveriesOfStatement(ctx context.Context, org, statementID string) ([]forward.Delivery, error) {
	if err := d.acquire(ctx, "deliveries of statement"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	p := fwdKey("fx/", org, statementID)
	var configs []string
	err := d.fwdScan(p, false, func(k, _ []byte) (bool, error) {
		configs = append(configs, unescOne(k[len(p):]))
		return true, nil
	})
	if err != nil {
		return nil, fwdErr("deliveries of statement", err)
	}
	out := []forward.Delivery{}
	for _, c := range configs {
		v, ok, err := d.getDelivery(deliveryKey(org, c, statementID))
		if err != nil {
			return nil, fwdErr("deliveries of statement", err)
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Redrive makes the configuration's deliveries in states pending, due at
// now, with Attempts, FirstFailure and Reason reset and any lease dropped.
func (d *DB) Redrive(ctx context.Context, org, configID string, states []string, now time.Time) (int, error) {
	if err := d.acquire(ctx, "redrive"); err != nil {
		return 0, err
	}
	defer d.mu.RUnlock()
	now = normMs(now)
	var stmts []string
	for _, s := range states {
		p := fwdKey("fi/", org, configID, s)
		err := d.fwdScan(p, false, func(k, _ []byte) (bool, error) {
			if len(k) < len(p)+8 {
				return false, fmt.Errorf("bad index key %q", k)
			}
			stmts = append(stmts, unescOne(k[len(p)+8:]))
			return true, nil
		})
		if err != nil {
			return 0, fwdErr("redrive", err)
		}
	}
	slices.Sort(stmts)
	stmts = slices.Compact(stmts)
	n := 0
	for chunk := range slices.Chunk(stmts, 256) {
		keys := make([]string, len(chunk))
		for i, s := range chunk {
			keys[i] = string(deliveryKey(org, configID, s))
		}
		c, err := d.redriveChunk(keys, states, now)
		n += c
		if err != nil {
			return n, fwdErr("redrive", err)
		}
	}
	return n, nil
}

// ReopenDelivery makes one delivered, rejected or parked delivery, or a
// skipped one its destination skipped, pending, due at now, with a fresh
// schedule (an overwrite delivery whose result changed).
func (d *DB) ReopenDelivery(ctx context.Context, org, configID, statementID string, now time.Time) (bool, error) {
	if err := d.acquire(ctx, "reopen delivery"); err != nil {
		return false, err
	}
	defer d.mu.RUnlock()
	n, err := d.redriveChunk([]string{string(deliveryKey(org, configID, statementID))},
		[]string{forward.StateDelivered, forward.StateRejected, forward.StateParked, forward.StateSkipped}, normMs(now))
	if err != nil {
		return false, fwdErr("reopen delivery", err)
	}
	return n > 0, nil
}

func (d *DB) redriveChunk(keys, states []string, now time.Time) (int, error) {
	defer d.lockIDs(keys...)()
	recs, err := d.getDeliveries(keys)
	if err != nil {
		return 0, err
	}
	b := d.db.NewBatch()
	defer b.Close()
	var ws []dueWrite
	defer func() { d.due.lowered(ws) }() // after the commit
	n := 0
	var changed []string
	var rs []recWrite
	for _, k := range keys {
		old, ok := recs[k]
		if !ok || !slices.Contains(states, old.State) {
			continue
		}
		if old.State == forward.StateSkipped && old.LastAttempt.IsZero() {
			continue // skipped before any attempt: nothing to send it with
		}
		if old.State == forward.StatePending && (leased(old, now) || redriven(old, now)) {
			continue // being sent, or due now with a fresh schedule already
		}
		v := old
		v.State = forward.StatePending
		v.Attempts = 0
		v.NextAttempt = now
		v.FirstFailure = time.Time{}
		v.Reason = ""
		v.UpdatedAt = now
		v.LeaseOwner, v.LeaseUntil = "", time.Time{}
		if err := putDelivery(b, &ws, &rs, &old, &v); err != nil {
			return 0, err
		}
		changed = append(changed, k)
		n++
	}
	if b.Empty() {
		return 0, nil
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return 0, err
	}
	for _, k := range changed {
		d.leases.store(k, forward.Delivery{}) // any lease dropped
	}
	d.recs.wrote(rs)
	return n, nil
}

// leased reports whether a worker holds the delivery at now.
func leased(d forward.Delivery, now time.Time) bool {
	return d.LeaseOwner != "" && floorMs(d.LeaseUntil) > floorMs(now)
}

// redriven reports whether a pending delivery is already what Redrive
// makes it: due at now, with a fresh schedule.
func redriven(d forward.Delivery, now time.Time) bool {
	return floorMs(d.NextAttempt) <= floorMs(now) && d.Attempts == 0 && d.FirstFailure.IsZero() && d.Reason == ""
}

// CountDeliveries counts a configuration's deliveries by state (index
// keys only); OldestPending is the CreatedAt of the oldest pending one.
func (d *DB) CountDeliveries(ctx context.Context, org, configID string) (forward.Counts, error) {
	var c forward.Counts
	if err := d.acquire(ctx, "count deliveries"); err != nil {
		return c, err
	}
	defer d.mu.RUnlock()
	for _, st := range []struct {
		state string
		n     *int
	}{
		{forward.StatePending, &c.Pending},
		{forward.StateDelivered, &c.Delivered},
		{forward.StateParked, &c.Parked},
		{forward.StateRejected, &c.Rejected},
		{forward.StateSkipped, &c.Skipped},
	} {
		p := fwdKey("fi/", org, configID, st.state)
		err := d.fwdScan(p, false, func(k, _ []byte) (bool, error) {
			if *st.n == 0 && st.state == forward.StatePending && len(k) >= len(p)+8 {
				c.OldestPending = fwdMsTime(int64(binary.BigEndian.Uint64(k[len(p):]) ^ (1 << 63)))
			}
			*st.n++
			return true, nil
		})
		if err != nil {
			return forward.Counts{}, fwdErr("count deliveries", err)
		}
	}
	return c, nil
}

// ---------------------------------------------------------------------------
// Statuses, delivery log, watermarks

// GetStatus returns a configuration's status; forward.ErrNotFound if never
// set.
func (d *DB) GetStatus(ctx context.Context, org, configID string) (forward.ConfigStatus, error) {
	if err := d.acquire(ctx, "get status"); err != nil {
		return forward.ConfigStatus{}, err
	}
	defer d.mu.RUnlock()
	s, ok, err := fwdGet(d, statusKey(org, configID), decodeStatus)
	if err != nil {
		return forward.ConfigStatus{}, fwdErr("get status", err)
	}
	if !ok {
		return forward.ConfigStatus{}, forward.ErrNotFound
	}
	return s, nil
}

// PutStatus stores s.
func (d *DB) PutStatus(ctx context.Context, s forward.ConfigStatus) error {
	if err := d.acquire(ctx, "put status"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	v, err := encodeStatus(s)
	if err != nil {
		return fwdErr("put status", err)
	}
	if err := d.db.Set(statusKey(s.Org, s.ConfigurationID), v, cpebble.Sync); err != nil {
		return fwdErr("put status", err)
	}
	return nil
}

var attemptSeq atomic.Uint64

func init() { attemptSeq.Store(uint64(time.Now().UnixNano())) }

// SetAttemptCap sets how many delivery log entries a configuration keeps
// (forward.AttemptLogCap when n <= 0). For tests.
func (d *DB) SetAttemptCap(n int) { d.attemptCap.Store(int64(n)) }

func (d *DB) attemptsKept() int {
	if n := d.attemptCap.Load(); n > 0 {
		return int(n)
	}
	return forward.AttemptLogCap
}

// AddAttempt appends to the configuration's delivery log and drops the
// entries beyond the cap. The number of entries of each log is kept in
// memory (logStates), so that an add past the cap reads the one entry it
// pushes out, not the whole log.
func (d *DB) AddAttempt(ctx context.Context, a forward.Attempt) error {
	if err := d.acquire(ctx, "add attempt"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	a.At = normMs(a.At)
	v, err := encodeAttempt(a)
	if err != nil {
		return fwdErr("add attempt", err)
	}
	p := fwdKey("fl/", a.Org, a.ConfigurationID)
	k := binary.BigEndian.AppendUint64(appendMs(bytes.Clone(p), floorMs(a.At)), attemptSeq.Add(1))
	if err := d.reserveAttempt(p, k); err != nil {
		return fwdErr("add attempt", err)
	}
	if err := d.db.Set(k, v, cpebble.Sync); err != nil {
		d.unreserveAttempt(p, k)
		return fwdErr("add attempt", err)
	}
	if err := d.trimAttempts(p, k); err != nil {
		return fwdErr("add attempt", err)
	}
	if err := d.countAttempt(a); err != nil { // counts.go
		return fwdErr("add attempt", err)
	}
	return nil
}

// reserveAttempt counts, before its write, the entry k an add puts in the
// log p. The first add of a log since Open counts the log's entries
// first (one scan); no add writes before that count is taken, since every
// add reserves first under the same lock, so the count is exact: entries
// in the log plus those reserved and not yet written. k stays among the
// log's pending keys until its add's trim, so that no trim raises the
// log's hint above it.
func (d *DB) reserveAttempt(p, k []byte) error {
	defer d.lockIDs(string(p))()
	st := d.logs.get(p)
	if !st.loaded {
		n := 0
		err := d.fwdScan(p, false, func(_, _ []byte) (bool, error) { n++; return true, nil })
		if err != nil {
			return err
		}
		st.n, st.loaded = n, true
	}
	st.n++
	st.pending = append(st.pending, k)
	if st.low != nil && bytes.Compare(k, st.low) < 0 {
		st.low = k // an entry older than the hint (an attempt's time is the caller's)
	}
	return nil
}

// unreserveAttempt takes back the reservation of an add whose write failed.
func (d *DB) unreserveAttempt(p, k []byte) {
	defer d.lockIDs(string(p))()
	st := d.logs.get(p)
	if st.dropPending(k) && st.n > 0 {
		st.n--
	}
}

// trimAttempts drops the oldest entries of the log p while it holds more
// than the cap, after the entry k was added: the log's count in memory
// (reserveAttempt) says how many, so it reads only those. It deletes the
// one entry an add pushes out with a point delete, not a range deletion:
// every range deletion in the memtable makes the next read of any key
// re-fragment all of them, a cost that grew with every attempt logged
// (BENCHMARKS.md, issue 16); nor for a trim of several entries (a lowered
// cap), since a range could also take an entry a concurrent add wrote
// after the read, which the count would not know of. The read starts at
// the log's hint, just past what earlier trims deleted, so it never steps
// over their tombstones either. The log never holds more than the cap once
// its adds are over, nor fewer when it had more; under concurrent adds
// whose times are out of order it may keep an older entry in place of a
// newer one (each trim deletes the oldest entries written by then).
func (d *DB) trimAttempts(p, k []byte) error {
	defer d.lockIDs(string(p))() // one trim of a log at a time: its hint and count
	st := d.logs.get(p)
	st.dropPending(k)
	excess := st.n - d.attemptsKept()
	if excess <= 0 {
		return nil
	}
	lower := p
	if st.low != nil {
		lower = st.low
	}
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	b := d.db.NewBatch()
	defer b.Close()
	var cut []byte
	n := 0
	for ok := it.First(); ok && n < excess; ok = it.Next() {
		cut = bytes.Clone(it.Key())
		if err := b.Delete(cut, nil); err != nil {
			_ = it.Close()
			return err
		}
		n++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if n == 0 {
		return nil // the reserved entries are not written yet
	}
	if err := b.Commit(cpebble.NoSync); err != nil {
		return err
	}
	st.n -= n
	low := append(cut, 0)
	for _, pk := range st.pending { // not written yet, or written and not trimmed
		if bytes.Compare(pk, low) < 0 {
			low = pk
		}
	}
	st.low = low
	return nil
}

// logStates holds, per delivery log (fl/<org><config>), its number of
// entries and a key before which it has no entry (trimAttempts). In
// memory only: after Open the first add counts the log, and a trim starts
// at the log's start. A state is read and changed under the stripe lock
// of its log's prefix.
type logStates struct {
	mu sync.Mutex
	m  map[string]*logState
}

type logState struct {
	loaded  bool     // n is known
	n       int      // entries in the log, and reserved by adds not yet written
	low     []byte   // no entry sorts before it; nil: the log's start
	pending [][]byte // keys of the adds between their reservation and their trim
}

// dropPending removes k from the pending keys; false if it was not there.
func (st *logState) dropPending(k []byte) bool {
	for i, pk := range st.pending {
		if bytes.Equal(pk, k) {
			st.pending = slices.Delete(st.pending, i, i+1)
			return true
		}
	}
	return false
}

func (h *logStates) get(p []byte) *logState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]*logState{}
	}
	st, ok := h.m[string(p)]
	if !ok {
		st = &logState{}
		h.m[string(p)] = st
	}
	return st
}

// ListAttempts lists the configuration's delivery log, newest first.
func (d *DB) ListAttempts(ctx context.Context, org, configID string, limit int) ([]forward.Attempt, error) {
	if err := d.acquire(ctx, "list attempts"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.Attempt{}
	if limit <= 0 {
		return out, nil
	}
	err := d.fwdScan(fwdKey("fl/", org, configID), true, func(_, v []byte) (bool, error) {
		a, err := decodeAttempt(v)
		if err != nil {
			return false, err
		}
		out = append(out, a)
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, fwdErr("list attempts", err)
	}
	return out, nil
}

// GetWatermark returns the named watermark, zero if never set.
func (d *DB) GetWatermark(ctx context.Context, name string) (time.Time, error) {
	if err := d.acquire(ctx, "get watermark"); err != nil {
		return time.Time{}, err
	}
	defer d.mu.RUnlock()
	var t time.Time
	_, err := d.get(watermarkKey(name), func(v []byte) error {
		if len(v) != 8 {
			return errCorrupt
		}
		t = fwdMsTime(int64(binary.BigEndian.Uint64(v)))
		return nil
	})
	if err != nil {
		return time.Time{}, fwdErr("get watermark", err)
	}
	return t, nil
}

// SetWatermark stores the named watermark (milliseconds).
func (d *DB) SetWatermark(ctx context.Context, name string, t time.Time) error {
	if err := d.acquire(ctx, "set watermark"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	v := binary.BigEndian.AppendUint64(nil, uint64(floorMs(t)))
	if err := d.db.Set(watermarkKey(name), v, cpebble.Sync); err != nil {
		return fwdErr("set watermark", err)
	}
	return nil
}

// releaseLeases runs at Open: it moves the due index of a store written
// before per-configuration queues (q/ keys) to the queues (qc/), with a
// log line, and frees every delivery lease a store of an earlier version
// kept on disk (leases are now in memory only, leases.go). Only one
// process can have the store open, so a lease found now belongs to a
// process that is gone (killed in the middle of a send): without this its
// deliveries would wait for the lease to expire before anyone retried
// them.
func (d *DB) releaseLeases(logger *slog.Logger) error {
	moved, err := d.moveDueIndex()
	if err != nil {
		return fwdErr("move the due index", err)
	}
	if moved > 0 {
		logger.Info("pebble: moved the forwarding due index to per-configuration queues", "entries", moved)
	}
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: duePrefix, UpperBound: prefixEnd(duePrefix)})
	if err != nil {
		return fwdErr("release leases", err)
	}
	var keys []string
	for ok := it.First(); ok; ok = it.Next() {
		if v := it.Value(); len(v) == 8 && binary.BigEndian.Uint64(v) != 0 {
			if e, ok := parseDueKey(it.Key()); ok {
				keys = append(keys, e.key)
			}
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fwdErr("release leases", err)
	}
	if len(keys) == 0 {
		return nil
	}
	b := d.db.NewBatch()
	defer b.Close()
	var ws []dueWrite
	defer func() { d.due.lowered(ws) }() // after the commit
	for _, k := range keys {
		old, ok, err := d.getDelivery([]byte(k))
		if err != nil {
			return fwdErr("release leases", err)
		}
		if !ok {
			continue
		}
		v := old
		v.LeaseOwner, v.LeaseUntil = "", time.Time{}
		if err := putDelivery(b, &ws, nil, &old, &v); err != nil { // at Open: nothing is kept yet
			return fwdErr("release leases", err)
		}
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("release leases", err)
	}
	return nil
}

// moveDueIndex rewrites every q/ entry as its qc/ entry, in commits of a
// few thousand (each entry moves in one commit, so a crash in the middle
// leaves every entry in one index or the other, and the next Open goes
// on).
func (d *DB) moveDueIndex() (int, error) {
	moved := 0
	for {
		it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: oldDuePrefix, UpperBound: prefixEnd(oldDuePrefix)})
		if err != nil {
			return moved, err
		}
		b := d.db.NewBatch()
		n := 0
		for ok := it.First(); ok && n < 4096; ok = it.Next() {
			e, good := parseOldDueKey(it.Key())
			if !good {
				_ = it.Close()
				b.Close()
				return moved, fmt.Errorf("bad due key %q", it.Key())
			}
			if err := b.Set(dueKey(e.ms, e.org, e.config, e.stmt), bytes.Clone(it.Value()), nil); err != nil {
				_ = it.Close()
				b.Close()
				return moved, err
			}
			if err := b.Delete(bytes.Clone(it.Key()), nil); err != nil {
				_ = it.Close()
				b.Close()
				return moved, err
			}
			n++
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			b.Close()
			return moved, err
		}
		if n == 0 {
			b.Close()
			return moved, nil
		}
		err = b.Commit(cpebble.Sync)
		b.Close()
		if err != nil {
			return moved, err
		}
		moved += n
	}
}

// ---------------------------------------------------------------------------
// Periods and the digest queue

func periodKey(name string, period int64) []byte { return appendMs(fwdKey("fp/", name), period) }

// ClaimPeriod claims a period of a task: a read and a write under the
// key's stripe lock. Only this process has the store open, so an
// unfinished claim of an owner that has not claimed since Open is of a
// process that is gone (killed mid-run): it is free at once, as its
// delivery leases are (releaseLeases), not when its lease ends.
func (d *DB) ClaimPeriod(ctx context.Context, name string, period int64, owner string, now, until time.Time) (bool, error) {
	if err := d.acquire(ctx, "claim period"); err != nil {
		return false, err
	}
	defer d.mu.RUnlock()
	key := periodKey(name, period)
	defer d.lockIDs(string(key))()
	cur, ok, err := fwdGet(d, key, decodePeriod)
	if err != nil {
		return false, fwdErr("claim period", err)
	}
	if _, live := d.periodOwners.Load(cur.Owner); ok && (!cur.Finished.IsZero() || (live && floorMs(cur.Until) > floorMs(now))) {
		return false, nil
	}
	v, err := encodePeriod(periodRecord{Owner: owner, Until: normMs(until)})
	if err != nil {
		return false, fwdErr("claim period", err)
	}
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Set(key, v, nil); err != nil {
		return false, fwdErr("claim period", err)
	}
	// Periods before the previous one are of no use any more.
	p := fwdKey("fp/", name)
	if err := b.DeleteRange(p, appendMs(bytes.Clone(p), period-1), nil); err != nil {
		return false, fwdErr("claim period", err)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return false, fwdErr("claim period", err)
	}
	d.periodOwners.Store(owner, true)
	return true, nil
}

// FinishPeriod marks owner's claim of a period finished.
func (d *DB) FinishPeriod(ctx context.Context, name string, period int64, owner string, at time.Time) error {
	if err := d.acquire(ctx, "finish period"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	key := periodKey(name, period)
	defer d.lockIDs(string(key))()
	cur, ok, err := fwdGet(d, key, decodePeriod)
	if err != nil {
		return fwdErr("finish period", err)
	}
	if !ok || cur.Owner != owner || !cur.Finished.IsZero() {
		return nil
	}
	cur.Finished = normMs(at)
	v, err := encodePeriod(cur)
	if err != nil {
		return fwdErr("finish period", err)
	}
	if err := d.db.Set(key, v, cpebble.Sync); err != nil {
		return fwdErr("finish period", err)
	}
	return nil
}

// LastPeriod returns the latest finished period of a task.
func (d *DB) LastPeriod(ctx context.Context, name string) (int64, time.Time, bool, error) {
	if err := d.acquire(ctx, "last period"); err != nil {
		return 0, time.Time{}, false, err
	}
	defer d.mu.RUnlock()
	p := fwdKey("fp/", name)
	var (
		period int64
		at     time.Time
		found  bool
	)
	err := d.fwdScan(p, true, func(k, v []byte) (bool, error) {
		r, err := decodePeriod(v)
		if err != nil || len(k) != len(p)+8 {
			return false, errors.Join(err, errCorrupt)
		}
		if r.Finished.IsZero() {
			return true, nil
		}
		period, at, found = int64(binary.BigEndian.Uint64(k[len(p):])^(1<<63)), r.Finished, true
		return false, nil
	})
	if err != nil {
		return 0, time.Time{}, false, fwdErr("last period", err)
	}
	return period, at, found, nil
}

func rejectionKey(org, config, stmt string) []byte { return fwdKey("fr/", org, config, stmt) }

// AddRejected stores items awaiting the digest.
func (d *DB) AddRejected(ctx context.Context, items []forward.PendingRejection) error {
	if err := d.acquire(ctx, "add rejected"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(items) == 0 {
		return nil
	}
	b := d.db.NewBatch()
	defer b.Close()
	for _, it := range items {
		it.At = normMs(it.At)
		v, err := encodeRejection(it.RejectedItem)
		if err != nil {
			return fwdErr("add rejected", err)
		}
		if err := b.Set(rejectionKey(it.Org, it.ConfigurationID, it.StatementID), v, nil); err != nil {
			return fwdErr("add rejected", err)
		}
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("add rejected", err)
	}
	return nil
}

// PendingRejected lists items awaiting the digest, by key.
func (d *DB) PendingRejected(ctx context.Context, limit int) ([]forward.PendingRejection, error) {
	if err := d.acquire(ctx, "pending rejected"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.PendingRejection{}
	if limit <= 0 {
		return out, nil
	}
	p := []byte("fr/")
	err := d.fwdScan(p, false, func(k, v []byte) (bool, error) {
		rest := k[len(p):]
		var parts [3]string
		for i := range parts {
			s, n := unescNext(rest)
			if n < 0 {
				return false, fmt.Errorf("bad rejection key %q", k)
			}
			parts[i], rest = s, rest[n:]
		}
		r, err := decodeRejection(v)
		if err != nil {
			return false, err
		}
		out = append(out, forward.PendingRejection{Org: parts[0], ConfigurationID: parts[1],
			RejectedItem: forward.RejectedItem{StatementID: parts[2], Reason: r.Reason, At: fwdMsTime(floorMs(r.At))}})
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, fwdErr("pending rejected", err)
	}
	return out, nil
}

// DropRejected removes mailed items (unless added again since).
func (d *DB) DropRejected(ctx context.Context, items []forward.PendingRejection) error {
	if err := d.acquire(ctx, "drop rejected"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(items) == 0 {
		return nil
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = string(rejectionKey(it.Org, it.ConfigurationID, it.StatementID))
	}
	defer d.lockIDs(keys...)()
	b := d.db.NewBatch()
	defer b.Close()
	for i, it := range items {
		cur, ok, err := fwdGet(d, []byte(keys[i]), decodeRejection)
		if err != nil {
			return fwdErr("drop rejected", err)
		}
		if ok && floorMs(cur.At) == floorMs(it.At) {
			if err := b.Delete([]byte(keys[i]), nil); err != nil {
				return fwdErr("drop rejected", err)
			}
		}
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("drop rejected", err)
	}
	return nil
}
