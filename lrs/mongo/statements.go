package mongo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/lrs"
)

// statementDoc is one statement. Short field names keep documents and
// index keys small.
type statementDoc struct {
	Key    string    `bson:"_id"` // org + "\x00" + id
	Org    string    `bson:"o"`
	ID     string    `bson:"i"`
	Stored time.Time `bson:"s"`
	Raw    string    `bson:"r"`
	Terms  []string  `bson:"t"`
	Voided bool      `bson:"v"`
	Ref    string    `bson:"f,omitempty"`
}

func docKey(org, id string) string { return org + "\x00" + id }

func (d statementDoc) record() lrs.StatementRecord {
	return lrs.StatementRecord{
		ID:        d.ID,
		Stored:    d.Stored.UTC(),
		Raw:       []byte(d.Raw),
		Terms:     slices.Clone(d.Terms),
		Voided:    d.Voided,
		RefTarget: d.Ref,
	}
}

const duplicateKey = 11000

// InsertStatements inserts unordered, so that every free id is written even
// when some ids are taken; a taken id is reported as ECONFLICT.
func (d *DB) InsertStatements(ctx context.Context, org string, recs []lrs.StatementRecord) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	docs := make([]any, len(recs))
	for i, r := range recs {
		docs[i] = statementDoc{
			Key:    docKey(org, r.ID),
			Org:    org,
			ID:     r.ID,
			Stored: r.Stored.UTC().Truncate(time.Millisecond),
			Raw:    string(r.Raw),
			Terms:  slices.Clone(r.Terms),
			Voided: r.Voided,
			Ref:    r.RefTarget,
		}
	}
	_, err := d.statements.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		for _, we := range bwe.WriteErrors {
			if we.Code != duplicateKey {
				return translate(fmt.Errorf("mongo: insert statements: %w", err))
			}
		}
		return lrs.Errorf(lrs.ECONFLICT, "statement %s already exists", recs[bwe.WriteErrors[0].Index].ID)
	}
	if mongo.IsDuplicateKeyError(err) {
		return lrs.Errorf(lrs.ECONFLICT, "statement %s already exists", recs[0].ID)
	}
	return translate(fmt.Errorf("mongo: insert statements: %w", err))
}

// GetStatements reads by _id.
func (d *DB) GetStatements(ctx context.Context, org string, ids []string) (map[string]lrs.StatementRecord, error) {
	out := make(map[string]lrs.StatementRecord, len(ids))
	if len(ids) == 0 {
		return out, ctx.Err()
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = docKey(org, id)
	}
	cur, err := d.statements.Find(ctx, bson.D{{Key: "o", Value: org}, {Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: get statements: %w", err))
	}
	var docs []statementDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: get statements: %w", err))
	}
	for _, doc := range docs {
		out[doc.ID] = doc.record()
	}
	return out, nil
}

// QueryStatements runs the one query shape, served by the index
// org_term_voided_stored_id.
func (d *DB) QueryStatements(ctx context.Context, org string, q lrs.StatementQuery) ([]lrs.StatementRecord, error) {
	if len(q.Terms) == 0 || q.Limit <= 0 {
		return nil, fmt.Errorf("mongo: query statements: a query needs a term and a limit")
	}
	filter := bson.D{{Key: "o", Value: org}}
	if len(q.Terms) == 1 {
		filter = append(filter, bson.E{Key: "t", Value: q.Terms[0]})
	} else {
		filter = append(filter, bson.E{Key: "t", Value: bson.D{{Key: "$all", Value: q.Terms}}})
	}
	filter = append(filter, bson.E{Key: "v", Value: false})
	stored := bson.D{}
	if !q.Since.IsZero() {
		stored = append(stored, bson.E{Key: "$gt", Value: q.Since.UTC()})
	}
	if !q.Until.IsZero() {
		stored = append(stored, bson.E{Key: "$lte", Value: q.Until.UTC()})
	}
	if len(stored) > 0 {
		filter = append(filter, bson.E{Key: "s", Value: stored})
	}
	dir := -1
	op := "$lt"
	if q.Ascending {
		dir, op = 1, "$gt"
	}
	if q.After != nil {
		at := q.After.Stored.UTC().Truncate(time.Millisecond)
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "s", Value: bson.D{{Key: op, Value: at}}}},
			bson.D{{Key: "s", Value: at}, {Key: "i", Value: bson.D{{Key: op, Value: q.After.ID}}}},
		}})
	}
	// The whole page in one batch, and the cursor closed with it: one
	// round trip (a negative limit asks for a single batch; without it the
	// server's first batch holds 101 documents and a getMore follows).
	opts := options.Find().
		SetSort(bson.D{{Key: "s", Value: dir}, {Key: "i", Value: dir}}).
		SetLimit(-int64(q.Limit)).
		SetBatchSize(int32(min(q.Limit, math.MaxInt32)))
	cur, err := d.statements.Find(ctx, filter, opts)
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: query statements: %w", err))
	}
	var docs []statementDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: query statements: %w", err))
	}
	out := make([]lrs.StatementRecord, len(docs))
	size := 0
	for i, doc := range docs {
		out[i] = doc.record()
		size += len(doc.Raw)
	}
	// A single batch stops at 16 MiB: a short page of large statements
	// may have been cut there, so the rest is asked for after it.
	if len(out) > 0 && len(out) < q.Limit && size > singleBatchCut {
		last := out[len(out)-1]
		rest := q
		rest.After = &lrs.Cursor{Stored: last.Stored, ID: last.ID}
		rest.Limit = q.Limit - len(out)
		more, err := d.QueryStatements(ctx, org, rest)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// singleBatchCut is the size of a page's statements above which a short
// single batch may have been cut by the server's 16 MiB batch limit.
const singleBatchCut = 8 << 20

// SetVoided marks a statement voided.
func (d *DB) SetVoided(ctx context.Context, org, id string) error {
	res, err := d.statements.UpdateOne(ctx, bson.D{{Key: "o", Value: org}, {Key: "_id", Value: docKey(org, id)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: true}}}})
	if err != nil {
		return translate(fmt.Errorf("mongo: void statement %s: %w", id, err))
	}
	if res.MatchedCount == 0 {
		return lrs.Errorf(lrs.ENOTFOUND, "no statement with id %s", id)
	}
	return nil
}

// AddTerms adds index terms to a statement.
func (d *DB) AddTerms(ctx context.Context, org, id string, terms []string) error {
	res, err := d.statements.UpdateOne(ctx, bson.D{{Key: "o", Value: org}, {Key: "_id", Value: docKey(org, id)}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "t", Value: bson.D{{Key: "$each", Value: terms}}}}}})
	if err != nil {
		return translate(fmt.Errorf("mongo: add terms to statement %s: %w", id, err))
	}
	if res.MatchedCount == 0 {
		return lrs.Errorf(lrs.ENOTFOUND, "no statement with id %s", id)
	}
	return nil
}

// ReferrersOf returns the referrers of many ids in one query.
func (d *DB) ReferrersOf(ctx context.Context, org string, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(ids) == 0 {
		return out, ctx.Err()
	}
	cur, err := d.statements.Find(ctx, bson.D{{Key: "o", Value: org}, {Key: "f", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "i", Value: 1}, {Key: "f", Value: 1}}))
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: referrers: %w", err))
	}
	var docs []struct {
		ID  string `bson:"i"`
		Ref string `bson:"f"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: referrers: %w", err))
	}
	for _, doc := range docs {
		out[doc.Ref] = append(out[doc.Ref], doc.ID)
	}
	return out, nil
}

// Referrers returns the ids of statements whose StatementRef targets id.
func (d *DB) Referrers(ctx context.Context, org, id string) ([]string, error) {
	if id == "" {
		return nil, ctx.Err()
	}
	cur, err := d.statements.Find(ctx, bson.D{{Key: "o", Value: org}, {Key: "f", Value: id}},
		options.Find().SetProjection(bson.D{{Key: "i", Value: 1}}))
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: referrers of %s: %w", id, err))
	}
	var docs []struct {
		ID string `bson:"i"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: referrers of %s: %w", id, err))
	}
	ids := make([]string, len(docs))
	for i, doc := range docs {
		ids[i] = doc.ID
	}
	return ids, nil
}
