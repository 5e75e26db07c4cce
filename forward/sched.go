package forward

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Scheduling: which configuration sends next, and how much.
//
// A configuration is in one of three modes. New (not known to be healthy:
// its first contact since the engine started or since it was edited): one
// batch at a time, taking no worker. Closed (its last destination-level
// outcome was a success): up to InFlight batches at once, each holding
// one of the Workers, handed out in turn across organizations, then
// across an organization's configurations. Open (its last
// destination-level outcome failed: the circuit breaker of sinks.md §0.4):
// nothing is sent but one probe, the head of its queue (one delivery, due
// or not yet), at the next probe time, taking no worker; the other
// deliveries wait in the store. A successful probe closes the circuit.
// A slow send gives its worker back after SlowAfter, and its configuration
// gets no other send until it ends. So a hanging or failing destination
// holds no worker, and a healthy one is never kept waiting by another.

type mode int

const (
	modeNew mode = iota
	modeClosed
	modeOpen
)

func (m mode) String() string {
	return [...]string{"new", "closed", "open"}[m]
}

// probeAhead is how far ahead of its schedule a probe may take the head of
// a failing configuration's queue.
const probeAhead = 400 * 24 * time.Hour

// confState is what the scheduler knows of one configuration (under
// sched.mu, but statusMu).
type confState struct {
	key       cfgKey
	mode      mode
	failures  int       // consecutive failed attempts since the circuit opened
	nextProbe time.Time // when the open circuit is probed
	inflight  int       // jobs running
	slow      int       // of which gave their worker back (SlowAfter)
	due       bool      // has due deliveries, as far as known
	full      bool      // the last claim filled its batch: more is likely due
	batch     int       // the batch size (0: not set yet)
	ceiling   int       // a batch this large was too large (0: none seen)
	revision  int64     // of the configuration as last seen (0: not seen)
	checked   time.Time // when discover last read the configuration of the open circuit

	statusMu sync.Mutex // serializes this process's status updates of the configuration
}

// sched is the scheduler's state.
type sched struct {
	mu      sync.Mutex
	confs   map[cfgKey]*confState
	used    int // workers held
	jobs    int // jobs running
	lastOrg string
	lastCfg map[string]string
	idleC   *sync.Cond
	kick    chan struct{} // a job claimed or ended: dispatch again
	again   chan struct{} // a claim filled its batch: look for due deliveries again
}

func (s *sched) init() {
	s.confs = make(map[cfgKey]*confState)
	s.lastCfg = make(map[string]string)
	s.idleC = sync.NewCond(&s.mu)
	s.kick = make(chan struct{}, 1)
	s.again = make(chan struct{}, 1)
}

func (s *sched) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// state returns the configuration's state, created new (under s.mu).
func (s *sched) state(k cfgKey) *confState {
	st := s.confs[k]
	if st == nil {
		st = &confState{key: k}
		s.confs[k] = st
	}
	return st
}

// reset forgets the failures of a configuration and marks it due (an
// edit, a re-drive).
func (s *sched) reset(k cfgKey) {
	s.mu.Lock()
	st := s.state(k)
	st.mode, st.failures, st.nextProbe, st.due = modeNew, 0, time.Time{}, true
	st.batch, st.ceiling = 0, 0
	s.mu.Unlock()
	s.signal()
}

// markDue marks a configuration due (deliveries were re-driven).
func (s *sched) markDue(k cfgKey) {
	s.mu.Lock()
	s.state(k).due = true
	s.mu.Unlock()
	s.signal()
}

func (s *sched) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs == 0
}

func (s *sched) waitIdle() {
	s.mu.Lock()
	for s.jobs > 0 {
		s.idleC.Wait()
	}
	s.mu.Unlock()
}

// nextProbe is the earliest probe time of an open circuit with work.
func (s *sched) nextProbe() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, st := range s.confs {
		if st.mode == modeOpen && st.due && st.inflight == 0 && (next.IsZero() || st.nextProbe.Before(next)) {
			next = st.nextProbe
		}
	}
	return next
}

// editCheck is how often an open circuit's configuration is read to see
// whether another process edited it.
const editCheck = 10 * time.Second

// discover marks the configurations with due deliveries. An open circuit
// whose configuration was edited meanwhile (maybe by another process: an
// edit in this one calls Redriven) is reset within editCheck, so that the
// fix is tried at once.
func (e *Engine) discover(ctx context.Context, now time.Time) error {
	keys, err := e.store.DueConfigurations(ctx, now)
	if err != nil {
		e.log.Warn("looking for due deliveries failed", "err", err)
		return err
	}
	type seen struct {
		st       *confState
		revision int64
	}
	var open []seen
	e.s.mu.Lock()
	for _, k := range keys {
		st := e.s.state(cfgKey{k.Org, k.ID})
		st.due = true
		if st.mode == modeOpen && st.inflight == 0 && now.Before(st.nextProbe) && now.Sub(st.checked) >= editCheck {
			st.checked = now
			open = append(open, seen{st, st.revision})
		}
	}
	e.s.mu.Unlock()
	for _, o := range open {
		c, err := e.store.GetConfiguration(ctx, o.st.key.org, o.st.key.id)
		if err != nil || o.revision == 0 || c.Revision == o.revision {
			continue
		}
		e.log.Info("configuration edited: probing it again", "org", c.Org, "configuration", c.ID)
		e.s.reset(o.st.key)
	}
	return nil
}

// job is one claim and send of a configuration.
type job struct {
	st     *confState
	probe  bool // an open circuit's probe: the head of the queue, alone
	pooled bool // holds a worker
	batch  int  // the batch size when launched

	released bool // gave its worker back (SlowAfter); under sched.mu
	ended    bool // under sched.mu
}

// jobResult is what a job tells the scheduler when it ends.
type jobResult struct {
	claimed, limit int
	revision       int64
	// outcome is the destination-level verdict: OutcomeSuccess (the
	// destination answered for its items), a failure class, or "" (nothing
	// sent).
	outcome    string
	retryAfter time.Duration
	tooLarge   bool
	sent       int // the size of the batch sent
	max        int // the destination's MaxBatch (0: unknown)
}

// dispatch starts the jobs that are ready at now and returns how many.
// claimed, when not nil, counts the deliveries the jobs claim.
func (e *Engine) dispatch(ctx context.Context, now time.Time, claimed *atomic.Int64) int {
	if ctx.Err() != nil {
		return 0
	}
	s := &e.s
	s.mu.Lock()
	var start []*job
	var closed []*confState
	for _, st := range s.confs {
		if !st.due || st.slow > 0 {
			continue
		}
		switch st.mode {
		case modeNew:
			if st.inflight == 0 {
				start = append(start, e.launch(st, false, false))
			}
		case modeOpen:
			if st.inflight == 0 && !now.Before(st.nextProbe) {
				start = append(start, e.launch(st, true, false))
			}
		case modeClosed:
			if st.inflight < e.opts.InFlight && (st.inflight == 0 || st.full) {
				closed = append(closed, st)
			}
		}
	}
	start = append(start, e.fairShare(closed)...)
	s.mu.Unlock()
	for _, j := range start {
		go e.runJob(ctx, j, claimed)
	}
	return len(start)
}

// fairShare hands the free workers to the ready closed configurations in
// turn: organizations in order after the last one served, an
// organization's configurations in order after its last one served, one
// batch per configuration per turn (under sched.mu).
func (e *Engine) fairShare(ready []*confState) []*job {
	s := &e.s
	if len(ready) == 0 || s.used >= e.opts.Workers {
		return nil
	}
	byOrg := map[string][]*confState{}
	var orgs []string
	for _, st := range ready {
		if _, ok := byOrg[st.key.org]; !ok {
			orgs = append(orgs, st.key.org)
		}
		byOrg[st.key.org] = append(byOrg[st.key.org], st)
	}
	slices.Sort(orgs)
	orgs = rotateAfter(orgs, s.lastOrg, func(o string) string { return o })
	for _, o := range orgs {
		cs := byOrg[o]
		slices.SortFunc(cs, func(a, b *confState) int { return compareString(a.key.id, b.key.id) })
		byOrg[o] = rotateAfter(cs, s.lastCfg[o], func(c *confState) string { return c.key.id })
	}
	var out []*job
	for progress := true; progress && s.used < e.opts.Workers; {
		progress = false
		for _, o := range orgs {
			if s.used >= e.opts.Workers {
				break
			}
			for _, st := range byOrg[o] {
				if st.inflight >= e.opts.InFlight || (st.inflight > 0 && !st.full) {
					continue
				}
				out = append(out, e.launch(st, false, true))
				s.lastOrg, s.lastCfg[o] = o, st.key.id
				progress = true
				break
			}
		}
	}
	return out
}

func compareString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rotateAfter returns sorted xs starting after the element named last.
func rotateAfter[T any](xs []T, last string, name func(T) string) []T {
	i, _ := slices.BinarySearchFunc(xs, last, func(x T, l string) int { return compareString(name(x), l) })
	for i < len(xs) && name(xs[i]) == last {
		i++
	}
	return append(slices.Clone(xs[i:]), xs[:i]...)
}

// launch records a job as running (under sched.mu).
func (e *Engine) launch(st *confState, probe, pooled bool) *job {
	s := &e.s
	st.inflight++
	s.jobs++
	if pooled {
		s.used++
	}
	if st.batch <= 0 {
		st.batch = e.opts.Batch
	}
	return &job{st: st, probe: probe, pooled: pooled, batch: st.batch}
}

// claimedHint is what a job's claim found: a full batch means more may be
// due (another batch of the configuration may start), a short one that
// its due deliveries are all taken.
func (e *Engine) claimedHint(j *job, n, limit int) {
	s := &e.s
	s.mu.Lock()
	st := j.st
	if j.probe {
		st.due = n > 0
		st.full = false
	} else {
		st.full = n >= limit
		if !st.full {
			st.due = false
		}
	}
	full := st.full
	s.mu.Unlock()
	s.signal()
	if full {
		select {
		case s.again <- struct{}{}:
		default:
		}
	}
}

// slowRelease gives a slow job's worker back (time.AfterFunc).
func (e *Engine) slowRelease(j *job) {
	s := &e.s
	s.mu.Lock()
	if !j.ended && !j.released {
		j.released = true
		s.used--
		j.st.slow++
		e.log.Warn("a send is slow: its worker goes to other configurations", "org", j.st.key.org,
			"configuration", j.st.key.id, "after", e.opts.SlowAfter)
	}
	s.mu.Unlock()
	s.signal()
}

// finish records the end of a job and what it learnt of the destination.
func (e *Engine) finish(j *job, r jobResult) {
	s := &e.s
	now := e.opts.Now()
	s.mu.Lock()
	st := j.st
	j.ended = true
	st.inflight--
	s.jobs--
	if j.pooled {
		if j.released {
			st.slow--
		} else {
			s.used--
		}
	}
	if r.revision != 0 {
		if st.revision != 0 && r.revision != st.revision && st.mode == modeOpen {
			st.mode, st.failures, st.nextProbe = modeNew, 0, time.Time{}
			st.batch, st.ceiling = 0, 0
		}
		st.revision = r.revision
	}
	if r.claimed == 0 {
		st.due, st.full = false, false
	}
	switch r.outcome {
	case "":
	case OutcomeSuccess:
		st.mode, st.failures = modeClosed, 0
		if !j.probe && r.sent >= j.batch && !r.tooLarge {
			st.batch = e.grow(max(st.batch, j.batch), r.max, st.ceiling)
		}
	default:
		st.mode = modeOpen
		st.failures++
		st.nextProbe = now.Add(e.probeGap(st.failures, r.retryAfter))
		st.due = true // the rest of the queue waits for the probe
	}
	if r.tooLarge && r.sent > 0 {
		st.ceiling = max(r.sent-1, 1)
		st.batch = max(r.sent/2, 1)
	}
	if s.jobs == 0 {
		s.idleC.Broadcast()
	}
	s.mu.Unlock()
	s.signal()
}

// grow doubles a batch size, up to the destination's limit and below a
// size found too large.
func (e *Engine) grow(batch, limit, ceiling int) int {
	n := batch * 2
	if limit > 0 {
		n = min(n, max(limit, batch))
	}
	if ceiling > 0 {
		n = min(n, ceiling)
	}
	return max(n, 1)
}

// probeGap is the wait before the next probe of a circuit open after
// failures failed attempts: the retry schedule's delay, at most
// ProbeInterval (with the schedule's jitter), and never before the
// destination's Retry-After (up to the schedule's horizon).
func (e *Engine) probeGap(failures int, retryAfter time.Duration) time.Duration {
	ds := e.opts.Policy.Delays
	d := min(ds[min(failures, len(ds)-1)], e.opts.ProbeInterval)
	if j := e.opts.Policy.Jitter; j > 0 && d > 0 && e.opts.Rand != nil {
		d += time.Duration(float64(d) * j * (2*e.opts.Rand() - 1))
	}
	d = max(d, min(retryAfter, e.opts.Policy.Horizon), time.Second)
	return d
}
