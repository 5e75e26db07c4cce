package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/auth"

	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestAdminConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunAdmin(t, func(t *testing.T) storetest.AdminStore { return open(t) })
}

func TestKeysConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunKeys(t, func(t *testing.T) auth.KeyStore { return open(t) })
}
