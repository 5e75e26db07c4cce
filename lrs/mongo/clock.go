package mongo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/lrs"
)

// Clock keeps X-Experience-API-Consistent-Through honest across every lrs
// process sharing the database, without transactions.
//
// A write first records an intent {at: stored} in the writes collection,
// then writes its statements with that stored time, then deletes the
// intent. ConsistentThrough reads the oldest intent and answers
//
//	min(now - 2·skew, oldest intent) - 1ms
//
// where skew bounds the difference between any two processes' clocks. A
// write whose intent was not yet visible to that read takes its stored time
// at or after the reader's now - skew; and a writer abandons (and retries
// with a fresh time) any intent that took longer than skew to record, so
// no statement can later appear at or before a Consistent-Through already
// reported. Intents older than the lease (a crashed process's) are
// ignored: every write is bounded by the operation timeout, far below it.
//
// An answer stays true once given (a write it did not see takes a stored
// time after it), so with reuse set, an answer younger than reuse is given
// again without a round trip.
type Clock struct {
	db    *DB
	skew  time.Duration
	reuse time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last time.Time

	ctMu sync.Mutex
	ct   time.Time // the last answer read from the intents
	ctAt time.Time // when it was read (this process's clock)
}

var _ lrs.Clock = (*Clock)(nil)

type intentDoc struct {
	ID string    `bson:"_id"`
	At time.Time `bson:"at"`
}

func (c *Clock) lease() time.Duration { return 2*c.db.timeout + 2*c.skew }

func (c *Clock) next() time.Time {
	t := c.now().UTC().Truncate(time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.last) {
		t = c.last
	}
	c.last = t
	return t
}

// Begin records an intent and returns its stored time.
func (c *Clock) Begin(ctx context.Context) (time.Time, func(), error) {
	for attempt := 0; attempt < 3; attempt++ {
		at := c.next()
		id := uuid.NewString()
		if _, err := c.db.writes.InsertOne(ctx, intentDoc{ID: id, At: at}); err != nil {
			return time.Time{}, nil, translate(fmt.Errorf("mongo: record write intent: %w", err))
		}
		done := func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.db.timeout)
			defer cancel()
			if _, err := c.db.writes.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
				// Harmless: the intent expires after the lease.
				c.db.logger.Warn("delete write intent", "err", err)
			}
		}
		if c.now().Sub(at) <= c.skew {
			return at, done, nil
		}
		done() // too slow to record: a reader may have passed at meanwhile
	}
	return time.Time{}, nil, fmt.Errorf("mongo: record write intent: %w", unavailable)
}

// ConsistentThrough returns the time through which every write, on every
// process, is visible.
func (c *Clock) ConsistentThrough(ctx context.Context) (time.Time, error) {
	if c.reuse <= 0 {
		return c.readConsistentThrough(ctx)
	}
	read := c.now()
	c.ctMu.Lock()
	ct, at := c.ct, c.ctAt
	c.ctMu.Unlock()
	if !at.IsZero() && read.Sub(at) >= 0 && read.Sub(at) < c.reuse {
		return ct, nil
	}
	ct, err := c.readConsistentThrough(ctx)
	if err != nil {
		return time.Time{}, err
	}
	c.ctMu.Lock()
	if ct.After(c.ct) {
		c.ct, c.ctAt = ct, read
	}
	ct = c.ct
	c.ctMu.Unlock()
	return ct, nil
}

// readConsistentThrough reads the oldest write intent (one round trip).
func (c *Clock) readConsistentThrough(ctx context.Context) (time.Time, error) {
	now := c.now().UTC().Truncate(time.Millisecond)
	ct := now.Add(-2 * c.skew)
	var oldest intentDoc
	err := c.db.writes.FindOne(ctx,
		bson.D{{Key: "at", Value: bson.D{{Key: "$gt", Value: now.Add(-c.lease())}}}},
		options.FindOne().SetSort(bson.D{{Key: "at", Value: 1}})).Decode(&oldest)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
	case err != nil:
		return time.Time{}, translate(fmt.Errorf("mongo: oldest write intent: %w", err))
	case oldest.At.Before(ct):
		ct = oldest.At.UTC()
	}
	return ct.Add(-time.Millisecond), nil
}
