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

// The backfill jobs (forward.BackfillStore):
//
//	forward_backfills     _id "<org>\x00<config>\x00<objective>"   index {st, _id}
//	forward_backfill_gens _id "<job _id>\x00<generation, 20 digits>"
//
// A job is one document, written as a delivery is (forward.go's leases):
// a conditional update is not a safe compare-and-swap on every compatible
// server (FerretDB runs it as a read, then a write by _id), so every write
// of a job read at generation g first inserts the generation g+1 into
// forward_backfill_gens, which only one caller can win, and only the
// winner replaces the job (from g to g+1). So a lease, a progress update
// and a restart of the same job are serialized without transactions. A
// generation whose winner died before writing the job is skipped once its
// until has passed; generation documents older than the previous one are
// deleted.
const (
	backfillsCollection    = "forward_backfills"
	backfillGensCollection = "forward_backfill_gens"
)

// backfillGenHold is how long a won generation may stay unwritten before
// another writer skips it (a write takes milliseconds; its store
// operations are bounded by their timeouts).
const backfillGenHold = 30 * time.Second

type backfillDoc struct {
	Key        string    `bson:"_id"`
	V          int       `bson:"v"`
	Gen        int64     `bson:"g"`
	Org        string    `bson:"o"`
	Config     string    `bson:"c"`
	Objective  string    `bson:"ob"`
	ID         string    `bson:"id"`
	Kind       string    `bson:"k"`
	State      string    `bson:"st"`
	Until      time.Time `bson:"u,omitempty"`
	Counted    bool      `bson:"n"`
	Cursor     string    `bson:"cu,omitempty"`
	Done       int       `bson:"d"`
	Total      int       `bson:"t"`
	Error      string    `bson:"e,omitempty"`
	StartedAt  time.Time `bson:"sa,omitempty"`
	FinishedAt time.Time `bson:"fa,omitempty"`
	UpdatedAt  time.Time `bson:"ua,omitempty"`
	LeaseOwner string    `bson:"lo,omitempty"`
	LeaseUntil time.Time `bson:"lu,omitempty"`
}

func backfillDocID(org, config, objective string) string { return fkey(org, config, objective) }

func toBackfillDoc(j forward.BackfillJob) backfillDoc {
	return backfillDoc{Key: backfillDocID(j.Org, j.ConfigurationID, j.ObjectiveID), V: fwdDocVersion,
		Org: j.Org, Config: j.ConfigurationID, Objective: j.ObjectiveID, ID: j.ID, Kind: j.Kind, State: j.State,
		Until: fwdMs(j.Until), Counted: j.Counted, Cursor: j.Cursor, Done: j.Done, Total: j.Total, Error: j.Error,
		StartedAt: fwdMs(j.StartedAt), FinishedAt: fwdMs(j.FinishedAt), UpdatedAt: fwdMs(j.UpdatedAt),
		LeaseOwner: j.LeaseOwner, LeaseUntil: fwdMs(j.LeaseUntil)}
}

func (x backfillDoc) job() forward.BackfillJob {
	return forward.BackfillJob{Org: x.Org, ConfigurationID: x.Config, ObjectiveID: x.Objective, ID: x.ID, Kind: x.Kind,
		State: x.State, Until: fwdTime(x.Until), Counted: x.Counted, Cursor: x.Cursor, Done: x.Done, Total: x.Total,
		Error: x.Error, StartedAt: fwdTime(x.StartedAt), FinishedAt: fwdTime(x.FinishedAt), UpdatedAt: fwdTime(x.UpdatedAt),
		LeaseOwner: x.LeaseOwner, LeaseUntil: fwdTime(x.LeaseUntil)}
}

func backfillGenKey(job string, gen int64) string { return fmt.Sprintf("%s\x00%020d", job, gen) }

// readBackfill returns the key's job document; ok is false when there is
// none.
func (d *DB) readBackfill(ctx context.Context, id string) (doc backfillDoc, ok bool, err error) {
	err = d.fcoll(backfillsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return doc, false, nil
	}
	if err != nil {
		return doc, false, err
	}
	return doc, true, checkDocVersion(doc.V)
}

// writeBackfill replaces the job cur (read at generation cur.Gen; ok
// false: there was none) with next. errGenTaken: another writer changed
// the job first.
func (d *DB) writeBackfill(ctx context.Context, cur backfillDoc, ok bool, next backfillDoc) error {
	jobs := d.fcoll(backfillsCollection)
	next.V = fwdDocVersion
	if !ok {
		next.Gen = 0
		_, err := jobs.InsertOne(ctx, next)
		if mongo.IsDuplicateKeyError(err) {
			return errGenTaken
		}
		return err
	}
	gens := d.fcoll(backfillGensCollection)
	now := time.Now()
	gen := cur.Gen + 1
	for {
		_, err := gens.InsertOne(ctx, fwdLeaseDoc{Key: backfillGenKey(cur.Key, gen), Until: fwdMs(now.Add(backfillGenHold))})
		if err == nil {
			break
		}
		if !mongo.IsDuplicateKeyError(err) {
			return err
		}
		// Taken: by a live writer (the job moves on), or by one that died
		// before writing it (its hold ran out).
		var held fwdLeaseDoc
		if err := gens.FindOne(ctx, bson.D{{Key: "_id", Value: backfillGenKey(cur.Key, gen)}}).Decode(&held); err != nil {
			if errors.Is(err, mongo.ErrNoDocuments) {
				return errGenTaken
			}
			return err
		}
		if !held.Until.Before(now) {
			return errGenTaken
		}
		latest, found, err := d.readBackfill(ctx, cur.Key)
		if err != nil {
			return err
		}
		if !found || latest.Gen != cur.Gen || gen >= cur.Gen+3 {
			return errGenTaken
		}
		gen++
	}
	next.Gen = gen
	res, err := jobs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: cur.Key}, {Key: "g", Value: cur.Gen}}, next)
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return errGenTaken
	}
	if gen >= 2 {
		if _, err := gens.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{
			{Key: "$gte", Value: cur.Key + "\x00"}, {Key: "$lt", Value: backfillGenKey(cur.Key, gen-1)},
		}}}); err != nil {
			d.logger.Warn("mongo: drop old backfill generations", "error", err)
		}
	}
	return nil
}

// StartBackfill stores j, lease free, replacing the key's job.
func (d *DB) StartBackfill(ctx context.Context, j forward.BackfillJob) error {
	next := toBackfillDoc(j)
	next.LeaseOwner, next.LeaseUntil = "", time.Time{}
	for attempt := 0; ; attempt++ {
		cur, ok, err := d.readBackfill(ctx, next.Key)
		if err != nil && !errors.Is(err, errDocVersion) {
			return fwdErr("start backfill", err)
		}
		err = d.writeBackfill(ctx, cur, ok, next)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errGenTaken) || attempt >= 5 {
			return fwdErr("start backfill", err)
		}
	}
}

// GetBackfill returns the key's job.
func (d *DB) GetBackfill(ctx context.Context, org, configID, objectiveID string) (forward.BackfillJob, error) {
	doc, ok, err := d.readBackfill(ctx, backfillDocID(org, configID, objectiveID))
	if err != nil {
		return forward.BackfillJob{}, fwdErr("get backfill", err)
	}
	if !ok {
		return forward.BackfillJob{}, forward.ErrNotFound
	}
	return doc.job(), nil
}

func (d *DB) findBackfills(ctx context.Context, op string, filter bson.D, limit int) ([]forward.BackfillJob, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit >= 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := d.fcoll(backfillsCollection).Find(ctx, filter, opts)
	if err != nil {
		return nil, fwdErr(op, err)
	}
	var docs []backfillDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fwdErr(op, err)
	}
	out := make([]forward.BackfillJob, 0, len(docs))
	for _, x := range docs {
		if err := checkDocVersion(x.V); err != nil {
			return nil, fwdErr(op, err)
		}
		out = append(out, x.job())
	}
	return out, nil
}

// ListBackfills returns the configuration's jobs in _id order.
func (d *DB) ListBackfills(ctx context.Context, org, configID string) ([]forward.BackfillJob, error) {
	return d.findBackfills(ctx, "list backfills", bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: fkey(org, configID) + "\x00"}, {Key: "$lt", Value: fkey(org, configID) + "\x01"},
	}}}, -1)
}

// RunningBackfills returns running jobs in _id order (index state_id).
func (d *DB) RunningBackfills(ctx context.Context, limit int) ([]forward.BackfillJob, error) {
	if limit == 0 {
		return []forward.BackfillJob{}, nil
	}
	return d.findBackfills(ctx, "running backfills", bson.D{{Key: "st", Value: forward.BackfillRunning}}, limit)
}

// LeaseBackfill leases the running run id of the key to owner.
func (d *DB) LeaseBackfill(ctx context.Context, org, configID, objectiveID, id, owner string, now, until time.Time) (forward.BackfillJob, error) {
	cur, ok, err := d.readBackfill(ctx, backfillDocID(org, configID, objectiveID))
	if err != nil {
		return forward.BackfillJob{}, fwdErr("lease backfill", err)
	}
	if !ok {
		return forward.BackfillJob{}, forward.ErrNotFound
	}
	if cur.ID != id || cur.State != forward.BackfillRunning || (cur.LeaseOwner != "" && cur.LeaseOwner != owner && cur.LeaseUntil.After(now)) {
		return forward.BackfillJob{}, forward.ErrLeaseLost
	}
	next := cur
	next.LeaseOwner, next.LeaseUntil = owner, fwdMs(until)
	if err := d.writeBackfill(ctx, cur, true, next); errors.Is(err, errGenTaken) {
		return forward.BackfillJob{}, forward.ErrLeaseLost
	} else if err != nil {
		return forward.BackfillJob{}, fwdErr("lease backfill", err)
	}
	return next.job(), nil
}

// UpdateBackfill stores j's progress and lease if owner holds run j.ID.
func (d *DB) UpdateBackfill(ctx context.Context, j forward.BackfillJob, owner string) error {
	cur, ok, err := d.readBackfill(ctx, backfillDocID(j.Org, j.ConfigurationID, j.ObjectiveID))
	if err != nil {
		return fwdErr("update backfill", err)
	}
	if !ok {
		return forward.ErrNotFound
	}
	if cur.ID != j.ID || owner == "" || cur.LeaseOwner != owner {
		return forward.ErrLeaseLost
	}
	next := cur
	next.State, next.Counted, next.Cursor, next.Done, next.Total, next.Error = j.State, j.Counted, j.Cursor, j.Done, j.Total, j.Error
	next.FinishedAt, next.UpdatedAt, next.LeaseOwner, next.LeaseUntil = fwdMs(j.FinishedAt), fwdMs(j.UpdatedAt), j.LeaseOwner, fwdMs(j.LeaseUntil)
	if err := d.writeBackfill(ctx, cur, true, next); errors.Is(err, errGenTaken) {
		return forward.ErrLeaseLost
	} else if err != nil {
		return fwdErr("update backfill", err)
	}
	return nil
}

// RestartBackfill replaces the failed run failedID of j's key by j: a
// write from the generation it was read at, so that of concurrent
// restarts (or a restart and a start) one wins; a loser reads the job
// again, and finds it another run.
func (d *DB) RestartBackfill(ctx context.Context, j forward.BackfillJob, failedID string) error {
	next := toBackfillDoc(j)
	next.LeaseOwner, next.LeaseUntil = "", time.Time{}
	for attempt := 0; ; attempt++ {
		cur, ok, err := d.readBackfill(ctx, next.Key)
		if err != nil {
			return fwdErr("restart backfill", err)
		}
		if !ok {
			return forward.ErrNotFound
		}
		if cur.ID != failedID || cur.State != forward.BackfillFailed {
			return forward.ErrBackfillNotFailed
		}
		err = d.writeBackfill(ctx, cur, true, next)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errGenTaken) || attempt >= 5 {
			return fwdErr("restart backfill", err)
		}
	}
}

// DeleteBackfills removes the configuration's jobs and their generations.
func (d *DB) DeleteBackfills(ctx context.Context, org, configID string) error {
	r := bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: fkey(org, configID) + "\x00"}, {Key: "$lt", Value: fkey(org, configID) + "\x01"},
	}}}
	if _, err := d.fcoll(backfillsCollection).DeleteMany(ctx, r); err != nil {
		return fwdErr("delete backfills", err)
	}
	if _, err := d.fcoll(backfillGensCollection).DeleteMany(ctx, r); err != nil {
		return fwdErr("delete backfills", err)
	}
	return nil
}
