package mongo_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/mongo"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A database whose deliveries have the claim indexes of earlier versions
// ({s, na}; {s, o, c, na} without the _id of the claim's sort) gets
// state_org_config_next_attempt_id at Open, the old ones are dropped with
// a log line, and claims work on.
func TestOpenReplacesTheOldClaimIndex(t *testing.T) {
	uri := mongoURI(t)
	name := "lrs_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := driver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	raw := client.Database(name)
	defer func() { _ = raw.Drop(context.Background()) }()
	deliveries := raw.Collection("forward_deliveries")
	for _, m := range []driver.IndexModel{
		{Keys: bson.D{{Key: "s", Value: 1}, {Key: "na", Value: 1}}, Options: options.Index().SetName("state_next_attempt")},
		{Keys: bson.D{{Key: "s", Value: 1}, {Key: "o", Value: 1}, {Key: "c", Value: 1}, {Key: "na", Value: 1}}, Options: options.Index().SetName("state_org_config_next_attempt")},
	} {
		if _, err := deliveries.Indexes().CreateOne(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	indexes := func() []string {
		t.Helper()
		specs, err := deliveries.Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range specs {
			out = append(out, s.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := indexes(); !slices.Contains(got, "state_org_config_next_attempt") {
		t.Fatalf("the old store's indexes: %v", got)
	}

	var log syncBuffer
	db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: name, Timeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := indexes()
	if !slices.Contains(got, "state_org_config_next_attempt_id") || slices.Contains(got, "state_org_config_next_attempt") || slices.Contains(got, "state_next_attempt") {
		t.Errorf("indexes after Open: %v; want state_org_config_next_attempt_id and neither old one", got)
	}
	specs, err := deliveries.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if s.Name != "state_org_config_next_attempt_id" {
			continue
		}
		var keys []string
		elems, err := s.KeysDocument.Elements()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			keys = append(keys, e.Key())
		}
		if !slices.Equal(keys, []string{"s", "o", "c", "na", "_id"}) {
			t.Errorf("state_org_config_next_attempt_id keys %v, want the claim's filter and sort: s, o, c, na, _id", keys)
		}
	}
	for _, old := range []string{"state_next_attempt", "state_org_config_next_attempt"} {
		if !strings.Contains(log.String(), "index="+old) {
			t.Errorf("no log line for the drop of %s:\n%s", old, log.String())
		}
	}

	at := time.Now().UTC().Truncate(time.Millisecond)
	ds := []forward.Delivery{
		{Org: "o", ConfigurationID: "c", StatementID: "s2", State: forward.StatePending, NextAttempt: at, CreatedAt: at, UpdatedAt: at},
		{Org: "o", ConfigurationID: "c", StatementID: "s1", State: forward.StatePending, NextAttempt: at, CreatedAt: at, UpdatedAt: at},
		{Org: "o", ConfigurationID: "c", StatementID: "s0", State: forward.StatePending, NextAttempt: at.Add(-time.Second), CreatedAt: at, UpdatedAt: at},
	}
	if err := db.EnsureDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	claimed, err := db.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w", Now: at, Lease: time.Minute, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range claimed {
		ids = append(ids, d.StatementID)
	}
	if !slices.Equal(ids, []string{"s0", "s1", "s2"}) {
		t.Errorf("claimed %v, want s0 (due first), then s1, s2 by id", ids)
	}

	// A second Open (nothing left to drop) is quiet and keeps the index.
	var log2 syncBuffer
	db2, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: name, Timeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&log2, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if strings.Contains(log2.String(), "dropped an index") {
		t.Errorf("the second Open dropped again:\n%s", log2.String())
	}
	if got := indexes(); !slices.Contains(got, "state_org_config_next_attempt_id") {
		t.Errorf("indexes after the second Open: %v", got)
	}
}
