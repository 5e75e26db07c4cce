package postback

import (
	"errors"
	"net/url"
	"strings"

	"github.com/lrs-project/lrs/forward"
)

// TypeName is the configuration type of this destination.
const TypeName = "postback"

// Settings, named as SCORM Cloud names its postback settings
// (PostBackSchema, sinks.md §4.1), so an administrator moving a receiver
// from SCORM Cloud finds them.
const (
	PropURL           = "url"
	PropAuthType      = "authType"
	PropResultsFormat = "resultsFormat"
	// SecretUserName may be given as a property too (a user name is not
	// secret in itself).
	SecretUserName = "userName"
	SecretPassword = "password"
)

// authType values.
const (
	AuthForm      = "form"      // data, userName and password as form fields (default)
	AuthHTTPBasic = "httpbasic" // the JSON as the body, the credentials in an HTTP Basic header
)

// resultsFormat values.
const (
	FormatCourse   = "course"   // the registration's own values (default)
	FormatActivity = "activity" // and activityDetails: the objective and its activity
	FormatFull     = "full"     // and the activity's runtime data
)

// Properties are the non-secret settings of a postback configuration.
var Properties = []forward.Field{
	{Name: PropURL, Required: true, Description: "the receiver's URL: an absolute http(s) URL, without user:password@"},
	{Name: PropAuthType, Flag: "auth-type", Enum: []string{AuthForm, AuthHTTPBasic}, Default: AuthForm,
		Description: "form: the JSON in the form field data, with the fields userName and password; httpbasic: the JSON as the body, with an HTTP Basic header"},
	{Name: PropResultsFormat, Flag: "results-format", Enum: []string{FormatCourse, FormatActivity, FormatFull}, Default: FormatCourse,
		Description: "course: the registration only; activity: and activityDetails (the objective and its activity); full: and the activity's runtime data"},
}

// Secrets are the secret settings of a postback configuration.
var Secrets = []forward.Field{
	{Name: SecretUserName, Flag: "user-name", AlsoProperty: true, Description: "the user name sent to the receiver (form field userName, or HTTP Basic)"},
	{Name: SecretPassword, Description: "the password sent to the receiver (form field password, or HTTP Basic); needs userName"},
}

// Type is the postback destination type with the factory the wiring
// builds (an adapter from forward's deliveries to Input: see New).
func Type(factory forward.Factory) forward.Type {
	return forward.Type{
		Name:        TypeName,
		Description: "a SCORM-Cloud-style registration postback: the result as RegistrationSchema JSON, posted on every change (form or HTTP Basic)",
		Sink:        forward.SinkOverwrite,
		Properties:  Properties,
		Secrets:     Secrets,
		Target:      PropURL,
		Validate:    crossCheck,
		Factory:     factory,
		Preview:     previewSample, // sink.go
		PreviewItem: previewItem,
	}
}

// Validate checks the properties and secrets of a postback configuration
// and returns every problem at once (nil when they are usable), each
// naming its field ("properties.url: …").
func Validate(props, secrets map[string]string) []string {
	return forward.Type{Properties: Properties, Secrets: Secrets, Validate: crossCheck}.Check(props, secrets)
}

// crossCheck is what the fields' own rules do not cover: the URL, and
// the credentials.
func crossCheck(props, secrets map[string]string) []string {
	var errs []string
	if u := props[PropURL]; u != "" {
		if _, err := receiverURL(u); err != nil {
			errs = append(errs, "properties.url: "+err.Error())
		}
	}
	if secrets[SecretPassword] != "" && userName(props, secrets) == "" {
		errs = append(errs, "secrets.userName: is required with a password")
	}
	return errs
}

func userName(props, secrets map[string]string) string {
	if v := secrets[SecretUserName]; v != "" {
		return v
	}
	return props[SecretUserName]
}

// receiverURL parses the receiver's URL: absolute http(s), with a host,
// no user information (the credentials are settings of their own, sealed;
// a password in the URL would be shown as a property) and no fragment
// (never sent).
func receiverURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return nil, errors.New("want an absolute http(s) URL")
	case u.User != nil:
		return nil, errors.New("must not carry user:password@: set userName and password instead")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, errors.New("must not have a #fragment (it is never sent)")
	}
	return u, nil
}
