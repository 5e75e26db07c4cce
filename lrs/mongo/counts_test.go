package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestStatementCountsConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunStatementCounts(t, func(t *testing.T) lrs.StatementCountStore { return open(t) })
}
