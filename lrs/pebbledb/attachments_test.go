package pebbledb

import (
	"testing"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestAttachments(t *testing.T) {
	storetest.RunAttachments(t, func(t *testing.T) lrs.AttachmentStore {
		return open(t, t.TempDir())
	})
}

func TestAttachmentsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a := lrs.AttachmentBody{SHA2: "abc", ContentType: "text/plain", Data: []byte("kept")}
	if err := db.PutAttachments(t.Context(), "org", []lrs.AttachmentBody{a}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	got, err := db.GetAttachments(t.Context(), "org", []string{"abc"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got["abc"].Data) != "kept" || got["abc"].ContentType != "text/plain" {
		t.Errorf("after reopen: %+v", got["abc"])
	}
}
