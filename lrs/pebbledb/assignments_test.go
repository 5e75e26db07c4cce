package pebbledb_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

// TestAssignmentProcesses: the records a process acknowledged survive its
// kill -9 (the embedded store is opened by one process at a time, so
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
