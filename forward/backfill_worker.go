package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// BackfillSource is what a statements backfill reads of the LRS.
type BackfillSource interface {
	// ScanActivity returns up to limit statements of org whose object is
	// the activity (not voided; statements that target one may come too),
	// stored strictly after the position after and at or before until,
	// ascending by (Stored, ID).
	ScanActivity(ctx context.Context, org, activityID string, after Cursor, until time.Time, limit int) ([]Statement, error)
	// ConsistentThrough is a time at or before which every stored
	// statement is visible.
	ConsistentThrough(ctx context.Context) (time.Time, error)
}

// BackfillOptions tune a Backfiller. Zero values take the defaults.
type BackfillOptions struct {
	// Chunk is how many statements or results one step of a job reads
	// (and how many deliveries it ensures at most); default 500.
	Chunk int
	// Pause is the yield after each chunk, so that a large backfill
	// leaves the store to ingest and to the sends; default 20ms.
	Pause time.Duration
	// Lease is how long a job stays leased after a chunk; a process
	// killed while driving a job leaves it to another (or to itself,
	// restarted) once it ends. Default 1m.
	Lease time.Duration
	// Poll is how often running jobs are looked for while none is; default 1s.
	Poll  time.Duration
	Owner string // lease owner; default host-pid-random
	// Now returns the current time; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Backfiller drives the running backfill jobs (backfill.go) of every
// organization, in chunks: each chunk leases the job, reads the next
// Chunk statements (or results) after its cursor, ensures the deliveries
// they owe the job's configuration (the same idempotent deliveries the
// obligations ensure), and stores the new cursor and counts with the
// renewed lease. A job counts what it will backfill first (Total), the
// same way, then backfills it (Done). Jobs are taken in turn, one chunk
// each, with a Pause after every chunk. With several processes, each job
// is driven by the one holding its lease; after a crash the job resumes
// from its last stored cursor, and the chunk that was in flight is done
// again, which ensures nothing twice.
type Backfiller struct {
	store Store
	src   BackfillSource
	ob    *Obligations
	types *Registry
	opts  BackfillOptions
	log   *slog.Logger

	wake chan struct{}
	mu   sync.Mutex
	held map[[3]string]BackfillJob // the jobs whose lease this Backfiller holds
}

// NewBackfiller returns a Backfiller over store, reading statements from
// src; ob derives the deliveries of statements (and tells the engine of
// them, Obligations.SetDue), types tells append from overwrite
// configurations.
func NewBackfiller(store Store, src BackfillSource, ob *Obligations, types *Registry, opts BackfillOptions) (*Backfiller, error) {
	if store == nil || src == nil || ob == nil || types == nil {
		return nil, errors.New("forward: NewBackfiller needs a store, a statement source, the obligations and the types")
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 500
	}
	if opts.Pause < 0 {
		opts.Pause = 0
	} else if opts.Pause == 0 {
		opts.Pause = 20 * time.Millisecond
	}
	if opts.Lease <= 0 {
		opts.Lease = time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backfiller{store: store, src: src, ob: ob, types: types, opts: opts, log: log,
		wake: make(chan struct{}, 1), held: map[[3]string]BackfillJob{}}, nil
}

// Wake makes a waiting Run look for running jobs at once (a backfill was
// started). It never blocks.
func (b *Backfiller) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Run drives jobs until ctx is done, then releases the leases it holds.
func (b *Backfiller) Run(ctx context.Context) {
	defer b.release()
	for {
		n, err := b.Step(ctx)
		if err != nil && ctx.Err() == nil {
			b.log.Warn("backfill: a step failed; the next one retries", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			continue // more to do: the step paused after each chunk already
		}
		t := time.NewTimer(b.opts.Poll)
		select {
		case <-ctx.Done():
		case <-b.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Step does one chunk of every running job this Backfiller can lease,
// pausing after each, and returns how many chunks it did.
func (b *Backfiller) Step(ctx context.Context) (int, error) {
	jobs, err := b.store.RunningBackfills(ctx, 100)
	if err != nil {
		return 0, fmt.Errorf("backfill: running jobs: %w", err)
	}
	var errs []error
	n := 0
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		did, err := b.step(ctx, j)
		if err != nil {
			errs = append(errs, fmt.Errorf("backfill of configuration %s, objective %s: %w", j.ConfigurationID, j.ObjectiveID, err))
		}
		if did {
			n++
			if b.opts.Pause > 0 {
				t := time.NewTimer(b.opts.Pause)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
		}
	}
	return n, errors.Join(errs...)
}

func jobKey(j BackfillJob) [3]string { return [3]string{j.Org, j.ConfigurationID, j.ObjectiveID} }

// step leases j (unless held) and does one chunk of it; did is whether
// the job moved.
func (b *Backfiller) step(ctx context.Context, j BackfillJob) (did bool, err error) {
	now := b.opts.Now()
	owner := b.opts.Owner
	if j.LeaseOwner != owner {
		if j.LeaseOwner != "" && j.LeaseUntil.After(now) {
			return false, nil // another process drives it
		}
		j, err = b.store.LeaseBackfill(ctx, j.Org, j.ConfigurationID, j.ObjectiveID, j.ID, owner, now, now.Add(b.opts.Lease))
		if errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		b.mu.Lock()
		b.held[jobKey(j)] = j
		b.mu.Unlock()
		b.log.Info("backfill: driving a job", "org", j.Org, "configuration", j.ConfigurationID, "objective", j.ObjectiveID,
			"kind", j.Kind, "done", j.Done, "total", j.Total, "counted", j.Counted)
	}
	before := j
	if err := b.chunk(ctx, &j); err != nil {
		return false, err // storage: the lease runs on; the next step retries
	}
	if j == before {
		return false, nil // waiting (for Consistent-Through)
	}
	now = b.opts.Now()
	j.UpdatedAt = now
	if j.State == BackfillRunning {
		j.LeaseOwner, j.LeaseUntil = owner, now.Add(b.opts.Lease)
	} else {
		j.LeaseOwner, j.LeaseUntil = "", time.Time{}
	}
	err = b.store.UpdateBackfill(ctx, j, owner)
	if j.State != BackfillRunning || err != nil {
		b.mu.Lock()
		delete(b.held, jobKey(j))
		b.mu.Unlock()
	}
	switch {
	case errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrNotFound):
		// Restarted, deleted or taken over meanwhile: what this chunk
		// ensured is ensured (idempotent); the job's holder goes on.
		return true, nil
	case err != nil:
		return false, err
	}
	if j.State != BackfillRunning {
		b.log.Info("backfill: job ended", "org", j.Org, "configuration", j.ConfigurationID, "objective", j.ObjectiveID,
			"state", j.State, "done", j.Done, "total", j.Total, "error", j.Error)
	}
	return true, nil
}

// release gives back the leases this Backfiller holds (it stops), so that
// another process takes the jobs at once rather than after the lease.
func (b *Backfiller) release() {
	b.mu.Lock()
	held := b.held
	b.held = map[[3]string]BackfillJob{}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, j := range held {
		cur, err := b.store.GetBackfill(ctx, j.Org, j.ConfigurationID, j.ObjectiveID)
		if err != nil || cur.ID != j.ID || cur.LeaseOwner != b.opts.Owner {
			continue
		}
		cur.LeaseOwner, cur.LeaseUntil = "", time.Time{}
		if err := b.store.UpdateBackfill(ctx, cur, b.opts.Owner); err != nil && !errors.Is(err, ErrLeaseLost) {
			b.log.Warn("backfill: releasing a job's lease failed; it expires", "err", err)
		}
	}
}

// fail ends j as failed with the reason.
func fail(j *BackfillJob, now time.Time, reason string) {
	j.State, j.Error, j.FinishedAt = BackfillFailed, reason, now
}

// finish ends j as done: Total becomes what was backfilled (statements
// voided since the count are not sent).
func finish(j *BackfillJob, now time.Time) {
	j.State, j.FinishedAt, j.Total, j.Cursor = BackfillDone, now, j.Done, ""
}

// chunk moves j by one chunk (or ends it); an error is a storage failure.
func (b *Backfiller) chunk(ctx context.Context, j *BackfillJob) error {
	now := b.opts.Now().UTC()
	cfg, err := b.store.GetConfiguration(ctx, j.Org, j.ConfigurationID)
	if errors.Is(err, ErrNotFound) {
		fail(j, now, "the configuration was deleted")
		return nil
	} else if err != nil {
		return err
	}
	obj, err := b.store.GetObjective(ctx, j.Org, j.ObjectiveID)
	if errors.Is(err, ErrNotFound) {
		fail(j, now, "the objective was deleted")
		return nil
	} else if err != nil {
		return err
	}
	if !slices.Contains(obj.Configurations, cfg.ID) {
		fail(j, now, "the configuration was detached from the objective")
		return nil
	}
	if BackfillKind(b.types, cfg) != j.Kind {
		fail(j, now, "the configuration's type changed during the backfill")
		return nil
	}
	if j.Kind == BackfillResults {
		return b.resultsChunk(ctx, j, cfg, obj, now)
	}
	return b.statementsChunk(ctx, j, cfg, obj, now)
}

// BackfillKind is the kind of backfill cfg takes: the current results for
// an overwrite sink, the stored statements for an append one.
func BackfillKind(types *Registry, cfg Configuration) string {
	if isOverwrite(types, cfg.Type) {
		return BackfillResults
	}
	return BackfillStatements
}

// stmtCursor is the stored form of a statements job's cursor.
type stmtCursor struct {
	Stored int64  `json:"s"` // Unix ms
	ID     string `json:"i"`
}

func (b *Backfiller) statementsChunk(ctx context.Context, j *BackfillJob, cfg Configuration, obj Objective, now time.Time) error {
	if j.Cursor == "" && !j.Counted {
		// Every statement stored up to Until must be visible before the
		// scan starts (MongoDB: other processes' writes in flight).
		through, err := b.src.ConsistentThrough(ctx)
		if err != nil {
			return err
		}
		if through.Before(j.Until) {
			return nil // wait
		}
	}
	var after Cursor
	if j.Cursor != "" {
		var c stmtCursor
		if err := json.Unmarshal([]byte(j.Cursor), &c); err != nil {
			fail(j, now, "the job's cursor does not read")
			return nil
		}
		after = Cursor{Stored: time.UnixMilli(c.Stored).UTC(), ID: c.ID}
	}
	page, err := b.src.ScanActivity(ctx, j.Org, obj.ActivityID, after, j.Until, b.opts.Chunk)
	if err != nil {
		return fmt.Errorf("read statements: %w", err)
	}
	one := obj
	one.Configurations, one.Attached = []string{cfg.ID}, nil // what was stored before the attach
	rules := &orgRules{byActivity: map[string][]Objective{obj.ActivityID: {one}}, configs: map[string]Configuration{cfg.ID: cfg}}
	ds := b.ob.derive(j.Org, rules, page)
	if err := b.advance(ctx, j, ds, len(page), now); err != nil {
		return err
	}
	if len(page) > 0 && j.Cursor == "-" {
		last := page[len(page)-1]
		c, _ := json.Marshal(stmtCursor{Stored: last.Stored.UnixMilli(), ID: last.ID})
		j.Cursor = string(c)
	}
	return nil
}

// advance counts (or ensures) ds, the deliveries of a chunk of n items,
// and moves j's phase on when the chunk was the last; the caller then sets
// the cursor at the chunk's last item unless the phase changed.
func (b *Backfiller) advance(ctx context.Context, j *BackfillJob, ds []Delivery, n int, now time.Time) error {
	last := n < b.opts.Chunk
	if !j.Counted {
		j.Total += len(ds)
		if last {
			j.Counted, j.Cursor = true, ""
		} else {
			j.Cursor = "-" // set by the caller
		}
		return nil
	}
	if len(ds) > 0 {
		if err := b.store.EnsureDeliveries(ctx, ds); err != nil {
			return fmt.Errorf("ensure %d deliveries: %w", len(ds), err)
		}
		b.ob.announce(ds)
	}
	j.Done += len(ds)
	if last {
		finish(j, now)
	} else {
		j.Cursor = "-"
	}
	return nil
}

// resultCursor is the stored form of a results job's cursor.
type resultCursor struct {
	Participant  string `json:"p"`
	Registration string `json:"r"`
}

func (b *Backfiller) resultsChunk(ctx context.Context, j *BackfillJob, cfg Configuration, obj Objective, now time.Time) error {
	q := ResultQuery{Org: j.Org, ObjectiveID: obj.ID, Limit: b.opts.Chunk}
	if j.Cursor != "" {
		var c resultCursor
		if err := json.Unmarshal([]byte(j.Cursor), &c); err != nil {
			fail(j, now, "the job's cursor does not read")
			return nil
		}
		q.After = &ResultCursor{ObjectiveID: obj.ID, Participant: c.Participant, Registration: c.Registration}
	}
	rs, err := b.store.ListResults(ctx, q)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	ds := make([]Delivery, 0, len(rs))
	for _, r := range rs {
		d := Delivery{Org: j.Org, ConfigurationID: cfg.ID, StatementID: ResultDeliveryID(r.ResultKey), ObjectiveID: obj.ID,
			State: StatePending, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
		d.Participant, d.Reason = keyParticipant(cfg, r.Participant)
		if d.Participant == "" {
			d.State = StateSkipped
		}
		ds = append(ds, d)
	}
	if err := b.advance(ctx, j, ds, len(rs), now); err != nil {
		return err
	}
	if len(rs) > 0 && j.Cursor == "-" {
		last := rs[len(rs)-1]
		c, _ := json.Marshal(resultCursor{Participant: last.Participant, Registration: last.Registration})
		j.Cursor = string(c)
	}
	return nil
}

// announce tells the engine (SetDue, SetWake) that deliveries ds were
// ensured.
func (o *Obligations) announce(ds []Delivery) {
	o.mu.Lock()
	wake, due := o.wake, o.due
	o.mu.Unlock()
	var keys []ConfigKey
	for _, d := range ds {
		if k := (ConfigKey{d.Org, d.ConfigurationID}); d.State == StatePending && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	switch {
	case due != nil && len(keys) > 0:
		due(keys)
	case wake != nil:
		wake()
	}
}
