package forwardtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/lrs-project/lrs/forward"
)

// Statement returns a stored upstream statement (with stored and an
// upstream authority, which forwarding must drop).
func Statement(id, email string) []byte {
	return fmt.Appendf(nil, `{"id":%q,
"actor":{"objectType":"Agent","name":"Learner","mbox":"mailto:%s"},
"verb":{"id":"http://adlnet.gov/expapi/verbs/passed","display":{"en-US":"passed"}},
"object":{"objectType":"Activity","id":"https://lrs.example.org/objectives/42"},
"result":{"success":true,"score":{"scaled":0.92}},
"timestamp":"2026-01-01T10:00:00.000Z",
"stored":"2026-01-01T10:00:01.000Z",
"authority":{"objectType":"Agent","account":{"homePage":"http://upstream.example","name":"up"}},
"version":"1.0.0"}`, id, email)
}

// UpstreamStored is the stored time of Statement, which no downstream may
// keep.
const UpstreamStored = "2026-01-01T10:00:01.000Z"

// InvalidStatement has a verb without an id: any LRS rejects it with 400.
func InvalidStatement(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,
"actor":{"objectType":"Agent","mbox":"mailto:x@example.com"},
"verb":{"display":{"en-US":"passed"}},
"object":{"objectType":"Activity","id":"https://lrs.example.org/objectives/42"}}`, id)
}

// Statements is an upstream: a forward.StatementGetter over a map.
type Statements struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ forward.StatementGetter = (*Statements)(nil)

// Put stores a statement.
func (s *Statements) Put(org, id string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[org+"/"+id] = raw
}

// GetStatement implements forward.StatementGetter.
func (s *Statements) GetStatement(_ context.Context, org, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.m[org+"/"+id]
	if !ok {
		return nil, fmt.Errorf("statement %s: %w", id, forward.ErrNotFound)
	}
	return raw, nil
}
