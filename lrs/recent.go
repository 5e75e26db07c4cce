package lrs

import (
	"crypto/sha256"
	"sync"
)

// recentMap remembers, per process, facts already written to the store
// (the last activity definition merged, an agent's names recorded), so that
// the statements repeating them (nearly all of them) cost no store call. It
// is bounded: two generations of at most max entries each; when the young
// one fills up, the old one is dropped. Forgetting only costs a store call.
type recentMap[V comparable] struct {
	mu    sync.Mutex
	max   int
	young map[[16]byte]V
	old   map[[16]byte]V
}

func newRecentMap[V comparable](max int) *recentMap[V] {
	return &recentMap[V]{max: max, young: map[[16]byte]V{}, old: map[[16]byte]V{}}
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

// get returns the value remembered for k.
func (r *recentMap[V]) get(k [16]byte) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.young[k]; ok {
		return v, true
	}
	v, ok := r.old[k]
	return v, ok
}

// is reports whether v is the value remembered for k.
func (r *recentMap[V]) is(k [16]byte, v V) bool {
	got, ok := r.get(k)
	return ok && got == v
}

func (r *recentMap[V]) put(k [16]byte, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.young[k]; !ok && len(r.young) >= r.max {
		r.old, r.young = r.young, make(map[[16]byte]V, r.max)
	}
	r.young[k] = v
}
