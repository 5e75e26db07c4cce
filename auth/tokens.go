package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"
)

// OAuth 2.0 access tokens (RFC 6749 §4.4, client credentials grant): a
// credential's key and secret buy a short-lived bearer token that carries
// the key, the granted scopes and an expiry, sealed with HMAC-SHA256 under
// a key every process sharing the store reads from it (LoadTokenKey).
//
// A token is opaque to its holder (RFC 6749 §1.4) and read only by the
// server that issued it, so it is a compact binary record rather than a
// JWT: nothing outside this package parses it, and there is no header to
// choose an algorithm from. Layout, before base64url (no padding):
//
//	version(1) expiry unix seconds(8, BE) scopes bit set(2, BE)
//	credential generation(8) credential key(3..128) HMAC-SHA256(32)
//
// The MAC covers every byte before it. Verification is the MAC check, then
// the credential lookup Basic authentication uses (Authenticator, cached),
// so a token stops working when its credential is revoked, expires or is
// deleted within the same bound as Basic: at once on the process that made
// the change, within the cache TTL (5 s) on every other. The generation is
// a digest of the credential's salt and secret hash, so that a credential
// deleted and created again under the same key, or given a new secret,
// does not honour the tokens of its predecessor. The scopes a token grants
// are re-checked against the credential's current scopes on every request.

const (
	tokenVersion  = 1
	tokenKeyLen   = 32
	generationLen = 8
	tokenHeadLen  = 1 + 8 + 2 + generationLen
	// maxTokenLen bounds the base64 text of a token (a longer one is not
	// one of ours and is refused before decoding).
	maxTokenLen = (tokenHeadLen+maxKeyLen+sha256.Size)*4/3 + 4

	// DefaultTokenTTL is the lifetime of an access token unless
	// TokenOptions.TTL says otherwise.
	DefaultTokenTTL = time.Hour
	// TokenKeyName names the token signing key in a KeyStore.
	TokenKeyName = "oauth2-token-hmac-v1"
)

// DefaultTokenScopes are granted, as far as the credential holds them, to a
// token request without a scope: xAPI's default (Communication 4.2).
var DefaultTokenScopes = []string{ScopeStatementsWrite, ScopeStatementsReadMine}

var (
	// ErrInvalidToken: the bearer token is malformed, was not issued by
	// this LRS (or under its current signing key), or was issued for a
	// credential that has since been replaced. It is also ErrBadCredentials.
	ErrInvalidToken error = &refusal{"invalid_token"}
	// ErrTokenExpired: the bearer token's lifetime is over. It is also
	// ErrBadCredentials.
	ErrTokenExpired error = &refusal{"token_expired"}
)

// KeyStore keeps the secret keys the LRS makes for itself. Every storage
// engine implements it.
type KeyStore interface {
	// EnsureKey stores value under name unless a key of that name exists,
	// and returns the key stored under name: value if this call stored it,
	// else the one stored first. Any number of processes calling at once
	// all get the same key. value must not be empty.
	EnsureKey(ctx context.Context, name string, value []byte) ([]byte, error)
}

// LoadTokenKey returns the token signing key kept in ks, creating a random
// one if there is none yet (the first process to start wins; every other
// reads it).
func LoadTokenKey(ctx context.Context, ks KeyStore) ([]byte, error) {
	candidate := make([]byte, tokenKeyLen)
	if _, err := rand.Read(candidate); err != nil {
		return nil, fmt.Errorf("auth: generate token key: %w", err)
	}
	key, err := ks.EnsureKey(ctx, TokenKeyName, candidate)
	if err != nil {
		return nil, fmt.Errorf("auth: load token key: %w", err)
	}
	if len(key) < tokenKeyLen {
		return nil, fmt.Errorf("auth: the stored token key is %d bytes long, want %d", len(key), tokenKeyLen)
	}
	return key, nil
}

// TokenOptions tunes Tokens.
type TokenOptions struct {
	// TTL is the lifetime of an access token. Default DefaultTokenTTL.
	TTL time.Duration
}

// Tokens issues and verifies access tokens for the credentials of an
// Authenticator, whose cache and clock it shares. Safe for concurrent use.
type Tokens struct {
	authn *Authenticator
	ttl   time.Duration
	macs  sync.Pool // of hash.Hash: HMAC-SHA256 keyed with the signing key
}

// NewTokens returns Tokens over authn, sealing with key (LoadTokenKey).
func NewTokens(authn *Authenticator, key []byte, opts TokenOptions) (*Tokens, error) {
	if len(key) < tokenKeyLen {
		return nil, fmt.Errorf("auth: the token key must be at least %d bytes long", tokenKeyLen)
	}
	if opts.TTL < 0 {
		return nil, errors.New("auth: negative token TTL")
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTokenTTL
	}
	key = slices.Clone(key)
	t := &Tokens{authn: authn, ttl: opts.TTL}
	t.macs.New = func() any { return hmac.New(sha256.New, key) }
	return t, nil
}

// Token is an issued access token.
type Token struct {
	AccessToken string
	// ExpiresIn is the token's lifetime from now: the TTL, or less when
	// the credential expires sooner.
	ExpiresIn time.Duration
	// Scopes are the xAPI scopes the token grants.
	Scopes []string
	// Scope is the granted scope as the token answer states it (RFC 6749
	// §5.1): the scope parameter as requested when all of it was granted,
	// else the xAPI scopes granted.
	Scope string
}

// Issue authenticates a client by its credential's key and secret and
// returns a token for the scope it asked for (the scope parameter of RFC
// 6749 §3.3; empty: DefaultTokenScopes). Errors: the refusals
// of Authenticate (ErrBadCredentials: invalid_client), ErrInvalidScope,
// and wrapped store errors.
func (t *Tokens) Issue(ctx context.Context, clientID, clientSecret, scope string) (Token, error) {
	now := t.authn.opts.Now()
	e, err := t.authn.check(ctx, clientID, clientSecret, now)
	if err != nil {
		return Token{}, err
	}
	requested, err := ParseOAuthScope(scope)
	if err != nil {
		return Token{}, err
	}
	asked := requested != nil
	if !asked {
		requested = DefaultTokenScopes
	}
	held := e.cred.Scopes
	granted := Grant(requested, held)
	if len(granted) == 0 {
		what := "the scopes requested"
		if !asked {
			what = "the default scopes (statements/write, statements/read/mine): ask for a scope"
		}
		return Token{}, fmt.Errorf("%w: the credential holds none of %s (it holds %s)", ErrInvalidScope, what, strings.Join(normalizeScopes(held), ", "))
	}
	answer := strings.Join(granted, " ")
	if asked && slices.Equal(granted, normalizeScopes(requested)) {
		answer = strings.Join(strings.Fields(scope), " ")
	}
	p, err := t.authn.admit(e, granted, now)
	if err != nil {
		return Token{}, err
	}
	// Whole seconds: the TTL rounded up, so that a client counting
	// expires_in from when it got the answer never holds a token it
	// believes valid after it expired here; the credential's expiry
	// rounded down, so that the token says no more than the credential.
	expiry := now.Add(t.ttl + time.Second - 1).Unix()
	if x := e.cred.ExpiresAt; !x.IsZero() && x.Unix() < expiry {
		expiry = x.Unix()
	}
	return Token{
		AccessToken: t.seal(p.Key, e.generation, scopeBits(granted), expiry),
		ExpiresIn:   max(time.Unix(expiry, 0).Sub(now).Truncate(time.Second), time.Second),
		Scopes:      granted,
		Scope:       answer,
	}, nil
}

// Verify returns the principal a bearer token stands for: its credential's,
// with the token's scopes that the credential still holds. Errors:
// ErrInvalidToken, ErrTokenExpired, the credential refusals (ErrUnknownKey,
// ErrRevoked, ErrExpired; all ErrBadCredentials) and wrapped store errors.
func (t *Tokens) Verify(ctx context.Context, token string) (Principal, error) {
	if len(token) > maxTokenLen {
		return Principal{}, ErrInvalidToken
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < tokenHeadLen+minKeyLen+sha256.Size {
		return Principal{}, ErrInvalidToken
	}
	payload, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if !hmac.Equal(t.mac(payload), sum) || payload[0] != tokenVersion {
		return Principal{}, ErrInvalidToken
	}
	now := t.authn.opts.Now()
	if now.Unix() >= int64(binary.BigEndian.Uint64(payload[1:9])) {
		return Principal{}, ErrTokenExpired
	}
	scopes := scopesOf(binary.BigEndian.Uint16(payload[9:11]))
	e, err := t.authn.lookup(ctx, string(payload[tokenHeadLen:]), now)
	if err != nil {
		return Principal{}, err
	}
	if !hmac.Equal(e.generation[:], payload[11:tokenHeadLen]) {
		return Principal{}, ErrInvalidToken
	}
	return t.authn.admit(e, Grant(scopes, e.cred.Scopes), now)
}

// seal returns the token text for the fields.
func (t *Tokens) seal(key string, gen [generationLen]byte, scopes uint16, expiry int64) string {
	b := make([]byte, 0, tokenHeadLen+len(key)+sha256.Size)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(expiry))
	b = binary.BigEndian.AppendUint16(b, scopes)
	b = append(b, gen[:]...)
	b = append(b, key...)
	b = append(b, t.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// mac returns HMAC-SHA256 of b under the signing key. The keyed hashes are
// pooled: keying one costs two SHA-256 blocks, which Reset does not redo.
func (t *Tokens) mac(b []byte) []byte {
	m := t.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(b)
	sum := m.Sum(nil)
	t.macs.Put(m)
	return sum
}

// generationOf digests the key material of c (see the layout above).
func generationOf(c Credential) [generationLen]byte {
	h := sha256.New()
	h.Write([]byte("lrs credential generation\x00"))
	h.Write(c.Salt)
	h.Write(c.SecretHash)
	var g [generationLen]byte
	copy(g[:], h.Sum(nil))
	return g
}

// tokenScopes assigns each scope its bit in a token: bit i stands for
// tokenScopes[i]. Tokens outlive a process (and cross versions during a
// rolling upgrade), so this order never changes; new scopes go at the end.
var tokenScopes = [...]string{
	ScopeStatementsWrite, ScopeStatementsRead, ScopeStatementsReadMine,
	ScopeAllRead, ScopeAll, ScopeState, ScopeDefine, ScopeProfile,
}

// scopeBits is the bit set of scopes in a token.
func scopeBits(scopes []string) uint16 {
	var bits uint16
	for i, s := range tokenScopes {
		if slices.Contains(scopes, s) {
			bits |= 1 << i
		}
	}
	return bits
}

// scopesOf reads a token's bit set; unknown bits are ignored.
func scopesOf(bits uint16) []string {
	var out []string
	for i, s := range tokenScopes {
		if bits&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}
