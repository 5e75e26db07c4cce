package clever

import (
	"context"
	"crypto/sha256"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Clever limits every bearer token to a fixed number of requests per
// minute (1,200 by default), in fixed windows that reset each minute, and
// answers 429 with an empty body beyond it (sinks.md §1.7). The client
// keeps under the limit on its own, with one token bucket per token
// (golang.org/x/time/rate) shared by every worker and configuration of the
// process that uses the token:
//
//   - The budget is the configured limit times the process's share of it
//     (Options.RateShare: with N processes sending for the same districts,
//     give each 1/N). 1 % of the budget (at least one request) is kept as
//     headroom for the skew between our clock and Clever's windows and
//     for the jitter of network latency. The bucket holds one request and
//     refills at (allowance − 1) per minute, so any 60-second interval,
//     and so any of Clever's windows, sees at most the allowance.
//   - The bucket's times come from the injected Clock (ReserveN at now,
//     then Clock.Sleep for the delay), so a fake clock drives it.
//   - Clever's answers correct it: X-RateLimit-Remaining 0 or a 429 stops
//     every worker on the token until X-RateLimit-Reset (a minute when
//     the header is missing), at most two minutes ahead. A 429 is never retried by
//     the client: the attempt ends as a transient failure whose retry is
//     not before the reset.
//
// A token bucket rather than a counter per window: a window counter on our
// clock sends a window's whole allowance in a burst at its start and can
// put up to twice the allowance into one of Clever's windows when the two
// clocks are offset; the bucket spreads the requests evenly and needs no
// agreement on where a minute starts.

// Limiters holds the rate limiter of each bearer token the process uses.
// One Limiters serves the whole process (Options.Limiters); it is safe for
// concurrent use.
type Limiters struct {
	clock Clock
	share float64

	mu sync.Mutex
	m  map[[32]byte]*limiter
}

// NewLimiters returns the limiters of a process that uses share (0 < share
// ≤ 1; anything else is 1) of each token's limit, on clock (nil: the real
// clock).
func NewLimiters(clock Clock, share float64) *Limiters {
	if clock == nil {
		clock = realClock{}
	}
	if !(share > 0 && share <= 1) {
		share = 1
	}
	return &Limiters{clock: clock, share: share, m: map[[32]byte]*limiter{}}
}

// forToken returns the limiter of a token (kept by its hash, never the token),
// set to perMinute requests per minute: the latest setting of any
// configuration using the token wins.
func (ls *Limiters) forToken(tok string, perMinute int) *limiter {
	key := sha256.Sum256([]byte(tok))
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.m[key]
	if l == nil {
		l = &limiter{clock: ls.clock, lim: rate.NewLimiter(0, 1)}
		ls.m[key] = l
	}
	l.set(perMinute, ls.share, ls.clock.Now())
	return l
}

// Allowance is the number of requests the client lets through in any
// minute for a token limited to perMinute, of which this process uses
// share.
func Allowance(perMinute int, share float64) int {
	if !(share > 0 && share <= 1) {
		share = 1
	}
	budget := int(math.Floor(float64(perMinute) * share))
	headroom := max(1, int(math.Ceil(float64(budget)/100)))
	return max(budget-headroom, 2)
}

// limiter is the rate limiter of one token.
type limiter struct {
	clock Clock
	lim   *rate.Limiter

	mu           sync.Mutex
	perMinute    int
	blockedUntil time.Time
}

func (l *limiter) set(perMinute int, share float64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perMinute == perMinute {
		return
	}
	l.perMinute = perMinute
	allowance := Allowance(perMinute, share)
	l.lim.SetLimitAt(now, rate.Limit(float64(allowance-1)/60))
}

func (l *limiter) blocked() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blockedUntil
}

// wait blocks until a request may be sent, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	for {
		now := l.clock.Now()
		if until := l.blocked(); now.Before(until) {
			if err := l.clock.Sleep(ctx, until.Sub(now)); err != nil {
				return err
			}
			continue
		}
		r := l.lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			if err := l.clock.Sleep(ctx, d); err != nil {
				r.CancelAt(l.clock.Now())
				return err
			}
		}
		// A 429 or an exhausted window seen while this worker slept: its
		// permit is spent, and it waits for the reset like the others.
		if l.clock.Now().Before(l.blocked()) {
			continue
		}
		return nil
	}
}

// maxBlock bounds how far ahead an answer can stop a token's requests.
const maxBlock = 2 * time.Minute

// observe reads Clever's rate-limit headers of an answer; it returns the
// delay before the next request when the answer stops the token (a 429,
// or no request left in the window), else 0.
func (l *limiter) observe(status int, h http.Header) time.Duration {
	now := l.clock.Now()
	remaining, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	exhausted := err == nil && remaining <= 0
	if status != http.StatusTooManyRequests && !exhausted {
		return 0
	}
	var until time.Time
	if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
		until = time.Unix(reset, 0)
	} else if status == http.StatusTooManyRequests {
		until = now.Add(time.Minute)
	}
	if status == http.StatusTooManyRequests && until.Before(now.Add(time.Second)) {
		// A reset already past on our clock (Clever's runs ahead): still
		// not at once.
		until = now.Add(time.Second)
	}
	if !until.After(now) {
		return 0
	}
	until = minTime(until, now.Add(maxBlock))
	l.mu.Lock()
	if until.After(l.blockedUntil) {
		l.blockedUntil = until
	}
	l.mu.Unlock()
	return until.Sub(now)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
