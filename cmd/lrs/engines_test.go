package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/lrs/mongo"
)

// The end-to-end tests run on both storage engines: the embedded store and
// MongoDB. make test starts a MongoDB-compatible server (FerretDB) and sets
// LRS_TEST_MONGODB_URI with LRS_TEST_REQUIRE_MONGODB=1, so that a missing
// server fails the suite instead of skipping the MongoDB runs.

// testMongoURI returns the MongoDB test server's URI, or skips (fails, when
// LRS_TEST_REQUIRE_MONGODB is set) if there is none.
func testMongoURI(t *testing.T) string {
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

// uniqueDatabase is a fresh database name, valid for LRS_MONGODB_DATABASE.
func uniqueDatabase() string {
	return "lrs_e2e_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
}

// dropDatabaseAtCleanup drops the database once the test (and every lrs
// process it started afterwards, whose cleanups run first) is done.
func dropDatabaseAtCleanup(t *testing.T, uri, database string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: database, Timeout: 10 * time.Second})
		if err != nil {
			t.Logf("drop test database %s: %v", database, err)
			return
		}
		defer db.Close()
		if err := db.Drop(ctx); err != nil {
			t.Logf("drop test database %s: %v", database, err)
		}
	})
}

// mongoStoreEnv returns the environment selecting a fresh MongoDB database
// on the test server (dropped at cleanup). LRS_DATA_DIR points at a temporary
// directory all the same, so that nothing is ever written to ./data.
func mongoStoreEnv(t *testing.T) []string {
	t.Helper()
	uri := testMongoURI(t)
	database := uniqueDatabase()
	dropDatabaseAtCleanup(t, uri, database)
	return []string{
		"LRS_DATA_DIR=" + t.TempDir(),
		"LRS_MONGODB_URI=" + uri,
		"LRS_MONGODB_DATABASE=" + database,
	}
}

// forEachEngine runs f as a subtest per engine, with the environment that
// selects a fresh, empty store on it. Starting lrs twice with the same
// environment reopens the same store.
func forEachEngine(t *testing.T, f func(t *testing.T, storeEnv []string)) {
	t.Run("embedded", func(t *testing.T) {
		f(t, []string{"LRS_DATA_DIR=" + t.TempDir()})
	})
	t.Run("mongodb", func(t *testing.T) {
		f(t, mongoStoreEnv(t))
	})
}
