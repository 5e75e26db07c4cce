package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestIdentityConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunIdentity(t, func(t *testing.T) auth.IdentityStore { return open(t) })
}
