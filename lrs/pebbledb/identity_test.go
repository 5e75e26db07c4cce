package pebbledb_test

import (
	"testing"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestIdentityConformance(t *testing.T) {
	storetest.RunIdentity(t, func(t *testing.T) auth.IdentityStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
