package pebbledb

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
)

// The assignment records (forward.AssignmentStore):
//
//	fg/<org><config><section><objective> -> assignmentRecord (JSON)
//
// Each operation is a read and a write of one key under the key's stripe
// lock (only this process has the store open), synced before it returns:
// a record resolved before a kill -9 is there after it. For the same
// reason a reservation found at Open is a dead process's: Open releases
// it, so the restarted process creates the assignment at once instead of
// after the reservation's TTL.

func assignmentKey(k forward.AssignmentKey) []byte {
	return fwdKey("fg/", k.Org, k.Configuration, k.Section, k.Objective)
}

// assignmentRecord is the stored form of a key's record (the key holds
// the rest). "v" is the version of the shape (fwdRecordVersion).
type assignmentRecord struct {
	V            int       `json:"v"`
	Reservation  string    `json:"r"`
	ReservedAt   time.Time `json:"ra"`
	AssignmentID string    `json:"a,omitempty"`
	CreatedAt    time.Time `json:"ca,omitzero"`
}

func encodeAssignment(r forward.AssignmentRecord) ([]byte, error) {
	return json.Marshal(assignmentRecord{V: fwdRecordVersion, Reservation: r.Reservation,
		ReservedAt: normMs(r.ReservedAt), AssignmentID: r.AssignmentID, CreatedAt: normMs(r.CreatedAt)})
}

func decodeAssignment(key forward.AssignmentKey) func([]byte) (forward.AssignmentRecord, error) {
	return func(b []byte) (forward.AssignmentRecord, error) {
		var r assignmentRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return forward.AssignmentRecord{}, err
		}
		if err := checkVersion(r.V); err != nil {
			return forward.AssignmentRecord{}, err
		}
		return forward.AssignmentRecord{Key: key, Reservation: r.Reservation, ReservedAt: normMs(r.ReservedAt),
			AssignmentID: r.AssignmentID, CreatedAt: normMs(r.CreatedAt)}, nil
	}
}

// assignmentOp runs fn on the key's record (ok false: none) under the
// key's lock; fn returns the record to store (nil: leave it), whether to
// delete it, and the answer.
func (d *DB) assignmentOp(ctx context.Context, op string, key forward.AssignmentKey,
	fn func(cur forward.AssignmentRecord, ok bool) (put *forward.AssignmentRecord, del bool, err error)) error {
	if err := d.acquire(ctx, op); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	k := assignmentKey(key)
	defer d.lockIDs(string(k))()
	cur, ok, err := fwdGet(d, k, decodeAssignment(key))
	if err != nil {
		return fwdErr(op, err)
	}
	put, del, err := fn(cur, ok)
	if err != nil {
		return err
	}
	switch {
	case put != nil:
		v, err := encodeAssignment(*put)
		if err != nil {
			return fwdErr(op, err)
		}
		if err := d.db.Set(k, v, cpebble.Sync); err != nil {
			return fwdErr(op, err)
		}
	case del:
		if err := d.db.Delete(k, cpebble.Sync); err != nil {
			return fwdErr(op, err)
		}
	}
	return nil
}

// GetAssignment returns a key's record.
func (d *DB) GetAssignment(ctx context.Context, key forward.AssignmentKey) (forward.AssignmentRecord, error) {
	if err := d.acquire(ctx, "get assignment"); err != nil {
		return forward.AssignmentRecord{}, err
	}
	defer d.mu.RUnlock()
	r, ok, err := fwdGet(d, assignmentKey(key), decodeAssignment(key))
	if err != nil {
		return forward.AssignmentRecord{}, fwdErr("get assignment", err)
	}
	if !ok {
		return forward.AssignmentRecord{}, forward.ErrNoAssignment
	}
	return r, nil
}

// ReserveAssignment stores rec unless the key has a record.
func (d *DB) ReserveAssignment(ctx context.Context, rec forward.AssignmentRecord) (forward.AssignmentRecord, bool, error) {
	var got forward.AssignmentRecord
	var won bool
	err := d.assignmentOp(ctx, "reserve assignment", rec.Key, func(cur forward.AssignmentRecord, ok bool) (*forward.AssignmentRecord, bool, error) {
		if ok {
			got = cur
			return nil, false, nil
		}
		rec.AssignmentID, rec.CreatedAt = "", time.Time{}
		rec.ReservedAt = normMs(rec.ReservedAt)
		got, won = rec, true
		return &rec, false, nil
	})
	if err != nil {
		return forward.AssignmentRecord{}, false, err
	}
	return got, won, nil
}

// ResolveAssignment records the assignment id of one's own reservation.
func (d *DB) ResolveAssignment(ctx context.Context, key forward.AssignmentKey, reservation, assignmentID string, at time.Time) error {
	return d.assignmentOp(ctx, "resolve assignment", key, func(cur forward.AssignmentRecord, ok bool) (*forward.AssignmentRecord, bool, error) {
		if !ok || cur.Reservation != reservation || cur.AssignmentID != "" {
			return nil, false, forward.ErrAssignmentChanged
		}
		cur.AssignmentID, cur.CreatedAt = assignmentID, normMs(at)
		return &cur, false, nil
	})
}

// ReleaseAssignment removes a key's record if it is still rec's.
func (d *DB) ReleaseAssignment(ctx context.Context, rec forward.AssignmentRecord) error {
	return d.assignmentOp(ctx, "release assignment", rec.Key, func(cur forward.AssignmentRecord, ok bool) (*forward.AssignmentRecord, bool, error) {
		if !ok {
			return nil, false, nil
		}
		if cur.Reservation != rec.Reservation || cur.AssignmentID != rec.AssignmentID {
			return nil, false, forward.ErrAssignmentChanged
		}
		return nil, true, nil
	})
}

// DeleteAssignments removes a configuration's records, each under its
// key's lock.
func (d *DB) DeleteAssignments(ctx context.Context, org, configID string) error {
	if err := d.acquire(ctx, "delete assignments"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	var keys [][]byte
	if err := d.fwdScan(fwdKey("fg/", org, configID), false, func(k, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(k))
		return true, nil
	}); err != nil {
		return fwdErr("delete assignments", err)
	}
	for _, k := range keys {
		unlock := d.lockIDs(string(k))
		err := d.db.Delete(k, cpebble.Sync)
		unlock()
		if err != nil {
			return fwdErr("delete assignments", err)
		}
	}
	return nil
}

// releaseReservations runs at Open: it deletes the unresolved reservations
// (their process died while it created the assignment). Whether Clever
// carried out that create is unknown; if it did, that assignment stays
// without grades (the window forward/clever's assignments.go describes).
func (d *DB) releaseReservations(logger *slog.Logger) error {
	p := []byte("fg/")
	var dead [][]byte
	if err := d.fwdScan(p, false, func(k, v []byte) (bool, error) {
		var r assignmentRecord
		if err := json.Unmarshal(v, &r); err != nil {
			logger.Warn("pebble: an assignment record does not read; left as it is", "error", err)
			return true, nil
		}
		if r.V <= fwdRecordVersion && r.AssignmentID == "" {
			dead = append(dead, bytes.Clone(k))
		}
		return true, nil
	}); err != nil {
		return fwdErr("release assignment reservations", err)
	}
	if len(dead) == 0 {
		return nil
	}
	b := d.db.NewBatch()
	defer b.Close()
	for _, k := range dead {
		if err := b.Delete(k, nil); err != nil {
			return fwdErr("release assignment reservations", err)
		}
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fwdErr("release assignment reservations", err)
	}
	logger.Warn("pebble: released the assignment reservations of a process that stopped while creating them; "+
		"an assignment Clever created meanwhile stays in the gradebook without grades", "reservations", len(dead))
	return nil
}
