package mongo_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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
