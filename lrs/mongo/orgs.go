package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/auth"
)

// Organizations live in the organizations collection, _id = the id (few
// documents, unsharded). Credentials are listed by org with a query on the
// credentials collection (an administrative, rare operation).

var _ auth.AdminStore = (*DB)(nil)

type orgDoc struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name"`
	CreatedAt time.Time `bson:"created"`
}

func (d *DB) orgs() *mongo.Collection { return d.db.Collection("organizations") }

// CreateOrg stores o; auth.ErrOrgTaken if its id exists.
func (d *DB) CreateOrg(ctx context.Context, o auth.Organization) error {
	_, err := d.orgs().InsertOne(ctx, orgDoc{ID: o.ID, Name: o.Name, CreatedAt: o.CreatedAt.UTC().Truncate(time.Millisecond)})
	if mongo.IsDuplicateKeyError(err) {
		return auth.ErrOrgTaken
	}
	if err != nil {
		return translate(fmt.Errorf("mongo: create organization: %w", err))
	}
	return nil
}

// GetOrg returns an organization; auth.ErrOrgNotFound if none.
func (d *DB) GetOrg(ctx context.Context, id string) (auth.Organization, error) {
	var doc orgDoc
	err := d.orgs().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return auth.Organization{}, auth.ErrOrgNotFound
	}
	if err != nil {
		return auth.Organization{}, translate(fmt.Errorf("mongo: get organization: %w", err))
	}
	return auth.Organization{ID: doc.ID, Name: doc.Name, CreatedAt: doc.CreatedAt.UTC()}, nil
}

// ListOrgs returns every organization, ordered by id.
func (d *DB) ListOrgs(ctx context.Context) ([]auth.Organization, error) {
	cur, err := d.orgs().Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: list organizations: %w", err))
	}
	var docs []orgDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: list organizations: %w", err))
	}
	out := make([]auth.Organization, len(docs))
	for i, doc := range docs {
		out[i] = auth.Organization{ID: doc.ID, Name: doc.Name, CreatedAt: doc.CreatedAt.UTC()}
	}
	return out, nil
}

// UpdateOrg renames an organization; auth.ErrOrgNotFound if none.
func (d *DB) UpdateOrg(ctx context.Context, o auth.Organization) error {
	res, err := d.orgs().UpdateOne(ctx, bson.D{{Key: "_id", Value: o.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: o.Name}}}})
	if err != nil {
		return translate(fmt.Errorf("mongo: update organization: %w", err))
	}
	if res.MatchedCount == 0 {
		return auth.ErrOrgNotFound
	}
	return nil
}

// DeleteOrg removes an organization record; auth.ErrOrgNotFound if none.
func (d *DB) DeleteOrg(ctx context.Context, id string) error {
	res, err := d.orgs().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return translate(fmt.Errorf("mongo: delete organization: %w", err))
	}
	if res.DeletedCount == 0 {
		return auth.ErrOrgNotFound
	}
	return nil
}

// ListCredentials returns the credentials of org, ordered by key.
func (d *DB) ListCredentials(ctx context.Context, org string) ([]auth.Credential, error) {
	cur, err := d.credentials.Find(ctx, bson.D{{Key: "org", Value: org}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: list credentials: %w", err))
	}
	var docs []credentialDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: list credentials: %w", err))
	}
	keys := make([]string, len(docs))
	for i, doc := range docs {
		keys[i] = doc.Key
	}
	cur, err = d.usage().Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: list credential usage: %w", err))
	}
	var usage []usageDoc
	if err := cur.All(ctx, &usage); err != nil {
		return nil, translate(fmt.Errorf("mongo: list credential usage: %w", err))
	}
	used := make(map[string]usageDoc, len(usage))
	for _, u := range usage {
		used[u.Key] = u
	}
	out := make([]auth.Credential, len(docs))
	for i, doc := range docs {
		if u, ok := used[doc.Key]; ok {
			doc.useLast(u)
		}
		out[i] = doc.credential()
	}
	return out, nil
}

// UpdateCredential applies u; auth.ErrNotFound if the key is unknown.
func (d *DB) UpdateCredential(ctx context.Context, key string, u auth.CredentialUpdate) (auth.Credential, error) {
	id := bson.D{{Key: "_id", Value: key}}
	set, unset := bson.D{}, bson.D{}
	if u.Name != nil {
		set = append(set, bson.E{Key: "name", Value: *u.Name})
	}
	if u.Scopes != nil {
		set = append(set, bson.E{Key: "scopes", Value: append([]string{}, (*u.Scopes)...)})
	}
	if u.ExpiresAt != nil {
		if u.ExpiresAt.IsZero() {
			unset = append(unset, bson.E{Key: "expires", Value: ""})
		} else {
			set = append(set, bson.E{Key: "expires", Value: msOrZero(*u.ExpiresAt)})
		}
	}
	upd := bson.D{}
	if len(set) > 0 {
		upd = append(upd, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	if len(upd) > 0 {
		res, err := d.credentials.UpdateOne(ctx, id, upd)
		if err != nil {
			return auth.Credential{}, translate(fmt.Errorf("mongo: update credential: %w", err))
		}
		if res.MatchedCount == 0 {
			return auth.Credential{}, auth.ErrNotFound
		}
	}
	if u.RevokedAt != nil {
		// Only the first revocation sets the time.
		_, err := d.credentials.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: key}, {Key: "revoked", Value: bson.D{{Key: "$ne", Value: true}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}, {Key: "revokedAt", Value: msOrZero(*u.RevokedAt)}}}})
		if err != nil {
			return auth.Credential{}, translate(fmt.Errorf("mongo: revoke credential: %w", err))
		}
	}
	return d.GetCredential(ctx, key)
}

// TouchCredential moves LastUsed forward to t; a missing key is not an error.
// It writes the credential_usage record only (see usageDoc).
func (d *DB) TouchCredential(ctx context.Context, key string, t time.Time) error {
	touch := func() error {
		_, err := d.usage().UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
			bson.D{{Key: "$max", Value: bson.D{{Key: "lastUsed", Value: msOrZero(t)}}}},
			options.UpdateOne().SetUpsert(true))
		return err
	}
	err := touch()
	if mongo.IsDuplicateKeyError(err) { // a concurrent first touch inserted the record
		err = touch()
	}
	if err != nil {
		return translate(fmt.Errorf("mongo: touch credential: %w", err))
	}
	return nil
}

// DeleteCredential removes a credential; auth.ErrNotFound if none.
func (d *DB) DeleteCredential(ctx context.Context, key string) error {
	res, err := d.credentials.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	if err != nil {
		return translate(fmt.Errorf("mongo: delete credential: %w", err))
	}
	if res.DeletedCount == 0 {
		return auth.ErrNotFound
	}
	// The credential is gone; a usage record left behind (this delete
	// failing, or a touch in flight) is ignored by a later credential of
	// the same key, which is newer than it (useLast).
	_, _ = d.usage().DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	return nil
}
