// Package auth holds credentials, xAPI scopes and the authenticated
// principal. It knows nothing of HTTP frameworks: lrs/api calls
// Authenticator.Authenticate with the key and secret of a Basic header,
// and Tokens.Issue and Tokens.Verify for OAuth 2.0 client credentials and
// their bearer tokens (tokens.go).
package auth

import (
	"context"
	"errors"
	"time"
)

// Scopes from the xAPI specification (Communication 4.2).
const (
	ScopeStatementsWrite    = "statements/write"
	ScopeStatementsRead     = "statements/read"
	ScopeStatementsReadMine = "statements/read/mine"
	ScopeAllRead            = "all/read"
	ScopeAll                = "all"
	ScopeState              = "state"
	ScopeDefine             = "define"
	ScopeProfile            = "profile"
)

// Credential is a stored API key. The secret itself is never stored, only
// SecretHash: HMAC-SHA256 of the secret keyed with Salt.
type Credential struct {
	Key        string
	SecretHash []byte
	Salt       []byte
	Org        string // organization (tenant) id
	Name       string
	Scopes     []string
	// Authority is the Agent or Group JSON that the LRS writes as a
	// statement's authority for requests made with this credential.
	Authority []byte
	CreatedAt time.Time
	// ExpiresAt, when not zero, is the instant from which the credential
	// no longer authenticates.
	ExpiresAt time.Time `json:",omitzero"`
	// Revoked credentials never authenticate again; RevokedAt is when.
	Revoked   bool      `json:",omitempty"`
	RevokedAt time.Time `json:",omitzero"`
	// LastUsed is when the credential last authenticated a request, kept
	// to within about a minute (see Authenticator).
	LastUsed time.Time `json:",omitzero"`
}

// Usable reports whether c may authenticate at now: not revoked and not
// expired.
func (c Credential) Usable(now time.Time) error {
	switch {
	case c.Revoked:
		return ErrRevoked
	case !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// CredentialStore keeps credentials. Every storage engine implements it.
type CredentialStore interface {
	// CreateCredential stores c. Returns ErrKeyTaken if c.Key exists.
	CreateCredential(ctx context.Context, c Credential) error
	// GetCredential returns the credential with the key; ErrNotFound if none.
	GetCredential(ctx context.Context, key string) (Credential, error)
	// CountCredentials returns how many credentials exist in all
	// organizations (used to bootstrap an empty store once).
	CountCredentials(ctx context.Context) (int, error)
}

var (
	// ErrNotFound: no credential has the key.
	ErrNotFound = errors.New("auth: credential not found")
	// ErrKeyTaken: a credential with the key already exists.
	ErrKeyTaken = errors.New("auth: credential key taken")
	// ErrBadCredentials: the key is unknown or the secret does not match.
	ErrBadCredentials = errors.New("auth: bad credentials")

	// The reasons of a refusal; each is also ErrBadCredentials.
	ErrUnknownKey  error = &refusal{"unknown_key"}
	ErrWrongSecret error = &refusal{"wrong_secret"}
	ErrRevoked     error = &refusal{"revoked"}
	ErrExpired     error = &refusal{"expired"}
)

// refusal is a reason for ErrBadCredentials.
type refusal struct{ reason string }

func (r *refusal) Error() string { return "auth: bad credentials: " + r.reason }
func (r *refusal) Unwrap() error { return ErrBadCredentials }

// FailureReason names why err refused a caller, for metrics:
// unknown_key, wrong_secret, revoked, expired; "bad_credentials" for a
// bare ErrBadCredentials and "" if err is not a refusal.
func FailureReason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	if errors.Is(err, ErrBadCredentials) {
		return "bad_credentials"
	}
	return ""
}

// Principal is an authenticated caller.
type Principal struct {
	Key    string
	Org    string
	Name   string
	Scopes []string
	// Authority is the Agent or Group JSON written as statements' authority.
	Authority []byte
}

// Allows reports whether the principal holds one of the scopes, or "all".
func (p Principal) Allows(scopes ...string) bool {
	for _, have := range p.Scopes {
		if have == ScopeAll {
			return true
		}
		for _, want := range scopes {
			if have == want {
				return true
			}
		}
	}
	return false
}
