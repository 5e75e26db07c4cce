// Package forwardtest is the test kit of forwarding and of every
// destination: an in-memory forward.Store (which passes lrs/storetest's
// forwarding suite), a fake downstream xAPI LRS that validates what it
// receives as a real one does (with package schema), a minimal SMTP server,
// a controllable clock, upstream statements, and polling.
//
// It imports no LRS package: a test that needs the whole LRS (its HTTP
// API over a storage engine) lives in cmd/lrs.
package forwardtest

import (
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// Loopback is the egress policy of tests: public addresses and the
// loopback networks, where the test servers listen (the setting
// LRS_FORWARD_ALLOWED_NETWORKS=127.0.0.0/8,::1/128).
var Loopback = forward.MustEgress("127.0.0.0/8,::1/128")

// Clock is a controllable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Registry is the registry of types, failing the test if they do not
// register.
func Registry(t testing.TB, types ...forward.Type) *forward.Registry {
	t.Helper()
	r, err := forward.NewRegistry(types...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
