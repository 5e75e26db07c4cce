package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/lrs"
)

// Collections of the Activities and Agents resources. Every write is an
// insert whose uniqueness rests on _id alone: single-document updates are
// not atomic on every MongoDB-compatible server (FerretDB's SQLite backend
// loses concurrent $set/$addToSet), unique _id inserts are. Reads are _id
// range scans, so no index beyond _id is needed (shard on {_id: 1}).
//
//	activities  _id "<org>\x00<activity id>\x00<version, 20 digits>"
//	            the canonical definition; the highest version is current
//	agents      _id "<org>\x00<ifi key>\x00<name>"  one per name seen
const (
	activitiesCollection = "activities"
	agentsCollection     = "agents"
)

var (
	_ lrs.ActivityStore = (*DB)(nil)
	_ lrs.AgentStore    = (*DB)(nil)
)

// activityDoc is one version of an activity's canonical definition.
type activityDoc struct {
	Key string `bson:"_id"`
	Org string `bson:"o"`
	ID  string `bson:"i"`
	Def string `bson:"d"`
	N   int64  `bson:"n"`
}

// agentNameDoc is one name seen with one IFI.
type agentNameDoc struct {
	Key  string `bson:"_id"`
	Org  string `bson:"o"`
	IFI  string `bson:"k"`
	Name string `bson:"n"`
}

// idRange is the filter of the _ids that start with prefix + "\x00".
func idRange(prefix string) bson.D {
	return bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: prefix + "\x00"},
		{Key: "$lt", Value: prefix + "\x01"},
	}}}
}

func versionKey(prefix string, n int64) string { return fmt.Sprintf("%s\x00%020d", prefix, n) }

// maxCASAttempts bounds the retries of a contended MergeActivity.
const maxCASAttempts = 32

// latestActivity reads the current version of an activity; found is false
// when there is none.
func (d *DB) latestActivity(ctx context.Context, org, id string) (doc activityDoc, found bool, err error) {
	err = d.db.Collection(activitiesCollection).FindOne(ctx, idRange(docKey(org, id)),
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return doc, false, nil
	}
	if err != nil {
		return doc, false, translate(err)
	}
	return doc, true, nil
}

// MergeActivity is a compare-and-swap on the version: it reads the current
// version n, merges def into it and inserts version n+1, which fails on
// the _id when another writer got there first (then it starts over). A
// write that succeeded but is already behind a newer version (possible
// only when the newer writer had deleted the number this one reused) is
// redone on top of it. Older versions are then removed.
func (d *DB) MergeActivity(ctx context.Context, org, id string, def []byte) error {
	coll := d.db.Collection(activitiesCollection)
	prefix := docKey(org, id)
	for range maxCASAttempts {
		cur, found, err := d.latestActivity(ctx, org, id)
		if err != nil {
			return fmt.Errorf("mongo: merge activity %s: %w", id, err)
		}
		var stored []byte
		if found {
			stored = []byte(cur.Def)
		}
		merged, err := lrs.MergeDefinition(stored, def)
		if err != nil {
			return fmt.Errorf("mongo: merge activity %s: %w", id, err)
		}
		if found && string(merged) == cur.Def {
			return nil
		}
		n := cur.N + 1
		_, err = coll.InsertOne(ctx, activityDoc{Key: versionKey(prefix, n), Org: org, ID: id, Def: string(merged), N: n})
		if mongo.IsDuplicateKeyError(err) {
			continue // another writer made version n: merge into it
		}
		if err != nil {
			return translate(fmt.Errorf("mongo: merge activity %s: %w", id, err))
		}
		now, _, err := d.latestActivity(ctx, org, id)
		if err != nil {
			return fmt.Errorf("mongo: merge activity %s: %w", id, err)
		}
		if now.N > n {
			continue // stale: merge again on top of the newer version
		}
		// Best effort: a leftover old version is never read.
		_, _ = coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{
			{Key: "$gte", Value: prefix + "\x00"},
			{Key: "$lt", Value: versionKey(prefix, n)},
		}}})
		return nil
	}
	return lrs.Errorf(lrs.EUNAVAILABLE, "The definition of activity %s is updated too often; try again later.", id)
}

// GetActivity reads the current definition, ENOTFOUND if none.
func (d *DB) GetActivity(ctx context.Context, org, id string) ([]byte, error) {
	doc, found, err := d.latestActivity(ctx, org, id)
	if err != nil {
		return nil, fmt.Errorf("mongo: get activity %s: %w", id, err)
	}
	if !found {
		return nil, lrs.Errorf(lrs.ENOTFOUND, "No definition of activity %s.", id)
	}
	return []byte(doc.Def), nil
}

// AddAgentNames inserts one document per name, all agents in one
// unordered insert (one round trip); names already stored fail on their
// _id and are skipped.
func (d *DB) AddAgentNames(ctx context.Context, org string, names map[string][]string) error {
	var docs []any
	for key, ns := range names {
		prefix := docKey(org, key)
		for _, n := range ns {
			docs = append(docs, agentNameDoc{Key: prefix + "\x00" + n, Org: org, IFI: key, Name: n})
		}
	}
	if len(docs) == 0 {
		return ctx.Err()
	}
	_, err := d.db.Collection(agentsCollection).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		for _, we := range bwe.WriteErrors {
			if we.Code != duplicateKey {
				return translate(fmt.Errorf("mongo: add agent names: %w", err))
			}
		}
		return nil
	}
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return translate(fmt.Errorf("mongo: add agent names: %w", err))
}

// AgentNames reads the IFI's names, sorted.
func (d *DB) AgentNames(ctx context.Context, org, key string) ([]string, error) {
	cur, err := d.db.Collection(agentsCollection).Find(ctx, idRange(docKey(org, key)))
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: agent names: %w", err))
	}
	var docs []agentNameDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: agent names: %w", err))
	}
	out := make([]string, 0, len(docs))
	for _, doc := range docs {
		out = append(out, doc.Name)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
