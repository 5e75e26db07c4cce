package pebbledb

import (
	"context"
	"errors"
	"fmt"
	"slices"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/auth"
)

// The LRS's own secret keys are stored under key/<name> as a version byte
// (1) followed by the key. One process owns the data directory, so the
// credentials mutex makes the first write win.

var _ auth.KeyStore = (*DB)(nil)

const secretKeyVersion = 1

func secretKeyKey(name string) []byte { return append([]byte("key/"), name...) }

// EnsureKey stores value under name unless a key of that name exists, and
// returns the key stored under name.
func (d *DB) EnsureKey(ctx context.Context, name string, value []byte) ([]byte, error) {
	if len(value) == 0 {
		return nil, errors.New("pebble: ensure key: empty value")
	}
	if err := d.acquire(ctx, "ensure key"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	d.credMu.Lock()
	defer d.credMu.Unlock()
	var stored []byte
	ok, err := d.get(secretKeyKey(name), func(v []byte) error {
		if len(v) < 2 || v[0] != secretKeyVersion {
			return fmt.Errorf("key %s: %w", name, errCorrupt)
		}
		stored = slices.Clone(v[1:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: ensure key: %w", err)
	}
	if ok {
		return stored, nil
	}
	v := append([]byte{secretKeyVersion}, value...)
	if err := d.db.Set(secretKeyKey(name), v, cpebble.Sync); err != nil {
		return nil, fmt.Errorf("pebble: ensure key: %w", err)
	}
	return slices.Clone(value), nil
}
