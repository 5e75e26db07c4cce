package main

import (
	"context"

	"github.com/lrs-project/lrs/lrs"
)

// fakeStore's activity and agent methods: unused by these tests (the
// binary's tests of the resources run on the real engines).

func (s *fakeStore) MergeActivity(context.Context, string, string, []byte) error { return nil }

func (s *fakeStore) GetActivity(_ context.Context, _, id string) ([]byte, error) {
	return nil, lrs.Errorf(lrs.ENOTFOUND, "fakeStore keeps no activity %s", id)
}

func (s *fakeStore) AddAgentNames(context.Context, string, map[string][]string) error { return nil }

func (s *fakeStore) AgentNames(context.Context, string, string) ([]string, error) { return nil, nil }
