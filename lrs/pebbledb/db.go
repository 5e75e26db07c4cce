// Package pebbledb is the embedded storage engine of the LRS, on
// github.com/cockroachdb/pebble/v2 (pure Go), with the statement records in
// blob files (value separation, see storeOptions). It implements lrs.Store and
// auth.CredentialStore in one directory; every write is synced before it
// returns. It was chosen over bbolt by tools/enginebench (see BENCHMARKS.md).
package pebbledb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

var (
	_ lrs.Store            = (*DB)(nil)
	_ auth.CredentialStore = (*DB)(nil)
)

// Options configure Open. The zero value is usable.
type Options struct {
	// CacheBytes is the block cache size; 0 means 64 MiB.
	CacheBytes int64
	// Logger receives pebble's informational messages at debug level;
	// nil discards them.
	Logger *slog.Logger
}

const nStripes = 256

// DB is an open store.
type DB struct {
	// mu guards db against Close: every call holds it for reading.
	mu     sync.RWMutex
	db     *cpebble.DB
	cache  interface{ Unref() }
	closed bool

	// stripes serialize the read-check-write of one id (insert, voiding,
	// adding terms) without serializing unrelated writers, so that pebble
	// can group their synced commits. The fd/ keys of deliveries have
	// stripes of their own (the second half, lockIDs): a write of
	// hundreds of deliveries (a backfill's step, a batch's settle) holds
	// most of its stripes through its synced commit, which the inserts of
	// statements would otherwise wait for.
	seed    maphash.Seed
	stripes [2 * nStripes]sync.Mutex
	credMu  sync.Mutex

	// pending holds the record keys of inserts that passed their conflict
	// check and are committing, each with a channel closed when the commit
	// is over. Inserts hold the stripe locks only while checking, not
	// during the synced commit, so that concurrent inserts share fsyncs
	// (Pebble groups concurrent commits); a second insert of a pending id
	// waits for the first to finish, then checks again.
	pendMu  sync.Mutex
	pending map[string]chan struct{}

	// ids filters the conflict checks of inserts (idfilter.go); its scans
	// run in the background until Close.
	ids       idSets
	refs      idSets
	resultIDs idSets // of stored results' keys (results_reads.go)
	bg        sync.WaitGroup
	bgCtx     context.Context
	bgCancel  context.CancelFunc
	logger    *slog.Logger

	claimMu    sync.Mutex    // serializes ClaimDeliveries (forward.go)
	leases     leaseTable    // claim leases of deliveries, in memory (leases.go)
	recs       deliveryCache // records of pending deliveries as last written (deliverycache.go)
	due        dueHints      // lower bounds of the due queues (duehints.go)
	logs       logStates     // counts and lower bounds of the delivery logs (forward.go)
	voidOrgs   sync.Map      // org -> whether it has voided statements (results.go)
	results    resultReads   // what GetResults read, for PutResults (results_reads.go)
	contribs   contribCache  // decoded contributions of recent results (results_contribs.go)
	attemptCap atomic.Int64  // delivery log entries kept per configuration (forward.go)

	// periodOwners are the owners that claimed a period since Open
	// (ClaimPeriod): another's claim is of a process that is gone.
	periodOwners sync.Map
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("pebble: create %s: %w", dir, err)
	}
	size := opts.CacheBytes
	if size <= 0 {
		size = 64 << 20
	}
	cache := cpebble.NewCache(size)
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := upgradeFormat(dir, logger); err != nil {
		cache.Unref()
		return nil, err
	}
	db, err := cpebble.Open(dir, storeOptions(cache, slogAdapter{logger}))
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	d := &DB{db: db, cache: cache, seed: maphash.MakeSeed(), pending: map[string]chan struct{}{}, logger: logger}
	d.ids.orgs = map[string]*idSet{}
	d.refs.orgs = map[string]*idSet{}
	d.resultIDs.orgs = map[string]*idSet{}
	d.bgCtx, d.bgCancel = context.WithCancel(context.Background())
	if err := d.migrate(); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, err
	}
	if err := d.migrateResults(); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, err
	}
	if err := d.releaseLeases(logger); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, err
	}
	if err := d.releaseReservations(logger); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, err
	}
	return d, nil
}

// storeFormat is the format major version the store is ratcheted to on
// open: the first with value separation (blob files).
const storeFormat = cpebble.FormatValueSeparation

// statementRecords is the key span of the statement records (S<org><id>),
// whose values go to blob files.
var statementRecords = cpebble.KeyRange{Start: []byte("S"), End: []byte("T")}

// storeOptions are the Pebble options of the store.
//
// Statement records are kept apart from the keys (value separation): a
// record (the stored statement, ≈2 KB in the benchmark) is written once to
// a blob file when its memtable is flushed, and the compactions that move
// its key down the levels rewrite a reference to it, not the statement. It
// is immutable but for voiding and added terms, which write a new value
// (the old one is garbage, reclaimed when a blob file holds more than
// TargetGarbageRatio of it). The keys of the records are random (UUIDs),
// so every table of a level overlaps every blob file: MaxBlobReferenceDepth
// is set high enough that compactions keep the references rather than
// rewrite the values (10, Pebble's example, makes nearly every compaction
// rewrite them; see BENCHMARKS.md). Other values (documents, forwarding
// state, credentials) are small or rewritten often and stay in the tables.
func storeOptions(cache *cpebble.Cache, logger cpebble.Logger) *cpebble.Options {
	po := &cpebble.Options{
		Cache:              cache,
		Logger:             logger,
		MemTableSize:       32 << 20,
		FormatMajorVersion: storeFormat,
	}
	// Bloom filters: the conflict check of every insert is a point lookup
	// of a new, random id, which is nearly always a miss.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// MinLZ: faster than Snappy, at the same ratio on statements.
	po.ApplyCompressionSettings(func() cpebble.DBCompressionSettings { return cpebble.DBCompressionFastest })
	po.Experimental.EnableColumnarBlocks = func() bool { return true } // needed for blob files
	po.Experimental.ValueSeparationPolicy = func() cpebble.ValueSeparationPolicy {
		return cpebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           256,
			MaxBlobReferenceDepth: 1000,
			RewriteMinimumAge:     5 * time.Minute,
			TargetGarbageRatio:    0.2,
		}
	}
	po.Experimental.SpanPolicyFunc = func(start []byte) (cpebble.SpanPolicy, []byte, error) {
		switch {
		case bytes.Compare(start, statementRecords.Start) < 0:
			return cpebble.SpanPolicy{ValueStoragePolicy: cpebble.ValueStorageLowReadLatency}, statementRecords.Start, nil
		case bytes.Compare(start, statementRecords.End) < 0:
			return cpebble.SpanPolicy{}, statementRecords.End, nil
		}
		return cpebble.SpanPolicy{ValueStoragePolicy: cpebble.ValueStorageLowReadLatency}, nil, nil
	}
	return po
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Infof(format string, args ...any) {
	a.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (a slogAdapter) Errorf(format string, args ...any) {
	a.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (a slogAdapter) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	a.l.Error(msg, "component", "pebble")
	panic(msg)
}

// Close releases the store. Idempotent.
func (d *DB) Close() error {
	// The background scans stop at their next check, release the store and
	// are waited for once it is closed: none can start after that, since
	// they start from calls that hold the store open.
	d.bgCancel()
	defer d.bg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.db.Close()
	d.cache.Unref()
	if err != nil {
		return fmt.Errorf("pebble: close: %w", err)
	}
	return nil
}

// acquire checks ctx and that the store is open, and read-locks it against
// Close; the caller must call d.mu.RUnlock when it returns nil.
func (d *DB) acquire(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: %s: %w", op, err)
	}
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return lrs.Errorf(lrs.EUNAVAILABLE, "Storage is closed.")
	}
	return nil
}

// Ping reports whether the store is open.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.acquire(ctx, "ping"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	return nil
}

func (d *DB) stripe(id string) int {
	i := int(maphash.String(d.seed, id) % nStripes)
	if strings.HasPrefix(id, deliveryPrefix) {
		i += nStripes // a delivery's
	}
	return i
}

// lockIDs locks the stripes of ids in a fixed order and returns the unlock.
func (d *DB) lockIDs(ids ...string) func() {
	idx := make([]int, 0, len(ids))
	for _, id := range ids {
		idx = append(idx, d.stripe(id))
	}
	sort.Ints(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		d.stripes[i].Lock()
	}
	return func() {
		for _, i := range idx {
			d.stripes[i].Unlock()
		}
	}
}

// get reads the value at key; ok is false when it is missing.
func (d *DB) get(key []byte, fn func(v []byte) error) (ok bool, err error) {
	v, closer, err := d.db.Get(key)
	if errors.Is(err, cpebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	if fn != nil {
		err = fn(v)
	}
	return true, err
}

func (d *DB) getRecord(org string, id [idLen]byte) (record, bool, error) {
	var r record
	ok, err := d.get(recordKey(org, id), func(v []byte) error {
		var err error
		r, err = decodeRecord(v)
		return err
	})
	return r, ok, err
}

func toLRS(id string, r record) lrs.StatementRecord {
	return lrs.StatementRecord{
		ID:        id,
		Stored:    time.UnixMilli(r.storedMs).UTC(),
		Raw:       r.raw,
		Terms:     r.terms,
		Voided:    r.voided,
		RefTarget: r.refTarget,
	}
}

// postingTerms returns the distinct terms of a record plus TermAll, which
// every record is indexed under.
func postingTerms(terms []string) []string {
	out := make([]string, 0, len(terms)+1)
	out = append(out, lrs.TermAll)
	out = append(out, terms...)
	sort.Strings(out)
	return slices.Compact(out)
}

// kv is one key of a batch, and its value: v, or the encoding of rec,
// which setSorted writes straight into the batch.
type kv struct {
	k, v []byte
	rec  *record
}

// recordKeys appends a record's keys: the record, a posting per term and
// its ref key.
func recordKeys(out []kv, org string, id [idLen]byte, r *record) ([]kv, error) {
	out = append(out, kv{k: recordKey(org, id), v: encodeRecord(r)})
	for _, t := range postingTerms(r.terms) {
		out = append(out, kv{k: postingKey(termPrefix(org, t), r.storedMs, id)})
	}
	if r.refTarget != "" {
		target, ok := parseID(r.refTarget)
		if !ok {
			return nil, fmt.Errorf("ref target %q is not a lower-case UUID", r.refTarget)
		}
		out = append(out, kv{k: refKey(org, target, id)})
	}
	return out, nil
}

// setSorted adds keys and the keys of sorted (which are in key order) to b
// in key order: the memtable's skiplist inserts of neighbouring keys reuse
// each other's search path.
func setSorted(b *cpebble.Batch, keys, sorted []kv) error {
	slices.SortFunc(keys, func(x, y kv) int { return bytes.Compare(x.k, y.k) })
	for len(keys) > 0 || len(sorted) > 0 {
		var e kv
		if len(sorted) == 0 || len(keys) > 0 && bytes.Compare(keys[0].k, sorted[0].k) < 0 {
			e, keys = keys[0], keys[1:]
		} else {
			e, sorted = sorted[0], sorted[1:]
		}
		if e.rec != nil {
			op := b.SetDeferred(len(e.k), recordLen(e.rec))
			copy(op.Key, e.k)
			if v := appendRecord(op.Value[:0], e.rec); len(v) != len(op.Value) {
				return fmt.Errorf("record of %d bytes, %d reserved", len(v), len(op.Value))
			}
			if err := op.Finish(); err != nil {
				return err
			}
			continue
		}
		if err := b.Set(e.k, e.v, nil); err != nil {
			return err
		}
	}
	return nil
}

// InsertStatements stores new records in one synced batch. If an id exists
// (or repeats within recs) it stores nothing and returns ECONFLICT.
func (d *DB) InsertStatements(ctx context.Context, org string, recs []lrs.StatementRecord) error {
	if err := d.acquire(ctx, "insert statements"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(recs) == 0 {
		return nil
	}
	ids := make([][idLen]byte, len(recs))
	for i := range recs {
		id, ok := parseID(recs[i].ID)
		if !ok {
			return lrs.Errorf(lrs.EINVALID, "Statement id %q is not a lower-case UUID.", recs[i].ID)
		}
		if t := recs[i].RefTarget; t != "" {
			if _, ok := parseID(t); !ok {
				return lrs.Errorf(lrs.EINVALID, "Statement %s targets %q, which is not a lower-case UUID.", recs[i].ID, t)
			}
		}
		ids[i] = id
	}
	set, refs := d.idSet(org), d.refSet(org)
	keys, err := d.reserve(ctx, org, recs, ids, set)
	if err != nil {
		return err
	}
	defer d.release(keys)
	b := d.db.NewBatch()
	defer b.Close()
	kvs := make([]kv, 0, len(recs)*8)
	rs := make([]*record, len(recs))
	for i := range recs {
		r := &recs[i]
		rs[i] = &record{storedMs: floorMs(r.Stored), voided: r.Voided, refTarget: r.RefTarget, terms: r.Terms, raw: r.Raw}
		kvs = append(kvs, kv{k: recordKey(org, ids[i]), rec: rs[i]})
		if t, ok := parseID(r.RefTarget); ok {
			kvs = append(kvs, kv{k: refKey(org, t, ids[i])})
		}
	}
	prefixes := make(map[string][]byte, len(recs)*4) // a batch's statements share many terms
	postings := batchPostings(make([]kv, 0, len(recs)*8), rs, ids, func(t string) []byte {
		p, ok := prefixes[t]
		if !ok {
			p = termPrefix(org, t)
			prefixes[t] = p
		}
		return p
	})
	if err := setSorted(b, kvs, postings); err != nil {
		return fmt.Errorf("pebble: insert statements: %w", err)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: insert statements: commit: %w", err)
	}
	for i := range ids { // before release: a waiting insert of an id sees it
		set.add(ids[i][:])
		if t, ok := parseID(recs[i].RefTarget); ok {
			refs.add(t[:])
		}
	}
	return nil
}

// reserve checks that no id exists or is being inserted, and marks them
// pending; release unmarks them once the commit is done (or failed). Ids
// the LRS assigned (random UUIDs) are neither checked nor marked.
func (d *DB) reserve(ctx context.Context, org string, recs []lrs.StatementRecord, ids [][idLen]byte, set *idSet) ([]string, error) {
	for {
		keys, wait, err := d.tryReserve(org, recs, ids, set)
		if wait == nil {
			return keys, err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("pebble: insert statements: %w", ctx.Err())
		}
	}
}

func (d *DB) tryReserve(org string, recs []lrs.StatementRecord, ids [][idLen]byte, set *idSet) ([]string, chan struct{}, error) {
	check := make([]string, 0, len(recs))
	for i := range recs {
		if !recs[i].Assigned {
			check = append(check, recs[i].ID)
		}
	}
	if len(check) == 0 {
		if len(recs) > 1 {
			seen := make(map[[idLen]byte]bool, len(ids))
			for i, id := range ids {
				if seen[id] {
					return nil, nil, lrs.Errorf(lrs.ECONFLICT, "Statement id %s is given twice.", recs[i].ID)
				}
				seen[id] = true
			}
		}
		return nil, nil, nil
	}
	unlock := d.lockIDs(check...)
	defer unlock()
	keys := make([]string, 0, len(check))
	seen := make(map[[idLen]byte]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			return nil, nil, lrs.Errorf(lrs.ECONFLICT, "Statement id %s is given twice.", recs[i].ID)
		}
		seen[id] = true
		if recs[i].Assigned {
			continue
		}
		key := recordKey(org, id)
		d.pendMu.Lock()
		wait, busy := d.pending[string(key)]
		d.pendMu.Unlock()
		if busy {
			return nil, wait, nil
		}
		if set.mayHold(id[:]) {
			ok, err := d.get(key, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("pebble: insert statements: read %s: %w", recs[i].ID, err)
			}
			if ok {
				return nil, nil, lrs.Errorf(lrs.ECONFLICT, "A statement with id %s already exists.", recs[i].ID)
			}
		}
		keys = append(keys, string(key))
	}
	done := make(chan struct{})
	d.pendMu.Lock()
	for _, k := range keys {
		d.pending[k] = done
	}
	d.pendMu.Unlock()
	return keys, nil, nil
}

func (d *DB) release(keys []string) {
	if len(keys) == 0 {
		return
	}
	d.pendMu.Lock()
	done := d.pending[keys[0]]
	for _, k := range keys {
		delete(d.pending, k)
	}
	d.pendMu.Unlock()
	close(done)
}

// GetStatements returns the existing records among ids.
func (d *DB) GetStatements(ctx context.Context, org string, ids []string) (map[string]lrs.StatementRecord, error) {
	if err := d.acquire(ctx, "get statements"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := make(map[string]lrs.StatementRecord, len(ids))
	// One iterator for the whole batch (seekEach), not a Get each: the
	// records' values live in blob files, and one iterator keeps the blob
	// file readers (their index blocks) it opened for the next value.
	keys := make([]string, 0, len(ids))
	idOf := make(map[string][]string, len(ids)) // the ids asked for of each key (two spellings of one id)
	for _, id := range ids {
		b, ok := parseID(id)
		if !ok {
			continue // no record has it
		}
		k := string(recordKey(org, b))
		keys = append(keys, k)
		idOf[k] = append(idOf[k], id)
	}
	err := d.seekEach(keys, func(k string, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("pebble: get statement %s: %w", idOf[k][0], err)
		}
		for _, id := range idOf[k] {
			out[id] = toLRS(id, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// cursorID is the 16-byte form of a cursor's id. A cursor from a record
// holds a lower-case UUID; any other string is placed where its text sorts
// among UUIDs when it sorts before or after all of them ("" or "~"), and
// is invalid otherwise.
func cursorID(id string) (b []byte, err error) {
	if u, ok := parseID(id); ok {
		return u[:], nil
	}
	switch {
	case id < "00000000-0000-0000-0000-000000000000":
		return nil, nil // before every id
	case id > "ffffffff-ffff-ffff-ffff-ffffffffffff":
		return bytes.Repeat([]byte{0xff}, idLen+1), nil // after every id
	}
	return nil, lrs.Errorf(lrs.EINVALID, "The cursor id %q is not a statement id.", id)
}

// QueryStatements scans the postings of the first non-TermAll term of q
// within the stored range and cursor, in q's order, and checks each hit's
// record: the same stored time and the scanned term among its terms (two
// terms may share a posting prefix), the other terms, and voiding.
func (d *DB) QueryStatements(ctx context.Context, org string, q lrs.StatementQuery) ([]lrs.StatementRecord, error) {
	if err := d.acquire(ctx, "query statements"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	if q.Limit <= 0 {
		return nil, nil
	}
	scan := lrs.TermAll
	var want []string // terms a hit's record must hold
	for _, t := range q.Terms {
		if t == lrs.TermAll {
			continue
		}
		if scan == lrs.TermAll {
			scan = t
		}
		if !slices.Contains(want, t) {
			want = append(want, t)
		}
	}
	prefix := termPrefix(org, scan)
	lo, hi := prefix, prefixEnd(prefix)
	if !q.Since.IsZero() {
		lo = appendMs(bytes.Clone(prefix), floorMs(q.Since)+1)
	}
	if !q.Until.IsZero() {
		hi = appendMs(bytes.Clone(prefix), floorMs(q.Until)+1)
	}
	// The cursor bounds the scan at its stored time; the ids of that time
	// are filtered against its id (see run: they interleave across keys).
	var cid []byte
	var cursorMs int64
	if c := q.After; c != nil {
		var err error
		if cid, err = cursorID(c.ID); err != nil {
			return nil, err
		}
		cursorMs = floorMs(c.Stored)
		if q.Ascending {
			if k := appendMs(bytes.Clone(prefix), cursorMs); bytes.Compare(k, lo) > 0 {
				lo = k
			}
		} else if k := appendMs(bytes.Clone(prefix), cursorMs+1); bytes.Compare(k, hi) < 0 {
			hi = k
		}
	}
	if bytes.Compare(lo, hi) >= 0 {
		return []lrs.StatementRecord{}, nil
	}
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("pebble: query statements: %w", err)
	}
	defer it.Close()
	out := make([]lrs.StatementRecord, 0, min(q.Limit, 128))
	// emit checks the ids of one run (stored at ms) against their records.
	emit := func(ids [][idLen]byte, ms int64) error {
		for _, id := range ids {
			if len(out) >= q.Limit {
				return nil
			}
			if q.After != nil && ms == cursorMs {
				if c := bytes.Compare(id[:], cid); q.Ascending && c <= 0 || !q.Ascending && c >= 0 {
					continue
				}
			}
			r, found, err := d.getRecord(org, id)
			if err != nil {
				return fmt.Errorf("pebble: query statements: read %s: %w", formatID(id[:]), err)
			}
			if found && r.storedMs == ms && !r.voided && hasAll(r.terms, want) {
				out = append(out, toLRS(formatID(id[:]), r))
			}
		}
		return nil
	}
	var ok bool
	if q.Ascending {
		ok = it.First()
	} else {
		ok = it.Last()
	}
	var cur run
	for n := 0; ok && len(out) < q.Limit; n++ {
		if n%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("pebble: query statements: %w", err)
			}
		}
		added, err := cur.add(it.Key(), it.Value())
		if err != nil {
			return nil, fmt.Errorf("pebble: query statements: posting %q: %w", it.Key(), err)
		}
		if !added { // the key starts the next run: this one is complete
			if err := emit(cur.take(q.Ascending), cur.ms()); err != nil {
				return nil, err
			}
			continue
		}
		if q.Ascending {
			ok = it.Next()
		} else {
			ok = it.Prev()
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebble: query statements: %w", err)
	}
	if len(out) < q.Limit && !cur.taken && len(cur.ids) > 0 {
		if err := emit(cur.take(q.Ascending), cur.ms()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func hasAll(terms, want []string) bool {
	for _, w := range want {
		if !slices.Contains(terms, w) {
			return false
		}
	}
	return true
}

// update applies fn to the record id under its stripe lock; fn returns the
// extra postings to write, or changed=false to write nothing.
func (d *DB) update(ctx context.Context, op, org, id string, fn func(r *record) (changed bool, newTerms []string)) error {
	if err := d.acquire(ctx, op); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	b16, ok := parseID(id)
	if !ok {
		return lrs.Errorf(lrs.ENOTFOUND, "No statement with id %s.", id)
	}
	defer d.lockIDs(id)()
	r, ok, err := d.getRecord(org, b16)
	if err != nil {
		return fmt.Errorf("pebble: %s %s: %w", op, id, err)
	}
	if !ok {
		return lrs.Errorf(lrs.ENOTFOUND, "No statement with id %s.", id)
	}
	changed, newTerms := fn(&r)
	if !changed {
		return nil
	}
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Set(recordKey(org, b16), encodeRecord(&r), nil); err != nil {
		return fmt.Errorf("pebble: %s %s: %w", op, id, err)
	}
	for _, t := range newTerms {
		// A posting key of this id under the term's hash lists the id
		// already (two terms may share a hash), and must keep its value.
		k := postingKey(termPrefix(org, t), r.storedMs, b16)
		exists, err := d.get(k, nil)
		if err != nil {
			return fmt.Errorf("pebble: %s %s: %w", op, id, err)
		}
		if exists {
			continue
		}
		if err := b.Set(k, nil, nil); err != nil {
			return fmt.Errorf("pebble: %s %s: %w", op, id, err)
		}
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: %s %s: commit: %w", op, id, err)
	}
	return nil
}

// SetVoided marks the record id as voided. Idempotent; ENOTFOUND if missing.
func (d *DB) SetVoided(ctx context.Context, org, id string) error {
	return d.update(ctx, "set voided", org, id, func(r *record) (bool, []string) {
		if r.voided {
			return false, nil
		}
		r.voided = true
		return true, nil
	})
}

// AddTerms adds index terms to the record id. Idempotent; ENOTFOUND if
// missing.
func (d *DB) AddTerms(ctx context.Context, org, id string, terms []string) error {
	return d.update(ctx, "add terms", org, id, func(r *record) (bool, []string) {
		changed := false
		var added []string
		for _, t := range terms {
			if slices.Contains(r.terms, t) {
				continue
			}
			r.terms = append(r.terms, t)
			changed = true
			if t != lrs.TermAll { // the TermAll posting always exists
				added = append(added, t)
			}
		}
		return changed, added
	})
}

// Referrers returns the ids of the records whose RefTarget is id.
func (d *DB) Referrers(ctx context.Context, org, id string) ([]string, error) {
	out, err := d.ReferrersOf(ctx, org, []string{id})
	if err != nil {
		return nil, err
	}
	return out[id], nil
}

// ReferrersOf returns the referrers of many ids, with one iterator.
func (d *DB) ReferrersOf(ctx context.Context, org string, ids []string) (map[string][]string, error) {
	if err := d.acquire(ctx, "referrers"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := map[string][]string{}
	targets := make([][idLen]byte, 0, len(ids))
	refs := d.refSet(org)
	for _, id := range ids {
		if b, ok := parseID(id); ok && refs.mayHold(b[:]) {
			targets = append(targets, b)
		}
	}
	if len(targets) == 0 {
		return out, nil
	}
	slices.SortFunc(targets, func(a, b [idLen]byte) int { return bytes.Compare(a[:], b[:]) })
	targets = slices.Compact(targets)
	lo := appendEsc([]byte("R"), org) // every target of the org
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("pebble: referrers: %w", err)
	}
	defer it.Close()
	for _, t := range targets {
		p := refPrefix(org, t)
		for ok := it.SeekGE(p); ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
			if k := it.Key(); len(k) == len(p)+idLen {
				id := formatID(t[:])
				out[id] = append(out[id], formatID(k[len(p):]))
			}
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebble: referrers: %w", err)
	}
	return out, nil
}

// CreateCredential stores c; auth.ErrKeyTaken if its key exists.
func (d *DB) CreateCredential(ctx context.Context, c auth.Credential) error {
	if err := d.acquire(ctx, "create credential"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("pebble: create credential: %w", err)
	}
	d.credMu.Lock()
	defer d.credMu.Unlock()
	ok, err := d.get(credKey(c.Key), nil)
	if err != nil {
		return fmt.Errorf("pebble: create credential: %w", err)
	}
	if ok {
		return auth.ErrKeyTaken
	}
	if err := d.db.Set(credKey(c.Key), v, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: create credential: %w", err)
	}
	return nil
}

// GetCredential returns the credential with key; auth.ErrNotFound if none.
func (d *DB) GetCredential(ctx context.Context, key string) (auth.Credential, error) {
	var c auth.Credential
	if err := d.acquire(ctx, "get credential"); err != nil {
		return c, err
	}
	defer d.mu.RUnlock()
	ok, err := d.get(credKey(key), func(v []byte) error { return json.Unmarshal(v, &c) })
	if err != nil {
		return auth.Credential{}, fmt.Errorf("pebble: get credential: %w", err)
	}
	if !ok {
		return auth.Credential{}, auth.ErrNotFound
	}
	return c, nil
}

// CountCredentials returns the number of credentials in all organizations.
func (d *DB) CountCredentials(ctx context.Context) (int, error) {
	if err := d.acquire(ctx, "count credentials"); err != nil {
		return 0, err
	}
	defer d.mu.RUnlock()
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: credPrefix, UpperBound: prefixEnd(credPrefix)})
	if err != nil {
		return 0, fmt.Errorf("pebble: count credentials: %w", err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("pebble: count credentials: %w", err)
	}
	return n, nil
}
