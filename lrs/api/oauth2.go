package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

// The OAuth 2.0 token endpoint (RFC 6749 §3.2, client credentials grant
// §4.4) and bearer tokens on the xAPI resources (RFC 6750 §2.1).

// Tokens issues and verifies OAuth 2.0 access tokens (auth.Tokens).
// Issue returns auth.ErrBadCredentials for a client that does not
// authenticate and auth.ErrInvalidScope for a scope it cannot have; Verify
// returns auth.ErrBadCredentials for a token that does not authenticate.
// Any other error is a storage failure (503 if lrs.ErrorCode(err) ==
// lrs.EUNAVAILABLE, else 500).
type Tokens interface {
	Issue(ctx context.Context, clientID, clientSecret, scope string) (auth.Token, error)
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// TokenPath is where the token endpoint is served.
const TokenPath = "/oauth2/token"

// maxTokenRequestBytes bounds a token request body: a few short fields.
const maxTokenRequestBytes = 16 << 10

// The outcomes of token requests counted by lrs_oauth2_token_requests_total,
// the OAuth 2.0 error codes besides "issued" and "error" (the server's).
var tokenOutcomes = []string{"issued", "invalid_request", "invalid_client", "invalid_scope", "unsupported_grant_type", "error"}

func newTokenRequests(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	if reg == nil {
		return nil, nil
	}
	cv, err := registerCounterVec(reg, prometheus.CounterOpts{
		Namespace: "lrs",
		Subsystem: "oauth2",
		Name:      "token_requests_total",
		Help:      "Requests to the OAuth 2.0 token endpoint, by outcome (issued, or the OAuth 2.0 error code; error: a server failure).",
	}, "outcome")
	if err != nil {
		return nil, err
	}
	for _, o := range tokenOutcomes {
		cv.WithLabelValues(o)
	}
	return cv, nil
}

// tokenAnswer is the successful answer (RFC 6749 §5.1).
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// tokenError is an error answer (RFC 6749 §5.2). Descriptions keep to the
// characters §5.2 allows (printable ASCII but '"' and '\').
type tokenError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func tokenErr(status int, code, description string) *tokenError {
	return &tokenError{status: status, Code: code, Description: description}
}

// token answers POST /oauth2/token.
func (s *server) token(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	answer, terr := s.issue(c)
	outcome := "issued"
	if terr != nil {
		outcome = terr.Code
		if terr.status >= 500 {
			outcome = "error"
		}
	}
	if s.tokenRequests != nil {
		s.tokenRequests.WithLabelValues(outcome).Inc()
	}
	var body []byte
	status := http.StatusOK
	if terr != nil {
		status = terr.status
		if terr.Code == "invalid_client" {
			h.Set("WWW-Authenticate", `Basic realm="xAPI", error="invalid_client"`)
		}
		body, _ = json.Marshal(terr) // strings: cannot fail
	} else {
		body, _ = json.Marshal(answer)
	}
	c.Data(status, "application/json;charset=UTF-8", body)
}

// issue reads a token request and issues the token.
func (s *server) issue(c *gin.Context) (tokenAnswer, *tokenError) {
	form, terr := tokenForm(c)
	if terr != nil {
		return tokenAnswer{}, terr
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return tokenAnswer{}, tokenErr(http.StatusBadRequest, "invalid_request", "grant_type is required")
	case "client_credentials":
	default:
		return tokenAnswer{}, tokenErr(http.StatusBadRequest, "unsupported_grant_type", "this server grants client_credentials only")
	}
	id, secret, asSent, terr := clientCredentials(c.Request, form)
	if terr != nil {
		if terr.Code == "invalid_client" {
			s.guard.fail(c, "missing")
		}
		return tokenAnswer{}, terr
	}
	tok, err := s.tokens.Issue(c.Request.Context(), id, secret, form.Get("scope"))
	if asSent != "" && errors.Is(err, auth.ErrWrongSecret) {
		tok, err = s.tokens.Issue(c.Request.Context(), id, asSent, form.Get("scope"))
	}
	switch {
	case err == nil:
		return tokenAnswer{
			AccessToken: tok.AccessToken,
			TokenType:   "Bearer",
			ExpiresIn:   int64(tok.ExpiresIn.Seconds()),
			Scope:       tok.Scope,
		}, nil
	case errors.Is(err, auth.ErrBadCredentials):
		s.guard.fail(c, auth.FailureReason(err))
		msg := "client authentication failed"
		switch {
		case errors.Is(err, auth.ErrRevoked): // the secret was right: no oracle
			msg = "the client's credential has been revoked"
		case errors.Is(err, auth.ErrExpired):
			msg = "the client's credential has expired"
		}
		return tokenAnswer{}, tokenErr(http.StatusUnauthorized, "invalid_client", msg)
	case errors.Is(err, auth.ErrInvalidScope):
		msg := strings.TrimPrefix(err.Error(), auth.ErrInvalidScope.Error()+": ")
		return tokenAnswer{}, tokenErr(http.StatusBadRequest, "invalid_scope", msg)
	case lrs.ErrorCode(err) == lrs.EUNAVAILABLE:
		s.log.LogAttrs(c.Request.Context(), slog.LevelWarn, "storage unavailable",
			slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path),
			slog.String("error", err.Error()))
		return tokenAnswer{}, tokenErr(http.StatusServiceUnavailable, "temporarily_unavailable", "the storage is unavailable, retry later")
	default:
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path),
			slog.String("error", err.Error()))
		return tokenAnswer{}, tokenErr(http.StatusInternalServerError, "server_error", internalMessage)
	}
}

// tokenParams are the parameters of a client credentials token request;
// none may be repeated (RFC 6749 §3.2).
var tokenParams = []string{"grant_type", "scope", "client_id", "client_secret"}

// tokenForm reads the form body of a token request.
func tokenForm(c *gin.Context) (url.Values, *tokenError) {
	r := c.Request
	if r.URL.Query().Has("client_secret") {
		return nil, tokenErr(http.StatusBadRequest, "invalid_request", "the client secret belongs in the request body or the Authorization header, never in the URL")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, tokenErr(http.StatusBadRequest, "invalid_request", "the request body must be application/x-www-form-urlencoded")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxTokenRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tokenErr(http.StatusRequestEntityTooLarge, "invalid_request", "the request body exceeds 16 KiB")
		}
		return nil, tokenErr(http.StatusBadRequest, "invalid_request", "the request body could not be read")
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, tokenErr(http.StatusBadRequest, "invalid_request", "the form body is malformed")
	}
	for _, p := range tokenParams {
		if len(form[p]) > 1 {
			return nil, tokenErr(http.StatusBadRequest, "invalid_request", "the parameter "+p+" is repeated")
		}
	}
	return form, nil
}

// clientCredentials returns the client's id and secret (RFC 6749 §2.3.1):
// from HTTP Basic, whose user and password are form-encoded, or from the
// client_id and client_secret parameters; not from both. asSent is the
// Basic password as sent when decoding changed it: clients that skip the
// encoding are common, and the caller tries it if the decoded one fails.
func clientCredentials(r *http.Request, form url.Values) (id, secret, asSent string, terr *tokenError) {
	if r.Header.Get("Authorization") == "" {
		id, secret = form.Get("client_id"), form.Get("client_secret")
		if id == "" {
			return "", "", "", tokenErr(http.StatusUnauthorized, "invalid_client", "client authentication is required: HTTP Basic, or the client_id and client_secret parameters")
		}
		return id, secret, "", nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", "", "", tokenErr(http.StatusUnauthorized, "invalid_client", "the Authorization header must hold HTTP Basic client credentials")
	}
	id, secret = formDecoded(user), formDecoded(pass)
	if form.Has("client_secret") || form.Has("client_id") && form.Get("client_id") != id {
		return "", "", "", tokenErr(http.StatusBadRequest, "invalid_request", "use one client authentication method: HTTP Basic or the client_id and client_secret parameters")
	}
	if secret != pass {
		asSent = pass
	}
	return id, secret, asSent, nil
}

// formDecoded undoes the form encoding of a Basic user or password; a
// value that is not validly encoded is taken as it is.
func formDecoded(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// bearerToken returns the token of an "Authorization: Bearer" header
// (RFC 6750 §2.1; the scheme is case-insensitive).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// bearerChallenge is the RFC 6750 §3 challenge of a refused bearer token.
// description must keep to the characters of an error_description.
func bearerChallenge(code, description string) string {
	return `Bearer realm="xAPI", error="` + code + `", error_description="` + description + `"`
}
