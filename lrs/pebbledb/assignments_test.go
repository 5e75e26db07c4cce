package pebbledb_test

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

// TestAssignmentProcesses: the records a process acknowledged survive its
// kill -9, and the reservation it left is released when the store is
// opened again (the embedded store is opened by one process at a time, so
// there is no two-process race to test).
func TestAssignmentProcesses(t *testing.T) {
	const dirEnv = "LRS_TEST_PEBBLE_ASSIGNMENT_DIR"
	if storetest.AssignmentChild(func() (forward.AssignmentStore, error) {
		return pebbledb.Open(os.Getenv(dirEnv), pebbledb.Options{CacheBytes: 1 << 20})
	}) {
		return
	}
	storetest.RunAssignmentProcesses(t, func(t *testing.T) storetest.AssignmentProcesses {
		dir := t.TempDir()
		return storetest.AssignmentProcesses{
			Spawn: func(env ...string) *exec.Cmd {
				cmd := exec.Command(os.Args[0], "-test.run=^TestAssignmentProcesses$")
				cmd.Env = append(append(os.Environ(), dirEnv+"="+dir), env...)
				return cmd
			},
			Open: func(t *testing.T) forward.AssignmentStore {
				db, err := pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = db.Close() })
				return db
			},
			ReleasesAtOpen: true,
		}
	})
}

func BenchmarkAssignments(b *testing.B) {
	db, err := pebbledb.Open(b.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchAssignments(b, db)
}

// Only one process opens the store, so the reservations Open finds are a
// dead process's: released at once, the resolved records kept.
func TestOpenReleasesAssignmentReservations(t *testing.T) {
	dir := t.TempDir()
	db, err := pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dead := forward.AssignmentKey{Org: "o", Configuration: "c", Section: "5fee004cca2e43cf27000001", Objective: "obj"}
	done := forward.AssignmentKey{Org: "o", Configuration: "c", Section: "5fee004cca2e43cf27000002", Objective: "obj"}
	for _, k := range []forward.AssignmentKey{dead, done} {
		if _, won, err := db.ReserveAssignment(ctx, forward.AssignmentRecord{Key: k, Reservation: "r", ReservedAt: now}); err != nil || !won {
			t.Fatal(won, err)
		}
	}
	if err := db.ResolveAssignment(ctx, done, "r", "a-1", now); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // the process "dies" while creating dead's assignment
		t.Fatal(err)
	}
	db, err = pebbledb.Open(dir, pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.GetAssignment(ctx, dead); !errors.Is(err, forward.ErrNoAssignment) {
		t.Errorf("the dead process's reservation after reopening: %v, want ErrNoAssignment", err)
	}
	if got, err := db.GetAssignment(ctx, done); err != nil || got.AssignmentID != "a-1" {
		t.Errorf("the resolved record after reopening: %+v, %v", got, err)
	}
}
