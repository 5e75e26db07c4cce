package xapi

import (
	"github.com/lrs-project/lrs/forward"
)

// TypeName is the configuration type of this destination.
const TypeName = "xapi"

var (
	whenBasic  = &forward.Condition{Property: PropAuth, Values: []string{"", AuthBasic}}
	whenOAuth2 = &forward.Condition{Property: PropAuth, Values: []string{AuthOAuth2}}

	propertyFields = []forward.Field{
		{Name: PropEndpoint, Required: true, URL: true, Label: "Endpoint", Example: "https://lms.example.com/xapi/",
			Description: "the LRS's base URL (…/xapi/) or its statements URL: an absolute http(s) URL"},
		{Name: PropAuth, Enum: []string{AuthBasic, AuthOAuth2}, Default: AuthBasic, Label: "Authentication",
			Description: "how the LRS is authenticated to: basic (key and secret) or oauth2 (client credentials)"},
		{Name: PropVersion, Enum: []string{"1.0.3", "2.0.0"}, Default: "1.0.3", Label: "xAPI version",
			Description: "the xAPI version sent (the other one when the LRS's About lists only that)"},
		{Name: PropTokenURL, URL: true, Label: "Token URL", Group: "OAuth2", When: whenOAuth2, Example: "https://lms.example.com/oauth/token",
			Description: "the OAuth2 token endpoint (oauth2): an absolute http(s) URL"},
		{Name: PropScope, Flag: "oauth-scope", Label: "Scope", Group: "OAuth2", When: whenOAuth2, Example: "xapi:write",
			Description: "the OAuth2 scope asked for (oauth2), e.g. xapi:write"},
		{Name: PropClientAuth, Enum: []string{"body", "basic"}, Default: "body", Label: "Client authentication", Group: "OAuth2", When: whenOAuth2,
			Description: "how the OAuth2 client authenticates to the token endpoint: in the body or with HTTP Basic"},
	}
	secretFields = []forward.Field{
		{Name: SecretKey, AlsoProperty: true, Label: "Key", Group: "Basic authentication", When: whenBasic, Description: "the key (basic)"},
		{Name: SecretSecret, Label: "Secret", Group: "Basic authentication", When: whenBasic, Description: "the secret (basic)"},
		{Name: SecretClientID, AlsoProperty: true, Label: "Client id", Group: "OAuth2", When: whenOAuth2, Description: "the OAuth2 client id (oauth2)"},
		{Name: SecretClientSecret, Label: "Client secret", Group: "OAuth2", When: whenOAuth2, Description: "the OAuth2 client secret (oauth2)"},
	}
)

// Type is the xAPI destination type; every destination it builds shares
// one HTTP client (opts).
func Type(opts Options) forward.Type {
	return forward.Type{
		Name:        TypeName,
		Label:       "xAPI (an LMS's LRS)",
		Description: "another LRS's xAPI statements endpoint (an LMS's LRS), with HTTP Basic or OAuth2 client credentials",
		Sink:        forward.SinkAppend,
		Properties:  propertyFields,
		Secrets:     secretFields,
		Target:      PropEndpoint,
		Validate:    crossCheck,
		Factory:     NewFactory(opts),
	}
}

// Validate checks the properties and secrets of an xAPI configuration and
// returns every problem (nil when they are usable), each naming its field.
func Validate(props, secrets map[string]string) []string {
	return forward.Type{Properties: propertyFields, Secrets: secretFields, Validate: crossCheck}.Check(props, secrets)
}

// crossCheck is what the fields' own rules do not cover: what each
// authentication needs.
func crossCheck(props, secrets map[string]string) []string {
	var errs []string
	get := func(name string) string {
		if v := secrets[name]; v != "" {
			return v
		}
		return props[name]
	}
	switch props[PropAuth] {
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
		}
		if get(SecretClientID) == "" {
			errs = append(errs, "secrets.client_id: is required for oauth2")
		}
		if secrets[SecretClientSecret] == "" {
			errs = append(errs, "secrets.client_secret: is required for oauth2")
		}
	}
	return errs
}
