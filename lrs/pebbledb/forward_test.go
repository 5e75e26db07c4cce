package pebble_test

import (
	"testing"

	pebble "github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestForwardConformance(t *testing.T) {
	storetest.RunForward(t, func(t *testing.T) storetest.ForwardStore {
		db, err := pebble.Open(t.TempDir(), pebble.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}
