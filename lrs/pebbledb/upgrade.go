package pebbledb

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	pebblev1 "github.com/cockroachdb/pebble"
	cpebble "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Stores written by versions of the LRS on Pebble 1.1 are in Pebble's
// format major version 1 (FormatMostCompatible, Pebble 1.1's default), with
// tables in the RocksDB v2 table format. Pebble 2 opens only stores at or
// above its FormatMinSupported (FormatFlushableIngest) whose tables are all
// at least Pebblev1. Such a store is therefore first opened with Pebble 1.1
// (kept as a dependency for this alone), which ratchets it to the newest
// format it knows, FormatVirtualSSTables: on the way it rewrites every table
// of an older table format (FormatPrePebblev1MarkedCompacted), once. Each
// step is recorded in Pebble's manifest when it is done, so a crash during
// the upgrade leaves a store Pebble 1.1 still opens, and the next start
// resumes it. Pebble 2 then ratchets the store to storeFormat on open.
//
// upgradeFormat returns whether it upgraded anything.
func upgradeFormat(dir string, logger *slog.Logger) (bool, error) {
	desc, err := cpebble.Peek(dir, vfs.Default)
	if err == nil {
		if desc.Exists && desc.FormatMajorVersion >= cpebble.FormatMinSupported {
			return false, nil
		}
		if !desc.Exists {
			// Pebble 2 finds a store by its manifest marker; a store of
			// format 1 names its manifest in a CURRENT file instead.
			if _, err := os.Stat(filepath.Join(dir, "CURRENT")); errors.Is(err, fs.ErrNotExist) {
				return false, nil // a new store
			}
		}
	}
	// Otherwise Pebble 2 refuses to describe the store (a format it no
	// longer supports); Pebble 1.1 tells below whether it is one.
	start := time.Now()
	logger.Info("upgrading the store's format for Pebble 2 (tables written by earlier versions are rewritten once); the store opens when it is done", "dir", dir)
	cache := pebblev1.NewCache(8 << 20)
	defer cache.Unref()
	db, err := pebblev1.Open(dir, &pebblev1.Options{
		Cache:              cache,
		Logger:             slogAdapter{logger},
		FormatMajorVersion: pebblev1.FormatVirtualSSTables,
	})
	if err != nil {
		return false, fmt.Errorf("pebble: upgrade %s: open with Pebble 1.1: %w", dir, err)
	}
	if v := db.FormatMajorVersion(); v < pebblev1.FormatVirtualSSTables {
		_ = db.Close()
		return false, fmt.Errorf("pebble: upgrade %s: the store is at format major version %d after the upgrade", dir, v)
	}
	// Pebble 2 then finds everything in tables, and no log of Pebble 1.1 to
	// replay.
	if err := db.Flush(); err != nil {
		_ = db.Close()
		return false, fmt.Errorf("pebble: upgrade %s: flush: %w", dir, err)
	}
	if err := db.Close(); err != nil {
		return false, fmt.Errorf("pebble: upgrade %s: close: %w", dir, err)
	}
	logger.Info("upgraded the store's format for Pebble 2", "took", time.Since(start).Round(time.Millisecond))
	return true, nil
}
