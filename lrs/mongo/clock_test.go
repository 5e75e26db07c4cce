package mongo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/lrs/mongo"
)

// openShared opens n engines on one fresh database, as n lrs processes
// sharing it would.
func openShared(t *testing.T, n int) (string, []*mongo.DB) {
	t.Helper()
	uri := mongoURI(t)
	name := "lrs_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	dbs := make([]*mongo.DB, n)
	for i := range dbs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: name, Timeout: 10 * time.Second})
		cancel()
		if err != nil {
			t.Fatalf("open MongoDB engine: %v", err)
		}
		dbs[i] = db
		t.Cleanup(func() { _ = db.Close() })
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = dbs[0].Drop(ctx)
	})
	return name, dbs
}

// A write in flight on one process holds back the Consistent-Through of
// every other process; once it is done, theirs passes it.
func TestClockAcrossProcesses(t *testing.T) {
	_, dbs := openShared(t, 2)
	ctx := context.Background()
	writer, reader := dbs[0].Clock(), dbs[1].Clock()
	stored, done, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Well past the skew bound, the reader still must not pass the write.
	time.Sleep(2500 * time.Millisecond)
	ct, err := reader.ConsistentThrough(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ct.Before(stored) {
		t.Errorf("another process's consistent-through %v passed a write in flight at %v", ct, stored)
	}
	done()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ct, err := reader.ConsistentThrough(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ct.Before(stored) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consistent-through %v did not pass the finished write at %v within 10s", ct, stored)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The intent of a process that crashed mid-write holds Consistent-Through
// back only until its lease ends.
func TestClockIgnoresExpiredIntents(t *testing.T) {
	name, dbs := openShared(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := driver.Connect(options.Client().ApplyURI(mongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	writes := client.Database(name).Collection("writes")
	now := time.Now().UTC().Truncate(time.Millisecond)

	// A crashed write an hour ago: past any lease, ignored.
	if _, err := writes.InsertOne(ctx, bson.D{{Key: "_id", Value: "crashed-long-ago"}, {Key: "at", Value: now.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	ct, err := dbs[0].Clock().ConsistentThrough(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ct.Before(now.Add(-time.Minute)) {
		t.Errorf("consistent-through %v is held back by an intent an hour old", ct)
	}

	// A write in flight for 5s (within the lease): honored.
	recent := now.Add(-5 * time.Second)
	if _, err := writes.InsertOne(ctx, bson.D{{Key: "_id", Value: "in-flight"}, {Key: "at", Value: recent}}); err != nil {
		t.Fatal(err)
	}
	ct, err = dbs[0].Clock().ConsistentThrough(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ct.Before(recent) {
		t.Errorf("consistent-through %v passed an intent in flight at %v", ct, recent)
	}
}
