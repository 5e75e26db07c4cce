package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/schema"
)

// env returns a getenv over the pairs "NAME=value".
func env(pairs ...string) func(string) string {
	m := make(map[string]string)
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func defaults() Config {
	return Config{
		Addr:            ":8080",
		DataDir:         "./data",
		XAPIRoot:        "/xapi",
		XAPIVersions:    []schema.Version{schema.V1_0_3, schema.V2_0_0},
		LogFormat:       "text",
		LogLevel:        slog.LevelInfo,
		MaxBodyBytes:    16 << 20,
		MaxBatch:        1000,
		MaxLimit:        100,
		ShutdownTimeout: 15 * time.Second,
		MongoDatabase:   "lrs",

		ReadHeaderTimeout: 10 * time.Second,
		ReadBodyTimeout:   time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxConnsPerClient: 256,
		TokenTTL:          time.Hour,
		Accounts:          AccountsConfig{SessionIdle: 30 * time.Minute, SessionMaxAge: 12 * time.Hour, OIDCClaim: "email"},
		Forward: ForwardConfig{Workers: 8, InFlight: 4, ProbeInterval: 5 * time.Minute, AlertInterval: time.Hour,
			RecoveryDelay: 15 * time.Minute, AttemptTimeout: 30 * time.Second, CleverRateShare: 1,
			Backfill: forward.BackfillOptions{Chunk: 500, Pause: 20 * time.Millisecond, Lease: time.Minute}},
	}
}

func load(t *testing.T, args []string, getenv func(string) string) (Config, error) {
	t.Helper()
	cmd, flags, err := parseArgs(args)
	if err != nil {
		return Config{}, err
	}
	if cmd != (command{}) {
		t.Fatalf("parseArgs(%q) = command %+v, want none", args, cmd)
	}
	return loadConfig(getenv, flags)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	keyFile := writeFile(t, "file-key\n")
	secretFile := writeFile(t, "file-secret-123\r\n")
	tests := []struct {
		name string
		args []string
		env  []string
		want func(c *Config)
	}{
		{name: "defaults", want: func(c *Config) {}},
		{
			name: "environment",
			env: []string{
				"LRS_ADDR=127.0.0.1:9000", "LRS_DATA_DIR=/var/lib/lrs", "LRS_XAPI_ROOT=/lrs/xapi/",
				"LRS_PUBLIC_URL=https://lrs.example.com/", "LRS_LOG_FORMAT=JSON", "LRS_LOG_LEVEL=debug",
				"LRS_MAX_BODY_BYTES=1024", "LRS_MAX_BATCH=50", "LRS_MAX_LIMIT=500", "LRS_SHUTDOWN_TIMEOUT=1m",
				"LRS_BOOTSTRAP_KEY=env-key", "LRS_BOOTSTRAP_SECRET=env-secret-123",
				"LRS_READ_HEADER_TIMEOUT=3s", "LRS_READ_BODY_TIMEOUT=5m", "LRS_IDLE_TIMEOUT=30s", "LRS_MAX_CONNS_PER_CLIENT=0",
				"LRS_XAPI_VERSIONS=1.0.3",
				"LRS_TOKEN_TTL=15m", "LRS_BOOTSTRAP_KEY=env-key", "LRS_BOOTSTRAP_SECRET=env-secret-123",
			},
			want: func(c *Config) {
				c.Addr, c.DataDir, c.XAPIRoot = "127.0.0.1:9000", "/var/lib/lrs", "/lrs/xapi"
				c.PublicURL, c.LogFormat, c.LogLevel = "https://lrs.example.com", "json", slog.LevelDebug
				c.MaxBodyBytes, c.MaxBatch, c.MaxLimit, c.ShutdownTimeout = 1024, 50, 500, time.Minute
				c.BootstrapKey, c.BootstrapSecret = "env-key", "env-secret-123"
				c.ReadHeaderTimeout, c.ReadBodyTimeout, c.IdleTimeout, c.MaxConnsPerClient = 3*time.Second, 5*time.Minute, 30*time.Second, 0
				c.XAPIVersions = []schema.Version{schema.V1_0_3}
				c.TokenTTL = 15 * time.Minute
			},
		},
		{
			name: "flags override the environment",
			args: []string{"--addr", ":9001", "--data-dir=/flag", "-xapi-root=/x", "--public-url=http://flag:1",
				"--log-format=json", "--log-level=warn", "--max-body-bytes=2048", "--max-batch=2",
				"--max-limit=3", "--shutdown-timeout=500ms", "--read-header-timeout=1s", "--read-body-timeout=2s",
				"--idle-timeout=3s", "--max-conns-per-client=8", "--xapi-versions=2.0.0, 1.0.3"},
			env: []string{"LRS_ADDR=:7000", "LRS_DATA_DIR=/env", "LRS_XAPI_ROOT=/env", "LRS_LOG_LEVEL=error",
				"LRS_MAX_BATCH=notanumber", "LRS_SHUTDOWN_TIMEOUT=forever", "LRS_XAPI_VERSIONS=1.1.0"},
			want: func(c *Config) {
				c.Addr, c.DataDir, c.XAPIRoot, c.PublicURL = ":9001", "/flag", "/x", "http://flag:1"
				c.LogFormat, c.LogLevel = "json", slog.LevelWarn
				c.MaxBodyBytes, c.MaxBatch, c.MaxLimit, c.ShutdownTimeout = 2048, 2, 3, 500*time.Millisecond
				c.ReadHeaderTimeout, c.ReadBodyTimeout, c.IdleTimeout, c.MaxConnsPerClient = time.Second, 2*time.Second, 3*time.Second, 8
			},
		},
		{
			name: "Clever rate share as a decimal",
			env:  []string{"LRS_CLEVER_RATE_SHARE=0.25"},
			want: func(c *Config) { c.Forward.CleverRateShare = 0.25 },
		},
		{
			name: "Clever rate share as a fraction, the flag over the environment",
			args: []string{"--clever-rate-share", " 1 / 3 "},
			env:  []string{"LRS_CLEVER_RATE_SHARE=0.25"},
			want: func(c *Config) { c.Forward.CleverRateShare = 1.0 / 3 },
		},
		{
			name: "empty variables are unset",
			env:  []string{"LRS_ADDR=", "LRS_BOOTSTRAP_KEY=", "LRS_BOOTSTRAP_SECRET="},
			want: func(c *Config) {},
		},
		{
			name: "secrets from _FILE, trailing newline trimmed",
			env:  []string{"LRS_BOOTSTRAP_KEY_FILE=" + keyFile, "LRS_BOOTSTRAP_SECRET_FILE=" + secretFile},
			want: func(c *Config) { c.BootstrapKey, c.BootstrapSecret = "file-key", "file-secret-123" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.args, env(tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	secretFile := writeFile(t, "file-secret-123\n")
	tests := []struct {
		name string
		args []string
		env  []string
		want []string // every one must appear in the error
	}{
		{"bad duration", nil, []string{"LRS_SHUTDOWN_TIMEOUT=soon"}, []string{"LRS_SHUTDOWN_TIMEOUT", `"soon"`}},
		{"negative duration", []string{"--shutdown-timeout=-1s"}, nil, []string{"--shutdown-timeout"}},
		{"token TTL too short", nil, []string{"LRS_TOKEN_TTL=500ms"}, []string{"LRS_TOKEN_TTL", "1s to 24h"}},
		{"token TTL too long", []string{"--token-ttl=48h"}, nil, []string{"--token-ttl", "1s to 24h"}},
		{"zero limit", nil, []string{"LRS_MAX_LIMIT=0"}, []string{"LRS_MAX_LIMIT"}},
		{"zero header timeout", nil, []string{"LRS_READ_HEADER_TIMEOUT=0s"}, []string{"LRS_READ_HEADER_TIMEOUT"}},
		{"bad body timeout", nil, []string{"LRS_READ_BODY_TIMEOUT=long"}, []string{"LRS_READ_BODY_TIMEOUT", `"long"`}},
		{"negative idle timeout", []string{"--idle-timeout=-1m"}, nil, []string{"--idle-timeout"}},
		{"negative connection cap", nil, []string{"LRS_MAX_CONNS_PER_CLIENT=-1"}, []string{"LRS_MAX_CONNS_PER_CLIENT"}},
		{"negative batch", nil, []string{"LRS_MAX_BATCH=-5"}, []string{"LRS_MAX_BATCH"}},
		{"body not a number", nil, []string{"LRS_MAX_BODY_BYTES=16MiB"}, []string{"LRS_MAX_BODY_BYTES"}},
		{"root without slash", nil, []string{"LRS_XAPI_ROOT=xapi"}, []string{"LRS_XAPI_ROOT"}},
		{"unknown xAPI version", nil, []string{"LRS_XAPI_VERSIONS=1.0.3,2.1.0"}, []string{"LRS_XAPI_VERSIONS", `"2.1.0" is not an xAPI version`}},
		{"xAPI version twice", []string{"--xapi-versions=2.0.0,2.0.0"}, nil, []string{"--xapi-versions", "listed twice"}},
		{"no xAPI version", nil, []string{"LRS_XAPI_VERSIONS= , "}, []string{"LRS_XAPI_VERSIONS"}},
		{"root is slash", nil, []string{"LRS_XAPI_ROOT=/"}, []string{"LRS_XAPI_ROOT"}},
		{"root with query", nil, []string{"LRS_XAPI_ROOT=/xapi?x=1"}, []string{"LRS_XAPI_ROOT"}},
		{"unknown log level", nil, []string{"LRS_LOG_LEVEL=loud"}, []string{"LRS_LOG_LEVEL", "loud"}},
		{"unknown log format", nil, []string{"LRS_LOG_FORMAT=xml"}, []string{"LRS_LOG_FORMAT"}},
		{"bad addr", nil, []string{"LRS_ADDR=8080"}, []string{"LRS_ADDR"}},
		{"bad port", nil, []string{"LRS_ADDR=:99999"}, []string{"LRS_ADDR"}},
		{"relative public url", nil, []string{"LRS_PUBLIC_URL=lrs.example.com"}, []string{"LRS_PUBLIC_URL"}},
		{"key without secret", nil, []string{"LRS_BOOTSTRAP_KEY=my-key"}, []string{"set together"}},
		{"short secret", nil, []string{"LRS_BOOTSTRAP_KEY=my-key", "LRS_BOOTSTRAP_SECRET=short"}, []string{"LRS_BOOTSTRAP_SECRET", "at least 8"}},
		{"bad key", nil, []string{"LRS_BOOTSTRAP_KEY=my key", "LRS_BOOTSTRAP_SECRET=long-enough"}, []string{"LRS_BOOTSTRAP_KEY"}},
		{"variable and _FILE both set", nil, []string{"LRS_BOOTSTRAP_KEY=k12", "LRS_BOOTSTRAP_SECRET=long-enough", "LRS_BOOTSTRAP_SECRET_FILE=" + secretFile}, []string{"LRS_BOOTSTRAP_SECRET and LRS_BOOTSTRAP_SECRET_FILE are both set"}},
		{"missing _FILE", nil, []string{"LRS_BOOTSTRAP_KEY=k12", "LRS_BOOTSTRAP_SECRET_FILE=/does/not/exist"}, []string{"LRS_BOOTSTRAP_SECRET_FILE"}},
		{"zero session idle timeout", nil, []string{"LRS_SESSION_IDLE_TIMEOUT=0s"}, []string{"LRS_SESSION_IDLE_TIMEOUT"}},
		{"OIDC issuer without client", nil, []string{"LRS_OIDC_ISSUER=https://idp.example"}, []string{"LRS_OIDC_ISSUER and LRS_OIDC_CLIENT_ID must be set together"}},
		{"OIDC issuer not a URL", nil, []string{"LRS_OIDC_ISSUER=idp.example", "LRS_OIDC_CLIENT_ID=lrs"}, []string{"LRS_OIDC_ISSUER", "not an http(s) URL"}},
		{"OIDC claim without roles", nil, []string{"LRS_OIDC_ISSUER=https://idp.example", "LRS_OIDC_CLIENT_ID=lrs", "LRS_OIDC_CLAIM=groups"}, []string{"LRS_OIDC_CLAIM", "needs LRS_OIDC_ROLES"}},
		{"OIDC roles malformed", nil, []string{"LRS_OIDC_ROLES=admins"}, []string{"LRS_OIDC_ROLES", "want VALUE=operator or VALUE=ORG"}},
		{"OIDC roles to a bad org id", []string{"--oidc-roles=admins=not an org"}, nil, []string{"--oidc-roles"}},
		{"OIDC org providers file missing", nil, []string{"LRS_OIDC_ORG_PROVIDERS=/does/not/exist"}, []string{"LRS_OIDC_ORG_PROVIDERS"}},
		{"OIDC org provider incomplete", nil, []string{"LRS_OIDC_ORG_PROVIDERS=" + writeFile(t, `[{"org":"acme","claim":"groups"}]`)}, []string{"issuer and client_id are required", "a claim other than email needs values"}},
		{
			"every error reported at once",
			[]string{"--max-limit=0"},
			[]string{"LRS_SHUTDOWN_TIMEOUT=soon", "LRS_XAPI_ROOT=xapi", "LRS_LOG_LEVEL=loud", "LRS_MAX_BATCH=0", "LRS_BOOTSTRAP_SECRET=long-enough"},
			[]string{"LRS_SHUTDOWN_TIMEOUT", "LRS_XAPI_ROOT", "LRS_LOG_LEVEL", "LRS_MAX_BATCH", "--max-limit", "set together"},
		},
		{"forward lease within the attempt timeout", nil, []string{"LRS_FORWARD_LEASE=50s", "LRS_FORWARD_ATTEMPT_TIMEOUT=30s"},
			[]string{"LRS_FORWARD_LEASE 50s must be more than twice LRS_FORWARD_ATTEMPT_TIMEOUT 30s"}},
		{"forward lease not a duration", nil, []string{"LRS_FORWARD_LEASE=soon"}, []string{"LRS_FORWARD_LEASE", `"soon"`}},
		{"Clever rate share of zero", nil, []string{"LRS_CLEVER_RATE_SHARE=0"}, []string{"LRS_CLEVER_RATE_SHARE", `"0": want a share greater than 0 and at most 1`}},
		{"Clever rate share above one", []string{"--clever-rate-share=3/2"}, nil, []string{"--clever-rate-share", `"3/2"`}},
		{"Clever rate share negative", nil, []string{"LRS_CLEVER_RATE_SHARE=-0.5"}, []string{"LRS_CLEVER_RATE_SHARE"}},
		{"Clever rate share over zero", nil, []string{"LRS_CLEVER_RATE_SHARE=1/0"}, []string{"LRS_CLEVER_RATE_SHARE", `"1/0"`}},
		{"Clever rate share not a number", nil, []string{"LRS_CLEVER_RATE_SHARE=half"}, []string{"LRS_CLEVER_RATE_SHARE", `"half"`}},
		{"Clever rate share NaN", nil, []string{"LRS_CLEVER_RATE_SHARE=NaN"}, []string{"LRS_CLEVER_RATE_SHARE"}},
		{
			"forwarding settings",
			nil,
			[]string{"LRS_FORWARD_ALLOWED_NETWORKS=10.0.0.0/8,intranet", "LRS_FORWARD_IN_FLIGHT=0", "LRS_FORWARD_PROBE_INTERVAL=often",
				"LRS_FORWARD_ATTEMPT_TIMEOUT=-1s"},
			[]string{"LRS_FORWARD_ALLOWED_NETWORKS", `"intranet": want a CIDR network`, "LRS_FORWARD_IN_FLIGHT", "LRS_FORWARD_PROBE_INTERVAL",
				"LRS_FORWARD_ATTEMPT_TIMEOUT"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, env(tt.env...))
			var cerr *ConfigError
			if !errors.As(err, &cerr) {
				t.Fatalf("error = %v, want a *ConfigError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range []string{"long-enough", "file-secret-123", "short"} {
				if strings.Contains(err.Error(), `"`+secret+`"`) || strings.Contains(err.Error(), ": "+secret) {
					t.Errorf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"--max-batch"}, {"serve"}} {
		if _, _, err := parseArgs(args); err == nil {
			t.Errorf("parseArgs(%q) succeeded", args)
		} else if cerr := (*ConfigError)(nil); !errors.As(err, &cerr) {
			t.Errorf("parseArgs(%q) = %v, want a *ConfigError", args, err)
		}
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{arg}, env(), &stdout, &stderr); err != nil {
			t.Fatalf("run %s: %v", arg, err)
		}
		out := stdout.String()
		for _, s := range settings {
			if !strings.Contains(out, s.env) {
				t.Errorf("%s does not list %s", arg, s.env)
			}
			if s.flag != "" && !strings.Contains(out, "--"+s.flag) {
				t.Errorf("%s does not list --%s", arg, s.flag)
			}
			if s.def != "" && !strings.Contains(out, s.def) {
				t.Errorf("%s does not show the default %q of %s", arg, s.def, s.env)
			}
			if s.secret && !strings.Contains(out, s.env+"_FILE") {
				t.Errorf("%s does not list %s_FILE", arg, s.env)
			}
		}
		// Every LRS_ variable the code reads is documented.
		src, err := os.ReadFile("config.go")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range regexp.MustCompile(`"(LRS_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1) {
			if !strings.Contains(out, v[1]) {
				t.Errorf("%s does not list %s", arg, v[1])
			}
		}
	}
}

func TestCheckConfigRedactsSecrets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	getenv := env("LRS_BOOTSTRAP_KEY=my-key", "LRS_BOOTSTRAP_SECRET=super-secret-value", "LRS_MAX_BATCH=7")
	if err := run(context.Background(), []string{"--check-config", "--addr=:9999"}, getenv, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if strings.Contains(out, "super-secret-value") {
		t.Errorf("--check-config printed the secret:\n%s", out)
	}
	for _, want := range []string{"LRS_ADDR", ":9999", "LRS_MAX_BATCH", "7", "my-key", "LRS_BOOTSTRAP_SECRET", "(redacted)"} {
		if !strings.Contains(out, want) {
			t.Errorf("--check-config output lacks %q:\n%s", want, out)
		}
	}

	err := run(context.Background(), []string{"--check-config"}, env("LRS_MAX_BATCH=0", "LRS_LOG_LEVEL=loud"), &stdout, &stderr)
	var cerr *ConfigError
	if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "LRS_MAX_BATCH") || !strings.Contains(err.Error(), "LRS_LOG_LEVEL") {
		t.Errorf("--check-config on a bad configuration: %v", err)
	}
}

func TestProbe(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	// A closed port: listen, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name, url string
		ok        bool
	}{
		{"200", ok.URL, true},
		{"503", down.URL, false},
		{"refused", closed, false},
		{"bad url", "::nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// A bad configuration does not matter to --probe.
			err := run(context.Background(), []string{"--probe", tt.url}, env("LRS_MAX_BATCH=0"), &stdout, &stderr)
			if (err == nil) != tt.ok {
				t.Errorf("probe %s: %v, want ok=%v", tt.url, err, tt.ok)
			}
			if cerr := (*ConfigError)(nil); errors.As(err, &cerr) {
				t.Errorf("probe failure is a config error (exit 2), want exit 1: %v", err)
			}
		})
	}
}

func TestDerivePublicURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"[::]:8080", "http://localhost:8080"},
		{"0.0.0.0:8080", "http://localhost:8080"},
		{"127.0.0.1:1234", "http://127.0.0.1:1234"},
		{"[::1]:1234", "http://[::1]:1234"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := derivePublicURL(addr); got != tt.want {
			t.Errorf("derivePublicURL(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}
