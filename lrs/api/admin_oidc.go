package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

// OpenID Connect sign-in (the authorization code flow with PKCE, state and
// nonce): GET /session/oidc redirects the browser to the provider, which
// sends it back to GET /session/oidc/callback with a code; the code buys
// an ID token, checked by go-oidc (signature against the provider's keys,
// issuer, audience = our client id, expiry), then its nonce; the verified
// identity maps to an account (auth.Identity.SignInExternal), which gets a
// session like a password sign-in. The state, nonce and PKCE verifier
// travel sealed (auth.Identity.Seal) in a short-lived cookie bound to the
// browser, so that any process may take the callback.

// OIDCProvider is an OpenID Connect provider accounts sign in through.
type OIDCProvider struct {
	// Name identifies the provider (?provider=NAME) and is shown on the
	// sign-in page: "sso" for the deployment's, the organization id for
	// an organization's.
	Name   string
	Issuer string
	// ClientID and ClientSecret are this LRS's client at the provider;
	// its redirect URI is PublicURL + /admin/v1/session/oidc/callback.
	ClientID, ClientSecret string
	// Rule maps the provider's identities to accounts.
	Rule auth.ExternalRule
	// Scopes are asked for besides openid, email and profile (for
	// instance groups).
	Scopes []string
	// HTTPClient talks to the provider (default: a client with a 15 s
	// timeout).
	HTTPClient *http.Client
}

type oidcState struct {
	byName  map[string]*oidcProvider
	ordered []*oidcProvider
}

type oidcProvider struct {
	OIDCProvider
	redirect string

	mu  sync.Mutex
	rp  *oidc.Provider // nil until discovery succeeded
	cfg oauth2.Config
}

func newOIDCState(ps []OIDCProvider, st *identityState) (*oidcState, error) {
	o := &oidcState{byName: map[string]*oidcProvider{}}
	for _, p := range ps {
		if p.Name == "" || p.Issuer == "" || p.ClientID == "" {
			return nil, errors.New("api: an OIDC provider needs a name, an issuer and a client id")
		}
		if _, dup := o.byName[p.Name]; dup {
			return nil, fmt.Errorf("api: two OIDC providers are named %q", p.Name)
		}
		if p.HTTPClient == nil {
			p.HTTPClient = &http.Client{Timeout: 15 * time.Second}
		}
		op := &oidcProvider{OIDCProvider: p, redirect: st.publicURL + AdminPrefix + "/session/oidc/callback"}
		o.byName[p.Name] = op
		o.ordered = append(o.ordered, op)
	}
	return o, nil
}

// discover returns the provider's configuration, fetching its discovery
// document on first use (and again after a failure).
func (p *oidcProvider) discover(ctx context.Context) (*oidc.Provider, oauth2.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rp != nil {
		return p.rp, p.cfg, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.HTTPClient), 15*time.Second)
	defer cancel()
	rp, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		return nil, oauth2.Config{}, fmt.Errorf("OpenID provider %s: discovery: %w", p.Name, err)
	}
	p.rp = rp
	p.cfg = oauth2.Config{
		ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: rp.Endpoint(), RedirectURL: p.redirect,
		Scopes: append([]string{oidc.ScopeOpenID, "email", "profile"}, p.Scopes...),
	}
	return p.rp, p.cfg, nil
}

// oidcFlow is what the browser carries, sealed, from start to callback.
type oidcFlow struct {
	Provider string    `json:"p"`
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Expires  time.Time `json:"e"`
}

const (
	oidcCookie      = "lrs_oidc"
	oidcSealPurpose = "oidc-flow"
	oidcFlowTTL     = 10 * time.Minute
)

func randomText() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// oidcProviders returns the providers (none without accounts).
func (s *server) oidcProviders() []*oidcProvider {
	if s.admin == nil || s.admin.identity == nil || s.admin.identity.oidc == nil {
		return nil
	}
	return s.admin.identity.oidc.ordered
}

// oidcStart redirects to the provider named by ?provider= (default: the
// first configured).
func (s *server) oidcStart(c *gin.Context) {
	ps := s.oidcProviders()
	if len(ps) == 0 {
		s.failAdmin(c, lrs.Errorf(lrs.ENOTFOUND, "no OpenID Connect provider is configured"))
		return
	}
	p := ps[0]
	if name := c.Query("provider"); name != "" {
		if p = s.admin.identity.oidc.byName[name]; p == nil {
			s.failAdmin(c, lrs.Errorf(lrs.ENOTFOUND, "no OpenID Connect provider %q", name))
			return
		}
	}
	_, cfg, err := p.discover(c.Request.Context())
	if err != nil {
		s.log.LogAttrs(c.Request.Context(), slog.LevelWarn, "OpenID provider unreachable", slog.String("error", err.Error()))
		s.failAdmin(c, lrs.Errorf(lrs.EUNAVAILABLE, "the OpenID Connect provider %q cannot be reached; try again later", p.Name))
		return
	}
	f := oidcFlow{Provider: p.Name, Verifier: oauth2.GenerateVerifier(), Expires: s.admin.opts.Now().Add(oidcFlowTTL).UTC()}
	if f.State, err = randomText(); err == nil {
		f.Nonce, err = randomText()
	}
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	raw, _ := json.Marshal(f) // strings and a time: cannot fail
	sealed, err := s.admin.identity.id.Seal(oidcSealPurpose, raw)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	st := s.admin.identity
	http.SetCookie(c.Writer, &http.Cookie{
		Name: oidcCookie, Value: sealed, Path: AdminPrefix + "/session/oidc", MaxAge: int(oidcFlowTTL.Seconds()),
		Secure: st.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode, // Lax: the provider's redirect back is a cross-site navigation
	})
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, cfg.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)))
}

// oidcRefusal ends a callback: the browser goes back to the sign-in page
// with a code naming why (the page shows a fixed sentence per code, never
// text from the request).
func (s *server) oidcRefusal(c *gin.Context, code, outcome string, err error) {
	s.countSignIn("oidc", outcome)
	if err != nil {
		s.log.LogAttrs(c.Request.Context(), slog.LevelWarn, "OpenID Connect sign-in refused",
			slog.String("reason", code), slog.String("error", err.Error()))
	}
	c.Status(http.StatusSeeOther) // for the audit record
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, consolePath+"/login?error="+url.QueryEscape(code))
	c.Abort()
}

func (s *server) oidcCallback(c *gin.Context) {
	st := s.admin.identity
	ctx := c.Request.Context()
	// The flow cookie is single-use: cleared whatever the outcome.
	http.SetCookie(c.Writer, &http.Cookie{Name: oidcCookie, Value: "", Path: AdminPrefix + "/session/oidc", MaxAge: -1,
		Secure: st.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	var f oidcFlow
	ck, err := c.Request.Cookie(oidcCookie)
	if err == nil {
		var raw []byte
		if raw, err = st.id.Open(oidcSealPurpose, ck.Value); err == nil {
			err = json.Unmarshal(raw, &f)
		}
	}
	switch {
	case err != nil:
		s.oidcRefusal(c, "state", "refused", fmt.Errorf("no valid sign-in in progress: %w", err))
		return
	case !s.admin.opts.Now().Before(f.Expires):
		s.oidcRefusal(c, "expired", "refused", nil)
		return
	case subtle.ConstantTimeCompare([]byte(c.Query("state")), []byte(f.State)) != 1:
		s.oidcRefusal(c, "state", "refused", errors.New("the state parameter does not match the sign-in in progress"))
		return
	case c.Query("error") != "":
		s.oidcRefusal(c, "provider", "refused", fmt.Errorf("the provider answered %.100q", c.Query("error")))
		return
	}
	p := s.admin.identity.oidc.byName[f.Provider]
	if p == nil {
		s.oidcRefusal(c, "state", "refused", fmt.Errorf("unknown provider %q", f.Provider))
		return
	}
	rp, cfg, err := p.discover(ctx)
	if err != nil {
		s.oidcRefusal(c, "unavailable", "error", err)
		return
	}
	pctx := oidc.ClientContext(ctx, p.HTTPClient)
	tok, err := cfg.Exchange(context.WithValue(pctx, oauth2.HTTPClient, p.HTTPClient), c.Query("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.oidcRefusal(c, "code", "refused", fmt.Errorf("code exchange: %w", err))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		s.oidcRefusal(c, "token", "refused", errors.New("the token answer has no id_token"))
		return
	}
	idt, err := rp.Verifier(&oidc.Config{ClientID: p.ClientID}).Verify(pctx, raw)
	if err != nil {
		s.oidcRefusal(c, "token", "refused", fmt.Errorf("ID token: %w", err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		s.oidcRefusal(c, "token", "refused", errors.New("ID token: the nonce does not match"))
		return
	}
	x, err := s.oidcIdentity(pctx, rp, p, idt, tok)
	if err != nil {
		s.oidcRefusal(c, "token", "refused", err)
		return
	}
	setTarget(c, x.Email)
	a, err := st.id.SignInExternal(ctx, x, p.Rule)
	switch {
	case errors.Is(err, auth.ErrAccountDisabled):
		s.oidcRefusal(c, "disabled", "disabled", nil)
		return
	case errors.Is(err, auth.ErrSignInRefused):
		s.oidcRefusal(c, "account", "refused", fmt.Errorf("%s (subject %s) maps to no account", x.Email, x.Subject))
		return
	case err != nil:
		s.oidcRefusal(c, "unavailable", "error", err)
		return
	}
	if _, _, err := s.beginSession(c, a, "oidc"); err != nil {
		s.oidcRefusal(c, "unavailable", "error", err)
		return
	}
	s.countSignIn("oidc", "ok")
	c.Redirect(http.StatusSeeOther, consolePath+"/")
}

// oidcIdentity reads the identity from the ID token's claims, completed by
// the UserInfo endpoint when the token lacks the email (providers may put
// the claims of the email scope there only, OpenID Connect Core §5.4).
func (s *server) oidcIdentity(ctx context.Context, rp *oidc.Provider, p *oidcProvider, idt *oidc.IDToken, tok *oauth2.Token) (auth.External, error) {
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return auth.External{}, fmt.Errorf("ID token claims: %w", err)
	}
	if _, ok := claims["email"]; !ok {
		ui, err := rp.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return auth.External{}, fmt.Errorf("userinfo: %w", err)
		}
		if ui.Subject != idt.Subject {
			return auth.External{}, errors.New("userinfo: the subject is not the ID token's")
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return auth.External{}, fmt.Errorf("userinfo claims: %w", err)
		}
		for k, v := range extra {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	x := auth.External{Issuer: idt.Issuer, Subject: idt.Subject}
	x.Email, _ = claims["email"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		x.EmailVerified = v
	case string:
		x.EmailVerified = v == "true"
	}
	if c := p.Rule.Claim; c != "" && c != "email" {
		switch v := claims[c].(type) {
		case string:
			x.Values = []string{v}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					x.Values = append(x.Values, s)
				}
			}
		}
	}
	return x, nil
}
