package clevertest

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is a fake clock shared by the simulator (which reads Now for rate
// windows, due dates and timestamps) and the client under test (which
// sleeps on it while its rate limiter waits). It satisfies the client's
// clock interface (Now, Sleep) without either package importing the other.
//
// Without parties, Sleep moves the time forward to the sleeper's deadline
// at once. With parties (Join), time stands still while any party runs and
// moves to the earliest deadline only when every party is asleep in Sleep:
// the order of events is then the order a real clock would give, so a
// request is stamped by the simulator at the time its worker woke, never
// later. Every goroutine that can sleep on the clock must be a party, and
// a party must block on nothing but Sleep (or return) for long, else time
// stops.
type Clock struct {
	mu       sync.Mutex
	now      time.Time
	parties  int
	sleepers []*sleeper
}

type sleeper struct {
	deadline time.Time
	wake     chan struct{}
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the time forward by d and wakes the sleepers it passes.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.wakeLocked()
}

// Join adds a party: from now on the clock waits for it to sleep.
func (c *Clock) Join() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parties++
}

// Leave removes a party (one that has finished).
func (c *Clock) Leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parties--
	c.stepLocked()
}

// Sleep blocks until the clock has advanced by d or ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	deadline := c.now.Add(d)
	if c.parties == 0 {
		if deadline.After(c.now) {
			c.now = deadline
		}
		c.wakeLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
	s := &sleeper{deadline: deadline, wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.stepLocked()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, o := range c.sleepers {
			if o == s {
				c.sleepers = append(c.sleepers[:i], c.sleepers[i+1:]...)
				break
			}
		}
		c.stepLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
}

// stepLocked advances to the earliest deadline when every party sleeps.
func (c *Clock) stepLocked() {
	if len(c.sleepers) == 0 || len(c.sleepers) < c.parties {
		return
	}
	sort.Slice(c.sleepers, func(i, j int) bool { return c.sleepers[i].deadline.Before(c.sleepers[j].deadline) })
	if first := c.sleepers[0].deadline; first.After(c.now) {
		c.now = first
	}
	c.wakeLocked()
}

// wakeLocked wakes every sleeper whose deadline has passed.
func (c *Clock) wakeLocked() {
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if !s.deadline.After(c.now) {
			close(s.wake)
			continue
		}
		kept = append(kept, s)
	}
	c.sleepers = kept
}
