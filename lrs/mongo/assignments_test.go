package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/lrs/storetest"
)

// TestAssignmentProcesses: two processes racing for the same keys each
// win a key exactly once, and what a process acknowledged survives its
// kill -9.
func TestAssignmentProcesses(t *testing.T) {
	const dbEnv = "LRS_TEST_MONGO_ASSIGNMENT_DB"
	if storetest.AssignmentChild(func() (forward.AssignmentStore, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return mongo.Open(ctx, mongo.Options{URI: os.Getenv("LRS_TEST_MONGODB_URI"), Database: os.Getenv(dbEnv), Timeout: 10 * time.Second})
	}) {
		return
	}
	uri := mongoURI(t)
	storetest.RunAssignmentProcesses(t, func(t *testing.T) storetest.AssignmentProcesses {
		db := "lrs_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
		return storetest.AssignmentProcesses{
			Spawn: func(env ...string) *exec.Cmd {
				cmd := exec.Command(os.Args[0], "-test.run=^TestAssignmentProcesses$")
				cmd.Env = append(append(os.Environ(), dbEnv+"="+db), env...)
				return cmd
			},
			Open: func(t *testing.T) forward.AssignmentStore {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				s, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: db, Timeout: 10 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					_ = s.Drop(ctx)
					_ = s.Close()
				})
				return s
			},
			Concurrent: true,
		}
	})
}

// A key's superseded generations go once they are an hour old, the latest
// two stay whatever their age, and the record reads on; a document of a
// newer shape does not read.
func TestAssignmentGenerationsAreDropped(t *testing.T) {
	db, raw := openRaw(t)
	ctx := t.Context()
	coll := raw.Collection("forward_assignments")
	key := forward.AssignmentKey{Org: "o", Configuration: "c", Section: "5fee004cca2e43cf27000001", Objective: "obj"}
	id := func(gen int) string { return fmt.Sprintf("o\x00c\x005fee004cca2e43cf27000001\x00obj\x00%010d", gen) }
	old := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Millisecond)
	// Ten generations of failed creates, written two hours ago.
	for g := range 10 {
		st := "reserved"
		if g%2 == 1 {
			st = "released"
		}
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id(g)}, {Key: "v", Value: 1}, {Key: "g", Value: int64(g)},
			{Key: "st", Value: st}, {Key: "r", Value: fmt.Sprint("r", g)}, {Key: "ra", Value: old}, {Key: "w", Value: old}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.GetAssignment(ctx, key); !errors.Is(err, forward.ErrNoAssignment) {
		t.Fatalf("a released latest generation: %v, want ErrNoAssignment", err)
	}
	rec := forward.AssignmentRecord{Key: key, Reservation: "now", ReservedAt: time.Now()}
	if _, won, err := db.ReserveAssignment(ctx, rec); err != nil || !won {
		t.Fatalf("reserve: %v %v", won, err)
	}
	ids := func() []string {
		cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range docs {
			out = append(out, d.ID)
		}
		return out
	}
	if got, want := ids(), []string{id(9), id(10)}; !slices.Equal(got, want) {
		t.Fatalf("documents after the reservation: %q, want %q (the latest two)", got, want)
	}
	if err := db.ResolveAssignment(ctx, key, "now", "a-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(), []string{id(10), id(11)}; !slices.Equal(got, want) {
		t.Fatalf("documents after the resolve: %q, want %q", got, want)
	}
	if got, err := db.GetAssignment(ctx, key); err != nil || got.AssignmentID != "a-1" || got.Reservation != "now" {
		t.Fatalf("record: %+v, %v", got, err)
	}
	// Generations written within the hour stay.
	if err := db.ReleaseAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "now", AssignmentID: "a-1"}); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(), []string{id(10), id(11), id(12)}; !slices.Equal(got, want) {
		t.Fatalf("documents after the release: %q, want %q", got, want)
	}
	// A generation written by a newer lrs is not read as this one's.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id(13)}, {Key: "v", Value: 2}, {Key: "g", Value: int64(13)},
		{Key: "st", Value: "resolved"}, {Key: "r", Value: "x"}, {Key: "a", Value: "a-2"}, {Key: "w", Value: old}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetAssignment(ctx, key); err == nil || !strings.Contains(err.Error(), "unknown version") {
		t.Fatalf("a newer document: %v, want an unknown version error", err)
	}
}

func BenchmarkAssignments(b *testing.B) {
	uri := os.Getenv("LRS_TEST_MONGODB_URI")
	if uri == "" {
		b.Skip("LRS_TEST_MONGODB_URI not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: "lrs_bench_" + strings.ReplaceAll(uuid.NewString()[:18], "-", ""), Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Drop(context.Background()); _ = db.Close() }()
	storetest.BenchAssignments(b, db)
}
