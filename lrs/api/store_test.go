package api_test

import (
	"testing"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// openStore returns an empty store for one test: the embedded engine in a
// temporary directory.
func openStore(t *testing.T) lrs.Store {
	t.Helper()
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
