package pebbledb

import (
	"context"
	"encoding/binary"
	"fmt"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/lrs"
)

var _ lrs.AttachmentStore = (*DB)(nil)

// Attachment bodies live under
//
//	b/<org><sha2> -> uvarint len(contentType), contentType, data
//
// (escaped as the other keys, see keys.go).
func attachmentKey(org, sha2 string) []byte {
	b := make([]byte, 0, 2+len(org)+len(sha2)+4)
	b = append(b, "b/"...)
	b = appendEsc(b, org)
	return appendEsc(b, sha2)
}

func encodeAttachment(a lrs.AttachmentBody) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(a.ContentType)+len(a.Data))
	b = binary.AppendUvarint(b, uint64(len(a.ContentType)))
	b = append(b, a.ContentType...)
	return append(b, a.Data...)
}

// decodeAttachment copies everything out of v (which pebble owns).
func decodeAttachment(sha2 string, v []byte) (lrs.AttachmentBody, error) {
	l, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < l {
		return lrs.AttachmentBody{}, errCorrupt
	}
	return lrs.AttachmentBody{
		SHA2:        sha2,
		ContentType: string(v[n : n+int(l)]),
		Data:        append([]byte{}, v[n+int(l):]...),
	}, nil
}

// PutAttachments stores the bodies not stored yet, in one synced batch.
func (d *DB) PutAttachments(ctx context.Context, org string, atts []lrs.AttachmentBody) error {
	if err := d.acquire(ctx, "put attachments"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(atts) == 0 {
		return nil
	}
	locks := make([]string, len(atts))
	for i, a := range atts {
		locks[i] = "b/" + a.SHA2
	}
	unlock := d.lockIDs(locks...)
	defer unlock()
	b := d.db.NewBatch()
	defer b.Close()
	seen := make(map[string]bool, len(atts))
	for _, a := range atts {
		if seen[a.SHA2] {
			continue
		}
		seen[a.SHA2] = true
		key := attachmentKey(org, a.SHA2)
		ok, err := d.get(key, nil)
		if err != nil {
			return fmt.Errorf("pebble: put attachments: read %s: %w", a.SHA2, err)
		}
		if ok {
			continue
		}
		if err := b.Set(key, encodeAttachment(a), nil); err != nil {
			return fmt.Errorf("pebble: put attachments: %w", err)
		}
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: put attachments: commit: %w", err)
	}
	return nil
}

// GetAttachments returns the stored bodies among sha2s.
func (d *DB) GetAttachments(ctx context.Context, org string, sha2s []string) (map[string]lrs.AttachmentBody, error) {
	if err := d.acquire(ctx, "get attachments"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	out := make(map[string]lrs.AttachmentBody, len(sha2s))
	for _, h := range sha2s {
		var a lrs.AttachmentBody
		ok, err := d.get(attachmentKey(org, h), func(v []byte) error {
			var err error
			a, err = decodeAttachment(h, v)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("pebble: get attachment %s: %w", h, err)
		}
		if ok {
			out[h] = a
		}
	}
	return out, nil
}
