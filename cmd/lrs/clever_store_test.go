package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/clever/clevertest"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// The Clever destination's create-once protocol over the real storage
// engines: two senders of one configuration with their own store handles
// (on MongoDB, two connection pools, as two processes have) and their own
// rate limiters grade the same students at the same moment, with Clever's
// create answering slowly so that each finds the other's reservation: every
// section gets exactly one assignment, and every student the grade.
func TestCleverAssignmentOnceAcrossSenders(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		// One process opens the embedded store: the two senders share it.
		testCleverAssignmentOnce(t, db, db)
	})
	t.Run("mongodb", func(t *testing.T) {
		uri, database := testMongoURI(t), uniqueDatabase()
		dropDatabaseAtCleanup(t, uri, database)
		open := func() forward.AssignmentStore {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: database, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		}
		testCleverAssignmentOnce(t, open(), open())
	})
}

func testCleverAssignmentOnce(t *testing.T, stores ...forward.AssignmentStore) {
	const sections, perSection = 6, 4
	sim := clevertest.New(clevertest.Options{RateLimit: 100000})
	base := clevertest.Start(t, sim)
	district := clevertest.NewID()
	tok := sim.AddDistrict(clevertest.District{ID: district, Name: "Springfield"})
	var secs []string
	students := map[string]string{} // email → Clever id
	for i := range sections {
		sec := clevertest.NewID()
		sim.AddSection(clevertest.Section{ID: sec, District: district, Name: fmt.Sprintf("Period %d", i)})
		secs = append(secs, sec)
		for j := range perSection {
			id := clevertest.NewID()
			email := fmt.Sprintf("s%d-%d@example.com", i, j)
			sim.AddStudent(clevertest.User{ID: id, District: district, Email: email}, sec)
			students[email] = id
		}
	}
	// Every create is slow: the other sender finds the reservation and
	// waits for it through the store.
	sim.Inject(clevertest.Fault{Method: "POST", Path: "/v3.1/sections/", Delay: 300 * time.Millisecond, Times: 2 * sections})
	props := map[string]string{clever.PropBaseURL: base, clever.PropRateLimit: "100000",
		clever.PropSections: `{"*":["` + strings.Join(secs, `","`) + `"]}`}
	var dests []*clever.Destination
	for _, st := range stores {
		d, err := clever.New(forward.Configuration{Org: "org", ID: "cfg", Type: clever.TypeClever, Properties: props},
			map[string]string{clever.SecretToken: tok},
			clever.Options{Assignments: st, Egress: forwardtest.Loopback, Timeout: 10 * time.Second, Limiters: clever.NewLimiters(nil, 1)})
		if err != nil {
			t.Fatal(err)
		}
		dests = append(dests, d)
	}
	yes, scaled := true, 0.75
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for _, d := range dests {
		for email := range students {
			wg.Go(func() {
				<-start
				o := d.Send(t.Context(), clever.Grade{Objective: "obj-1", ObjectiveName: "Fire drill", Participant: email,
					Result: clever.Result{Completed: &yes, Success: &yes, Scaled: &scaled}})
				if o.Class != forward.OutcomeSuccess {
					mu.Lock()
					failed = append(failed, email+": "+o.Class+" "+o.Message)
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d sends failed, e.g. %q", len(failed), failed[0])
	}
	for _, sec := range secs {
		if n := sim.Created(sec, "Fire drill"); n != 1 {
			t.Errorf("section %s: %d assignments created, want 1", sec, n)
		}
		as := sim.Assignments(sec)
		if len(as) != 1 {
			t.Fatalf("section %s has %d assignments", sec, len(as))
		}
		rec, err := stores[0].GetAssignment(t.Context(), forward.AssignmentKey{Org: "org", Configuration: "cfg", Section: sec, Objective: "obj-1"})
		if err != nil || rec.AssignmentID != as[0].ID {
			t.Errorf("section %s: the store names %+v (%v), Clever has %s", sec, rec, err, as[0].ID)
		}
	}
	for email, id := range students {
		if n := sim.Grades(id); n != len(stores) {
			t.Errorf("%s graded %d times, want once per sender", email, n)
		}
	}
}
