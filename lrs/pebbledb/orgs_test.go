package pebbledb_test

import (
	"context"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"

	"github.com/lrs-project/lrs/lrs/pebbledb"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func TestAdminConformance(t *testing.T) {
	storetest.RunAdmin(t, func(t *testing.T) storetest.AdminStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestKeysConformance(t *testing.T) {
	storetest.RunKeys(t, func(t *testing.T) auth.KeyStore {
		db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// BenchmarkAuthenticateCold is a Basic-auth verification that misses the
// authenticator's cache: a credential read from the store plus the HMAC.
func BenchmarkAuthenticateCold(b *testing.B) {
	db, err := pebbledb.Open(b.TempDir(), pebbledb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c, secret, err := auth.NewCredential("o", "bench", []string{auth.ScopeAll}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CreateCredential(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	a := auth.NewAuthenticator(db, auth.AuthenticatorOptions{TTL: time.Nanosecond, TouchInterval: -1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, c.Key, secret); err != nil {
			b.Fatal(err)
		}
	}
}
