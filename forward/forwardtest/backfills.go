package forwardtest

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// memBackfills is the BackfillStore role of Memory.
type memBackfills struct {
	mu sync.Mutex
	m  map[[3]string]forward.BackfillJob
}

func backfillKey(org, config, objective string) [3]string { return [3]string{org, config, objective} }

func backfillMs(j forward.BackfillJob) forward.BackfillJob {
	j.Until, j.StartedAt, j.FinishedAt, j.UpdatedAt, j.LeaseUntil = ms(j.Until), ms(j.StartedAt), ms(j.FinishedAt), ms(j.UpdatedAt), ms(j.LeaseUntil)
	return j
}

// StartBackfill implements forward.BackfillStore.
func (m *Memory) StartBackfill(ctx context.Context, j forward.BackfillJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[[3]string]forward.BackfillJob{}
	}
	j.LeaseOwner, j.LeaseUntil = "", time.Time{}
	s.m[backfillKey(j.Org, j.ConfigurationID, j.ObjectiveID)] = backfillMs(j)
	return nil
}

// GetBackfill implements forward.BackfillStore.
func (m *Memory) GetBackfill(ctx context.Context, org, configID, objectiveID string) (forward.BackfillJob, error) {
	if err := ctx.Err(); err != nil {
		return forward.BackfillJob{}, err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.m[backfillKey(org, configID, objectiveID)]
	if !ok {
		return forward.BackfillJob{}, forward.ErrNotFound
	}
	return j, nil
}

func (s *memBackfills) sorted(keep func(forward.BackfillJob) bool) []forward.BackfillJob {
	out := []forward.BackfillJob{}
	for _, j := range s.m {
		if keep(j) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b forward.BackfillJob) int {
		return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.ConfigurationID, b.ConfigurationID), cmp.Compare(a.ObjectiveID, b.ObjectiveID))
	})
	return out
}

// ListBackfills implements forward.BackfillStore.
func (m *Memory) ListBackfills(ctx context.Context, org, configID string) ([]forward.BackfillJob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sorted(func(j forward.BackfillJob) bool { return j.Org == org && j.ConfigurationID == configID }), nil
}

// RunningBackfills implements forward.BackfillStore.
func (m *Memory) RunningBackfills(ctx context.Context, limit int) ([]forward.BackfillJob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sorted(func(j forward.BackfillJob) bool { return j.State == forward.BackfillRunning })
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// LeaseBackfill implements forward.BackfillStore.
func (m *Memory) LeaseBackfill(ctx context.Context, org, configID, objectiveID, id, owner string, now, until time.Time) (forward.BackfillJob, error) {
	if err := ctx.Err(); err != nil {
		return forward.BackfillJob{}, err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	k := backfillKey(org, configID, objectiveID)
	j, ok := s.m[k]
	if !ok {
		return forward.BackfillJob{}, forward.ErrNotFound
	}
	if j.ID != id || j.State != forward.BackfillRunning || (j.LeaseOwner != "" && j.LeaseOwner != owner && j.LeaseUntil.After(now)) {
		return forward.BackfillJob{}, forward.ErrLeaseLost
	}
	j.LeaseOwner, j.LeaseUntil = owner, ms(until)
	s.m[k] = j
	return j, nil
}

// UpdateBackfill implements forward.BackfillStore.
func (m *Memory) UpdateBackfill(ctx context.Context, j forward.BackfillJob, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	k := backfillKey(j.Org, j.ConfigurationID, j.ObjectiveID)
	cur, ok := s.m[k]
	if !ok {
		return forward.ErrNotFound
	}
	if cur.ID != j.ID || owner == "" || cur.LeaseOwner != owner {
		return forward.ErrLeaseLost
	}
	cur.State, cur.Counted, cur.Cursor, cur.Done, cur.Total, cur.Error = j.State, j.Counted, j.Cursor, j.Done, j.Total, j.Error
	cur.FinishedAt, cur.UpdatedAt, cur.LeaseOwner, cur.LeaseUntil = ms(j.FinishedAt), ms(j.UpdatedAt), j.LeaseOwner, ms(j.LeaseUntil)
	s.m[k] = cur
	return nil
}

// RestartBackfill implements forward.BackfillStore.
func (m *Memory) RestartBackfill(ctx context.Context, j forward.BackfillJob, failedID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	k := backfillKey(j.Org, j.ConfigurationID, j.ObjectiveID)
	cur, ok := s.m[k]
	if !ok {
		return forward.ErrNotFound
	}
	if cur.ID != failedID || cur.State != forward.BackfillFailed {
		return forward.ErrBackfillNotFailed
	}
	j.LeaseOwner, j.LeaseUntil = "", time.Time{}
	s.m[k] = backfillMs(j)
	return nil
}

// DeleteBackfills implements forward.BackfillStore.
func (m *Memory) DeleteBackfills(ctx context.Context, org, configID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.backfills
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.m {
		if k[0] == org && k[1] == configID {
			delete(s.m, k)
		}
	}
	return nil
}
