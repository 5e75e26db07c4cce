package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
)

// touchStore is a memStore that also records TouchCredential calls.
type touchStore struct {
	*memStore
	tmu     sync.Mutex
	touched []time.Time
}

func (s *touchStore) TouchCredential(_ context.Context, key string, t time.Time) error {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	s.touched = append(s.touched, t)
	return nil
}

func (s *touchStore) touches() int {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return len(s.touched)
}

func (s *touchStore) set(c auth.Credential) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[c.Key] = c
}

func TestRefusalReasons(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	good := mustCredential(t, "good", "good-secret")
	expiring := mustCredential(t, "expiring", "exp-secret")
	expiring.ExpiresAt = clock.now.Add(time.Minute)
	revoked := mustCredential(t, "revoked", "rev-secret")
	revoked.Revoked, revoked.RevokedAt = true, clock.now
	store := newMemStore(good, expiring, revoked)
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{Now: clock.Now, TTL: time.Hour})
	ctx := context.Background()
	for _, tc := range []struct {
		key, secret string
		want        error
		reason      string
	}{
		{"nobody", "whatever-secret", auth.ErrUnknownKey, "unknown_key"},
		{"good", "wrong-secret", auth.ErrWrongSecret, "wrong_secret"},
		{"revoked", "rev-secret", auth.ErrRevoked, "revoked"},
		{"revoked", "wrong-secret", auth.ErrWrongSecret, "wrong_secret"}, // no oracle for revoked keys
		{"expiring", "exp-secret", nil, ""},
		{"good", "good-secret", nil, ""},
	} {
		_, err := a.Authenticate(ctx, tc.key, tc.secret)
		if !errors.Is(err, tc.want) || (tc.want != nil && !errors.Is(err, auth.ErrBadCredentials)) {
			t.Errorf("Authenticate(%s, %s) = %v, want %v (and ErrBadCredentials)", tc.key, tc.secret, err, tc.want)
		}
		if got := auth.FailureReason(err); got != tc.reason {
			t.Errorf("FailureReason(%v) = %q, want %q", err, got, tc.reason)
		}
	}
	// Expiry is checked on every request, even from the cache.
	clock.advance(time.Minute)
	if _, err := a.Authenticate(ctx, "expiring", "exp-secret"); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("after ExpiresAt: %v, want ErrExpired", err)
	}
}

func TestRevocationWithinTTL(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := mustCredential(t, "ann", "ann-secret")
	store := newMemStore(c)
	// Two processes over one store.
	p1 := auth.NewAuthenticator(store, auth.AuthenticatorOptions{Now: clock.Now})
	p2 := auth.NewAuthenticator(store, auth.AuthenticatorOptions{Now: clock.Now})
	ctx := context.Background()
	for _, a := range []*auth.Authenticator{p1, p2} {
		if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
			t.Fatal(err)
		}
	}
	c.Revoked, c.RevokedAt = true, clock.now
	(&touchStore{memStore: store}).set(c)
	p1.Forget("ann") // the process that revoked
	if _, err := p1.Authenticate(ctx, "ann", "ann-secret"); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("revoking process: %v, want ErrRevoked at once", err)
	}
	clock.advance(5*time.Second - time.Millisecond)
	if _, err := p2.Authenticate(ctx, "ann", "ann-secret"); err != nil {
		t.Errorf("other process within the 5s TTL: %v (still cached: allowed)", err)
	}
	clock.advance(time.Millisecond)
	if _, err := p2.Authenticate(ctx, "ann", "ann-secret"); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("other process after the 5s TTL: %v, want ErrRevoked", err)
	}
}

func TestLastUsedTouchedOncePerInterval(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	store := &touchStore{memStore: newMemStore(mustCredential(t, "ann", "ann-secret"))}
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{Now: clock.Now})
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
			t.Fatal(err)
		}
		clock.advance(100 * time.Millisecond) // 10 s in all: past the cache TTL
	}
	a.Wait()
	if n := store.touches(); n != 1 {
		t.Errorf("%d LastUsed writes in 10 s, want 1", n)
	}
	clock.advance(time.Minute)
	if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	if n := store.touches(); n != 2 {
		t.Errorf("%d LastUsed writes after a minute more, want 2", n)
	}
}
