package xapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/lrs-project/lrs/forward"
)

// tokenSource gets OAuth2 client-credentials tokens with
// golang.org/x/oauth2/clientcredentials and caches them itself, on the
// destination's clock: a token is used until a minute before it expires
// (half its life when shorter), refreshed at once when the LRS answers 401
// (it stopped accepting it), and every failure becomes an attempt's Result
// with the secrets and the token redacted.
type tokenSource struct {
	cfg    clientcredentials.Config
	opts   *Options
	redact *forward.Redactor // the destination's: every token obtained is added

	mu     sync.Mutex
	token  string
	expiry time.Time
}

func newTokenSource(clientID, clientSecret string, props map[string]string, opts *Options) (*tokenSource, error) {
	cfg := clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret, AuthStyle: oauth2.AuthStyleInParams}
	switch props[PropClientAuth] {
	case "", "body":
	case "basic":
		cfg.AuthStyle = oauth2.AuthStyleInHeader
	default:
		return nil, fmt.Errorf("client_auth %q: want body or basic", props[PropClientAuth])
	}
	u, err := absoluteURL(props[PropTokenURL])
	if err != nil {
		return nil, fmt.Errorf("token_url: %w", err)
	}
	cfg.TokenURL = u.String()
	if scope := props[PropScope]; scope != "" {
		cfg.Scopes = []string{scope}
	}
	if clientID == "" || clientSecret == "" {
		return nil, errors.New("oauth2 needs a client_id and a client_secret")
	}
	return &tokenSource{cfg: cfg, opts: opts}, nil
}

// get returns a valid token, fetching one when none is cached, it expires
// within the margin, or refresh is set. A failure is returned as the
// attempt's result.
func (t *tokenSource) get(ctx context.Context, refresh bool) (string, *forward.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !refresh && t.token != "" && t.opts.Now().Before(t.expiry) {
		return t.token, nil
	}
	t.token = ""
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	tok, err := t.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.opts.Client))
	if err != nil {
		return "", t.failure(err)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return "", &forward.Result{Outcome: forward.OutcomeDestination, Message: "token endpoint: token type " + t.redact.Redact(tok.TokenType) + " is not Bearer"}
	}
	ttl := expiresIn(tok.Extra("expires_in"))
	margin := time.Minute
	if ttl <= 2*margin {
		margin = ttl / 2 // short-lived tokens: refresh at half-life
	}
	t.redact.Add(tok.AccessToken, tok.RefreshToken)
	t.token, t.expiry = tok.AccessToken, t.opts.Now().Add(ttl-margin)
	return t.token, nil
}

// expiresIn is the lifetime the token endpoint gave (a JSON number or
// string, or a form value); an hour when it gave none, the token being
// refreshed on a 401 anyway.
func expiresIn(v any) time.Duration {
	var s string
	switch x := v.(type) {
	case float64:
		return time.Duration(x * float64(time.Second))
	case json.Number:
		s = x.String()
	case string:
		s = x
	}
	if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return time.Duration(n * float64(time.Second))
	}
	return time.Hour
}

// failure classifies an error of the token endpoint: no answer is Can't
// Connect; an error answer is transient (408, 429, 5xx, not before its
// Retry-After) or destination-wide (400 invalid_client, 401, …), as is an
// answer without a usable token.
func (t *tokenSource) failure(err error) *forward.Result {
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re) && re.Response != nil:
		status := re.Response.StatusCode
		outcome := forward.ClassifyStatus(status)
		if status >= 200 && status < 300 { // an error field in a 2xx answer
			outcome = forward.OutcomeDestination
		}
		text := strings.TrimSpace(string(re.Body))
		if re.ErrorCode != "" {
			text = strings.TrimSpace(re.ErrorCode + " " + re.ErrorDescription)
		}
		return &forward.Result{Outcome: outcome, Status: status,
			Message:    fmt.Sprintf("token endpoint: HTTP %d: %s", status, forward.Truncate(t.redact.Redact(text), 256)),
			RetryAfter: forward.RetryAfter(re.Response.Header.Get("Retry-After"), t.opts.Now())}
	case errors.As(err, &ue):
		return &forward.Result{Outcome: forward.OutcomeTransport, Message: t.redact.Redact("token endpoint: " + forward.TransportMessage(err))}
	default: // an answer without a usable token
		return &forward.Result{Outcome: forward.OutcomeDestination, Message: "token endpoint: " + t.redact.Redact(strings.TrimPrefix(err.Error(), "oauth2: "))}
	}
}
