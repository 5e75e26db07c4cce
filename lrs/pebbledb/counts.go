package pebbledb

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// Counters for the console's charts, kept as they happen so that a chart
// reads a few dozen keys whatever the number of statements:
//
//	ct/<org><day BE ms>         -> version 1, uvarint statements stored that UTC day
//	fh/<org><config><hour BE ms> -> version 1, uvarint attempts, delivered, failed
//
// Each is a read-modify-write under the stripe lock of its key (one
// process owns the directory). The writes are not synced: a crash may
// forget the last increments (the next synced write of the process makes
// them durable), which a chart can afford.

const countsVersion = 1

func dayCountKey(org string, day time.Time) []byte {
	return appendMs(fwdKey("ct/", org), day.UnixMilli())
}

func hourCountKey(org, config string, hour time.Time) []byte {
	return appendMs(fwdKey("fh/", org, config), hour.UnixMilli())
}

// addCounts adds deltas to the counters stored at key.
func (d *DB) addCounts(key []byte, deltas ...uint64) error {
	unlock := d.lockIDs(string(key))
	defer unlock()
	cur := make([]uint64, len(deltas))
	if _, err := d.get(key, func(v []byte) error {
		var err error
		cur, err = decodeCounts(v, len(deltas))
		return err
	}); err != nil {
		return err
	}
	v := []byte{countsVersion}
	for i, n := range deltas {
		v = binary.AppendUvarint(v, cur[i]+n)
	}
	return d.db.Set(key, v, cpebble.NoSync)
}

func decodeCounts(v []byte, n int) ([]uint64, error) {
	if len(v) == 0 || v[0] != countsVersion {
		return nil, fmt.Errorf("counter: %w", errCorrupt)
	}
	out := make([]uint64, n)
	v = v[1:]
	for i := range out {
		x, k := binary.Uvarint(v)
		if k <= 0 {
			return nil, fmt.Errorf("counter: %w", errCorrupt)
		}
		out[i], v = x, v[k:]
	}
	return out, nil
}

// scanCounts calls fn with the time and counters of every key of prefix
// from since to until (both included).
func (d *DB) scanCounts(prefix []byte, since, until time.Time, n int, fn func(t time.Time, c []uint64)) error {
	lo := appendMs(bytes.Clone(prefix), since.UnixMilli())
	hi := appendMs(bytes.Clone(prefix), until.UnixMilli()+1)
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			return fmt.Errorf("counter key: %w", errCorrupt)
		}
		c, err := decodeCounts(it.Value(), n)
		if err != nil {
			return err
		}
		ms := int64(binary.BigEndian.Uint64(k[len(prefix):]) ^ (1 << 63))
		fn(time.UnixMilli(ms).UTC(), c)
	}
	return it.Error()
}

// AddStatementCount implements lrs.StatementCountStore.
func (d *DB) AddStatementCount(ctx context.Context, org string, day time.Time, n int) error {
	if n <= 0 {
		return nil
	}
	if err := d.acquire(ctx, "add statement count"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if err := d.addCounts(dayCountKey(org, lrs.Day(day)), uint64(n)); err != nil {
		return fmt.Errorf("pebble: add statement count: %w", err)
	}
	return nil
}

// StatementCounts implements lrs.StatementCountStore.
func (d *DB) StatementCounts(ctx context.Context, org string, since, until time.Time) ([]lrs.DayCount, error) {
	if err := d.acquire(ctx, "statement counts"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []lrs.DayCount{}
	err := d.scanCounts(fwdKey("ct/", org), lrs.Day(since), lrs.Day(until), 1, func(t time.Time, c []uint64) {
		out = append(out, lrs.DayCount{Day: t, Count: int(c[0])})
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: statement counts: %w", err)
	}
	return out, nil
}

// countAttempt adds a to its hour's counts; d.mu is held.
func (d *DB) countAttempt(a forward.Attempt) error {
	n := forward.CountAttempt(a)
	return d.addCounts(hourCountKey(a.Org, a.ConfigurationID, n.Hour), uint64(n.Attempts), uint64(n.Delivered), uint64(n.Failed))
}

// AttemptCounts implements forward.AttemptLog.
func (d *DB) AttemptCounts(ctx context.Context, org, configID string, since, until time.Time) ([]forward.HourCount, error) {
	if err := d.acquire(ctx, "attempt counts"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.HourCount{}
	since, until = since.UTC().Truncate(time.Hour), until.UTC().Truncate(time.Hour)
	err := d.scanCounts(fwdKey("fh/", org, configID), since, until, 3, func(t time.Time, c []uint64) {
		out = append(out, forward.HourCount{Hour: t, Attempts: int(c[0]), Delivered: int(c[1]), Failed: int(c[2])})
	})
	if err != nil {
		return nil, fwdErr("attempt counts", err)
	}
	return out, nil
}
