package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// authorizer adds the configured authentication to a request.
type authorizer struct {
	kind   string
	header string // the header it sets
	value  string // its value, for the static kinds
	cc     *clientcredentials.Config

	mu  sync.Mutex
	tok *oauth2.Token
}

func compileAuth(c Config, s Secrets, ps *problems) *authorizer {
	a := &authorizer{kind: oneOf(c.Auth, AuthNone, "auth", ps, AuthNone, AuthBasic, AuthBearer, AuthAPIKey, AuthOAuth2)}
	need := func(v, path, what string) {
		if strings.TrimSpace(v) == "" {
			ps.add(path, "required for %s auth: %s", a.kind, what)
		}
	}
	switch a.kind {
	case AuthBasic:
		need(c.Username, "username", "the user name")
		need(s.Password, "password", "the password (a secret setting)")
		if strings.Contains(c.Username, ":") {
			ps.add("username", "a basic auth user name cannot contain ':'")
		}
		a.header = "Authorization"
		a.value = "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+s.Password))
	case AuthBearer:
		need(s.Token, "token", "the token (a secret setting)")
		a.header, a.value = "Authorization", "Bearer "+s.Token
	case AuthAPIKey:
		checkHeaderName(c.APIKeyHeader, "api_key_header", ps)
		need(s.APIKey, "api_key", "the key (a secret setting)")
		a.header, a.value = http.CanonicalHeaderKey(c.APIKeyHeader), s.APIKey
	case AuthOAuth2:
		u, err := url.Parse(c.TokenURL)
		switch {
		case c.TokenURL == "":
			ps.add("token_url", "required for oauth2 auth: the token endpoint")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			ps.add("token_url", "want an absolute http or https URL")
		case u.User != nil:
			ps.add("token_url", "the URL carries a user name or password; use client_id and client_secret")
		}
		need(c.ClientID, "client_id", "the client id")
		need(s.ClientSecret, "client_secret", "the client secret (a secret setting)")
		style := oauth2.AuthStyleInParams
		if oneOf(c.CredentialsIn, "body", "credentials_in", ps, "body", "basic") == "basic" {
			style = oauth2.AuthStyleInHeader
		}
		a.header = "Authorization"
		a.cc = &clientcredentials.Config{
			ClientID: c.ClientID, ClientSecret: s.ClientSecret, TokenURL: c.TokenURL,
			Scopes: strings.Fields(c.Scope), AuthStyle: style,
		}
	}
	return a
}

// token returns the current token, fetching one when none is cached, it
// is about to expire, or refresh is set (the receiver refused the cached
// one with a 401).
func (a *authorizer) token(ctx context.Context, client *http.Client, refresh bool) (string, *Outcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !refresh && a.tok.Valid() {
		return a.tok.AccessToken, nil
	}
	a.tok = nil
	tok, err := a.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
	if err != nil {
		o := tokenOutcome(err)
		return "", &o
	}
	a.tok = tok
	return tok.AccessToken, nil
}

// current is the cached token, for redaction.
func (a *authorizer) current() string {
	if a == nil || a.cc == nil {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == nil {
		return ""
	}
	return a.tok.AccessToken
}

// tokenOutcome classifies a failed token request: the token endpoint
// refusing the client is destination-wide (Server Error), its 5xx and 429
// transient, no answer Can't Connect. The message carries the OAuth error
// code, never the response body (which may echo the credentials).
func tokenOutcome(err error) Outcome {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		msg := fmt.Sprintf("token endpoint: HTTP %d", status)
		if re.ErrorCode != "" {
			msg += ": " + clip(re.ErrorCode, 64)
		}
		class := ClassDestination
		if status == http.StatusTooManyRequests || status >= 500 {
			class = ClassTransient
		}
		if status >= 200 && status < 300 {
			msg = "token endpoint: the answer carries no usable access token"
		}
		return Outcome{Class: class, Status: status, Message: msg}
	}
	if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) || isNetError(err) {
		o := ClassifyError(err)
		o.Message = "token endpoint: " + o.Message
		return o
	}
	// oauth2 reports a 2xx answer without a token as a plain error.
	return Outcome{Class: ClassDestination, Message: "token endpoint: " + clip(err.Error(), 200)}
}

func isNetError(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}
