package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/lrs"
)

// fakeStore keeps credentials and organizations in memory, and the
// forwarding objects in the test kit's memory store; the statement,
// attachment and credential administration methods are unused here (their
// embedded interfaces are nil) and would panic.
type fakeStore struct {
	lrs.Store
	lrs.AttachmentStore
	lrs.StatementCountStore
	auth.AdminStore
	*forwardtest.Memory
	mu     sync.Mutex
	creds  map[string]auth.Credential
	orgs   map[string]auth.Organization
	keys   map[string][]byte
	closed int
}

func newFakeStore() *fakeStore {
	return &fakeStore{creds: map[string]auth.Credential{}, orgs: map[string]auth.Organization{}, Memory: forwardtest.NewMemory()}
}

func (s *fakeStore) Clock() lrs.Clock { return nil }

func (s *fakeStore) CreateOrg(_ context.Context, o auth.Organization) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[o.ID]; ok {
		return auth.ErrOrgTaken
	}
	s.orgs[o.ID] = o
	return nil
}

func (s *fakeStore) GetOrg(_ context.Context, id string) (auth.Organization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orgs[id]
	if !ok {
		return auth.Organization{}, auth.ErrOrgNotFound
	}
	return o, nil
}

// TouchCredential records nothing: last use is not what these tests check.
func (s *fakeStore) TouchCredential(context.Context, string, time.Time) error { return nil }

func (s *fakeStore) EnsureKey(_ context.Context, name string, value []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string][]byte{}
	}
	if _, ok := s.keys[name]; !ok {
		s.keys[name] = slices.Clone(value)
	}
	return slices.Clone(s.keys[name]), nil
}

func (s *fakeStore) CreateCredential(_ context.Context, c auth.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[c.Key]; ok {
		return auth.ErrKeyTaken
	}
	s.creds[c.Key] = c
	return nil
}

func (s *fakeStore) GetCredential(_ context.Context, key string) (auth.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[key]
	if !ok {
		return auth.Credential{}, auth.ErrNotFound
	}
	return c, nil
}

func (s *fakeStore) CountCredentials(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.creds), nil
}

func (s *fakeStore) Ping(ctx context.Context) error { return ctx.Err() }

func (s *fakeStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	return nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	withEnv := defaults()
	withEnv.BootstrapKey, withEnv.BootstrapSecret = "env-key", "env-secret-123"

	t.Run("generated on an empty store, then never again", func(t *testing.T) {
		st := newFakeStore()
		lines, err := bootstrap(ctx, st, defaults(), "http://lrs.example", discard)
		if err != nil {
			t.Fatal(err)
		}
		out := strings.Join(lines, "\n")
		key := regexp.MustCompile(`(?m)^key: +(\S+)$`).FindStringSubmatch(out)
		secret := regexp.MustCompile(`(?m)^secret: (\S+)$`).FindStringSubmatch(out)
		if key == nil || secret == nil {
			t.Fatalf("printed %q, want key and secret lines", lines)
		}
		a := auth.NewAuthenticator(st, auth.AuthenticatorOptions{})
		p, err := a.Authenticate(ctx, key[1], secret[1])
		if err != nil {
			t.Fatalf("printed credential does not authenticate: %v", err)
		}
		if p.Org != "default" || !p.Allows(auth.ScopeStatementsWrite) || !strings.Contains(string(p.Authority), `"homePage":"http://lrs.example"`) {
			t.Errorf("bootstrap principal = %+v (authority %s)", p, p.Authority)
		}
		if lines, err := bootstrap(ctx, st, defaults(), "http://lrs.example", discard); err != nil || lines != nil {
			t.Errorf("second bootstrap printed %q, %v; want nothing", lines, err)
		}
	})

	t.Run("from the environment: key printed, secret not", func(t *testing.T) {
		st := newFakeStore()
		lines, err := bootstrap(ctx, st, withEnv, "http://lrs.example", discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 1 || lines[0] != "key:    env-key" {
			t.Errorf("printed %q, want only the key", lines)
		}
		if _, err := auth.NewAuthenticator(st, auth.AuthenticatorOptions{}).Authenticate(ctx, "env-key", "env-secret-123"); err != nil {
			t.Errorf("bootstrap credential from the environment: %v", err)
		}
		if lines, err := bootstrap(ctx, st, withEnv, "http://lrs.example", discard); err != nil || lines != nil {
			t.Errorf("second bootstrap printed %q, %v; want nothing", lines, err)
		}
	})
}

func TestAppStartStop(t *testing.T) {
	st := newFakeStore()
	cfg := defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	var stdout bytes.Buffer
	a := &app{cfg: cfg, logger: discard, stdout: &stdout, open: func(Config, *slog.Logger) (store, error) { return st, nil }}
	ctx := context.Background()
	if err := a.start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.start(ctx); err != nil {
		t.Fatalf("second start: %v", err)
	}
	m := regexp.MustCompile(`(?m)^listening on (\S+:\d+)$`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("output lacks the listening line:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "xAPI endpoint: http://127.0.0.1:") {
		t.Errorf("output lacks the endpoint:\n%s", stdout.String())
	}
	res, err := http.Get("http://" + m[1] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d", res.StatusCode)
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if st.closed != 1 {
		t.Errorf("store closed %d times, want 1", st.closed)
	}
	if _, err := http.Get("http://" + m[1] + "/readyz"); err == nil {
		t.Error("server still answers after stop")
	}
}

func TestAppFailedStartReleasesTheStore(t *testing.T) {
	st := newFakeStore()
	cfg := defaults()
	cfg.Addr = "256.0.0.1:0" // cannot listen
	a := &app{cfg: cfg, logger: discard, stdout: io.Discard, open: func(Config, *slog.Logger) (store, error) { return st, nil }}
	if err := a.start(context.Background()); err == nil {
		t.Fatal("start succeeded on an impossible address")
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if st.closed != 1 {
		t.Errorf("store closed %d times after a failed start, want 1", st.closed)
	}
}

func TestRunStoreFailureIsNotAConfigError(t *testing.T) {
	// A directory that cannot be created: a file stands in its parent's place.
	dir := t.TempDir() + "/file"
	if err := writeFileAt(dir); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), nil, env("LRS_ADDR=127.0.0.1:0", "LRS_DATA_DIR="+dir+"/data"), io.Discard, io.Discard)
	var cerr *ConfigError
	if err == nil || errors.As(err, &cerr) {
		t.Errorf("run with an unusable data directory: %v, want a non-config error", err)
	}
}

func writeFileAt(p string) error { return os.WriteFile(p, []byte("x"), 0o600) }
