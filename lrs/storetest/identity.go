package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
)

// RunIdentity runs the suite of accounts, sessions, mailed tokens and
// sign-in failures (auth.IdentityStore); open returns a new, empty store.
func RunIdentity(t *testing.T, open func(t *testing.T) auth.IdentityStore) {
	t.Helper()
	leaf := func(name string, fn func(t *testing.T, s auth.IdentityStore)) {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
	leaf("Accounts", testAccounts)
	leaf("AccountUpdate", testAccountUpdate)
	leaf("Sessions", testSessions)
	leaf("SessionExpiry", testSessionExpiry)
	leaf("AccountTokens", testAccountTokens)
	leaf("TokenConsumedOnce", testTokenConsumedOnce)
	leaf("LoginFailures", testLoginFailures)
}

func account(id, email string, role auth.Role, org string) auth.Account {
	return auth.Account{ID: id, Email: email, Name: "Name of " + id, Role: role, Org: org,
		PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", CreatedAt: at(1), UpdatedAt: at(2)}
}

func testAccounts(t *testing.T, s auth.IdentityStore) {
	ctx := t.Context()
	if l, err := s.ListAccounts(ctx); err != nil || len(l) != 0 {
		t.Fatalf("ListAccounts on a new store = %v, %v; want none", l, err)
	}
	b := account("id-b", "b@example.com", auth.RoleOrgAdmin, orgA)
	a := account("id-a", "z@example.com", auth.RoleOperator, "")
	for _, x := range []auth.Account{a, b} {
		if err := s.CreateAccount(ctx, x); err != nil {
			t.Fatalf("CreateAccount(%s): %v", x.ID, err)
		}
	}
	if err := s.CreateAccount(ctx, account("id-c", "b@example.com", auth.RoleOperator, "")); !errors.Is(err, auth.ErrEmailTaken) {
		t.Errorf("CreateAccount with a taken email: %v, want auth.ErrEmailTaken", err)
	}
	if err := s.CreateAccount(ctx, account("id-a", "c@example.com", auth.RoleOperator, "")); !errors.Is(err, auth.ErrAccountTaken) {
		t.Errorf("CreateAccount with a taken id: %v, want auth.ErrAccountTaken", err)
	}
	got, err := s.GetAccount(ctx, "id-b")
	if err != nil || got != b {
		t.Errorf("GetAccount = %+v, %v; want %+v", got, err, b)
	}
	if got, err := s.GetAccountByEmail(ctx, "b@example.com"); err != nil || got != b {
		t.Errorf("GetAccountByEmail = %+v, %v; want %+v", got, err, b)
	}
	if _, err := s.GetAccount(ctx, "missing"); !errors.Is(err, auth.ErrAccountNotFound) {
		t.Errorf("GetAccount of a missing id: %v, want auth.ErrAccountNotFound", err)
	}
	if _, err := s.GetAccountByEmail(ctx, "c@example.com"); !errors.Is(err, auth.ErrAccountNotFound) {
		t.Errorf("GetAccountByEmail of a missing email: %v, want auth.ErrAccountNotFound", err)
	}
	if _, err := s.GetAccountByEmail(ctx, "id-a"); !errors.Is(err, auth.ErrAccountNotFound) {
		t.Errorf("GetAccountByEmail of an id: %v, want auth.ErrAccountNotFound", err)
	}
	l, err := s.ListAccounts(ctx)
	if err != nil || len(l) != 2 || l[0].ID != "id-b" || l[1].ID != "id-a" {
		t.Errorf("ListAccounts = %+v, %v; want id-b (b@) then id-a (z@)", l, err)
	}
	if err := s.DeleteAccount(ctx, "id-b"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if err := s.DeleteAccount(ctx, "id-b"); !errors.Is(err, auth.ErrAccountNotFound) {
		t.Errorf("second DeleteAccount: %v, want auth.ErrAccountNotFound", err)
	}
	if _, err := s.GetAccountByEmail(ctx, "b@example.com"); !errors.Is(err, auth.ErrAccountNotFound) {
		t.Errorf("GetAccountByEmail after delete: %v, want auth.ErrAccountNotFound", err)
	}
	if err := s.CreateAccount(ctx, account("id-d", "b@example.com", auth.RoleOperator, "")); err != nil {
		t.Errorf("CreateAccount with the email of a deleted account: %v", err)
	}
}

func testAccountUpdate(t *testing.T, s auth.IdentityStore) {
	ctx := t.Context()
	a := account("id-a", "a@example.com", auth.RoleOrgAdmin, orgA)
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	name, role, org, hash, disabled := "New", auth.RoleOperator, "", "", true
	got, err := s.UpdateAccount(ctx, "id-a", auth.AccountUpdate{Name: &name, Role: &role, Org: &org, PasswordHash: &hash, Disabled: &disabled, UpdatedAt: at(10)})
	want := a
	want.Name, want.Role, want.Org, want.PasswordHash, want.Disabled, want.UpdatedAt = name, role, org, hash, disabled, at(10)
	if err != nil || got != want {
		t.Fatalf("UpdateAccount = %+v, %v; want %+v", got, err, want)
	}
	if got, err := s.GetAccount(ctx, "id-a"); err != nil || got != want {
		t.Errorf("GetAccount after update = %+v, %v; want %+v", got, err, want)
	}
	// Nil fields are kept.
	enabled := false
	got, err = s.UpdateAccount(ctx, "id-a", auth.AccountUpdate{Disabled: &enabled})
	want.Disabled = false
	if err != nil || got != want {
		t.Errorf("UpdateAccount of one field = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.UpdateAccount(ctx, "missing", auth.AccountUpdate{Name: &name}); !errors.Is(err, auth.ErrAccountNotFound) {
		t.Errorf("UpdateAccount of a missing id: %v, want auth.ErrAccountNotFound", err)
	}
}

// hashOf is a session or token hash of 32 bytes holding every kind of byte.
func hashOf(seed byte) []byte {
	h := make([]byte, 32)
	for i := range h {
		h[i] = byte(i*7) ^ seed
	}
	h[3] = 0 // a zero byte: engines must not treat the hash as text
	return h
}

func session(seed byte, account string, lastSeen, expires int) auth.Session {
	return auth.Session{Hash: hashOf(seed), AccountID: account, Method: "password", Client: "192.0.2.1",
		CreatedAt: at(0), LastSeen: at(lastSeen), ExpiresAt: at(expires)}
}

func sameSession(a, b auth.Session) bool {
	return bytes.Equal(a.Hash, b.Hash) && a.AccountID == b.AccountID && a.Method == b.Method && a.Client == b.Client &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeen.Equal(b.LastSeen) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func testSessions(t *testing.T, s auth.IdentityStore) {
	ctx := t.Context()
	s1, s2, s3 := session(1, "acct-1", 0, 100000), session(2, "acct-1", 0, 100000), session(3, "acct-2", 0, 100000)
	for _, x := range []auth.Session{s1, s2, s3} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	got, err := s.GetSession(ctx, s1.Hash)
	if err != nil || !sameSession(got, s1) {
		t.Fatalf("GetSession = %+v, %v; want %+v", got, err, s1)
	}
	if _, err := s.GetSession(ctx, hashOf(9)); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("GetSession of a missing hash: %v, want auth.ErrSessionNotFound", err)
	}
	// Touch moves LastSeen forward only.
	if err := s.TouchSession(ctx, s1.Hash, at(500)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, s1.Hash, at(200)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSession(ctx, s1.Hash); !got.LastSeen.Equal(at(500)) {
		t.Errorf("LastSeen after touches at 500 and 200 = %v, want %v", got.LastSeen, at(500))
	}
	if err := s.TouchSession(ctx, hashOf(9), at(500)); err != nil {
		t.Errorf("TouchSession of a missing session: %v", err)
	}
	if _, err := s.GetSession(ctx, hashOf(9)); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("TouchSession created a session: %v", err)
	}
	if err := s.DeleteSession(ctx, s3.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, s3.Hash); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("GetSession after DeleteSession: %v", err)
	}
	if err := s.DeleteSession(ctx, s3.Hash); err != nil {
		t.Errorf("DeleteSession of a missing session: %v", err)
	}
	if n, err := s.DeleteAccountSessions(ctx, "acct-1"); err != nil || n != 2 {
		t.Errorf("DeleteAccountSessions = %d, %v; want 2", n, err)
	}
	for _, h := range [][]byte{s1.Hash, s2.Hash} {
		if _, err := s.GetSession(ctx, h); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("a session survived DeleteAccountSessions: %v", err)
		}
	}
	if n, err := s.DeleteAccountSessions(ctx, "acct-1"); err != nil || n != 0 {
		t.Errorf("second DeleteAccountSessions = %d, %v; want 0", n, err)
	}
}

func testSessionExpiry(t *testing.T, s auth.IdentityStore) {
	ctx := t.Context()
	live := session(1, "a", 1000, 5000)
	expired := session(2, "a", 1000, 2000) // absolute expiry at 2000
	idle := session(3, "b", 100, 5000)     // last seen before 500
	for _, x := range []auth.Session{live, expired, idle} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpiredSessions(ctx, at(2000), at(500))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2", n, err)
	}
	if _, err := s.GetSession(ctx, live.Hash); err != nil {
		t.Errorf("the live session was deleted: %v", err)
	}
	for _, h := range [][]byte{expired.Hash, idle.Hash} {
		if _, err := s.GetSession(ctx, h); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("an expired session survived: %v", err)
		}
	}
	if n, err := s.DeleteAccountSessions(ctx, "a"); err != nil || n != 1 {
		t.Errorf("DeleteAccountSessions after the purge = %d, %v; want 1 (the index follows the purge)", n, err)
	}
}

func accountToken(seed byte, kind string, created, expires int) auth.AccountToken {
	return auth.AccountToken{Hash: hashOf(seed), Kind: kind, Email: "p@example.com", Name: "P", Role: auth.RoleOrgAdmin,
		Org: orgA, AccountID: "acct", CreatedBy: "operator@example.com", CreatedAt: at(created), ExpiresAt: at(expires)}
}

func sameToken(a, b auth.AccountToken) bool {
	return bytes.Equal(a.Hash, b.Hash) && a.Kind == b.Kind && a.Email == b.Email && a.Name == b.Name && a.Role == b.Role &&
		a.Org == b.Org && a.AccountID == b.AccountID && a.CreatedBy == b.CreatedBy &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func testAccountTokens(t *testing.T, s auth.IdentityStore) {
	ctx := t.Context()
	inv2, inv1 := accountToken(2, auth.TokenInvitation, 20, 1000), accountToken(1, auth.TokenInvitation, 10, 100)
	reset := accountToken(3, auth.TokenPasswordReset, 5, 1000)
	for _, x := range []auth.AccountToken{inv2, inv1, reset} {
		if err := s.CreateAccountToken(ctx, x); err != nil {
			t.Fatalf("CreateAccountToken: %v", err)
		}
	}
	l, err := s.ListAccountTokens(ctx, auth.TokenInvitation)
	if err != nil || len(l) != 2 || !sameToken(l[0], inv1) || !sameToken(l[1], inv2) {
		t.Fatalf("ListAccountTokens(invitation) = %+v, %v; want inv1 then inv2", l, err)
	}
	if _, err := s.ConsumeAccountToken(ctx, auth.TokenPasswordReset, inv1.Hash); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Errorf("ConsumeAccountToken of another kind: %v, want auth.ErrTokenNotFound", err)
	}
	got, err := s.ConsumeAccountToken(ctx, auth.TokenInvitation, inv1.Hash)
	if err != nil || !sameToken(got, inv1) {
		t.Fatalf("ConsumeAccountToken = %+v, %v; want %+v", got, err, inv1)
	}
	if _, err := s.ConsumeAccountToken(ctx, auth.TokenInvitation, inv1.Hash); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Errorf("second ConsumeAccountToken: %v, want auth.ErrTokenNotFound", err)
	}
	if err := s.DeleteAccountToken(ctx, auth.TokenInvitation, inv2.Hash); err != nil {
		t.Errorf("DeleteAccountToken: %v", err)
	}
	if err := s.DeleteAccountToken(ctx, auth.TokenInvitation, inv2.Hash); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Errorf("second DeleteAccountToken: %v, want auth.ErrTokenNotFound", err)
	}
	expired := accountToken(4, auth.TokenInvitation, 30, 500)
	if err := s.CreateAccountToken(ctx, expired); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpiredAccountTokens(ctx, at(500)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredAccountTokens = %d, %v; want 1", n, err)
	}
	if l, _ := s.ListAccountTokens(ctx, auth.TokenPasswordReset); len(l) != 1 || !sameToken(l[0], reset) {
		t.Errorf("the live reset token was touched: %+v", l)
	}
	if l, _ := s.ListAccountTokens(ctx, auth.TokenInvitation); len(l) != 0 {
		t.Errorf("invitations left: %+v, want none", l)
	}
}

// testTokenConsumedOnce: of concurrent uses of one token, one wins.
func testTokenConsumedOnce(t *testing.T, s auth.IdentityStore) {
	tok := accountToken(1, auth.TokenInvitation, 0, 1000)
	if err := s.CreateAccountToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	var wins, misses atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := s.ConsumeAccountToken(context.Background(), auth.TokenInvitation, tok.Hash)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, auth.ErrTokenNotFound):
				misses.Add(1)
			default:
				t.Errorf("ConsumeAccountToken: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || misses.Load() != 15 {
		t.Errorf("16 concurrent uses: %d won, %d found nothing; want 1 and 15", wins.Load(), misses.Load())
	}
}

func testLoginFailures(t *testing.T, s auth.IdentityStore) {
	ctx := t.Context()
	const key, window = "a@example.com", time.Minute
	if n, last, err := s.LoginFailures(ctx, key); err != nil || n != 0 || !last.IsZero() {
		t.Fatalf("LoginFailures on a new store = %d, %v, %v", n, last, err)
	}
	for i := 1; i <= 3; i++ {
		n, err := s.AddLoginFailure(ctx, key, at(i*1000), window)
		if err != nil || n != i {
			t.Fatalf("AddLoginFailure #%d = %d, %v; want %d", i, n, err, i)
		}
	}
	if n, last, err := s.LoginFailures(ctx, key); err != nil || n != 3 || !last.Equal(at(3000)) {
		t.Errorf("LoginFailures = %d, %v, %v; want 3 at %v", n, last, err, at(3000))
	}
	if n, _, _ := s.LoginFailures(ctx, "other@example.com"); n != 0 {
		t.Errorf("another key has %d failures", n)
	}
	// A failure a window after the last restarts the count.
	if n, err := s.AddLoginFailure(ctx, key, at(3000).Add(window), window); err != nil || n != 1 {
		t.Errorf("AddLoginFailure a window later = %d, %v; want 1", n, err)
	}
	if err := s.ResetLoginFailures(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.LoginFailures(ctx, key); err != nil || n != 0 {
		t.Errorf("LoginFailures after reset = %d, %v; want 0", n, err)
	}
	if err := s.ResetLoginFailures(ctx, key); err != nil {
		t.Errorf("ResetLoginFailures of nothing: %v", err)
	}
	// Stale counts are purged, live ones kept.
	for k, ms := range map[string]int{"old@example.com": 1000, "new@example.com": 9000} {
		if _, err := s.AddLoginFailure(ctx, k, at(ms), window); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteLoginFailuresBefore(ctx, at(5000)); err != nil || n != 1 {
		t.Errorf("DeleteLoginFailuresBefore = %d, %v; want 1", n, err)
	}
	if n, _, _ := s.LoginFailures(ctx, "old@example.com"); n != 0 {
		t.Errorf("a stale count survived the purge: %d", n)
	}
	if n, _, _ := s.LoginFailures(ctx, "new@example.com"); n != 1 {
		t.Errorf("a live count was purged: %d", n)
	}
}
