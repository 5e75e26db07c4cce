package lrs

import (
	"crypto/sha256"
	"sync"
)

// recentSet remembers, per process, facts already written to the store
// (an activity definition merged, an agent's names recorded), so that the
// statements repeating them (nearly all of them) cost no store call. It is
// bounded: two generations of at most max entries each; when the young one
// fills up, the old one is dropped. Forgetting only costs a store call.
type recentSet struct {
	mu    sync.Mutex
	max   int
	young map[[16]byte]struct{}
	old   map[[16]byte]struct{}
}

func newRecentSet(max int) *recentSet {
	return &recentSet{max: max, young: map[[16]byte]struct{}{}, old: map[[16]byte]struct{}{}}
}

func recentKey(parts ...string) [16]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

func (r *recentSet) has(k [16]byte) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.young[k]; ok {
		return true
	}
	_, ok := r.old[k]
	return ok
}

func (r *recentSet) add(k [16]byte) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.young) >= r.max {
		r.old, r.young = r.young, make(map[[16]byte]struct{}, r.max)
	}
	r.young[k] = struct{}{}
}
