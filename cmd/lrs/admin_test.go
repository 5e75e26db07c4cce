package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

const testAdminToken = "e2e-admin-token-0123456789abcdefghij"

// admin runs `lrs admin args...` in-process against base and returns its
// output.
func admin(t *testing.T, base string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "LRS_ADMIN_URL":
			return base
		case "LRS_ADMIN_TOKEN":
			return testAdminToken
		}
		return ""
	}
	err := run(context.Background(), append([]string{"admin"}, args...), getenv, &out, &errOut)
	return out.String() + errOut.String(), err
}

func mustAdmin(t *testing.T, base string, args ...string) string {
	t.Helper()
	out, err := admin(t, base, args...)
	if err != nil {
		t.Fatalf("lrs admin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var (
	keyRE    = regexp.MustCompile(`(?m)^key:\s+(\S+)$`)
	secretRE = regexp.MustCompile(`(?m)^secret:\s+(\S+)$`)
)

// TestAdminCLI is the README walkthrough: create an organization and a
// credential with the CLI, use it from an xAPI client, revoke it.
func TestAdminCLI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		p := startLRS(t, append(storeEnv, "LRS_ADMIN_TOKEN="+testAdminToken)...)
		if out := mustAdmin(t, p.base, "org", "list"); !strings.Contains(out, "default") {
			t.Errorf("org list lacks the bootstrap organization:\n%s", out)
		}
		mustAdmin(t, p.base, "org", "create", "--name", "Acme Learning", "--id", "acme")
		out := mustAdmin(t, p.base, "credential", "create", "--org", "acme", "--name", "quiz app",
			"--scope", "statements/write", "--scope", "statements/read/mine")
		km, sm := keyRE.FindStringSubmatch(out), secretRE.FindStringSubmatch(out)
		if km == nil || sm == nil {
			t.Fatalf("credential create printed no key and secret:\n%s", out)
		}
		c := &client{t: t, base: p.base, key: km[1], secret: sm[1], version: "2.0.0"}
		c.expect(200, "POST", "/xapi/statements", e2eStatement("", "ann@example.com", "attempted", "quiz"))
		c.expect(200, "GET", "/xapi/statements", nil)
		if out := mustAdmin(t, p.base, "credential", "list", "--org", "acme"); !strings.Contains(out, km[1]) || !strings.Contains(out, "active") || strings.Contains(out, sm[1]) {
			t.Errorf("credential list:\n%s", out)
		}
		mustAdmin(t, p.base, "credential", "revoke", "--key", km[1])
		c.expect(401, "GET", "/xapi/statements", nil)
		if out := mustAdmin(t, p.base, "credential", "list", "--org", "acme"); !strings.Contains(out, "revoked") {
			t.Errorf("credential list after revoke:\n%s", out)
		}

		// Errors: the server's message, and usage errors (exit status 2).
		out, err := admin(t, p.base, "credential", "create", "--org", "acme", "--name", "x", "--scope", "everything")
		if err == nil || !strings.Contains(err.Error(), "not an xAPI scope") {
			t.Errorf("bad scope: %v\n%s", err, out)
		}
		var cerr *ConfigError
		if _, err := admin(t, p.base, "credential", "create", "--org", "acme"); !errors.As(err, &cerr) || !strings.Contains(err.Error(), "--name") {
			t.Errorf("missing flags: %v, want a ConfigError naming --name", err)
		}
		if _, err := admin(t, p.base, "org", "create", "--name", "x", "--token", "wrong-token"); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("wrong token: %v, want a 401", err)
		}
	})
}

func TestAdminCLIWithoutAdminAPI(t *testing.T) {
	p := startLRS(t, "LRS_DATA_DIR="+t.TempDir())
	if !strings.Contains(p.out(), "admin API disabled") {
		t.Errorf("no log line says the admin API is disabled:\n%s", p.out())
	}
	if _, err := admin(t, p.base, "org", "list"); err == nil || !strings.Contains(err.Error(), "no admin API") {
		t.Errorf("lrs admin against a server without admin API: %v", err)
	}
}

// TestRevocationObservedOnSecondProcess: two processes share one MongoDB
// database; a credential revoked through the first is refused by the
// second within the 5 s cache TTL.
func TestRevocationObservedOnSecondProcess(t *testing.T) {
	env := append(mongoStoreEnv(t), "LRS_ADMIN_TOKEN="+testAdminToken)
	p1 := startLRS(t, env...)
	p2 := startLRS(t, env...)
	mustAdmin(t, p1.base, "org", "create", "--name", "Acme", "--id", "acme")
	out := mustAdmin(t, p1.base, "credential", "create", "--org", "acme", "--name", "app", "--scope", "all")
	km, sm := keyRE.FindStringSubmatch(out), secretRE.FindStringSubmatch(out)
	c2 := &client{t: t, base: p2.base, key: km[1], secret: sm[1], version: "2.0.0"}
	c2.expect(200, "GET", "/xapi/statements", nil) // cached on the second process
	mustAdmin(t, p1.base, "credential", "revoke", "--key", km[1])
	revoked := time.Now()
	for {
		// The bound applies to when a request arrives, not to how long a
		// query takes on a slow test database.
		sent := time.Since(revoked)
		if c2.do("GET", "/xapi/statements", nil).status == 401 {
			break
		}
		if sent > 5*time.Second+500*time.Millisecond {
			t.Fatalf("the second process still accepted the credential in a request sent %v after its revocation (bound: 5 s)", sent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("revocation observed by the second process after %v", time.Since(revoked).Round(time.Millisecond))
}
