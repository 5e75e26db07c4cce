package pebbledb

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/auth"
)

// Organizations are stored as JSON under org/<id>; credentials under
// c/<key> (see keys.go). Both are few: listings scan their prefix.

var _ auth.AdminStore = (*DB)(nil)

var orgPrefix = []byte("org/")

func orgKey(id string) []byte { return append([]byte("org/"), id...) }

// CreateOrg stores o; auth.ErrOrgTaken if its id exists.
func (d *DB) CreateOrg(ctx context.Context, o auth.Organization) error {
	if err := d.acquire(ctx, "create organization"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	o.CreatedAt = o.CreatedAt.UTC().Truncate(time.Millisecond)
	v, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("pebble: create organization: %w", err)
	}
	d.credMu.Lock()
	defer d.credMu.Unlock()
	ok, err := d.get(orgKey(o.ID), nil)
	if err != nil {
		return fmt.Errorf("pebble: create organization: %w", err)
	}
	if ok {
		return auth.ErrOrgTaken
	}
	if err := d.db.Set(orgKey(o.ID), v, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: create organization: %w", err)
	}
	return nil
}

// GetOrg returns an organization; auth.ErrOrgNotFound if none.
func (d *DB) GetOrg(ctx context.Context, id string) (auth.Organization, error) {
	var o auth.Organization
	if err := d.acquire(ctx, "get organization"); err != nil {
		return o, err
	}
	defer d.mu.RUnlock()
	ok, err := d.get(orgKey(id), func(v []byte) error { return json.Unmarshal(v, &o) })
	if err != nil {
		return auth.Organization{}, fmt.Errorf("pebble: get organization: %w", err)
	}
	if !ok {
		return auth.Organization{}, auth.ErrOrgNotFound
	}
	return o, nil
}

// ListOrgs returns every organization, ordered by id.
func (d *DB) ListOrgs(ctx context.Context) ([]auth.Organization, error) {
	if err := d.acquire(ctx, "list organizations"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	var out []auth.Organization
	err := d.scan(orgPrefix, func(v []byte) error {
		var o auth.Organization
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: list organizations: %w", err)
	}
	return out, nil
}

// UpdateOrg renames an organization; auth.ErrOrgNotFound if none.
func (d *DB) UpdateOrg(ctx context.Context, o auth.Organization) error {
	if err := d.acquire(ctx, "update organization"); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	d.credMu.Lock()
	defer d.credMu.Unlock()
	var cur auth.Organization
	ok, err := d.get(orgKey(o.ID), func(v []byte) error { return json.Unmarshal(v, &cur) })
	if err != nil {
		return fmt.Errorf("pebble: update organization: %w", err)
	}
	if !ok {
		return auth.ErrOrgNotFound
	}
	cur.Name = o.Name
	v, err := json.Marshal(cur)
	if err != nil {
		return fmt.Errorf("pebble: update organization: %w", err)
	}
	if err := d.db.Set(orgKey(o.ID), v, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: update organization: %w", err)
	}
	return nil
}

// DeleteOrg removes an organization record; auth.ErrOrgNotFound if none.
func (d *DB) DeleteOrg(ctx context.Context, id string) error {
	return d.deleteKey(ctx, "delete organization", orgKey(id), auth.ErrOrgNotFound)
}

// ListCredentials returns the credentials of org, ordered by key.
func (d *DB) ListCredentials(ctx context.Context, org string) ([]auth.Credential, error) {
	if err := d.acquire(ctx, "list credentials"); err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	var out []auth.Credential
	err := d.scan(credPrefix, func(v []byte) error {
		var c auth.Credential
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		if c.Org == org {
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: list credentials: %w", err)
	}
	slices.SortFunc(out, func(a, b auth.Credential) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// UpdateCredential applies u; auth.ErrNotFound if the key is unknown.
func (d *DB) UpdateCredential(ctx context.Context, key string, u auth.CredentialUpdate) (auth.Credential, error) {
	var out auth.Credential
	err := d.modifyCredential(ctx, "update credential", key, func(c *auth.Credential) bool {
		*c = u.Apply(*c)
		out = *c
		return true
	})
	return out, err
}

// TouchCredential moves LastUsed forward to t; a missing key is not an error.
func (d *DB) TouchCredential(ctx context.Context, key string, t time.Time) error {
	t = t.UTC().Truncate(time.Millisecond)
	err := d.modifyCredential(ctx, "touch credential", key, func(c *auth.Credential) bool {
		if !t.After(c.LastUsed) {
			return false
		}
		c.LastUsed = t
		return true
	})
	if err == auth.ErrNotFound {
		return nil
	}
	return err
}

// DeleteCredential removes a credential; auth.ErrNotFound if none.
func (d *DB) DeleteCredential(ctx context.Context, key string) error {
	return d.deleteKey(ctx, "delete credential", credKey(key), auth.ErrNotFound)
}

func (d *DB) modifyCredential(ctx context.Context, op, key string, fn func(*auth.Credential) bool) error {
	if err := d.acquire(ctx, op); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	d.credMu.Lock()
	defer d.credMu.Unlock()
	var c auth.Credential
	ok, err := d.get(credKey(key), func(v []byte) error { return json.Unmarshal(v, &c) })
	if err != nil {
		return fmt.Errorf("pebble: %s: %w", op, err)
	}
	if !ok {
		return auth.ErrNotFound
	}
	if !fn(&c) {
		return nil
	}
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("pebble: %s: %w", op, err)
	}
	if err := d.db.Set(credKey(key), v, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: %s: %w", op, err)
	}
	return nil
}

func (d *DB) deleteKey(ctx context.Context, op string, k []byte, notFound error) error {
	if err := d.acquire(ctx, op); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	d.credMu.Lock()
	defer d.credMu.Unlock()
	ok, err := d.get(k, nil)
	if err != nil {
		return fmt.Errorf("pebble: %s: %w", op, err)
	}
	if !ok {
		return notFound
	}
	if err := d.db.Delete(k, cpebble.Sync); err != nil {
		return fmt.Errorf("pebble: %s: %w", op, err)
	}
	return nil
}

// scan calls fn with the value of every key under prefix, in key order.
// d.mu is held.
func (d *DB) scan(prefix []byte, fn func(v []byte) error) error {
	it, err := d.db.NewIter(&cpebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return it.Error()
}
