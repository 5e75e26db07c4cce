package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestXAPIClientLibrary drives the booted binary with @xapi/xapi, a widely
// used xAPI client library from npm (tools/xapi-client), through
// statements, paging, voiding, state, both profiles, activities, agents and
// attachments. make test installs the library first (npm ci) and sets
// LRS_TEST_REQUIRE_NODE=1, so a missing library fails instead of skipping.
func TestXAPIClientLibrary(t *testing.T) {
	dir, err := filepath.Abs("../../tools/xapi-client")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, statErr := os.Stat(filepath.Join(dir, "node_modules", "@xapi", "xapi", "package.json"))
	if err != nil || statErr != nil {
		if os.Getenv("LRS_TEST_REQUIRE_NODE") != "" {
			t.Fatalf("node or the client library is missing (node: %v; library: %v): run npm ci --prefix tools/xapi-client", err, statErr)
		}
		t.Skip("node or tools/xapi-client/node_modules missing (make test installs them)")
	}
	const key, secret = "client-key", "client-secret-123"
	p := startLRS(t, "LRS_DATA_DIR="+t.TempDir(), "LRS_BOOTSTRAP_KEY="+key, "LRS_BOOTSTRAP_SECRET="+secret)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client-test.mjs", p.base+"/xapi/", key, secret)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("client output:\n%s", out)
	if err != nil {
		t.Fatalf("the xAPI client library failed against the server: %v\nserver output:\n%s", err, p.out())
	}
}
