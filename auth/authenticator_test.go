package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
)

// memStore is an in-memory CredentialStore that counts GetCredential calls.
type memStore struct {
	mu    sync.Mutex
	creds map[string]auth.Credential
	gets  atomic.Int64
	fail  error // returned by GetCredential when set
}

var _ auth.CredentialStore = (*memStore)(nil)

func newMemStore(creds ...auth.Credential) *memStore {
	s := &memStore{creds: make(map[string]auth.Credential)}
	for _, c := range creds {
		s.creds[c.Key] = c
	}
	return s
}

func (s *memStore) CreateCredential(_ context.Context, c auth.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[c.Key]; ok {
		return auth.ErrKeyTaken
	}
	s.creds[c.Key] = c
	return nil
}

func (s *memStore) GetCredential(_ context.Context, key string) (auth.Credential, error) {
	s.gets.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return auth.Credential{}, s.fail
	}
	c, ok := s.creds[key]
	if !ok {
		return auth.Credential{}, auth.ErrNotFound
	}
	return c, nil
}

func (s *memStore) CountCredentials(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.creds), nil
}

func (s *memStore) delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creds, key)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustCredential(t testing.TB, key, secret string) auth.Credential {
	t.Helper()
	c, err := auth.CredentialWithSecret("org1", "test", key, secret, []string{auth.ScopeStatementsRead}, auth.DefaultAuthority(key, "http://lrs.example"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthenticate(t *testing.T) {
	store := newMemStore(mustCredential(t, "ann", "ann-secret"))
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{})
	ctx := context.Background()

	tests := []struct {
		name        string
		key, secret string
		wantErr     error
	}{
		{"right secret", "ann", "ann-secret", nil},
		{"wrong secret", "ann", "ann-secreT", auth.ErrBadCredentials},
		{"empty secret", "ann", "", auth.ErrBadCredentials},
		{"unknown key", "bob", "ann-secret", auth.ErrBadCredentials},
		{"empty key", "", "ann-secret", auth.ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(ctx, tt.key, tt.secret)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate(%q, %q) error = %v, want %v", tt.key, tt.secret, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if p.Key != "ann" || p.Org != "org1" || p.Name != "test" || !slices.Equal(p.Scopes, []string{auth.ScopeStatementsRead}) {
				t.Errorf("principal = %+v", p)
			}
			if !bytes.Contains(p.Authority, []byte(`"homePage":"http://lrs.example"`)) {
				t.Errorf("authority = %s", p.Authority)
			}
		})
	}
}

func TestAuthenticateCachesCredentials(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	store := newMemStore(mustCredential(t, "ann", "ann-secret"))
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{TTL: 5 * time.Second, NegativeTTL: time.Second, Now: clock.Now})
	ctx := context.Background()

	for range 10 {
		if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
			t.Fatal(err)
		}
	}
	// A wrong secret is checked against the cached credential too.
	if _, err := a.Authenticate(ctx, "ann", "nope-nope"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("wrong secret: %v", err)
	}
	if got := store.gets.Load(); got != 1 {
		t.Fatalf("store read %d times for cached key, want 1", got)
	}

	// Revocation takes effect once the TTL has passed.
	store.delete("ann")
	clock.advance(4 * time.Second)
	if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	clock.advance(time.Second)
	if _, err := a.Authenticate(ctx, "ann", "ann-secret"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("after TTL, revoked credential: %v, want ErrBadCredentials", err)
	}
	if got := store.gets.Load(); got != 2 {
		t.Fatalf("store read %d times, want 2 (refetch after expiry)", got)
	}

	// The unknown key is remembered briefly, then read again.
	if _, err := a.Authenticate(ctx, "ann", "ann-secret"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatal(err)
	}
	if got := store.gets.Load(); got != 2 {
		t.Fatalf("negative lookup not cached: %d reads", got)
	}
	if err := store.CreateCredential(ctx, mustCredential(t, "ann", "new-secret")); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Second)
	if _, err := a.Authenticate(ctx, "ann", "new-secret"); err != nil {
		t.Fatalf("after negative TTL, new credential: %v", err)
	}
	if got := store.gets.Load(); got != 3 {
		t.Fatalf("store read %d times, want 3", got)
	}
}

func TestAuthenticateStoreError(t *testing.T) {
	store := newMemStore(mustCredential(t, "ann", "ann-secret"))
	down := errors.New("disk on fire")
	store.fail = down
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{})
	_, err := a.Authenticate(context.Background(), "ann", "ann-secret")
	if !errors.Is(err, down) || errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("store failure: %v, want the store error and not ErrBadCredentials", err)
	}
	if strings.Contains(err.Error(), "ann-secret") {
		t.Errorf("error %q contains the secret", err)
	}
	// Failures are not cached.
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	if _, err := a.Authenticate(context.Background(), "ann", "ann-secret"); err != nil {
		t.Fatalf("after the store recovered: %v", err)
	}
}

func TestAuthenticateBoundedCache(t *testing.T) {
	store := newMemStore(mustCredential(t, "ann", "ann-secret"))
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{MaxEntries: 50})
	ctx := context.Background()
	for i := range 1000 {
		if _, err := a.Authenticate(ctx, fmt.Sprintf("unknown-%d", i), "x"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticateConcurrent(t *testing.T) {
	var creds []auth.Credential
	for i := range 8 {
		creds = append(creds, mustCredential(t, fmt.Sprintf("key-%d", i), fmt.Sprintf("secret-%d", i)))
	}
	store := newMemStore(creds...)
	clock := &fakeClock{now: time.Now()}
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{TTL: time.Millisecond, MaxEntries: 4, Now: clock.Now})
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				k := (g + i) % 8
				wantOK := i%3 != 0
				secret := fmt.Sprintf("secret-%d", k)
				if !wantOK {
					secret = "wrong-secret"
				}
				if i%50 == 0 {
					clock.advance(time.Millisecond)
				}
				p, err := a.Authenticate(ctx, fmt.Sprintf("key-%d", k), secret)
				switch {
				case wantOK && (err != nil || p.Key != fmt.Sprintf("key-%d", k)):
					errs <- fmt.Errorf("key-%d: %v %+v", k, err, p)
					return
				case !wantOK && !errors.Is(err, auth.ErrBadCredentials):
					errs <- fmt.Errorf("key-%d wrong secret: %v", k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewCredential(t *testing.T) {
	c, secret, err := auth.NewCredential("default", "bootstrap", []string{auth.ScopeAll}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.ValidateKey(c.Key); err != nil || len(c.Key) != 20 {
		t.Errorf("generated key %q: %v", c.Key, err)
	}
	if len(secret) < 40 || auth.ValidateSecret(secret) != nil {
		t.Errorf("generated secret has %d characters", len(secret))
	}
	if len(c.Salt) != 16 || !bytes.Equal(c.SecretHash, auth.HashSecret(c.Salt, secret)) {
		t.Error("secret hash does not match the secret")
	}
	if c.CreatedAt.IsZero() || c.CreatedAt.Location() != time.UTC || c.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("CreatedAt = %v, want UTC in milliseconds", c.CreatedAt)
	}
	c2, secret2, err := auth.NewCredential("default", "bootstrap", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Key == c.Key || secret2 == secret || bytes.Equal(c2.Salt, c.Salt) {
		t.Error("two generated credentials share a key, secret or salt")
	}
}

func TestCredentialWithSecret(t *testing.T) {
	tests := []struct {
		name, key, secret string
		ok                bool
	}{
		{"valid", "my.key_1-A", "long-enough", true},
		{"key too short", "ab", "long-enough", false},
		{"key too long", strings.Repeat("k", 129), "long-enough", false},
		{"key with space", "my key", "long-enough", false},
		{"key with colon", "my:key", "long-enough", false},
		{"secret too short", "my-key", "short", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := auth.CredentialWithSecret("default", "bootstrap", tt.key, tt.secret, []string{auth.ScopeAll}, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("error = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q contains the secret", err)
				}
				return
			}
			if c.Key != tt.key || !bytes.Equal(c.SecretHash, auth.HashSecret(c.Salt, tt.secret)) {
				t.Errorf("credential = %+v", c)
			}
		})
	}
}

func TestDefaultAuthority(t *testing.T) {
	got := string(auth.DefaultAuthority("k1", "http://localhost:8080"))
	want := `{"objectType":"Agent","name":"k1","account":{"homePage":"http://localhost:8080","name":"k1"}}`
	if got != want {
		t.Errorf("DefaultAuthority = %s, want %s", got, want)
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	store := newMemStore(mustCredential(b, "ann", "ann-secret"))
	a := auth.NewAuthenticator(store, auth.AuthenticatorOptions{TTL: time.Hour})
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, "ann", "ann-secret"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
