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

// BenchmarkClaimDrain drains a backlog one claim of one item at a time
// (storetest.BenchClaimDrain): tools/with-ferretdb .tools/ferretdb-test
// go test -run '^$' -bench ClaimDrain -benchtime 1x ./lrs/mongo.
func BenchmarkClaimDrain(b *testing.B) {
	mongoURI(b)
	storetest.BenchClaimDrain(b, func(b *testing.B) storetest.ForwardStore { return open(b) }, 100, 300)
}

// BenchmarkDeliveryCycle runs one ingest, claim and delivery of a batch of
// 100 per iteration (storetest.BenchDeliveryCycle): tools/with-ferretdb
// .tools/ferretdb-test go test -run '^$' -bench DeliveryCycle -benchtime 30x ./lrs/mongo.
func BenchmarkDeliveryCycle(b *testing.B) {
	mongoURI(b)
	storetest.BenchDeliveryCycle(b, open(b), 100)
}
