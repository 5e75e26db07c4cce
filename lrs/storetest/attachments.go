package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/lrs-project/lrs/lrs"
)

// RunAttachments runs the lrs.AttachmentStore suite; open returns a new,
// empty store (the caller closes it with t.Cleanup).
func RunAttachments(t *testing.T, open func(t *testing.T) lrs.AttachmentStore) {
	t.Helper()
	leaf := func(name string, fn func(t *testing.T, s lrs.AttachmentStore)) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil AttachmentStore")
			}
			fn(t, s)
		})
	}
	leaf("PutGet", testAttachmentsPutGet)
	leaf("Idempotent", testAttachmentsIdempotent)
	leaf("OrgIsolation", testAttachmentsOrgIsolation)
	leaf("Binary", testAttachmentsBinary)
	leaf("Concurrent", testAttachmentsConcurrent)
}

func body(ct string, data []byte) lrs.AttachmentBody {
	sum := sha256.Sum256(data)
	return lrs.AttachmentBody{SHA2: hex.EncodeToString(sum[:]), ContentType: ct, Data: data}
}

func mustPutAttachments(t *testing.T, s lrs.AttachmentStore, org string, atts ...lrs.AttachmentBody) {
	t.Helper()
	if err := s.PutAttachments(t.Context(), org, atts); err != nil {
		t.Fatalf("PutAttachments(%q, %d bodies): %v", org, len(atts), err)
	}
}

func mustGetAttachments(t *testing.T, s lrs.AttachmentStore, org string, sha2s ...string) map[string]lrs.AttachmentBody {
	t.Helper()
	got, err := s.GetAttachments(t.Context(), org, sha2s)
	if err != nil {
		t.Fatalf("GetAttachments(%q, %v): %v", org, sha2s, err)
	}
	if got == nil {
		t.Fatalf("GetAttachments(%q) returned a nil map", org)
	}
	return got
}

func sameBody(t *testing.T, got lrs.AttachmentBody, want lrs.AttachmentBody) {
	t.Helper()
	if got.SHA2 != want.SHA2 || got.ContentType != want.ContentType || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("body %s: got {%s %q %d bytes}, want {%s %q %d bytes}",
			want.SHA2, got.SHA2, got.ContentType, len(got.Data), want.SHA2, want.ContentType, len(want.Data))
	}
}

func testAttachmentsPutGet(t *testing.T, s lrs.AttachmentStore) {
	a := body("text/plain", []byte("hello attachments"))
	b := body("application/json", []byte(`{"x":1}`))
	missing := body("text/plain", []byte("never stored"))
	mustPutAttachments(t, s, orgA, a, b)
	got := mustGetAttachments(t, s, orgA, a.SHA2, b.SHA2, missing.SHA2)
	if len(got) != 2 {
		t.Fatalf("got %d bodies, want 2 (a missing sha2 is absent)", len(got))
	}
	sameBody(t, got[a.SHA2], a)
	sameBody(t, got[b.SHA2], b)
	if got := mustGetAttachments(t, s, orgA); len(got) != 0 {
		t.Errorf("GetAttachments with no sha2s: %d bodies", len(got))
	}
	mustPutAttachments(t, s, orgA) // nothing to store: no error
}

func testAttachmentsIdempotent(t *testing.T, s lrs.AttachmentStore) {
	a := body("text/plain", []byte("stored once"))
	mustPutAttachments(t, s, orgA, a)
	// The same sha2 again (even with another content type, and twice in
	// one call): the first body stays.
	again := a
	again.ContentType = "application/octet-stream"
	mustPutAttachments(t, s, orgA, again, again)
	got := mustGetAttachments(t, s, orgA, a.SHA2)
	sameBody(t, got[a.SHA2], a)
}

func testAttachmentsOrgIsolation(t *testing.T, s lrs.AttachmentStore) {
	a := body("text/plain", []byte("org a only"))
	mustPutAttachments(t, s, orgA, a)
	if got := mustGetAttachments(t, s, orgB, a.SHA2); len(got) != 0 {
		t.Errorf("org-b sees org-a's attachment")
	}
	b := body("text/plain", []byte("org a only"))
	b.ContentType = "text/x-b"
	mustPutAttachments(t, s, orgB, b)
	sameBody(t, mustGetAttachments(t, s, orgB, b.SHA2)[b.SHA2], b)
	sameBody(t, mustGetAttachments(t, s, orgA, a.SHA2)[a.SHA2], a)
}

func testAttachmentsBinary(t *testing.T, s lrs.AttachmentStore) {
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	big := body("application/octet-stream", data)
	empty := body("", nil)
	zeros := body("application/octet-stream", []byte{0, 0, 0, 0xff, 0})
	mustPutAttachments(t, s, orgA, big, empty, zeros)
	got := mustGetAttachments(t, s, orgA, big.SHA2, empty.SHA2, zeros.SHA2)
	sameBody(t, got[big.SHA2], big)
	sameBody(t, got[zeros.SHA2], zeros)
	if e, ok := got[empty.SHA2]; !ok || len(e.Data) != 0 {
		t.Errorf("empty body: ok=%v, %d bytes", ok, len(e.Data))
	}
}

func testAttachmentsConcurrent(t *testing.T, s lrs.AttachmentStore) {
	a := body("text/plain", []byte("raced"))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.PutAttachments(t.Context(), orgA, []lrs.AttachmentBody{a, body("text/plain", fmt.Appendf(nil, "own %d", i))}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent PutAttachments: %v", err)
	}
	sameBody(t, mustGetAttachments(t, s, orgA, a.SHA2)[a.SHA2], a)
}
