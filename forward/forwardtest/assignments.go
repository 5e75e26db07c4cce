package forwardtest

import (
	"context"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// memAssignments is the AssignmentStore role of Memory.
type memAssignments struct {
	mu sync.Mutex
	m  map[forward.AssignmentKey]forward.AssignmentRecord
}

func assignmentMs(r forward.AssignmentRecord) forward.AssignmentRecord {
	r.ReservedAt, r.CreatedAt = ms(r.ReservedAt), ms(r.CreatedAt)
	return r
}

// GetAssignment implements forward.AssignmentStore.
func (m *Memory) GetAssignment(ctx context.Context, key forward.AssignmentKey) (forward.AssignmentRecord, error) {
	if err := ctx.Err(); err != nil {
		return forward.AssignmentRecord{}, err
	}
	s := &m.assignments
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok {
		return forward.AssignmentRecord{}, forward.ErrNoAssignment
	}
	return r, nil
}

// ReserveAssignment implements forward.AssignmentStore.
func (m *Memory) ReserveAssignment(ctx context.Context, rec forward.AssignmentRecord) (forward.AssignmentRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return forward.AssignmentRecord{}, false, err
	}
	s := &m.assignments
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[rec.Key]; ok {
		return r, false, nil
	}
	if s.m == nil {
		s.m = map[forward.AssignmentKey]forward.AssignmentRecord{}
	}
	rec = assignmentMs(rec)
	s.m[rec.Key] = rec
	return rec, true, nil
}

// ResolveAssignment implements forward.AssignmentStore.
func (m *Memory) ResolveAssignment(ctx context.Context, key forward.AssignmentKey, reservation, assignmentID string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.assignments
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok || r.Reservation != reservation || r.AssignmentID != "" {
		return forward.ErrAssignmentChanged
	}
	r.AssignmentID, r.CreatedAt = assignmentID, ms(at)
	s.m[key] = r
	return nil
}

// ReleaseAssignment implements forward.AssignmentStore.
func (m *Memory) ReleaseAssignment(ctx context.Context, rec forward.AssignmentRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.assignments
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[rec.Key]
	if !ok {
		return nil
	}
	if r.Reservation != rec.Reservation || r.AssignmentID != rec.AssignmentID {
		return forward.ErrAssignmentChanged
	}
	delete(s.m, rec.Key)
	return nil
}

// DeleteAssignments implements forward.AssignmentStore.
func (m *Memory) DeleteAssignments(ctx context.Context, org, configID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.assignments
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.m {
		if k.Org == org && k.Configuration == configID {
			delete(s.m, k)
		}
	}
	return nil
}
