package mongo_test

import (
	"testing"

	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestDocumentsConformance(t *testing.T) {
	mongoURI(t)
	storetest.RunDocuments(t, func(t *testing.T) storetest.DocumentsStore { return open(t) })
}
