package forwardtest

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// Memory is an in-memory forward.Store: every role of the contract, with
// the guarantees of the storage engines (lrs/storetest's forwarding suite
// runs on it), for the tests of the engine and of the destinations. Times
// are kept at millisecond precision, as the engines keep them.
type Memory struct {
	mu          sync.Mutex
	configs     map[[2]string]forward.Configuration
	objectives  map[[2]string]forward.Objective
	deliveries  map[[3]string]forward.Delivery
	statuses    map[[2]string]forward.ConfigStatus
	attempts    map[[2]string][]forward.Attempt
	marks       map[string]time.Time
	periods     map[periodKey]periodClaim
	digest      map[[3]string]forward.PendingRejection
	attemptCap  int
	results     memResults                                    // results.go
	hours       map[[2]string]map[time.Time]forward.HourCount // activity.go
	assignments memAssignments                                // assignments.go
	kept        memFiles                                      // files.go
	backfills   memBackfills                                  // backfills.go
}

type periodKey struct {
	name   string
	period int64
}

type periodClaim struct {
	owner    string
	until    time.Time
	finished time.Time
}

var _ forward.Store = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		configs:    map[[2]string]forward.Configuration{},
		objectives: map[[2]string]forward.Objective{},
		deliveries: map[[3]string]forward.Delivery{},
		statuses:   map[[2]string]forward.ConfigStatus{},
		attempts:   map[[2]string][]forward.Attempt{},
		marks:      map[string]time.Time{},
		periods:    map[periodKey]periodClaim{},
		digest:     map[[3]string]forward.PendingRejection{},
	}
}

// SetAttemptCap sets how many delivery log entries a configuration keeps
// (forward.AttemptLogCap when n <= 0), as the engines allow their tests.
func (m *Memory) SetAttemptCap(n int) {
	m.mu.Lock()
	m.attemptCap = n
	m.mu.Unlock()
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

func cloneConfig(c forward.Configuration) forward.Configuration {
	c.Properties = maps.Clone(c.Properties)
	c.SealedSecret = slices.Clone(c.SealedSecret)
	c.CreatedAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.UpdatedAt)
	return c
}

func cloneObjective(o forward.Objective) forward.Objective {
	o.Verbs, o.Configurations = slices.Clone(o.Verbs), slices.Clone(o.Configurations)
	o.CreatedAt, o.UpdatedAt = ms(o.CreatedAt), ms(o.UpdatedAt)
	if o.Attached != nil {
		at := make(map[string]time.Time, len(o.Attached))
		for k, v := range o.Attached {
			at[k] = ms(v)
		}
		o.Attached = at
	}
	return o
}

// PutConfiguration implements forward.ConfigurationStore.
func (m *Memory) PutConfiguration(ctx context.Context, c forward.Configuration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.configs[[2]string{c.Org, c.ID}] = cloneConfig(c)
	return nil
}

// GetConfiguration implements forward.ConfigurationStore.
func (m *Memory) GetConfiguration(ctx context.Context, org, id string) (forward.Configuration, error) {
	if err := ctx.Err(); err != nil {
		return forward.Configuration{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.configs[[2]string{org, id}]
	if !ok {
		return forward.Configuration{}, forward.ErrNotFound
	}
	return cloneConfig(c), nil
}

// ListConfigurations implements forward.ConfigurationStore.
func (m *Memory) ListConfigurations(ctx context.Context, org string) ([]forward.Configuration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []forward.Configuration{}
	for k, c := range m.configs {
		if k[0] == org {
			out = append(out, cloneConfig(c))
		}
	}
	slices.SortFunc(out, func(a, b forward.Configuration) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteConfiguration implements forward.ConfigurationStore.
func (m *Memory) DeleteConfiguration(ctx context.Context, org, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{org, id}
	if _, ok := m.configs[k]; !ok {
		return forward.ErrNotFound
	}
	delete(m.configs, k)
	return nil
}

// PutObjective implements forward.ObjectiveStore.
func (m *Memory) PutObjective(ctx context.Context, o forward.Objective) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objectives[[2]string{o.Org, o.ID}] = cloneObjective(o)
	return nil
}

// GetObjective implements forward.ObjectiveStore.
func (m *Memory) GetObjective(ctx context.Context, org, id string) (forward.Objective, error) {
	if err := ctx.Err(); err != nil {
		return forward.Objective{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objectives[[2]string{org, id}]
	if !ok {
		return forward.Objective{}, forward.ErrNotFound
	}
	return cloneObjective(o), nil
}

func (m *Memory) findObjectives(ctx context.Context, keep func(k [2]string, o forward.Objective) bool) ([]forward.Objective, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []forward.Objective{}
	for k, o := range m.objectives {
		if keep(k, o) {
			out = append(out, cloneObjective(o))
		}
	}
	slices.SortFunc(out, func(a, b forward.Objective) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ListObjectives implements forward.ObjectiveStore.
func (m *Memory) ListObjectives(ctx context.Context, org string) ([]forward.Objective, error) {
	return m.findObjectives(ctx, func(k [2]string, _ forward.Objective) bool { return k[0] == org })
}

// ObjectivesFor implements forward.ObjectiveStore.
func (m *Memory) ObjectivesFor(ctx context.Context, org, activityID string) ([]forward.Objective, error) {
	return m.findObjectives(ctx, func(k [2]string, o forward.Objective) bool { return k[0] == org && o.ActivityID == activityID })
}

// DeleteObjective implements forward.ObjectiveStore.
func (m *Memory) DeleteObjective(ctx context.Context, org, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{org, id}
	if _, ok := m.objectives[k]; !ok {
		return forward.ErrNotFound
	}
	delete(m.objectives, k)
	return nil
}

// ObjectiveOrgs implements forward.ObjectiveStore.
func (m *Memory) ObjectiveOrgs(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objectives {
		out = append(out, k[0])
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func dkey(d forward.Delivery) [3]string { return [3]string{d.Org, d.ConfigurationID, d.StatementID} }

func normDelivery(d forward.Delivery) forward.Delivery {
	d.NextAttempt, d.FirstFailure, d.LastAttempt = ms(d.NextAttempt), ms(d.FirstFailure), ms(d.LastAttempt)
	d.CreatedAt, d.UpdatedAt, d.LeaseUntil = ms(d.CreatedAt), ms(d.UpdatedAt), ms(d.LeaseUntil)
	return d
}

// EnsureDeliveries implements forward.DeliveryQueue.
func (m *Memory) EnsureDeliveries(ctx context.Context, ds []forward.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range ds {
		if _, ok := m.deliveries[dkey(d)]; !ok {
			d.LeaseOwner, d.LeaseUntil = "", time.Time{}
			m.deliveries[dkey(d)] = normDelivery(d)
		}
	}
	return nil
}

// DueConfigurations implements forward.DeliveryQueue.
func (m *Memory) DueConfigurations(ctx context.Context, now time.Time) ([]forward.ConfigKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now = ms(now)
	set := map[forward.ConfigKey]bool{}
	for _, d := range m.deliveries {
		if d.State == forward.StatePending && !d.NextAttempt.After(now) && (d.LeaseUntil.IsZero() || !d.LeaseUntil.After(now)) {
			set[forward.ConfigKey{Org: d.Org, ID: d.ConfigurationID}] = true
		}
	}
	out := make([]forward.ConfigKey, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b forward.ConfigKey) int { return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// ClaimDeliveries implements forward.DeliveryQueue.
func (m *Memory) ClaimDeliveries(ctx context.Context, c forward.Claim) ([]forward.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, dueBy := ms(c.Now), ms(c.DueBy)
	if dueBy.IsZero() {
		dueBy = now
	}
	due := []forward.Delivery{}
	for _, d := range m.deliveries {
		if d.Org == c.Org && d.ConfigurationID == c.ConfigurationID && d.State == forward.StatePending &&
			!d.NextAttempt.After(dueBy) && (d.LeaseUntil.IsZero() || !d.LeaseUntil.After(now)) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b forward.Delivery) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.StatementID, b.StatementID))
	})
	due = due[:min(max(c.Limit, 0), len(due))]
	for i := range due {
		due[i].LeaseOwner, due[i].LeaseUntil = c.Owner, ms(now.Add(c.Lease))
		m.deliveries[dkey(due[i])] = due[i]
	}
	return due, nil
}

// UpdateDelivery implements forward.DeliveryQueue.
func (m *Memory) UpdateDelivery(ctx context.Context, d forward.Delivery, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.update(d, owner)
}

// UpdateDeliveries implements forward.DeliveryQueue.
func (m *Memory) UpdateDeliveries(ctx context.Context, ds []forward.Delivery, owner string) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]error, len(ds))
	for i, d := range ds {
		out[i] = m.update(d, owner)
	}
	return out, nil
}

func (m *Memory) update(d forward.Delivery, owner string) error {
	cur, ok := m.deliveries[dkey(d)]
	switch {
	case !ok:
		return forward.ErrNotFound
	case cur.LeaseOwner == "" || cur.LeaseOwner != owner:
		return forward.ErrLeaseLost
	}
	d = normDelivery(d)
	cur.State, cur.Attempts, cur.NextAttempt, cur.FirstFailure, cur.LastAttempt = d.State, d.Attempts, d.NextAttempt, d.FirstFailure, d.LastAttempt
	cur.LastStatus, cur.LastError, cur.Reason, cur.UpdatedAt = d.LastStatus, d.LastError, d.Reason, d.UpdatedAt
	if cur.UpdatedAt.IsZero() {
		cur.UpdatedAt = ms(time.Now())
	}
	cur.LeaseOwner, cur.LeaseUntil = "", time.Time{}
	m.deliveries[dkey(cur)] = cur
	return nil
}

// GetDelivery implements forward.DeliveryQueue.
func (m *Memory) GetDelivery(ctx context.Context, org, configID, statementID string) (forward.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return forward.Delivery{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[[3]string{org, configID, statementID}]
	if !ok {
		return forward.Delivery{}, forward.ErrNotFound
	}
	return d, nil
}

// ListDeliveries implements forward.DeliveryQueue.
func (m *Memory) ListDeliveries(ctx context.Context, org, configID, state string, limit int) ([]forward.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []forward.Delivery{}
	for k, d := range m.deliveries {
		if k[0] == org && k[1] == configID && (state == "" || d.State == state) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b forward.Delivery) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.StatementID, a.StatementID))
	})
	return out[:min(max(limit, 0), len(out))], nil
}

// DeliveriesOfStatement implements forward.DeliveryQueue.
func (m *Memory) DeliveriesOfStatement(ctx context.Context, org, statementID string) ([]forward.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []forward.Delivery{}
	for k, d := range m.deliveries {
		if k[0] == org && k[2] == statementID {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b forward.Delivery) int { return cmp.Compare(a.ConfigurationID, b.ConfigurationID) })
	return out, nil
}

// Redrive implements forward.DeliveryQueue.
func (m *Memory) Redrive(ctx context.Context, org, configID string, states []string, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now = ms(now)
	n := 0
	for k, d := range m.deliveries {
		if k[0] == org && k[1] == configID && slices.Contains(states, d.State) {
			if d.State == forward.StatePending && ((d.LeaseOwner != "" && d.LeaseUntil.After(now)) ||
				(!d.NextAttempt.After(now) && d.Attempts == 0 && d.FirstFailure.IsZero() && d.Reason == "")) {
				continue // being sent, or due now with a fresh schedule already
			}
			d.State, d.Attempts, d.NextAttempt, d.FirstFailure, d.Reason, d.UpdatedAt = forward.StatePending, 0, now, time.Time{}, "", now
			d.LeaseOwner, d.LeaseUntil = "", time.Time{}
			m.deliveries[k] = d
			n++
		}
	}
	return n, nil
}

// reopenStates are the states ReopenDelivery re-opens.
// (a skipped one only when its destination skipped it: attempted).
var reopenStates = []string{forward.StateDelivered, forward.StateRejected, forward.StateParked, forward.StateSkipped}

// ReopenDelivery implements forward.DeliveryQueue.
func (m *Memory) ReopenDelivery(ctx context.Context, org, configID, statementID string, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now = ms(now)
	k := [3]string{org, configID, statementID}
	d, ok := m.deliveries[k]
	if !ok || !slices.Contains(reopenStates, d.State) || (d.State == forward.StateSkipped && d.LastAttempt.IsZero()) {
		return false, nil
	}
	d.State, d.Attempts, d.NextAttempt, d.FirstFailure, d.Reason, d.UpdatedAt = forward.StatePending, 0, now, time.Time{}, "", now
	d.LeaseOwner, d.LeaseUntil = "", time.Time{}
	m.deliveries[k] = d
	return true, nil
}

// CountDeliveries implements forward.DeliveryQueue.
func (m *Memory) CountDeliveries(ctx context.Context, org, configID string) (forward.Counts, error) {
	if err := ctx.Err(); err != nil {
		return forward.Counts{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var c forward.Counts
	for k, d := range m.deliveries {
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

// GetStatus implements forward.StatusStore.
func (m *Memory) GetStatus(ctx context.Context, org, configID string) (forward.ConfigStatus, error) {
	if err := ctx.Err(); err != nil {
		return forward.ConfigStatus{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.statuses[[2]string{org, configID}]
	if !ok {
		return forward.ConfigStatus{}, forward.ErrNotFound
	}
	return s, nil
}

// PutStatus implements forward.StatusStore.
func (m *Memory) PutStatus(ctx context.Context, s forward.ConfigStatus) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s.FirstFailure, s.LastSuccess, s.LastAlert, s.UpdatedAt = ms(s.FirstFailure), ms(s.LastSuccess), ms(s.LastAlert), ms(s.UpdatedAt)
	s.Since, s.StoppedAt = ms(s.Since), ms(s.StoppedAt)
	m.statuses[[2]string{s.Org, s.ConfigurationID}] = s
	return nil
}

// AddAttempt implements forward.AttemptLog.
func (m *Memory) AddAttempt(ctx context.Context, a forward.Attempt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a.At, a.StatementIDs = ms(a.At), slices.Clone(a.StatementIDs)
	k := [2]string{a.Org, a.ConfigurationID}
	log := m.attempts[k]
	// Kept in At order (then insertion order), as the engines' keys order it.
	i, _ := slices.BinarySearchFunc(log, a.At, func(e forward.Attempt, t time.Time) int {
		if e.At.After(t) {
			return 1
		}
		return -1
	})
	log = slices.Insert(log, i, a)
	keep := m.attemptCap
	if keep <= 0 {
		keep = forward.AttemptLogCap
	}
	if len(log) > keep {
		log = slices.Delete(log, 0, len(log)-keep)
	}
	m.attempts[k] = log
	m.countAttempt(a)
	return nil
}

// ListAttempts implements forward.AttemptLog.
func (m *Memory) ListAttempts(ctx context.Context, org, configID string, limit int) ([]forward.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	log := m.attempts[[2]string{org, configID}]
	out := []forward.Attempt{}
	for i := len(log) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, log[i])
	}
	return out, nil
}

// GetWatermark implements forward.WatermarkStore.
func (m *Memory) GetWatermark(ctx context.Context, name string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.marks[name], nil
}

// SetWatermark implements forward.WatermarkStore.
func (m *Memory) SetWatermark(ctx context.Context, name string, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marks[name] = ms(t)
	return nil
}

// ClaimPeriod implements forward.PeriodStore.
func (m *Memory) ClaimPeriod(ctx context.Context, name string, period int64, owner string, now, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := periodKey{name, period}
	if c, ok := m.periods[k]; ok && (!c.finished.IsZero() || c.until.After(ms(now))) {
		return false, nil
	}
	m.periods[k] = periodClaim{owner: owner, until: ms(until)}
	return true, nil
}

// FinishPeriod implements forward.PeriodStore.
func (m *Memory) FinishPeriod(ctx context.Context, name string, period int64, owner string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := periodKey{name, period}
	if c, ok := m.periods[k]; ok && c.owner == owner && c.finished.IsZero() {
		c.finished = ms(at)
		m.periods[k] = c
	}
	return nil
}

// LastPeriod implements forward.PeriodStore.
func (m *Memory) LastPeriod(ctx context.Context, name string) (int64, time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		best int64
		at   time.Time
		ok   bool
	)
	for k, c := range m.periods {
		if k.name == name && !c.finished.IsZero() && (!ok || k.period > best) {
			best, at, ok = k.period, c.finished, true
		}
	}
	return best, at, ok, nil
}

func rkey(r forward.PendingRejection) [3]string {
	return [3]string{r.Org, r.ConfigurationID, r.StatementID}
}

// AddRejected implements forward.DigestQueue.
func (m *Memory) AddRejected(ctx context.Context, items []forward.PendingRejection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range items {
		it.At = ms(it.At)
		m.digest[rkey(it)] = it
	}
	return nil
}

// PendingRejected implements forward.DigestQueue.
func (m *Memory) PendingRejected(ctx context.Context, limit int) ([]forward.PendingRejection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]forward.PendingRejection, 0, len(m.digest))
	for _, it := range m.digest {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b forward.PendingRejection) int {
		ka, kb := rkey(a), rkey(b)
		return slices.Compare(ka[:], kb[:])
	})
	return out[:min(max(limit, 0), len(out))], nil
}

// DropRejected implements forward.DigestQueue.
func (m *Memory) DropRejected(ctx context.Context, items []forward.PendingRejection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range items {
		if cur, ok := m.digest[rkey(it)]; ok && cur.At.Equal(ms(it.At)) {
			delete(m.digest, rkey(it))
		}
	}
	return nil
}
