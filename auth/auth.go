// Package auth holds credentials, xAPI scopes and the authenticated
// principal. It knows nothing of HTTP frameworks: lrs/api calls
// Authenticator.Authenticate with the key and secret of a Basic header.
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
)

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
