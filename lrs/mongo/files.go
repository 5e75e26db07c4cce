package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
)

// The FileStore: copies of uploaded files, one document each (a file is
// at most a few MiB: a file-mode batch of forward's largest claim).
const filesCollection = "forward_files"

type fileDoc struct {
	Key     string    `bson:"_id"`
	V       int       `bson:"v"`
	Org     string    `bson:"o"`
	Config  string    `bson:"c"`
	Name    string    `bson:"n"`
	Data    []byte    `bson:"d,omitempty"`
	Size    int       `bson:"sz"`
	Rows    int       `bson:"r"`
	Created time.Time `bson:"ca"`
}

func (x fileDoc) kept() (forward.KeptFile, error) {
	return forward.KeptFile{Org: x.Org, ConfigurationID: x.Config, Name: x.Name, Data: x.Data, Size: x.Size, Rows: x.Rows,
		CreatedAt: fwdTime(x.Created)}, checkDocVersion(x.V)
}

// fileIndexes are the indexes of the files (createIndexes, through
// forwardIndexes).
func (d *DB) fileIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "o", Value: 1}, {Key: "c", Value: 1}, {Key: "ca", Value: -1}}, Options: options.Index().SetName("org_config_created")},
		{Keys: bson.D{{Key: "ca", Value: 1}}, Options: options.Index().SetName("created")},
	}
}

// PutFile upserts a file.
func (d *DB) PutFile(ctx context.Context, f forward.KeptFile) error {
	doc := fileDoc{Key: fkey(f.Org, f.ConfigurationID, f.Name), V: fwdDocVersion, Org: f.Org, Config: f.ConfigurationID, Name: f.Name,
		Data: f.Data, Size: len(f.Data), Rows: f.Rows, Created: fwdMs(f.CreatedAt)}
	if err := fwdUpsert(ctx, d.fcoll(filesCollection), doc.Key, doc); err != nil {
		return fwdErr("put file", err)
	}
	return nil
}

// ListFiles lists a configuration's files, newest first, without data.
func (d *DB) ListFiles(ctx context.Context, org, configID string, limit int) ([]forward.KeptFile, error) {
	out := []forward.KeptFile{}
	if limit <= 0 {
		return out, ctx.Err()
	}
	var docs []fileDoc
	opts := options.Find().SetSort(bson.D{{Key: "ca", Value: -1}, {Key: "n", Value: -1}}).SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "d", Value: 0}})
	if err := fwdFindAll(ctx, d.fcoll(filesCollection), bson.D{{Key: "o", Value: org}, {Key: "c", Value: configID}}, opts, &docs); err != nil {
		return nil, fwdErr("list files", err)
	}
	for _, doc := range docs {
		f, err := doc.kept()
		if err != nil {
			return nil, fwdErr("list files", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// GetFile returns one file with its data.
func (d *DB) GetFile(ctx context.Context, org, configID, name string) (forward.KeptFile, error) {
	var doc fileDoc
	err := d.fcoll(filesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fkey(org, configID, name)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return forward.KeptFile{}, forward.ErrNotFound
	}
	if err != nil {
		return forward.KeptFile{}, fwdErr("get file", err)
	}
	f, err := doc.kept()
	if err != nil {
		return forward.KeptFile{}, fwdErr("get file", err)
	}
	return f, nil
}

// DropFiles deletes the files created before before.
func (d *DB) DropFiles(ctx context.Context, before time.Time) (int, error) {
	res, err := d.fcoll(filesCollection).DeleteMany(ctx, bson.D{{Key: "ca", Value: bson.D{{Key: "$lt", Value: fwdMs(before)}}}})
	if err != nil {
		return 0, fwdErr("drop files", err)
	}
	return int(res.DeletedCount), nil
}
