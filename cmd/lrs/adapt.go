package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// The LRS and forwarding are peers that do not import each other: these
// adapters translate the LRS service into what forwarding reads of it, and
// forwarding's obligations into the LRS service's statement observer.

// lrsStatements is the LRS service as forwarding's statement views.
type lrsStatements struct{ svc *lrs.Service }

var (
	_ forward.StatementsGetter = lrsStatements{}
	_ forward.StatementSource  = lrsStatements{}
	_ forward.BackfillSource   = lrsStatements{}
	_ lrs.StatementObserver    = observer{}
)

// GetStatement returns a statement as stored, voided or not.
func (s lrsStatements) GetStatement(ctx context.Context, org, id string) ([]byte, error) {
	st, err := s.svc.StoredStatement(ctx, org, id)
	if lrs.ErrorCode(err) == lrs.ENOTFOUND {
		return nil, fmt.Errorf("%w: %v", forward.ErrNotFound, err)
	}
	return st.Raw, err
}

// GetStatements returns statements as stored, voided or not, by id.
func (s lrsStatements) GetStatements(ctx context.Context, org string, ids []string) (map[string][]byte, error) {
	got, err := s.svc.StoredStatements(ctx, org, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(got))
	for id, st := range got {
		out[id] = st.Raw
	}
	return out, nil
}

func (s lrsStatements) ScanStored(ctx context.Context, org string, after forward.Cursor, until time.Time, limit int) ([]forward.Statement, error) {
	page, err := s.svc.ScanStored(ctx, org, lrs.Cursor(after), until, limit)
	return forwardStatements(page), err
}

func (s lrsStatements) ScanActivity(ctx context.Context, org, activity string, after forward.Cursor, until time.Time, limit int) ([]forward.Statement, error) {
	page, err := s.svc.ScanActivity(ctx, org, activity, lrs.Cursor(after), until, limit)
	return forwardStatements(page), err
}

func (s lrsStatements) ConsistentThrough(ctx context.Context) (time.Time, error) {
	return s.svc.ConsistentThrough(ctx)
}

// laterStatements is lrsStatements for a service made after its reader
// (the results read model is the service's observer and reads it).
type laterStatements struct {
	mu  sync.Mutex
	svc *lrs.Service
}

var _ forward.StatementGetter = (*laterStatements)(nil)

func (l *laterStatements) set(svc *lrs.Service) {
	l.mu.Lock()
	l.svc = svc
	l.mu.Unlock()
}

// GetStatement is lrsStatements.GetStatement, once the service is set.
func (l *laterStatements) GetStatement(ctx context.Context, org, id string) ([]byte, error) {
	l.mu.Lock()
	svc := l.svc
	l.mu.Unlock()
	if svc == nil {
		return nil, errors.New("the LRS service is not started yet")
	}
	return lrsStatements{svc}.GetStatement(ctx, org, id)
}

// observer is forwarding's statement observer as the LRS service's.
type observer struct{ forward.StatementObserver }

func (o observer) StatementsStored(ctx context.Context, org string, stmts []lrs.StoredStatement) error {
	return o.StatementObserver.StatementsStored(ctx, org, forwardStatements(stmts))
}

func forwardStatements(stmts []lrs.StoredStatement) []forward.Statement {
	if stmts == nil {
		return nil
	}
	out := make([]forward.Statement, len(stmts))
	for i, st := range stmts {
		out[i] = forward.Statement(st)
	}
	return out
}
