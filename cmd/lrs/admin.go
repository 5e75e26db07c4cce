package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/api"
)

// adminOptions enables the admin API when LRS_ADMIN_TOKEN is set.
func (a *app) adminOptions(st store, authn *auth.Authenticator, publicURL string) *api.AdminOptions {
	if a.cfg.AdminToken == "" {
		a.logger.Info("admin API disabled: LRS_ADMIN_TOKEN is not set")
		return nil
	}
	a.logger.Info("admin API enabled", "path", api.AdminPrefix)
	return &api.AdminOptions{
		Token:    string(a.cfg.AdminToken),
		Store:    st,
		Audit:    a.logger.With("component", "audit"),
		HomePage: publicURL,
		Forget:   authn.Forget,
	}
}

// bootstrapOrg creates the organization of the bootstrap credential
// ("default") when it is missing.
func bootstrapOrg(ctx context.Context, orgs auth.OrgStore) error {
	if _, err := orgs.GetOrg(ctx, auth.DefaultOrg); err == nil {
		return nil
	} else if !errors.Is(err, auth.ErrOrgNotFound) {
		return err
	}
	err := orgs.CreateOrg(ctx, auth.Organization{ID: auth.DefaultOrg, Name: "Default", CreatedAt: time.Now().UTC()})
	if errors.Is(err, auth.ErrOrgTaken) { // another replica was first
		return nil
	}
	return err
}

// adminUsage is the help of lrs admin.
func adminUsage(types *forward.Registry) string {
	return `Usage: lrs admin [--server URL] [--token TOKEN] COMMAND [flags]

Manages organizations, credentials and accounts through the admin API of a running
server. --server defaults to $LRS_ADMIN_URL, else http://localhost:8080;
--token to $LRS_ADMIN_TOKEN (or the file named by $LRS_ADMIN_TOKEN_FILE).
Both flags may also follow the command.

Commands:
  org create --name NAME [--id ID]        create an organization (id generated if omitted)
  org list                                list organizations
  credential create --org ID --name NAME --scope SCOPE [--scope SCOPE ...] [--expires-in DURATION]
                                          create a credential; prints its key and secret (shown once)
  credential list --org ID                list the credentials of an organization
  credential revoke --key KEY             revoke a credential (refused everywhere within 5 s)

` + adminAccountsUsage + `
` + adminForwardUsage(types) + `
Scopes: ` + "statements/write, statements/read, statements/read/mine, all/read, all, state, define, profile" + `
Add --json to any command to print the server's JSON answer.
`
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

// adminClient calls the admin API.
type adminClient struct {
	server, token string
	http          *http.Client
}

// runAdmin is `lrs admin ...`.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var words []string
	var server, token string
	var name, id, org, key string
	var expiresIn time.Duration
	var scopes multiFlag
	var asJSON, help bool
	fs := flag.NewFlagSet("lrs admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&server, "server", "", "")
	fs.StringVar(&token, "token", "", "")
	fs.StringVar(&name, "name", "", "")
	fs.StringVar(&id, "id", "", "")
	fs.StringVar(&org, "org", "", "")
	fs.StringVar(&key, "key", "", "")
	fs.DurationVar(&expiresIn, "expires-in", 0, "")
	fs.Var(&scopes, "scope", "")
	fs.BoolVar(&asJSON, "json", false, "")
	fs.BoolVar(&help, "help", false, "")
	fs.BoolVar(&help, "h", false, "")
	types, err := destinationTypes(ForwardConfig{}, nil, nil) // forward.go
	if err != nil {
		return err
	}
	ff := addForwardFlags(fs, types) // admin_forward.go
	af := addAccountFlags(fs)        // admin_accounts.go
	// Flags and words may interleave: parse, take a word, parse the rest.
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return &ConfigError{fmt.Errorf("lrs admin: %w", err)}
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if help || len(words) == 0 {
		fmt.Fprint(stdout, adminUsage(types))
		return nil
	}
	c, err := newAdminClient(server, token, getenv)
	if err != nil {
		return err
	}
	cmd := strings.Join(words, " ")
	need := func(pairs ...string) error {
		var missing []string
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i+1] == "" {
				missing = append(missing, "--"+pairs[i])
			}
		}
		if len(missing) > 0 {
			return &ConfigError{fmt.Errorf("lrs admin %s: %s required", cmd, strings.Join(missing, " and "))}
		}
		return nil
	}
	var out json.RawMessage
	switch cmd {
	case "org create":
		if err := need("name", name); err != nil {
			return err
		}
		body := map[string]string{"name": name}
		if id != "" {
			body["id"] = id
		}
		if err := c.do(ctx, "POST", "/orgs", body, &out); err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, out)
		}
		var o struct{ ID, Name string }
		_ = json.Unmarshal(out, &o)
		fmt.Fprintf(stdout, "organization created\nid:   %s\nname: %s\n", o.ID, o.Name)
	case "org list":
		if err := c.do(ctx, "GET", "/orgs", nil, &out); err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, out)
		}
		var l struct {
			Organizations []struct {
				ID, Name  string
				CreatedAt time.Time `json:"created_at"`
			}
		}
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED")
		for _, o := range l.Organizations {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.ID, o.Name, o.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "credential create":
		if err := need("org", org, "name", name, "scope", scopes.String()); err != nil {
			return err
		}
		body := map[string]any{"name": name, "scopes": []string(scopes)}
		if expiresIn > 0 {
			body["expires_at"] = time.Now().Add(expiresIn).UTC().Format(time.RFC3339)
		}
		if err := c.do(ctx, "POST", "/orgs/"+url.PathEscape(org)+"/credentials", body, &out); err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, out)
		}
		var cr credentialView
		_ = json.Unmarshal(out, &cr)
		fmt.Fprintf(stdout, "credential created (the secret is shown only now: keep it)\nkey:     %s\nsecret:  %s\norg:     %s\nscopes:  %s\n",
			cr.Key, cr.Secret, cr.Org, strings.Join(cr.Scopes, " "))
		if cr.ExpiresAt != nil {
			fmt.Fprintf(stdout, "expires: %s\n", cr.ExpiresAt.Format(time.RFC3339))
		}
	case "credential list":
		if err := need("org", org); err != nil {
			return err
		}
		if err := c.do(ctx, "GET", "/orgs/"+url.PathEscape(org)+"/credentials", nil, &out); err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, out)
		}
		var l struct{ Credentials []credentialView }
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tNAME\tSCOPES\tSTATUS\tLAST USED")
		for _, cr := range l.Credentials {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cr.Key, cr.Name, strings.Join(cr.Scopes, " "), cr.status(time.Now()), fmtTime(cr.LastUsed))
		}
		return tw.Flush()
	case "credential revoke":
		if err := need("key", key); err != nil {
			return err
		}
		if err := c.do(ctx, "POST", "/credentials/"+url.PathEscape(key)+"/revoke", nil, &out); err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, out)
		}
		fmt.Fprintf(stdout, "credential %s revoked (refused by every server within 5 s)\n", key)
	default:
		af.name, af.id, af.org, af.asJSON = name, id, org, asJSON
		if handled, err := af.run(ctx, c, cmd, need, stdout); handled { // admin_accounts.go
			return err
		}
		ff.name, ff.id, ff.org, ff.asJSON = name, id, org, asJSON
		if handled, err := ff.run(ctx, c, cmd, need, stdout); handled { // admin_forward.go
			return err
		}
		return &ConfigError{fmt.Errorf("lrs admin: unknown command %q (lrs admin --help lists them)", cmd)}
	}
	return nil
}

type credentialView struct {
	Key       string
	Secret    string
	Org       string
	Name      string
	Scopes    []string
	ExpiresAt *time.Time `json:"expires_at"`
	Revoked   bool
	LastUsed  *time.Time `json:"last_used"`
}

func (c credentialView) status(now time.Time) string {
	switch {
	case c.Revoked:
		return "revoked"
	case c.ExpiresAt != nil && !now.Before(*c.ExpiresAt):
		return "expired"
	case c.ExpiresAt != nil:
		return "active until " + c.ExpiresAt.Format(time.RFC3339)
	}
	return "active"
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func printJSON(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = w.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}

func newAdminClient(server, token string, getenv func(string) string) (*adminClient, error) {
	if server == "" {
		server = getenv("LRS_ADMIN_URL")
	}
	if server == "" {
		server = "http://localhost:8080"
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &ConfigError{fmt.Errorf("lrs admin: --server %q is not an http(s) URL", server)}
	}
	if token == "" {
		tok, _, err := lookup(setting{env: "LRS_ADMIN_TOKEN", secret: true}, getenv, nil)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("lrs admin: %w", err)}
		}
		token = tok
	}
	if token == "" {
		return nil, &ConfigError{errors.New("lrs admin: the admin token is required: --token, LRS_ADMIN_TOKEN or LRS_ADMIN_TOKEN_FILE")}
	}
	return &adminClient{server: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends a request to the admin API and decodes the JSON answer into
// out; an error answer becomes an error naming the status and message.
func (c *adminClient) do(ctx context.Context, method, path string, body any, out *json.RawMessage) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+api.AdminPrefix+path, rd)
	if err != nil {
		return fmt.Errorf("lrs admin: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("lrs admin: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("lrs admin: read the answer: %w", err)
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string }
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		if res.StatusCode == http.StatusNotFound && strings.Contains(msg, "no resource at this path") {
			msg = "the server has no admin API (is LRS_ADMIN_TOKEN set on the server?)"
		}
		return fmt.Errorf("lrs admin: %s: %s", res.Status, msg)
	}
	*out = b
	return nil
}
