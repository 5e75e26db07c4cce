package webhook_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

func TestWriteCSVQuoting(t *testing.T) {
	var b bytes.Buffer
	err := webhook.WriteCSV(&b, []string{"name", "note", "score"}, [][]string{
		{"Lovelace, Ada", `said "hi"`, "92"},
		{"multi\nline", "", "7.5"},
		{" padded ", "ünïcode", "-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "name,note,score\r\n" +
		"\"Lovelace, Ada\",\"said \"\"hi\"\"\",92\r\n" +
		"\"multi\r\nline\",,7.5\r\n" + // a line break inside a field is CRLF too
		"\" padded \",ünïcode,-1\r\n" // leading space quoted, so no importer trims it
	if b.String() != want {
		t.Fatalf("csv\n%q\nwant\n%q", b.String(), want)
	}
	// A reader gets the same cells back.
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || recs[1][0] != "Lovelace, Ada" || recs[1][1] != `said "hi"` || recs[2][0] != "multi\nline" {
		t.Errorf("read back %q, %v", recs, err)
	}
}

func fileConfig(addr, hostKey string) webhook.Config {
	return webhook.Config{
		Mode: webhook.ModeFile, Schedule: "0 5 * * *", Zone: "America/Chicago",
		SFTPAddress: addr, SFTPUser: "lrs", SFTPDir: "inbox", SFTPHostKey: hostKey, FilePrefix: "chapter",
		Fields: []webhook.Field{
			{Target: "username", Source: "participant.email", Required: true},
			{Target: "uniqueid", Source: "result.key", Required: true},
			{Target: "date", Source: "result.completed_at", Format: "date:MM/DD/YYYY"},
			{Target: "course", Source: "objective.name"},
			{Target: "status", Source: "result.status", Format: `enum:{passed:"Complete",failed:"Incomplete",*:"In progress"}`},
			{Target: "score", Source: "result.score.scaled", Format: "percent"},
			{Target: "attempt", Source: "result.attempts"},
		},
	}
}

func TestWriteFile(t *testing.T) {
	w := newHook(t, fileConfig("sftp.example.org", "SHA256:"+strings.Repeat("A", 43)), webhook.Secrets{SFTPPassword: "pw"}, webhook.Options{})
	a, b, c := input("a"), input("b"), input("c")
	b.Objective.Name = `Ethics, "advanced"`
	failed := false
	b.Result.Passed = &failed
	c.Participant.Email = "" // required: rejected, not written
	at := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	f := w.WriteFile([]webhook.Input{a, b, c}, at)
	want := "username,uniqueid,date,course,status,score,attempt\r\n" +
		"ada@example.com," + webhook.Key("cfg-1", "a") + ",09/02/2026,Fire safety drill,Complete,92,1\r\n" +
		"ada@example.com," + webhook.Key("cfg-1", "b") + `,09/02/2026,"Ethics, ""advanced""",Incomplete,92,1` + "\r\n"
	if string(f.Data) != want {
		t.Errorf("file\n%s\nwant\n%s", f.Data, want)
	}
	if strings.Join(f.Results, ",") != "a,b" || !strings.Contains(f.Rejected["c"], "username: required") {
		t.Errorf("results %v rejected %v", f.Results, f.Rejected)
	}
	// The name: prefix, local time of the schedule's zone, content id.
	if !regexp.MustCompile(`^chapter-20260902-050000-[0-9a-f]{8}\.csv$`).MatchString(f.Name) {
		t.Errorf("name %s", f.Name)
	}
	if again := w.WriteFile([]webhook.Input{a, b, c}, at); again.Name != f.Name {
		t.Errorf("the same file got another name: %s", again.Name)
	}
	if other := w.WriteFile([]webhook.Input{a}, at); other.Name == f.Name {
		t.Errorf("another file got the same name")
	}
	// No result since the last file: the header alone.
	if empty := w.WriteFile(nil, at); string(empty.Data) != "username,uniqueid,date,course,status,score,attempt\r\n" {
		t.Errorf("empty file %q", empty.Data)
	}
	p := w.Preview([]webhook.Input{a}, at)
	if p.FileName == "" || !strings.HasPrefix(p.Body, "username,") || p.Method != "" {
		t.Errorf("preview %+v", p)
	}
}

func newKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(pem.EncodeToMemory(block))
}

func TestUploadSFTP(t *testing.T) {
	clientKey, clientPEM := newKey(t)
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "pw-123", AuthorizedKey: clientKey.PublicKey()})
	if err := os.Mkdir(filepath.Join(srv.Root, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		pin  string
		sec  webhook.Secrets
	}{
		{"password, key pinned", srv.HostKeyLine(), webhook.Secrets{SFTPPassword: "pw-123"}},
		{"private key, fingerprint pinned", ssh.FingerprintSHA256(srv.HostKey), webhook.Secrets{SFTPPrivateKey: clientPEM}},
		{"known_hosts line", "sftp.example.org " + srv.HostKeyLine(), webhook.Secrets{SFTPPassword: "pw-123"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newHook(t, fileConfig(srv.Addr, tc.pin), tc.sec, webhook.Options{})
			in := input(tc.name)
			f := w.WriteFile([]webhook.Input{in}, at)
			if o := w.Upload(context.Background(), f); o.Class != webhook.ClassSuccess {
				t.Fatalf("Upload: %+v", o)
			}
			if got := srv.Files(t)["inbox/"+f.Name]; got != string(f.Data) {
				t.Fatalf("uploaded %q, want %q; files %v", got, f.Data, srv.Files(t))
			}
			// The final name is only ever the target of a rename: a reader
			// never sees it partly written.
			for _, op := range srv.Ops() {
				if op.Path == "/inbox/"+f.Name && op.Method != "Stat" {
					t.Errorf("the final name was %s directly", op.Method)
				}
			}
			// Repeated (a crash before the upload was recorded): success, one file.
			if o := w.Upload(context.Background(), f); o.Class != webhook.ClassSuccess {
				t.Fatalf("repeat Upload: %+v", o)
			}
			for name := range srv.Files(t) {
				if strings.Contains(name, ".part") {
					t.Errorf("a temporary file is left: %s", name)
				}
			}
		})
	}
	var renamed bool
	for _, op := range srv.Ops() {
		if op.Method == "Rename" && strings.HasPrefix(op.Path, "/inbox/.chapter-") && strings.HasSuffix(op.Path, ".csv.part") {
			renamed = true
		}
	}
	if !renamed {
		t.Errorf("no rename from a temporary name: %v", srv.Ops())
	}
}

// TestUploadRefusesWrongHostKey: a server presenting another key than the
// pinned one gets no login and no file.
func TestUploadRefusesWrongHostKey(t *testing.T) {
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "pw-123"})
	impostor, _ := newKey(t)
	for _, pin := range []string{
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(impostor.PublicKey()))),
		ssh.FingerprintSHA256(impostor.PublicKey()),
	} {
		w := newHook(t, fileConfig(srv.Addr, pin), webhook.Secrets{SFTPPassword: "pw-123"}, webhook.Options{})
		o := w.Upload(context.Background(), w.WriteFile([]webhook.Input{input("r")}, time.Now()))
		if o.Class != webhook.ClassDestination || !strings.Contains(o.Message, "not the pinned "+ssh.FingerprintSHA256(impostor.PublicKey())) ||
			!strings.Contains(o.Message, ssh.FingerprintSHA256(srv.HostKey)) {
			t.Fatalf("outcome %+v", o)
		}
	}
	if srv.Logins() != 0 || len(srv.Files(t)) != 0 || len(srv.Ops()) != 0 {
		t.Errorf("logins %d, files %v, ops %v", srv.Logins(), srv.Files(t), srv.Ops())
	}
}

func TestUploadFailures(t *testing.T) {
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "pw-123"})
	t.Run("wrong password", func(t *testing.T) {
		w := newHook(t, fileConfig(srv.Addr, srv.HostKeyLine()), webhook.Secrets{SFTPPassword: "nope-nope"}, webhook.Options{})
		o := w.Upload(context.Background(), w.WriteFile(nil, time.Now()))
		if o.Class != webhook.ClassDestination || !strings.Contains(o.Message, "refused the login") || strings.Contains(o.Message, "nope-nope") {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		c := fileConfig(srv.Addr, srv.HostKeyLine())
		c.SFTPDir = "no/such/dir"
		w := newHook(t, c, webhook.Secrets{SFTPPassword: "pw-123"}, webhook.Options{})
		if o := w.Upload(context.Background(), w.WriteFile(nil, time.Now())); o.Class != webhook.ClassDestination || !strings.Contains(o.Message, "sftp:") {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("nobody listening", func(t *testing.T) {
		ln := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "x", Password: "y"})
		addr := ln.Addr
		ln.Close()
		w := newHook(t, fileConfig(addr, srv.HostKeyLine()), webhook.Secrets{SFTPPassword: "pw-123"}, webhook.Options{})
		if o := w.Upload(context.Background(), w.WriteFile(nil, time.Now())); o.Class != webhook.ClassTransport {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("a webhook is not a file destination", func(t *testing.T) {
		w := newHook(t, simpleConfig("https://x.example"), webhook.Secrets{}, webhook.Options{})
		if o := w.Upload(context.Background(), webhook.File{}); o.Class != webhook.ClassDestination {
			t.Fatalf("outcome %+v", o)
		}
	})
}
