package mongo_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/lrs/storetest"
)

// openRaw opens the engine on a fresh database and the same database with
// the driver, to write and read documents as they are stored.
func openRaw(t *testing.T) (*mongo.DB, *driver.Database) {
	t.Helper()
	uri := mongoURI(t)
	name := "lrs_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: name, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	client, err := driver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = db.Close()
		_ = client.Disconnect(ctx)
	})
	return db, client.Database(name)
}

// A database written before the forwarding documents had a version of
// their own reads back as it was written, and works on.
func TestForwardRecordsWrittenBeforeVersioning(t *testing.T) {
	b, err := os.ReadFile("testdata/forward-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string][]json.RawMessage
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	db, raw := openRaw(t)
	for coll, docs := range golden {
		for _, d := range docs {
			var doc bson.D
			if err := bson.UnmarshalExtJSON(d, true, &doc); err != nil {
				t.Fatalf("%s: %v", coll, err)
			}
			if _, err := raw.Collection(coll).InsertOne(t.Context(), doc); err != nil {
				t.Fatalf("%s: %v", coll, err)
			}
		}
	}
	storetest.CheckForwardRecordsV0(t, db)
}

// Documents are written with their version; one of a later version (a
// newer binary's) is refused with a clear error, not read as something
// else.
func TestForwardRecordVersion(t *testing.T) {
	db, raw := openRaw(t)
	ctx := t.Context()
	if err := db.PutConfiguration(ctx, forward.Configuration{ID: "c1", Org: "o", Name: "LMS"}); err != nil {
		t.Fatal(err)
	}
	coll := raw.Collection("forward_configurations")
	var doc struct {
		V int `bson:"v"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "o\x00c1"}}).Decode(&doc); err != nil || doc.V != 1 {
		t.Fatalf("stored configuration: version %d, %v; want 1", doc.V, err)
	}
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "o\x00c1"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: 2}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetConfiguration(ctx, "o", "c1"); err == nil || !strings.Contains(err.Error(), "unknown version") || errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("reading a version 2 document: %v, want an unknown-version error", err)
	}
}
