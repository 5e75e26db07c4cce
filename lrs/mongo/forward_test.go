package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestForwardConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunForward(t, func(t *testing.T) storetest.ForwardStore { return open(t) })
}
