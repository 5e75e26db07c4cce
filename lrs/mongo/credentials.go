package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/lrs-project/lrs/auth"
)

type credentialDoc struct {
	Key        string    `bson:"_id"`
	SecretHash []byte    `bson:"hash"`
	Salt       []byte    `bson:"salt"`
	Org        string    `bson:"org"`
	Name       string    `bson:"name"`
	Scopes     []string  `bson:"scopes"`
	Authority  string    `bson:"authority"`
	CreatedAt  time.Time `bson:"created"`
	ExpiresAt  time.Time `bson:"expires,omitempty"`
	Revoked    bool      `bson:"revoked,omitempty"`
	RevokedAt  time.Time `bson:"revokedAt,omitempty"`
	LastUsed   time.Time `bson:"lastUsed,omitempty"`
}

func (doc credentialDoc) credential() auth.Credential {
	return auth.Credential{
		Key: doc.Key, SecretHash: doc.SecretHash, Salt: doc.Salt, Org: doc.Org, Name: doc.Name,
		Scopes: doc.Scopes, Authority: []byte(doc.Authority), CreatedAt: doc.CreatedAt.UTC(),
		ExpiresAt: utcOrZero(doc.ExpiresAt), Revoked: doc.Revoked, RevokedAt: utcOrZero(doc.RevokedAt),
		LastUsed: utcOrZero(doc.LastUsed),
	}
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func msOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// CreateCredential stores a credential; auth.ErrKeyTaken if the key exists.
func (d *DB) CreateCredential(ctx context.Context, c auth.Credential) error {
	_, err := d.credentials.InsertOne(ctx, credentialDoc{
		Key: c.Key, SecretHash: slices.Clone(c.SecretHash), Salt: slices.Clone(c.Salt), Org: c.Org,
		Name: c.Name, Scopes: slices.Clone(c.Scopes), Authority: string(c.Authority),
		CreatedAt: c.CreatedAt.UTC().Truncate(time.Millisecond),
		ExpiresAt: msOrZero(c.ExpiresAt), Revoked: c.Revoked, RevokedAt: msOrZero(c.RevokedAt),
		LastUsed: msOrZero(c.LastUsed),
	})
	if mongo.IsDuplicateKeyError(err) {
		return auth.ErrKeyTaken
	}
	if err != nil {
		return translate(fmt.Errorf("mongo: create credential: %w", err))
	}
	return nil
}

// GetCredential reads a credential; auth.ErrNotFound if none.
func (d *DB) GetCredential(ctx context.Context, key string) (auth.Credential, error) {
	var doc credentialDoc
	err := d.credentials.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return auth.Credential{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Credential{}, translate(fmt.Errorf("mongo: get credential: %w", err))
	}
	var u usageDoc
	switch err := d.usage().FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&u); {
	case err == nil:
		doc.useLast(u)
	case !errors.Is(err, mongo.ErrNoDocuments):
		return auth.Credential{}, translate(fmt.Errorf("mongo: get credential usage: %w", err))
	}
	return doc.credential(), nil
}

// A credential's LastUsed is kept in the credential_usage collection, apart
// from the credential: busy processes touch it at any moment, and a
// MongoDB-compatible server that updates a document by reading and
// rewriting it whole (FerretDB) would let a touch undo an administrator's
// revocation of the same document. The lastUsed field of a credential
// document is still read (documents written before the split).
type usageDoc struct {
	Key      string    `bson:"_id"`
	LastUsed time.Time `bson:"lastUsed"`
}

func (d *DB) usage() *mongo.Collection { return d.db.Collection("credential_usage") }

// useLast takes the later of the two LastUsed times, ignoring a usage
// record older than the credential (left by a deleted predecessor).
func (doc *credentialDoc) useLast(u usageDoc) {
	if u.LastUsed.After(doc.LastUsed) && !u.LastUsed.Before(doc.CreatedAt) {
		doc.LastUsed = u.LastUsed
	}
}

// CountCredentials counts credentials in all organizations.
func (d *DB) CountCredentials(ctx context.Context) (int, error) {
	n, err := d.credentials.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, translate(fmt.Errorf("mongo: count credentials: %w", err))
	}
	return int(n), nil
}
