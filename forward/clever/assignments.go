package clever

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// One assignment per (configuration, section, objective), ever.
//
// Clever's POST …/assignments is not idempotent and there is no endpoint
// that lists a section's assignments (sinks.md §1.4, §1.8): an assignment
// whose id is lost cannot be found again, and a second POST makes a second
// assignment in the teacher's gradebook. So the id is persisted before
// anything uses it, and creation is guarded by a reservation record that
// every process sees (forward.AssignmentStore, one record per key, kept
// by both storage engines):
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
func (d *Destination) assignment(ctx context.Context, key forward.AssignmentKey, data TemplateData) (forward.AssignmentRecord, error) {
	return d.assignments.do(ctx, d.opts.Clock, key.String(), func() (forward.AssignmentRecord, error) {
		return d.ensureAssignment(ctx, key, data)
	})
}

func (d *Destination) ensureAssignment(ctx context.Context, key forward.AssignmentKey, data TemplateData) (forward.AssignmentRecord, error) {
	store, clock := d.opts.Assignments, d.opts.Clock
	// Another worker's fresh reservation is waited for as long as its POST
	// may take, then left to a later attempt (taken over once stale).
	giveUp := clock.Now().Add(d.opts.Timeout)
	poll := 100 * time.Millisecond
	for {
		rec, err := store.GetAssignment(ctx, key)
		switch {
		case errors.Is(err, forward.ErrNoAssignment):
			rec, err = d.createAssignment(ctx, key, data)
			if errors.Is(err, errLostRace) {
				continue
			}
			return rec, err
		case err != nil:
			return forward.AssignmentRecord{}, &storeError{err}
		case rec.AssignmentID != "":
			return rec, nil
		}
		// Reserved by another worker.
		now := clock.Now()
		if now.Sub(rec.ReservedAt) > d.opts.ReservationTTL {
			d.log().Warn("taking over an assignment reservation that was never resolved (a worker died while creating the assignment)",
				"section", key.Section, "objective", key.Objective, "reserved_at", rec.ReservedAt)
			if err := store.ReleaseAssignment(ctx, rec); err != nil && !errors.Is(err, forward.ErrAssignmentChanged) {
				return forward.AssignmentRecord{}, &storeError{err}
			}
			continue
		}
		if now.After(giveUp) {
			return forward.AssignmentRecord{}, errReservationHeld
		}
		if err := clock.Sleep(ctx, poll); err != nil {
			return forward.AssignmentRecord{}, &TransportError{Message: "stopped while waiting for another worker's assignment: " + err.Error()}
		}
		poll = min(2*poll, 2*time.Second)
	}
}

// errLostRace: another worker reserved the key first.
var errLostRace = errors.New("reservation lost")

// createAssignment is steps 2–4 of the protocol.
func (d *Destination) createAssignment(ctx context.Context, key forward.AssignmentKey, data TemplateData) (forward.AssignmentRecord, error) {
	store, clock := d.opts.Assignments, d.opts.Clock
	if err := d.c.permit(ctx); err != nil {
		return forward.AssignmentRecord{}, err
	}
	req, err := d.assignmentRequest(data) // after the wait: the due date counts from the POST
	if err != nil {
		return forward.AssignmentRecord{}, err
	}
	mine := forward.AssignmentRecord{Key: key, Reservation: newReservation(), ReservedAt: clock.Now()}
	if _, won, err := store.ReserveAssignment(ctx, mine); err != nil {
		return forward.AssignmentRecord{}, &storeError{err}
	} else if !won {
		return forward.AssignmentRecord{}, errLostRace
	}
	a, err := d.c.createAssignment(ctx, key.Section, req)
	if err != nil {
		if derr := store.ReleaseAssignment(context.WithoutCancel(ctx), mine); derr != nil && !errors.Is(derr, forward.ErrAssignmentChanged) {
			d.log().Warn("could not release an assignment reservation; it is taken over after the reservation TTL", "error", derr)
		}
		return forward.AssignmentRecord{}, err
	}
	now := clock.Now()
	if err := store.ResolveAssignment(context.WithoutCancel(ctx), key, mine.Reservation, a.ID, now); err != nil {
		// The id cannot be recorded as ours: remove the assignment so that
		// the one the store names (or the next attempt makes) is the only
		// one.
		if derr := d.c.deleteAssignment(context.WithoutCancel(ctx), key.Section, a.ID); derr != nil {
			d.log().Error("an assignment was created but could not be recorded nor deleted; it stays in the gradebook without grades",
				"section", key.Section, "objective", key.Objective, "assignment", a.ID, "error", derr)
		}
		if errors.Is(err, forward.ErrAssignmentChanged) {
			return forward.AssignmentRecord{}, errLostRace
		}
		_ = store.ReleaseAssignment(context.WithoutCancel(ctx), mine)
		return forward.AssignmentRecord{}, &storeError{err}
	}
	mine.AssignmentID, mine.CreatedAt = a.ID, now
	return mine, nil
}

// assignmentRequest is the body that creates an objective's assignment.
func (d *Destination) assignmentRequest(data TemplateData) (AssignmentRequest, error) {
	return d.cfg.assignmentRequest(data, d.opts.Clock.Now())
}

// assignmentRequest is the body that creates an objective's assignment at
// now (its due date counts from then).
func (c Config) assignmentRequest(data TemplateData, now time.Time) (AssignmentRequest, error) {
	title, err := render(c.Title, data)
	if err == nil && title == "" {
		err = errors.New("renders empty")
	}
	if err != nil {
		return AssignmentRequest{}, &configError{fmt.Sprintf("title_template: %v", err)}
	}
	desc, err := render(c.Description, data)
	if err == nil && desc == "" {
		err = errors.New("renders empty")
	}
	if err != nil {
		return AssignmentRequest{}, &configError{fmt.Sprintf("description: %v", err)}
	}
	points, attempts := c.PointsPossible, c.MaxAttempts
	return AssignmentRequest{
		Title: title, Description: desc,
		DueDate:         FormatTime(now.Add(c.DueDateOffset)),
		GradingType:     c.GradingType,
		PointsPossible:  &points,
		AssigneeMode:    "all",
		SubmissionTypes: c.SubmissionTypes,
		MaxAttempts:     &attempts,
	}, nil
}

// configError is a configuration that cannot make a request.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
