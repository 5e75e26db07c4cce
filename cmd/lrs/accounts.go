package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/auth/mail"
	"github.com/lrs-project/lrs/forward/email"
	"github.com/lrs-project/lrs/lrs/api"
)

// AccountsConfig configures accounts, sessions and single sign-on.
type AccountsConfig struct {
	SessionIdle   time.Duration
	SessionMaxAge time.Duration

	// The deployment's OpenID Connect provider (off without an issuer).
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret Secret
	OIDCClaim        string
	OIDCRoles        map[string]string // claim value -> "operator" or an organization id
	OIDCScopes       []string
	// OIDCOrgProviders names a JSON file of organizations' providers.
	OIDCOrgProviders string
	orgProviders     []orgProvider
}

// orgProvider is an organization's OpenID Connect provider, as its file
// describes it.
type orgProvider struct {
	Org          string   `json:"org"`
	Issuer       string   `json:"issuer"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Claim        string   `json:"claim"`
	Values       []string `json:"values"`
	Scopes       []string `json:"scopes"`
}

func init() {
	settings = append(settings,
		setting{
			flag: "session-idle-timeout", env: "LRS_SESSION_IDLE_TIMEOUT", def: "30m",
			usage: "a console or admin API session unused this long ends",
			apply: positiveDuration(func(c *Config) *time.Duration { return &c.Accounts.SessionIdle }),
			show:  func(c *Config) string { return c.Accounts.SessionIdle.String() },
		},
		setting{
			flag: "session-max-age", env: "LRS_SESSION_MAX_AGE", def: "12h",
			usage: "a session ends this long after sign-in, used or not",
			apply: positiveDuration(func(c *Config) *time.Duration { return &c.Accounts.SessionMaxAge }),
			show:  func(c *Config) string { return c.Accounts.SessionMaxAge.String() },
		},
		setting{
			flag: "oidc-issuer", env: "LRS_OIDC_ISSUER",
			usage: "issuer URL of the OpenID Connect provider accounts may sign in through (unset: password sign-in only)",
			apply: func(c *Config, v string) error {
				if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
					return fmt.Errorf("%q is not an http(s) URL", v)
				}
				c.Accounts.OIDCIssuer = v
				return nil
			},
			show: func(c *Config) string { return c.Accounts.OIDCIssuer },
		},
		setting{
			flag: "oidc-client-id", env: "LRS_OIDC_CLIENT_ID",
			usage: "this LRS's client id at the OpenID Connect provider",
			apply: func(c *Config, v string) error { c.Accounts.OIDCClientID = v; return nil },
			show:  func(c *Config) string { return c.Accounts.OIDCClientID },
		},
		setting{
			env: "LRS_OIDC_CLIENT_SECRET", secret: true,
			usage: "this LRS's client secret at the OpenID Connect provider",
			apply: func(c *Config, v string) error { c.Accounts.OIDCClientSecret = Secret(v); return nil },
			show:  func(c *Config) string { return c.Accounts.OIDCClientSecret.String() },
		},
		setting{
			flag: "oidc-claim", env: "LRS_OIDC_CLAIM", def: "email",
			usage: "how a provider's identity maps to an account: email (the verified email names an existing account) or a claim such as groups, mapped by LRS_OIDC_ROLES",
			apply: func(c *Config, v string) error { c.Accounts.OIDCClaim = v; return nil },
			show:  func(c *Config) string { return c.Accounts.OIDCClaim },
		},
		setting{
			flag: "oidc-roles", env: "LRS_OIDC_ROLES",
			usage: "with a claim other than email: VALUE=operator or VALUE=ORG (administrator of organization ORG), comma-separated",
			apply: func(c *Config, v string) error {
				roles := map[string]string{}
				for _, pair := range strings.Split(v, ",") {
					k, r, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if !ok || k == "" || r == "" {
						return fmt.Errorf("%q: want VALUE=operator or VALUE=ORG, comma-separated", pair)
					}
					if r != string(auth.RoleOperator) {
						if err := auth.ValidateOrgID(r); err != nil {
							return fmt.Errorf("%q: %w", pair, err)
						}
					}
					roles[k] = r
				}
				c.Accounts.OIDCRoles = roles
				return nil
			},
			show: func(c *Config) string {
				var parts []string
				for k, v := range c.Accounts.OIDCRoles {
					parts = append(parts, k+"="+v)
				}
				return strings.Join(parts, ",")
			},
		},
		setting{
			flag: "oidc-scopes", env: "LRS_OIDC_SCOPES",
			usage: "scopes asked of the provider besides openid, email and profile, comma-separated (for instance groups)",
			apply: func(c *Config, v string) error {
				for _, s := range strings.Split(v, ",") {
					if s = strings.TrimSpace(s); s != "" {
						c.Accounts.OIDCScopes = append(c.Accounts.OIDCScopes, s)
					}
				}
				return nil
			},
			show: func(c *Config) string { return strings.Join(c.Accounts.OIDCScopes, ",") },
		},
		setting{
			flag: "oidc-org-providers", env: "LRS_OIDC_ORG_PROVIDERS",
			usage: "JSON file of organizations' own OpenID Connect providers (README, Single sign-on)",
			apply: func(c *Config, v string) error {
				b, err := os.ReadFile(v)
				if err != nil {
					return err
				}
				var ps []orgProvider
				if err := json.Unmarshal(b, &ps); err != nil {
					return fmt.Errorf("%s: %w", v, err)
				}
				var errs []error
				for i, p := range ps {
					if err := auth.ValidateOrgID(p.Org); err != nil {
						errs = append(errs, fmt.Errorf("%s: provider %d: %w", v, i, err))
					}
					if p.Issuer == "" || p.ClientID == "" {
						errs = append(errs, fmt.Errorf("%s: provider %d: issuer and client_id are required", v, i))
					}
					if p.Claim != "" && p.Claim != "email" && len(p.Values) == 0 {
						errs = append(errs, fmt.Errorf("%s: provider %d: a claim other than email needs values", v, i))
					}
				}
				c.Accounts.OIDCOrgProviders, c.Accounts.orgProviders = v, ps
				return errors.Join(errs...)
			},
			show: func(c *Config) string { return c.Accounts.OIDCOrgProviders },
		},
	)
}

// check reports the errors between settings.
func (a AccountsConfig) check() []error {
	var errs []error
	if (a.OIDCIssuer == "") != (a.OIDCClientID == "") {
		errs = append(errs, errors.New("LRS_OIDC_ISSUER and LRS_OIDC_CLIENT_ID must be set together"))
	}
	if a.OIDCClaim != "" && a.OIDCClaim != "email" && a.OIDCIssuer != "" && len(a.OIDCRoles) == 0 {
		errs = append(errs, fmt.Errorf("LRS_OIDC_CLAIM %q needs LRS_OIDC_ROLES (which values make an operator or an organization's administrator)", a.OIDCClaim))
	}
	return errs
}

// identity builds accounts and sessions for the admin API, when the store
// keeps them.
func (a *app) identity(ctx context.Context, st any, opts *api.AdminOptions, publicURL string) error {
	is, ok1 := st.(auth.IdentityStore)
	ks, ok2 := st.(auth.KeyStore)
	if !ok1 || !ok2 {
		a.logger.Warn("accounts disabled: the store does not keep them")
		return nil
	}
	key, err := auth.LoadIdentityKey(ctx, ks)
	if err != nil {
		return err
	}
	cfg := a.cfg.Accounts
	id, err := auth.NewIdentity(is, key, auth.IdentityOptions{IdleTimeout: cfg.SessionIdle, MaxAge: cfg.SessionMaxAge})
	if err != nil {
		return err
	}
	opts.Identity = id
	if f := a.cfg.Forward; f.SMTPHost != "" {
		sender, err := email.New(email.Settings{Host: f.SMTPHost, Port: f.SMTPPort, From: f.SMTPFrom,
			Username: f.SMTPUsername, Password: string(f.SMTPPassword)}, a.logger.With("component", "account-mail"))
		if err != nil {
			return err
		}
		m, err := mail.New(f.SMTPFrom, publicURL, sender)
		if err != nil {
			return err
		}
		opts.Mailer = m
	} else {
		a.logger.Info("account mail disabled: LRS_SMTP_HOST is not set (invitations answer their link)")
	}
	if cfg.OIDCIssuer != "" {
		opts.OIDC = append(opts.OIDC, api.OIDCProvider{
			Name: "sso", Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: string(cfg.OIDCClientSecret),
			Rule: auth.ExternalRule{Claim: cfg.OIDCClaim, Roles: cfg.OIDCRoles}, Scopes: cfg.OIDCScopes,
		})
	}
	for _, p := range cfg.orgProviders {
		roles := map[string]string{}
		for _, v := range p.Values {
			roles[v] = p.Org
		}
		opts.OIDC = append(opts.OIDC, api.OIDCProvider{
			Name: p.Org, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Rule: auth.ExternalRule{Org: p.Org, Claim: p.Claim, Roles: roles}, Scopes: p.Scopes,
		})
	}
	a.logger.Info("accounts enabled", "console", publicURL+"/console/", "oidc_providers", len(opts.OIDC))
	return nil
}
