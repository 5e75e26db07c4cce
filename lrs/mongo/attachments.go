package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/lrs"
)

var _ lrs.AttachmentStore = (*DB)(nil)

// MaxAttachmentBytes is the largest attachment body this engine stores.
// Each body is one document of the attachments collection
// (_id "<org>\x00<sha2>", shard key {_id: "hashed"}), and a MongoDB
// document is at most 16 MiB; a larger body is refused with ETOOLARGE
// (413) rather than split into chunks.
const MaxAttachmentBytes = 15 << 20

// attachmentDoc is one attachment body.
type attachmentDoc struct {
	Key         string `bson:"_id"` // org + "\x00" + sha2
	Org         string `bson:"o"`
	SHA2        string `bson:"h"`
	ContentType string `bson:"ct"`
	Data        []byte `bson:"d"`
}

func (d *DB) attachments() *mongo.Collection { return d.db.Collection("attachments") }

// PutAttachments upserts each body with $setOnInsert, so that a body
// already stored is left as it is.
func (d *DB) PutAttachments(ctx context.Context, org string, atts []lrs.AttachmentBody) error {
	for _, a := range atts {
		if len(a.Data) > MaxAttachmentBytes {
			return lrs.Errorf(lrs.ETOOLARGE, "attachment %s is %d bytes; this LRS stores attachments of at most %d bytes", a.SHA2, len(a.Data), MaxAttachmentBytes)
		}
	}
	seen := make(map[string]bool, len(atts))
	for _, a := range atts {
		if seen[a.SHA2] {
			continue
		}
		seen[a.SHA2] = true
		key := docKey(org, a.SHA2)
		doc := attachmentDoc{Key: key, Org: org, SHA2: a.SHA2, ContentType: a.ContentType, Data: a.Data}
		_, err := d.attachments().UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
			bson.D{{Key: "$setOnInsert", Value: doc}}, options.UpdateOne().SetUpsert(true))
		// Two concurrent upserts of one _id: the loser gets a duplicate key
		// error, and the body is stored.
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return translate(fmt.Errorf("mongo: put attachment %s: %w", a.SHA2, err))
		}
	}
	return ctx.Err()
}

// GetAttachments reads by _id.
func (d *DB) GetAttachments(ctx context.Context, org string, sha2s []string) (map[string]lrs.AttachmentBody, error) {
	out := make(map[string]lrs.AttachmentBody, len(sha2s))
	if len(sha2s) == 0 {
		return out, ctx.Err()
	}
	keys := make([]string, len(sha2s))
	for i, h := range sha2s {
		keys[i] = docKey(org, h)
	}
	cur, err := d.attachments().Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: get attachments: %w", err))
	}
	var docs []attachmentDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: get attachments: %w", err))
	}
	for _, doc := range docs {
		out[doc.SHA2] = lrs.AttachmentBody{SHA2: doc.SHA2, ContentType: doc.ContentType, Data: doc.Data}
	}
	return out, nil
}
