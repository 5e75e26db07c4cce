package pebbledb

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/lrs"
)

var (
	_ lrs.ActivityStore = (*DB)(nil)
	_ lrs.AgentStore    = (*DB)(nil)
)

// Key layout of activities and agents (see keys.go for <x>):
//
//	act/<org><activity id>       -> canonical definition JSON
//	agn/<org><ifi key><name>     -> empty, one key per name seen with the IFI
//
// (the final <name> is written raw: it ends the key).

func activityKey(org, id string) []byte {
	b := make([]byte, 0, 4+len(org)+len(id)+4)
	b = append(b, "act/"...)
	b = appendEsc(b, org)
	return appendEsc(b, id)
}

func agentNamesPrefix(org, key string) []byte {
	b := make([]byte, 0, 4+len(org)+len(key)+4+32)
	b = append(b, "agn/"...)
	b = appendEsc(b, org)
	return appendEsc(b, key)
}

// MergeActivity merges def into the stored definition of id under the
// activity's stripe lock (read, merge, write when changed).
func (d *DB) MergeActivity(ctx context.Context, org, id string, def []byte) error {
	if err := d.acquire(ctx, "merge activity"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	k := activityKey(org, id)
	defer d.lockIDs(string(k))()
	var stored []byte
	if _, err := d.get(k, func(v []byte) error { stored = bytes.Clone(v); return nil }); err != nil {
		return fmt.Errorf("pebble: merge activity %s: %w", id, err)
	}
	merged, err := lrs.MergeDefinition(stored, def)
	if err != nil {
		return fmt.Errorf("pebble: merge activity %s: %w", id, err)
	}
	if stored != nil && bytes.Equal(merged, stored) {
		return nil
	}
	if err := d.db.Set(k, merged, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: merge activity %s: %w", id, err)
	}
	return nil
}

// GetActivity returns the stored definition of id, ENOTFOUND if none.
func (d *DB) GetActivity(ctx context.Context, org, id string) ([]byte, error) {
	if err := d.acquire(ctx, "get activity"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	var def []byte
	ok, err := d.get(activityKey(org, id), func(v []byte) error { def = bytes.Clone(v); return nil })
	if err != nil {
		return nil, fmt.Errorf("pebble: get activity %s: %w", id, err)
	}
	if !ok {
		return nil, lrs.Errorf(lrs.ENOTFOUND, "No definition of activity %s.", id)
	}
	return def, nil
}

// AddAgentNames writes one key per name not yet stored, in one batch.
// Keys are only ever added, so no lock is needed.
func (d *DB) AddAgentNames(ctx context.Context, org string, names map[string][]string) error {
	if err := d.acquire(ctx, "add agent names"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	b := d.db.NewBatch()
	defer b.Close()
	for key, ns := range names {
		p := agentNamesPrefix(org, key)
		for _, n := range ns {
			k := append(bytes.Clone(p), n...)
			ok, err := d.get(k, nil)
			if err != nil {
				return fmt.Errorf("pebble: add agent names: %w", err)
			}
			if ok {
				continue
			}
			if err := b.Set(k, nil, nil); err != nil {
				return fmt.Errorf("pebble: add agent names: %w", err)
			}
		}
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: add agent names: commit: %w", err)
	}
	return nil
}

// AgentNames returns the names stored for key, sorted (key order).
func (d *DB) AgentNames(ctx context.Context, org, key string) ([]string, error) {
	if err := d.acquire(ctx, "agent names"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	p := agentNamesPrefix(org, key)
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("pebble: agent names: %w", err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, string(it.Key()[len(p):]))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebble: agent names: %w", err)
	}
	return slices.Compact(out), nil
}
