package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
)

// memKeys is an in-memory KeyStore.
type memKeys struct {
	mu   sync.Mutex
	keys map[string][]byte
}

func (k *memKeys) EnsureKey(_ context.Context, name string, value []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string][]byte{}
	}
	if v, ok := k.keys[name]; ok {
		return slices.Clone(v), nil
	}
	k.keys[name] = slices.Clone(value)
	return slices.Clone(value), nil
}

var testTokenKey = bytes.Repeat([]byte{7}, 32)

// tokenEnv is one process: an Authenticator and its Tokens over a store.
type tokenEnv struct {
	store *memStore
	clock *fakeClock
	authn *auth.Authenticator
	tok   *auth.Tokens
}

func newTokenEnv(t testing.TB, creds ...auth.Credential) *tokenEnv {
	t.Helper()
	e := &tokenEnv{store: newMemStore(creds...), clock: &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	e.authn = auth.NewAuthenticator(e.store, auth.AuthenticatorOptions{Now: e.clock.Now})
	var err error
	if e.tok, err = auth.NewTokens(e.authn, testTokenKey, auth.TokenOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

func credentialWith(t testing.TB, key, secret string, scopes ...string) auth.Credential {
	t.Helper()
	c, err := auth.CredentialWithSecret("org1", "provider", key, secret, scopes, auth.DefaultAuthority(key, "http://lrs.example"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *tokenEnv) set(c auth.Credential) {
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	e.store.creds[c.Key] = c
}

func TestIssueAndVerify(t *testing.T) {
	e := newTokenEnv(t, credentialWith(t, "provider", "provider-secret", auth.ScopeStatementsWrite, auth.ScopeStatementsReadMine))
	ctx := context.Background()
	tok, err := e.tok.Issue(ctx, "provider", "provider-secret", "xapi:write")
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != time.Hour || tok.Scope != "xapi:write" || !slices.Equal(tok.Scopes, []string{auth.ScopeStatementsWrite}) {
		t.Errorf("token = %+v, want 1h, scope xapi:write, statements/write", tok)
	}
	if strings.ContainsAny(tok.AccessToken, "+/=. ") || len(tok.AccessToken) > 200 {
		t.Errorf("access token %q is not compact base64url", tok.AccessToken)
	}
	p, err := e.tok.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.Key != "provider" || p.Org != "org1" || !slices.Equal(p.Scopes, []string{auth.ScopeStatementsWrite}) {
		t.Errorf("principal = %+v", p)
	}
	if !bytes.Equal(p.Authority, auth.DefaultAuthority("provider", "http://lrs.example")) {
		t.Errorf("authority = %s, want the credential's", p.Authority)
	}
	if !p.Allows(auth.ScopeStatementsWrite) || p.Allows(auth.ScopeStatementsReadMine) {
		t.Errorf("a xapi:write token allows %v", p.Scopes)
	}
}

func TestIssueScopes(t *testing.T) {
	all := []string{auth.ScopeAll}
	write := []string{auth.ScopeStatementsWrite}
	writeMine := []string{auth.ScopeStatementsWrite, auth.ScopeStatementsReadMine}
	tests := []struct {
		name       string
		held       []string
		scope      string
		wantScopes []string // nil: ErrInvalidScope
		wantAnswer string
	}{
		{"write from all", all, "xapi:write", write, "xapi:write"},
		{"read from all", all, "xapi:read", []string{auth.ScopeAllRead}, "xapi:read"},
		{"all from all", all, "xapi:all", all, "xapi:all"},
		{"omitted: xAPI's default", all, "", writeMine, "statements/write statements/read/mine"},
		{"omitted: the default as far as held", []string{auth.ScopeAllRead}, "", []string{auth.ScopeStatementsReadMine}, "statements/read/mine"},
		{"omitted: nothing of the default held", []string{auth.ScopeState}, "", nil, ""},
		{"xAPI names", all, "statements/write  state", []string{auth.ScopeStatementsWrite, auth.ScopeState}, "statements/write state"},
		{"mixed names", all, "xapi:write profile", []string{auth.ScopeStatementsWrite, auth.ScopeProfile}, "xapi:write profile"},
		{"all narrowed to the credential", writeMine, "xapi:all", writeMine, "statements/write statements/read/mine"},
		{"read narrowed to read/mine", writeMine, "xapi:read", []string{auth.ScopeStatementsReadMine}, "statements/read/mine"},
		{"partly held", write, "statements/write statements/read", write, "statements/write"},
		{"covered request kept narrow", []string{auth.ScopeAllRead}, "statements/read", []string{auth.ScopeStatementsRead}, "statements/read"},
		{"redundant request granted as asked", all, "all statements/write", all, "all statements/write"},
		{"nothing held of it", write, "xapi:read", nil, ""},
		{"document scope not held", write, "state", nil, ""},
		{"unknown name", all, "xapi:admin", nil, ""},
		{"case-sensitive", all, "XAPI:WRITE", nil, ""},
		{"not a scope token", all, `xapi:"write"`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTokenEnv(t, credentialWith(t, "provider", "provider-secret", tt.held...))
			tok, err := e.tok.Issue(context.Background(), "provider", "provider-secret", tt.scope)
			if tt.wantScopes == nil {
				if !errors.Is(err, auth.ErrInvalidScope) {
					t.Fatalf("Issue(scope %q) = %+v, %v; want ErrInvalidScope", tt.scope, tok, err)
				}
				if strings.ContainsAny(err.Error(), `"\`) {
					t.Errorf("error %q holds characters an error_description may not", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Issue(scope %q): %v", tt.scope, err)
			}
			if !slices.Equal(tok.Scopes, tt.wantScopes) || tok.Scope != tt.wantAnswer {
				t.Errorf("Issue(scope %q) grants %v answered %q; want %v answered %q", tt.scope, tok.Scopes, tok.Scope, tt.wantScopes, tt.wantAnswer)
			}
			p, err := e.tok.Verify(context.Background(), tok.AccessToken)
			if err != nil || !slices.Equal(p.Scopes, tt.wantScopes) {
				t.Errorf("Verify: %v scopes %v, want %v", err, p.Scopes, tt.wantScopes)
			}
		})
	}
}

func TestIssueRefusesBadClients(t *testing.T) {
	c := credentialWith(t, "provider", "provider-secret", auth.ScopeAll)
	expired := credentialWith(t, "old-provider", "provider-secret", auth.ScopeAll)
	expired.ExpiresAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	revoked := credentialWith(t, "gone-provider", "provider-secret", auth.ScopeAll)
	revoked.Revoked, revoked.RevokedAt = true, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newTokenEnv(t, c, expired, revoked)
	tests := []struct {
		id, secret string
		want       error
	}{
		{"provider", "wrong-secret", auth.ErrWrongSecret},
		{"provider", "", auth.ErrWrongSecret},
		{"nobody", "provider-secret", auth.ErrUnknownKey},
		{"", "provider-secret", auth.ErrBadCredentials},
		{"old-provider", "provider-secret", auth.ErrExpired},
		{"gone-provider", "provider-secret", auth.ErrRevoked},
	}
	for _, tt := range tests {
		_, err := e.tok.Issue(context.Background(), tt.id, tt.secret, "xapi:write")
		if !errors.Is(err, tt.want) || !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("Issue(%q, %q) = %v, want %v", tt.id, tt.secret, err, tt.want)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	c := credentialWith(t, "provider", "provider-secret", auth.ScopeAll)
	e := newTokenEnv(t, c)
	ctx := context.Background()
	tok, err := e.tok.Issue(ctx, "provider", "provider-secret", "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Hour - time.Second)
	if _, err := e.tok.Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	e.clock.advance(time.Second)
	if _, err := e.tok.Verify(ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenExpired) || auth.FailureReason(err) != "token_expired" {
		t.Errorf("at expiry: %v, want ErrTokenExpired", err)
	}

	// A credential that expires sooner than the TTL shortens the token.
	c.ExpiresAt = e.clock.Now().Add(10 * time.Minute)
	e.set(c)
	e.authn.Forget(c.Key)
	tok, err = e.tok.Issue(ctx, "provider", "provider-secret", "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 10*time.Minute {
		t.Errorf("expires_in = %v, want the credential's remaining 10m", tok.ExpiresIn)
	}
	e.clock.advance(10 * time.Minute)
	if _, err := e.tok.Verify(ctx, tok.AccessToken); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("after the credential expired: %v, want a refusal", err)
	}

	// Between two seconds: expires_in is the TTL, and the token lives at
	// least that long (rounded up to the next second).
	e.clock.advance(500 * time.Millisecond)
	c.ExpiresAt = time.Time{}
	e.set(c)
	e.authn.Forget(c.Key)
	tok, err = e.tok.Issue(ctx, "provider", "provider-secret", "")
	if err != nil || tok.ExpiresIn != time.Hour {
		t.Fatalf("issued between two seconds: %+v, %v; want expires_in 1h", tok, err)
	}
	e.clock.advance(time.Hour)
	if _, err := e.tok.Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("exactly expires_in after issue: %v, want still valid", err)
	}
	e.clock.advance(500 * time.Millisecond)
	if _, err := e.tok.Verify(ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenExpired) {
		t.Errorf("at the next whole second: %v, want ErrTokenExpired", err)
	}

	short, err := auth.NewTokens(e.authn, testTokenKey, auth.TokenOptions{TTL: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.ExpiresAt = time.Time{}
	e.set(c)
	e.authn.Forget(c.Key)
	if tok, err := short.Issue(ctx, "provider", "provider-secret", ""); err != nil || tok.ExpiresIn != 90*time.Second {
		t.Errorf("TTL 90s: %+v, %v", tok, err)
	}
}

// TestTokenRevocation: a token dies with its credential within the bound
// of Basic authentication: at once on the process that revoked it, within
// the cache TTL on another; and it is verified without a store read.
func TestTokenRevocation(t *testing.T) {
	c := credentialWith(t, "provider", "provider-secret", auth.ScopeAll)
	p1 := newTokenEnv(t, c)
	// A second process over the same store and clock, with the same key.
	authn2 := auth.NewAuthenticator(p1.store, auth.AuthenticatorOptions{Now: p1.clock.Now})
	tok2, err := auth.NewTokens(authn2, testTokenKey, auth.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := p1.tok.Issue(ctx, "provider", "provider-secret", "xapi:write")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok2.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatalf("the other process refuses the token: %v", err)
	}
	gets := p1.store.gets.Load()
	for range 100 {
		if _, err := tok2.Verify(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := p1.store.gets.Load() - gets; n != 0 {
		t.Errorf("100 verifications read the store %d times, want 0 (cached)", n)
	}

	c.Revoked, c.RevokedAt = true, p1.clock.Now()
	p1.set(c)
	p1.authn.Forget(c.Key)
	if _, err := p1.tok.Verify(ctx, tok.AccessToken); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("revoking process: %v, want ErrRevoked at once", err)
	}
	p1.clock.advance(5*time.Second - time.Millisecond)
	if _, err := tok2.Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("other process within the 5s TTL: %v (still cached: allowed)", err)
	}
	p1.clock.advance(time.Millisecond)
	if _, err := tok2.Verify(ctx, tok.AccessToken); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("other process after the 5s TTL: %v, want ErrRevoked", err)
	}

	p1.store.delete(c.Key)
	p1.authn.Forget(c.Key)
	if _, err := p1.tok.Verify(ctx, tok.AccessToken); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("deleted credential: %v, want ErrUnknownKey", err)
	}
}

// TestTokenFollowsCredential: a token is bound to its credential's key
// material and current scopes.
func TestTokenFollowsCredential(t *testing.T) {
	c := credentialWith(t, "provider", "provider-secret", auth.ScopeAll)
	e := newTokenEnv(t, c)
	ctx := context.Background()
	tok, err := e.tok.Issue(ctx, "provider", "provider-secret", "xapi:all")
	if err != nil {
		t.Fatal(err)
	}

	narrowed := c
	narrowed.Scopes = []string{auth.ScopeStatementsWrite}
	e.set(narrowed)
	e.authn.Forget(c.Key)
	if p, err := e.tok.Verify(ctx, tok.AccessToken); err != nil || !slices.Equal(p.Scopes, []string{auth.ScopeStatementsWrite}) {
		t.Errorf("after the credential lost scopes: %v, %v; want only statements/write", p.Scopes, err)
	}

	// Deleted and created again under the same key: the old token is void.
	e.set(credentialWith(t, "provider", "another-secret", auth.ScopeAll))
	e.authn.Forget(c.Key)
	if _, err := e.tok.Verify(ctx, tok.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("token of a replaced credential: %v, want ErrInvalidToken", err)
	}
}

func TestVerifyRefusesForgedTokens(t *testing.T) {
	e := newTokenEnv(t, credentialWith(t, "provider", "provider-secret", auth.ScopeStatementsWrite))
	ctx := context.Background()
	tok, err := e.tok.Issue(ctx, "provider", "provider-secret", "")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.NewTokens(e.authn, bytes.Repeat([]byte{8}, 32), auth.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherTok, err := other.Issue(ctx, "provider", "provider-secret", "")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := slices.Clone(raw)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := map[string]string{
		"empty":               "",
		"not base64url":       tok.AccessToken + "!",
		"truncated":           tok.AccessToken[:len(tok.AccessToken)-4],
		"too short":           "AAAA",
		"too long":            strings.Repeat("A", 4096),
		"another signing key": otherTok.AccessToken,
		"version changed":     flip(0),
		"expiry extended":     flip(8),
		"scopes widened":      flip(10),
		"generation changed":  flip(12),
		"key changed":         flip(len(raw) - 33),
		"MAC changed":         flip(len(raw) - 1),
	}
	for name, token := range tests {
		if _, err := e.tok.Verify(ctx, token); !errors.Is(err, auth.ErrInvalidToken) || auth.FailureReason(err) != "invalid_token" {
			t.Errorf("%s: Verify = %v, want ErrInvalidToken", name, err)
		}
	}
}

func TestLoadTokenKey(t *testing.T) {
	var ks memKeys
	ctx := context.Background()
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	for i := range keys {
		wg.Go(func() {
			k, err := auth.LoadTokenKey(ctx, &ks)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("processes loaded different keys: %x", keys)
		}
	}
	if bytes.Equal(keys[0], make([]byte, 32)) {
		t.Error("the generated key is all zeros")
	}
	short := memKeys{keys: map[string][]byte{auth.TokenKeyName: []byte("short")}}
	if _, err := auth.LoadTokenKey(ctx, &short); err == nil {
		t.Error("a stored key of 5 bytes was accepted")
	}
	if _, err := auth.NewTokens(auth.NewAuthenticator(newMemStore(), auth.AuthenticatorOptions{}), []byte("short"), auth.TokenOptions{}); err == nil {
		t.Error("NewTokens accepted a 5-byte key")
	}
}

func BenchmarkVerifyToken(b *testing.B) {
	e := newTokenEnv(b, credentialWith(b, "provider", "provider-secret", auth.ScopeAll))
	e.authn = auth.NewAuthenticator(e.store, auth.AuthenticatorOptions{TTL: time.Hour})
	tok, err := auth.NewTokens(e.authn, testTokenKey, auth.TokenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	issued, err := tok.Issue(ctx, "provider", "provider-secret", "xapi:write")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tok.Verify(ctx, issued.AccessToken); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
