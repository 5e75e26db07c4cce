package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// HashSecret returns HMAC-SHA256 of secret keyed with salt: the only form in
// which a secret is stored.
func HashSecret(salt []byte, secret string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

const (
	minKeyLen    = 3
	maxKeyLen    = 128
	minSecretLen = 8
	saltLen      = 16
	genKeyLen    = 20
	genSecretLen = 32 // random bytes, before base64url
)

// ValidateKey reports whether key can name a credential: 3 to 128
// characters from [A-Za-z0-9._-].
func ValidateKey(key string) error {
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return fmt.Errorf("key must be %d to %d characters long, not %d", minKeyLen, maxKeyLen, len(key))
	}
	for i := 0; i < len(key); i++ {
		if !keyChar(key[i]) {
			return fmt.Errorf("key may hold only letters, digits, '.', '_' and '-' (found %q at %d)", key[i], i)
		}
	}
	return nil
}

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// ValidateSecret reports whether secret is acceptable: at least 8
// characters. The error never contains the secret.
func ValidateSecret(secret string) error {
	if len(secret) < minSecretLen {
		return fmt.Errorf("secret must be at least %d characters long", minSecretLen)
	}
	return nil
}

// NewCredential generates a credential with a random key and secret. It
// returns the credential, which holds only the secret's hash, and the
// plaintext secret, which is shown once and never stored.
func NewCredential(org, name string, scopes []string, authority []byte) (Credential, string, error) {
	key, err := randomKey(genKeyLen)
	if err != nil {
		return Credential{}, "", err
	}
	b := make([]byte, genSecretLen)
	if _, err := rand.Read(b); err != nil {
		return Credential{}, "", fmt.Errorf("auth: generate secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	c, err := newCredential(org, name, key, secret, scopes, authority)
	return c, secret, err
}

// CredentialWithSecret returns a credential with an operator-chosen key and
// secret (as for the bootstrap credential). The key must pass ValidateKey
// and the secret ValidateSecret.
func CredentialWithSecret(org, name, key, secret string, scopes []string, authority []byte) (Credential, error) {
	if err := errors.Join(ValidateKey(key), ValidateSecret(secret)); err != nil {
		return Credential{}, err
	}
	return newCredential(org, name, key, secret, scopes, authority)
}

func newCredential(org, name, key, secret string, scopes []string, authority []byte) (Credential, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return Credential{}, fmt.Errorf("auth: generate salt: %w", err)
	}
	return Credential{
		Key:        key,
		SecretHash: HashSecret(salt, secret),
		Salt:       salt,
		Org:        org,
		Name:       name,
		Scopes:     slices.Clone(scopes),
		Authority:  slices.Clone(authority),
		CreatedAt:  time.Now().UTC().Truncate(time.Millisecond),
	}, nil
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomKey returns n characters drawn uniformly from keyAlphabet.
func randomKey(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("auth: generate key: %w", err)
		}
		for _, b := range buf {
			// 62*4 = 248: reject 248..255 so that every character is
			// equally likely.
			if int(b) < 4*len(keyAlphabet) && len(out) < n {
				out = append(out, keyAlphabet[int(b)%len(keyAlphabet)])
			}
		}
	}
	return string(out), nil
}

// DefaultAuthority returns the authority Agent of a credential: an account
// named after the key on the LRS's homePage.
func DefaultAuthority(key, homePage string) []byte {
	type account struct {
		HomePage string `json:"homePage"`
		Name     string `json:"name"`
	}
	b, err := json.Marshal(struct {
		ObjectType string  `json:"objectType"`
		Name       string  `json:"name"`
		Account    account `json:"account"`
	}{"Agent", key, account{homePage, key}})
	if err != nil {
		panic(err) // strings always marshal
	}
	return b
}

// AuthenticatorOptions tunes an Authenticator.
type AuthenticatorOptions struct {
	// TTL is how long a fetched credential is trusted before it is read
	// again from the store. Default 5s.
	TTL time.Duration
	// NegativeTTL is how long an unknown key is remembered as unknown.
	// Default 1s.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache. Default 10000.
	MaxEntries int
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// TouchInterval is how often, at most, a credential's LastUsed is
	// written (per process, asynchronously) when the store implements
	// TouchCredential. Default 1 minute; negative disables it.
	TouchInterval time.Duration
}

// toucher is the part of CredentialAdmin the Authenticator uses.
type toucher interface {
	TouchCredential(ctx context.Context, key string, t time.Time) error
}

// Authenticator checks a key and secret against a CredentialStore, caching
// credentials so that most requests do not touch the store.
//
// Revocation bound: a credential revoked, deleted or changed in the store
// may still authenticate for up to TTL (5 s by default) on each process
// that cached it (Forget ends it at once on the process that made the
// change); expiry is checked on every request; a credential
// created for a key recently looked up as unknown is refused for up to
// NegativeTTL.
//
// An Authenticator is safe for concurrent use.
type Authenticator struct {
	store CredentialStore
	opts  AuthenticatorOptions

	mu    sync.RWMutex
	cache map[string]cacheEntry

	touch   toucher // nil: LastUsed is not kept
	touches sync.WaitGroup
}

type cacheEntry struct {
	cred    Credential
	found   bool
	expires time.Time
	// touched is the unix-nano time LastUsed was last written or read,
	// shared by the successive entries of one key.
	touched *atomic.Int64
	// generation identifies this credential's key material (tokens.go).
	generation [generationLen]byte
}

// NewAuthenticator returns an Authenticator over store.
func NewAuthenticator(store CredentialStore, opts AuthenticatorOptions) *Authenticator {
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Second
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = time.Second
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TouchInterval == 0 {
		opts.TouchInterval = time.Minute
	}
	a := &Authenticator{store: store, opts: opts, cache: make(map[string]cacheEntry)}
	if t, ok := store.(toucher); ok && opts.TouchInterval > 0 {
		a.touch = t
	}
	return a
}

// Forget drops key from the cache, so that the next request reads the
// credential again (the admin API calls it after changing a credential).
func (a *Authenticator) Forget(key string) {
	a.mu.Lock()
	delete(a.cache, key)
	a.mu.Unlock()
}

// Wait waits for the LastUsed writes in flight (tests, shutdown).
func (a *Authenticator) Wait() { a.touches.Wait() }

// Authenticate returns the principal whose credential has key and secret.
// It returns ErrBadCredentials if the key is unknown or the secret does not
// match, and a wrapped store error (never ErrBadCredentials) if the store
// fails.
func (a *Authenticator) Authenticate(ctx context.Context, key, secret string) (Principal, error) {
	now := a.opts.Now()
	e, err := a.check(ctx, key, secret, now)
	if err != nil {
		return Principal{}, err
	}
	return a.admit(e, e.cred.Scopes, now)
}

// check returns the cache entry of the credential with key if secret is
// its secret.
func (a *Authenticator) check(ctx context.Context, key, secret string, now time.Time) (cacheEntry, error) {
	e, err := a.lookup(ctx, key, now)
	if err != nil {
		return cacheEntry{}, err
	}
	if !hmac.Equal(HashSecret(e.cred.Salt, secret), e.cred.SecretHash) {
		return cacheEntry{}, ErrWrongSecret
	}
	return e, nil
}

// lookup returns the cache entry of a known key, reading the store when
// the key is not cached or its entry is stale: the one credential lookup
// of every authentication, Basic or token. ErrUnknownKey if no credential
// has the key.
func (a *Authenticator) lookup(ctx context.Context, key string, now time.Time) (cacheEntry, error) {
	if key == "" {
		return cacheEntry{}, ErrBadCredentials
	}
	a.mu.RLock()
	e, ok := a.cache[key]
	a.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var err error
		if e, err = a.fetch(ctx, key, now); err != nil {
			return cacheEntry{}, err
		}
	}
	if !e.found {
		return cacheEntry{}, ErrUnknownKey
	}
	return e, nil
}

// admit returns the principal of an authenticated credential, holding
// scopes, if the credential is usable at now; it records the use.
func (a *Authenticator) admit(e cacheEntry, scopes []string, now time.Time) (Principal, error) {
	if err := e.cred.Usable(now); err != nil {
		return Principal{}, err
	}
	if a.touch != nil {
		a.maybeTouch(e, now)
	}
	return Principal{
		Key:       e.cred.Key,
		Org:       e.cred.Org,
		Name:      e.cred.Name,
		Scopes:    slices.Clone(scopes),
		Authority: slices.Clone(e.cred.Authority),
	}, nil
}

// fetch reads key from the store and caches the outcome.
func (a *Authenticator) fetch(ctx context.Context, key string, now time.Time) (cacheEntry, error) {
	c, err := a.store.GetCredential(ctx, key)
	var e cacheEntry
	switch {
	case err == nil:
		e = cacheEntry{cred: c, found: true, expires: now.Add(a.opts.TTL), touched: new(atomic.Int64), generation: generationOf(c)}
		if !c.LastUsed.IsZero() {
			e.touched.Store(c.LastUsed.UnixNano())
		}
	case errors.Is(err, ErrNotFound):
		e = cacheEntry{expires: now.Add(a.opts.NegativeTTL)}
	default:
		return cacheEntry{}, fmt.Errorf("auth: get credential: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old, present := a.cache[key]
	if !present && len(a.cache) >= a.opts.MaxEntries {
		a.evict(now)
	}
	if e.found && old.touched != nil && old.touched.Load() > e.touched.Load() {
		e.touched = old.touched
	}
	a.cache[key] = e
	return e, nil
}

// maybeTouch writes LastUsed in the background when the last write (or the
// stored value) is older than TouchInterval.
func (a *Authenticator) maybeTouch(e cacheEntry, now time.Time) {
	last := e.touched.Load()
	if now.UnixNano()-last < int64(a.opts.TouchInterval) || !e.touched.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	key := e.cred.Key
	a.touches.Add(1)
	go func() {
		defer a.touches.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.touch.TouchCredential(ctx, key, now.UTC().Truncate(time.Millisecond))
	}()
}

// evict makes room in a full cache: it drops expired entries, and if none
// had expired, about a tenth of the entries (arbitrary ones). a.mu is held.
func (a *Authenticator) evict(now time.Time) {
	for k, e := range a.cache {
		if !now.Before(e.expires) {
			delete(a.cache, k)
		}
	}
	drop := len(a.cache) - a.opts.MaxEntries + 1
	if drop > 0 {
		drop = max(drop, a.opts.MaxEntries/10)
	}
	for k := range a.cache {
		if drop <= 0 {
			break
		}
		delete(a.cache, k)
		drop--
	}
}
