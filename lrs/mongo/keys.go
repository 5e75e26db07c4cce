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

// The LRS's own secret keys live in the keys collection, _id = the name.
// The unique _id makes the first insert win; every other process reads it.

var _ auth.KeyStore = (*DB)(nil)

type keyDoc struct {
	Name    string    `bson:"_id"`
	Value   []byte    `bson:"value"`
	Created time.Time `bson:"created"`
}

func (d *DB) keys() *mongo.Collection { return d.db.Collection("keys") }

// EnsureKey stores value under name unless a key of that name exists, and
// returns the key stored under name.
func (d *DB) EnsureKey(ctx context.Context, name string, value []byte) ([]byte, error) {
	if len(value) == 0 {
		return nil, errors.New("mongo: ensure key: empty value")
	}
	_, err := d.keys().InsertOne(ctx, keyDoc{Name: name, Value: slices.Clone(value), Created: time.Now().UTC().Truncate(time.Millisecond)})
	switch {
	case err == nil:
		return slices.Clone(value), nil
	case !mongo.IsDuplicateKeyError(err):
		return nil, translate(fmt.Errorf("mongo: ensure key %s: %w", name, err))
	}
	var doc keyDoc
	if err := d.keys().FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&doc); err != nil {
		return nil, translate(fmt.Errorf("mongo: ensure key %s: read the stored key: %w", name, err))
	}
	if len(doc.Value) == 0 {
		return nil, fmt.Errorf("mongo: ensure key %s: the stored key is empty", name)
	}
	return doc.Value, nil
}
