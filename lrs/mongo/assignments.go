package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
)

// The assignment records (forward.AssignmentStore):
//
//	forward_assignments _id "<org>\x00<config>\x00<section>\x00<objective>\x00<generation, 10 digits>"
//
// A key's record is its latest generation. Every change (reserve, resolve,
// release) inserts the next generation, which only one caller can win; no
// document is ever updated, and none is deleted but with its
// configuration. So the record's changes are serialized by the unique _id
// alone, without transactions, also on servers that run a conditional
// update as a read and then a write by _id (FerretDB: see the leases in
// forward.go): of a resolve and a takeover racing on generation g, one
// inserts g+1 and the other gets a duplicate key, which means "the record
// changed". A stale caller can never insert an old generation again,
// because a generation is deleted only once it is neither of the latest
// two and was written more than asgKeep ago (the writer of each change
// deletes them): a caller would have to stall that long between reading
// the latest generation and inserting the next for the insert to land
// on a deleted number, and a store operation is bounded by its timeout,
// seconds. So a key keeps its latest two documents and those of the last
// asgKeep, even when a failing destination makes a reservation and
// releases it at every probe.
const assignmentsCollection = "forward_assignments"

// asgKeep is how long a superseded generation is kept.
const asgKeep = time.Hour

// Assignment states of a generation.
const (
	asgReserved = "reserved"
	asgResolved = "resolved"
	asgReleased = "released" // the key has no record
)

type assignmentDoc struct {
	Key          string    `bson:"_id"`
	V            int       `bson:"v"`
	Gen          int64     `bson:"g"`
	State        string    `bson:"st"`
	Reservation  string    `bson:"r"`
	ReservedAt   time.Time `bson:"ra"`
	AssignmentID string    `bson:"a,omitempty"`
	CreatedAt    time.Time `bson:"ca,omitempty"`
	Written      time.Time `bson:"w"` // when this generation was inserted
}

func (x assignmentDoc) record(key forward.AssignmentKey) forward.AssignmentRecord {
	return forward.AssignmentRecord{Key: key, Reservation: x.Reservation, ReservedAt: fwdTime(x.ReservedAt),
		AssignmentID: x.AssignmentID, CreatedAt: fwdTime(x.CreatedAt)}
}

const asgMaxGen = 9_999_999_999

func assignmentBase(k forward.AssignmentKey) string {
	return fkey(k.Org, k.Configuration, k.Section, k.Objective) + "\x00"
}

func assignmentID(k forward.AssignmentKey, gen int64) string {
	return fmt.Sprintf("%s%010d", assignmentBase(k), gen)
}

// latestAssignment returns the key's latest generation; ok is false when
// it has none.
func (d *DB) latestAssignment(ctx context.Context, key forward.AssignmentKey) (doc assignmentDoc, ok bool, err error) {
	err = d.fcoll(assignmentsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: assignmentID(key, 0)}, {Key: "$lte", Value: assignmentID(key, asgMaxGen)},
	}}}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return doc, false, nil
	}
	if err != nil {
		return doc, false, err
	}
	return doc, true, checkDocVersion(doc.V)
}

// insertNext inserts doc as the generation after cur (the first when
// !ok); won is false when another caller inserted it first.
func (d *DB) insertNext(ctx context.Context, key forward.AssignmentKey, cur assignmentDoc, ok bool, doc assignmentDoc) (bool, error) {
	doc.Gen = 0
	if ok {
		doc.Gen = cur.Gen + 1
	}
	if doc.Gen > asgMaxGen {
		return false, errors.New("the assignment record changed too many times")
	}
	doc.Key, doc.V = assignmentID(key, doc.Gen), fwdDocVersion
	doc.ReservedAt, doc.CreatedAt, doc.Written = fwdMs(doc.ReservedAt), fwdMs(doc.CreatedAt), fwdMs(time.Now())
	coll := d.fcoll(assignmentsCollection)
	_, err := coll.InsertOne(ctx, doc)
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if doc.Gen >= 2 {
		if _, err := coll.DeleteMany(ctx, bson.D{
			{Key: "_id", Value: bson.D{{Key: "$gte", Value: assignmentID(key, 0)}, {Key: "$lt", Value: assignmentID(key, doc.Gen-1)}}},
			{Key: "w", Value: bson.D{{Key: "$lt", Value: doc.Written.Add(-asgKeep)}}},
		}); err != nil {
			d.logger.Warn("mongo: drop superseded assignment records", "error", err)
		}
	}
	return true, nil
}

// GetAssignment returns a key's record: its latest generation, unless
// released.
func (d *DB) GetAssignment(ctx context.Context, key forward.AssignmentKey) (forward.AssignmentRecord, error) {
	cur, ok, err := d.latestAssignment(ctx, key)
	if err != nil {
		return forward.AssignmentRecord{}, fwdErr("get assignment", err)
	}
	if !ok || cur.State == asgReleased {
		return forward.AssignmentRecord{}, forward.ErrNoAssignment
	}
	return cur.record(key), nil
}

// ReserveAssignment inserts a reserved generation after a released one
// (or as the first).
func (d *DB) ReserveAssignment(ctx context.Context, rec forward.AssignmentRecord) (forward.AssignmentRecord, bool, error) {
	for {
		cur, ok, err := d.latestAssignment(ctx, rec.Key)
		if err != nil {
			return forward.AssignmentRecord{}, false, fwdErr("reserve assignment", err)
		}
		if ok && cur.State != asgReleased {
			return cur.record(rec.Key), false, nil
		}
		doc := assignmentDoc{State: asgReserved, Reservation: rec.Reservation, ReservedAt: rec.ReservedAt}
		won, err := d.insertNext(ctx, rec.Key, cur, ok, doc)
		if err != nil {
			return forward.AssignmentRecord{}, false, fwdErr("reserve assignment", err)
		}
		if won {
			doc.ReservedAt = fwdMs(rec.ReservedAt)
			return doc.record(rec.Key), true, nil
		}
		// Another caller changed the record first: read it again (a
		// reservation there is the answer; a release frees the key).
	}
}

// ResolveAssignment inserts the resolved generation after one's own
// reservation.
func (d *DB) ResolveAssignment(ctx context.Context, key forward.AssignmentKey, reservation, assignmentID string, at time.Time) error {
	cur, ok, err := d.latestAssignment(ctx, key)
	if err != nil {
		return fwdErr("resolve assignment", err)
	}
	if !ok || cur.State != asgReserved || cur.Reservation != reservation {
		return forward.ErrAssignmentChanged
	}
	won, err := d.insertNext(ctx, key, cur, ok, assignmentDoc{State: asgResolved, Reservation: reservation,
		ReservedAt: cur.ReservedAt, AssignmentID: assignmentID, CreatedAt: at})
	if err != nil {
		return fwdErr("resolve assignment", err)
	}
	if !won {
		return forward.ErrAssignmentChanged // released (taken over) first
	}
	return nil
}

// ReleaseAssignment inserts a released generation after rec's.
func (d *DB) ReleaseAssignment(ctx context.Context, rec forward.AssignmentRecord) error {
	for {
		cur, ok, err := d.latestAssignment(ctx, rec.Key)
		if err != nil {
			return fwdErr("release assignment", err)
		}
		if !ok || cur.State == asgReleased {
			return nil
		}
		if cur.Reservation != rec.Reservation || cur.AssignmentID != rec.AssignmentID {
			return forward.ErrAssignmentChanged
		}
		won, err := d.insertNext(ctx, rec.Key, cur, ok, assignmentDoc{State: asgReleased})
		if err != nil {
			return fwdErr("release assignment", err)
		}
		if won {
			return nil
		}
		// Changed meanwhile: released by another (nil), or resolved
		// (changed). Read it again.
	}
}

// DeleteAssignments removes every generation of a configuration's keys.
func (d *DB) DeleteAssignments(ctx context.Context, org, configID string) error {
	p := fkey(org, configID) + "\x00"
	if _, err := d.fcoll(assignmentsCollection).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: p}, {Key: "$lt", Value: fkey(org, configID) + "\x01"},
	}}}); err != nil {
		return fwdErr("delete assignments", err)
	}
	return nil
}
