package forwardtest

import (
	"context"
	"slices"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// countAttempt adds a to its hour's counts; m.mu is held.
func (m *Memory) countAttempt(a forward.Attempt) {
	if m.hours == nil {
		m.hours = map[[2]string]map[time.Time]forward.HourCount{}
	}
	k := [2]string{a.Org, a.ConfigurationID}
	if m.hours[k] == nil {
		m.hours[k] = map[time.Time]forward.HourCount{}
	}
	n := forward.CountAttempt(a)
	c := m.hours[k][n.Hour]
	c.Hour = n.Hour
	c.Attempts += n.Attempts
	c.Delivered += n.Delivered
	c.Failed += n.Failed
	m.hours[k][n.Hour] = c
}

// AttemptCounts implements forward.AttemptLog.
func (m *Memory) AttemptCounts(ctx context.Context, org, configID string, since, until time.Time) ([]forward.HourCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	since, until = since.UTC().Truncate(time.Hour), until.UTC().Truncate(time.Hour)
	out := []forward.HourCount{}
	for h, c := range m.hours[[2]string{org, configID}] {
		if !h.Before(since) && !h.After(until) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b forward.HourCount) int { return a.Hour.Compare(b.Hour) })
	return out, nil
}
