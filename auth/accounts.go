package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Accounts are the people who administer the LRS: operators (every
// organization) and organization administrators (one organization). They
// sign in with an email and a password (password.go) or through an OpenID
// Connect provider, and hold sessions (sessions.go). The storage contracts
// of this file are implemented by every engine and checked by
// lrs/storetest.RunIdentity.

// Role is what an account may administer.
type Role string

const (
	// RoleOperator administers every organization, the accounts and the
	// organizations themselves.
	RoleOperator Role = "operator"
	// RoleOrgAdmin administers one organization (Account.Org).
	RoleOrgAdmin Role = "org_admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOperator || r == RoleOrgAdmin }

// Account is a person who signs in.
type Account struct {
	ID    string
	Email string // normalized (NormalizeEmail); unique among accounts
	Name  string
	Role  Role
	Org   string // the organization of an org_admin; "" for an operator
	// PasswordHash is the PHC string of the password (HashPassword); ""
	// when the account has no password (it signs in through a provider,
	// or was invited and has not chosen one yet).
	PasswordHash string
	// Disabled accounts cannot sign in, and their sessions end.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Administers reports whether the account may administer org.
func (a Account) Administers(org string) bool {
	switch a.Role {
	case RoleOperator:
		return true
	case RoleOrgAdmin:
		return org != "" && a.Org == org
	}
	return false
}

var (
	// ErrAccountNotFound: no account has the id or email.
	ErrAccountNotFound = errors.New("auth: account not found")
	// ErrEmailTaken: another account has the email.
	ErrEmailTaken = errors.New("auth: email taken")
	// ErrAccountTaken: an account with the id exists.
	ErrAccountTaken = errors.New("auth: account id taken")
	// ErrInvalidEmail: not one plain email address.
	ErrInvalidEmail = errors.New("auth: not an email address")
)

// NormalizeEmail returns the canonical form of an email address (trimmed,
// lower case: accounts are found by email whatever case a person types),
// or an error if s is not one plain address.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(s, "@") {
		return "", ErrInvalidEmail
	}
	return strings.ToLower(s), nil
}

// Password length limits, in characters (OWASP ASVS 4.0 V2.1.1-2: at
// least 12, and up to at least 64 allowed; no composition rules).
const (
	MinPasswordLen = 12
	MaxPasswordLen = 128
)

// ValidatePassword reports whether a new password is acceptable. The error
// never contains the password.
func ValidatePassword(p string) error {
	if !utf8.ValidString(p) {
		return errors.New("password must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(p)
	switch {
	case n < MinPasswordLen:
		return fmt.Errorf("password must be at least %d characters long", MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Errorf("password must be at most %d characters long", MaxPasswordLen)
	}
	return nil
}

// AccountUpdate changes some fields of an account; nil fields are kept.
type AccountUpdate struct {
	Name         *string
	Role         *Role
	Org          *string
	PasswordHash *string
	Disabled     *bool
	UpdatedAt    time.Time
}

// Apply returns a with u applied (the engines share this logic).
func (u AccountUpdate) Apply(a Account) Account {
	if u.Name != nil {
		a.Name = *u.Name
	}
	if u.Role != nil {
		a.Role = *u.Role
	}
	if u.Org != nil {
		a.Org = *u.Org
	}
	if u.PasswordHash != nil {
		a.PasswordHash = *u.PasswordHash
	}
	if u.Disabled != nil {
		a.Disabled = *u.Disabled
	}
	if !u.UpdatedAt.IsZero() {
		a.UpdatedAt = u.UpdatedAt.UTC().Truncate(time.Millisecond)
	}
	return a
}

// AccountStore keeps accounts. Every storage engine implements it.
type AccountStore interface {
	// CreateAccount stores a. ErrAccountTaken if a.ID exists, ErrEmailTaken
	// if another account has a.Email.
	CreateAccount(ctx context.Context, a Account) error
	// GetAccount returns the account; ErrAccountNotFound if none.
	GetAccount(ctx context.Context, id string) (Account, error)
	// GetAccountByEmail returns the account with the normalized email;
	// ErrAccountNotFound if none.
	GetAccountByEmail(ctx context.Context, email string) (Account, error)
	// ListAccounts returns the accounts, ordered by email.
	ListAccounts(ctx context.Context) ([]Account, error)
	// UpdateAccount applies u and returns the account as stored;
	// ErrAccountNotFound if none.
	UpdateAccount(ctx context.Context, id string, u AccountUpdate) (Account, error)
	// DeleteAccount removes the account; ErrAccountNotFound if none.
	DeleteAccount(ctx context.Context, id string) error
}

// Session is a signed-in browser or script. The session id itself is never
// stored, only Hash: its SHA-256 (the id is 256 random bits, so a plain
// hash cannot be reversed and needs no salt).
type Session struct {
	Hash      []byte
	AccountID string
	// Method is how the account signed in: "password" or "oidc".
	Method    string
	Client    string // the client address it signed in from
	CreatedAt time.Time
	// LastSeen is when the session was last used, kept to within the
	// touch interval (IdentityOptions.TouchInterval).
	LastSeen time.Time
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time
}

// ErrSessionNotFound: no session has the hash.
var ErrSessionNotFound = errors.New("auth: session not found")

// SessionStore keeps sessions. Every storage engine implements it.
type SessionStore interface {
	// CreateSession stores s (its Hash is new).
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with the hash; ErrSessionNotFound if
	// none.
	GetSession(ctx context.Context, hash []byte) (Session, error)
	// TouchSession moves LastSeen forward to t. A missing session is not
	// an error and is not created.
	TouchSession(ctx context.Context, hash []byte, t time.Time) error
	// DeleteSession removes the session; a missing one is not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteAccountSessions removes every session of the account and
	// returns how many there were.
	DeleteAccountSessions(ctx context.Context, accountID string) (int, error)
	// DeleteExpiredSessions removes the sessions whose ExpiresAt is at or
	// before now or whose LastSeen is before idleBefore, and returns how
	// many.
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error)
}

// The kinds of AccountToken.
const (
	TokenInvitation    = "invitation"
	TokenPasswordReset = "password_reset"
)

// AccountToken is a single-use, expiring token mailed to a person: an
// invitation to create an account, or a password reset. As with sessions,
// only the SHA-256 of the token is stored.
type AccountToken struct {
	Hash []byte
	Kind string // TokenInvitation or TokenPasswordReset
	// Email is whom the token was mailed to.
	Email string
	// The account an invitation creates.
	Name string
	Role Role
	Org  string
	// AccountID is the account whose password a reset sets.
	AccountID string
	// CreatedBy names who asked for it (audit).
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ErrTokenNotFound: no token of the kind has the hash (never issued,
// already used or withdrawn).
var ErrTokenNotFound = errors.New("auth: token not found")

// AccountTokenStore keeps invitation and password reset tokens. Every
// storage engine implements it.
type AccountTokenStore interface {
	// CreateAccountToken stores t.
	CreateAccountToken(ctx context.Context, t AccountToken) error
	// ConsumeAccountToken removes the token of the kind with the hash and
	// returns it; of any number of concurrent calls for one token, on any
	// number of processes, exactly one succeeds. ErrTokenNotFound if none
	// (an expired token is returned: the caller checks ExpiresAt).
	ConsumeAccountToken(ctx context.Context, kind string, hash []byte) (AccountToken, error)
	// ListAccountTokens returns the tokens of the kind, ordered by
	// CreatedAt.
	ListAccountTokens(ctx context.Context, kind string) ([]AccountToken, error)
	// DeleteAccountToken removes a token; ErrTokenNotFound if none.
	DeleteAccountToken(ctx context.Context, kind string, hash []byte) error
	// DeleteExpiredAccountTokens removes the tokens expired at now and
	// returns how many.
	DeleteExpiredAccountTokens(ctx context.Context, now time.Time) (int, error)
}

// LoginFailureStore counts failed sign-ins by key (a normalized email),
// shared by every process. Every storage engine implements it.
type LoginFailureStore interface {
	// AddLoginFailure records a failure at at and returns the failures of
	// key since the first one within window before at (counting restarts
	// when the last failure is older than window). Concurrent calls may
	// undercount by the number of calls racing a restart.
	AddLoginFailure(ctx context.Context, key string, at time.Time, window time.Duration) (int, error)
	// LoginFailures returns the count and the time of the last failure of
	// key; 0 and the zero time if none is recorded.
	LoginFailures(ctx context.Context, key string) (int, time.Time, error)
	// ResetLoginFailures forgets the failures of key.
	ResetLoginFailures(ctx context.Context, key string) error
	// DeleteLoginFailuresBefore forgets the keys whose last failure is
	// before t and returns how many.
	DeleteLoginFailuresBefore(ctx context.Context, t time.Time) (int, error)
}

// IdentityStore is what accounts and sessions need of a storage engine.
type IdentityStore interface {
	AccountStore
	SessionStore
	AccountTokenStore
	LoginFailureStore
}
