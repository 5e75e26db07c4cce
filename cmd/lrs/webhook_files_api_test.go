package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
	"github.com/lrs-project/lrs/lrs/api"
)

// The files a file-mode webhook uploaded are listed and downloaded, byte
// for byte, through the admin API (the engine keeps them: forward/webhook's
// TestScheduledFileUploadedOnceAtItsTime); a file-mode configuration is
// validated as one (its SFTP settings), and its test logs in without
// writing.
func TestWebhookFilesAdminAPI(t *testing.T) {
	db := openPebble(t)
	sealer, err := forward.NewSealer([]byte(strings.Repeat("k", forward.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	types := forwardtest.Registry(t, webhook.Type(webhook.TypeOptions{Egress: forwardtest.Loopback}))
	n := newAPINode(t, db, func(o *api.Options) {
		o.Admin.Forward = forward.NewAdmin(db, types, forward.AdminOptions{Sealer: sealer, TestTimeout: 10 * time.Second, Egress: forwardtest.Loopback})
	})
	for _, org := range []string{"org-a", "org-b"} {
		n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"`+org+`","name":"Org `+org+`"}`, 201, nil)
	}
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "sftp-pw-123"})
	b := n.admin("POST", cfgPath("org-a"), `{"name":"Nightly","contact_email":"ops@example.com","type":"webhook",
		"properties":{"mode":"file","schedule":"0 2 * * *","zone":"America/Chicago","sftp_address":"`+srv.Addr+`"}}`, 400, nil)
	for _, want := range []string{"properties.sftp_user", "properties.sftp_host_key", "secrets.sftp_password", "properties.fields"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the 400 does not name %s: %s", want, b)
		}
	}
	var cf cfgOut
	n.admin("POST", cfgPath("org-a"), `{"name":"Nightly","contact_email":"ops@example.com","type":"webhook",
		"properties":{"mode":"file","schedule":"0 2 * * *","zone":"America/Chicago","sftp_address":"`+srv.Addr+`","sftp_user":"lrs",
		"sftp_host_key":"`+srv.HostKeyLine()+`","fields":"[{\"target\":\"Email\",\"source\":\"participant.email\"}]"},
		"secrets":{"sftp_password":"sftp-pw-123"}}`, 201, &cf)
	// The SFTP server's address is checked against the egress policy at
	// save, like a URL (the policy allows loopback here, not private
	// networks), and moving it needs the secrets entered again.
	fileCfg := func(addr, secrets string) string {
		return `{"name":"Nightly","contact_email":"ops@example.com","type":"webhook",
		"properties":{"mode":"file","schedule":"0 2 * * *","zone":"America/Chicago","sftp_address":"` + addr + `","sftp_user":"lrs",
		"sftp_host_key":"` + srv.HostKeyLine() + `","fields":"[{\"target\":\"Email\",\"source\":\"participant.email\"}]"}` + secrets + `}`
	}
	for addr, want := range map[string]string{
		"10.0.0.7:22":        "properties.sftp_address: 10.0.0.7 is a private address",
		"169.254.169.254":    "properties.sftp_address: 169.254.169.254 is a link-local address",
		"2130706433:22":      `properties.sftp_address: host \"2130706433\" is an address in a non-standard notation`,
		"sftp.example.org:0": `properties.sftp_address: port \"0\": want 1 to 65535`,
	} {
		b := n.admin("POST", cfgPath("org-a"), fileCfg(addr, `,"secrets":{"sftp_password":"sftp-pw-123"}`), 400, nil)
		if !strings.Contains(string(b), want) || strings.Contains(string(b), "sftp-pw-123") {
			t.Errorf("sftp_address %s: the 400 does not say %q: %s", addr, want, b)
		}
	}
	b = n.admin("PUT", cfgPath("org-a", "/", cf.ID), fileCfg("127.0.0.2:2222", ""), 400, nil)
	if !strings.Contains(string(b), "secrets: properties.sftp_address moves from") {
		t.Errorf("moving the SFTP server without the secrets: %s", b)
	}
	n.admin("PUT", cfgPath("org-a", "/", cf.ID), fileCfg(srv.Addr, ""), 200, nil) // unchanged: the secrets are kept

	var test testOut
	n.admin("POST", cfgPath("org-a", "/", cf.ID, "/test"), "", 200, &test)
	if !test.OK || len(srv.Files(t)) != 0 {
		t.Errorf("the test: %+v; files %v", test, srv.Files(t))
	}

	data := "Email\r\nada@example.com\r\n\"o'brien@example.com\"\r\n"
	at := time.Date(2026, 9, 3, 7, 0, 0, 0, time.UTC)
	name := "lrs-results-20260903-020000-3f2a9c1e.csv"
	if err := db.PutFile(t.Context(), forward.KeptFile{Org: "org-a", ConfigurationID: cf.ID, Name: name, Data: []byte(data), Rows: 2, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Files []struct {
			Name      string
			Size      int
			Rows      int
			CreatedAt time.Time `json:"created_at"`
		}
	}
	n.admin("GET", cfgPath("org-a", "/", cf.ID, "/files"), "", 200, &list)
	if len(list.Files) != 1 || list.Files[0].Name != name || list.Files[0].Size != len(data) || list.Files[0].Rows != 2 || !list.Files[0].CreatedAt.Equal(at) {
		t.Fatalf("files: %+v", list)
	}
	r, err := http.NewRequest("GET", n.srv.URL+cfgPath("org-a", "/", cf.ID, "/files/", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(got) != data || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		res.Header.Get("Content-Disposition") != "attachment; filename="+name {
		t.Errorf("download: %d %q %v", res.StatusCode, got, res.Header)
	}
	n.admin("GET", cfgPath("org-a", "/", cf.ID, "/files/nope.csv"), "", 404, nil)
	n.admin("GET", cfgPath("org-b", "/", cf.ID, "/files/", name), "", 404, nil)
	n.admin("GET", cfgPath("org-b", "/", cf.ID, "/files"), "", 404, nil)
}
