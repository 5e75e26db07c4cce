package pebbledb

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The cache of decoded contributions always says what the store holds:
// with writers adding and voiding contributions of one result while
// readers read them (and fill the cache), the cached contributions at the
// end are those a scan of the store finds, in statement id order, and
// every read saw every write that had returned before it began.
func TestContributionCacheRaces(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := forward.ResultKey{Org: "acme", ObjectiveID: "obj-1", Participant: "mbox:mailto:ada@example.com"}
	other := key
	other.Registration = "r2"
	at := time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)
	contrib := func(k forward.ResultKey, w, i int) forward.Contribution {
		return forward.Contribution{ResultKey: k, StatementID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i*7919%100000, w),
			Stored: at.Add(time.Duration(i) * time.Millisecond), Timestamp: at, Verb: forward.VerbCompleted, Activity: "https://example.com/c",
			Actor: forward.Actor{Mbox: "mailto:ada@example.com"}, New: i%2 == 0}
	}
	const writers, each = 4, 60
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c := contrib(key, w, i)
				if err := db.AddContributions(ctx, []forward.Contribution{c, contrib(other, w, i)}); err != nil {
					errs <- err
					return
				}
				if i%10 == 3 { // void an earlier one of this writer
					target := contrib(key, w, i-2).StatementID
					if err := db.VoidStatements(ctx, "acme", []forward.Void{{Target: target, By: "v", Results: []forward.ResultKey{key}}}); err != nil {
						errs <- err
						return
					}
				}
				// Read after the write returned: it is there.
				got, err := db.ResultContributions(ctx, []forward.ResultKey{key})
				if err != nil {
					errs <- err
					return
				}
				found := false
				for _, g := range got[key] {
					found = found || g.StatementID == c.StatementID
				}
				if !found {
					errs <- fmt.Errorf("writer %d: contribution %d missing from a read after its add", w, i)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.ResultContributions(ctx, []forward.ResultKey{key, other}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, ok := db.contribs.get(string(contribPrefix(key))); !ok {
		t.Fatal("the result's contributions are not cached after its reads")
	}
	cached, err := db.ResultContributions(ctx, []forward.ResultKey{key, other})
	if err != nil {
		t.Fatal(err)
	}
	db.contribs.clear()
	scanned, err := db.ResultContributions(ctx, []forward.ResultKey{key, other})
	if err != nil {
		t.Fatal(err)
	}
	if len(scanned[key]) != writers*each || len(scanned[other]) != writers*each {
		t.Fatalf("the store holds %d and %d contributions, want %d each", len(scanned[key]), len(scanned[other]), writers*each)
	}
	if !reflect.DeepEqual(cached, scanned) {
		t.Errorf("the cache differs from the store")
	}
	voided := 0
	for _, c := range scanned[key] {
		if c.Voided {
			voided++
		}
	}
	if want := writers * (each / 10); voided != want {
		t.Errorf("%d contributions voided, want %d", voided, want)
	}
	// A delete of the objective's results drops them from the cache too.
	if err := db.DeleteResults(ctx, "acme", "obj-1"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ResultContributions(ctx, []forward.ResultKey{key}); err != nil || len(got) != 0 {
		t.Errorf("after DeleteResults: %d results' contributions, %v", len(got), err)
	}
}
