package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
)

var _ forward.Store = (*DB)(nil)

// Collections of forwarding:
//
//	forward_configurations _id "<org>\x00<id>"
//	forward_objectives     _id "<org>\x00<id>"          index {o, a}
//	forward_deliveries     _id "<org>\x00<config>\x00<statement>"
//	                       indexes {s, o, c, na, _id} (due configurations,
//	                       claims), {o, c, s, ca} (lists, counts), {o, st}
//	                       (a statement's deliveries)
//	forward_periods        _id "<name>\x00<period>\x00<generation>" (PeriodStore)
//	forward_rejections     _id "<org>\x00<config>\x00<statement>" (DigestQueue)
//	forward_leases         _id "<delivery _id>\x00<generation, 20 digits>"
//	forward_statuses       _id "<org>\x00<config>"
//	forward_attempts       _id "<org>\x00<config>\x00<at ms, 20 digits>\x00<seq>"
//	forward_watermarks     _id "<name>"
//	forward_assignments    _id "<org>\x00<config>\x00<section>\x00<objective>\x00<generation>" (AssignmentStore, assignments.go)
//	forward_backfills      _id "<org>\x00<config>\x00<objective>" (BackfillStore, backfills.go)
//
// Leases. A conditional update is not a safe claim on every compatible
// server (FerretDB runs it as a read, then a write by _id), so every change
// of a delivery's lease (claim, release by UpdateDelivery, Redrive) first
// takes the delivery's next generation: an insert into forward_leases of
// _id "<delivery>\x00<g+1>", which only one caller can win. Only the
// winner of generation g+1 writes the delivery (from generation g to g+1),
// so its writes are serialized without transactions. A generation whose
// winner died before writing the delivery is skipped once its lease
// (until) has passed. Lease documents older than the previous generation
// are deleted.
const (
	configsCollection    = "forward_configurations"
	objectivesCollection = "forward_objectives"
	deliveriesCollection = "forward_deliveries"
	leasesCollection     = "forward_leases"
	statusesCollection   = "forward_statuses"
	attemptsCollection   = "forward_attempts"
	watermarksCollection = "forward_watermarks"
	periodsCollection    = "forward_periods"
	rejectionsCollection = "forward_rejections"
)

func (d *DB) fcoll(name string) *mongo.Collection { return d.db.Collection(name) }

// obsoleteForwardIndexes are the indexes of earlier versions that a later
// index replaced: Open drops them once their replacements exist
// (dropObsoleteIndexes).
func (d *DB) obsoleteForwardIndexes() []struct {
	coll *mongo.Collection
	name string
} {
	return []struct {
		coll *mongo.Collection
		name string
	}{
		// {s, na}, before per-configuration claims.
		{d.fcoll(deliveriesCollection), "state_next_attempt"},
		// {s, o, c, na}: state_org_config_next_attempt_id also sorts by _id.
		{d.fcoll(deliveriesCollection), "state_org_config_next_attempt"},
	}
}

// forwardIndexes are the indexes of the forwarding collections
// (createIndexes).
func (d *DB) forwardIndexes() []struct {
	coll  *mongo.Collection
	model mongo.IndexModel
} {
	return []struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	}{
		{d.fcoll(objectivesCollection), mongo.IndexModel{
			Keys:    bson.D{{Key: "o", Value: 1}, {Key: "a", Value: 1}},
			Options: options.Index().SetName("org_activity"),
		}},
		// A claim's filter (state, org, configuration, next attempt) and
		// sort (next attempt, _id) in one index, so that the server reads
		// the first due deliveries in order instead of sorting all of
		// them; DueConfigurations uses its prefix. It replaces
		// state_org_config_next_attempt {s, o, c, na}, without the _id tie
		// break (dropped at Open: obsoleteForwardIndexes).
		{d.fcoll(deliveriesCollection), mongo.IndexModel{
			Keys:    bson.D{{Key: "s", Value: 1}, {Key: "o", Value: 1}, {Key: "c", Value: 1}, {Key: "na", Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName("state_org_config_next_attempt_id"),
		}},
		{d.fcoll(deliveriesCollection), mongo.IndexModel{
			Keys:    bson.D{{Key: "o", Value: 1}, {Key: "c", Value: 1}, {Key: "s", Value: 1}, {Key: "ca", Value: 1}},
			Options: options.Index().SetName("org_config_state_created"),
		}},
		{d.fcoll(deliveriesCollection), mongo.IndexModel{
			Keys:    bson.D{{Key: "o", Value: 1}, {Key: "c", Value: 1}, {Key: "ca", Value: 1}},
			Options: options.Index().SetName("org_config_created"),
		}},
		{d.fcoll(deliveriesCollection), mongo.IndexModel{
			Keys:    bson.D{{Key: "o", Value: 1}, {Key: "st", Value: 1}},
			Options: options.Index().SetName("org_statement"),
		}},
		{d.fcoll(filesCollection), d.fileIndexes()[0]}, // files.go
		{d.fcoll(filesCollection), d.fileIndexes()[1]},
		{d.fcoll(backfillsCollection), mongo.IndexModel{ // backfills.go
			Keys:    bson.D{{Key: "st", Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName("state_id"),
		}},
	}
}

func fkey(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return string(b)
}

func fwdErr(op string, err error) error { return translate(fmt.Errorf("mongo: %s: %w", op, err)) }

// upsert replaces the document _id with doc, inserting it if missing.
func fwdUpsert(ctx context.Context, c *mongo.Collection, id string, doc any) error {
	for attempt := 0; ; attempt++ {
		_, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
		if mongo.IsDuplicateKeyError(err) && attempt < 3 {
			continue // two upserts raced on a new _id
		}
		return err
	}
}

// ---------------------------------------------------------------------------
// Configurations and objectives

// PutConfiguration creates or replaces c.
func (d *DB) PutConfiguration(ctx context.Context, c forward.Configuration) error {
	doc := toConfigDoc(c)
	if err := fwdUpsert(ctx, d.fcoll(configsCollection), doc.Key, doc); err != nil {
		return fwdErr("put configuration", err)
	}
	return nil
}

// GetConfiguration returns a configuration; forward.ErrNotFound if missing.
func (d *DB) GetConfiguration(ctx context.Context, org, id string) (forward.Configuration, error) {
	var doc configDoc
	err := d.fcoll(configsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fkey(org, id)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return forward.Configuration{}, forward.ErrNotFound
	}
	if err != nil {
		return forward.Configuration{}, fwdErr("get configuration", err)
	}
	c, err := doc.config()
	if err != nil {
		return forward.Configuration{}, fwdErr("get configuration", err)
	}
	return c, nil
}

// ListConfigurations lists an organization's configurations by id.
func (d *DB) ListConfigurations(ctx context.Context, org string) ([]forward.Configuration, error) {
	var docs []configDoc
	if err := fwdFindAll(ctx, d.fcoll(configsCollection), idRange(org), options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), &docs); err != nil {
		return nil, fwdErr("list configurations", err)
	}
	out := make([]forward.Configuration, len(docs))
	for i, doc := range docs {
		c, err := doc.config()
		if err != nil {
			return nil, fwdErr("list configurations", err)
		}
		out[i] = c
	}
	return out, nil
}

func fwdFindAll(ctx context.Context, c *mongo.Collection, filter any, opts *options.FindOptionsBuilder, out any) error {
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// DeleteConfiguration removes a configuration; forward.ErrNotFound if
// missing.
func (d *DB) DeleteConfiguration(ctx context.Context, org, id string) error {
	res, err := d.fcoll(configsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: fkey(org, id)}})
	if err != nil {
		return fwdErr("delete configuration", err)
	}
	if res.DeletedCount == 0 {
		return forward.ErrNotFound
	}
	return nil
}

// PutObjective creates or replaces o.
func (d *DB) PutObjective(ctx context.Context, o forward.Objective) error {
	doc := toObjectiveDoc(o)
	if err := fwdUpsert(ctx, d.fcoll(objectivesCollection), doc.Key, doc); err != nil {
		return fwdErr("put objective", err)
	}
	return nil
}

// GetObjective returns an objective; forward.ErrNotFound if missing.
func (d *DB) GetObjective(ctx context.Context, org, id string) (forward.Objective, error) {
	var doc objectiveDoc
	err := d.fcoll(objectivesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fkey(org, id)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return forward.Objective{}, forward.ErrNotFound
	}
	if err != nil {
		return forward.Objective{}, fwdErr("get objective", err)
	}
	o, err := doc.objective()
	if err != nil {
		return forward.Objective{}, fwdErr("get objective", err)
	}
	return o, nil
}

func (d *DB) findObjectives(ctx context.Context, op string, filter any) ([]forward.Objective, error) {
	var docs []objectiveDoc
	if err := fwdFindAll(ctx, d.fcoll(objectivesCollection), filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), &docs); err != nil {
		return nil, fwdErr(op, err)
	}
	out := make([]forward.Objective, len(docs))
	for i, doc := range docs {
		o, err := doc.objective()
		if err != nil {
			return nil, fwdErr(op, err)
		}
		out[i] = o
	}
	return out, nil
}

// ListObjectives lists an organization's objectives by id.
func (d *DB) ListObjectives(ctx context.Context, org string) ([]forward.Objective, error) {
	return d.findObjectives(ctx, "list objectives", idRange(org))
}

// DeleteObjective removes an objective; forward.ErrNotFound if missing.
func (d *DB) DeleteObjective(ctx context.Context, org, id string) error {
	res, err := d.fcoll(objectivesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: fkey(org, id)}})
	if err != nil {
		return fwdErr("delete objective", err)
	}
	if res.DeletedCount == 0 {
		return forward.ErrNotFound
	}
	return nil
}

// ObjectivesFor returns the objectives of an activity (index org_activity).
func (d *DB) ObjectivesFor(ctx context.Context, org, activityID string) ([]forward.Objective, error) {
	return d.findObjectives(ctx, "objectives for", bson.D{{Key: "o", Value: org}, {Key: "a", Value: activityID}})
}

// ObjectiveOrgs returns the organizations that have at least one
// objective (the reconciler's work list), sorted.
func (d *DB) ObjectiveOrgs(ctx context.Context) ([]string, error) {
	// A projection scan rather than distinct, which not every compatible
	// server answers alike; objectives are few.
	var docs []struct {
		Org string `bson:"o"`
	}
	opts := options.Find().SetProjection(bson.D{{Key: "o", Value: 1}})
	if err := fwdFindAll(ctx, d.fcoll(objectivesCollection), bson.D{}, opts, &docs); err != nil {
		return nil, fwdErr("objective orgs", err)
	}
	orgs := make([]string, 0, len(docs))
	for _, doc := range docs {
		orgs = append(orgs, doc.Org)
	}
	slices.Sort(orgs)
	return slices.Compact(orgs), nil
}

// ---------------------------------------------------------------------------
// Deliveries

// EnsureDeliveries inserts unordered; a taken _id is the delivery already
// ensured, left as it is.
func (d *DB) EnsureDeliveries(ctx context.Context, ds []forward.Delivery) error {
	if len(ds) == 0 {
		return ctx.Err()
	}
	docs := make([]any, 0, len(ds))
	seen := make(map[string]bool, len(ds))
	for _, dl := range ds {
		doc := toDeliveryDoc(dl)
		if seen[doc.Key] {
			continue
		}
		seen[doc.Key] = true
		doc.LeaseOwner, doc.LeaseUntil = "", time.Time{}
		docs = append(docs, doc)
	}
	_, err := d.fcoll(deliveriesCollection).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		for _, we := range bwe.WriteErrors {
			if we.Code != duplicateKey {
				return fwdErr("ensure deliveries", err)
			}
		}
		return nil
	}
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return fwdErr("ensure deliveries", err)
}

// fwdLeaseDoc records who took one generation of a delivery, and until when
// that generation may stay unwritten before others skip it.
type fwdLeaseDoc struct {
	Key   string    `bson:"_id"`
	Owner string    `bson:"owner"`
	Until time.Time `bson:"until"`
}

func fwdLeaseKey(delivery string, gen int64) string { return fmt.Sprintf("%s\x00%020d", delivery, gen) }

var errGenTaken = errors.New("generation taken")

// transition moves the delivery cur (read at generation cur.Gen) to next,
// taking generation cur.Gen+1 first (or a later one, when the winner of a
// generation died without writing it). errGenTaken: another caller owns
// the next generation; the caller's view is stale.
func (d *DB) transition(ctx context.Context, cur deliveryDoc, next deliveryDoc, owner string, until, now time.Time) error {
	leases := d.fcoll(leasesCollection)
	gen := cur.Gen + 1
	for range 3 {
		_, err := leases.InsertOne(ctx, fwdLeaseDoc{Key: fwdLeaseKey(cur.Key, gen), Owner: owner, Until: fwdMs(until)})
		if err == nil {
			break
		}
		if !mongo.IsDuplicateKeyError(err) {
			return err
		}
		// Taken: by a live caller (the delivery moves on), or by one that
		// died before writing the delivery (its lease ran out).
		var held fwdLeaseDoc
		if err := leases.FindOne(ctx, bson.D{{Key: "_id", Value: fwdLeaseKey(cur.Key, gen)}}).Decode(&held); err != nil {
			if errors.Is(err, mongo.ErrNoDocuments) {
				return errGenTaken // cleaned up: the delivery moved on
			}
			return err
		}
		if !held.Until.Before(now) {
			return errGenTaken
		}
		var latest deliveryDoc
		if err := d.fcoll(deliveriesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: cur.Key}}).Decode(&latest); err != nil {
			return err
		}
		if latest.Gen != cur.Gen {
			return errGenTaken
		}
		gen++
		if gen > cur.Gen+3 {
			return errGenTaken
		}
	}
	next.Gen, next.V = gen, fwdDocVersion
	res, err := d.fcoll(deliveriesCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: cur.Key}, {Key: "g", Value: cur.Gen}}, next)
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return errGenTaken
	}
	if gen >= 2 {
		_, err := leases.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{
			{Key: "$gte", Value: cur.Key + "\x00"},
			{Key: "$lt", Value: fwdLeaseKey(cur.Key, gen-1)},
		}}})
		if err != nil {
			d.logger.Warn("mongo: drop old delivery leases", "error", err)
		}
	}
	return nil
}

// DueConfigurations walks the due deliveries' index by configuration (a
// loose scan of state_org_config_next_attempt_id: one query per organization
// and per configuration with due deliveries, whatever their number).
func (d *DB) DueConfigurations(ctx context.Context, now time.Time) ([]forward.ConfigKey, error) {
	now = fwdMs(now)
	coll := d.fcoll(deliveriesCollection)
	due := bson.E{Key: "na", Value: bson.D{{Key: "$lte", Value: now}}}
	type key struct {
		Org    string `bson:"o"`
		Config string `bson:"c"`
	}
	next := func(filter bson.D, sort bson.D) (key, bool, error) {
		var k key
		err := coll.FindOne(ctx, filter, options.FindOne().SetSort(sort).
			SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "o", Value: 1}, {Key: "c", Value: 1}})).Decode(&k)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return k, false, nil
		}
		return k, err == nil, err
	}
	out := []forward.ConfigKey{}
	org := bson.D{{Key: "$gte", Value: ""}}
	for {
		k, ok, err := next(bson.D{{Key: "s", Value: forward.StatePending}, {Key: "o", Value: org}, due},
			bson.D{{Key: "s", Value: 1}, {Key: "o", Value: 1}})
		if err != nil {
			return nil, fwdErr("due configurations", err)
		}
		if !ok {
			return out, nil
		}
		cfg := bson.D{{Key: "$gte", Value: ""}}
		for {
			c, ok, err := next(bson.D{{Key: "s", Value: forward.StatePending}, {Key: "o", Value: k.Org}, {Key: "c", Value: cfg}, due},
				bson.D{{Key: "s", Value: 1}, {Key: "o", Value: 1}, {Key: "c", Value: 1}})
			if err != nil {
				return nil, fwdErr("due configurations", err)
			}
			if !ok {
				break
			}
			out = append(out, forward.ConfigKey{Org: c.Org, ID: c.Config})
			cfg = bson.D{{Key: "$gt", Value: c.Config}}
		}
		org = bson.D{{Key: "$gt", Value: k.Org}}
	}
}

// ClaimDeliveries reads the configuration's due, free pending deliveries
// in NextAttempt order (index state_org_config_next_attempt_id, which
// gives the sort {na, _id} after the equalities on s, o and c) and leases
// each by taking its next generation; a delivery another claimer took is
// passed over.
func (d *DB) ClaimDeliveries(ctx context.Context, c forward.Claim) ([]forward.Delivery, error) {
	out := []forward.Delivery{}
	if c.Limit <= 0 {
		return out, ctx.Err()
	}
	now := fwdMs(c.Now)
	dueBy := fwdMs(c.DueBy)
	if dueBy.IsZero() {
		dueBy = now
	}
	until := fwdMs(now.Add(c.Lease))
	filter := bson.D{
		{Key: "s", Value: forward.StatePending},
		{Key: "o", Value: c.Org},
		{Key: "c", Value: c.ConfigurationID},
		{Key: "na", Value: bson.D{{Key: "$lte", Value: dueBy}}},
		{Key: "lu", Value: bson.D{{Key: "$lte", Value: now}}},
	}
	for round := 0; round < 4 && len(out) < c.Limit; round++ {
		batch := int64(2*(c.Limit-len(out)) + 8)
		var cands []deliveryDoc
		opts := options.Find().SetSort(bson.D{{Key: "na", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(batch)
		if err := fwdFindAll(ctx, d.fcoll(deliveriesCollection), filter, opts, &cands); err != nil {
			return nil, fwdErr("claim deliveries", err)
		}
		for _, cand := range cands {
			if len(out) == c.Limit {
				break
			}
			next := cand
			next.LeaseOwner, next.LeaseUntil = c.Owner, until
			err := d.transition(ctx, cand, next, c.Owner, until, now)
			if errors.Is(err, errGenTaken) {
				continue // another claimer has it
			}
			if err != nil {
				return nil, fwdErr("claim deliveries", err)
			}
			dl, err := next.delivery()
			if err != nil {
				return nil, fwdErr("claim deliveries", err)
			}
			out = append(out, dl)
		}
		if int64(len(cands)) < batch {
			break
		}
	}
	return out, nil
}

// UpdateDelivery stores dl's progress if owner still holds the lease, and
// releases it (a generation of its own, so that a claim cannot interleave).
func (d *DB) UpdateDelivery(ctx context.Context, dl forward.Delivery, owner string) error {
	err := d.updateDelivery(ctx, dl, owner)
	if err != nil && !errors.Is(err, forward.ErrNotFound) && !errors.Is(err, forward.ErrLeaseLost) {
		return fwdErr("update delivery", err)
	}
	return err
}

// UpdateDeliveries is UpdateDelivery for each delivery (one transition
// each: there is no multi-document write without transactions).
func (d *DB) UpdateDeliveries(ctx context.Context, ds []forward.Delivery, owner string) ([]error, error) {
	out := make([]error, len(ds))
	for i, dl := range ds {
		err := d.updateDelivery(ctx, dl, owner)
		if err != nil && !errors.Is(err, forward.ErrNotFound) && !errors.Is(err, forward.ErrLeaseLost) {
			return nil, fwdErr("update deliveries", err)
		}
		out[i] = err
	}
	return out, nil
}

func (d *DB) updateDelivery(ctx context.Context, dl forward.Delivery, owner string) error {
	var cur deliveryDoc
	err := d.fcoll(deliveriesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fkey(dl.Org, dl.ConfigurationID, dl.StatementID)}}).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return forward.ErrNotFound
	}
	if err != nil {
		return err
	}
	if cur.LeaseOwner == "" || cur.LeaseOwner != owner {
		return forward.ErrLeaseLost
	}
	u := toDeliveryDoc(dl)
	next := cur
	next.State, next.Attempts, next.NextAttempt = u.State, u.Attempts, u.NextAttempt
	next.FirstFailure, next.LastAttempt, next.LastStatus = u.FirstFailure, u.LastAttempt, u.LastStatus
	next.LastError, next.Reason, next.UpdatedAt = u.LastError, u.Reason, u.UpdatedAt
	if next.UpdatedAt.IsZero() {
		next.UpdatedAt = fwdMs(time.Now())
	}
	next.LeaseOwner, next.LeaseUntil = "", time.Time{}
	now := fwdMs(time.Now())
	err = d.transition(ctx, cur, next, owner, cur.LeaseUntil, now)
	if errors.Is(err, errGenTaken) {
		return forward.ErrLeaseLost
	}
	return err
}

// GetDelivery returns one delivery; forward.ErrNotFound if missing.
func (d *DB) GetDelivery(ctx context.Context, org, configID, statementID string) (forward.Delivery, error) {
	var doc deliveryDoc
	err := d.fcoll(deliveriesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fkey(org, configID, statementID)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return forward.Delivery{}, forward.ErrNotFound
	}
	if err != nil {
		return forward.Delivery{}, fwdErr("get delivery", err)
	}
	dl, err := doc.delivery()
	if err != nil {
		return forward.Delivery{}, fwdErr("get delivery", err)
	}
	return dl, nil
}

func (d *DB) findDeliveries(ctx context.Context, op string, filter any, opts *options.FindOptionsBuilder) ([]forward.Delivery, error) {
	var docs []deliveryDoc
	if err := fwdFindAll(ctx, d.fcoll(deliveriesCollection), filter, opts, &docs); err != nil {
		return nil, fwdErr(op, err)
	}
	out := make([]forward.Delivery, len(docs))
	for i, doc := range docs {
		dl, err := doc.delivery()
		if err != nil {
			return nil, fwdErr(op, err)
		}
		out[i] = dl
	}
	return out, nil
}

// ListDeliveries lists a configuration's deliveries in state ("" for all),
// newest CreatedAt first.
func (d *DB) ListDeliveries(ctx context.Context, org, configID, state string, limit int) ([]forward.Delivery, error) {
	if limit <= 0 {
		return []forward.Delivery{}, ctx.Err()
	}
	filter := bson.D{{Key: "o", Value: org}, {Key: "c", Value: configID}}
	if state != "" {
		filter = append(filter, bson.E{Key: "s", Value: state})
	}
	opts := options.Find().SetSort(bson.D{{Key: "ca", Value: -1}, {Key: "st", Value: -1}}).SetLimit(int64(limit))
	return d.findDeliveries(ctx, "list deliveries", filter, opts)
}

// DeliveriesOfStatement lists the deliveries one statement owes (index
// org_statement).
func (d *DB) DeliveriesOfStatement(ctx context.Context, org, statementID string) ([]forward.Delivery, error) {
	return d.findDeliveries(ctx, "deliveries of statement",
		bson.D{{Key: "o", Value: org}, {Key: "st", Value: statementID}},
		options.Find().SetSort(bson.D{{Key: "c", Value: 1}}))
}

// Redrive makes the configuration's deliveries in states pending, due at
// now, with Attempts, FirstFailure and Reason reset, each by a generation
// of its own (see transition).
func (d *DB) Redrive(ctx context.Context, org, configID string, states []string, now time.Time) (int, error) {
	if len(states) == 0 {
		return 0, ctx.Err()
	}
	now = fwdMs(now)
	var docs []deliveryDoc
	filter := bson.D{{Key: "o", Value: org}, {Key: "c", Value: configID}, {Key: "s", Value: bson.D{{Key: "$in", Value: states}}}}
	if err := fwdFindAll(ctx, d.fcoll(deliveriesCollection), filter, options.Find(), &docs); err != nil {
		return 0, fwdErr("redrive", err)
	}
	n := 0
	for _, cur := range docs {
		if cur.State == forward.StatePending && ((cur.LeaseOwner != "" && cur.LeaseUntil.After(now)) ||
			(!cur.NextAttempt.After(now) && cur.Attempts == 0 && cur.FirstFailure.IsZero() && cur.Reason == "")) {
			continue // being sent, or due now with a fresh schedule already
		}
		next := cur
		next.State, next.Attempts, next.NextAttempt = forward.StatePending, 0, now
		next.FirstFailure, next.Reason, next.UpdatedAt = time.Time{}, "", now
		next.LeaseOwner, next.LeaseUntil = "", time.Time{}
		err := d.transition(ctx, cur, next, "redrive", now, now)
		if errors.Is(err, errGenTaken) {
			continue // changed meanwhile: its new state stands
		}
		if err != nil {
			return n, fwdErr("redrive", err)
		}
		n++
	}
	return n, nil
}

// ReopenDelivery makes one delivered, rejected or parked delivery, or a
// skipped one its destination skipped, pending, due at now, with a fresh
// schedule (an overwrite delivery whose result changed), by a generation
// of its own (see transition).
func (d *DB) ReopenDelivery(ctx context.Context, org, configID, statementID string, now time.Time) (bool, error) {
	now = fwdMs(now)
	for range 3 {
		var cur deliveryDoc
		err := d.fcoll(deliveriesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fkey(org, configID, statementID)}}).Decode(&cur)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, fwdErr("reopen delivery", err)
		}
		switch cur.State {
		case forward.StateDelivered, forward.StateRejected, forward.StateParked:
		case forward.StateSkipped:
			if cur.LastAttempt.IsZero() {
				return false, nil // skipped before any attempt: nothing to send it with
			}
		default:
			return false, nil
		}
		next := cur
		next.State, next.Attempts, next.NextAttempt = forward.StatePending, 0, now
		next.FirstFailure, next.Reason, next.UpdatedAt = time.Time{}, "", now
		next.LeaseOwner, next.LeaseUntil = "", time.Time{}
		err = d.transition(ctx, cur, next, "reopen", now, now)
		if errors.Is(err, errGenTaken) {
			continue // changed meanwhile: read it again
		}
		if err != nil {
			return false, fwdErr("reopen delivery", err)
		}
		return true, nil
	}
	return false, fwdErr("reopen delivery", errGenTaken)
}

// CountDeliveries counts a configuration's deliveries by state (index
// org_config_state_created); OldestPending is the CreatedAt of the oldest
// pending one.
func (d *DB) CountDeliveries(ctx context.Context, org, configID string) (forward.Counts, error) {
	var c forward.Counts
	coll := d.fcoll(deliveriesCollection)
	for _, st := range []struct {
		state string
		n     *int
	}{
		{forward.StatePending, &c.Pending},
		{forward.StateDelivered, &c.Delivered},
		{forward.StateParked, &c.Parked},
		{forward.StateRejected, &c.Rejected},
		{forward.StateSkipped, &c.Skipped},
	} {
		n, err := coll.CountDocuments(ctx, bson.D{{Key: "o", Value: org}, {Key: "c", Value: configID}, {Key: "s", Value: st.state}})
		if err != nil {
			return forward.Counts{}, fwdErr("count deliveries", err)
		}
		*st.n = int(n)
	}
	if c.Pending > 0 {
		var oldest deliveryDoc
		err := coll.FindOne(ctx, bson.D{{Key: "o", Value: org}, {Key: "c", Value: configID}, {Key: "s", Value: forward.StatePending}},
			options.FindOne().SetSort(bson.D{{Key: "ca", Value: 1}})).Decode(&oldest)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return forward.Counts{}, fwdErr("count deliveries", err)
		}
		c.OldestPending = fwdTime(oldest.CreatedAt)
	}
	return c, nil
}

// ---------------------------------------------------------------------------
// Statuses, delivery log, watermarks

// GetStatus returns a configuration's status; forward.ErrNotFound if never
// set.
func (d *DB) GetStatus(ctx context.Context, org, configID string) (forward.ConfigStatus, error) {
	var doc statusDoc
	err := d.fcoll(statusesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fkey(org, configID)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return forward.ConfigStatus{}, forward.ErrNotFound
	}
	if err != nil {
		return forward.ConfigStatus{}, fwdErr("get status", err)
	}
	s, err := doc.status()
	if err != nil {
		return forward.ConfigStatus{}, fwdErr("get status", err)
	}
	return s, nil
}

// PutStatus stores s.
func (d *DB) PutStatus(ctx context.Context, s forward.ConfigStatus) error {
	doc := toStatusDoc(s)
	if err := fwdUpsert(ctx, d.fcoll(statusesCollection), doc.Key, doc); err != nil {
		return fwdErr("put status", err)
	}
	return nil
}

var fwdAttemptSeq atomic.Uint64

func init() { fwdAttemptSeq.Store(uint64(time.Now().UnixNano())) }

// SetAttemptCap sets how many delivery log entries a configuration keeps
// (forward.AttemptLogCap when n <= 0). For tests.
func (d *DB) SetAttemptCap(n int) { d.attemptCap.Store(int64(n)) }

func (d *DB) attemptsKept() int {
	if n := d.attemptCap.Load(); n > 0 {
		return int(n)
	}
	return forward.AttemptLogCap
}

// AddAttempt inserts into the configuration's delivery log, then deletes
// the entries older than the cap's newest ones (_id order is time order).
func (d *DB) AddAttempt(ctx context.Context, a forward.Attempt) error {
	a.At = fwdMs(a.At)
	prefix := fkey(a.Org, a.ConfigurationID)
	key := fmt.Sprintf("%s\x00%020d\x00%020d", prefix, a.At.UnixMilli()-fwdMinMs, fwdAttemptSeq.Add(1))
	coll := d.fcoll(attemptsCollection)
	if _, err := coll.InsertOne(ctx, toAttemptDoc(key, a)); err != nil {
		return fwdErr("add attempt", err)
	}
	var cut struct {
		Key string `bson:"_id"`
	}
	err := coll.FindOne(ctx, idRange(prefix), options.FindOne().
		SetSort(bson.D{{Key: "_id", Value: -1}}).SetSkip(int64(d.attemptsKept())).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&cut)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d.countAttemptErr(ctx, a)
	}
	if err != nil {
		return fwdErr("add attempt", err)
	}
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: prefix + "\x00"}, {Key: "$lte", Value: cut.Key}}}}); err != nil {
		return fwdErr("add attempt", err)
	}
	return d.countAttemptErr(ctx, a)
}

// fwdMinMs offsets attempt times so that every one is a non-negative number
// (20 digits sort like the numbers).
const fwdMinMs = -62135596800000 // 0001-01-01

// ListAttempts lists the configuration's delivery log, newest first.
func (d *DB) ListAttempts(ctx context.Context, org, configID string, limit int) ([]forward.Attempt, error) {
	if limit <= 0 {
		return []forward.Attempt{}, ctx.Err()
	}
	var docs []attemptDoc
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit))
	if err := fwdFindAll(ctx, d.fcoll(attemptsCollection), idRange(fkey(org, configID)), opts, &docs); err != nil {
		return nil, fwdErr("list attempts", err)
	}
	out := make([]forward.Attempt, len(docs))
	for i, doc := range docs {
		a, err := doc.attempt()
		if err != nil {
			return nil, fwdErr("list attempts", err)
		}
		out[i] = a
	}
	return out, nil
}

// GetWatermark returns the named watermark, zero if never set.
func (d *DB) GetWatermark(ctx context.Context, name string) (time.Time, error) {
	var doc struct {
		T time.Time `bson:"t"`
	}
	err := d.fcoll(watermarksCollection).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fwdErr("get watermark", err)
	}
	return fwdTime(doc.T), nil
}

// SetWatermark stores the named watermark (milliseconds).
func (d *DB) SetWatermark(ctx context.Context, name string, t time.Time) error {
	if err := fwdUpsert(ctx, d.fcoll(watermarksCollection), name, bson.D{{Key: "_id", Value: name}, {Key: "t", Value: fwdMs(t)}}); err != nil {
		return fwdErr("set watermark", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Periods and the digest queue

// periodKey orders periods numerically (sign bit flipped, 20 digits) and
// generations after them.
func periodKey(name string, period int64, gen int) string {
	return fmt.Sprintf("%s\x00%020d\x00%04d", name, uint64(period)^(1<<63), gen)
}

// latestPeriod returns the latest generation of a period's claim.
func (d *DB) latestPeriod(ctx context.Context, name string, period int64) (periodDoc, bool, error) {
	var doc periodDoc
	err := d.fcoll(periodsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: periodKey(name, period, 0)}, {Key: "$lte", Value: periodKey(name, period, 9999)},
	}}}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return doc, false, nil
	}
	if err != nil {
		return doc, false, err
	}
	return doc, true, checkDocVersion(doc.V)
}

// ClaimPeriod inserts the period's first generation; when it exists and is
// neither finished nor held, the next one (a takeover). Only one caller's
// insert of a generation succeeds.
func (d *DB) ClaimPeriod(ctx context.Context, name string, period int64, owner string, now, until time.Time) (bool, error) {
	coll := d.fcoll(periodsCollection)
	doc := periodDoc{V: fwdDocVersion, Name: name, Period: period, Owner: owner, Until: fwdMs(until)}
	for gen := 0; ; {
		doc.Key, doc.Gen = periodKey(name, period, gen), gen
		_, err := coll.InsertOne(ctx, doc)
		if err == nil {
			break
		}
		if !mongo.IsDuplicateKeyError(err) {
			return false, fwdErr("claim period", err)
		}
		cur, ok, err := d.latestPeriod(ctx, name, period)
		if err != nil {
			return false, fwdErr("claim period", err)
		}
		if !ok || cur.Gen > gen || !cur.Finished.IsZero() || cur.Until.After(fwdMs(now)) || cur.Gen >= 9999 {
			return false, nil // finished, held, or taken over by another meanwhile
		}
		gen = cur.Gen + 1
	}
	// Periods before the previous one are of no use any more.
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: name + "\x00"}, {Key: "$lt", Value: periodKey(name, period-1, 0)},
	}}}); err != nil {
		d.logger.Warn("mongo: drop old period claims", "error", err)
	}
	return true, nil
}

// FinishPeriod marks owner's claim finished, if owner holds the latest
// generation (only its owner writes a generation after its insert).
func (d *DB) FinishPeriod(ctx context.Context, name string, period int64, owner string, at time.Time) error {
	cur, ok, err := d.latestPeriod(ctx, name, period)
	if err != nil {
		return fwdErr("finish period", err)
	}
	if !ok || cur.Owner != owner || !cur.Finished.IsZero() {
		return nil
	}
	if _, err := d.fcoll(periodsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: cur.Key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "fin", Value: fwdMs(at)}}}}); err != nil {
		return fwdErr("finish period", err)
	}
	return nil
}

// LastPeriod returns the latest finished period of a task.
func (d *DB) LastPeriod(ctx context.Context, name string) (int64, time.Time, bool, error) {
	var doc periodDoc
	err := d.fcoll(periodsCollection).FindOne(ctx, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$gte", Value: name + "\x00"}, {Key: "$lt", Value: name + "\x01"}}},
		{Key: "fin", Value: bson.D{{Key: "$gt", Value: time.Time{}}}},
	}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fwdErr("last period", err)
	}
	return doc.Period, fwdTime(doc.Finished), true, checkDocVersion(doc.V)
}

// AddRejected upserts the items awaiting the digest.
func (d *DB) AddRejected(ctx context.Context, items []forward.PendingRejection) error {
	coll := d.fcoll(rejectionsCollection)
	for _, it := range items {
		doc := rejectionDoc{Key: fkey(it.Org, it.ConfigurationID, it.StatementID), V: fwdDocVersion, Org: it.Org,
			Config: it.ConfigurationID, Statement: it.StatementID, Reason: it.Reason, At: fwdMs(it.At)}
		if err := fwdUpsert(ctx, coll, doc.Key, doc); err != nil {
			return fwdErr("add rejected", err)
		}
	}
	return nil
}

// PendingRejected lists the items awaiting the digest, by _id.
func (d *DB) PendingRejected(ctx context.Context, limit int) ([]forward.PendingRejection, error) {
	if limit <= 0 {
		return []forward.PendingRejection{}, ctx.Err()
	}
	var docs []rejectionDoc
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit))
	if err := fwdFindAll(ctx, d.fcoll(rejectionsCollection), bson.D{}, opts, &docs); err != nil {
		return nil, fwdErr("pending rejected", err)
	}
	out := make([]forward.PendingRejection, len(docs))
	for i, doc := range docs {
		p, err := doc.pending()
		if err != nil {
			return nil, fwdErr("pending rejected", err)
		}
		out[i] = p
	}
	return out, nil
}

// DropRejected deletes the mailed items whose time is still the one mailed.
func (d *DB) DropRejected(ctx context.Context, items []forward.PendingRejection) error {
	coll := d.fcoll(rejectionsCollection)
	for _, it := range items {
		if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: fkey(it.Org, it.ConfigurationID, it.StatementID)},
			{Key: "at", Value: fwdMs(it.At)}}); err != nil {
			return fwdErr("drop rejected", err)
		}
	}
	return nil
}
