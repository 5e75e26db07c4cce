package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestResultsConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunResults(t, func(t *testing.T) forward.ResultStore { return open(t) })
}
