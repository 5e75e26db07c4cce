package mongo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lrs-project/lrs/lrs"
)

// poolErr has the method by which the driver marks its cleared-pool error
// (unexported in x/mongo/driver/topology) as one to retry.
type poolErr struct{ retry bool }

func (e poolErr) Error() string   { return "connection pool for 127.0.0.1:27017 was cleared" }
func (e poolErr) Retryable() bool { return e.retry }

// TestTranslatePoolCleared: an operation that meets a connection pool
// cleared by another operation's network error (what the first requests
// after a lost server get) is the store being unavailable (503), not an
// internal error; TestMongoOutage met it on the consistent-through read.
func TestTranslatePoolCleared(t *testing.T) {
	var le *lrs.Error
	err := translate(fmt.Errorf("mongo: oldest write intent: %w", poolErr{retry: true}))
	if !errors.As(err, &le) || le.Code != lrs.EUNAVAILABLE {
		t.Fatalf("a cleared pool translated to %v, want EUNAVAILABLE", err)
	}
	for _, in := range []error{poolErr{retry: false}, errors.New("mongo: some other failure")} {
		if got := translate(in); got != in {
			t.Errorf("translate(%v) = %v, want it unchanged", in, got)
		}
	}
}
