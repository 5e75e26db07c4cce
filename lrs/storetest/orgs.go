package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
)

// AdminStore is an engine with organizations and credential administration.
type AdminStore interface {
	Store
	auth.AdminStore
}

// RunAdmin runs the organization and credential-administration suite;
// open returns a new, empty store.
func RunAdmin(t *testing.T, open func(t *testing.T) AdminStore) {
	t.Helper()
	leaf := func(name string, fn func(t *testing.T, s AdminStore)) {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
	leaf("OrgCRUD", testOrgCRUD)
	leaf("CredentialFields", testCredentialFields)
	leaf("ListCredentials", testListCredentials)
	leaf("UpdateCredential", testUpdateCredential)
	leaf("DeleteCredential", testDeleteCredential)
	leaf("TouchCredential", testTouchCredential)
	leaf("TouchKeepsChanges", testTouchKeepsChanges)
}

func testOrgCRUD(t *testing.T, s AdminStore) {
	ctx := t.Context()
	if got, err := s.ListOrgs(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListOrgs on a new store = %v, %v; want none", got, err)
	}
	b := auth.Organization{ID: "org-b", Name: "B", CreatedAt: at(2)}
	a := auth.Organization{ID: "org-a", Name: "A", CreatedAt: at(1)}
	for _, o := range []auth.Organization{b, a} {
		if err := s.CreateOrg(ctx, o); err != nil {
			t.Fatalf("CreateOrg(%s): %v", o.ID, err)
		}
	}
	if err := s.CreateOrg(ctx, auth.Organization{ID: "org-a", Name: "other"}); !errors.Is(err, auth.ErrOrgTaken) {
		t.Errorf("CreateOrg of a taken id: %v, want auth.ErrOrgTaken", err)
	}
	got, err := s.GetOrg(ctx, "org-a")
	if err != nil || got.Name != "A" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("GetOrg(org-a) = %+v, %v; want %+v", got, err, a)
	}
	if _, err := s.GetOrg(ctx, "org-c"); !errors.Is(err, auth.ErrOrgNotFound) {
		t.Errorf("GetOrg of a missing id: %v, want auth.ErrOrgNotFound", err)
	}
	list, err := s.ListOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "org-a" || list[1].ID != "org-b" {
		t.Errorf("ListOrgs = %+v, want org-a then org-b", list)
	}
	if err := s.UpdateOrg(ctx, auth.Organization{ID: "org-a", Name: "A2"}); err != nil {
		t.Fatalf("UpdateOrg: %v", err)
	}
	if got, _ := s.GetOrg(ctx, "org-a"); got.Name != "A2" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("after UpdateOrg: %+v, want name A2 and the original CreatedAt", got)
	}
	if err := s.UpdateOrg(ctx, auth.Organization{ID: "org-c", Name: "C"}); !errors.Is(err, auth.ErrOrgNotFound) {
		t.Errorf("UpdateOrg of a missing id: %v, want auth.ErrOrgNotFound", err)
	}
	if err := s.DeleteOrg(ctx, "org-a"); err != nil {
		t.Fatalf("DeleteOrg: %v", err)
	}
	if err := s.DeleteOrg(ctx, "org-a"); !errors.Is(err, auth.ErrOrgNotFound) {
		t.Errorf("second DeleteOrg: %v, want auth.ErrOrgNotFound", err)
	}
	if list, _ := s.ListOrgs(ctx); len(list) != 1 || list[0].ID != "org-b" {
		t.Errorf("ListOrgs after delete = %+v, want only org-b", list)
	}
	// Organizations are not credentials.
	if n := mustCount(t, s); n != 0 {
		t.Errorf("CountCredentials with only organizations = %d, want 0", n)
	}
}

func testCredentialFields(t *testing.T, s AdminStore) {
	ctx := t.Context()
	c := credential(orgA, 1)
	c.ExpiresAt = at(5000)
	c.Revoked = true
	c.RevokedAt = at(3000)
	c.LastUsed = at(2000)
	if err := s.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCredential(ctx, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	checkCredential(t, "GetCredential", got, c)
	checkLifecycle(t, "GetCredential", got, c)

	plain := credential(orgA, 2)
	if err := s.CreateCredential(ctx, plain); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetCredential(ctx, plain.Key)
	if err != nil {
		t.Fatal(err)
	}
	checkLifecycle(t, "GetCredential of a credential without expiry", got, plain)
}

func checkLifecycle(t *testing.T, what string, got, want auth.Credential) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"ExpiresAt", got.ExpiresAt, want.ExpiresAt}, {"RevokedAt", got.RevokedAt, want.RevokedAt}, {"LastUsed", got.LastUsed, want.LastUsed}} {
		if f.got.IsZero() != f.want.IsZero() || !f.got.Equal(f.want) {
			t.Errorf("%s: %s = %v, want %v", what, f.name, f.got, f.want)
		}
	}
	if got.Revoked != want.Revoked {
		t.Errorf("%s: Revoked = %v, want %v", what, got.Revoked, want.Revoked)
	}
}

func keysOf(cs []auth.Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key
	}
	return out
}

func testListCredentials(t *testing.T, s AdminStore) {
	ctx := t.Context()
	var wantA []string
	for i, org := range []string{orgA, orgB, orgA, orgA, orgB} {
		c := credential(org, i)
		if err := s.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		if org == orgA {
			wantA = append(wantA, c.Key)
		}
	}
	slices.Sort(wantA)
	got, err := s.ListCredentials(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keysOf(got), wantA) {
		t.Errorf("ListCredentials(org-a) = %q, want %q (sorted, only org-a)", keysOf(got), wantA)
	}
	for _, c := range got {
		if c.Org != orgA {
			t.Errorf("ListCredentials(org-a) returned %s of %s", c.Key, c.Org)
		}
	}
	if got, err := s.ListCredentials(ctx, "org-none"); err != nil || len(got) != 0 {
		t.Errorf("ListCredentials of an org without credentials = %q, %v; want none", keysOf(got), err)
	}
}

func testUpdateCredential(t *testing.T, s AdminStore) {
	ctx := t.Context()
	c := credential(orgA, 1)
	if err := s.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	name, scopes, exp := "renamed", []string{auth.ScopeAll}, at(9000)
	got, err := s.UpdateCredential(ctx, c.Key, auth.CredentialUpdate{Name: &name, Scopes: &scopes, ExpiresAt: &exp})
	if err != nil {
		t.Fatalf("UpdateCredential: %v", err)
	}
	want := c
	want.Name, want.Scopes, want.ExpiresAt = name, scopes, exp
	checkCredential(t, "UpdateCredential result", got, want)
	checkLifecycle(t, "UpdateCredential result", got, want)
	stored, err := s.GetCredential(ctx, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	checkCredential(t, "after UpdateCredential", stored, want)
	checkLifecycle(t, "after UpdateCredential", stored, want)

	// Revocation is one-way and keeps its first time; a zero ExpiresAt clears.
	r1, r2, zero := at(100), at(200), time.Time{}
	if _, err := s.UpdateCredential(ctx, c.Key, auth.CredentialUpdate{RevokedAt: &r1, ExpiresAt: &zero}); err != nil {
		t.Fatal(err)
	}
	got, err = s.UpdateCredential(ctx, c.Key, auth.CredentialUpdate{RevokedAt: &r2})
	if err != nil {
		t.Fatal(err)
	}
	want.Revoked, want.RevokedAt, want.ExpiresAt = true, r1, time.Time{}
	checkLifecycle(t, "after two revocations", got, want)
	if stored, _ := s.GetCredential(ctx, c.Key); !stored.Revoked {
		t.Errorf("stored credential is not revoked")
	}
	if _, err := s.UpdateCredential(ctx, "key-missing", auth.CredentialUpdate{Name: &name}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UpdateCredential of a missing key: %v, want auth.ErrNotFound", err)
	}
	if _, err := s.UpdateCredential(ctx, "key-missing", auth.CredentialUpdate{RevokedAt: &r1}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoking a missing key: %v, want auth.ErrNotFound", err)
	}
}

func testDeleteCredential(t *testing.T, s AdminStore) {
	ctx := t.Context()
	c, other := credential(orgA, 1), credential(orgA, 2)
	for _, x := range []auth.Credential{c, other} {
		if err := s.CreateCredential(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteCredential(ctx, c.Key); err != nil {
		t.Fatalf("DeleteCredential: %v", err)
	}
	if _, err := s.GetCredential(ctx, c.Key); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("GetCredential after delete: %v, want auth.ErrNotFound", err)
	}
	if err := s.DeleteCredential(ctx, c.Key); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("second DeleteCredential: %v, want auth.ErrNotFound", err)
	}
	if _, err := s.GetCredential(ctx, other.Key); err != nil {
		t.Errorf("the other credential: %v", err)
	}
	if n := mustCount(t, s); n != 1 {
		t.Errorf("CountCredentials after delete = %d, want 1", n)
	}
}

func testTouchCredential(t *testing.T, s AdminStore) {
	ctx := t.Context()
	c := credential(orgA, 1)
	if err := s.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, ms := range []int{5000, 3000} { // never moves back
		if err := s.TouchCredential(ctx, c.Key, at(ms)); err != nil {
			t.Fatalf("TouchCredential: %v", err)
		}
	}
	got, err := s.GetCredential(ctx, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastUsed.Equal(at(5000)) {
		t.Errorf("LastUsed = %v, want %v", got.LastUsed, at(5000))
	}
	checkCredential(t, "after TouchCredential", got, c)
	if err := s.TouchCredential(ctx, "key-missing", at(1)); err != nil {
		t.Errorf("TouchCredential of a missing key: %v, want nil", err)
	}
}

// testTouchKeepsChanges: the LastUsed writes of busy processes, which land
// at any moment, never undo an administrator's change of the credential
// (a lost revocation would let a revoked credential in for good).
func testTouchKeepsChanges(t *testing.T, s AdminStore) {
	ctx := t.Context()
	for i := range 10 {
		c := credential(orgA, 100+i)
		if err := s.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for n := range 10 {
					if err := s.TouchCredential(ctx, c.Key, at(200+1000*w+n)); err != nil { // all after CreatedAt
						t.Errorf("TouchCredential: %v", err)
						return
					}
				}
			})
		}
		name, revokedAt := "renamed", at(500)
		wg.Go(func() {
			if _, err := s.UpdateCredential(ctx, c.Key, auth.CredentialUpdate{Name: &name}); err != nil {
				t.Errorf("UpdateCredential(name): %v", err)
			}
			if _, err := s.UpdateCredential(ctx, c.Key, auth.CredentialUpdate{RevokedAt: &revokedAt}); err != nil {
				t.Errorf("UpdateCredential(revoke): %v", err)
			}
		})
		wg.Wait()
		got, err := s.GetCredential(ctx, c.Key)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Revoked || got.Name != name {
			t.Fatalf("round %d: after concurrent touches the credential is revoked=%v, named %q; the touches undid the change", i, got.Revoked, got.Name)
		}
		// Concurrent touches may keep any of their times (LastUsed is
		// approximate: FerretDB's $max is a read and a write, so a slower
		// touch of an earlier time may land last), but a later one still
		// moves it forward.
		if got.LastUsed.Before(c.CreatedAt) || got.LastUsed.After(at(3209)) {
			t.Errorf("round %d: LastUsed = %v, want one of the touches", i, got.LastUsed)
		}
		if err := s.TouchCredential(ctx, c.Key, at(9000)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetCredential(ctx, c.Key); err != nil || !got.LastUsed.Equal(at(9000)) || !got.Revoked {
			t.Errorf("round %d: after a later touch: LastUsed %v, revoked %v, %v; want %v, revoked", i, got.LastUsed, got.Revoked, err, at(9000))
		}
	}
}
