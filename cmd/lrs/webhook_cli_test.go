package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// The admin CLI's configuration preview, files and file, against the
// booted binary on both engines: the preview is the exact request (or
// file) without a secret, and nothing is sent; the kept files are listed
// and downloaded byte for byte, to stdout or a file. The SFTP server's
// address is egress-checked at save by the binary's policy.
func TestWebhookCLIPreviewAndFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret})
		srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "sftp-pw-123"})
		env := upstreamEnv(storeEnv)
		up := startLRS(t, env...)
		a := fwdAdmin(t, up)
		bearer := adminBearer()
		create := func(body map[string]any) string {
			t.Helper()
			r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", body, bearer...)
			var cfg struct{ ID string }
			if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
				t.Fatalf("configuration create answered %s (%v)", r.body, err)
			}
			return cfg.ID
		}
		const apiKey = "ak-live-s3cret-42"
		hook := create(map[string]any{"name": "AMS", "contact_email": "ops@example.com", "type": "webhook",
			"properties": map[string]string{"url": recv.URL + "/hook", "auth": "api_key", "api_key_header": "X-API-Key",
				"fields": `[{"target":"member_email","source":"participant.email","required":true},{"target":"ref","source":"result.key"}]`},
			"secrets": map[string]string{"signing_secret": whSecret, "api_key": apiKey}})
		fileProps := func(addr string) map[string]string {
			return map[string]string{"mode": "file", "schedule": "0 5 * * *", "zone": "Europe/Berlin", "sftp_address": addr,
				"sftp_user": "lrs", "sftp_host_key": srv.HostKeyLine(), "file_prefix": "ce",
				"fields": `[{"target":"Member Email","source":"participant.email","required":true},{"target":"Course","source":"objective.name"}]`}
		}
		file := create(map[string]any{"name": "Nightly file", "contact_email": "ops@example.com", "type": "webhook",
			"properties": fileProps(srv.Addr), "secrets": map[string]string{"sftp_password": "sftp-pw-123"}})

		// The binary's egress policy (loopback allowed, not private
		// networks) holds for the SFTP server's address at save.
		r := a.expect(http.StatusBadRequest, http.MethodPost, "/configurations", map[string]any{"name": "Private", "contact_email": "ops@example.com",
			"type": "webhook", "properties": fileProps("10.0.0.7:22"), "secrets": map[string]string{"sftp_password": "sftp-pw-123"}}, bearer...)
		if !strings.Contains(string(r.body), "properties.sftp_address: 10.0.0.7 is a private address") {
			t.Errorf("a private SFTP address: %s", r.body)
		}

		out := mustAdmin(t, up.base, "configuration", "preview", "--org", "default", hook)
		for _, want := range []string{"POST " + recv.URL + "/hook\n", "X-Api-Key: ", "Webhook-Signature: ", `"member_email"`, `"ref"`} {
			if !strings.Contains(out, want) {
				t.Errorf("the preview has no %q:\n%s", want, out)
			}
		}
		for _, secret := range []string{apiKey, whSecret, strings.TrimPrefix(whSecret, "whsec_")} {
			if strings.Contains(out, secret) {
				t.Errorf("the preview shows a secret:\n%s", out)
			}
		}
		var p struct {
			Method, URL string
			Body        string
		}
		if err := json.Unmarshal([]byte(mustAdmin(t, up.base, "configuration", "preview", "--org", "default", "--id", hook, "--json")), &p); err != nil ||
			p.Method != http.MethodPost || !json.Valid([]byte(p.Body)) {
			t.Errorf("preview --json: %+v, %v", p, err)
		}
		out = mustAdmin(t, up.base, "configuration", "preview", "--org", "default", file)
		if !strings.HasPrefix(out, "file: ce-") || !strings.Contains(out, "\nMember Email,Course\r\n") || strings.Contains(out, "sftp-pw-123") {
			t.Errorf("the file preview:\n%q", out)
		}
		// A real result: Ada's completion of an objective (attached to no
		// configuration, so that nothing owes it a delivery).
		r = a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{"name": "Fire safety", "activity_id": resAct}, bearer...)
		var obj struct{ ID string }
		if err := json.Unmarshal(r.body, &obj); err != nil || obj.ID == "" {
			t.Fatalf("objective create answered %s (%v)", r.body, err)
		}
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("whcli-a", 0, 0.9, true), ",")+"]")
		var real string
		forwardtest.Eventually(t, 10*time.Second, func() error {
			var err error
			real, err = admin(t, up.base, "configuration", "preview", "--org", "default", hook, "--objective", obj.ID, "--participant", "mbox:mailto:ada@example.com", "--registration", resReg)
			return err
		})
		for _, want := range []string{"POST " + recv.URL + "/hook\n", `"member_email":"ada@example.com"`,
			"note: the objective is not attached to this configuration"} {
			if !strings.Contains(real, want) {
				t.Errorf("the preview of Ada's result has no %q:\n%s", want, real)
			}
		}
		if strings.Contains(real, apiKey) || strings.Contains(real, strings.TrimPrefix(whSecret, "whsec_")) {
			t.Errorf("the preview of a result shows a secret:\n%s", real)
		}
		if out, err := admin(t, up.base, "configuration", "preview", "--org", "default", hook, "--objective", obj.ID, "--participant", "mbox:mailto:nobody@example.com"); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("the preview of a missing result: %v\n%s", err, out)
		}
		if n := len(recv.Requests()); n != 0 || len(srv.Files(t)) != 0 {
			t.Errorf("the previews sent %d requests and %d files", n, len(srv.Files(t)))
		}
		if out := mustAdmin(t, up.base, "configuration", "files", "--org", "default", file); strings.TrimSpace(out) != "NAME  ROWS  BYTES  UPLOADED" {
			t.Errorf("files before any upload:\n%s", out)
		}

		// A kept file (as the engine keeps an upload: forward/webhook's
		// TestScheduledFileUploadedOnceAtItsTime), put in the store while
		// the binary is stopped.
		up.stop()
		data := "Member Email,Course\r\nada@example.com,Fire safety\r\n\"o,brien@example.com\",Fire safety\r\n"
		name := "ce-20260903-050000-3f2a9c1e.csv"
		putKeptFile(t, env, forward.KeptFile{Org: "default", ConfigurationID: file, Name: name, Data: []byte(data), Rows: 2,
			CreatedAt: time.Date(2026, 9, 3, 3, 0, 1, 0, time.UTC)})
		up = startLRS(t, env...)

		out = mustAdmin(t, up.base, "configuration", "files", "--org", "default", file)
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || strings.Join(strings.Fields(lines[1]), " ") != fmt.Sprintf("%s 2 %d 2026-09-03T03:00:01Z", name, len(data)) {
			t.Errorf("files:\n%s", out)
		}
		if out := mustAdmin(t, up.base, "configuration", "file", "--org", "default", file, name); out != data {
			t.Errorf("file to stdout: %q, want %q", out, data)
		}
		path := filepath.Join(t.TempDir(), "today.csv")
		out = mustAdmin(t, up.base, "configuration", "file", "--org", "default", "--id", file, name, "-o", path)
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data || !strings.Contains(out, fmt.Sprintf("%d bytes written to %s", len(data), path)) {
			t.Errorf("file -o: %q (%v); said %q", got, err, out)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("the downloaded file's mode: %v (%v)", st.Mode(), err)
		}
		if out, err := admin(t, up.base, "configuration", "file", "--org", "default", file, "nope.csv"); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("a missing file: %v\n%s", err, out)
		}
		if out, err := admin(t, up.base, "configuration", "file", "--org", "default", file); err == nil || !strings.Contains(err.Error(), "the file's name") {
			t.Errorf("no file name: %v\n%s", err, out)
		}
		if out, err := admin(t, up.base, "configuration", "files", "--org", "default", hook+"-nope"); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("files of an unknown configuration: %v\n%s", err, out)
		}
	})
}

// putKeptFile stores f in the store the environment env selects (the
// binary using it stopped).
func putKeptFile(t *testing.T, env []string, f forward.KeptFile) {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cfg, err := loadConfig(func(k string) string { return vars[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutFile(t.Context(), f); err != nil {
		t.Fatal(err)
	}
}
