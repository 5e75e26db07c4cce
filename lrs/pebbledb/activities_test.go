package pebbledb

import (
	"testing"

	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestActivitiesConformance(t *testing.T) {
	storetest.RunActivities(t, func(t *testing.T) storetest.ActivityAgentStore {
		return open(t, t.TempDir())
	})
}
