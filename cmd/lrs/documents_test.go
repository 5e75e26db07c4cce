package main

import (
	"context"
	"time"

	"github.com/lrs-project/lrs/lrs"
)

// fakeStore's document methods: unused by these tests (the binary's tests
// of the document resources run on the real engines).

var errFakeDocuments = lrs.Errorf(lrs.EUNAVAILABLE, "fakeStore keeps no documents")

func (s *fakeStore) GetDocument(context.Context, string, lrs.DocumentScope, string) (lrs.Document, error) {
	return lrs.Document{}, errFakeDocuments
}

func (s *fakeStore) PutDocument(context.Context, string, lrs.Document, lrs.Precondition) error {
	return errFakeDocuments
}

func (s *fakeStore) DeleteDocument(context.Context, string, lrs.DocumentScope, string, lrs.Precondition) error {
	return errFakeDocuments
}

func (s *fakeStore) ListDocuments(context.Context, string, lrs.DocumentScope, time.Time) ([]lrs.DocumentMeta, error) {
	return nil, errFakeDocuments
}

func (s *fakeStore) DeleteDocuments(context.Context, string, lrs.DocumentScope) error {
	return errFakeDocuments
}
