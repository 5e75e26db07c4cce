package forwardtest

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/lrs-project/lrs/forward"
)

// memResults is Memory's results read model (forward.ResultStore).
type memResults struct {
	contribs map[[3]string]forward.Contribution // org, objective, statement
	voids    map[[2]string]string               // org, target -> voiding statement
	results  map[forward.ResultKey]forward.ObjectiveResult
}

var errRepeated = errors.New("forwardtest: a result is repeated in PutResults")

func (m *Memory) res() *memResults {
	if m.results.contribs == nil {
		m.results = memResults{
			contribs: map[[3]string]forward.Contribution{},
			voids:    map[[2]string]string{},
			results:  map[forward.ResultKey]forward.ObjectiveResult{},
		}
	}
	return &m.results
}

func cloneFloat(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneScore(s *forward.Score) *forward.Score {
	if s == nil {
		return nil
	}
	return &forward.Score{Scaled: cloneFloat(s.Scaled), Raw: cloneFloat(s.Raw), Min: cloneFloat(s.Min), Max: cloneFloat(s.Max)}
}

func cloneValues(v forward.Values) forward.Values {
	v.Completion, v.Success, v.Score = cloneBool(v.Completion), cloneBool(v.Success), cloneScore(v.Score)
	v.FirstActivity, v.LastActivity, v.CompletedAt = ms(v.FirstActivity), ms(v.LastActivity), ms(v.CompletedAt)
	return v
}

func cloneContribution(c forward.Contribution) forward.Contribution {
	c.Completion, c.Success, c.Score = cloneBool(c.Completion), cloneBool(c.Success), cloneScore(c.Score)
	c.Stored, c.Timestamp = ms(c.Stored), ms(c.Timestamp)
	return c
}

func cloneResult(r forward.ObjectiveResult) forward.ObjectiveResult {
	r.Computed = cloneValues(r.Computed)
	r.Override.Values = cloneValues(r.Override.Values)
	if r.Override.Set != nil {
		r.Override.Set = maps.Clone(r.Override.Set)
		for f, e := range r.Override.Set {
			e.At = ms(e.At)
			r.Override.Set[f] = e
		}
	}
	if r.History != nil {
		h := make([]forward.OverrideEvent, len(r.History))
		for i, e := range r.History {
			e.At, e.Values = ms(e.At), cloneValues(e.Values)
			e.Set, e.Cleared = slices.Clone(e.Set), slices.Clone(e.Cleared)
			h[i] = e
		}
		r.History = h
	}
	r.CreatedAt, r.UpdatedAt = ms(r.CreatedAt), ms(r.UpdatedAt)
	return r
}

// AddContributions implements forward.ResultStore.
func (m *Memory) AddContributions(ctx context.Context, cs []forward.Contribution) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.res()
	for i, c := range cs {
		c = cloneContribution(c)
		c.New = false
		k := [3]string{c.Org, c.ObjectiveID, c.StatementID}
		if old, ok := rs.contribs[k]; ok && !cs[i].New {
			if !c.Stored.Before(old.Stored) {
				continue
			}
			c.Voided = c.Voided || old.Voided
		}
		if _, voided := rs.voids[[2]string{c.Org, c.StatementID}]; voided {
			c.Voided = true
		}
		if cs[i].New {
			cs[i].Voided = c.Voided
		}
		rs.contribs[k] = c
	}
	return nil
}

// VoidStatements implements forward.ResultStore.
func (m *Memory) VoidStatements(ctx context.Context, org string, voids []forward.Void) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.res()
	for _, v := range voids {
		rs.voids[[2]string{org, v.Target}] = v.By
		for _, key := range v.Results {
			k := [3]string{org, key.ObjectiveID, v.Target}
			if c, ok := rs.contribs[k]; ok {
				c.Voided = true
				rs.contribs[k] = c
			}
		}
	}
	return nil
}

// ResultContributions implements forward.ResultStore.
func (m *Memory) ResultContributions(ctx context.Context, keys []forward.ResultKey) (map[forward.ResultKey][]forward.Contribution, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[forward.ResultKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	out := map[forward.ResultKey][]forward.Contribution{}
	for _, c := range m.res().contribs {
		if want[c.ResultKey] {
			out[c.ResultKey] = append(out[c.ResultKey], cloneContribution(c))
		}
	}
	for _, cs := range out {
		slices.SortFunc(cs, func(a, b forward.Contribution) int { return cmp.Compare(a.StatementID, b.StatementID) })
	}
	return out, nil
}

// GetResults implements forward.ResultStore.
func (m *Memory) GetResults(ctx context.Context, keys []forward.ResultKey) (map[forward.ResultKey]forward.ObjectiveResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[forward.ResultKey]forward.ObjectiveResult{}
	for _, k := range keys {
		if r, ok := m.res().results[k]; ok {
			out[k] = cloneResult(r)
		}
	}
	return out, nil
}

// PutResults implements forward.ResultStore.
func (m *Memory) PutResults(ctx context.Context, rs []forward.ObjectiveResult, _ bool) ([]forward.ResultKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[forward.ResultKey]bool{}
	for _, r := range rs {
		if seen[r.ResultKey] {
			return nil, errRepeated
		}
		seen[r.ResultKey] = true
	}
	var conflicts []forward.ResultKey
	for _, r := range rs {
		if r.Gen != m.res().results[r.ResultKey].Gen {
			conflicts = append(conflicts, r.ResultKey)
			continue
		}
		r = cloneResult(r)
		r.Gen++
		m.res().results[r.ResultKey] = r
	}
	return conflicts, nil
}

// ListResults implements forward.ResultStore.
func (m *Memory) ListResults(ctx context.Context, q forward.ResultQuery) ([]forward.ObjectiveResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []forward.ObjectiveResult{}
	for _, r := range m.res().results {
		if q.Matches(r) && (q.After == nil || q.Less(*q.After, r.Cursor())) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b forward.ObjectiveResult) int { return q.Compare(a.Cursor(), b.Cursor()) })
	if len(out) > q.Limit {
		out = out[:max(q.Limit, 0)]
	}
	for i := range out {
		out[i] = cloneResult(out[i])
	}
	return out, nil
}

// DeleteResults implements forward.ResultStore.
func (m *Memory) DeleteResults(ctx context.Context, org, objectiveID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.res()
	maps.DeleteFunc(rs.contribs, func(k [3]string, _ forward.Contribution) bool { return k[0] == org && k[1] == objectiveID })
	maps.DeleteFunc(rs.results, func(k forward.ResultKey, _ forward.ObjectiveResult) bool {
		return k.Org == org && k.ObjectiveID == objectiveID
	})
	return nil
}
