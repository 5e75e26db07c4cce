package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// sftpTarget is where a file-mode configuration uploads its files.
type sftpTarget struct {
	addr    string
	user    string
	dir     string
	auth    []ssh.AuthMethod
	pin     hostKeyPin
	timeout time.Duration
}

// hostKeyPin is the one host key the server must present: a whole key,
// or its SHA256 fingerprint.
type hostKeyPin struct {
	key         ssh.PublicKey
	fingerprint string // SHA256:…
}

func (p hostKeyPin) String() string {
	if p.key != nil {
		return ssh.FingerprintSHA256(p.key)
	}
	return p.fingerprint
}

// ParseHostKey reads a pinned host key: an authorized_keys style line
// ("ssh-ed25519 AAAA… comment"), a known_hosts line ("host ssh-ed25519
// AAAA…"), or a fingerprint as ssh-keygen -l prints it ("SHA256:…").
func ParseHostKey(s string) (hostKeyPin, error) {
	s = strings.TrimSpace(s)
	if fp, ok := strings.CutPrefix(s, "SHA256:"); ok {
		if len(fp) != 43 || strings.ContainsAny(fp, "=") {
			return hostKeyPin{}, errors.New("a SHA256 fingerprint is SHA256: followed by 43 base64 characters")
		}
		return hostKeyPin{fingerprint: s}, nil
	}
	if key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s)); err == nil {
		return hostKeyPin{key: key}, nil
	}
	if _, _, key, _, _, err := ssh.ParseKnownHosts([]byte(s)); err == nil {
		return hostKeyPin{key: key}, nil
	}
	return hostKeyPin{}, errors.New(`want the server's public key ("ssh-ed25519 AAAA…", as in known_hosts) or its fingerprint ("SHA256:…")`)
}

// HostKeyError is an SFTP server presenting another key than the pinned
// one: the upload is refused before anything is sent.
type HostKeyError struct {
	Got, Want string // fingerprints
}

func (e *HostKeyError) Error() string {
	return fmt.Sprintf("the SFTP server presented host key %s, not the pinned %s: refused (if the server's key was changed on purpose, pin the new one)", e.Got, e.Want)
}

func (p hostKeyPin) check(_ string, _ net.Addr, key ssh.PublicKey) error {
	got := ssh.FingerprintSHA256(key)
	if p.key != nil {
		if !bytes.Equal(key.Marshal(), p.key.Marshal()) {
			return &HostKeyError{Got: got, Want: p.String()}
		}
		return nil
	}
	if got != p.fingerprint {
		return &HostKeyError{Got: got, Want: p.fingerprint}
	}
	return nil
}

// algorithms asks the server for the pinned key's type, so a server with
// several host keys presents the pinned one.
func (p hostKeyPin) algorithms() []string {
	if p.key == nil {
		return nil
	}
	if p.key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{p.key.Type()}
}

func compileSFTP(c Config, s Secrets, ps *problems) *sftpTarget {
	t := &sftpTarget{user: c.SFTPUser, dir: c.SFTPDir}
	switch host, port, err := net.SplitHostPort(c.SFTPAddress); {
	case c.SFTPAddress == "":
		ps.add("sftp_address", "required for file mode: the SFTP server's host[:port]")
	case err != nil && strings.Contains(err.Error(), "missing port"):
		t.addr = net.JoinHostPort(c.SFTPAddress, "22")
	case err != nil || host == "" || port == "":
		ps.add("sftp_address", "want host or host:port")
	default:
		t.addr = c.SFTPAddress
	}
	if c.SFTPUser == "" {
		ps.add("sftp_user", "required for file mode")
	}
	if strings.ContainsAny(c.SFTPDir, "\x00\r\n") {
		ps.add("sftp_dir", "not a path")
	}
	if c.SFTPHostKey == "" {
		ps.add("sftp_host_key", "required for file mode: the server's host key is pinned, never trusted on first use")
	} else if pin, err := ParseHostKey(c.SFTPHostKey); err != nil {
		ps.add("sftp_host_key", "%v", err)
	} else {
		t.pin = pin
	}
	if s.SFTPPrivateKey != "" {
		signer, err := ssh.ParsePrivateKey([]byte(s.SFTPPrivateKey))
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			ps.add("sftp_private_key", "the key is encrypted with a passphrase; give an unencrypted key (it is kept sealed)")
		case err != nil:
			ps.add("sftp_private_key", "not a private key in PEM (OpenSSH, PKCS#1 or PKCS#8)")
		default:
			t.auth = append(t.auth, ssh.PublicKeys(signer))
		}
	}
	if s.SFTPPassword != "" {
		t.auth = append(t.auth, ssh.Password(s.SFTPPassword))
	}
	if s.SFTPPrivateKey == "" && s.SFTPPassword == "" {
		ps.add("sftp_password", "file mode needs sftp_password or sftp_private_key")
	}
	return t
}

// Upload puts the file on the SFTP server: written under a temporary
// dot-name in the target directory, checked for size, then renamed to its
// name, so a reader of the directory never sees a partial file. An upload
// repeated after a crash finds the file in place and succeeds.
func (w *Webhook) Upload(ctx context.Context, f File) Outcome {
	if w.sftp == nil {
		return Outcome{Class: ClassDestination, Message: "not a file-mode configuration"}
	}
	if err := uploadSFTP(ctx, w.opts.Dial, w.sftp, f.Name, f.Data); err != nil {
		return sftpOutcome(err, w.redact)
	}
	return Outcome{Class: ClassSuccess, Message: "uploaded " + path.Join(w.sftp.dir, f.Name)}
}

func uploadSFTP(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), t *sftpTarget, name string, data []byte) error {
	return withSFTP(ctx, dial, t, func(ctx context.Context, fs *sftp.Client) error { return put(ctx, fs, t, name, data) })
}

// withSFTP logs in to the server (its host key pinned) and runs f with the
// session, all bounded by the configuration's timeout.
func withSFTP(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), t *sftpTarget, f func(context.Context, *sftp.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	conn, err := dial(ctx, "tcp", t.addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // bounds every step below
	defer stop()
	defer conn.Close()
	cfg := &ssh.ClientConfig{
		User:              t.user,
		Auth:              t.auth,
		HostKeyCallback:   t.pin.check,
		HostKeyAlgorithms: t.pin.algorithms(),
		Timeout:           t.timeout,
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, t.addr, cfg)
	if err != nil {
		return ctxErr(ctx, err)
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	fs, err := sftp.NewClient(client)
	if err != nil {
		return ctxErr(ctx, fmt.Errorf("sftp: %w", err))
	}
	defer fs.Close()
	return f(ctx, fs)
}

// put writes the file under a temporary dot-name, then renames it.
func put(ctx context.Context, fs *sftp.Client, t *sftpTarget, name string, data []byte) error {
	final := path.Join(t.dir, name)
	tmp := path.Join(t.dir, "."+name+".part")
	if err := write(fs, tmp, data); err != nil {
		_ = fs.Remove(tmp)
		return ctxErr(ctx, err)
	}
	if err := fs.Rename(tmp, final); err != nil {
		// The name exists: an earlier upload of the same content (a repeat
		// after a crash) is success; anything else is an error.
		st, serr := fs.Stat(final)
		_ = fs.Remove(tmp)
		if serr == nil && st.Size() == int64(len(data)) {
			return nil
		}
		return ctxErr(ctx, fmt.Errorf("rename %s: %w", name, err))
	}
	return nil
}

func write(fs *sftp.Client, name string, data []byte) error {
	f, err := fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("create %s: %w", path.Base(name), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path.Base(name), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path.Base(name), err)
	}
	st, err := fs.Stat(name)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path.Base(name), err)
	}
	if st.Size() != int64(len(data)) {
		return fmt.Errorf("the server stored %d of %d bytes", st.Size(), len(data))
	}
	return nil
}

// ctxErr reports the deadline rather than the closed connection it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// sftpOutcome classifies an upload failure: a refused host key, login or
// file operation is destination-wide (Server Error), no connection Can't
// Connect.
func sftpOutcome(err error, redact func(string) string) Outcome {
	var hk *HostKeyError
	var st *sftp.StatusError
	switch {
	case errors.As(err, &hk):
		return Outcome{Class: ClassDestination, Message: hk.Error()}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return Outcome{Class: ClassDestination, Message: "the SFTP server refused the login (check sftp_user and its password or key)"}
	case errors.As(err, &st):
		return Outcome{Class: ClassDestination, Message: "sftp: " + redact(clip(err.Error(), maxMessage))}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return Outcome{Class: ClassTransport, Message: "sftp: timeout"}
	}
	var op *net.OpError
	if errors.As(err, &op) || strings.Contains(err.Error(), "handshake") {
		o := ClassifyError(err)
		o.Message = "sftp: " + redact(o.Message)
		return o
	}
	return Outcome{Class: ClassDestination, Message: "sftp: " + redact(clip(err.Error(), maxMessage))}
}
