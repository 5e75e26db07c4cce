package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Identity signs accounts in and keeps their sessions: password sign-in
// with throttling, sessions verified from a short per-process cache,
// CSRF tokens, sign-out and sign-out everywhere, and the administration of
// accounts, invitations and password resets. Safe for concurrent use.
//
// Revocation bound: a session signed out, or the sessions of an account
// disabled, deleted, signed out everywhere or given a new password, stop
// working at once on the process that made the change and within
// CacheTTL (5 s by default) on every other process sharing the store; a
// change of an account's role or organization takes effect within the
// same bound. Idle expiry is kept to within TouchInterval (1 minute).
type Identity struct {
	store  IdentityStore
	opts   IdentityOptions
	hasher *Hasher
	csrf   []byte // HMAC key of the CSRF tokens
	dummy  string // a hash checked when no account has the email (equal timing)

	mu    sync.RWMutex
	cache map[string]*sessionEntry // by session hash

	clientMu sync.Mutex
	clients  map[string]*clientFailures

	bg sync.WaitGroup // touches in flight
}

// IdentityOptions tune an Identity. Zero fields take the defaults.
type IdentityOptions struct {
	// IdleTimeout ends a session unused for this long. Default 30m.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in, used or not.
	// Default 12h.
	MaxAge time.Duration
	// CacheTTL is how long a process trusts a session (and its account)
	// it read before it reads them again. Default 5s.
	CacheTTL time.Duration
	// TouchInterval is how often, at most, a session's LastSeen is
	// written. Default 1m.
	TouchInterval time.Duration
	// InvitationTTL is the lifetime of an invitation. Default 72h.
	InvitationTTL time.Duration
	// ResetTTL is the lifetime of a password reset token. Default 1h.
	ResetTTL time.Duration
	// Throttle tunes the refusal of repeated failed sign-ins.
	Throttle ThrottleOptions
	// Password sets the Argon2id parameters of new hashes.
	Password PasswordParams
	// MaxEntries bounds the session cache. Default 10000.
	MaxEntries int
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// ThrottleOptions tune sign-in throttling. Per account (by email, whether
// or not an account has it, counted in the store so that every process
// sees the same count): after Failures failures, each further attempt
// within Window is refused, without checking the password, until
// Base·2^(failures−Failures) (at most Max) has passed since the last
// failure. Per client address (in each process): after ClientFailures
// failures within Window, the client's attempts are refused until the
// window is over. Defaults 5, 1h, 30s, 15m, 50.
type ThrottleOptions struct {
	Failures       int
	Window         time.Duration
	Base           time.Duration
	Max            time.Duration
	ClientFailures int
}

// IdentityKeyName names the HMAC key of CSRF tokens in a KeyStore.
const IdentityKeyName = "session-csrf-hmac-v1"

// LoadIdentityKey returns the CSRF key kept in ks, creating it if needed.
func LoadIdentityKey(ctx context.Context, ks KeyStore) ([]byte, error) {
	candidate := make([]byte, 32)
	if _, err := rand.Read(candidate); err != nil {
		return nil, fmt.Errorf("auth: generate CSRF key: %w", err)
	}
	key, err := ks.EnsureKey(ctx, IdentityKeyName, candidate)
	if err != nil {
		return nil, fmt.Errorf("auth: load CSRF key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("auth: the stored CSRF key is %d bytes long, want 32", len(key))
	}
	return key, nil
}

// NewIdentity returns an Identity over store; key is the CSRF key
// (LoadIdentityKey).
func NewIdentity(store IdentityStore, key []byte, opts IdentityOptions) (*Identity, error) {
	if len(key) < 32 {
		return nil, errors.New("auth: the CSRF key must be at least 32 bytes long")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.IdleTimeout, 30*time.Minute)
	def(&opts.MaxAge, 12*time.Hour)
	def(&opts.CacheTTL, 5*time.Second)
	def(&opts.TouchInterval, time.Minute)
	def(&opts.InvitationTTL, 72*time.Hour)
	def(&opts.ResetTTL, time.Hour)
	def(&opts.Throttle.Window, time.Hour)
	def(&opts.Throttle.Base, 30*time.Second)
	def(&opts.Throttle.Max, 15*time.Minute)
	if opts.Throttle.Failures <= 0 {
		opts.Throttle.Failures = 5
	}
	if opts.Throttle.ClientFailures <= 0 {
		opts.Throttle.ClientFailures = 50
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Identity{
		store: store, opts: opts, hasher: NewHasher(opts.Password), csrf: append([]byte(nil), key...),
		cache: map[string]*sessionEntry{}, clients: map[string]*clientFailures{},
	}
	dummy, err := m.hasher.Hash(context.Background(), "not the password of anyone")
	if err != nil {
		return nil, err
	}
	m.dummy = dummy
	return m, nil
}

// Options returns the options in force (defaults applied).
func (m *Identity) Options() IdentityOptions { return m.opts }

// Wait waits for the background writes in flight (tests, shutdown).
func (m *Identity) Wait() { m.bg.Wait() }

// ---- tokens ----

// newSecretToken returns 256 random bits as base64url text and their hash.
func newSecretToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("auth: generate token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, HashToken(tok), nil
}

// HashToken returns the SHA-256 of a session id or mailed token: the form
// in which it is stored and looked up.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CSRFToken returns the CSRF token of a session: an HMAC of the session's
// hash under the CSRF key (OWASP's HMAC-based synchronizer token), so
// that every process derives it and nothing more is stored.
func (m *Identity) CSRFToken(session string) string {
	mac := hmac.New(sha256.New, m.csrf)
	mac.Write([]byte("lrs csrf\x00"))
	mac.Write(HashToken(session))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports, in constant time, whether csrf is the CSRF token of
// the session.
func (m *Identity) CheckCSRF(session, csrf string) bool {
	return csrf != "" && hmac.Equal([]byte(m.CSRFToken(session)), []byte(csrf))
}

// ---- sign-in ----

// Sign-in refusals. Each is also ErrSignInRefused except the throttling.
var (
	// ErrSignInRefused: the email and password do not match an enabled
	// account (never says which).
	ErrSignInRefused = errors.New("auth: sign-in refused")
	// ErrAccountDisabled: the password was right but the account is
	// disabled. It is also ErrSignInRefused.
	ErrAccountDisabled error = &signInRefusal{"disabled"}
	errUnknownAccount  error = &signInRefusal{"unknown_account"}
	errBadPassword     error = &signInRefusal{"wrong_password"}
	errNoPassword      error = &signInRefusal{"no_password"}
)

type signInRefusal struct{ reason string }

func (r *signInRefusal) Error() string { return "auth: sign-in refused: " + r.reason }
func (r *signInRefusal) Unwrap() error { return ErrSignInRefused }

// ThrottledError refuses a sign-in attempt without checking it.
type ThrottledError struct {
	// Scope is "account" or "client".
	Scope      string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed sign-ins (%s); retry in %s", e.Scope, e.RetryAfter.Round(time.Second))
}

// SignInReason names the outcome of a sign-in for metrics: ok,
// unknown_account, wrong_password, no_password, disabled,
// throttled_account, throttled_client or error.
func SignInReason(err error) string {
	var r *signInRefusal
	var t *ThrottledError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &r):
		return r.reason
	case errors.As(err, &t):
		return "throttled_" + t.Scope
	}
	return "error"
}

type clientFailures struct {
	n     int
	start time.Time
}

const maxTrackedClients = 100_000

// PasswordSignIn checks email and password, throttled per account and per
// client address. Errors: ErrSignInRefused (ErrAccountDisabled when the
// password was right), *ThrottledError, and wrapped store errors.
func (m *Identity) PasswordSignIn(ctx context.Context, email, password, client string) (Account, error) {
	now := m.opts.Now()
	key, err := NormalizeEmail(email)
	if err != nil {
		key = "" // still throttled per client; no account can match
	}
	if d := m.clientWait(client, now); d > 0 {
		return Account{}, &ThrottledError{Scope: "client", RetryAfter: d}
	}
	if key != "" {
		n, last, err := m.store.LoginFailures(ctx, key)
		if err != nil {
			return Account{}, fmt.Errorf("auth: sign-in: %w", err)
		}
		if d := m.accountWait(n, last, now); d > 0 {
			return Account{}, &ThrottledError{Scope: "account", RetryAfter: d}
		}
	}
	a, refusal, err := m.checkPassword(ctx, key, password)
	if err != nil {
		return Account{}, err
	}
	if refusal != nil {
		m.clientFail(client, now)
		if key != "" {
			if _, err := m.store.AddLoginFailure(ctx, key, now, m.opts.Throttle.Window); err != nil {
				return Account{}, fmt.Errorf("auth: sign-in: %w", err)
			}
		}
		return Account{}, refusal
	}
	if err := m.store.ResetLoginFailures(ctx, key); err != nil {
		return Account{}, fmt.Errorf("auth: sign-in: %w", err)
	}
	if m.hasher.NeedsRehash(a.PasswordHash) { // parameters raised since
		if h, err := m.hasher.Hash(ctx, password); err == nil {
			_, _ = m.store.UpdateAccount(ctx, a.ID, AccountUpdate{PasswordHash: &h})
		}
	}
	return a, nil
}

// checkPassword returns the account if password is its password, or the
// refusal; it hashes once whatever the case, so that the time taken does
// not tell whether the email has an account.
func (m *Identity) checkPassword(ctx context.Context, email, password string) (Account, error, error) {
	var a Account
	found := false
	if email != "" {
		var err error
		a, err = m.store.GetAccountByEmail(ctx, email)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, ErrAccountNotFound):
			return Account{}, nil, fmt.Errorf("auth: sign-in: %w", err)
		}
	}
	if !found || a.PasswordHash == "" {
		_ = m.hasher.Check(ctx, m.dummy, password)
		if err := ctx.Err(); err != nil {
			return Account{}, nil, fmt.Errorf("auth: sign-in: %w", err)
		}
		if found {
			return Account{}, errNoPassword, nil
		}
		return Account{}, errUnknownAccount, nil
	}
	switch err := m.hasher.Check(ctx, a.PasswordHash, password); {
	case errors.Is(err, ErrWrongPassword):
		return Account{}, errBadPassword, nil
	case err != nil:
		return Account{}, nil, fmt.Errorf("auth: sign-in: %w", err)
	}
	if a.Disabled {
		return Account{}, ErrAccountDisabled, nil
	}
	return a, nil, nil
}

func (m *Identity) accountWait(n int, last, now time.Time) time.Duration {
	t := m.opts.Throttle
	if n < t.Failures || now.Sub(last) >= t.Window {
		return 0
	}
	d := t.Max
	if shift := n - t.Failures; shift < 20 {
		d = min(t.Base<<shift, t.Max)
	}
	return last.Add(d).Sub(now)
}

func (m *Identity) clientWait(client string, now time.Time) time.Duration {
	m.clientMu.Lock()
	defer m.clientMu.Unlock()
	f := m.clients[client]
	if f == nil || now.Sub(f.start) >= m.opts.Throttle.Window || f.n < m.opts.Throttle.ClientFailures {
		return 0
	}
	return f.start.Add(m.opts.Throttle.Window).Sub(now)
}

func (m *Identity) clientFail(client string, now time.Time) {
	m.clientMu.Lock()
	defer m.clientMu.Unlock()
	f := m.clients[client]
	if f == nil || now.Sub(f.start) >= m.opts.Throttle.Window {
		if f == nil && len(m.clients) >= maxTrackedClients {
			for k, g := range m.clients {
				if now.Sub(g.start) >= m.opts.Throttle.Window {
					delete(m.clients, k)
				}
			}
			if len(m.clients) >= maxTrackedClients {
				clear(m.clients)
			}
		}
		f = &clientFailures{start: now}
		m.clients[client] = f
	}
	f.n++
}

// ---- sessions ----

// SessionInfo is a verified session and its account.
type SessionInfo struct {
	Session Session
	Account Account
	// IdleExpiresAt is when the session ends if unused.
	IdleExpiresAt time.Time
}

type sessionEntry struct {
	session Session
	account Account
	fetched time.Time
}

// ErrNoSession: the session id is unknown, expired, or its account can no
// longer sign in.
var ErrNoSession = errors.New("auth: no valid session")

// StartSession creates a session for the account and returns its id (the
// cookie value, shown to nobody else) and the session.
func (m *Identity) StartSession(ctx context.Context, a Account, method, client string) (string, Session, error) {
	tok, hash, err := newSecretToken()
	if err != nil {
		return "", Session{}, err
	}
	now := m.opts.Now().UTC().Truncate(time.Millisecond)
	s := Session{Hash: hash, AccountID: a.ID, Method: method, Client: client, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(m.opts.MaxAge)}
	// Expired sessions and stale failure counts are removed at sign-in,
	// which is rare enough for it.
	if _, err := m.store.DeleteExpiredSessions(ctx, now, now.Add(-m.opts.IdleTimeout)); err != nil {
		return "", Session{}, fmt.Errorf("auth: start session: %w", err)
	}
	if _, err := m.store.DeleteLoginFailuresBefore(ctx, now.Add(-m.opts.Throttle.Window)); err != nil {
		return "", Session{}, fmt.Errorf("auth: start session: %w", err)
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return "", Session{}, fmt.Errorf("auth: start session: %w", err)
	}
	return tok, s, nil
}

// Verify returns the session with the id and its account. ErrNoSession if
// it is unknown, expired or idle too long, or its account is disabled or
// deleted; a wrapped store error if the store fails.
func (m *Identity) Verify(ctx context.Context, session string) (SessionInfo, error) {
	if session == "" || len(session) > 128 {
		return SessionInfo{}, ErrNoSession
	}
	now := m.opts.Now()
	hash := HashToken(session)
	k := string(hash)
	m.mu.RLock()
	e := m.cache[k]
	m.mu.RUnlock()
	if e == nil || now.Sub(e.fetched) >= m.opts.CacheTTL {
		var err error
		if e, err = m.fetch(ctx, hash, now); err != nil {
			return SessionInfo{}, err
		}
	}
	m.mu.RLock()
	s, a := e.session, e.account
	m.mu.RUnlock()
	idleEnd := s.LastSeen.Add(m.opts.IdleTimeout)
	if !now.Before(s.ExpiresAt) || !now.Before(idleEnd) || a.Disabled {
		m.drop(k)
		return SessionInfo{}, ErrNoSession
	}
	if now.Sub(s.LastSeen) >= m.opts.TouchInterval {
		m.touch(e, hash, now)
		idleEnd = now.Add(m.opts.IdleTimeout)
	}
	return SessionInfo{Session: s, Account: a, IdleExpiresAt: minTime(idleEnd, s.ExpiresAt)}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (m *Identity) fetch(ctx context.Context, hash []byte, now time.Time) (*sessionEntry, error) {
	s, err := m.store.GetSession(ctx, hash)
	if errors.Is(err, ErrSessionNotFound) {
		m.drop(string(hash))
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("auth: get session: %w", err)
	}
	a, err := m.store.GetAccount(ctx, s.AccountID)
	if errors.Is(err, ErrAccountNotFound) {
		m.drop(string(hash))
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("auth: get account: %w", err)
	}
	e := &sessionEntry{session: s, account: a, fetched: now}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.cache[string(hash)]; old != nil && old.session.LastSeen.After(s.LastSeen) {
		e.session.LastSeen = old.session.LastSeen // a touch of ours not written yet
	}
	if len(m.cache) >= m.opts.MaxEntries {
		for k, x := range m.cache {
			if now.Sub(x.fetched) >= m.opts.CacheTTL || len(m.cache) >= m.opts.MaxEntries {
				delete(m.cache, k)
			}
		}
	}
	m.cache[string(hash)] = e
	return e, nil
}

func (m *Identity) touch(e *sessionEntry, hash []byte, now time.Time) {
	m.mu.Lock()
	if now.Sub(e.session.LastSeen) < m.opts.TouchInterval { // another request touched it
		m.mu.Unlock()
		return
	}
	e.session.LastSeen = now.UTC().Truncate(time.Millisecond)
	at := e.session.LastSeen
	m.mu.Unlock()
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.store.TouchSession(ctx, hash, at)
	}()
}

func (m *Identity) drop(k string) {
	m.mu.Lock()
	delete(m.cache, k)
	m.mu.Unlock()
}

// forgetAccount drops the cached sessions of an account.
func (m *Identity) forgetAccount(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.cache {
		if e.account.ID == id {
			delete(m.cache, k)
		}
	}
}

// SignOut ends the session with the id.
func (m *Identity) SignOut(ctx context.Context, session string) error {
	hash := HashToken(session)
	m.drop(string(hash))
	if err := m.store.DeleteSession(ctx, hash); err != nil {
		return fmt.Errorf("auth: sign out: %w", err)
	}
	return nil
}

// SignOutEverywhere ends every session of the account and returns how many.
func (m *Identity) SignOutEverywhere(ctx context.Context, accountID string) (int, error) {
	m.forgetAccount(accountID)
	n, err := m.store.DeleteAccountSessions(ctx, accountID)
	if err != nil {
		return 0, fmt.Errorf("auth: sign out everywhere: %w", err)
	}
	m.forgetAccount(accountID) // a request that fetched meanwhile
	return n, nil
}

// ---- accounts ----

// NewAccount describes an account to create.
type NewAccount struct {
	Email    string
	Name     string
	Role     Role
	Org      string
	Password string // "" for none
}

// CreateAccount creates an account. The caller has validated the email,
// the role, that Org exists (org_admin) and the password. Errors:
// ErrEmailTaken, wrapped store errors.
func (m *Identity) CreateAccount(ctx context.Context, n NewAccount) (Account, error) {
	email, err := NormalizeEmail(n.Email)
	if err != nil {
		return Account{}, fmt.Errorf("auth: create account: %w", err)
	}
	now := m.opts.Now().UTC().Truncate(time.Millisecond)
	a := Account{ID: uuid.NewString(), Email: email, Name: n.Name, Role: n.Role, Org: n.Org, CreatedAt: now, UpdatedAt: now}
	if a.Role == RoleOperator {
		a.Org = ""
	}
	if n.Password != "" {
		if a.PasswordHash, err = m.hasher.Hash(ctx, n.Password); err != nil {
			return Account{}, err
		}
	}
	if err := m.store.CreateAccount(ctx, a); err != nil {
		return Account{}, err
	}
	return a, nil
}

// AccountChange changes an account; nil fields are kept.
type AccountChange struct {
	Name     *string
	Role     *Role
	Org      *string
	Password *string
	Disabled *bool
}

// UpdateAccount applies the change. A new password or disabling the
// account ends its sessions. Errors: ErrAccountNotFound, wrapped store
// errors.
func (m *Identity) UpdateAccount(ctx context.Context, id string, c AccountChange) (Account, error) {
	u := AccountUpdate{Name: c.Name, Role: c.Role, Org: c.Org, Disabled: c.Disabled, UpdatedAt: m.opts.Now()}
	if c.Role != nil && *c.Role == RoleOperator {
		empty := ""
		u.Org = &empty
	}
	if c.Password != nil {
		h, err := m.hasher.Hash(ctx, *c.Password)
		if err != nil {
			return Account{}, err
		}
		u.PasswordHash = &h
	}
	a, err := m.store.UpdateAccount(ctx, id, u)
	m.forgetAccount(id)
	if err != nil {
		return Account{}, err
	}
	if c.Password != nil || (c.Disabled != nil && *c.Disabled) {
		if _, err := m.SignOutEverywhere(ctx, id); err != nil {
			return a, err
		}
	}
	return a, nil
}

// DeleteAccount removes the account and its sessions.
func (m *Identity) DeleteAccount(ctx context.Context, id string) error {
	if err := m.store.DeleteAccount(ctx, id); err != nil {
		return err
	}
	_, err := m.SignOutEverywhere(ctx, id)
	return err
}

// Account returns an account; ErrAccountNotFound if none.
func (m *Identity) Account(ctx context.Context, id string) (Account, error) {
	return m.store.GetAccount(ctx, id)
}

// AccountByEmail returns the account with the email; ErrAccountNotFound
// if none.
func (m *Identity) AccountByEmail(ctx context.Context, email string) (Account, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, ErrAccountNotFound
	}
	return m.store.GetAccountByEmail(ctx, e)
}

// Accounts lists the accounts, ordered by email.
func (m *Identity) Accounts(ctx context.Context) ([]Account, error) {
	return m.store.ListAccounts(ctx)
}

// ---- invitations and password resets ----

// ErrMailedTokenExpired is returned for a mailed token used after its expiry
// (it is consumed all the same). It is also ErrTokenNotFound.
var ErrMailedTokenExpired = fmt.Errorf("%w: expired", ErrTokenNotFound)

// Invite creates an invitation for the account n describes (no password)
// and returns the token to mail. The caller has checked that no account has
// the email.
func (m *Identity) Invite(ctx context.Context, n NewAccount, createdBy string) (string, AccountToken, error) {
	email, err := NormalizeEmail(n.Email)
	if err != nil {
		return "", AccountToken{}, fmt.Errorf("auth: invite: %w", err)
	}
	tok, hash, err := newSecretToken()
	if err != nil {
		return "", AccountToken{}, err
	}
	now := m.opts.Now().UTC().Truncate(time.Millisecond)
	t := AccountToken{Hash: hash, Kind: TokenInvitation, Email: email, Name: n.Name, Role: n.Role, Org: n.Org,
		CreatedBy: createdBy, CreatedAt: now, ExpiresAt: now.Add(m.opts.InvitationTTL)}
	if t.Role == RoleOperator {
		t.Org = ""
	}
	if _, err := m.store.DeleteExpiredAccountTokens(ctx, now); err != nil {
		return "", AccountToken{}, fmt.Errorf("auth: invite: %w", err)
	}
	if err := m.store.CreateAccountToken(ctx, t); err != nil {
		return "", AccountToken{}, fmt.Errorf("auth: invite: %w", err)
	}
	return tok, t, nil
}

// Invitations lists the pending invitations.
func (m *Identity) Invitations(ctx context.Context) ([]AccountToken, error) {
	return m.store.ListAccountTokens(ctx, TokenInvitation)
}

// WithdrawInvitation deletes an invitation by its hash; ErrTokenNotFound
// if none.
func (m *Identity) WithdrawInvitation(ctx context.Context, hash []byte) error {
	return m.store.DeleteAccountToken(ctx, TokenInvitation, hash)
}

// consume takes a mailed token of the kind: ErrTokenNotFound if unknown or
// used, ErrMailedTokenExpired if expired.
func (m *Identity) consume(ctx context.Context, kind, token string) (AccountToken, error) {
	if token == "" || len(token) > 128 {
		return AccountToken{}, ErrTokenNotFound
	}
	t, err := m.store.ConsumeAccountToken(ctx, kind, HashToken(token))
	if err != nil {
		return AccountToken{}, err
	}
	if !m.opts.Now().Before(t.ExpiresAt) {
		return AccountToken{}, ErrMailedTokenExpired
	}
	return t, nil
}

// AcceptInvitation consumes the invitation and creates its account with
// the password (validated by the caller) and, if not empty, the name.
// Errors: ErrTokenNotFound (ErrMailedTokenExpired), ErrEmailTaken, wrapped
// store errors.
func (m *Identity) AcceptInvitation(ctx context.Context, token, password, name string) (Account, error) {
	t, err := m.consume(ctx, TokenInvitation, token)
	if err != nil {
		return Account{}, err
	}
	if name == "" {
		name = t.Name
	}
	return m.CreateAccount(ctx, NewAccount{Email: t.Email, Name: name, Role: t.Role, Org: t.Org, Password: password})
}

// MaxLiveResets is how many unexpired reset links an account may have.
const MaxLiveResets = 3

// RequestPasswordReset returns a reset token for the enabled account with
// the email, and the account; ok is false (and no error) when there is no
// such account, or a reset link was mailed to it less than a minute ago,
// or MaxLiveResets links are live: the caller must not reveal which.
func (m *Identity) RequestPasswordReset(ctx context.Context, email string) (token string, a Account, expires time.Time, ok bool, err error) {
	a, err = m.AccountByEmail(ctx, email)
	if errors.Is(err, ErrAccountNotFound) {
		return "", Account{}, time.Time{}, false, nil
	}
	if err != nil {
		return "", Account{}, time.Time{}, false, fmt.Errorf("auth: password reset: %w", err)
	}
	if a.Disabled {
		return "", Account{}, time.Time{}, false, nil
	}
	now := m.opts.Now().UTC().Truncate(time.Millisecond)
	// At most one reset mail a minute, and MaxLiveResets live links, per
	// account: asking again and again must not flood a mailbox.
	pending, err := m.store.ListAccountTokens(ctx, TokenPasswordReset)
	if err != nil {
		return "", Account{}, time.Time{}, false, fmt.Errorf("auth: password reset: %w", err)
	}
	live := 0
	for _, t := range pending {
		if t.AccountID != a.ID || !now.Before(t.ExpiresAt) {
			continue
		}
		live++
		if now.Sub(t.CreatedAt) < time.Minute || live >= MaxLiveResets {
			return "", Account{}, time.Time{}, false, nil
		}
	}
	tok, hash, err := newSecretToken()
	if err != nil {
		return "", Account{}, time.Time{}, false, err
	}
	t := AccountToken{Hash: hash, Kind: TokenPasswordReset, Email: a.Email, AccountID: a.ID,
		CreatedBy: "password-reset", CreatedAt: now, ExpiresAt: now.Add(m.opts.ResetTTL)}
	if _, err := m.store.DeleteExpiredAccountTokens(ctx, now); err != nil {
		return "", Account{}, time.Time{}, false, fmt.Errorf("auth: password reset: %w", err)
	}
	if err := m.store.CreateAccountToken(ctx, t); err != nil {
		return "", Account{}, time.Time{}, false, fmt.Errorf("auth: password reset: %w", err)
	}
	return tok, a, t.ExpiresAt, true, nil
}

// ResetPassword consumes the reset token, sets the password (validated by
// the caller) and ends every session of the account. Errors:
// ErrTokenNotFound (ErrMailedTokenExpired), ErrAccountNotFound, wrapped
// store errors.
func (m *Identity) ResetPassword(ctx context.Context, token, password string) (Account, error) {
	t, err := m.consume(ctx, TokenPasswordReset, token)
	if err != nil {
		return Account{}, err
	}
	a, err := m.UpdateAccount(ctx, t.AccountID, AccountChange{Password: &password})
	if err != nil {
		return Account{}, err
	}
	if err := m.store.ResetLoginFailures(ctx, a.Email); err != nil {
		return a, fmt.Errorf("auth: password reset: %w", err)
	}
	return a, nil
}

// ---- sealed values ----

// Seal encrypts and authenticates b (AES-256-GCM under a key derived from
// the CSRF key and purpose), for state a browser carries between two
// requests that may reach different processes (the OpenID Connect
// sign-in's state, nonce and PKCE verifier).
func (m *Identity) Seal(purpose string, b []byte) (string, error) {
	aead, err := m.aead(purpose)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("auth: seal: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, b, []byte(purpose))), nil
}

// ErrUnsealed: a sealed value was altered, or sealed for another purpose
// or under another key.
var ErrUnsealed = errors.New("auth: the sealed value is not valid")

// Open returns what Seal sealed for purpose; ErrUnsealed if s is not such
// a value.
func (m *Identity) Open(purpose, s string) ([]byte, error) {
	aead, err := m.aead(purpose)
	if err != nil {
		return nil, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrUnsealed
	}
	b, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, ErrUnsealed
	}
	return b, nil
}

func (m *Identity) aead(purpose string) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, m.csrf)
	mac.Write([]byte("lrs seal\x00" + purpose))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("auth: seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// ---- external sign-in ----

// External is who an OpenID Connect provider says signed in.
type External struct {
	Issuer, Subject string
	Email           string
	EmailVerified   bool
	// Values are the values of the provider's mapped claim.
	Values []string
}

// ExternalRule maps a provider's identities to accounts.
type ExternalRule struct {
	// Org, when set, is the one organization the provider signs in to:
	// it signs in that organization's administrators only.
	Org string
	// Claim "email" (or empty): the verified email names an existing
	// account. Any other claim: its values map to a role through Roles,
	// and the account of the verified email is created or updated to it.
	Claim string
	// Roles maps claim values to "operator" or to the id of the
	// organization the account administers. With Org set, any mapped
	// value makes an administrator of Org.
	Roles map[string]string
}

// ErrExternalRefused: the provider's identity maps to no account. It is
// also ErrSignInRefused.
var ErrExternalRefused error = &signInRefusal{"refused"}

// SignInExternal returns the account an external identity signs in as.
// Errors: ErrExternalRefused, ErrAccountDisabled, wrapped store errors.
func (m *Identity) SignInExternal(ctx context.Context, x External, r ExternalRule) (Account, error) {
	email, err := NormalizeEmail(x.Email)
	if err != nil || !x.EmailVerified {
		return Account{}, ErrExternalRefused
	}
	a, err := m.store.GetAccountByEmail(ctx, email)
	found := err == nil
	if err != nil && !errors.Is(err, ErrAccountNotFound) {
		return Account{}, fmt.Errorf("auth: external sign-in: %w", err)
	}
	if found && a.Disabled {
		return Account{}, ErrAccountDisabled
	}
	if r.Claim == "" || r.Claim == "email" {
		if !found || r.Org != "" && !(a.Role == RoleOrgAdmin && a.Org == r.Org) {
			return Account{}, ErrExternalRefused
		}
		return a, nil
	}
	role, org := Role(""), ""
	for _, v := range x.Values {
		to, ok := r.Roles[v]
		switch {
		case !ok:
		case r.Org != "":
			role, org = RoleOrgAdmin, r.Org
		case to == string(RoleOperator):
			role, org = RoleOperator, ""
		case role == "":
			role, org = RoleOrgAdmin, to
		}
	}
	if role == "" {
		return Account{}, ErrExternalRefused
	}
	if found && r.Org != "" && !(a.Role == RoleOrgAdmin && a.Org == r.Org) {
		// An organization's provider never touches an operator or another
		// organization's administrator.
		return Account{}, ErrExternalRefused
	}
	if !found {
		return m.CreateAccount(ctx, NewAccount{Email: email, Role: role, Org: org})
	}
	if a.Role == role && a.Org == org {
		return a, nil
	}
	return m.UpdateAccount(ctx, a.ID, AccountChange{Role: &role, Org: &org})
}
