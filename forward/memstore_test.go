package forward_test

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// memStore is an in-memory forward.Store for the engine's tests.
type memStore struct {
	mu         sync.Mutex
	configs    map[[2]string]forward.Configuration
	objectives map[[2]string]forward.Objective
	deliveries map[[3]string]forward.Delivery
	statuses   map[[2]string]forward.ConfigStatus
	attempts   map[[2]string][]forward.Attempt
	marks      map[string]time.Time
}

var _ forward.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{
		configs:    map[[2]string]forward.Configuration{},
		objectives: map[[2]string]forward.Objective{},
		deliveries: map[[3]string]forward.Delivery{},
		statuses:   map[[2]string]forward.ConfigStatus{},
		attempts:   map[[2]string][]forward.Attempt{},
		marks:      map[string]time.Time{},
	}
}

func (s *memStore) PutConfiguration(_ context.Context, c forward.Configuration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configs[[2]string{c.Org, c.ID}] = c
	return nil
}

func (s *memStore) GetConfiguration(_ context.Context, org, id string) (forward.Configuration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.configs[[2]string{org, id}]
	if !ok {
		return c, forward.ErrNotFound
	}
	return c, nil
}

func (s *memStore) ListConfigurations(_ context.Context, org string) ([]forward.Configuration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []forward.Configuration
	for k, c := range s.configs {
		if k[0] == org {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *memStore) DeleteConfiguration(_ context.Context, org, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.configs[[2]string{org, id}]; !ok {
		return forward.ErrNotFound
	}
	delete(s.configs, [2]string{org, id})
	return nil
}

func (s *memStore) PutObjective(_ context.Context, o forward.Objective) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objectives[[2]string{o.Org, o.ID}] = o
	return nil
}

func (s *memStore) GetObjective(_ context.Context, org, id string) (forward.Objective, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objectives[[2]string{org, id}]
	if !ok {
		return o, forward.ErrNotFound
	}
	return o, nil
}

func (s *memStore) ListObjectives(_ context.Context, org string) ([]forward.Objective, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []forward.Objective
	for k, o := range s.objectives {
		if k[0] == org {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *memStore) DeleteObjective(_ context.Context, org, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objectives[[2]string{org, id}]; !ok {
		return forward.ErrNotFound
	}
	delete(s.objectives, [2]string{org, id})
	return nil
}

func (s *memStore) ObjectivesFor(_ context.Context, org, activityID string) ([]forward.Objective, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []forward.Objective
	for k, o := range s.objectives {
		if k[0] == org && o.ActivityID == activityID {
			out = append(out, o)
		}
	}
	return out, nil
}

func dkey(d forward.Delivery) [3]string { return [3]string{d.Org, d.ConfigurationID, d.StatementID} }

func (s *memStore) EnsureDeliveries(_ context.Context, ds []forward.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if _, ok := s.deliveries[dkey(d)]; !ok {
			s.deliveries[dkey(d)] = d
		}
	}
	return nil
}

func (s *memStore) ClaimDeliveries(_ context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]forward.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []forward.Delivery
	for _, d := range s.deliveries {
		if d.State == forward.StatePending && !d.NextAttempt.After(now) && (d.LeaseOwner == "" || !d.LeaseUntil.After(now)) {
			due = append(due, d)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextAttempt.Equal(due[j].NextAttempt) {
			return due[i].NextAttempt.Before(due[j].NextAttempt)
		}
		return due[i].StatementID < due[j].StatementID
	})
	if len(due) > limit {
		due = due[:limit]
	}
	for i := range due {
		due[i].LeaseOwner, due[i].LeaseUntil = owner, now.Add(lease)
		s.deliveries[dkey(due[i])] = due[i]
	}
	return due, nil
}

func (s *memStore) UpdateDelivery(_ context.Context, d forward.Delivery, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.deliveries[dkey(d)]
	if !ok || cur.LeaseOwner != owner {
		return forward.ErrLeaseLost
	}
	d.LeaseOwner, d.LeaseUntil = "", time.Time{}
	s.deliveries[dkey(d)] = d
	return nil
}

func (s *memStore) GetDelivery(_ context.Context, org, configID, statementID string) (forward.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[[3]string{org, configID, statementID}]
	if !ok {
		return d, forward.ErrNotFound
	}
	return d, nil
}

func (s *memStore) ListDeliveries(_ context.Context, org, configID, state string, limit int) ([]forward.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []forward.Delivery
	for k, d := range s.deliveries {
		if k[0] == org && k[1] == configID && (state == "" || d.State == state) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *memStore) DeliveriesOfStatement(_ context.Context, org, statementID string) ([]forward.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []forward.Delivery
	for k, d := range s.deliveries {
		if k[0] == org && k[2] == statementID {
			out = append(out, d)
		}
	}
	return out, nil
}

func (s *memStore) Redrive(_ context.Context, org, configID string, states []string, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, d := range s.deliveries {
		if k[0] == org && k[1] == configID && slices.Contains(states, d.State) {
			d.State, d.NextAttempt, d.Attempts, d.UpdatedAt = forward.StatePending, now, 0, now
			s.deliveries[k] = d
			n++
		}
	}
	return n, nil
}

func (s *memStore) CountDeliveries(_ context.Context, org, configID string) (forward.Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c forward.Counts
	for k, d := range s.deliveries {
		if k[0] != org || k[1] != configID {
			continue
		}
		switch d.State {
		case forward.StatePending:
			c.Pending++
			if c.OldestPending.IsZero() || d.CreatedAt.Before(c.OldestPending) {
				c.OldestPending = d.CreatedAt
			}
		case forward.StateDelivered:
			c.Delivered++
		case forward.StateParked:
			c.Parked++
		case forward.StateRejected:
			c.Rejected++
		case forward.StateSkipped:
			c.Skipped++
		}
	}
	return c, nil
}

func (s *memStore) GetStatus(_ context.Context, org, configID string) (forward.ConfigStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.statuses[[2]string{org, configID}]
	if !ok {
		return st, forward.ErrNotFound
	}
	return st, nil
}

func (s *memStore) PutStatus(_ context.Context, st forward.ConfigStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[[2]string{st.Org, st.ConfigurationID}] = st
	return nil
}

func (s *memStore) AddAttempt(_ context.Context, a forward.Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{a.Org, a.ConfigurationID}
	s.attempts[k] = append(s.attempts[k], a)
	return nil
}

func (s *memStore) ListAttempts(_ context.Context, org, configID string, limit int) ([]forward.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.attempts[[2]string{org, configID}]
	var out []forward.Attempt
	for i := len(all) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		out = append(out, all[i])
	}
	return out, nil
}

func (s *memStore) GetWatermark(_ context.Context, name string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.marks[name], nil
}

func (s *memStore) SetWatermark(_ context.Context, name string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks[name] = t
	return nil
}

func (s *memStore) ObjectiveOrgs(_ context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.objectives {
		out = append(out, k[0])
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
