package webhooktest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTPOptions say whom the SFTP server lets in.
type SFTPOptions struct {
	User string
	// Password is accepted for User when set.
	Password string
	// AuthorizedKey is accepted for User when set.
	AuthorizedKey ssh.PublicKey
	// HostKey is the server's key; default a fresh ed25519 key.
	HostKey ssh.Signer
}

// Op is one file operation the server performed.
type Op struct {
	Method string // Open (for writing), Get, Rename, PosixRename, Remove, Mkdir, Stat, List…
	Path   string
	Target string // Rename's new name
}

// SFTPServer is an in-process SFTP server (pkg/sftp's request server on
// x/crypto/ssh) over a temporary directory.
type SFTPServer struct {
	Addr    string
	HostKey ssh.PublicKey
	Root    string

	opts SFTPOptions
	ln   net.Listener
	wg   sync.WaitGroup

	mu     sync.Mutex
	ops    []Op
	logins int
	conns  []net.Conn
}

// NewSFTPServer starts a server on a loopback port; it stops when the
// test ends.
func NewSFTPServer(t testing.TB, o SFTPOptions) *SFTPServer {
	t.Helper()
	if o.HostKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if o.HostKey, err = ssh.NewSignerFromKey(priv); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SFTPServer{Addr: ln.Addr().String(), HostKey: o.HostKey.PublicKey(), Root: t.TempDir(), opts: o, ln: ln}
	cfg := &ssh.ServerConfig{}
	if o.Password != "" {
		cfg.PasswordCallback = func(c ssh.ConnMetadata, pass []byte) (*ssh.Permissions, error) {
			if c.User() == o.User && string(pass) == o.Password {
				return nil, nil
			}
			return nil, errors.New("wrong user or password")
		}
	}
	if o.AuthorizedKey != nil {
		cfg.PublicKeyCallback = func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == o.User && bytes.Equal(key.Marshal(), o.AuthorizedKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		}
	}
	cfg.AddHostKey(o.HostKey)
	s.wg.Add(1)
	go s.accept(cfg)
	t.Cleanup(s.Close)
	return s
}

// HostKeyLine is the host key as sftp_host_key takes it.
func (s *SFTPServer) HostKeyLine() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))
}

// Close stops the server and its connections.
func (s *SFTPServer) Close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Ops are the file operations performed, in order.
func (s *SFTPServer) Ops() []Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Op(nil), s.ops...)
}

// Logins counts successful logins.
func (s *SFTPServer) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Files are the files under Root (slash-separated relative names) with
// their contents.
func (s *SFTPServer) Files(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(s.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.Root, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *SFTPServer) accept(cfg *ssh.ServerConfig) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serveConn(c, cfg)
		}()
	}
}

func (s *SFTPServer) serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return // a refused host key or login
	}
	defer sc.Close()
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range requests {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				_ = req.Reply(ok, nil)
			}
		}()
		h := &diskHandler{root: s.Root, record: s.record}
		srv := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
		_ = srv.Serve()
		srv.Close()
	}
}

func (s *SFTPServer) record(op Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, op)
}

// diskHandler serves a directory; paths are confined to it.
type diskHandler struct {
	root   string
	record func(Op)
}

func (h *diskHandler) local(p string) string {
	return filepath.Join(h.root, filepath.FromSlash(path.Clean("/"+p)))
}

func (h *diskHandler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	h.record(Op{Method: r.Method, Path: r.Filepath})
	return os.Open(h.local(r.Filepath))
}

func (h *diskHandler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	h.record(Op{Method: r.Method, Path: r.Filepath})
	flags := os.O_WRONLY
	pf := r.Pflags()
	if pf.Creat {
		flags |= os.O_CREATE
	}
	if pf.Trunc {
		flags |= os.O_TRUNC
	}
	if pf.Excl {
		flags |= os.O_EXCL
	}
	return os.OpenFile(h.local(r.Filepath), flags, 0o644)
}

func (h *diskHandler) Filecmd(r *sftp.Request) error {
	h.record(Op{Method: r.Method, Path: r.Filepath, Target: r.Target})
	switch r.Method {
	case "Rename":
		// SSH_FXP_RENAME fails when the new name exists (draft-ietf-secsh-filexfer-02).
		if _, err := os.Lstat(h.local(r.Target)); err == nil {
			return sftp.ErrSSHFxFailure
		}
		return os.Rename(h.local(r.Filepath), h.local(r.Target))
	case "PosixRename":
		return os.Rename(h.local(r.Filepath), h.local(r.Target))
	case "Remove":
		return os.Remove(h.local(r.Filepath))
	case "Mkdir":
		return os.Mkdir(h.local(r.Filepath), 0o755)
	case "Rmdir":
		return os.Remove(h.local(r.Filepath))
	case "Setstat":
		return nil
	}
	return sftp.ErrSSHFxOpUnsupported
}

func (h *diskHandler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	h.record(Op{Method: r.Method, Path: r.Filepath})
	switch r.Method {
	case "List":
		entries, err := os.ReadDir(h.local(r.Filepath))
		if err != nil {
			return nil, err
		}
		var infos listerAt
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				infos = append(infos, fi)
			}
		}
		return infos, nil
	case "Stat":
		fi, err := os.Stat(h.local(r.Filepath))
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	}
	return nil, fmt.Errorf("%s: %w", r.Method, sftp.ErrSSHFxOpUnsupported)
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}
