package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth/mail/mailtest"
)

var (
	accountIDRE = regexp.MustCompile(`(?m)^id:\s+(\S+)$`)
	linkRE      = regexp.MustCompile(`(?m)^link:\s+(\S+)$`)
)

// TestAccountsCLI is the README's accounts walkthrough on both engines: an
// operator created with the CLI signs in; an invitation is mailed through
// the SMTP server (or, without one, printed) and accepted; a disabled
// account cannot sign in and its sessions end.
func TestAccountsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		smtp := mailtest.NewServer(t)
		p := startLRS(t, append(storeEnv, "LRS_ADMIN_TOKEN="+testAdminToken, "LRS_SMTP_HOST="+smtp.Host,
			"LRS_SMTP_PORT="+strconv.Itoa(smtp.Port), "LRS_SMTP_FROM=lrs@example.com")...)
		if !strings.Contains(p.out(), "console: "+p.base+"/console/") {
			t.Errorf("the console's address is not printed:\n%s", p.out())
		}
		pw := filepath.Join(t.TempDir(), "ops.pw")
		if err := os.WriteFile(pw, []byte("an operator passphrase\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustAdmin(t, p.base, "org", "create", "--name", "Acme", "--id", "acme")
		out := mustAdmin(t, p.base, "account", "create", "--email", "ops@example.com", "--role", "operator", "--password-file", pw)
		if !strings.Contains(out, "account created") || accountIDRE.FindStringSubmatch(out) == nil {
			t.Fatalf("account create:\n%s", out)
		}
		ops := signInHTTP(t, p.base, "ops@example.com", "an operator passphrase", http.StatusCreated)

		out = mustAdmin(t, p.base, "invitation", "create", "--email", "ada@acme.example", "--role", "org_admin", "--org", "acme", "--name", "Ada")
		if !strings.Contains(out, "invitation mailed to ada@acme.example") {
			t.Fatalf("invitation create:\n%s", out)
		}
		m := smtp.Wait(t, 10*time.Second)
		u, err := url.Parse(m.Link())
		if err != nil || u.Path != "/console/accept" || !strings.HasPrefix(m.Link(), p.base) {
			t.Fatalf("invitation link %q", m.Link())
		}
		if out := mustAdmin(t, p.base, "invitation", "list"); !strings.Contains(out, "ada@acme.example") {
			t.Errorf("invitation list:\n%s", out)
		}
		body, _ := json.Marshal(map[string]string{"token": u.Query().Get("token"), "password": "ada's own passphrase"})
		res, err := http.Post(p.base+"/admin/v1/invitations/accept", "application/json", strings.NewReader(string(body)))
		if err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("accept the invitation: %v %v", res.Status, err)
		}
		res.Body.Close()
		ada := signInHTTP(t, p.base, "ada@acme.example", "ada's own passphrase", http.StatusCreated)
		if got := getStatus(t, ada, p.base+"/admin/v1/orgs/acme/credentials"); got != 200 {
			t.Errorf("ada reads acme's credentials: %d", got)
		}
		if got := getStatus(t, ada, p.base+"/admin/v1/orgs/default/credentials"); got != 403 {
			t.Errorf("ada reads another organization's credentials: %d, want 403", got)
		}
		out = mustAdmin(t, p.base, "account", "list")
		var adaID string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "ada@acme.example") {
				adaID = strings.Fields(line)[0]
			}
		}
		if adaID == "" || !strings.Contains(out, "ops@example.com") {
			t.Fatalf("account list:\n%s", out)
		}
		mustAdmin(t, p.base, "account", "disable", "--id", adaID)
		if got := getStatus(t, ada, p.base+"/admin/v1/session"); got != 401 {
			t.Errorf("a disabled account's session: %d, want 401", got)
		}
		signInHTTP(t, p.base, "ada@acme.example", "ada's own passphrase", http.StatusForbidden)
		if out := mustAdmin(t, p.base, "account", "sign-out", "--id", adaID); !strings.Contains(out, "0 session(s)") {
			t.Errorf("sign-out of a disabled account:\n%s", out)
		}
		if got := getStatus(t, ops, p.base+"/admin/v1/accounts"); got != 200 {
			t.Errorf("the operator lists accounts: %d", got)
		}
	})
}

// TestInvitationWithoutSMTP: without a mail server the link is printed.
func TestInvitationWithoutSMTP(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	p := startLRS(t, "LRS_DATA_DIR="+t.TempDir(), "LRS_ADMIN_TOKEN="+testAdminToken)
	out := mustAdmin(t, p.base, "invitation", "create", "--email", "ops@example.com", "--role", "operator")
	m := linkRE.FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[1], p.base+"/console/accept?token=") {
		t.Fatalf("invitation create without SMTP printed no link:\n%s", out)
	}
	id := accountIDRE.FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no invitation id:\n%s", out)
	}
	mustAdmin(t, p.base, "invitation", "withdraw", "--id", id[1])
	if out := mustAdmin(t, p.base, "invitation", "list"); strings.Contains(out, "ops@example.com") {
		t.Errorf("a withdrawn invitation is listed:\n%s", out)
	}
}

// signInHTTP signs in with a password and returns a client holding the
// session cookie.
func signInHTTP(t *testing.T, base, email, password string, want int) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, err := c.Post(base+"/admin/v1/session", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("sign-in of %s: %d, want %d", email, res.StatusCode, want)
	}
	return c
}

func getStatus(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
