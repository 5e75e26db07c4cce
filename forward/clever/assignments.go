package clever

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// One assignment per (configuration, section, objective), ever.
//
// Clever's POST …/assignments is not idempotent and there is no endpoint
// that lists a section's assignments (sinks.md §1.4, §1.8): an assignment
// whose id is lost cannot be found again, and a second POST makes a second
// assignment in the teacher's gradebook. So the id is persisted before
// anything uses it, and creation is guarded by a reservation record that
// every process sees (the AssignmentStore, one record per key):
//
//  1. Get the key's record. An assignment id: use it. A reservation of
//     another worker: wait for it to be resolved (polling the store; in the
//     process, the one creating worker's result is shared) for as long as
//     a POST may take, then end the attempt as transient; take it over
//     only once it is older than Options.ReservationTTL, by deleting
//     exactly that reservation (a compare-and-delete) and starting again.
//  2. No record: wait for a rate-limit permit, then Reserve the key (an
//     insert that fails when any record exists: first writer wins; a loser
//     starts again at 1).
//  3. POST the assignment (bounded by Options.Timeout, shorter than the
//     reservation TTL). No 200: delete the reservation and report the
//     failure; the next attempt starts again at 1.
//  4. Resolve the reservation with the id (a conditional update: only if it
//     is still this worker's unresolved reservation). Only then is the id
//     used. If the reservation was taken over meanwhile (this worker was
//     slower than the TTL), the assignment just made is deleted in Clever
//     and the winner's is used; if the store fails, the assignment is
//     deleted in Clever too, so no assignment exists that the store does
//     not name.
//  5. Clever answering "Assignment does not exist" (deleted in the LMS):
//     delete the record that named it (compare-and-delete, so concurrent
//     workers that saw the same answer delete it once) and create again
//     through 1–4, once per attempt.
//
// Every step is a single-record operation (insert-if-absent, conditional
// update, conditional delete), which both storage engines give without
// transactions.
//
// The window that remains: a POST that Clever carried out but whose answer
// never came back (the process killed with -9 between the request and
// step 4, a timeout, a connection reset after Clever processed the
// request). Nothing in Clever's API can find that assignment again, so the
// key is created anew (at once after a failure, after the TTL after a
// kill) and the first assignment stays in the gradebook without grades.
// The window is one POST's round trip plus one store write; a kill -9 at
// any other moment creates no second assignment.

// AssignmentKey names the one assignment of a configuration's objective in
// a section.
type AssignmentKey struct {
	Org           string
	Configuration string
	Section       string
	Objective     string
}

func (k AssignmentKey) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", k.Org, k.Configuration, k.Section, k.Objective)
}

// AssignmentRecord is the stored state of a key: a reservation, then the
// assignment's Clever id.
type AssignmentRecord struct {
	Key AssignmentKey
	// Reservation is the random id of the worker that reserved the key,
	// at ReservedAt.
	Reservation string
	ReservedAt  time.Time
	// AssignmentID is Clever's id of the assignment, "" while reserved;
	// CreatedAt the time it was recorded.
	AssignmentID string
	CreatedAt    time.Time
}

// Errors of the AssignmentStore contract.
var (
	ErrNoRecord      = errors.New("clever: no assignment record")
	ErrRecordChanged = errors.New("clever: the assignment record changed")
)

// AssignmentStore keeps the assignment record of each key. Every method
// is one single-record operation, safe across processes.
type AssignmentStore interface {
	// Get returns the record of key, or ErrNoRecord.
	Get(ctx context.Context, key AssignmentKey) (AssignmentRecord, error)
	// Reserve stores rec (a reservation: AssignmentID empty) unless the key
	// has a record. It returns the key's stored record and whether it is
	// rec (first writer wins).
	Reserve(ctx context.Context, rec AssignmentRecord) (AssignmentRecord, bool, error)
	// Resolve records assignmentID (at at) in the key's record if that is
	// still the unresolved reservation named reservation; ErrRecordChanged
	// otherwise (nothing written).
	Resolve(ctx context.Context, key AssignmentKey, reservation, assignmentID string, at time.Time) error
	// Delete removes the key's record if it still has rec's Reservation
	// and AssignmentID; ErrRecordChanged if it has others (nothing
	// removed); nil if the key has no record.
	Delete(ctx context.Context, rec AssignmentRecord) error
}

// MemoryAssignments is an AssignmentStore in memory, for one process (and
// for tests).
type MemoryAssignments struct {
	mu sync.Mutex
	m  map[AssignmentKey]AssignmentRecord
}

var _ AssignmentStore = (*MemoryAssignments)(nil)

// NewMemoryAssignments returns an empty store.
func NewMemoryAssignments() *MemoryAssignments {
	return &MemoryAssignments{m: map[AssignmentKey]AssignmentRecord{}}
}

// Get implements AssignmentStore.
func (s *MemoryAssignments) Get(_ context.Context, key AssignmentKey) (AssignmentRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok {
		return AssignmentRecord{}, ErrNoRecord
	}
	return r, nil
}

// Reserve implements AssignmentStore.
func (s *MemoryAssignments) Reserve(_ context.Context, rec AssignmentRecord) (AssignmentRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[rec.Key]; ok {
		return r, false, nil
	}
	s.m[rec.Key] = rec
	return rec, true, nil
}

// Resolve implements AssignmentStore.
func (s *MemoryAssignments) Resolve(_ context.Context, key AssignmentKey, reservation, assignmentID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok || r.Reservation != reservation || r.AssignmentID != "" {
		return ErrRecordChanged
	}
	r.AssignmentID, r.CreatedAt = assignmentID, at
	s.m[key] = r
	return nil
}

// Delete implements AssignmentStore.
func (s *MemoryAssignments) Delete(_ context.Context, rec AssignmentRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[rec.Key]
	if !ok {
		return nil
	}
	if r.Reservation != rec.Reservation || r.AssignmentID != rec.AssignmentID {
		return ErrRecordChanged
	}
	delete(s.m, rec.Key)
	return nil
}

// storeError is a failure of the assignment store (retried: it is ours,
// not Clever's).
type storeError struct{ err error }

func (e *storeError) Error() string { return "assignment store: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// errReservationHeld: another worker's reservation is younger than the
// TTL and still unresolved after waiting for it.
var errReservationHeld = errors.New("another worker is creating this assignment; it is not recorded yet")

func newReservation() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// assignment returns the record (with an assignment id) of key, creating
// the assignment by the protocol above; one worker per key at a time in
// the process.
func (d *Destination) assignment(ctx context.Context, key AssignmentKey, data TemplateData) (AssignmentRecord, error) {
	return d.assignments.do(ctx, d.opts.Clock, key.String(), func() (AssignmentRecord, error) {
		return d.ensureAssignment(ctx, key, data)
	})
}

func (d *Destination) ensureAssignment(ctx context.Context, key AssignmentKey, data TemplateData) (AssignmentRecord, error) {
	store, clock := d.opts.Assignments, d.opts.Clock
	// Another worker's fresh reservation is waited for as long as its POST
	// may take, then left to a later attempt (taken over once stale).
	giveUp := clock.Now().Add(d.opts.Timeout)
	poll := 100 * time.Millisecond
	for {
		rec, err := store.Get(ctx, key)
		switch {
		case errors.Is(err, ErrNoRecord):
			rec, err = d.createAssignment(ctx, key, data)
			if errors.Is(err, errLostRace) {
				continue
			}
			return rec, err
		case err != nil:
			return AssignmentRecord{}, &storeError{err}
		case rec.AssignmentID != "":
			return rec, nil
		}
		// Reserved by another worker.
		now := clock.Now()
		if now.Sub(rec.ReservedAt) > d.opts.ReservationTTL {
			d.log().Warn("taking over an assignment reservation that was never resolved (a worker died while creating the assignment)",
				"section", key.Section, "objective", key.Objective, "reserved_at", rec.ReservedAt)
			if err := store.Delete(ctx, rec); err != nil && !errors.Is(err, ErrRecordChanged) {
				return AssignmentRecord{}, &storeError{err}
			}
			continue
		}
		if now.After(giveUp) {
			return AssignmentRecord{}, errReservationHeld
		}
		if err := clock.Sleep(ctx, poll); err != nil {
			return AssignmentRecord{}, &TransportError{Message: "stopped while waiting for another worker's assignment: " + err.Error()}
		}
		poll = min(2*poll, 2*time.Second)
	}
}

// errLostRace: another worker reserved the key first.
var errLostRace = errors.New("reservation lost")

// createAssignment is steps 2–4 of the protocol.
func (d *Destination) createAssignment(ctx context.Context, key AssignmentKey, data TemplateData) (AssignmentRecord, error) {
	store, clock := d.opts.Assignments, d.opts.Clock
	if err := d.c.permit(ctx); err != nil {
		return AssignmentRecord{}, err
	}
	req, err := d.assignmentRequest(data) // after the wait: the due date counts from the POST
	if err != nil {
		return AssignmentRecord{}, err
	}
	mine := AssignmentRecord{Key: key, Reservation: newReservation(), ReservedAt: clock.Now()}
	if _, won, err := store.Reserve(ctx, mine); err != nil {
		return AssignmentRecord{}, &storeError{err}
	} else if !won {
		return AssignmentRecord{}, errLostRace
	}
	a, err := d.c.createAssignment(ctx, key.Section, req)
	if err != nil {
		if derr := store.Delete(context.WithoutCancel(ctx), mine); derr != nil && !errors.Is(derr, ErrRecordChanged) {
			d.log().Warn("could not release an assignment reservation; it is taken over after the reservation TTL", "error", derr)
		}
		return AssignmentRecord{}, err
	}
	now := clock.Now()
	if err := store.Resolve(context.WithoutCancel(ctx), key, mine.Reservation, a.ID, now); err != nil {
		// The id cannot be recorded as ours: remove the assignment so that
		// the one the store names (or the next attempt makes) is the only
		// one.
		if derr := d.c.deleteAssignment(context.WithoutCancel(ctx), key.Section, a.ID); derr != nil {
			d.log().Error("an assignment was created but could not be recorded nor deleted; it stays in the gradebook without grades",
				"section", key.Section, "objective", key.Objective, "assignment", a.ID, "error", derr)
		}
		if errors.Is(err, ErrRecordChanged) {
			return AssignmentRecord{}, errLostRace
		}
		_ = store.Delete(context.WithoutCancel(ctx), mine)
		return AssignmentRecord{}, &storeError{err}
	}
	mine.AssignmentID, mine.CreatedAt = a.ID, now
	return mine, nil
}

// assignmentRequest is the body that creates an objective's assignment.
func (d *Destination) assignmentRequest(data TemplateData) (AssignmentRequest, error) {
	title, err := render(d.cfg.Title, data)
	if err == nil && title == "" {
		err = errors.New("renders empty")
	}
	if err != nil {
		return AssignmentRequest{}, &configError{fmt.Sprintf("title_template: %v", err)}
	}
	desc, err := render(d.cfg.Description, data)
	if err == nil && desc == "" {
		err = errors.New("renders empty")
	}
	if err != nil {
		return AssignmentRequest{}, &configError{fmt.Sprintf("description: %v", err)}
	}
	points, attempts := d.cfg.PointsPossible, d.cfg.MaxAttempts
	return AssignmentRequest{
		Title: title, Description: desc,
		DueDate:         FormatTime(d.opts.Clock.Now().Add(d.cfg.DueDateOffset)),
		GradingType:     d.cfg.GradingType,
		PointsPossible:  &points,
		AssigneeMode:    "all",
		SubmissionTypes: d.cfg.SubmissionTypes,
		MaxAttempts:     &attempts,
	}, nil
}

// configError is a configuration that cannot make a request.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
