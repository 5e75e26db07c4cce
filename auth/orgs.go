package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Organization is a tenant: every statement, document and credential
// belongs to exactly one, and no query crosses organizations.
type Organization struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// DefaultOrg is the organization of the bootstrap credential.
const DefaultOrg = "default"

// Scopes lists every xAPI scope a credential may hold.
var Scopes = []string{
	ScopeStatementsWrite, ScopeStatementsRead, ScopeStatementsReadMine,
	ScopeAllRead, ScopeAll, ScopeState, ScopeDefine, ScopeProfile,
}

var (
	// ErrOrgNotFound: no organization has the id.
	ErrOrgNotFound = errors.New("auth: organization not found")
	// ErrOrgTaken: an organization with the id already exists.
	ErrOrgTaken = errors.New("auth: organization id taken")
)

// ValidateOrgID reports whether id can name an organization: the rules of
// ValidateKey (3 to 128 characters from [A-Za-z0-9._-]).
func ValidateOrgID(id string) error {
	if err := ValidateKey(id); err != nil {
		return fmt.Errorf("organization id: %w", err)
	}
	return nil
}

// OrgStore keeps organizations. Every storage engine implements it.
type OrgStore interface {
	// CreateOrg stores o; ErrOrgTaken if o.ID exists.
	CreateOrg(ctx context.Context, o Organization) error
	// GetOrg returns the organization; ErrOrgNotFound if none.
	GetOrg(ctx context.Context, id string) (Organization, error)
	// ListOrgs returns every organization, ordered by id.
	ListOrgs(ctx context.Context) ([]Organization, error)
	// UpdateOrg replaces the name of organization o.ID; ErrOrgNotFound if
	// none. CreatedAt is kept.
	UpdateOrg(ctx context.Context, o Organization) error
	// DeleteOrg removes the organization record (not its data);
	// ErrOrgNotFound if none.
	DeleteOrg(ctx context.Context, id string) error
}

// CredentialUpdate changes some fields of a credential; nil fields are
// left as they are.
type CredentialUpdate struct {
	Name   *string
	Scopes *[]string
	// ExpiresAt: a zero time removes the expiry.
	ExpiresAt *time.Time
	// RevokedAt, when set, revokes the credential at that time (a revoked
	// credential stays revoked; a second revocation keeps the first time).
	RevokedAt *time.Time
}

// CredentialAdmin is the administration of credentials. Every storage
// engine implements it.
type CredentialAdmin interface {
	CredentialStore
	// ListCredentials returns the credentials of org, ordered by key.
	ListCredentials(ctx context.Context, org string) ([]Credential, error)
	// UpdateCredential applies u and returns the credential as stored;
	// ErrNotFound if the key is unknown.
	UpdateCredential(ctx context.Context, key string, u CredentialUpdate) (Credential, error)
	// DeleteCredential removes a credential; ErrNotFound if none.
	DeleteCredential(ctx context.Context, key string) error
	// TouchCredential records that the credential was used at t (only
	// moving LastUsed forward). A missing key is not an error.
	TouchCredential(ctx context.Context, key string, t time.Time) error
}

// AdminStore is what the admin API needs of a storage engine.
type AdminStore interface {
	OrgStore
	CredentialAdmin
}

// Apply returns c with u applied (the engines share this logic).
func (u CredentialUpdate) Apply(c Credential) Credential {
	if u.Name != nil {
		c.Name = *u.Name
	}
	if u.Scopes != nil {
		c.Scopes = append([]string(nil), (*u.Scopes)...)
	}
	if u.ExpiresAt != nil {
		c.ExpiresAt = u.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	if u.RevokedAt != nil && !c.Revoked {
		c.Revoked = true
		c.RevokedAt = u.RevokedAt.UTC().Truncate(time.Millisecond)
	}
	return c
}
