package pebbledb

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// resultsFixture: results of two objectives (one org id with a zero byte,
// for the escaping) with every combination of completed and passed, known
// or not, some written twice with other flags (so that their index keys
// moved). testdata/results-layout1 holds a store that
// writeResultsFixture wrote with the code of results layout 1 (rc/ and
// rs/ indexes, before rf/):
//
//	PEBBLEDB_WRITE_RESULTS_FIXTURE=/tmp/results-layout1 go test -run TestWriteResultsFixture ./lrs/pebbledb
func resultsFixture() (first, second []forward.ObjectiveResult) {
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	tri := func(i int) *bool { // unknown, false, true
		switch i % 3 {
		case 1:
			return ptrTo(false)
		case 2:
			return ptrTo(true)
		}
		return nil
	}
	for i := range 48 {
		org, obj := "org-a", "obj-1"
		if i%4 == 3 {
			org, obj = "org\x00b", "obj-2"
		} else if i%4 == 2 {
			obj = "obj\x002"
		}
		reg := ""
		if i%3 != 0 {
			reg = fmt.Sprintf("%08x-0000-4000-8000-%012x", i%5, i%2)
		}
		r := forward.ObjectiveResult{
			ResultKey: forward.ResultKey{Org: org, ObjectiveID: obj, Participant: fmt.Sprintf("mbox:mailto:u%d@example.com", i%7), Registration: reg},
			Actor:     forward.Actor{Mbox: fmt.Sprintf("mailto:u%d@example.com", i%7)},
			Computed:  forward.Values{Completion: tri(i), Success: tri(i / 3), Attempts: 1 + i%2},
			Statements: 1,
			Revision:   1,
			RulesAt:    base,
			CreatedAt:  base.Add(time.Duration(i) * time.Millisecond),
			UpdatedAt:  base.Add(time.Duration(i) * time.Millisecond),
		}
		first = append(first, r)
		if i%5 == 1 {
			r.Computed.Completion, r.Computed.Success = tri(i+1), tri(i/3+2)
			r.Revision, r.Gen = 2, 1
			r.UpdatedAt = r.UpdatedAt.Add(time.Hour)
			second = append(second, r)
		}
	}
	return first, second
}

// writeResultsFixture writes the fixture; the first writes are flushed to
// a table, the second stay in the log.
func writeResultsFixture(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	first, second := resultsFixture()
	seen := map[forward.ResultKey]bool{}
	for _, r := range first {
		if seen[r.ResultKey] {
			continue // the same key again (the fixture's modulos): keep the first
		}
		seen[r.ResultKey] = true
		if c, err := db.PutResults(ctx, []forward.ObjectiveResult{r}, true); err != nil || len(c) != 0 {
			t.Fatal(c, err)
		}
	}
	if err := db.db.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, r := range second {
		if c, err := db.PutResults(ctx, []forward.ObjectiveResult{r}, true); err != nil {
			t.Fatal(err)
		} else if len(c) != 0 {
			continue // a key the first pass skipped at another Gen
		}
	}
}

func TestWriteResultsFixture(t *testing.T) {
	dir := os.Getenv("PEBBLEDB_WRITE_RESULTS_FIXTURE")
	if dir == "" {
		t.Skip("set PEBBLEDB_WRITE_RESULTS_FIXTURE to a new directory to write the fixture there")
	}
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeResultsFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
