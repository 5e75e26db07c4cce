package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/schema"
)

// Causes of a result change (ResultChange.Cause, and the label of
// lrs_forward_result_changes_total).
const (
	CauseStatements = "statements" // statements were stored or voided
	CauseOverride   = "override"   // an administrator set or cleared an override
	CauseRecompute  = "recompute"  // the objective's rules changed
)

// ResultChange tells of a result the read model wrote or found current:
// Revision is its revision now, Changed whether this call changed the
// effective result (and so the revision).
type ResultChange struct {
	ResultKey
	Revision int64
	Changed  bool
	Cause    string
	// Result is the result as written or found (nil when the call did not
	// read it): what a type's Wants decides on without reading it again.
	Result *ObjectiveResult
}

// ResultsOptions tune Results.
type ResultsOptions struct {
	// OnChange is called, after the write, for every result a call
	// changed, and also for every result it found already current (Changed
	// false): a crash between a result's write and OnChange loses the
	// call, and the reconciler's next pass, which re-observes the
	// statements, makes it again with Changed false. An error fails the
	// call (statements: the request, which the client retries, or the
	// reconciler's pass). Optional.
	OnChange func(ctx context.Context, ch ResultChange) error
	// Metrics may be nil.
	Metrics *ResultMetrics
	Logger  *slog.Logger
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// ResultsBackend is the storage Results needs.
type ResultsBackend interface {
	ObjectiveStore
	ResultStore
}

// Results keeps the results read model: it is a StatementObserver (the
// LRS service calls it before answering a request that stored
// statements, the reconciler for every statement stored since its
// watermark), and the administration's way to read, override and
// recompute results.
//
// Each stored statement that an objective matches (its object is the
// objective's activity, its verb one of the objective's, its actor has an
// identifier) adds a contribution to its result, idempotently, keyed by
// statement id; the result is then computed again from all its
// contributions (computeResult) and written with a compare-and-swap on its
// generation, its revision increasing only when the effective result
// changes. A voiding statement marks the contributions of its target
// voided. No step needs a transaction, and several processes may do it
// at once on one database.
type Results struct {
	store ResultsBackend
	stmts StatementGetter
	opts  ResultsOptions

	mu    sync.Mutex
	cache map[string]*resultRules
}

var _ StatementObserver = (*Results)(nil)

// resultRules is what Results knows of an organization's objectives.
type resultRules struct {
	loaded     time.Time
	byActivity map[string][]Objective
	byID       map[string]Objective
}

// NewResults returns the results read model over store; stmts reads the
// statements that voiding statements target.
func NewResults(store ResultsBackend, stmts StatementGetter, opts ResultsOptions) *Results {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Results{store: store, stmts: stmts, opts: opts, cache: map[string]*resultRules{}}
}

// Invalidate forgets what was read of org's objectives (call it after
// editing them).
func (r *Results) Invalidate(org string) {
	r.mu.Lock()
	delete(r.cache, org)
	r.mu.Unlock()
}

func (r *Results) now() time.Time { return r.opts.Now().UTC().Truncate(time.Millisecond) }

// revisionTime is the UpdatedAt of a result's next revision, whose last
// one is at prev: now, or a millisecond after prev when now is not later
// (two changes within a millisecond, or a clock behind another
// process's). Each revision has its own, later time: an overwrite sink
// sends it (the postback's updated), and its receivers keep the latest
// by it and take an equal one for a repeat of what they have (sinks.md
// §4.4), which would drop the newer revision.
func revisionTime(prev, now time.Time) time.Time {
	if floor := prev.Truncate(time.Millisecond); !prev.IsZero() && !now.After(floor) {
		return floor.Add(time.Millisecond)
	}
	return now
}

func (r *Results) rules(ctx context.Context, org string) (*resultRules, error) {
	now := r.opts.Now()
	r.mu.Lock()
	rr, ok := r.cache[org]
	r.mu.Unlock()
	if ok && now.Sub(rr.loaded) < ObligationsTTL && !now.Before(rr.loaded) {
		return rr, nil
	}
	objs, err := r.store.ListObjectives(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("list objectives: %w", err)
	}
	rr = &resultRules{loaded: now, byActivity: map[string][]Objective{}, byID: map[string]Objective{}}
	for _, o := range objs {
		rr.byActivity[o.ActivityID] = append(rr.byActivity[o.ActivityID], o)
		rr.byID[o.ID] = o
	}
	r.mu.Lock()
	r.cache[org] = rr
	r.mu.Unlock()
	return rr, nil
}

// resultStmt is what the read model reads of a statement (with
// goccy/go-json, which decodes it 3 to 5 times faster than encoding/json:
// every statement an objective may match is decoded once more here).
type resultStmt struct {
	Actor struct {
		ObjectType  string `json:"objectType"`
		Name        string `json:"name"`
		Mbox        string `json:"mbox"`
		MboxSHA1Sum string `json:"mbox_sha1sum"`
		OpenID      string `json:"openid"`
		Account     *struct {
			HomePage string `json:"homePage"`
			Name     string `json:"name"`
		} `json:"account"`
	} `json:"actor"`
	Verb struct {
		ID string `json:"id"`
	} `json:"verb"`
	Object struct {
		ObjectType string `json:"objectType"`
		ID         string `json:"id"`
	} `json:"object"`
	Result *struct {
		Completion *bool  `json:"completion"`
		Success    *bool  `json:"success"`
		Duration   string `json:"duration"`
		Score      *struct {
			Scaled *float64 `json:"scaled"`
			Raw    *float64 `json:"raw"`
			Min    *float64 `json:"min"`
			Max    *float64 `json:"max"`
		} `json:"score"`
	} `json:"result"`
	Context *struct {
		Registration string `json:"registration"`
	} `json:"context"`
	Timestamp string `json:"timestamp"`
}

// participant returns the IFI key of the statement's actor ("" for an
// anonymous group) and how it is named.
func (f *resultStmt) participant() (string, Actor) {
	a := f.Actor
	m := map[string]any{}
	actor := Actor{Name: a.Name, Mbox: a.Mbox, MboxSHA1Sum: a.MboxSHA1Sum, OpenID: a.OpenID}
	switch {
	case a.Mbox != "":
		m["mbox"] = a.Mbox
	case a.MboxSHA1Sum != "":
		m["mbox_sha1sum"] = a.MboxSHA1Sum
	case a.OpenID != "":
		m["openid"] = a.OpenID
	case a.Account != nil:
		m["account"] = map[string]any{"homePage": a.Account.HomePage, "name": a.Account.Name}
	}
	if a.Account != nil {
		actor.AccountHomePage, actor.AccountName = a.Account.HomePage, a.Account.Name
	}
	return schema.IFIKey(m), actor
}

func (f *resultStmt) registration() string {
	if f.Context == nil {
		return ""
	}
	return strings.ToLower(f.Context.Registration)
}

// contributions are st's contributions to the objectives of rules (none
// when it is not about one of their activities), or, for a voiding
// statement, its target.
func (r *Results) parse(org string, st Statement, rules *resultRules) (cs []Contribution, voidTarget string) {
	var f resultStmt
	if err := json.Unmarshal(st.Raw, &f); err != nil {
		r.opts.Logger.Warn("results: a stored statement does not parse; it counts for no result", "org", org, "statement", st.ID, "err", err)
		return nil, ""
	}
	if f.Verb.ID == VerbVoided && f.Object.ObjectType == "StatementRef" {
		return nil, strings.ToLower(f.Object.ID)
	}
	if f.Object.ObjectType != "" && f.Object.ObjectType != "Activity" {
		return nil, ""
	}
	objs := rules.byActivity[f.Object.ID]
	if len(objs) == 0 {
		return nil, ""
	}
	participant, actor := f.participant()
	if participant == "" {
		return nil, ""
	}
	stored := st.Stored.UTC().Truncate(time.Millisecond)
	ts := stored
	if t, err := time.Parse(time.RFC3339Nano, f.Timestamp); err == nil {
		ts = t.UTC().Truncate(time.Millisecond)
	}
	c := Contribution{
		ResultKey:   ResultKey{Org: org, Participant: participant, Registration: f.registration()},
		StatementID: st.ID, Stored: stored, Timestamp: ts, Verb: f.Verb.ID, Activity: f.Object.ID, Actor: actor, New: st.New,
	}
	if res := f.Result; res != nil {
		c.Completion, c.Success, c.Duration = res.Completion, res.Success, res.Duration
		if s := res.Score; s != nil {
			c.Score = &Score{Scaled: s.Scaled, Raw: s.Raw, Min: s.Min, Max: s.Max}
		}
	}
	for _, o := range objs {
		if len(o.Verbs) == 0 || slices.Contains(o.Verbs, c.Verb) {
			c.ObjectiveID = o.ID
			cs = append(cs, c)
		}
	}
	return cs, ""
}

// StatementsStored adds the contributions of stmts to their results,
// withdraws those of the statements they void, and brings every result
// they touch up to date. Idempotent; an error means some results may be
// behind, and the call may be repeated.
func (r *Results) StatementsStored(ctx context.Context, org string, stmts []Statement) error {
	if len(stmts) == 0 {
		return nil
	}
	rules, err := r.rules(ctx, org)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if len(rules.byID) == 0 {
		return nil
	}
	var cs []Contribution
	var voids []Void
	touched := map[ResultKey]bool{}
	for _, st := range stmts {
		more, target := r.parse(org, st, rules)
		if target != "" {
			voids = append(voids, Void{Target: target, By: st.ID})
		}
		for _, c := range more {
			touched[c.ResultKey] = true
		}
		cs = append(cs, more...)
	}
	if len(cs) > 0 {
		if err := r.store.AddContributions(ctx, cs); err != nil {
			return fmt.Errorf("results: add %d contributions: %w", len(cs), err)
		}
	}
	if len(voids) > 0 {
		for i := range voids {
			keys, err := r.targetResults(ctx, org, voids[i].Target, rules)
			if err != nil {
				return fmt.Errorf("results: statement %s voided by %s: %w", voids[i].Target, voids[i].By, err)
			}
			voids[i].Results = keys
			for _, k := range keys {
				touched[k] = true
			}
		}
		if err := r.store.VoidStatements(ctx, org, voids); err != nil {
			return fmt.Errorf("results: void %d statements: %w", len(voids), err)
		}
	}
	if len(touched) == 0 {
		return nil
	}
	keys := make([]ResultKey, 0, len(touched))
	for k := range touched {
		keys = append(keys, k)
	}
	return r.recompute(ctx, org, keys, CauseStatements, newResultContributions(cs, voids))
}

// targetResults are the results a voided statement contributes to (or
// would): those of every objective of its activity, whatever their verbs.
// A target not (yet) stored has none.
func (r *Results) targetResults(ctx context.Context, org, id string, rules *resultRules) ([]ResultKey, error) {
	raw, err := r.stmts.GetStatement(ctx, org, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f resultStmt
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, nil
	}
	participant, _ := f.participant()
	if participant == "" || f.Object.ObjectType != "" && f.Object.ObjectType != "Activity" {
		return nil, nil
	}
	var keys []ResultKey
	for _, o := range rules.byActivity[f.Object.ID] {
		keys = append(keys, ResultKey{Org: org, ObjectiveID: o.ID, Participant: participant, Registration: f.registration()})
	}
	return keys, nil
}

// maxResultAttempts bounds the compare-and-swap rounds of one call.
const maxResultAttempts = 12

// ErrResultBusy: a result kept changing under the call (other writers);
// the call may be repeated.
var ErrResultBusy = errors.New("forward: results kept changing meanwhile")

// newResultContributions are the contributions cs (as AddContributions
// stored them) of each result all of whose contributions in cs are New
// and that no void of the call touches: when such a result is not stored
// yet, those are all it has (see recompute).
func newResultContributions(cs []Contribution, voids []Void) map[ResultKey][]Contribution {
	out := map[ResultKey][]Contribution{}
	old := map[ResultKey]bool{}
	for _, c := range cs {
		if !c.New {
			old[c.ResultKey] = true
		} else if !old[c.ResultKey] {
			out[c.ResultKey] = append(out[c.ResultKey], c)
		}
	}
	for k := range old {
		delete(out, k)
	}
	for _, v := range voids {
		for _, k := range v.Results {
			delete(out, k)
		}
	}
	return out
}

// recompute computes the results of keys (all of org) again from their
// contributions and writes those that changed, until none is left behind
// by another writer.
//
// known holds, for some results, the contributions the call just added,
// all New (newResultContributions): a result of known that the first
// round finds not stored is computed from them without reading its
// contributions. They are all it has: its statements were stored first
// by this call, and a contribution stored earlier without a result (a
// crash, or a failed call, between the add and the result's write) is of a
// statement that the reconciler observes again, or the client repeats,
// not New, which reads them all. Another writer creating the result
// meanwhile (another request, another process) makes the create
// conflict, and the next round reads the contributions.
func (r *Results) recompute(ctx context.Context, org string, keys []ResultKey, cause string, known map[ResultKey][]Contribution) error {
	rules, err := r.rules(ctx, org)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	slices.SortFunc(keys, func(a, b ResultKey) int { return ResultQuery{}.Compare(a.cursor(), b.cursor()) })
	pending := slices.Compact(keys)
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxResultAttempts {
			return fmt.Errorf("results: %d results: %w", len(pending), ErrResultBusy)
		}
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		cur, err := r.store.GetResults(ctx, pending) // before the contributions: see PutResults
		if err != nil {
			return fmt.Errorf("results: read %d results: %w", len(pending), err)
		}
		read := pending
		if attempt == 0 && len(known) > 0 {
			read = make([]ResultKey, 0, len(pending))
			for _, k := range pending {
				if _, stored := cur[k]; stored || known[k] == nil {
					read = append(read, k)
				}
			}
		}
		contribs := map[ResultKey][]Contribution{}
		if len(read) > 0 {
			if contribs, err = r.store.ResultContributions(ctx, read); err != nil {
				return fmt.Errorf("results: read the contributions of %d results: %w", len(read), err)
			}
		}
		if len(read) < len(pending) {
			for _, k := range pending {
				if _, stored := cur[k]; !stored && known[k] != nil {
					contribs[k] = known[k]
				}
			}
		}
		now := r.now()
		var writes []ObjectiveResult
		var changes, stale []ResultChange
		reload := false
		for _, k := range pending {
			obj, ok := rules.byID[k.ObjectiveID]
			if !ok {
				continue // the objective was deleted
			}
			old, exists := cur[k]
			if exists && old.RulesAt.After(obj.UpdatedAt) {
				reload = true // another process saw a newer edit of the objective
				stale = append(stale, ResultChange{ResultKey: k})
				continue
			}
			next, changed, write := nextResult(k, old, exists, obj, contribs[k], now)
			ch := ResultChange{ResultKey: k, Revision: next.Revision, Changed: changed, Cause: cause, Result: &next}
			if write {
				writes = append(writes, next)
			} else if !exists {
				continue // nothing counts, and there is no result to change
			}
			changes = append(changes, ch)
		}
		var conflicts []ResultKey
		if len(writes) > 0 {
			if conflicts, err = r.store.PutResults(ctx, writes, false); err != nil {
				return fmt.Errorf("results: write %d results: %w", len(writes), err)
			}
			r.opts.Metrics.conflict(len(conflicts))
		}
		for _, ch := range changes {
			if slices.Contains(conflicts, ch.ResultKey) {
				continue
			}
			if err := r.notify(ctx, ch); err != nil {
				return err
			}
		}
		pending = conflicts
		for _, s := range stale {
			pending = append(pending, s.ResultKey)
		}
		if reload {
			r.Invalidate(org)
			if rules, err = r.rules(ctx, org); err != nil {
				return fmt.Errorf("results: %w", err)
			}
		}
	}
	return nil
}

func (k ResultKey) cursor() ResultCursor {
	return ResultCursor{ObjectiveID: k.ObjectiveID, Participant: k.Participant, Registration: k.Registration}
}

// nextResult is the result of key computed from cs over old (exists:
// stored), whether its effective result changed and whether it must be
// written.
func nextResult(key ResultKey, old ObjectiveResult, exists bool, obj Objective, cs []Contribution, now time.Time) (next ObjectiveResult, changed, write bool) {
	v, src, actor, n := computeResult(obj, cs)
	if !exists {
		if n == 0 {
			return old, false, false
		}
		old = ObjectiveResult{ResultKey: key, CreatedAt: now}
	}
	next = old
	next.Computed, next.Sources, next.Statements, next.RulesAt = v, src, n, obj.UpdatedAt
	if n > 0 {
		next.Actor = actor
	}
	changed = !exists || !sameEffect(old, next)
	if changed {
		next.Revision, next.UpdatedAt = old.Revision+1, revisionTime(old.UpdatedAt, now)
	}
	write = changed || !old.Computed.Equal(next.Computed) || old.Sources != next.Sources || old.Actor != next.Actor ||
		old.Statements != next.Statements || !old.RulesAt.Equal(next.RulesAt)
	return next, changed, write
}

// backoff waits before compare-and-swap round attempt: a few milliseconds,
// doubling, with jitter.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1<<min(attempt, 7)) * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d)))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (r *Results) notify(ctx context.Context, ch ResultChange) error {
	if ch.Changed {
		r.opts.Metrics.change(ch.Cause)
	}
	if r.opts.OnChange == nil {
		return nil
	}
	if err := r.opts.OnChange(ctx, ch); err != nil {
		return fmt.Errorf("results: after the change of %s: %w", ch.ID(), err)
	}
	return nil
}

// Recompute computes the results of keys (all of org) again from their
// contributions under the current objectives, as a statement would.
func (r *Results) Recompute(ctx context.Context, org string, keys []ResultKey) error {
	return r.recompute(ctx, org, slices.Clone(keys), CauseRecompute, nil)
}

// RecomputeObjective computes every stored result of the objective again
// (after its activity, verbs or attempt rule changed) and returns how many
// there are.
func (r *Results) RecomputeObjective(ctx context.Context, org, objectiveID string) (int, error) {
	r.Invalidate(org)
	q := ResultQuery{Org: org, ObjectiveID: objectiveID, Limit: 500}
	n := 0
	for {
		page, err := r.store.ListResults(ctx, q)
		if err != nil {
			return n, fmt.Errorf("results: list: %w", err)
		}
		keys := make([]ResultKey, len(page))
		for i, res := range page {
			keys[i] = res.ResultKey
		}
		if err := r.recompute(ctx, org, keys, CauseRecompute, nil); err != nil {
			return n, err
		}
		n += len(page)
		if len(page) < q.Limit {
			return n, nil
		}
		c := page[len(page)-1].Cursor()
		q.After = &c
	}
}

// OverrideChange is an administrator's change of a result's overrides:
// Fields of Values are set, Clear are cleared; By, Reason and the time
// are recorded with them and in the result's history.
type OverrideChange struct {
	Values Values
	Fields []ResultField
	Clear  []ResultField
	By     string
	Reason string
}

// Override applies ch to the stored result of key and returns the result
// written (its revision increased). ErrNotFound when there is no result,
// ErrNotOverridden when ch only clears values that are not overridden.
func (r *Results) Override(ctx context.Context, key ResultKey, ch OverrideChange) (ObjectiveResult, error) {
	for attempt := 0; ; attempt++ {
		if attempt == maxResultAttempts {
			return ObjectiveResult{}, fmt.Errorf("results: override: %w", ErrResultBusy)
		}
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return ObjectiveResult{}, err
			}
		}
		got, err := r.store.GetResults(ctx, []ResultKey{key})
		if err != nil {
			return ObjectiveResult{}, fmt.Errorf("results: override: %w", err)
		}
		cur, ok := got[key]
		if !ok {
			return ObjectiveResult{}, ErrNotFound
		}
		now := r.now()
		next := cur
		set := make(map[ResultField]OverrideEntry, len(cur.Override.Set)+len(ch.Fields))
		for f, e := range cur.Override.Set {
			set[f] = e
		}
		cleared := false
		for _, f := range ch.Clear {
			_, was := set[f]
			cleared = cleared || was
			delete(set, f)
		}
		if len(ch.Fields) == 0 && !cleared {
			return ObjectiveResult{}, ErrNotOverridden
		}
		for _, f := range ch.Fields {
			next.Override.Values.copyField(f, ch.Values)
			set[f] = OverrideEntry{By: ch.By, At: now, Reason: ch.Reason}
		}
		next.Override.Set = set
		next.Revision, next.UpdatedAt = cur.Revision+1, revisionTime(cur.UpdatedAt, now)
		ev := OverrideEvent{At: now, By: ch.By, Reason: ch.Reason, Set: slices.Clone(ch.Fields), Cleared: slices.Clone(ch.Clear), Revision: next.Revision}
		for _, f := range ch.Fields {
			ev.Values.copyField(f, ch.Values)
		}
		next.History = append(slices.Clone(cur.History), ev)
		if over := len(next.History) - MaxOverrideHistory; over > 0 {
			next.History = next.History[over:]
		}
		conflicts, err := r.store.PutResults(ctx, []ObjectiveResult{next}, true)
		if err != nil {
			return ObjectiveResult{}, fmt.Errorf("results: override: %w", err)
		}
		if len(conflicts) > 0 {
			r.opts.Metrics.conflict(len(conflicts))
			continue
		}
		if err := r.notify(ctx, ResultChange{ResultKey: key, Revision: next.Revision, Changed: true, Cause: CauseOverride, Result: &next}); err != nil {
			return ObjectiveResult{}, err
		}
		if got, err = r.store.GetResults(ctx, []ResultKey{key}); err == nil && got[key].Revision >= next.Revision {
			return got[key], nil // with its new Gen
		}
		return next, err
	}
}

// ErrNotOverridden: an override change only clears values that are not
// overridden.
var ErrNotOverridden = errors.New("forward: not overridden")

// Observers is a StatementObserver that calls every one of its observers,
// in order, and returns their errors joined (the call may be repeated:
// each observer is idempotent).
type Observers []StatementObserver

// StatementsStored calls every observer.
func (os Observers) StatementsStored(ctx context.Context, org string, stmts []Statement) error {
	var errs []error
	for _, o := range os {
		if err := o.StatementsStored(ctx, org, stmts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ResultMetrics are the metrics of the results read model. A nil
// *ResultMetrics records nothing.
type ResultMetrics struct {
	changes   *prometheus.CounterVec
	conflicts prometheus.Counter
}

// NewResultMetrics registers the read model's metrics with reg (nil: not
// registered).
func NewResultMetrics(reg prometheus.Registerer) *ResultMetrics {
	m := &ResultMetrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "result_changes_total",
			Help: "Changes of objective results (a new revision), by cause (statements, override, recompute).",
		}, []string{"cause"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "result_conflicts_total",
			Help: "Result writes that lost a compare-and-swap to another writer and were computed again.",
		}),
	}
	for _, c := range []string{CauseStatements, CauseOverride, CauseRecompute} {
		m.changes.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.changes, m.conflicts)
	}
	return m
}

func (m *ResultMetrics) change(cause string) {
	if m != nil {
		m.changes.WithLabelValues(cause).Inc()
	}
}

func (m *ResultMetrics) conflict(n int) {
	if m != nil && n > 0 {
		m.conflicts.Add(float64(n))
	}
}
