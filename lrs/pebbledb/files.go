package pebbledb

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
)

// The FileStore: copies of uploaded files, for re-download.
//
//	fk/<org><config><name> -> fileRecord (JSON)

type fileRecord struct {
	V       int    `json:"v"`
	Data    []byte `json:"data"`
	Rows    int    `json:"rows"`
	Created int64  `json:"created"` // ms
}

func fileKey(org, config, name string) []byte { return fwdKey("fk/", org, config, name) }

func decodeFile(b []byte) (fileRecord, error) {
	var r fileRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	return r, checkVersion(r.V)
}

func (r fileRecord) kept(org, config, name string, data bool) forward.KeptFile {
	f := forward.KeptFile{Org: org, ConfigurationID: config, Name: name, Size: len(r.Data), Rows: r.Rows, CreatedAt: fwdMsTime(r.Created)}
	if data {
		f.Data = r.Data
	}
	return f
}

// PutFile stores a file, replacing one of the same name.
func (d *DB) PutFile(ctx context.Context, f forward.KeptFile) error {
	if err := d.acquire(ctx, "put file"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	v, err := json.Marshal(fileRecord{V: fwdRecordVersion, Data: f.Data, Rows: f.Rows, Created: floorMs(f.CreatedAt)})
	if err != nil {
		return fwdErr("put file", err)
	}
	if err := d.db.Set(fileKey(f.Org, f.ConfigurationID, f.Name), v, cpebble.Sync); err != nil {
		return fwdErr("put file", err)
	}
	return nil
}

// ListFiles lists a configuration's files, newest first, without data.
func (d *DB) ListFiles(ctx context.Context, org, configID string, limit int) ([]forward.KeptFile, error) {
	if err := d.acquire(ctx, "list files"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := []forward.KeptFile{}
	p := fwdKey("fk/", org, configID)
	err := d.fwdScan(p, false, func(k, v []byte) (bool, error) {
		name, n := unescNext(k[len(p):])
		if n < 0 {
			return false, errBadFileKey(k)
		}
		r, err := decodeFile(v)
		if err != nil {
			return false, err
		}
		out = append(out, r.kept(org, configID, name, false))
		return true, nil
	})
	if err != nil {
		return nil, fwdErr("list files", err)
	}
	slices.SortFunc(out, func(a, b forward.KeptFile) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.Name, a.Name))
	})
	return out[:min(max(limit, 0), len(out))], nil
}

// GetFile returns one file with its data.
func (d *DB) GetFile(ctx context.Context, org, configID, name string) (forward.KeptFile, error) {
	if err := d.acquire(ctx, "get file"); err != nil {
		return forward.KeptFile{}, err
	}
	defer d.mu.RUnlock()
	r, ok, err := fwdGet(d, fileKey(org, configID, name), decodeFile)
	switch {
	case err != nil:
		return forward.KeptFile{}, fwdErr("get file", err)
	case !ok:
		return forward.KeptFile{}, forward.ErrNotFound
	}
	return r.kept(org, configID, name, true), nil
}

// DropFiles removes the files created before before.
func (d *DB) DropFiles(ctx context.Context, before time.Time) (int, error) {
	if err := d.acquire(ctx, "drop files"); err != nil {
		return 0, err
	}
	defer d.mu.RUnlock()
	var old [][]byte
	limit := floorMs(before)
	err := d.fwdScan([]byte("fk/"), false, func(k, v []byte) (bool, error) {
		r, err := decodeFile(v)
		if err != nil {
			return false, err
		}
		if r.Created < limit {
			old = append(old, slices.Clone(k))
		}
		return true, nil
	})
	if err != nil {
		return 0, fwdErr("drop files", err)
	}
	if len(old) == 0 {
		return 0, nil
	}
	b := d.db.NewBatch()
	defer b.Close()
	for _, k := range old {
		if err := b.Delete(k, nil); err != nil {
			return 0, fwdErr("drop files", err)
		}
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return 0, fwdErr("drop files", err)
	}
	return len(old), nil
}

type errBadFileKey []byte

func (e errBadFileKey) Error() string { return "bad file key " + string(e) }
