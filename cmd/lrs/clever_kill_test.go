package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/clever/clevertest"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// A sender process killed with SIGKILL while it creates a district's
// assignments and writes its grades: a new process on the same store takes
// over what the dead one reserved (the embedded store releases it at Open)
// and loses nothing: every student is
// graded in the one assignment the store names for the section, and no
// section gets a second assignment, but for the one whose create may have
// been in flight when the process died (Clever has no way to find it again:
// forward/clever's assignments.go).

// cleverKillChild is the environment of the sender process: a JSON
// cleverKillSpec.
const cleverKillChild = "LRS_TEST_CLEVER_KILL_SENDER"

type cleverKillSpec struct {
	Base, Token    string
	Sections       []string
	Students       []string // emails, in sending order
	DataDir        string   // the embedded store, or:
	MongoURI, DB   string
	ReservationTTL time.Duration
}

func cleverKillProps(spec cleverKillSpec) map[string]string {
	return map[string]string{clever.PropBaseURL: spec.Base, clever.PropRateLimit: "100000",
		clever.PropSections: `{"*":["` + strings.Join(spec.Sections, `","`) + `"]}`}
}

func openCleverKillStore(spec cleverKillSpec) (forward.AssignmentStore, func(), error) {
	if spec.DataDir != "" {
		db, err := pebbledb.Open(spec.DataDir, pebbledb.Options{CacheBytes: 1 << 20})
		if err != nil {
			return nil, nil, err
		}
		return db, func() { _ = db.Close() }, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mongo.Open(ctx, mongo.Options{URI: spec.MongoURI, Database: spec.DB, Timeout: 10 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	return db, func() { _ = db.Close() }, nil
}

func cleverSend(d *clever.Destination, email string) clever.Outcome {
	yes, scaled := true, 0.9
	return d.Send(context.Background(), clever.Grade{Objective: "obj-1", ObjectiveName: "Fire drill", Participant: email,
		Result: clever.Result{Completed: &yes, Success: &yes, Scaled: &scaled}})
}

// runCleverKillSender is the sender process: one grade after another,
// "graded <email>" after each.
func runCleverKillSender(raw string) {
	var spec cleverKillSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	st, closeStore, err := openCleverKillStore(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer closeStore()
	d, err := clever.New(forward.Configuration{Org: "org", ID: "cfg", Type: clever.TypeClever, Properties: cleverKillProps(spec)},
		map[string]string{clever.SecretToken: spec.Token},
		clever.Options{Assignments: st, Egress: forwardtest.Loopback, Timeout: 5 * time.Second, ReservationTTL: spec.ReservationTTL})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, email := range spec.Students {
		if o := cleverSend(d, email); o.Class != forward.OutcomeSuccess {
			fmt.Fprintln(os.Stderr, email, o.Class, o.Message)
			os.Exit(1)
		}
		fmt.Println("graded", email)
	}
	os.Exit(0)
}

func TestCleverSenderKilled(t *testing.T) {
	if raw := os.Getenv(cleverKillChild); raw != "" {
		runCleverKillSender(raw)
		return
	}
	t.Run("embedded", func(t *testing.T) { testCleverSenderKilled(t, cleverKillSpec{DataDir: t.TempDir()}) })
	t.Run("mongodb", func(t *testing.T) {
		uri, database := testMongoURI(t), uniqueDatabase()
		dropDatabaseAtCleanup(t, uri, database)
		testCleverSenderKilled(t, cleverKillSpec{MongoURI: uri, DB: database})
	})
}

func testCleverSenderKilled(t *testing.T, spec cleverKillSpec) {
	const sections, perSection = 12, 3
	sim := clevertest.New(clevertest.Options{RateLimit: 100000})
	spec.Base = clevertest.Start(t, sim)
	district := clevertest.NewID()
	spec.Token = sim.AddDistrict(clevertest.District{ID: district, Name: "Springfield"})
	students := map[string]string{}
	for i := range sections {
		sec := clevertest.NewID()
		sim.AddSection(clevertest.Section{ID: sec, District: district, Name: fmt.Sprintf("Period %d", i)})
		spec.Sections = append(spec.Sections, sec)
		for j := range perSection {
			email, id := fmt.Sprintf("s%02d-%d@example.com", i, j), clevertest.NewID()
			sim.AddStudent(clevertest.User{ID: id, District: district, Email: email}, sec)
			students[email] = id
			spec.Students = append(spec.Students, email)
		}
	}
	// The kill lands while the create of the seventh section is in
	// flight: its reservation is the new process's to take over, and
	// Clever carries the create out all the same.
	const killed = 6
	inFlight := make(chan struct{}, 1)
	sim.Inject(clevertest.Fault{Method: "POST", Path: "/v3.1/sections/" + spec.Sections[killed] + "/assignments", Delay: 3 * time.Second, Hit: inFlight})
	spec.ReservationTTL = time.Minute
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleverSenderKilled$")
	cmd.Env = append(os.Environ(), cleverKillChild+"="+string(raw))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	graded := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "graded ") {
			if graded++; graded == killed*perSection {
				select {
				case <-inFlight:
				case <-time.After(10 * time.Second):
					t.Fatal("the seventh section's create did not reach Clever within 10 s")
				}
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := cmd.Wait(); err == nil || graded == len(spec.Students) {
		t.Fatalf("the sender was not killed mid-way (%d of %d graded): %v", graded, len(spec.Students), err)
	}
	createdBefore := sim.TotalCreated()

	// A new process on the same store, whose clock is past the dead
	// sender's reservations' TTL.
	st, closeStore, err := openCleverKillStore(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	dead := 0
	for _, sec := range spec.Sections {
		if rec, err := st.GetAssignment(t.Context(), forward.AssignmentKey{Org: "org", Configuration: "cfg", Section: sec, Objective: "obj-1"}); err == nil && rec.AssignmentID == "" {
			dead++
		}
	}
	clock := clevertest.NewClock(time.Now().Add(2 * spec.ReservationTTL))
	d, err := clever.New(forward.Configuration{Org: "org", ID: "cfg", Type: clever.TypeClever, Properties: cleverKillProps(spec)},
		map[string]string{clever.SecretToken: spec.Token},
		clever.Options{Assignments: st, Egress: forwardtest.Loopback, Timeout: 5 * time.Second, Clock: clock, ReservationTTL: spec.ReservationTTL})
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range spec.Students {
		if o := cleverSend(d, email); o.Class != forward.OutcomeSuccess {
			t.Fatalf("%s after the restart: %+v", email, o)
		}
	}
	doubled := 0
	for i, sec := range spec.Sections {
		rec, err := st.GetAssignment(t.Context(), forward.AssignmentKey{Org: "org", Configuration: "cfg", Section: sec, Objective: "obj-1"})
		if err != nil || rec.AssignmentID == "" {
			t.Fatalf("section %d: no assignment recorded: %+v, %v", i, rec, err)
		}
		switch n := sim.Created(sec, "Fire drill"); {
		case n == 2:
			doubled++
		case n != 1:
			t.Errorf("section %d: %d assignments created", i, n)
		}
		for j := range perSection {
			email := fmt.Sprintf("s%02d-%d@example.com", i, j)
			if sub, ok := sim.Submission(sec, rec.AssignmentID, students[email]); !ok || sub.GradePoints == nil || *sub.GradePoints != 90 {
				t.Errorf("%s: no grade of 90 in the recorded assignment: %+v", email, sub)
			}
		}
	}
	// The embedded store releases a dead process's reservations when it
	// is opened again; on MongoDB the new process takes it over.
	wantDead := 1
	if spec.DataDir != "" {
		wantDead = 0
	}
	if dead != wantDead || doubled > 1 || sim.Created(spec.Sections[killed], "Fire drill") > 2 {
		t.Errorf("%d reservation(s) left by the kill (want %d), %d section(s) with a second assignment: want the one create in flight, and no other", dead, wantDead, doubled)
	}
	t.Logf("killed after %d of %d grades (%d assignments created before the kill, %d reservation(s) left to take over); %d section(s) got a second assignment from the create in flight",
		graded, len(spec.Students), createdBefore, dead, doubled)
}
