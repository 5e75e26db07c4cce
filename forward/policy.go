package forward

import (
	"errors"
	"fmt"
	"time"
)

// Policy is the retry schedule of a delivery, as data (sinks.md §0.4).
// Delays[i] is the wait before attempt i+1 after attempt i failed; Delays[0]
// is the first attempt itself (0: as soon as the delivery exists). After
// len(Delays) failed attempts the delivery is parked.
type Policy struct {
	Delays []time.Duration
	// Jitter is the fraction (0 ≤ Jitter < 1) by which each delay is
	// randomly stretched or shrunk: 0.1 is ±10 %.
	Jitter float64
	// Horizon bounds every attempt of a cycle: counted from the first
	// failure, even the latest possible attempt (every delay stretched by
	// the full jitter) falls inside it, and no Retry-After pushes an
	// attempt past the last slot.
	Horizon time.Duration
}

// DefaultPolicy is the schedule of sinks.md §0.4: ten attempts, the last
// one 21 h 36 m after the first failure (at most ≈ 23 h 46 m with jitter).
var DefaultPolicy = Policy{
	Delays: []time.Duration{
		0, 5 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour,
	},
	Jitter:  0.1,
	Horizon: 24 * time.Hour,
}

// Validate reports whether the policy is usable: at least one attempt, no
// negative delay, jitter in [0, 1), and every attempt within the horizon
// even at the largest jitter.
func (p Policy) Validate() error {
	var errs []error
	if len(p.Delays) == 0 {
		errs = append(errs, errors.New("policy: no attempts"))
	}
	if p.Jitter < 0 || p.Jitter >= 1 {
		errs = append(errs, fmt.Errorf("policy: jitter %v is not in [0, 1)", p.Jitter))
	}
	if p.Horizon <= 0 {
		errs = append(errs, errors.New("policy: horizon must be positive"))
	}
	for i, d := range p.Delays {
		if d < 0 {
			errs = append(errs, fmt.Errorf("policy: delay %d is negative (%v)", i, d))
		}
	}
	if len(errs) == 0 {
		if worst := p.worst(); worst > p.Horizon {
			errs = append(errs, fmt.Errorf("policy: the last attempt may come %v after the first failure, past the %v horizon", worst, p.Horizon))
		}
	}
	return errors.Join(errs...)
}

// Attempts is how many attempts a cycle makes before parking.
func (p Policy) Attempts() int { return len(p.Delays) }

// LastSlot is the nominal time of the last attempt after the first failure
// (the sum of the delays after the first attempt).
func (p Policy) LastSlot() time.Duration {
	var sum time.Duration
	for _, d := range p.Delays[min(1, len(p.Delays)):] {
		sum += d
	}
	return sum
}

// worst is the latest the last attempt can come after the first failure.
func (p Policy) worst() time.Duration {
	var sum time.Duration
	for _, d := range p.Delays[min(1, len(p.Delays)):] {
		sum += d + time.Duration(float64(d)*p.Jitter)
	}
	return sum
}

// Next decides what follows a failed attempt. attempts is the number of
// attempts made so far in this cycle (including the one that just failed),
// firstFailure when the cycle's first attempt failed, now when this one
// did, retryAfter the destination's requested delay (0 if none) and rnd a
// source of uniform numbers in [0, 1) (nil: no jitter). It returns the time
// of the next attempt, or park = true when the schedule is exhausted.
func (p Policy) Next(attempts int, firstFailure, now time.Time, retryAfter time.Duration, rnd func() float64) (next time.Time, park bool) {
	if attempts >= len(p.Delays) {
		return time.Time{}, true
	}
	d := p.Delays[max(attempts, 0)]
	if rnd != nil && p.Jitter > 0 && d > 0 {
		d += time.Duration(float64(d) * p.Jitter * (2*rnd() - 1))
	}
	next = now.Add(d)
	last := firstFailure.Add(p.LastSlot())
	if retryAfter > 0 {
		ra := now.Add(retryAfter)
		if ra.After(last) {
			ra = last // Retry-After never pushes past the last slot
		}
		if ra.After(next) {
			next = ra
		}
	}
	if next.Before(now) {
		next = now
	}
	if next.After(firstFailure.Add(p.Horizon)) {
		return time.Time{}, true
	}
	return next, false
}
