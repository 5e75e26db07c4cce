package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
)

var _ forward.ResultStore = (*DB)(nil)

// Collections of the results read model:
//
//	result_contributions _id "<org>\x00<objective>\x00<statement>"  index {rk, i}
//	result_voids         _id "<org>\x00<statement>"
//	results              _id "<org>\x00<objective>\x00<participant>\x00<registration>"
//	                     indexes {o, ob, p, r}, {o, ob, c, p, r}, {o, ob, s, p, r},
//	                     {o, ob, u, p, r}, {o, p, ob, r}
//	result_locks         _id "<result _id>\x00<generation, 20 digits>"
//
// Every write is a single-document operation. A contribution is an insert
// that fails on a duplicate key; a void is an insert of its target's id,
// then a $set of the contributions' voided flag; an add reads the voids
// after its inserts, so that of an add and a void of one statement racing
// in two processes, at least one sees the other. A result is written as
// the delivery leases are (forward.go): a conditional update is not a
// safe compare-and-swap on every compatible server (FerretDB runs it as a
// read, then a write by _id), so the writer of generation g+1 first
// inserts the lock "<result>\x00<g+1>", which only one writer can; the
// winner replaces the result at generation g, marked with a token of its
// write, then drops its lock; a writer that read generation g late can
// take the lock again, but its replace then matches nothing, which the
// token tells. A lock whose writer died is taken over once its lease has
// passed.
const (
	contributionsCollection = "result_contributions"
	voidsCollection         = "result_voids"
	resultsCollection       = "results"
	resultLocksCollection   = "result_locks"
	resultLockLease         = 10 * time.Second
)

// resultIndexes are the indexes of the results collections.
func (d *DB) resultIndexes() []struct {
	coll  *mongo.Collection
	model mongo.IndexModel
} {
	idx := func(coll, name string, keys ...string) struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	} {
		doc := bson.D{}
		for _, k := range keys {
			doc = append(doc, bson.E{Key: k, Value: 1})
		}
		return struct {
			coll  *mongo.Collection
			model mongo.IndexModel
		}{d.fcoll(coll), mongo.IndexModel{Keys: doc, Options: options.Index().SetName(name)}}
	}
	return []struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	}{
		idx(contributionsCollection, "result_statement", "rk", "i"),
		idx(resultsCollection, "org_objective_participant_registration", "o", "ob", "p", "r"),
		idx(resultsCollection, "org_objective_completed", "o", "ob", "c", "p", "r"),
		idx(resultsCollection, "org_objective_passed", "o", "ob", "s", "p", "r"),
		idx(resultsCollection, "org_objective_updated", "o", "ob", "u", "p", "r"),
		idx(resultsCollection, "org_participant_objective", "o", "p", "ob", "r"),
	}
}

func resErr(op string, err error) error { return translate(fmt.Errorf("mongo: %s: %w", op, err)) }

// duplicates returns the indexes of the documents an unordered insert
// did not store because their _id was taken; any other failure is an
// error.
func duplicates(err error) ([]int, error) {
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		var out []int
		for _, we := range bwe.WriteErrors {
			if we.Code != duplicateKey {
				return nil, err
			}
			out = append(out, we.Index)
		}
		return out, nil
	}
	return nil, err
}

// AddContributions inserts unordered; a taken _id is compared by stored
// time (the earlier copy is kept, New or not: the insert costs no read),
// then the voids of the statements are read and applied.
func (d *DB) AddContributions(ctx context.Context, cs []forward.Contribution) error {
	if len(cs) == 0 {
		return ctx.Err()
	}
	coll := d.fcoll(contributionsCollection)
	byID := make(map[string]contributionDoc, len(cs)) // the earliest stored of a repeated key
	for _, c := range cs {
		doc := toContributionDoc(c)
		if old, ok := byID[doc.Key]; !ok || doc.Stored.Before(old.Stored) {
			byID[doc.Key] = doc
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	docs := make([]any, len(ids))
	for i, id := range ids {
		docs[i] = byID[id]
	}
	_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	dups, err := duplicates(err)
	if err != nil {
		return resErr("add contributions", err)
	}
	if len(dups) > 0 {
		if err := d.keepEarliest(ctx, ids, dups, byID); err != nil {
			return err
		}
	}
	// The voids, read after the inserts.
	vids := make([]string, 0, len(ids))
	for _, id := range ids {
		doc := byID[id]
		vids = append(vids, fkey(doc.Data.Org, doc.Statement))
	}
	var voids []struct {
		Key string `bson:"_id"`
	}
	if err := fwdFindAll(ctx, d.fcoll(voidsCollection), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: vids}}}}, options.Find(), &voids); err != nil {
		return resErr("add contributions", err)
	}
	if len(voids) == 0 {
		return nil
	}
	voided := map[string]bool{}
	for _, v := range voids {
		voided[v.Key] = true
	}
	for i, c := range cs {
		if c.New && voided[fkey(c.Org, c.StatementID)] {
			cs[i].Voided = true
		}
	}
	var mark []string
	for _, id := range ids {
		doc := byID[id]
		if voided[fkey(doc.Data.Org, doc.Statement)] {
			mark = append(mark, id)
		}
	}
	return d.markVoided(ctx, "add contributions", mark)
}

// keepEarliest replaces each stored contribution of dups (indexes into
// ids) that was stored later than ours (keeping its voided flag).
func (d *DB) keepEarliest(ctx context.Context, ids []string, dups []int, byID map[string]contributionDoc) error {
	coll := d.fcoll(contributionsCollection)
	taken := make([]string, len(dups))
	for i, n := range dups {
		taken[i] = ids[n]
	}
	var stored []struct {
		Key    string    `bson:"_id"`
		Stored time.Time `bson:"s"`
		Voided bool      `bson:"vd"`
	}
	opts := options.Find().SetProjection(bson.D{{Key: "s", Value: 1}, {Key: "vd", Value: 1}})
	if err := fwdFindAll(ctx, coll, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: taken}}}}, opts, &stored); err != nil {
		return resErr("add contributions", err)
	}
	for _, old := range stored {
		doc := byID[old.Key]
		if !doc.Stored.Before(old.Stored) {
			continue
		}
		doc.Voided = doc.Voided || old.Voided
		if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: old.Key}, {Key: "s", Value: old.Stored}}, doc); err != nil {
			return resErr("add contributions", err)
		}
	}
	return nil
}

func (d *DB) markVoided(ctx context.Context, op string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := d.fcoll(contributionsCollection).UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "vd", Value: true}}}})
	if err != nil {
		return resErr(op, err)
	}
	return nil
}

// VoidStatements inserts the voids (a taken _id: already recorded), then
// marks the contributions.
func (d *DB) VoidStatements(ctx context.Context, org string, voids []forward.Void) error {
	if len(voids) == 0 {
		return ctx.Err()
	}
	docs := make([]any, 0, len(voids))
	var mark []string
	for _, v := range voids {
		docs = append(docs, bson.D{{Key: "_id", Value: fkey(org, v.Target)}, {Key: "by", Value: v.By}})
		for _, k := range v.Results {
			mark = append(mark, contribID(org, k.ObjectiveID, v.Target))
		}
	}
	_, err := d.fcoll(voidsCollection).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if _, err := duplicates(err); err != nil {
		return resErr("void statements", err)
	}
	return d.markVoided(ctx, "void statements", mark)
}

// ResultContributions finds the contributions of the results (index
// result_statement).
func (d *DB) ResultContributions(ctx context.Context, keys []forward.ResultKey) (map[forward.ResultKey][]forward.Contribution, error) {
	out := map[forward.ResultKey][]forward.Contribution{}
	if len(keys) == 0 {
		return out, ctx.Err()
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = resultID(k)
	}
	var docs []contributionDoc
	opts := options.Find().SetSort(bson.D{{Key: "rk", Value: 1}, {Key: "i", Value: 1}})
	if err := fwdFindAll(ctx, d.fcoll(contributionsCollection), bson.D{{Key: "rk", Value: bson.D{{Key: "$in", Value: ids}}}}, opts, &docs); err != nil {
		return nil, resErr("result contributions", err)
	}
	for _, doc := range docs {
		c, err := doc.contribution()
		if err != nil {
			return nil, resErr("result contributions", err)
		}
		out[c.ResultKey] = append(out[c.ResultKey], c)
	}
	for _, cs := range out { // the server's order of strings may differ from Go's
		slices.SortFunc(cs, func(a, b forward.Contribution) int { return strings.Compare(a.StatementID, b.StatementID) })
	}
	return out, nil
}

// GetResults finds the results by _id.
func (d *DB) GetResults(ctx context.Context, keys []forward.ResultKey) (map[forward.ResultKey]forward.ObjectiveResult, error) {
	out := map[forward.ResultKey]forward.ObjectiveResult{}
	if len(keys) == 0 {
		return out, ctx.Err()
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = resultID(k)
	}
	rs, err := d.findResults(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find())
	if err != nil {
		return nil, resErr("get results", err)
	}
	for _, r := range rs {
		out[r.ResultKey] = r
	}
	return out, nil
}

func (d *DB) findResults(ctx context.Context, filter any, opts *options.FindOptionsBuilder) ([]forward.ObjectiveResult, error) {
	var docs []resultDoc
	if err := fwdFindAll(ctx, d.fcoll(resultsCollection), filter, opts, &docs); err != nil {
		return nil, err
	}
	out := make([]forward.ObjectiveResult, len(docs))
	for i, doc := range docs {
		r, err := doc.result()
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func resultLockID(result string, gen int64) string { return fmt.Sprintf("%s\x00%020d", result, gen) }

var errRepeatedResult = errors.New("a result is repeated in PutResults")

// PutResults creates the new results with one unordered insert, and
// updates the others by taking their next generation's lock, replacing
// them at their generation, and dropping the locks (see the collections'
// comment).
func (d *DB) PutResults(ctx context.Context, rs []forward.ObjectiveResult, _ bool) ([]forward.ResultKey, error) {
	if len(rs) == 0 {
		return nil, ctx.Err()
	}
	seen := make(map[forward.ResultKey]bool, len(rs))
	var creates, updates []forward.ObjectiveResult
	for _, r := range rs {
		if seen[r.ResultKey] {
			return nil, resErr("put results", errRepeatedResult)
		}
		seen[r.ResultKey] = true
		if r.Gen == 0 {
			creates = append(creates, r)
		} else {
			updates = append(updates, r)
		}
	}
	var conflicts []forward.ResultKey
	coll := d.fcoll(resultsCollection)
	if len(creates) > 0 {
		docs := make([]any, len(creates))
		for i, r := range creates {
			docs[i] = toResultDoc(r, 1, "")
		}
		_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		dups, err := duplicates(err)
		if err != nil {
			return nil, resErr("put results", err)
		}
		for _, i := range dups {
			conflicts = append(conflicts, creates[i].ResultKey)
		}
	}
	if len(updates) == 0 {
		return conflicts, nil
	}
	won, lost, err := d.lockResults(ctx, updates)
	if err != nil {
		return nil, resErr("put results", err)
	}
	conflicts = append(conflicts, lost...)
	if len(won) == 0 {
		return conflicts, nil
	}
	models := make([]mongo.WriteModel, len(won))
	locks := make([]string, len(won))
	token := uuid.NewString()
	for i, r := range won {
		id := resultID(r.ResultKey)
		models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: id}, {Key: "g", Value: r.Gen}}).SetReplacement(toResultDoc(r, r.Gen+1, token))
		locks[i] = resultLockID(id, r.Gen+1)
	}
	res, werr := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if werr == nil && res.MatchedCount < int64(len(won)) {
		// Some results had moved on (their lock was free again, or taken
		// over): find which ones this write did not store.
		ids := make([]string, len(won))
		for i, r := range won {
			ids[i] = resultID(r.ResultKey)
		}
		var writers []struct {
			Key    string `bson:"_id"`
			Writer string `bson:"w"`
		}
		werr = fwdFindAll(ctx, coll, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find().SetProjection(bson.D{{Key: "w", Value: 1}}), &writers)
		ours := map[string]bool{}
		for _, w := range writers {
			ours[w.Key] = w.Writer == token
		}
		for _, r := range won {
			if !ours[resultID(r.ResultKey)] {
				conflicts = append(conflicts, r.ResultKey)
			}
		}
	}
	if _, err := d.fcoll(resultLocksCollection).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: locks}}}}); err != nil {
		d.logger.Warn("mongo: drop result locks", "error", err)
	}
	if werr != nil {
		return nil, resErr("put results", werr)
	}
	return conflicts, nil
}

// lockResults takes the lock of the next generation of each result of
// rs; won are the results whose lock this call holds, lost the keys of
// those another writer holds (or that moved on).
func (d *DB) lockResults(ctx context.Context, rs []forward.ObjectiveResult) (won []forward.ObjectiveResult, lost []forward.ResultKey, err error) {
	locks := d.fcoll(resultLocksCollection)
	now := time.Now().UTC()
	until := fwdMs(now.Add(resultLockLease))
	docs := make([]any, len(rs))
	for i, r := range rs {
		docs[i] = fwdLeaseDoc{Key: resultLockID(resultID(r.ResultKey), r.Gen+1), Owner: "results", Until: until}
	}
	_, err = locks.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	dups, err := duplicates(err)
	if err != nil {
		return nil, nil, err
	}
	taken := map[int]bool{}
	for _, i := range dups {
		taken[i] = true
	}
	for i, r := range rs {
		if !taken[i] {
			won = append(won, r)
			continue
		}
		// Held: by a live writer (the result moves on), or by one that
		// died before writing it (its lease passed): take it over.
		id := resultLockID(resultID(r.ResultKey), r.Gen+1)
		var held fwdLeaseDoc
		err := locks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&held)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			lost = append(lost, r.ResultKey) // dropped meanwhile: the result moved on
			continue
		case err != nil:
			return nil, nil, err
		case !held.Until.Before(now):
			lost = append(lost, r.ResultKey)
			continue
		}
		if _, err := locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "until", Value: held.Until}}); err != nil {
			return nil, nil, err
		}
		if _, err := locks.InsertOne(ctx, fwdLeaseDoc{Key: id, Owner: "results", Until: until}); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				lost = append(lost, r.ResultKey)
				continue
			}
			return nil, nil, err
		}
		won = append(won, r)
	}
	return won, lost, nil
}

// after is the filter of the documents strictly after the values of
// fields (in order), compared as a tuple.
func after(fields []string, values []any) bson.D {
	var or bson.A
	for i := range fields {
		clause := bson.D{}
		for j := 0; j < i; j++ {
			clause = append(clause, bson.E{Key: fields[j], Value: values[j]})
		}
		clause = append(clause, bson.E{Key: fields[i], Value: bson.D{{Key: "$gt", Value: values[i]}}})
		or = append(or, clause)
	}
	return bson.D{{Key: "$or", Value: or}}
}

// ListResults queries the results collection with q's filters, sorted by
// q's order (served by the indexes above), from after q.After.
func (d *DB) ListResults(ctx context.Context, q forward.ResultQuery) ([]forward.ObjectiveResult, error) {
	if q.Limit <= 0 {
		return []forward.ObjectiveResult{}, ctx.Err()
	}
	filter := bson.D{{Key: "o", Value: q.Org}}
	if q.ObjectiveID != "" {
		filter = append(filter, bson.E{Key: "ob", Value: q.ObjectiveID})
	}
	if q.Participant != "" {
		filter = append(filter, bson.E{Key: "p", Value: q.Participant})
	}
	if q.Completed != nil {
		filter = append(filter, bson.E{Key: "c", Value: intFlag(*q.Completed)})
	}
	if q.Passed != nil {
		filter = append(filter, bson.E{Key: "s", Value: intFlag(*q.Passed)})
	}
	order := []string{"ob", "p", "r"}
	if !q.Since.IsZero() {
		filter = append(filter, bson.E{Key: "u", Value: bson.D{{Key: "$gte", Value: fwdMs(q.Since)}}})
		order = []string{"u", "ob", "p", "r"}
	}
	if a := q.After; a != nil {
		values := []any{a.ObjectiveID, a.Participant, a.Registration}
		if !q.Since.IsZero() {
			values = append([]any{fwdMs(a.UpdatedAt)}, values...)
		}
		filter = bson.D{{Key: "$and", Value: bson.A{filter, after(order, values)}}}
	}
	sort := bson.D{}
	for _, f := range order {
		sort = append(sort, bson.E{Key: f, Value: 1})
	}
	rs, err := d.findResults(ctx, filter, options.Find().SetSort(sort).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, resErr("list results", err)
	}
	return rs, nil
}

// DeleteResults deletes the objective's results, contributions and locks.
func (d *DB) DeleteResults(ctx context.Context, org, objectiveID string) error {
	prefix := fkey(org, objectiveID)
	if _, err := d.fcoll(resultsCollection).DeleteMany(ctx, bson.D{{Key: "o", Value: org}, {Key: "ob", Value: objectiveID}}); err != nil {
		return resErr("delete results", err)
	}
	for _, c := range []string{contributionsCollection, resultLocksCollection} {
		if _, err := d.fcoll(c).DeleteMany(ctx, idRange(prefix)); err != nil {
			return resErr("delete results", err)
		}
	}
	return nil
}
