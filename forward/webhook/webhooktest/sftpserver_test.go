package webhooktest_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

func clientKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dial(t *testing.T, srv *webhooktest.SFTPServer, user string, auth ssh.AuthMethod) (*sftp.Client, error) {
	t.Helper()
	c, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey)})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	fs, err := sftp.NewClient(c)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { fs.Close() })
	return fs, nil
}

func TestSFTPServerLogins(t *testing.T) {
	key, other := clientKey(t), clientKey(t)
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "pw", AuthorizedKey: key.PublicKey()})
	cases := []struct {
		name string
		user string
		auth ssh.AuthMethod
		ok   bool
	}{
		{"password", "lrs", ssh.Password("pw"), true},
		{"wrong password", "lrs", ssh.Password("nope"), false},
		{"wrong user", "root", ssh.Password("pw"), false},
		{"key", "lrs", ssh.PublicKeys(key), true},
		{"unknown key", "lrs", ssh.PublicKeys(other), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, srv, tc.user, tc.auth)
			if (err == nil) != tc.ok {
				t.Fatalf("login: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if srv.Logins() != 2 {
		t.Errorf("%d logins, want 2", srv.Logins())
	}
	// A client pinning another host key never logs in.
	_, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{User: "lrs", Auth: []ssh.AuthMethod{ssh.Password("pw")}, HostKeyCallback: ssh.FixedHostKey(other.PublicKey())})
	if err == nil || srv.Logins() != 2 {
		t.Errorf("wrong host key: %v, %d logins", err, srv.Logins())
	}
	if !strings.HasPrefix(srv.HostKeyLine(), "ssh-ed25519 AAAA") {
		t.Errorf("host key line %q", srv.HostKeyLine())
	}
}

func TestSFTPServerFiles(t *testing.T) {
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "pw"})
	fs, err := dial(t, srv, "lrs", ssh.Password("pw"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(name, content string) error {
		f, err := fs.Create(name)
		if err != nil {
			return err
		}
		if _, err := f.Write([]byte(content)); err != nil {
			return err
		}
		return f.Close()
	}
	if err := fs.Mkdir("/in"); err != nil {
		t.Fatal(err)
	}
	if err := put("/in/a.part", "rows"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename("/in/a.part", "/in/a.csv"); err != nil {
		t.Fatal(err)
	}
	// Paths stay inside the root, whatever the client asks for.
	if err := put("/../../escape.txt", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(srv.Root), "escape.txt")); err == nil {
		t.Fatal("a file was written outside the root")
	}
	// Renaming onto an existing name fails (SSH_FXP_RENAME).
	if err := put("/in/b.part", "other"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename("/in/b.part", "/in/a.csv"); err == nil {
		t.Error("rename onto an existing file succeeded")
	}
	f, err := fs.Open("/in/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	files := srv.Files(t)
	if string(b) != "rows" || files["in/a.csv"] != "rows" || files["escape.txt"] != "x" || files["in/b.part"] != "other" {
		t.Errorf("read %q, files %v", b, files)
	}
	var ops []string
	for _, op := range srv.Ops() {
		ops = append(ops, op.Method+" "+op.Path+" "+op.Target)
	}
	if got := strings.Join(ops, "|"); !strings.Contains(got, "Put /in/a.part |") || !strings.Contains(got, "Rename /in/a.part /in/a.csv") {
		t.Errorf("ops %s", got)
	}
}

func TestSFTPServerClose(t *testing.T) {
	srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "pw"})
	if _, err := dial(t, srv, "lrs", ssh.Password("pw")); err != nil {
		t.Fatal(err)
	}
	srv.Close() // returns with a client still connected
	if c, err := net.Dial("tcp", srv.Addr); err == nil {
		c.Close()
		t.Error("still listening after Close")
	}
}
