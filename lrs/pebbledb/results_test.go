package pebbledb_test

import (
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestResultsConformance(t *testing.T) {
	storetest.RunResults(t, func(t *testing.T) forward.ResultStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}
