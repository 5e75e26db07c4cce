package pebbledb_test

import (
	"context"
	"testing"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// BenchmarkSessionVerify is what a session costs each admin request once
// cached (a SHA-256 and a map lookup), and cold (a session and an account
// read from the embedded store); BENCHMARKS.md.
func BenchmarkSessionVerify(b *testing.B) {
	db, err := pebbledb.Open(b.TempDir(), pebbledb.Options{CacheBytes: 8 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	key, _ := auth.LoadIdentityKey(ctx, db)
	for _, bc := range []struct {
		name string
		opts auth.IdentityOptions
	}{{"cached", auth.IdentityOptions{}}, {"cold", auth.IdentityOptions{CacheTTL: 1}}} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opts.Password = auth.PasswordParams{Memory: 64, Time: 1}
			id, err := auth.NewIdentity(db, key, bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			a, err := id.CreateAccount(ctx, auth.NewAccount{Email: bc.name + "@example.com", Role: auth.RoleOperator})
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := id.StartSession(ctx, a, "password", "127.0.0.1")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := id.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
