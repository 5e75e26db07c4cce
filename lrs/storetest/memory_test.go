package storetest_test

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/storetest"
)

// memory is a minimal, correct in-memory engine used to check the suite.
type memory struct {
	mu    sync.Mutex
	stmts map[string]map[string]lrs.StatementRecord // org -> id -> record
	creds map[string]auth.Credential
}

func newMemory() *memory {
	return &memory{stmts: map[string]map[string]lrs.StatementRecord{}, creds: map[string]auth.Credential{}}
}

func clone(r lrs.StatementRecord) lrs.StatementRecord {
	r.Raw = slices.Clone(r.Raw)
	r.Terms = slices.Clone(r.Terms)
	r.Stored = r.Stored.UTC()
	return r
}

func (m *memory) InsertStatements(ctx context.Context, org string, recs []lrs.StatementRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		if _, ok := m.stmts[org][r.ID]; ok {
			return lrs.Errorf(lrs.ECONFLICT, "statement %s already exists", r.ID)
		}
	}
	if m.stmts[org] == nil {
		m.stmts[org] = map[string]lrs.StatementRecord{}
	}
	for _, r := range recs {
		m.stmts[org][r.ID] = clone(r)
	}
	return nil
}

func (m *memory) GetStatements(ctx context.Context, org string, ids []string) (map[string]lrs.StatementRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]lrs.StatementRecord{}
	for _, id := range ids {
		if r, ok := m.stmts[org][id]; ok {
			out[id] = clone(r)
		}
	}
	return out, nil
}

func before(s time.Time, id string, c lrs.Cursor) bool {
	return s.Before(c.Stored) || (s.Equal(c.Stored) && id < c.ID)
}

func (m *memory) QueryStatements(ctx context.Context, org string, q lrs.StatementQuery) ([]lrs.StatementRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []lrs.StatementRecord
	for _, r := range m.stmts[org] {
		if r.Voided || !q.Since.IsZero() && !r.Stored.After(q.Since) || !q.Until.IsZero() && r.Stored.After(q.Until) {
			continue
		}
		if !containsAll(r.Terms, q.Terms) {
			continue
		}
		if c := q.After; c != nil {
			if q.Ascending && !before(c.Stored, c.ID, lrs.Cursor{Stored: r.Stored, ID: r.ID}) ||
				!q.Ascending && !before(r.Stored, r.ID, *c) {
				continue
			}
		}
		out = append(out, clone(r))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !q.Ascending {
			a, b = b, a
		}
		return before(a.Stored, a.ID, lrs.Cursor{Stored: b.Stored, ID: b.ID})
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func (m *memory) SetVoided(ctx context.Context, org, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.stmts[org][id]
	if !ok {
		return lrs.Errorf(lrs.ENOTFOUND, "statement %s not found", id)
	}
	r.Voided = true
	m.stmts[org][id] = r
	return nil
}

func (m *memory) AddTerms(ctx context.Context, org, id string, terms []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.stmts[org][id]
	if !ok {
		return lrs.Errorf(lrs.ENOTFOUND, "statement %s not found", id)
	}
	for _, t := range terms {
		if !slices.Contains(r.Terms, t) {
			r.Terms = append(r.Terms, t)
		}
	}
	m.stmts[org][id] = r
	return nil
}

func (m *memory) ReferrersOf(ctx context.Context, org string, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, id := range ids {
		refs, err := m.Referrers(ctx, org, id)
		if err != nil {
			return nil, err
		}
		if len(refs) > 0 {
			out[id] = refs
		}
	}
	return out, nil
}

func (m *memory) Referrers(ctx context.Context, org, id string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.stmts[org] {
		if r.RefTarget != "" && r.RefTarget == id {
			out = append(out, r.ID)
		}
	}
	return out, nil
}

func (m *memory) Ping(ctx context.Context) error { return ctx.Err() }
func (m *memory) Close() error                   { return nil }

func (m *memory) CreateCredential(ctx context.Context, c auth.Credential) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.creds[c.Key]; ok {
		return auth.ErrKeyTaken
	}
	c.SecretHash = slices.Clone(c.SecretHash)
	c.Salt = slices.Clone(c.Salt)
	c.Scopes = slices.Clone(c.Scopes)
	c.Authority = slices.Clone(c.Authority)
	m.creds[c.Key] = c
	return nil
}

func (m *memory) GetCredential(ctx context.Context, key string) (auth.Credential, error) {
	if err := ctx.Err(); err != nil {
		return auth.Credential{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[key]
	if !ok {
		return auth.Credential{}, auth.ErrNotFound
	}
	return c, nil
}

func (m *memory) CountCredentials(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.creds), nil
}

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s := newMemory()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The in-memory forwarding store of the engine's tests keeps the contract
// the engines keep.
func TestMemoryForward(t *testing.T) {
	storetest.RunForward(t, func(t *testing.T) storetest.ForwardStore { return forwardtest.NewMemory() })
}

func TestMemoryResults(t *testing.T) {
	storetest.RunResults(t, func(t *testing.T) forward.ResultStore { return forwardtest.NewMemory() })
}

func TestMemoryAssignments(t *testing.T) {
	storetest.RunAssignments(t, func(t *testing.T) forward.AssignmentStore { return forwardtest.NewMemory() })
}

func TestMemoryFiles(t *testing.T) {
	storetest.RunFiles(t, func(t *testing.T) forward.FileStore { return forwardtest.NewMemory() })
}

func TestMemoryBackfills(t *testing.T) {
	storetest.RunBackfills(t, func(t *testing.T) forward.BackfillStore { return forwardtest.NewMemory() })
}

// BenchmarkMemoryDeliveryCycle runs storetest.BenchDeliveryCycle on the
// engine tests' in-memory store (not a floor: its claims scan every
// delivery it holds).
func BenchmarkMemoryDeliveryCycle(b *testing.B) {
	storetest.BenchDeliveryCycle(b, forwardtest.NewMemory(), 100)
}
