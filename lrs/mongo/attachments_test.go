package mongo_test

import (
	"bytes"
	"testing"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestAttachments(t *testing.T) {
	mongoURI(t)
	storetest.RunAttachments(t, func(t *testing.T) lrs.AttachmentStore { return open(t) })
}

func TestAttachmentTooLarge(t *testing.T) {
	db := open(t)
	big := lrs.AttachmentBody{SHA2: "big", ContentType: "application/octet-stream", Data: bytes.Repeat([]byte{1}, mongo.MaxAttachmentBytes+1)}
	err := db.PutAttachments(t.Context(), "org", []lrs.AttachmentBody{big})
	if lrs.ErrorCode(err) != lrs.ETOOLARGE {
		t.Fatalf("PutAttachments of %d bytes: %v, want ETOOLARGE", len(big.Data), err)
	}
	got, err := db.GetAttachments(t.Context(), "org", []string{"big"})
	if err != nil || len(got) != 0 {
		t.Errorf("after a refused body: %d bodies, %v", len(got), err)
	}
}
