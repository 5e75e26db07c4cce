package pebbledb_test

import (
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestForwardConformance(t *testing.T) {
	storetest.RunForward(t, func(t *testing.T) storetest.ForwardStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}

func TestAssignmentsConformance(t *testing.T) {
	storetest.RunAssignments(t, func(t *testing.T) forward.AssignmentStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}

func TestFilesConformance(t *testing.T) {
	storetest.RunFiles(t, func(t *testing.T) forward.FileStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}

func TestBackfillsConformance(t *testing.T) {
	storetest.RunBackfills(t, func(t *testing.T) forward.BackfillStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}

// BenchmarkClaimDrain drains a backlog one claim of one item at a time
// (storetest.BenchClaimDrain): go test -run '^$' -bench ClaimDrain -benchtime 1x.
func BenchmarkClaimDrain(b *testing.B) {
	storetest.BenchClaimDrain(b, func(b *testing.B) storetest.ForwardStore {
		db, err := pebbledb.Open(b.TempDir(), pebbledb.Options{CacheBytes: 8 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		return db
	}, 1000, 10000, 50000)
}

// BenchmarkDeliveryCycle runs one ingest, claim and delivery of a batch of
// 100 per iteration (storetest.BenchDeliveryCycle):
// go test -run '^$' -bench DeliveryCycle -benchtime 300x ./lrs/pebbledb.
func BenchmarkDeliveryCycle(b *testing.B) {
	db, err := pebbledb.Open(b.TempDir(), pebbledb.Options{CacheBytes: 8 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	storetest.BenchDeliveryCycle(b, db, 100)
}
