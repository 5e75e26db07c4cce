package mongo_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/lrs/storetest"
)

// mongoURI returns the test server's URI. make test starts a
// MongoDB-compatible server and sets LRS_TEST_MONGODB_URI together with
// LRS_TEST_REQUIRE_MONGODB=1, so that a missing server fails the suite
// instead of skipping it.
func mongoURI(t testing.TB) string {
	t.Helper()
	uri := os.Getenv("LRS_TEST_MONGODB_URI")
	if uri == "" {
		if os.Getenv("LRS_TEST_REQUIRE_MONGODB") != "" {
			t.Fatal("LRS_TEST_REQUIRE_MONGODB is set but LRS_TEST_MONGODB_URI is empty: the MongoDB test server did not start")
		}
		t.Skip("LRS_TEST_MONGODB_URI not set (make test sets it)")
	}
	return uri
}

func open(t testing.TB) *mongo.DB { return openWith(t, nil) }

// openWith opens a fresh database whose commands monitor sees (nil: none).
func openWith(t testing.TB, monitor *event.CommandMonitor) *mongo.DB {
	t.Helper()
	uri := mongoURI(t)
	name := "lrs_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: name, Timeout: 10 * time.Second, Monitor: monitor})
	if err != nil {
		t.Fatalf("open MongoDB engine: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = db.Close()
	})
	return db
}

func TestConformance(t *testing.T) {
	mongoURI(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return open(t) })
}

func TestClockConsistentThrough(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	clock := db.Clock()
	before, err := clock.ConsistentThrough(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, done, err := clock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.After(before) {
		t.Errorf("stored %v is not after the consistent-through %v reported before the write", stored, before)
	}
	during, err := clock.ConsistentThrough(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !during.Before(stored) {
		t.Errorf("consistent-through %v passed a write in flight at %v", during, stored)
	}
	done()
}
