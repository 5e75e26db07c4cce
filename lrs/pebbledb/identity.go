package pebbledb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/auth"
)

// Accounts, sessions, mailed tokens and sign-in failures (see keys.go for
// <x>):
//
//	ia/<id>                 -> JSON of accountRecord
//	ie/<email>              -> the account id (unique emails)
//	is/<session hash>       -> JSON of sessionRecord
//	ix/<account><hash>      -> empty (the sessions of an account)
//	it/<kind><token hash>   -> JSON of tokenRecord
//	if/<email>              -> JSON of failureRecord
//
// Every read-check-write holds credMu (these records are few and written
// rarely); the keys of one change are written in one synced batch.

var _ auth.IdentityStore = (*DB)(nil)

const identityRecordVersion = 1

type accountRecord struct {
	V            int       `json:"v"`
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name,omitempty"`
	Role         string    `json:"role"`
	Org          string    `json:"org,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func accountToRecord(a auth.Account) accountRecord {
	return accountRecord{V: identityRecordVersion, ID: a.ID, Email: a.Email, Name: a.Name, Role: string(a.Role), Org: a.Org,
		PasswordHash: a.PasswordHash, Disabled: a.Disabled, CreatedAt: normMs(a.CreatedAt), UpdatedAt: normMs(a.UpdatedAt)}
}

func (r accountRecord) account() auth.Account {
	return auth.Account{ID: r.ID, Email: r.Email, Name: r.Name, Role: auth.Role(r.Role), Org: r.Org,
		PasswordHash: r.PasswordHash, Disabled: r.Disabled, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type sessionRecord struct {
	V         int       `json:"v"`
	AccountID string    `json:"account"`
	Method    string    `json:"method,omitempty"`
	Client    string    `json:"client,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
}

type tokenRecord struct {
	V         int       `json:"v"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role,omitempty"`
	Org       string    `json:"org,omitempty"`
	AccountID string    `json:"account,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type failureRecord struct {
	N     int       `json:"n"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func accountKey(id string) []byte            { return fwdKey("ia/", id) }
func accountEmailKey(email string) []byte    { return fwdKey("ie/", email) }
func sessionKey(hash []byte) []byte          { return fwdKey("is/", string(hash)) }
func accountSessionsPrefix(id string) []byte { return fwdKey("ix/", id) }
func accountSessionKey(id string, hash []byte) []byte {
	return fwdKey("ix/", id, string(hash))
}
func accountTokenKey(kind string, hash []byte) []byte { return fwdKey("it/", kind, string(hash)) }
func failureKey(email string) []byte                  { return fwdKey("if/", email) }

// identityOp runs fn with the store open and credMu held.
func (d *DB) identityOp(ctx context.Context, op string, fn func() error) error {
	if err := d.acquire(ctx, op); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	d.credMu.Lock()
	defer d.credMu.Unlock()
	return fn()
}

func (d *DB) getAccountRecord(id string) (accountRecord, bool, error) {
	var r accountRecord
	ok, err := d.getJSON(accountKey(id), &r)
	return r, ok, err
}

func setJSON(b *cpebble.Batch, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Set(key, raw, nil)
}

// CreateAccount stores a; auth.ErrAccountTaken or auth.ErrEmailTaken.
func (d *DB) CreateAccount(ctx context.Context, a auth.Account) error {
	return d.identityOp(ctx, "create account", func() error {
		if _, ok, err := d.getAccountRecord(a.ID); err != nil {
			return fmt.Errorf("pebble: create account: %w", err)
		} else if ok {
			return auth.ErrAccountTaken
		}
		if ok, err := d.get(accountEmailKey(a.Email), nil); err != nil {
			return fmt.Errorf("pebble: create account: %w", err)
		} else if ok {
			return auth.ErrEmailTaken
		}
		b := d.db.NewBatch()
		defer b.Close()
		if err := setJSON(b, accountKey(a.ID), accountToRecord(a)); err != nil {
			return fmt.Errorf("pebble: create account: %w", err)
		}
		if err := b.Set(accountEmailKey(a.Email), []byte(a.ID), nil); err != nil {
			return fmt.Errorf("pebble: create account: %w", err)
		}
		if err := b.Commit(cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: create account: %w", err)
		}
		return nil
	})
}

// GetAccount returns an account; auth.ErrAccountNotFound if none.
func (d *DB) GetAccount(ctx context.Context, id string) (auth.Account, error) {
	if err := d.acquire(ctx, "get account"); err != nil {
		return auth.Account{}, err
	}
	defer d.mu.RUnlock()
	r, ok, err := d.getAccountRecord(id)
	if err != nil {
		return auth.Account{}, fmt.Errorf("pebble: get account: %w", err)
	}
	if !ok {
		return auth.Account{}, auth.ErrAccountNotFound
	}
	return r.account(), nil
}

// GetAccountByEmail returns the account with the email.
func (d *DB) GetAccountByEmail(ctx context.Context, email string) (auth.Account, error) {
	if err := d.acquire(ctx, "get account"); err != nil {
		return auth.Account{}, err
	}
	defer d.mu.RUnlock()
	var id string
	ok, err := d.get(accountEmailKey(email), func(v []byte) error { id = string(v); return nil })
	if err != nil {
		return auth.Account{}, fmt.Errorf("pebble: get account: %w", err)
	}
	if !ok {
		return auth.Account{}, auth.ErrAccountNotFound
	}
	r, ok, err := d.getAccountRecord(id)
	if err != nil {
		return auth.Account{}, fmt.Errorf("pebble: get account: %w", err)
	}
	if !ok {
		return auth.Account{}, auth.ErrAccountNotFound
	}
	return r.account(), nil
}

// ListAccounts returns the accounts ordered by email.
func (d *DB) ListAccounts(ctx context.Context) ([]auth.Account, error) {
	if err := d.acquire(ctx, "list accounts"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	var out []auth.Account
	err := d.scan([]byte("ia/"), func(v []byte) error {
		var r accountRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		out = append(out, r.account())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: list accounts: %w", err)
	}
	slices.SortFunc(out, func(a, b auth.Account) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}

// UpdateAccount applies u; auth.ErrAccountNotFound if none.
func (d *DB) UpdateAccount(ctx context.Context, id string, u auth.AccountUpdate) (auth.Account, error) {
	var out auth.Account
	err := d.identityOp(ctx, "update account", func() error {
		r, ok, err := d.getAccountRecord(id)
		if err != nil {
			return fmt.Errorf("pebble: update account: %w", err)
		}
		if !ok {
			return auth.ErrAccountNotFound
		}
		out = u.Apply(r.account())
		b := d.db.NewBatch()
		defer b.Close()
		if err := setJSON(b, accountKey(id), accountToRecord(out)); err != nil {
			return fmt.Errorf("pebble: update account: %w", err)
		}
		if err := b.Commit(cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: update account: %w", err)
		}
		return nil
	})
	return out, err
}

// DeleteAccount removes an account; auth.ErrAccountNotFound if none.
func (d *DB) DeleteAccount(ctx context.Context, id string) error {
	return d.identityOp(ctx, "delete account", func() error {
		r, ok, err := d.getAccountRecord(id)
		if err != nil {
			return fmt.Errorf("pebble: delete account: %w", err)
		}
		if !ok {
			return auth.ErrAccountNotFound
		}
		b := d.db.NewBatch()
		defer b.Close()
		_ = b.Delete(accountKey(id), nil)
		_ = b.Delete(accountEmailKey(r.Email), nil)
		if err := b.Commit(cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: delete account: %w", err)
		}
		return nil
	})
}

// ---- sessions ----

func sessionFromRecord(hash []byte, r sessionRecord) auth.Session {
	return auth.Session{Hash: bytes.Clone(hash), AccountID: r.AccountID, Method: r.Method, Client: r.Client,
		CreatedAt: r.CreatedAt.UTC(), LastSeen: r.LastSeen.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
}

// CreateSession stores s.
func (d *DB) CreateSession(ctx context.Context, s auth.Session) error {
	return d.identityOp(ctx, "create session", func() error {
		b := d.db.NewBatch()
		defer b.Close()
		r := sessionRecord{V: identityRecordVersion, AccountID: s.AccountID, Method: s.Method, Client: s.Client,
			CreatedAt: normMs(s.CreatedAt), LastSeen: normMs(s.LastSeen), ExpiresAt: normMs(s.ExpiresAt)}
		if err := setJSON(b, sessionKey(s.Hash), r); err != nil {
			return fmt.Errorf("pebble: create session: %w", err)
		}
		_ = b.Set(accountSessionKey(s.AccountID, s.Hash), nil, nil)
		if err := b.Commit(cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: create session: %w", err)
		}
		return nil
	})
}

// GetSession returns a session; auth.ErrSessionNotFound if none.
func (d *DB) GetSession(ctx context.Context, hash []byte) (auth.Session, error) {
	if err := d.acquire(ctx, "get session"); err != nil {
		return auth.Session{}, err
	}
	defer d.mu.RUnlock()
	var r sessionRecord
	ok, err := d.getJSON(sessionKey(hash), &r)
	if err != nil {
		return auth.Session{}, fmt.Errorf("pebble: get session: %w", err)
	}
	if !ok {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	return sessionFromRecord(hash, r), nil
}

// TouchSession moves LastSeen forward; a missing session is not created.
func (d *DB) TouchSession(ctx context.Context, hash []byte, t time.Time) error {
	return d.identityOp(ctx, "touch session", func() error {
		var r sessionRecord
		ok, err := d.getJSON(sessionKey(hash), &r)
		if err != nil {
			return fmt.Errorf("pebble: touch session: %w", err)
		}
		if !ok || !t.After(r.LastSeen) {
			return nil
		}
		r.LastSeen = normMs(t)
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("pebble: touch session: %w", err)
		}
		if err := d.db.Set(sessionKey(hash), raw, cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: touch session: %w", err)
		}
		return nil
	})
}

// DeleteSession removes a session; a missing one is not an error.
func (d *DB) DeleteSession(ctx context.Context, hash []byte) error {
	return d.identityOp(ctx, "delete session", func() error {
		var r sessionRecord
		ok, err := d.getJSON(sessionKey(hash), &r)
		if err != nil || !ok {
			if err != nil {
				return fmt.Errorf("pebble: delete session: %w", err)
			}
			return nil
		}
		return d.deleteSessions(map[string]string{string(hash): r.AccountID})
	})
}

// deleteSessions removes sessions (hash -> account) in one batch. credMu
// is held.
func (d *DB) deleteSessions(sessions map[string]string) error {
	if len(sessions) == 0 {
		return nil
	}
	b := d.db.NewBatch()
	defer b.Close()
	for h, acct := range sessions {
		_ = b.Delete(sessionKey([]byte(h)), nil)
		_ = b.Delete(accountSessionKey(acct, []byte(h)), nil)
	}
	if err := b.Commit(cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: delete sessions: %w", err)
	}
	return nil
}

// DeleteAccountSessions removes every session of the account.
func (d *DB) DeleteAccountSessions(ctx context.Context, accountID string) (int, error) {
	n := 0
	err := d.identityOp(ctx, "delete account sessions", func() error {
		prefix := accountSessionsPrefix(accountID)
		victims := map[string]string{}
		err := d.fwdScan(prefix, false, func(k, _ []byte) (bool, error) {
			h, ok := unescapeLast(k[len(prefix):])
			if ok {
				victims[h] = accountID
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("pebble: delete account sessions: %w", err)
		}
		n = len(victims)
		return d.deleteSessions(victims)
	})
	return n, err
}

// unescapeLast decodes one escaped part (appendEsc) that ends b.
func unescapeLast(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", false
		}
		switch b[i+1] {
		case 0xff:
			out = append(out, 0)
			i++
		case 1:
			return string(out), i+2 == len(b)
		default:
			return "", false
		}
	}
	return "", false
}

// DeleteExpiredSessions removes the sessions expired at now or idle since
// before idleBefore.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	n := 0
	err := d.identityOp(ctx, "delete expired sessions", func() error {
		prefix := []byte("is/")
		victims := map[string]string{}
		err := d.fwdScan(prefix, false, func(k, v []byte) (bool, error) {
			var r sessionRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return false, err
			}
			if !now.Before(r.ExpiresAt) || r.LastSeen.Before(idleBefore) {
				if h, ok := unescapeLast(k[len(prefix):]); ok {
					victims[h] = r.AccountID
				}
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("pebble: delete expired sessions: %w", err)
		}
		n = len(victims)
		return d.deleteSessions(victims)
	})
	return n, err
}

// ---- mailed tokens ----

func tokenFromRecord(kind string, hash []byte, r tokenRecord) auth.AccountToken {
	return auth.AccountToken{Hash: bytes.Clone(hash), Kind: kind, Email: r.Email, Name: r.Name, Role: auth.Role(r.Role),
		Org: r.Org, AccountID: r.AccountID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
}

// CreateAccountToken stores t.
func (d *DB) CreateAccountToken(ctx context.Context, t auth.AccountToken) error {
	return d.identityOp(ctx, "create account token", func() error {
		r := tokenRecord{V: identityRecordVersion, Email: t.Email, Name: t.Name, Role: string(t.Role), Org: t.Org,
			AccountID: t.AccountID, CreatedBy: t.CreatedBy, CreatedAt: normMs(t.CreatedAt), ExpiresAt: normMs(t.ExpiresAt)}
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("pebble: create account token: %w", err)
		}
		if err := d.db.Set(accountTokenKey(t.Kind, t.Hash), raw, cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: create account token: %w", err)
		}
		return nil
	})
}

// ConsumeAccountToken removes and returns a token; auth.ErrTokenNotFound.
func (d *DB) ConsumeAccountToken(ctx context.Context, kind string, hash []byte) (auth.AccountToken, error) {
	var out auth.AccountToken
	err := d.identityOp(ctx, "consume account token", func() error {
		var r tokenRecord
		ok, err := d.getJSON(accountTokenKey(kind, hash), &r)
		if err != nil {
			return fmt.Errorf("pebble: consume account token: %w", err)
		}
		if !ok {
			return auth.ErrTokenNotFound
		}
		if err := d.db.Delete(accountTokenKey(kind, hash), cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: consume account token: %w", err)
		}
		out = tokenFromRecord(kind, hash, r)
		return nil
	})
	return out, err
}

// ListAccountTokens returns the tokens of the kind ordered by CreatedAt.
func (d *DB) ListAccountTokens(ctx context.Context, kind string) ([]auth.AccountToken, error) {
	if err := d.acquire(ctx, "list account tokens"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	prefix := fwdKey("it/", kind)
	var out []auth.AccountToken
	err := d.fwdScan(prefix, false, func(k, v []byte) (bool, error) {
		var r tokenRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return false, err
		}
		if h, ok := unescapeLast(k[len(prefix):]); ok {
			out = append(out, tokenFromRecord(kind, []byte(h), r))
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: list account tokens: %w", err)
	}
	slices.SortStableFunc(out, func(a, b auth.AccountToken) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// DeleteAccountToken removes a token; auth.ErrTokenNotFound if none.
func (d *DB) DeleteAccountToken(ctx context.Context, kind string, hash []byte) error {
	return d.deleteKey(ctx, "delete account token", accountTokenKey(kind, hash), auth.ErrTokenNotFound)
}

// DeleteExpiredAccountTokens removes the tokens expired at now.
func (d *DB) DeleteExpiredAccountTokens(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := d.identityOp(ctx, "delete expired account tokens", func() error {
		b := d.db.NewBatch()
		defer b.Close()
		err := d.fwdScan([]byte("it/"), false, func(k, v []byte) (bool, error) {
			var r tokenRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return false, err
			}
			if !now.Before(r.ExpiresAt) {
				n++
				_ = b.Delete(bytes.Clone(k), nil)
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("pebble: delete expired account tokens: %w", err)
		}
		if n == 0 {
			return nil
		}
		if err := b.Commit(cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: delete expired account tokens: %w", err)
		}
		return nil
	})
	return n, err
}

// ---- sign-in failures ----

// AddLoginFailure counts a failure of key at at.
func (d *DB) AddLoginFailure(ctx context.Context, key string, at time.Time, window time.Duration) (int, error) {
	n := 0
	err := d.identityOp(ctx, "add login failure", func() error {
		var r failureRecord
		if _, err := d.getJSON(failureKey(key), &r); err != nil {
			return fmt.Errorf("pebble: add login failure: %w", err)
		}
		at = normMs(at)
		if r.N == 0 || at.Sub(r.Last) >= window {
			r = failureRecord{First: at}
		}
		r.N++
		if at.After(r.Last) {
			r.Last = at
		}
		n = r.N
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("pebble: add login failure: %w", err)
		}
		if err := d.db.Set(failureKey(key), raw, cpebble.Sync); err != nil {
			return fmt.Errorf("pebble: add login failure: %w", err)
		}
		return nil
	})
	return n, err
}

// LoginFailures returns the failure count and last failure of key.
func (d *DB) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	if err := d.acquire(ctx, "login failures"); err != nil {
		return 0, time.Time{}, err
	}
	defer d.mu.RUnlock()
	var r failureRecord
	if _, err := d.getJSON(failureKey(key), &r); err != nil {
		return 0, time.Time{}, fmt.Errorf("pebble: login failures: %w", err)
	}
	return r.N, r.Last.UTC(), nil
}

// ResetLoginFailures forgets the failures of key.
func (d *DB) ResetLoginFailures(ctx context.Context, key string) error {
	err := d.deleteKey(ctx, "reset login failures", failureKey(key), errNoFailures)
	if err == errNoFailures {
		return nil
	}
	return err
}

var errNoFailures = fmt.Errorf("pebble: no login failures")

// DeleteLoginFailuresBefore forgets the keys whose last failure is before t.
func (d *DB) DeleteLoginFailuresBefore(ctx context.Context, t time.Time) (int, error) {
	n := 0
	err := d.identityOp(ctx, "delete login failures", func() error {
		b := d.db.NewBatch()
		defer b.Close()
		err := d.fwdScan([]byte("if/"), false, func(k, v []byte) (bool, error) {
			var r failureRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return false, err
			}
			if r.Last.Before(t) {
				n++
				_ = b.Delete(bytes.Clone(k), nil)
			}
			return true, nil
		})
		if err != nil || n == 0 {
			return err
		}
		return b.Commit(cpebble.Sync)
	})
	if err != nil {
		return 0, fmt.Errorf("pebble: delete login failures: %w", err)
	}
	return n, nil
}

// getJSON decodes the JSON value under key into v; false if there is none.
func (d *DB) getJSON(key []byte, v any) (bool, error) {
	return d.get(key, func(b []byte) error { return json.Unmarshal(b, v) })
}
