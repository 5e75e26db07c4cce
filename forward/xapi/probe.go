package xapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/lrs-project/lrs/forward"
)

// probeStatementID is a statement id that no LRS holds: asking for it
// checks the credentials without reading or writing anything.
const probeStatementID = "00000000-0000-4000-8000-000000000000"

// Test checks the destination without sending a statement (the admin API's
// "test connection"): GET …/about (reachability; with OAuth2 this first
// requests a token), then an authenticated GET of a statement id that does
// not exist, which the destination answers 404 (or 200) when it accepts
// the credentials, 403 when it accepts them without read permission
// (enough to forward) and 401 when it refuses them. The Result is
// classified like an attempt's and holds no secret.
func (d *Destination) Test(ctx context.Context) forward.Result {
	about := strings.TrimSuffix(d.statements, "/statements") + "/about"
	res := d.do(ctx, http.MethodGet, about, nil)
	if res.err != nil {
		return res.result
	}
	if res.status != http.StatusOK {
		return d.classify(res)
	}
	res = d.do(ctx, http.MethodGet, d.statements+"?statementId="+url.QueryEscape(probeStatementID), nil)
	if res.err != nil {
		return res.result
	}
	switch res.status {
	case http.StatusOK, http.StatusNotFound:
		return forward.Result{Outcome: forward.OutcomeSuccess, Status: res.status, Message: "the LRS answered and accepted the credentials"}
	case http.StatusForbidden:
		return forward.Result{Outcome: forward.OutcomeSuccess, Status: res.status,
			Message: "the LRS answered and accepted the credentials (they may not read statements, which forwarding does not need)"}
	case http.StatusUnauthorized:
		return d.failure(forward.OutcomeDestination, res, "the LRS refused the credentials")
	}
	return d.classify(res)
}

// Validate checks the properties and secrets of an xAPI configuration and
// returns every problem (nil when they are usable), each naming its field.
func Validate(props, secrets map[string]string) []string {
	var errs []string
	get := func(name string) string {
		if v := secrets[name]; v != "" {
			return v
		}
		return props[name]
	}
	known := []string{PropEndpoint, PropAuth, PropVersion, PropTokenURL, PropScope, PropClientAuth, SecretKey, SecretClientID}
	for _, k := range sortedKeys(props) {
		switch {
		case k == SecretSecret || k == SecretClientSecret:
			errs = append(errs, fmt.Sprintf("properties.%s: is a secret: put it in secrets", k))
		case !slices.Contains(known, k):
			errs = append(errs, fmt.Sprintf("properties.%s: unknown property (want %s)", k, strings.Join(known, ", ")))
		}
	}
	secretNames := []string{SecretKey, SecretSecret, SecretClientID, SecretClientSecret}
	for _, k := range sortedKeys(secrets) {
		if !slices.Contains(secretNames, k) {
			errs = append(errs, fmt.Sprintf("secrets.%s: unknown secret (want %s)", k, strings.Join(secretNames, ", ")))
		}
	}
	if props[PropEndpoint] == "" {
		errs = append(errs, "properties.endpoint: is required")
	} else if _, err := absoluteURL(props[PropEndpoint]); err != nil {
		errs = append(errs, "properties.endpoint: "+err.Error())
	}
	switch v := props[PropVersion]; v {
	case "", "1.0.3", "2.0.0":
	default:
		errs = append(errs, fmt.Sprintf("properties.version: %q: want 1.0.3 or 2.0.0", v))
	}
	switch a := props[PropAuth]; a {
	case "", AuthBasic:
		if get(SecretKey) == "" {
			errs = append(errs, "secrets.key: is required for basic authentication")
		}
		if secrets[SecretSecret] == "" {
			errs = append(errs, "secrets.secret: is required for basic authentication")
		}
	case AuthOAuth2:
		if props[PropTokenURL] == "" {
			errs = append(errs, "properties.token_url: is required for oauth2")
		} else if _, err := absoluteURL(props[PropTokenURL]); err != nil {
			errs = append(errs, "properties.token_url: "+err.Error())
		}
		if get(SecretClientID) == "" {
			errs = append(errs, "secrets.client_id: is required for oauth2")
		}
		if secrets[SecretClientSecret] == "" {
			errs = append(errs, "secrets.client_secret: is required for oauth2")
		}
		switch ca := props[PropClientAuth]; ca {
		case "", "body", "basic":
		default:
			errs = append(errs, fmt.Sprintf("properties.client_auth: %q: want body or basic", ca))
		}
	default:
		errs = append(errs, fmt.Sprintf("properties.auth: %q: want basic or oauth2", a))
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
