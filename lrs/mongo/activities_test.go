package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestActivitiesConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunActivities(t, func(t *testing.T) storetest.ActivityAgentStore { return open(t) })
}
