package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/schema"
)

// Config is the binary's configuration: defaults, then LRS_* environment
// variables, then flags (flags win).
type Config struct {
	Addr     string // listen address, host:port
	DataDir  string // embedded store directory
	XAPIRoot string // path prefix of the xAPI resources, e.g. /xapi
	// XAPIVersions are the xAPI versions served, oldest first.
	XAPIVersions []schema.Version
	PublicURL    string // external base URL; "" derives http://localhost:PORT from the listener

	LogFormat string // text or json
	LogLevel  slog.Level

	MaxBodyBytes    int64
	MaxBatch        int
	MaxLimit        int
	ShutdownTimeout time.Duration

	// Deadlines and the connection cap of the listener.
	ReadHeaderTimeout time.Duration
	ReadBodyTimeout   time.Duration
	IdleTimeout       time.Duration
	MaxConnsPerClient int // 0: no cap

	// MongoDB engine: used instead of the embedded store when the URI is set.
	MongoURI      Secret
	MongoDatabase string

	// Bootstrap credential for an empty store; both set or neither.
	BootstrapKey    string
	BootstrapSecret Secret

	// AdminToken protects the admin API; empty disables it.
	AdminToken Secret

	// TokenTTL is the lifetime of the OAuth 2.0 access tokens of the
	// token endpoint.
	TokenTTL time.Duration

	// DebugAddr is the listen address of net/http/pprof and expvar; ""
	// (the default) serves neither.
	DebugAddr string

	// Forwarding to LMS destinations and its alert mail (forward.go).
	Forward ForwardConfig

	// Accounts, sessions and single sign-on (accounts.go).
	Accounts AccountsConfig
}

// Secret is a string that never prints itself.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return "(not set)"
	}
	return "(redacted)"
}

// LogValue keeps the secret out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString keeps the secret out of %#v.
func (s Secret) GoString() string { return s.String() }

// setting is one configuration setting: its flag (none for secrets), its
// environment variable and its default, and how its value is applied.
type setting struct {
	flag   string // "" for env-only settings
	env    string
	def    string // default as a string; shown by --help
	usage  string
	secret bool // env-only, with a _FILE twin, redacted in dumps
	apply  func(c *Config, v string) error
	show   func(c *Config) string // for --check-config
}

// settings are every setting of the binary, in the order --help lists
// them: the server's, then forwarding's (forward.go).
var settings = slices.Concat(serverSettings, forwardSettings)

var serverSettings = []setting{
	{
		flag: "addr", env: "LRS_ADDR", def: ":8080",
		usage: "address to listen on, host:port (port 0 picks a free port)",
		apply: func(c *Config, v string) error {
			_, port, err := net.SplitHostPort(v)
			if err != nil {
				return fmt.Errorf("%q is not host:port", v)
			}
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				return fmt.Errorf("%q: port must be a number from 0 to 65535", v)
			}
			c.Addr = v
			return nil
		},
		show: func(c *Config) string { return c.Addr },
	},
	{
		flag: "data-dir", env: "LRS_DATA_DIR", def: "./data",
		usage: "directory of the embedded store (created if missing)",
		apply: func(c *Config, v string) error { c.DataDir = v; return nil },
		show:  func(c *Config) string { return c.DataDir },
	},
	{
		flag: "xapi-root", env: "LRS_XAPI_ROOT", def: "/xapi",
		usage: "path under which the xAPI resources are served",
		apply: func(c *Config, v string) error {
			root := strings.TrimRight(v, "/")
			switch {
			case !strings.HasPrefix(root, "/"):
				return fmt.Errorf("%q must be a path starting with \"/\", other than \"/\" itself", v)
			case strings.Contains(root, "//") || strings.Trim(root, pathChars) != "":
				return fmt.Errorf("%q: want a plain path of letters, digits and . _ ~ - /", v)
			}
			c.XAPIRoot = root
			return nil
		},
		show: func(c *Config) string { return c.XAPIRoot },
	},
	{
		flag: "xapi-versions", env: "LRS_XAPI_VERSIONS", def: "1.0.3,2.0.0",
		usage: "xAPI versions served, comma-separated (1.0.3, 2.0.0): About lists them, requests for another are 400",
		apply: func(c *Config, v string) error {
			vs, err := schema.ParseVersions(v)
			if err != nil {
				return err
			}
			c.XAPIVersions = vs
			return nil
		},
		show: func(c *Config) string {
			parts := make([]string, len(c.XAPIVersions))
			for i, v := range c.XAPIVersions {
				parts[i] = string(v)
			}
			return strings.Join(parts, ",")
		},
	},
	{
		flag: "public-url", env: "LRS_PUBLIC_URL", def: "",
		usage: "external base URL of this LRS, for the printed endpoint and the bootstrap authority (default http://localhost:PORT)",
		apply: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return fmt.Errorf("%q is not an absolute http(s) URL without query or credentials", v)
			}
			c.PublicURL = strings.TrimRight(v, "/")
			return nil
		},
		show: func(c *Config) string {
			if c.PublicURL == "" {
				return "(derived from the listen address)"
			}
			return c.PublicURL
		},
	},
	{
		flag: "log-format", env: "LRS_LOG_FORMAT", def: "text",
		usage: "log format: text or json",
		apply: func(c *Config, v string) error {
			switch v = strings.ToLower(v); v {
			case "text", "json":
				c.LogFormat = v
				return nil
			}
			return fmt.Errorf("%q: want text or json", v)
		},
		show: func(c *Config) string { return c.LogFormat },
	},
	{
		flag: "log-level", env: "LRS_LOG_LEVEL", def: "info",
		usage: "log level: debug, info, warn or error",
		apply: func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "debug":
				c.LogLevel = slog.LevelDebug
			case "info":
				c.LogLevel = slog.LevelInfo
			case "warn", "warning":
				c.LogLevel = slog.LevelWarn
			case "error":
				c.LogLevel = slog.LevelError
			default:
				return fmt.Errorf("%q: want debug, info, warn or error", v)
			}
			return nil
		},
		show: func(c *Config) string { return strings.ToLower(c.LogLevel.String()) },
	},
	{
		flag: "max-body-bytes", env: "LRS_MAX_BODY_BYTES", def: strconv.Itoa(16 << 20),
		usage: "largest request body accepted, in bytes",
		apply: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("%q: want a positive number of bytes", v)
			}
			c.MaxBodyBytes = n
			return nil
		},
		show: func(c *Config) string { return strconv.FormatInt(c.MaxBodyBytes, 10) },
	},
	{
		flag: "max-batch", env: "LRS_MAX_BATCH", def: "1000",
		usage: "most statements accepted in one POST",
		apply: positiveInt(func(c *Config) *int { return &c.MaxBatch }),
		show:  func(c *Config) string { return strconv.Itoa(c.MaxBatch) },
	},
	{
		flag: "max-limit", env: "LRS_MAX_LIMIT", def: "100",
		usage: "largest page of a statements query (limit=0 means this)",
		apply: positiveInt(func(c *Config) *int { return &c.MaxLimit }),
		show:  func(c *Config) string { return strconv.Itoa(c.MaxLimit) },
	},
	{
		flag: "shutdown-timeout", env: "LRS_SHUTDOWN_TIMEOUT", def: "15s",
		usage: "how long to drain in-flight requests on SIGTERM/SIGINT",
		apply: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%q: want a positive duration such as 15s", v)
			}
			c.ShutdownTimeout = d
			return nil
		},
		show: func(c *Config) string { return c.ShutdownTimeout.String() },
	},
	{
		flag: "read-header-timeout", env: "LRS_READ_HEADER_TIMEOUT", def: "10s",
		usage: "how long a client may take to send a request's headers before its connection is closed",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }),
		show:  func(c *Config) string { return c.ReadHeaderTimeout.String() },
	},
	{
		flag: "read-body-timeout", env: "LRS_READ_BODY_TIMEOUT", def: "1m",
		usage: "how long a client may take to send a request's body, after its headers, before its connection is closed",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.ReadBodyTimeout }),
		show:  func(c *Config) string { return c.ReadBodyTimeout.String() },
	},
	{
		flag: "idle-timeout", env: "LRS_IDLE_TIMEOUT", def: "2m",
		usage: "how long an idle keep-alive connection stays open",
		apply: positiveDuration(func(c *Config) *time.Duration { return &c.IdleTimeout }),
		show:  func(c *Config) string { return c.IdleTimeout.String() },
	},
	{
		flag: "max-conns-per-client", env: "LRS_MAX_CONNS_PER_CLIENT", def: "256",
		usage: "most connections open at once from one client address (an IPv6 /64 counts as one); more are refused with 429; 0: no cap",
		apply: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q: want a whole number, 0 for no cap", v)
			}
			c.MaxConnsPerClient = n
			return nil
		},
		show: func(c *Config) string { return strconv.Itoa(c.MaxConnsPerClient) },
	},
	{
		flag: "token-ttl", env: "LRS_TOKEN_TTL", def: "1h",
		usage: "lifetime of the OAuth 2.0 access tokens issued at /oauth2/token (1s to 24h)",
		apply: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second || d > 24*time.Hour {
				return fmt.Errorf("%q: want a duration from 1s to 24h, such as 1h", v)
			}
			c.TokenTTL = d
			return nil
		},
		show: func(c *Config) string { return c.TokenTTL.String() },
	},
	{
		env: "LRS_MONGODB_URI", secret: true,
		usage: "MongoDB connection string (mongodb:// or mongodb+srv://); when set, MongoDB is the store instead of the embedded one",
		apply: func(c *Config, v string) error {
			if !strings.HasPrefix(v, "mongodb://") && !strings.HasPrefix(v, "mongodb+srv://") {
				return fmt.Errorf("want a mongodb:// or mongodb+srv:// connection string")
			}
			c.MongoURI = Secret(v)
			return nil
		},
		show: func(c *Config) string { return c.MongoURI.String() },
	},
	{
		flag: "mongodb-database", env: "LRS_MONGODB_DATABASE", def: "lrs",
		usage: "MongoDB database name (with LRS_MONGODB_URI)",
		apply: func(c *Config, v string) error {
			if v == "" || strings.ContainsAny(v, "/\\. \"$\x00") || len(v) > 63 {
				return fmt.Errorf("%q is not a valid MongoDB database name", v)
			}
			c.MongoDatabase = v
			return nil
		},
		show: func(c *Config) string { return c.MongoDatabase },
	},
	{
		env: "LRS_BOOTSTRAP_KEY", secret: true,
		usage: "key of the first credential, created when the store has none (default: generated)",
		apply: func(c *Config, v string) error {
			if err := auth.ValidateKey(v); err != nil {
				return err
			}
			c.BootstrapKey = v
			return nil
		},
		show: func(c *Config) string {
			if c.BootstrapKey == "" {
				return "(not set)"
			}
			return c.BootstrapKey
		},
	},
	{
		env: "LRS_BOOTSTRAP_SECRET", secret: true,
		usage: "secret of the first credential (default: generated)",
		apply: func(c *Config, v string) error {
			if err := auth.ValidateSecret(v); err != nil {
				return err
			}
			c.BootstrapSecret = Secret(v)
			return nil
		},
		show: func(c *Config) string { return c.BootstrapSecret.String() },
	},
	{
		flag: "debug-addr", env: "LRS_DEBUG_ADDR", def: "",
		usage: "address of a separate listener serving net/http/pprof and expvar, host:port (no host: loopback only); unset: none",
		apply: func(c *Config, v string) error {
			addr, err := debugAddr(v)
			c.DebugAddr = addr
			return err
		},
		show: func(c *Config) string {
			if c.DebugAddr == "" {
				return "(not set)"
			}
			return c.DebugAddr
		},
	},
	{
		env: "LRS_ADMIN_TOKEN", secret: true,
		usage: "bearer token of the admin API at /admin/v1 (at least 32 characters); unset: no admin API",
		apply: func(c *Config, v string) error {
			if len(v) < api.MinAdminTokenLen {
				return fmt.Errorf("the admin token must be at least %d characters long", api.MinAdminTokenLen)
			}
			c.AdminToken = Secret(v)
			return nil
		},
		show: func(c *Config) string { return c.AdminToken.String() },
	},
}

const pathChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-/"

func positiveInt(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q: want a positive whole number", v)
		}
		*field(c) = n
		return nil
	}
}

func positiveDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q: want a positive duration such as 30s", v)
		}
		*field(c) = d
		return nil
	}
}

// command is what the invocation asks for besides serving.
type command struct {
	help        bool
	checkConfig bool
	probe       string // URL
}

// ConfigError is an invalid configuration or command line (exit status 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration")
	for _, line := range strings.Split(e.Err.Error(), "\n") {
		b.WriteString("\n  ")
		b.WriteString(line)
	}
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// rawValue records a flag's value without interpreting it, so that every
// setting is validated (and every error reported) after all sources merge.
type rawValue struct{ v *string }

func (r rawValue) String() string {
	if r.v == nil {
		return ""
	}
	return *r.v
}

func (r rawValue) Set(s string) error { *r.v = s; return nil }

// parseArgs reads the command line; it does not look at the environment.
// Flag values are returned by environment variable name.
func parseArgs(args []string) (command, map[string]string, error) {
	var cmd command
	fs := flag.NewFlagSet("lrs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(&cmd.help, "help", false, "")
	fs.BoolVar(&cmd.help, "h", false, "")
	fs.BoolVar(&cmd.checkConfig, "check-config", false, "")
	fs.StringVar(&cmd.probe, "probe", "", "")
	values := make(map[string]*string)
	for _, s := range settings {
		if s.flag == "" {
			continue
		}
		values[s.env] = new(string)
		fs.Var(rawValue{values[s.env]}, s.flag, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return command{help: true}, nil, nil
		}
		return cmd, nil, &ConfigError{err}
	}
	if fs.NArg() > 0 {
		return cmd, nil, &ConfigError{fmt.Errorf("unexpected argument %q (settings are flags such as --addr=:8080)", fs.Arg(0))}
	}
	set := make(map[string]string)
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.flag == f.Name {
				set[s.env] = *values[s.env]
			}
		}
	})
	return cmd, set, nil
}

// loadConfig merges defaults, the environment (getenv) and flag values, and
// validates the result, reporting every error at once.
func loadConfig(getenv func(string) string, flags map[string]string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range settings {
		v, src, err := lookup(s, getenv, flags)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v == "" && s.def == "" {
			continue // optional and unset
		}
		if err := s.apply(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
		}
	}
	if (c.BootstrapKey == "") != (c.BootstrapSecret == "") && !hasError(errs, "LRS_BOOTSTRAP_") {
		errs = append(errs, errors.New("LRS_BOOTSTRAP_KEY and LRS_BOOTSTRAP_SECRET must be set together (or neither, to generate a credential)"))
	}
	if l, a := c.Forward.Lease, c.Forward.AttemptTimeout; l > 0 && a > 0 && l <= 2*a && !hasError(errs, "LRS_FORWARD_") {
		errs = append(errs, fmt.Errorf("LRS_FORWARD_LEASE %v must be more than twice LRS_FORWARD_ATTEMPT_TIMEOUT %v (a send must end within its lease)", l, a))
	}
	errs = append(errs, c.Accounts.check()...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, &ConfigError{err}
	}
	return c, nil
}

func hasError(errs []error, prefix string) bool {
	for _, err := range errs {
		if strings.HasPrefix(err.Error(), prefix) {
			return true
		}
	}
	return false
}

// lookup returns a setting's value and where it came from: a flag, the
// environment (or, for secrets, the file named by the _FILE twin), or the
// default. An empty environment variable counts as unset.
func lookup(s setting, getenv func(string) string, flags map[string]string) (value, source string, err error) {
	if v, ok := flags[s.env]; ok {
		return v, "--" + s.flag, nil
	}
	if s.secret {
		direct, file := getenv(s.env), getenv(s.env+"_FILE")
		switch {
		case direct != "" && file != "":
			return "", "", fmt.Errorf("%s and %s_FILE are both set; set one", s.env, s.env)
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return "", "", fmt.Errorf("%s_FILE: %w", s.env, err)
			}
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				return "", "", fmt.Errorf("%s_FILE: %s is empty", s.env, file)
			}
			return v, s.env + "_FILE", nil
		}
	}
	if v := getenv(s.env); v != "" {
		return v, s.env, nil
	}
	return s.def, "default " + s.env, nil
}

// printUsage writes --help: every setting with its flag, variable and default.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: lrs [flags]
       lrs admin COMMAND ...   (lrs admin --help: manage organizations and credentials)

lrs is an xAPI Learning Record Store. Every setting is a flag and an LRS_*
environment variable (flags win). Secrets are environment-only and also
take a *_FILE variable naming a file that holds the value.

Settings:
`)
	for _, s := range settings {
		names := s.env
		if s.flag != "" {
			names = "--" + s.flag + ", " + s.env
		}
		if s.secret {
			names += ", " + s.env + "_FILE"
		}
		def := ""
		if s.def != "" {
			def = fmt.Sprintf(" (default %q)", s.def)
		}
		fmt.Fprintf(w, "  %s%s\n        %s\n", names, def, s.usage)
	}
	fmt.Fprint(w, `
Commands:
  --help          print this help and exit
  --check-config  validate the configuration, print it with secrets redacted, and exit
  --probe URL     GET URL (2s timeout); exit 0 on status 200, else 1 (container healthcheck)
`)
}

// printConfig writes the effective configuration with secrets redacted.
func printConfig(w io.Writer, c *Config) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		fmt.Fprintf(tw, "%s\t%s\n", s.env, s.show(c))
	}
	tw.Flush()
}
