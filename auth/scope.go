package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The OAuth 2.0 scope values that reporting integrations offer (LinkedIn
// Learning's, for one), and the xAPI scopes each stands for. An OAuth 2.0
// scope may also name an xAPI scope directly ("statements/write").
const (
	OAuthScopeRead  = "xapi:read"
	OAuthScopeWrite = "xapi:write"
	OAuthScopeAll   = "xapi:all"
)

var oauthScopes = map[string][]string{
	OAuthScopeRead:  {ScopeAllRead},
	OAuthScopeWrite: {ScopeStatementsWrite},
	OAuthScopeAll:   {ScopeAll},
}

// ErrInvalidScope: a requested scope is unknown or the credential holds
// nothing of what was requested (OAuth 2.0 invalid_scope).
var ErrInvalidScope = errors.New("auth: invalid scope")

// covers reports whether holding scope have grants everything scope want
// grants: all covers every scope, all/read every statements read, and
// statements/read the reading of one's own statements.
func covers(have, want string) bool {
	switch {
	case have == want, have == ScopeAll:
		return true
	case have == ScopeAllRead:
		return want == ScopeStatementsRead || want == ScopeStatementsReadMine
	case have == ScopeStatementsRead:
		return want == ScopeStatementsReadMine
	}
	return false
}

// Grant returns what of the xAPI scopes requested a holder of held may
// exercise: each requested scope that held covers, or else the held scopes
// it covers (a credential with statements/write asking for all gets
// statements/write). The result never exceeds held, holds no scope that
// another of its scopes covers, and is in the order of Scopes.
func Grant(requested, held []string) []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, r := range requested {
		if slices.ContainsFunc(held, func(h string) bool { return covers(h, r) }) {
			add(r)
			continue
		}
		for _, h := range held {
			if covers(r, h) {
				add(h)
			}
		}
	}
	return normalizeScopes(out)
}

// normalizeScopes drops unknown scopes and those another scope covers, and
// orders the rest as Scopes does.
func normalizeScopes(scopes []string) []string {
	var out []string
	for _, s := range Scopes {
		if !slices.Contains(scopes, s) {
			continue
		}
		if slices.ContainsFunc(scopes, func(o string) bool { return o != s && covers(o, s) }) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// ParseOAuthScope reads the scope parameter of a token request (RFC 6749
// §3.3: space-delimited, case-sensitive) into xAPI scopes. The names are
// OAuthScopeRead, OAuthScopeWrite, OAuthScopeAll and the xAPI scopes
// themselves. An empty parameter yields nil (the caller grants the
// credential's scopes). An unknown name is an ErrInvalidScope whose
// message quotes it only if it has the syntax of a scope token.
func ParseOAuthScope(param string) ([]string, error) {
	var out []string
	for _, name := range strings.Fields(param) {
		if xs, ok := oauthScopes[name]; ok {
			out = append(out, xs...)
			continue
		}
		if slices.Contains(Scopes, name) {
			out = append(out, name)
			continue
		}
		if !scopeToken(name) {
			return nil, fmt.Errorf("%w: the scope holds characters RFC 6749 does not allow", ErrInvalidScope)
		}
		return nil, fmt.Errorf("%w: %s is not a scope of this server (xapi:read, xapi:write, xapi:all or an xAPI scope such as statements/write)", ErrInvalidScope, shorten(name, 64))
	}
	return out, nil
}

// scopeToken reports whether s has the syntax of RFC 6749's scope-token:
// %x21 / %x23-5B / %x5D-7E (printable ASCII but '"' and '\').
func scopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
