package forward_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

func TestDefaultPolicyIsValid(t *testing.T) {
	p := forward.DefaultPolicy
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := p.LastSlot(), 21*time.Hour+36*time.Minute+5*time.Second; got != want {
		t.Fatalf("last slot %v, want %v", got, want)
	}
	if p.Attempts() != 10 {
		t.Fatalf("attempts %d, want 10", p.Attempts())
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    forward.Policy
		want string // substring of the error; "" for valid
	}{
		{"default", forward.DefaultPolicy, ""},
		{"empty", forward.Policy{Horizon: time.Hour}, "no attempts"},
		{"negative delay", forward.Policy{Delays: []time.Duration{0, -time.Second}, Horizon: time.Hour}, "negative"},
		{"jitter too big", forward.Policy{Delays: []time.Duration{0}, Jitter: 1, Horizon: time.Hour}, "jitter"},
		{"no horizon", forward.Policy{Delays: []time.Duration{0}}, "horizon"},
		{"past the horizon with jitter", forward.Policy{Delays: []time.Duration{0, 10 * time.Hour, 12 * time.Hour}, Jitter: 0.1, Horizon: 24 * time.Hour}, "past the 24h0m0s horizon"},
		{"inside without jitter", forward.Policy{Delays: []time.Duration{0, 10 * time.Hour, 12 * time.Hour}, Horizon: 24 * time.Hour}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPolicyNext(t *testing.T) {
	p := forward.DefaultPolicy
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mid := func() float64 { return 0.5 } // no jitter
	hi := func() float64 { return 0.9999999 }
	lo := func() float64 { return 0 }
	for _, tc := range []struct {
		name       string
		attempts   int
		now        time.Time
		retryAfter time.Duration
		rnd        func() float64
		want       time.Duration // after now; -1 for parked
	}{
		{"after the first failure: 5s", 1, t0, 0, mid, 5 * time.Second},
		{"after the second: 1m", 2, t0.Add(5 * time.Second), 0, mid, time.Minute},
		{"jitter up to +10%", 1, t0, 0, hi, 5500 * time.Millisecond},
		{"jitter down to -10%", 1, t0, 0, lo, 4500 * time.Millisecond},
		{"ninth failure: 8h", 9, t0.Add(13*time.Hour + 36*time.Minute + 5*time.Second), 0, mid, 8 * time.Hour},
		{"tenth failure: parked", 10, t0.Add(21*time.Hour + 36*time.Minute + 5*time.Second), 0, mid, -1},
		{"Retry-After later than the slot wins", 1, t0, 2 * time.Minute, mid, 2 * time.Minute},
		{"Retry-After earlier than the slot is ignored", 3, t0, time.Second, mid, 5 * time.Minute},
		{"Retry-After capped at the last slot", 2, t0.Add(time.Hour), 48 * time.Hour, mid, p.LastSlot() - time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, park := p.Next(tc.attempts, t0, tc.now, tc.retryAfter, tc.rnd)
			if tc.want < 0 {
				if !park {
					t.Fatalf("next %v, want parked", next)
				}
				return
			}
			if park {
				t.Fatal("parked, want a next attempt")
			}
			if got := next.Sub(tc.now); got < tc.want-time.Microsecond || got > tc.want+time.Microsecond {
				t.Fatalf("next after %v, want %v", got, tc.want)
			}
		})
	}
}

// Every attempt of a full cycle falls inside 24 hours, at any jitter.
func TestPolicyCycleWithin24h(t *testing.T) {
	for _, rnd := range []func() float64{func() float64 { return 0 }, func() float64 { return 0.9999999 }} {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now, attempts := t0, 1
		for {
			next, park := forward.DefaultPolicy.Next(attempts, t0, now, 0, rnd)
			if park {
				break
			}
			now, attempts = next, attempts+1
		}
		if attempts != 10 || now.Sub(t0) > 24*time.Hour {
			t.Fatalf("%d attempts, the last %v after the first failure", attempts, now.Sub(t0))
		}
	}
}
