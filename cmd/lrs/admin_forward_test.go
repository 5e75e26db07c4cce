package main

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

var idRE = regexp.MustCompile(`(?m)^id:\s+(\S+)$`)

// TestAdminForwardCLI is the README's forwarding walkthrough: create an LMS
// configuration (this server is its own downstream LRS), test it, attach
// it to an objective, read its status.
func TestAdminForwardCLI(t *testing.T) {
	const key, secret = "forward-key", "forward-secret-value-123"
	fwdKey := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("f", 32)))
	p := startLRS(t, "LRS_DATA_DIR="+t.TempDir(), "LRS_ADMIN_TOKEN="+testAdminToken, "LRS_FORWARD_KEY="+fwdKey, "LRS_FORWARD_ALLOWED_NETWORKS="+loopbackNetworks,
		"LRS_BOOTSTRAP_KEY="+key, "LRS_BOOTSTRAP_SECRET="+secret)

	out := mustAdmin(t, p.base, "configuration", "create", "--org", "default", "--name", "Self", "--contact-email", "ops@example.com",
		"--endpoint", p.base+"/xapi/", "--version", "2.0.0", "--key", key, "--secret", secret)
	m := idRE.FindStringSubmatch(out)
	if m == nil || strings.Contains(out, secret) {
		t.Fatalf("configuration create:\n%s", out)
	}
	cfgID := m[1]
	if out := mustAdmin(t, p.base, "configuration", "test", "--org", "default", "--id", cfgID); !strings.Contains(out, "status:  OK") {
		t.Errorf("configuration test:\n%s", out)
	}
	if out := mustAdmin(t, p.base, "configuration", "list", "--org", "default"); !strings.Contains(out, cfgID) || strings.Contains(out, secret) {
		t.Errorf("configuration list:\n%s", out)
	}
	if out := mustAdmin(t, p.base, "configuration", "status", "--org", "default", "--id", cfgID); !strings.Contains(out, "Not attempted") {
		t.Errorf("configuration status:\n%s", out)
	}
	if out := mustAdmin(t, p.base, "configuration", "list", "--org", "default", "--json"); !strings.Contains(out, `"secrets_set": true`) || strings.Contains(out, secret) {
		t.Errorf("configuration list --json:\n%s", out)
	}
	out = mustAdmin(t, p.base, "objective", "create", "--org", "default", "--name", "Quiz", "--activity-id", "http://example.com/quiz",
		"--verb", "http://adlnet.gov/expapi/verbs/passed", "--configuration", cfgID)
	if !idRE.MatchString(out) || !strings.Contains(out, cfgID) {
		t.Errorf("objective create:\n%s", out)
	}
	if out := mustAdmin(t, p.base, "objective", "list", "--org", "default"); !strings.Contains(out, "http://example.com/quiz") {
		t.Errorf("objective list:\n%s", out)
	}
	// Validation: every problem in one message.
	out, err := admin(t, p.base, "configuration", "create", "--org", "default", "--name", "Bad", "--contact-email", "nope",
		"--endpoint", "ftp://x", "--auth", "oauth2")
	if err == nil || !strings.Contains(err.Error(), "contact_email") || !strings.Contains(err.Error(), "token_url") {
		t.Errorf("bad configuration: %v\n%s", err, out)
	}
	if strings.Contains(p.out(), secret) {
		t.Errorf("the server log holds the destination secret")
	}
}
