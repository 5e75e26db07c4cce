package pebbledb

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
)

// The backfill jobs (forward.BackfillStore):
//
//	fb/<org><config><objective> -> backfillRecord (JSON)
//
// Each write is a read and a write of one key under the key's stripe lock
// (only this process has the store open), synced before it returns: the
// cursor of a chunk written before a kill -9 is there after it. A lease
// found at Open is a dead process's; it expires as any other (its holder
// is gone, the restarted process takes it once LeaseUntil has passed).

func backfillKey(org, config, objective string) []byte {
	return fwdKey("fb/", org, config, objective)
}

// backfillRecord is the stored form of a job (the key holds its
// identity). "v" is the version of the shape (fwdRecordVersion).
type backfillRecord struct {
	V          int       `json:"v"`
	Org        string    `json:"o"`
	Config     string    `json:"c"`
	Objective  string    `json:"ob"`
	ID         string    `json:"id"`
	Kind       string    `json:"k"`
	State      string    `json:"s"`
	Until      time.Time `json:"u,omitzero"`
	Counted    bool      `json:"n,omitempty"`
	Cursor     string    `json:"cu,omitempty"`
	Done       int       `json:"d"`
	Total      int       `json:"t"`
	Error      string    `json:"e,omitempty"`
	StartedAt  time.Time `json:"sa,omitzero"`
	FinishedAt time.Time `json:"fa,omitzero"`
	UpdatedAt  time.Time `json:"ua,omitzero"`
	LeaseOwner string    `json:"lo,omitempty"`
	LeaseUntil time.Time `json:"lu,omitzero"`
}

func encodeBackfill(j forward.BackfillJob) ([]byte, error) {
	return json.Marshal(backfillRecord{V: fwdRecordVersion, Org: j.Org, Config: j.ConfigurationID, Objective: j.ObjectiveID,
		ID: j.ID, Kind: j.Kind, State: j.State, Until: normMs(j.Until), Counted: j.Counted, Cursor: j.Cursor,
		Done: j.Done, Total: j.Total, Error: j.Error, StartedAt: normMs(j.StartedAt), FinishedAt: normMs(j.FinishedAt),
		UpdatedAt: normMs(j.UpdatedAt), LeaseOwner: j.LeaseOwner, LeaseUntil: normMs(j.LeaseUntil)})
}

func decodeBackfill(b []byte) (forward.BackfillJob, error) {
	var r backfillRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return forward.BackfillJob{}, err
	}
	if err := checkVersion(r.V); err != nil {
		return forward.BackfillJob{}, err
	}
	return forward.BackfillJob{Org: r.Org, ConfigurationID: r.Config, ObjectiveID: r.Objective, ID: r.ID, Kind: r.Kind,
		State: r.State, Until: normMs(r.Until), Counted: r.Counted, Cursor: r.Cursor, Done: r.Done, Total: r.Total,
		Error: r.Error, StartedAt: normMs(r.StartedAt), FinishedAt: normMs(r.FinishedAt), UpdatedAt: normMs(r.UpdatedAt),
		LeaseOwner: r.LeaseOwner, LeaseUntil: normMs(r.LeaseUntil)}, nil
}

// backfillOp runs fn on the key's job (ok false: none) under the key's
// lock; fn returns the job to store (nil: leave it) or an error.
func (d *DB) backfillOp(ctx context.Context, op, org, config, objective string,
	fn func(cur forward.BackfillJob, ok bool) (*forward.BackfillJob, error)) error {
	if err := d.acquire(ctx, op); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	k := backfillKey(org, config, objective)
	defer d.lockIDs(string(k))()
	cur, ok, err := fwdGet(d, k, decodeBackfill)
	if err != nil {
		return fwdErr(op, err)
	}
	put, err := fn(cur, ok)
	if err != nil || put == nil {
		return err
	}
	v, err := encodeBackfill(*put)
	if err != nil {
		return fwdErr(op, err)
	}
	if err := d.db.Set(k, v, cpebble.Sync); err != nil {
		return fwdErr(op, err)
	}
	return nil
}

// StartBackfill stores j, lease free, replacing the key's job.
func (d *DB) StartBackfill(ctx context.Context, j forward.BackfillJob) error {
	return d.backfillOp(ctx, "start backfill", j.Org, j.ConfigurationID, j.ObjectiveID, func(forward.BackfillJob, bool) (*forward.BackfillJob, error) {
		j.LeaseOwner, j.LeaseUntil = "", time.Time{}
		return &j, nil
	})
}

// GetBackfill returns the key's job.
func (d *DB) GetBackfill(ctx context.Context, org, configID, objectiveID string) (forward.BackfillJob, error) {
	if err := d.acquire(ctx, "get backfill"); err != nil {
		return forward.BackfillJob{}, err
	}
	defer d.mu.RUnlock()
	j, ok, err := fwdGet(d, backfillKey(org, configID, objectiveID), decodeBackfill)
	if err != nil {
		return forward.BackfillJob{}, fwdErr("get backfill", err)
	}
	if !ok {
		return forward.BackfillJob{}, forward.ErrNotFound
	}
	return j, nil
}

func (d *DB) scanBackfills(op string, prefix []byte, keep func(forward.BackfillJob) bool, limit int) ([]forward.BackfillJob, error) {
	out := []forward.BackfillJob{}
	err := d.fwdScan(prefix, false, func(_, v []byte) (bool, error) {
		j, err := decodeBackfill(v)
		if err != nil {
			return false, err
		}
		if keep(j) {
			out = append(out, j)
		}
		return limit < 0 || len(out) < limit, nil
	})
	if err != nil {
		return nil, fwdErr(op, err)
	}
	return out, nil
}

// ListBackfills returns the configuration's jobs in key order.
func (d *DB) ListBackfills(ctx context.Context, org, configID string) ([]forward.BackfillJob, error) {
	if err := d.acquire(ctx, "list backfills"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	return d.scanBackfills("list backfills", fwdKey("fb/", org, configID), func(forward.BackfillJob) bool { return true }, -1)
}

// RunningBackfills scans every job (there is one per attach with a
// backfill, not per statement) for the running ones.
func (d *DB) RunningBackfills(ctx context.Context, limit int) ([]forward.BackfillJob, error) {
	if err := d.acquire(ctx, "running backfills"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	if limit == 0 {
		return []forward.BackfillJob{}, nil
	}
	return d.scanBackfills("running backfills", []byte("fb/"), func(j forward.BackfillJob) bool { return j.State == forward.BackfillRunning }, limit)
}

// LeaseBackfill leases the running run id of the key to owner.
func (d *DB) LeaseBackfill(ctx context.Context, org, configID, objectiveID, id, owner string, now, until time.Time) (forward.BackfillJob, error) {
	var got forward.BackfillJob
	err := d.backfillOp(ctx, "lease backfill", org, configID, objectiveID, func(cur forward.BackfillJob, ok bool) (*forward.BackfillJob, error) {
		if !ok {
			return nil, forward.ErrNotFound
		}
		if cur.ID != id || cur.State != forward.BackfillRunning || (cur.LeaseOwner != "" && cur.LeaseOwner != owner && cur.LeaseUntil.After(now)) {
			return nil, forward.ErrLeaseLost
		}
		cur.LeaseOwner, cur.LeaseUntil = owner, normMs(until)
		got = cur
		return &cur, nil
	})
	return got, err
}

// UpdateBackfill stores j's progress and lease if owner holds run j.ID.
func (d *DB) UpdateBackfill(ctx context.Context, j forward.BackfillJob, owner string) error {
	return d.backfillOp(ctx, "update backfill", j.Org, j.ConfigurationID, j.ObjectiveID, func(cur forward.BackfillJob, ok bool) (*forward.BackfillJob, error) {
		if !ok {
			return nil, forward.ErrNotFound
		}
		if cur.ID != j.ID || owner == "" || cur.LeaseOwner != owner {
			return nil, forward.ErrLeaseLost
		}
		cur.State, cur.Counted, cur.Cursor, cur.Done, cur.Total, cur.Error = j.State, j.Counted, j.Cursor, j.Done, j.Total, j.Error
		cur.FinishedAt, cur.UpdatedAt, cur.LeaseOwner, cur.LeaseUntil = j.FinishedAt, j.UpdatedAt, j.LeaseOwner, j.LeaseUntil
		return &cur, nil
	})
}

// RestartBackfill replaces the failed run failedID of j's key by j, under
// the key's lock.
func (d *DB) RestartBackfill(ctx context.Context, j forward.BackfillJob, failedID string) error {
	return d.backfillOp(ctx, "restart backfill", j.Org, j.ConfigurationID, j.ObjectiveID, func(cur forward.BackfillJob, ok bool) (*forward.BackfillJob, error) {
		if !ok {
			return nil, forward.ErrNotFound
		}
		if cur.ID != failedID || cur.State != forward.BackfillFailed {
			return nil, forward.ErrBackfillNotFailed
		}
		j.LeaseOwner, j.LeaseUntil = "", time.Time{}
		return &j, nil
	})
}

// DeleteBackfills removes the configuration's jobs, each under its key's
// lock.
func (d *DB) DeleteBackfills(ctx context.Context, org, configID string) error {
	if err := d.acquire(ctx, "delete backfills"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	var keys [][]byte
	if err := d.fwdScan(fwdKey("fb/", org, configID), false, func(k, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(k))
		return true, nil
	}); err != nil {
		return fwdErr("delete backfills", err)
	}
	for _, k := range keys {
		unlock := d.lockIDs(string(k))
		err := d.db.Delete(k, cpebble.Sync)
		unlock()
		if err != nil {
			return fwdErr("delete backfills", err)
		}
	}
	return nil
}
