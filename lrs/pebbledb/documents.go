package pebbledb

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/lrs"
)

var _ lrs.DocumentStore = (*DB)(nil)

// Documents (State, Activity Profile, Agent Profile) live under
//
//	d/<org><kind><activityId><agent><registration><id> -> document value
//
// with every part escaped (see appendEsc), so a scope is a key prefix and
// the documents of a scope sort by id.

func docScopePrefix(org string, s lrs.DocumentScope) []byte {
	b := make([]byte, 0, 2+len(org)+len(s.Kind)+len(s.ActivityID)+len(s.Agent)+len(s.Registration)+5*2+40)
	b = append(b, "d/"...)
	b = appendEsc(b, org)
	b = appendEsc(b, string(s.Kind))
	b = appendEsc(b, s.ActivityID)
	b = appendEsc(b, s.Agent)
	return appendEsc(b, s.Registration)
}

func docKey(org string, s lrs.DocumentScope, id string) []byte {
	return appendEsc(docScopePrefix(org, s), id)
}

// unescape decodes one escaped part at the start of b and returns it with
// the rest of b.
func unescape(b []byte) (string, []byte, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", nil, false
		}
		switch b[i+1] {
		case 0xff:
			out = append(out, 0)
			i++
		case 1:
			return string(out), b[i+2:], true
		default:
			return "", nil, false
		}
	}
	return "", nil, false
}

// Document value: version byte, updated (8 bytes BE unix ms), uvarint
// length + content type, uvarint length + etag, contents.
const docVersion = 1

type docValue struct {
	updatedMs   int64
	contentType string
	etag        string
	contents    []byte
}

func encodeDoc(v *docValue) []byte {
	b := make([]byte, 0, 1+8+20+len(v.contentType)+len(v.etag)+len(v.contents))
	b = append(b, docVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(v.updatedMs))
	b = binary.AppendUvarint(b, uint64(len(v.contentType)))
	b = append(b, v.contentType...)
	b = binary.AppendUvarint(b, uint64(len(v.etag)))
	b = append(b, v.etag...)
	return append(b, v.contents...)
}

// decodeDoc copies everything out of b (which pebble owns). With
// withContents false, the contents are skipped.
func decodeDoc(b []byte, withContents bool) (docValue, error) {
	var v docValue
	if len(b) < 9 || b[0] != docVersion {
		return v, errCorrupt
	}
	v.updatedMs = int64(binary.BigEndian.Uint64(b[1:]))
	b = b[9:]
	str := func() (string, bool) { return readUvarintString(&b) }
	var ok bool
	if v.contentType, ok = str(); !ok {
		return v, errCorrupt
	}
	if v.etag, ok = str(); !ok {
		return v, errCorrupt
	}
	if withContents {
		v.contents = append([]byte{}, b...)
	}
	return v, nil
}

func (d *DB) getDoc(key []byte) (docValue, bool, error) {
	var v docValue
	ok, err := d.get(key, func(b []byte) error {
		var err error
		v, err = decodeDoc(b, true)
		return err
	})
	return v, ok, err
}

// checkPre checks pre against the stored document (found, cur).
func checkPre(pre lrs.Precondition, found bool, cur docValue) error {
	switch {
	case pre.Absent && found:
		return lrs.Errorf(lrs.EPRECONDITION, "If-None-Match: the document exists")
	case pre.ETag != "" && !found:
		return lrs.Errorf(lrs.EPRECONDITION, "If-Match: the document does not exist")
	case pre.ETag != "" && pre.ETag != "*" && pre.ETag != cur.etag:
		return lrs.Errorf(lrs.EPRECONDITION, "If-Match: the document has changed (its ETag is %q)", cur.etag)
	}
	return nil
}

// GetDocument returns the document; ENOTFOUND if none.
func (d *DB) GetDocument(ctx context.Context, org string, scope lrs.DocumentScope, id string) (lrs.Document, error) {
	if err := d.acquire(ctx, "get document"); err != nil {
		return lrs.Document{}, err
	}
	defer d.mu.RUnlock()
	v, ok, err := d.getDoc(docKey(org, scope, id))
	if err != nil {
		return lrs.Document{}, fmt.Errorf("pebble: get document: %w", err)
	}
	if !ok {
		return lrs.Document{}, lrs.Errorf(lrs.ENOTFOUND, "No document with id %q.", id)
	}
	return lrs.Document{
		Scope:       scope,
		ID:          id,
		ContentType: v.contentType,
		Contents:    v.contents,
		ETag:        v.etag,
		Updated:     time.UnixMilli(v.updatedMs).UTC(),
	}, nil
}

// PutDocument stores doc if pre holds, under the stripe lock of its key.
func (d *DB) PutDocument(ctx context.Context, org string, doc lrs.Document, pre lrs.Precondition) error {
	if err := d.acquire(ctx, "put document"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	key := docKey(org, doc.Scope, doc.ID)
	defer d.lockIDs(string(key))()
	if pre != (lrs.Precondition{}) {
		cur, found, err := d.getDoc(key)
		if err != nil {
			return fmt.Errorf("pebble: put document: %w", err)
		}
		if err := checkPre(pre, found, cur); err != nil {
			return err
		}
	}
	v := encodeDoc(&docValue{
		updatedMs:   floorMs(doc.Updated),
		contentType: doc.ContentType,
		etag:        doc.ETag,
		contents:    doc.Contents,
	})
	if err := d.db.Set(key, v, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: put document: %w", err)
	}
	return nil
}

// DeleteDocument removes a document if pre holds.
func (d *DB) DeleteDocument(ctx context.Context, org string, scope lrs.DocumentScope, id string, pre lrs.Precondition) error {
	if err := d.acquire(ctx, "delete document"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	key := docKey(org, scope, id)
	defer d.lockIDs(string(key))()
	cur, found, err := d.getDoc(key)
	if err != nil {
		return fmt.Errorf("pebble: delete document: %w", err)
	}
	if err := checkPre(pre, found, cur); err != nil {
		return err
	}
	if !found {
		return nil
	}
	if err := d.db.Delete(key, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: delete document: %w", err)
	}
	return nil
}

// ListDocuments scans the scope's prefix (in id order) and keeps the
// documents updated strictly after since.
func (d *DB) ListDocuments(ctx context.Context, org string, scope lrs.DocumentScope, since time.Time) ([]lrs.DocumentMeta, error) {
	if err := d.acquire(ctx, "list documents"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	p := docScopePrefix(org, scope)
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("pebble: list documents: %w", err)
	}
	defer it.Close()
	out := []lrs.DocumentMeta{}
	for ok := it.First(); ok; ok = it.Next() {
		id, rest, good := unescape(it.Key()[len(p):])
		if !good || len(rest) != 0 {
			return nil, fmt.Errorf("pebble: list documents: bad document key %q", it.Key())
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("pebble: list documents: %w", err)
		}
		v, err := decodeDoc(raw, false)
		if err != nil {
			return nil, fmt.Errorf("pebble: list documents: %s: %w", id, err)
		}
		updated := time.UnixMilli(v.updatedMs).UTC()
		if !since.IsZero() && !updated.After(since) {
			continue
		}
		out = append(out, lrs.DocumentMeta{ID: id, Updated: updated})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebble: list documents: %w", err)
	}
	// The escaping preserves order, but say so explicitly.
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteDocuments removes the scope's documents with one synced range
// deletion.
func (d *DB) DeleteDocuments(ctx context.Context, org string, scope lrs.DocumentScope) error {
	if err := d.acquire(ctx, "delete documents"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	p := docScopePrefix(org, scope)
	if err := d.db.DeleteRange(p, prefixEnd(p), cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: delete documents: %w", err)
	}
	return nil
}
