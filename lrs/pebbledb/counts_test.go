package pebbledb_test

import (
	"testing"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestStatementCountsConformance(t *testing.T) {
	storetest.RunStatementCounts(t, func(t *testing.T) lrs.StatementCountStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}
