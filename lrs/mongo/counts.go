package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// Counters for the console's charts, kept as they happen, so that a chart
// reads a few dozen documents whatever the number of statements:
//
//	statement_counts _id "<org>\x00<YYYY-MM-DD>\x00<process>"                 {o, d, n, v}
//	forward_activity _id "<org>\x00<config>\x00<hour, 20 digits>\x00<process>" {o, c, h, a, dl, f, v}
//
// Each process adds to documents of its own (<process> is drawn at start),
// one $inc at a time per document (counter): so no two writers ever
// update one document at once, and no count is lost even on servers whose
// $inc is not atomic (FerretDB's is not). A range is read by _id and
// summed over the processes (a few documents per day or hour).

const (
	statementCountsCollection = "statement_counts"
	activityCollection        = "forward_activity"
	countsVersion             = 1
)

// countsProcess names this process's counter documents.
var countsProcess = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// counter is one counter document of this process: additions made while
// its $inc is in flight are added up and sent by the next one, so that
// there is at most one in flight and writers wait for none but their own.
type counter struct {
	mu      sync.Mutex
	pending []int64 // the additions not yet sent
	busy    bool    // an $inc is in flight
}

var counters sync.Map // database name + "\x00" + collection + "\x00" + _id -> *counter

// incCounter adds deltas to the counter document id of coll (creating it
// with set), or leaves them to the $inc in flight, which sends them next.
func incCounter(ctx context.Context, coll *mongo.Collection, id string, fields []string, deltas []int64, set bson.D) error {
	v, _ := counters.LoadOrStore(coll.Database().Name()+"\x00"+coll.Name()+"\x00"+id, &counter{})
	c := v.(*counter)
	c.mu.Lock()
	if c.pending == nil {
		c.pending = make([]int64, len(deltas))
	}
	for i, n := range deltas {
		c.pending[i] += n
	}
	if c.busy {
		c.mu.Unlock()
		return nil
	}
	c.busy = true
	for {
		send := c.pending
		c.pending = make([]int64, len(deltas))
		c.mu.Unlock()
		inc := make(bson.D, len(fields))
		for i, f := range fields {
			inc[i] = bson.E{Key: f, Value: send[i]}
		}
		_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$inc", Value: inc}, {Key: "$setOnInsert", Value: set}}, options.UpdateOne().SetUpsert(true))
		c.mu.Lock()
		if err != nil {
			for i, n := range send { // the next addition sends them again
				c.pending[i] += n
			}
			c.busy = false
			c.mu.Unlock()
			return err
		}
		if !slices.ContainsFunc(c.pending, func(n int64) bool { return n != 0 }) {
			c.busy = false
			c.mu.Unlock()
			return nil
		}
	}
}

func dayPrefix(org string, day time.Time) string { return fkey(org, day.Format("2006-01-02")) }

type dayCountDoc struct {
	Day   time.Time `bson:"d"`
	Count int64     `bson:"n"`
	V     int       `bson:"v"`
}

// AddStatementCount implements lrs.StatementCountStore.
func (d *DB) AddStatementCount(ctx context.Context, org string, t time.Time, n int) error {
	if n <= 0 {
		return nil
	}
	day := lrs.Day(t)
	err := incCounter(ctx, d.db.Collection(statementCountsCollection), fkey(dayPrefix(org, day), countsProcess),
		[]string{"n"}, []int64{int64(n)},
		bson.D{{Key: "o", Value: org}, {Key: "d", Value: day}, {Key: "v", Value: countsVersion}})
	if err != nil {
		return translate(fmt.Errorf("mongo: add statement count: %w", err))
	}
	return nil
}

// StatementCounts implements lrs.StatementCountStore.
func (d *DB) StatementCounts(ctx context.Context, org string, since, until time.Time) ([]lrs.DayCount, error) {
	filter := bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: dayPrefix(org, lrs.Day(since)) + "\x00"},
		{Key: "$lt", Value: dayPrefix(org, lrs.Day(until)) + "\x01"},
	}}}
	var docs []dayCountDoc
	if err := fwdFindAll(ctx, d.db.Collection(statementCountsCollection), filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: statement counts: %w", err))
	}
	out := make([]lrs.DayCount, 0, len(docs))
	for _, doc := range docs {
		if doc.V != countsVersion {
			return nil, fmt.Errorf("mongo: statement counts: record version %d: want %d", doc.V, countsVersion)
		}
		if n := len(out); n > 0 && out[n-1].Day.Equal(doc.Day.UTC()) {
			out[n-1].Count += int(doc.Count) // another process's count of the day
			continue
		}
		out = append(out, lrs.DayCount{Day: doc.Day.UTC(), Count: int(doc.Count)})
	}
	return out, nil
}

func hourPrefix(org, config string, hour time.Time) string {
	return fkey(org, config, fmt.Sprintf("%020d", hour.UnixMilli()-fwdMinMs))
}

type hourCountDoc struct {
	Hour      time.Time `bson:"h"`
	Attempts  int64     `bson:"a"`
	Delivered int64     `bson:"dl"`
	Failed    int64     `bson:"f"`
	V         int       `bson:"v"`
}

// countAttempt adds a to its hour's counts.
func (d *DB) countAttempt(ctx context.Context, a forward.Attempt) error {
	n := forward.CountAttempt(a)
	return incCounter(ctx, d.fcoll(activityCollection), fkey(hourPrefix(a.Org, a.ConfigurationID, n.Hour), countsProcess),
		[]string{"a", "dl", "f"}, []int64{int64(n.Attempts), int64(n.Delivered), int64(n.Failed)},
		bson.D{{Key: "o", Value: a.Org}, {Key: "c", Value: a.ConfigurationID}, {Key: "h", Value: n.Hour}, {Key: "v", Value: countsVersion}})
}

// countAttemptErr is countAttempt with AddAttempt's error.
func (d *DB) countAttemptErr(ctx context.Context, a forward.Attempt) error {
	if err := d.countAttempt(ctx, a); err != nil {
		return fwdErr("add attempt", err)
	}
	return nil
}

// AttemptCounts implements forward.AttemptLog.
func (d *DB) AttemptCounts(ctx context.Context, org, configID string, since, until time.Time) ([]forward.HourCount, error) {
	since, until = since.UTC().Truncate(time.Hour), until.UTC().Truncate(time.Hour)
	filter := bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: hourPrefix(org, configID, since) + "\x00"},
		{Key: "$lt", Value: hourPrefix(org, configID, until) + "\x01"},
	}}}
	var docs []hourCountDoc
	if err := fwdFindAll(ctx, d.fcoll(activityCollection), filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), &docs); err != nil {
		return nil, fwdErr("attempt counts", err)
	}
	out := make([]forward.HourCount, 0, len(docs))
	for _, doc := range docs {
		if doc.V != countsVersion {
			return nil, fmt.Errorf("mongo: attempt counts: record version %d: want %d", doc.V, countsVersion)
		}
		if n := len(out); n > 0 && out[n-1].Hour.Equal(doc.Hour.UTC()) {
			out[n-1].Attempts += int(doc.Attempts) // another process's count of the hour
			out[n-1].Delivered += int(doc.Delivered)
			out[n-1].Failed += int(doc.Failed)
			continue
		}
		out = append(out, forward.HourCount{Hour: doc.Hour.UTC(), Attempts: int(doc.Attempts), Delivered: int(doc.Delivered), Failed: int(doc.Failed)})
	}
	return out, nil
}
