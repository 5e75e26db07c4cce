package lrs

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"
)

// DocumentKind names the three xAPI document resources.
type DocumentKind string

const (
	KindState           DocumentKind = "state"
	KindActivityProfile DocumentKind = "activity_profile"
	KindAgentProfile    DocumentKind = "agent_profile"
)

// DocumentScope is the context a document lives in: the set that the
// multiple-document GET lists and the State DELETE-all removes.
//   - state: ActivityID + Agent (+ Registration, "" when none)
//   - activity profile: ActivityID
//   - agent profile: Agent
type DocumentScope struct {
	Kind         DocumentKind
	ActivityID   string
	Agent        string // IFI key (schema.AgentKey)
	Registration string // lower-case UUID or ""
}

// Document is one stored document.
type Document struct {
	Scope       DocumentScope
	ID          string // stateId or profileId
	ContentType string
	Contents    []byte
	ETag        string // lower-case hex SHA-1 of Contents, unquoted
	Updated     time.Time
}

// DocumentMeta is a document without its contents, for listings.
type DocumentMeta struct {
	ID      string
	Updated time.Time
}

// Precondition guards a document write. With ETag set, the write happens
// only if the stored document has that ETag ("*": any stored document);
// with Absent, only if no
// document exists; with neither, unconditionally. A failed guard is an
// EPRECONDITION *Error and changes nothing.
type Precondition struct {
	ETag   string
	Absent bool
}

// DocumentStore is the document contract every engine implements. Each
// write is atomic for its one document (a compare-and-swap on the ETag),
// which MongoDB gives without transactions.
type DocumentStore interface {
	// GetDocument returns the document, ENOTFOUND if none.
	GetDocument(ctx context.Context, org string, scope DocumentScope, id string) (Document, error)
	// PutDocument stores doc if pre holds (EPRECONDITION otherwise).
	PutDocument(ctx context.Context, org string, doc Document, pre Precondition) error
	// DeleteDocument removes a document if pre holds. Deleting a missing
	// document without an ETag precondition is not an error.
	DeleteDocument(ctx context.Context, org string, scope DocumentScope, id string, pre Precondition) error
	// ListDocuments lists a scope's documents updated strictly after since
	// (zero: all), ordered by id.
	ListDocuments(ctx context.Context, org string, scope DocumentScope, since time.Time) ([]DocumentMeta, error)
	// DeleteDocuments removes every document of the scope.
	DeleteDocuments(ctx context.Context, org string, scope DocumentScope) error
}

// Documents implements the document resources' semantics (Communication
// 2.2, 2.3, 2.6, 2.7 and 3.1) over a DocumentStore.
type Documents struct {
	store DocumentStore
	now   func() time.Time
}

// NewDocuments returns the document service over store.
func NewDocuments(store DocumentStore, now func() time.Time) *Documents {
	if now == nil {
		now = time.Now
	}
	return &Documents{store: store, now: now}
}

// WriteConditions are a write request's concurrency headers.
type WriteConditions struct {
	IfMatch     string // raw If-Match header ("" when absent)
	IfNoneMatch string // raw If-None-Match header ("" when absent)
	// RequireHeaders: a PUT to an existing document without either header
	// is a conflict (both profile resources; State too under xAPI 2.0).
	RequireHeaders bool
	// RequireHeadersToCreate: a PUT without either header writes nothing at
	// all: a conflict when the document exists, else an EINVALID naming the
	// header to send (both profile resources under xAPI 1.0.x, where a
	// client MUST send one, Communication 3.1.s3.b1).
	RequireHeadersToCreate bool
}

// conflictMessage answers a PUT without concurrency headers to an existing
// document (Communication 3.1.s4.b14).
const conflictMessage = "the document already exists: check its current state, then PUT again with an If-Match header carrying its current ETag (or If-None-Match: * to create only)"

// ETagOf returns the ETag of document contents.
func ETagOf(contents []byte) string {
	sum := sha1.Sum(contents)
	return hex.EncodeToString(sum[:])
}

// Get returns one document.
func (d *Documents) Get(ctx context.Context, org string, scope DocumentScope, id string) (Document, error) {
	doc, err := d.store.GetDocument(ctx, org, scope, id)
	if err != nil {
		return Document{}, fmt.Errorf("get document: %w", err)
	}
	return doc, nil
}

// List returns the ids of a scope's documents updated after since, and the
// latest update among them.
func (d *Documents) List(ctx context.Context, org string, scope DocumentScope, since time.Time) ([]string, time.Time, error) {
	metas, err := d.store.ListDocuments(ctx, org, scope, since)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("list documents: %w", err)
	}
	ids := make([]string, len(metas))
	var last time.Time
	for i, m := range metas {
		ids[i] = m.ID
		if m.Updated.After(last) {
			last = m.Updated
		}
	}
	return ids, last, nil
}

// Put replaces (or creates) a document.
func (d *Documents) Put(ctx context.Context, org string, scope DocumentScope, id, contentType string, contents []byte, wc WriteConditions) error {
	pre, err := precondition(wc)
	if err != nil {
		return err
	}
	if pre == (Precondition{}) && wc.RequireHeadersToCreate {
		_, err := d.store.GetDocument(ctx, org, scope, id)
		switch {
		case err == nil:
			return Errorf(ECONFLICT, conflictMessage)
		case ErrorCode(err) == ENOTFOUND:
			return Errorf(EINVALID, "a PUT to this resource needs an If-Match or If-None-Match header: send If-None-Match: * to create the document")
		default:
			return fmt.Errorf("get document: %w", err)
		}
	}
	if pre == (Precondition{}) && wc.RequireHeaders {
		// Without headers a PUT may only create.
		pre.Absent = true
		err := d.store.PutDocument(ctx, org, d.document(scope, id, contentType, contents), pre)
		if ErrorCode(err) == EPRECONDITION {
			return Errorf(ECONFLICT, conflictMessage)
		}
		if err != nil {
			return fmt.Errorf("put document: %w", err)
		}
		return nil
	}
	if err := d.store.PutDocument(ctx, org, d.document(scope, id, contentType, contents), pre); err != nil {
		return fmt.Errorf("put document: %w", err)
	}
	return nil
}

// Post merges a JSON object into a document (or creates it). Both sides
// must be JSON objects with content type application/json.
func (d *Documents) Post(ctx context.Context, org string, scope DocumentScope, id, contentType string, contents []byte, wc WriteConditions) error {
	pre, err := precondition(wc)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, err := d.store.GetDocument(ctx, org, scope, id)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			if pre.ETag != "" {
				return Errorf(EPRECONDITION, "If-Match: the document does not exist")
			}
			if isJSONType(contentType) {
				if _, err := jsonObject(contents); err != nil {
					return Errorf(EINVALID, "the posted document is not a JSON object: %v", err)
				}
			}
			err = d.store.PutDocument(ctx, org, d.document(scope, id, contentType, contents), Precondition{Absent: true})
		case err != nil:
			return fmt.Errorf("get document: %w", err)
		default:
			if pre.Absent {
				return Errorf(EPRECONDITION, "If-None-Match: the document exists")
			}
			if pre.ETag != "" && pre.ETag != "*" && pre.ETag != cur.ETag {
				return Errorf(EPRECONDITION, "If-Match: the document has changed (its ETag is %q)", cur.ETag)
			}
			merged, merr := mergeJSON(cur, contentType, contents)
			if merr != nil {
				return merr
			}
			err = d.store.PutDocument(ctx, org, d.document(scope, id, "application/json", merged), Precondition{ETag: cur.ETag})
		}
		if ErrorCode(err) == EPRECONDITION && pre == (Precondition{}) && attempt < 5 {
			continue // a concurrent writer got there first: merge again
		}
		if err != nil {
			return fmt.Errorf("post document: %w", err)
		}
		return nil
	}
}

// Delete removes one document.
func (d *Documents) Delete(ctx context.Context, org string, scope DocumentScope, id string, wc WriteConditions) error {
	pre, err := precondition(wc)
	if err != nil {
		return err
	}
	if err := d.store.DeleteDocument(ctx, org, scope, id, pre); err != nil {
		return fmt.Errorf("delete document: %w", err)
	}
	return nil
}

// DeleteAll removes every document of a scope (State only).
func (d *Documents) DeleteAll(ctx context.Context, org string, scope DocumentScope) error {
	if err := d.store.DeleteDocuments(ctx, org, scope); err != nil {
		return fmt.Errorf("delete documents: %w", err)
	}
	return nil
}

func (d *Documents) document(scope DocumentScope, id, contentType string, contents []byte) Document {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return Document{
		Scope:       scope,
		ID:          id,
		ContentType: contentType,
		Contents:    contents,
		ETag:        ETagOf(contents),
		Updated:     d.now().UTC().Truncate(time.Millisecond),
	}
}

// precondition turns the concurrency headers into a store Precondition.
func precondition(wc WriteConditions) (Precondition, error) {
	var p Precondition
	if m := strings.TrimSpace(wc.IfMatch); m != "" {
		tag, ok := parseETag(m)
		if !ok {
			return p, Errorf(EINVALID, "If-Match: %q is not a quoted ETag", m)
		}
		p.ETag = tag
	}
	if n := strings.TrimSpace(wc.IfNoneMatch); n != "" {
		if n != "*" {
			return p, Errorf(EINVALID, `If-None-Match: only "*" is supported`)
		}
		p.Absent = true
	}
	if p.ETag != "" && p.Absent {
		return p, Errorf(EINVALID, "If-Match and If-None-Match cannot be combined")
	}
	return p, nil
}

// parseETag accepts a quoted ETag (optionally weak), or a bare one as some
// clients send, and "*" (any existing document).
func parseETag(h string) (string, bool) {
	h = strings.TrimPrefix(h, "W/")
	if h == "*" {
		return "*", true
	}
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		h = h[1 : len(h)-1]
	}
	if h == "" || strings.ContainsAny(h, `" ,`) {
		return "", false
	}
	return strings.ToLower(h), true
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func jsonObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("null")
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return m, nil
}

// mergeJSON merges posted top-level properties into the current document.
func mergeJSON(cur Document, contentType string, posted []byte) ([]byte, error) {
	if !isJSONType(contentType) || !isJSONType(cur.ContentType) {
		return nil, Errorf(EINVALID, "POST merges JSON documents only: both the stored and the posted document must have Content-Type application/json")
	}
	base, err := jsonObject(cur.Contents)
	if err != nil {
		return nil, Errorf(EINVALID, "the stored document is not a JSON object, so it cannot be merged")
	}
	add, err := jsonObject(posted)
	if err != nil {
		return nil, Errorf(EINVALID, "the posted document is not a JSON object: %v", err)
	}
	for k, v := range add {
		base[k] = v
	}
	out, err := json.Marshal(base)
	if err != nil {
		return nil, fmt.Errorf("marshal merged document: %w", err)
	}
	return out, nil
}
