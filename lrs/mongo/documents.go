package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/lrs"
)

var _ lrs.DocumentStore = (*DB)(nil)

// documentDoc is one State, Activity Profile or Agent Profile document.
// Its _id is the JSON array [org, kind, activityId, agent, registration,
// id]: injective, and readable in the shell.
type documentDoc struct {
	Key          string    `bson:"_id"`
	Org          string    `bson:"o"`
	Kind         string    `bson:"k"`
	ActivityID   string    `bson:"a"`
	Agent        string    `bson:"g"`
	Registration string    `bson:"r"`
	ID           string    `bson:"i"`
	ContentType  string    `bson:"ct"`
	Contents     []byte    `bson:"c"`
	ETag         string    `bson:"e"`
	Updated      time.Time `bson:"u"`
}

// documentMeta is the projection the listing reads.
type documentMeta struct {
	ID      string    `bson:"i"`
	Updated time.Time `bson:"u"`
}

func documentKey(org string, s lrs.DocumentScope, id string) string {
	b, _ := json.Marshal([]string{org, string(s.Kind), s.ActivityID, s.Agent, s.Registration, id}) // strings: cannot fail
	return string(b)
}

// scopeFilter selects a scope's documents (index doc_scope_updated).
func scopeFilter(org string, s lrs.DocumentScope) bson.D {
	return bson.D{
		{Key: "o", Value: org},
		{Key: "k", Value: string(s.Kind)},
		{Key: "a", Value: s.ActivityID},
		{Key: "g", Value: s.Agent},
		{Key: "r", Value: s.Registration},
	}
}

// documentIndex serves listing a scope by updated time and deleting a scope.
var documentIndex = mongo.IndexModel{
	Keys: bson.D{
		{Key: "o", Value: 1}, {Key: "k", Value: 1}, {Key: "a", Value: 1},
		{Key: "g", Value: 1}, {Key: "r", Value: 1}, {Key: "u", Value: 1},
	},
	Options: options.Index().SetName("doc_scope_updated"),
}

// documentsColl is the documents collection.
func (d *DB) documentsColl() *mongo.Collection { return d.db.Collection("documents") }

// lockDocument takes the write lock of one document: a document with that
// _id in document_locks, which only one insert can create. The
// compare-and-swap filters below are atomic on MongoDB by themselves, but
// not on every compatible server (FerretDB 1.x runs an update as a query,
// then a write by _id), so every write of a document holds the lock. A
// lock older than lockStale (its holder died) is taken over.
func (d *DB) lockDocument(ctx context.Context, key string) (unlock func(), err error) {
	locks := d.db.Collection("document_locks")
	stale := 4 * d.timeout
	wait := time.Millisecond
	for {
		at := time.Now().UTC().Truncate(time.Millisecond)
		_, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: at}})
		if err == nil {
			return func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
				defer cancel()
				if _, err := locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: at}}); err != nil {
					d.logger.Warn("mongo: release document lock", "error", err)
				}
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, translate(fmt.Errorf("mongo: lock document: %w", err))
		}
		var held struct {
			At time.Time `bson:"at"`
		}
		err = locks.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			continue // released meanwhile
		case err != nil:
			return nil, translate(fmt.Errorf("mongo: lock document: %w", err))
		case time.Since(held.At) > stale:
			if _, err := locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: held.At}}); err != nil {
				return nil, translate(fmt.Errorf("mongo: lock document: %w", err))
			}
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, translate(fmt.Errorf("mongo: lock document: %w", ctx.Err()))
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// GetDocument reads by _id.
func (d *DB) GetDocument(ctx context.Context, org string, scope lrs.DocumentScope, id string) (lrs.Document, error) {
	var doc documentDoc
	err := d.documentsColl().FindOne(ctx, bson.D{{Key: "_id", Value: documentKey(org, scope, id)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return lrs.Document{}, lrs.Errorf(lrs.ENOTFOUND, "No document with id %q.", id)
	}
	if err != nil {
		return lrs.Document{}, translate(fmt.Errorf("mongo: get document: %w", err))
	}
	contents := doc.Contents
	if contents == nil {
		contents = []byte{}
	}
	return lrs.Document{
		Scope:       scope,
		ID:          id,
		ContentType: doc.ContentType,
		Contents:    contents,
		ETag:        doc.ETag,
		Updated:     doc.Updated.UTC(),
	}, nil
}

// PutDocument is a compare-and-swap on the stored ETag: an upsert when
// unconditional, an insert for Absent (a duplicate _id fails it), and a
// replace filtered on _id (and the ETag) for an ETag precondition.
func (d *DB) PutDocument(ctx context.Context, org string, doc lrs.Document, pre lrs.Precondition) error {
	key := documentKey(org, doc.Scope, doc.ID)
	unlock, err := d.lockDocument(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	contents := doc.Contents
	if contents == nil {
		contents = []byte{}
	}
	rec := documentDoc{
		Key:          key,
		Org:          org,
		Kind:         string(doc.Scope.Kind),
		ActivityID:   doc.Scope.ActivityID,
		Agent:        doc.Scope.Agent,
		Registration: doc.Scope.Registration,
		ID:           doc.ID,
		ContentType:  doc.ContentType,
		Contents:     contents,
		ETag:         doc.ETag,
		Updated:      doc.Updated.UTC().Truncate(time.Millisecond),
	}
	switch {
	case pre.Absent:
		_, err := d.documentsColl().InsertOne(ctx, rec)
		if mongo.IsDuplicateKeyError(err) {
			return lrs.Errorf(lrs.EPRECONDITION, "If-None-Match: the document exists")
		}
		if err != nil {
			return translate(fmt.Errorf("mongo: put document: %w", err))
		}
		return nil
	case pre.ETag != "":
		filter := bson.D{{Key: "_id", Value: key}}
		if pre.ETag != "*" {
			filter = append(filter, bson.E{Key: "e", Value: pre.ETag})
		}
		res, err := d.documentsColl().ReplaceOne(ctx, filter, rec)
		if err != nil {
			return translate(fmt.Errorf("mongo: put document: %w", err))
		}
		if res.MatchedCount == 0 {
			return lrs.Errorf(lrs.EPRECONDITION, "If-Match: the document does not exist or has changed")
		}
		return nil
	default:
		for attempt := 0; ; attempt++ {
			_, err := d.documentsColl().ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}}, rec, options.Replace().SetUpsert(true))
			// Two upserts racing on a new _id: one inserts, the other
			// fails with a duplicate key and, retried, replaces.
			if mongo.IsDuplicateKeyError(err) && attempt < 3 {
				continue
			}
			if err != nil {
				return translate(fmt.Errorf("mongo: put document: %w", err))
			}
			return nil
		}
	}
}

// DeleteDocument removes a document if pre holds: the ETag is part of the
// delete filter.
func (d *DB) DeleteDocument(ctx context.Context, org string, scope lrs.DocumentScope, id string, pre lrs.Precondition) error {
	key := documentKey(org, scope, id)
	unlock, err := d.lockDocument(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	filter := bson.D{{Key: "_id", Value: key}}
	if pre.Absent {
		n, err := d.documentsColl().CountDocuments(ctx, filter)
		if err != nil {
			return translate(fmt.Errorf("mongo: delete document: %w", err))
		}
		if n > 0 {
			return lrs.Errorf(lrs.EPRECONDITION, "If-None-Match: the document exists")
		}
		return nil
	}
	if pre.ETag != "" && pre.ETag != "*" {
		filter = append(filter, bson.E{Key: "e", Value: pre.ETag})
	}
	res, err := d.documentsColl().DeleteOne(ctx, filter)
	if err != nil {
		return translate(fmt.Errorf("mongo: delete document: %w", err))
	}
	if pre.ETag != "" && res.DeletedCount == 0 {
		return lrs.Errorf(lrs.EPRECONDITION, "If-Match: the document does not exist or has changed")
	}
	return nil
}

// ListDocuments reads the scope's ids and update times (index
// doc_scope_updated) and orders them by id.
func (d *DB) ListDocuments(ctx context.Context, org string, scope lrs.DocumentScope, since time.Time) ([]lrs.DocumentMeta, error) {
	filter := scopeFilter(org, scope)
	if !since.IsZero() {
		filter = append(filter, bson.E{Key: "u", Value: bson.D{{Key: "$gt", Value: since.UTC()}}})
	}
	opts := options.Find().SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "i", Value: 1}, {Key: "u", Value: 1}})
	cur, err := d.documentsColl().Find(ctx, filter, opts)
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: list documents: %w", err))
	}
	var metas []documentMeta
	if err := cur.All(ctx, &metas); err != nil {
		return nil, translate(fmt.Errorf("mongo: list documents: %w", err))
	}
	out := make([]lrs.DocumentMeta, len(metas))
	for i, m := range metas {
		out[i] = lrs.DocumentMeta{ID: m.ID, Updated: m.Updated.UTC()}
	}
	slices.SortFunc(out, func(a, b lrs.DocumentMeta) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteDocuments removes the scope's documents.
func (d *DB) DeleteDocuments(ctx context.Context, org string, scope lrs.DocumentScope) error {
	if _, err := d.documentsColl().DeleteMany(ctx, scopeFilter(org, scope)); err != nil {
		return translate(fmt.Errorf("mongo: delete documents: %w", err))
	}
	return nil
}
