package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestForwardConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunForward(t, func(t *testing.T) storetest.ForwardStore { return open(t) })
}

func TestAssignmentsConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunAssignments(t, func(t *testing.T) forward.AssignmentStore { return open(t) })
}

func TestFilesConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunFiles(t, func(t *testing.T) forward.FileStore { return open(t) })
}

func TestBackfillsConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunBackfills(t, func(t *testing.T) forward.BackfillStore { return open(t) })
}
