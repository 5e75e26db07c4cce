package pebbledb

import (
	"bytes"
	"slices"
	"sync"
)

// dueHints remembers, per configuration queue (qc/<org><config>), a lower
// bound of its due keys, so that DueConfigurations and ClaimDeliveries
// seek past the tombstones the claims and deliveries leave at the head of
// a queue instead of stepping over them one by one: a queue drained one
// item at a time would otherwise cost every claim a walk over all the
// items drained before it (quadratic over a backlog; BENCHMARKS.md).
//
// Invariant: every due key of a queue that is in the store sorts at or
// after its hint, or its writer has committed it and not yet called
// lowered. The hints are in memory only: after Open a queue has none and
// its first claim walks it from its start, like before.
//
//   - Writers of due keys (putDelivery's callers) call lowered after their
//     commit, with every due key they set: it lowers the hints and bumps
//     each queue's generation. Lowering is always safe.
//   - Readers (a claim, DueConfigurations) take a queue's hint and
//     generation with hint before they open their iterator, seek from the
//     hint, and call raise with the first key they found (or the end of
//     what they scanned): it only moves the hint up when the generation
//     is unchanged, that is when no writer finished in between, whose
//     key the iterator might not see.
//
// A writer between its commit and lowered is missed by a reader that
// reads the hint meanwhile: that reader then answers as if it came
// before the write, and the next one sees the key.
type dueHints struct {
	mu     sync.Mutex
	queues map[string]*dueHint
	// known: every queue with a due key has an entry (after a walk of the
	// whole due index), so that DueConfigurations visits only them.
	known bool
}

type dueHint struct {
	low []byte // no due key of the queue sorts before it; nil: the queue's start
	gen uint64
}

// dueWrite is a due key a writer set: the queue's prefix and the key.
type dueWrite struct {
	queue string
	key   []byte
}

// entry returns q's hint, created (at the queue's start) if missing.
// Under h.mu.
func (h *dueHints) entry(q string) *dueHint {
	if h.queues == nil {
		h.queues = map[string]*dueHint{}
	}
	e, ok := h.queues[q]
	if !ok {
		e = &dueHint{}
		h.queues[q] = e
	}
	return e
}

// hint returns queue q's lower bound (nil: its start) and generation.
func (h *dueHints) hint(q []byte) ([]byte, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(string(q))
	return e.low, e.gen
}

// raise moves q's hint up to low if no writer finished since hint
// returned gen.
func (h *dueHints) raise(q []byte, gen uint64, low []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(string(q))
	if e.gen == gen && bytes.Compare(low, e.low) > 0 {
		e.low = low
	}
}

// lowered records due keys a writer committed (or tried to: lowering is
// harmless when the commit failed).
func (h *dueHints) lowered(ws []dueWrite) {
	if len(ws) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range ws {
		e := h.entry(w.queue)
		if e.low != nil && bytes.Compare(w.key, e.low) < 0 {
			e.low = w.key
		}
		e.gen++
	}
}

// queueHint is one queue's hint as DueConfigurations reads it.
type queueHint struct {
	queue []byte
	low   []byte
	gen   uint64
}

// snapshot returns every queue's hint in key order, and whether they are
// all the queues there are (known).
func (h *dueHints) snapshot() ([]queueHint, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.known {
		return nil, false
	}
	out := make([]queueHint, 0, len(h.queues))
	for q, e := range h.queues {
		out = append(out, queueHint{queue: []byte(q), low: e.low, gen: e.gen})
	}
	slices.SortFunc(out, func(a, b queueHint) int { return bytes.Compare(a.queue, b.queue) })
	return out, true
}

// walked records a walk of the whole due index: found holds the queues
// that had a due key (with the generation they had before the walk's
// iterator was opened, and the first key): each gets an entry, and from
// now on the entries are every queue there is. Queues written during the
// walk got their entry from their writer.
func (h *dueHints) walked(found []queueHint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range found {
		e := h.entry(string(f.queue))
		if e.gen == f.gen && bytes.Compare(f.low, e.low) > 0 {
			e.low = f.low
		}
	}
	h.known = true
}

// gens returns the generation of every queue that has an entry (a walk
// compares them with the generations after it).
func (h *dueHints) gens() map[string]uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]uint64, len(h.queues))
	for q, e := range h.queues {
		out[q] = e.gen
	}
	return out
}
