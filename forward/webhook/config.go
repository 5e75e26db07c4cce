package webhook

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Settings values.
const (
	ModeImmediate = "immediate" // one request per result change (default)
	ModeBatch     = "batch"     // one request per batch
	ModeFile      = "file"      // one CSV file per schedule, uploaded over SFTP

	ContentJSON = "json" // application/json (default)
	ContentForm = "form" // application/x-www-form-urlencoded

	EnvelopeItems = "items" // {"batch_id": …, "items": […]} (default)
	EnvelopeArray = "array" // […]; the batch id is in webhook-id only

	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthAPIKey = "api_key"
	AuthOAuth2 = "oauth2" // client credentials

	TriggerCompletion = "completion" // results that are completed or passed (default)
	TriggerPass       = "pass"       // results that are passed
	TriggerChange     = "change"     // every result change
)

// Config is a webhook configuration's non-secret settings, as the
// administrator gives them. Each JSON name is also the configuration's
// property name (Properties, FromProperties), and the path of its
// problems in a ValidationError. Settings of another mode are ignored.
type Config struct {
	// Preset names the preset the mapping started from (informational).
	Preset string `json:"preset,omitempty"`

	URL         string `json:"url,omitempty"`          // template, see urlTemplate
	Method      string `json:"method,omitempty"`       // POST (default), PUT, PATCH
	ContentType string `json:"content_type,omitempty"` // json (default), form
	Timeout     string `json:"timeout,omitempty"`      // per request, default 30s, 1s–2m (file mode: per upload, default 2m, up to 30m)
	// Zone is the default IANA time zone of dates and of the schedule.
	Zone    string `json:"zone,omitempty"`
	Trigger string `json:"trigger,omitempty"` // completion (default), pass, change

	Mode     string `json:"mode,omitempty"`      // immediate (default), batch, file
	Envelope string `json:"envelope,omitempty"`  // batch: items (default), array
	MaxItems int    `json:"max_items,omitempty"` // batch: send at this many, and at most this many per request
	MaxWait  string `json:"max_wait,omitempty"`  // batch: send when the oldest has waited this long
	Schedule string `json:"schedule,omitempty"`  // batch, file: cron expression in Zone

	Auth          string `json:"auth,omitempty"`           // none (default), basic, bearer, api_key, oauth2
	Username      string `json:"username,omitempty"`       // basic
	APIKeyHeader  string `json:"api_key_header,omitempty"` // api_key: the header's name
	TokenURL      string `json:"token_url,omitempty"`      // oauth2
	ClientID      string `json:"client_id,omitempty"`      // oauth2
	Scope         string `json:"scope,omitempty"`          // oauth2, space-separated
	CredentialsIn string `json:"credentials_in,omitempty"` // oauth2: body (default) or basic

	SFTPAddress string `json:"sftp_address,omitempty"`  // file: host or host:port
	SFTPUser    string `json:"sftp_user,omitempty"`     // file
	SFTPDir     string `json:"sftp_dir,omitempty"`      // file: remote directory (default: the login directory)
	SFTPHostKey string `json:"sftp_host_key,omitempty"` // file: the pinned host key (authorized_keys line or SHA256:… fingerprint)
	FilePrefix  string `json:"file_prefix,omitempty"`   // file: name prefix, default lrs-results

	Fields []Field `json:"fields"`

	// Directory is the participant directory: CSV with a header row
	// email,member_id,name (parseDirectory).
	Directory string `json:"directory,omitempty"`

	// Objectives are per-objective values the mapping can use
	// (objective.credits, objective.credit_type, objective.external_id,
	// objective.extra.<name>), keyed by objective id.
	Objectives map[string]ObjectiveValues `json:"objectives,omitempty"`
}

// ObjectiveValues are one objective's values for the AMS.
type ObjectiveValues struct {
	Credits    *float64          `json:"credits,omitempty"`
	CreditType string            `json:"credit_type,omitempty"`
	ExternalID string            `json:"external_id,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"`
}

// checkObjectives reports the problems of per-objective values.
func checkObjectives(objs map[string]ObjectiveValues, ps *problems) {
	for _, id := range sortedKeys(stringKeys(objs)) {
		v := objs[id]
		at := fmt.Sprintf("objectives[%q]", id)
		if strings.TrimSpace(id) == "" {
			ps.add(at, "an objective id is required")
		}
		if v.Credits != nil && (*v.Credits < 0 || math.IsInf(*v.Credits, 0) || math.IsNaN(*v.Credits)) {
			ps.add(at+".credits", "want a number of at least 0")
		}
		for _, name := range sortedKeys(v.Extra) {
			if !extraName.MatchString(name) {
				ps.add(at+".extra", "%q: want 1 to 64 letters, digits, '_' or '-'", name)
			}
		}
	}
}

func stringKeys[V any](m map[string]V) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

// Secrets are a webhook configuration's secret settings: kept sealed by
// the caller, never returned, redacted from every outcome and preview.
type Secrets struct {
	SigningSecret  string `json:"signing_secret,omitempty"` // whsec_…, every HTTP request is signed with it
	Password       string `json:"password,omitempty"`       // basic
	Token          string `json:"token,omitempty"`          // bearer
	APIKey         string `json:"api_key,omitempty"`        // api_key
	ClientSecret   string `json:"client_secret,omitempty"`  // oauth2
	SFTPPassword   string `json:"sftp_password,omitempty"`
	SFTPPrivateKey string `json:"sftp_private_key,omitempty"` // PEM (OpenSSH or PKCS#8), unencrypted
}

func (s Secrets) values() []string {
	return []string{s.SigningSecret, s.Password, s.Token, s.APIKey, s.ClientSecret, s.SFTPPassword, s.SFTPPrivateKey}
}

// Property describes one setting for the destination-type registry (the
// admin API's schema, the CLI's help, the OpenAPI document).
type Property struct {
	Name        string `json:"name"`
	Secret      bool   `json:"secret,omitempty"`
	Description string `json:"description"`
}

// Properties is the schema of a webhook configuration's settings.
var Properties = []Property{
	{Name: "preset", Description: "the preset the mapping started from: " + strings.Join(PresetNames(), ", ")},
	{Name: "url", Description: "request URL; {{source}} or {{source|format}} placeholders in the path or query"},
	{Name: "method", Description: "POST (default), PUT or PATCH"},
	{Name: "content_type", Description: "json (default) or form"},
	{Name: "timeout", Description: "per request, default 30s (file mode: per upload, default 2m)"},
	{Name: "zone", Description: "IANA time zone of dates and of the schedule, default UTC"},
	{Name: "trigger", Description: "completion (default), pass or change"},
	{Name: "mode", Description: "immediate (default), batch or file"},
	{Name: "envelope", Description: "batch body: items (default, {\"batch_id\",\"items\"}) or array"},
	{Name: "max_items", Description: "batch: send when this many are queued; the most one request carries"},
	{Name: "max_wait", Description: "batch: send when the oldest queued result has waited this long (e.g. 1h)"},
	{Name: "schedule", Description: "batch, file: cron expression in zone, e.g. 0 2 * * * for 02:00 daily"},
	{Name: "auth", Description: "none (default), basic, bearer, api_key or oauth2 (client credentials)"},
	{Name: "username", Description: "basic auth user name"},
	{Name: "api_key_header", Description: "api_key: the header that carries the key"},
	{Name: "token_url", Description: "oauth2 token endpoint"},
	{Name: "client_id", Description: "oauth2 client id"},
	{Name: "scope", Description: "oauth2 scopes, space-separated"},
	{Name: "credentials_in", Description: "oauth2 client credentials in the body (default) or a basic header"},
	{Name: "sftp_address", Description: "file: SFTP host[:port]"},
	{Name: "sftp_user", Description: "file: SFTP user"},
	{Name: "sftp_dir", Description: "file: remote directory"},
	{Name: "sftp_host_key", Description: "file: pinned host key (ssh-ed25519 AAAA… or SHA256:…)"},
	{Name: "file_prefix", Description: "file: file name prefix, default lrs-results"},
	{Name: "fields", Description: "the field mapping: a JSON array of {target, source | constant, format, zone, required}"},
	{Name: "directory", Description: "participant directory: CSV with a header row email,member_id,name (member_id or name may be left out), giving participant.external_id and participant.name by email"},
	{Name: "objectives", Description: "per-objective values: a JSON object of objective id → {credits, credit_type, external_id, extra: {name: value}}"},
	{Name: "signing_secret", Secret: true, Description: "Standard Webhooks secret (whsec_ + base64, 24–64 bytes)"},
	{Name: "password", Secret: true, Description: "basic auth password"},
	{Name: "token", Secret: true, Description: "bearer token"},
	{Name: "api_key", Secret: true, Description: "api_key value"},
	{Name: "client_secret", Secret: true, Description: "oauth2 client secret"},
	{Name: "sftp_password", Secret: true, Description: "file: SFTP password"},
	{Name: "sftp_private_key", Secret: true, Description: "file: SFTP private key (PEM)"},
}

// Properties flattens the settings into a configuration's string
// properties (fields as a JSON array); FromProperties reads them back.
func (c Config) Properties() map[string]string {
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	props := map[string]string{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			props[k] = x
		case float64:
			props[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			if v != nil {
				j, _ := json.Marshal(v)
				props[k] = string(j)
			}
		}
	}
	return props
}

// FromProperties reads the settings from string properties and secret
// settings; unknown names and unreadable values are problems.
func FromProperties(props, secrets map[string]string) (Config, Secrets, error) {
	var ps problems
	m := map[string]any{}
	known := map[string]bool{}
	for _, p := range Properties {
		known[p.Name] = !p.Secret
	}
	for _, k := range sortedKeys(props) {
		v := props[k]
		switch {
		case !known[k]:
			ps.add(k, "unknown setting%s", secretHint(k))
		case k == "fields":
			var fs []Field
			if err := json.Unmarshal([]byte(v), &fs); err != nil {
				ps.add(k, "want a JSON array of {target, source | constant, format, zone, required}")
				continue
			}
			m[k] = fs
		case k == "objectives":
			var objs map[string]ObjectiveValues
			if err := json.Unmarshal([]byte(v), &objs); err != nil {
				ps.add(k, "want a JSON object of objective id → {credits, credit_type, external_id, extra}")
				continue
			}
			m[k] = objs
		case k == "max_items":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				ps.add(k, "want a whole number")
				continue
			}
			m[k] = n
		default:
			m[k] = v
		}
	}
	var c Config
	b, _ := json.Marshal(m)
	_ = json.Unmarshal(b, &c)

	sm := map[string]string{}
	for _, k := range sortedKeys(secrets) {
		if known[k] || !isSecretName(k) {
			ps.add(k, "unknown secret setting")
			continue
		}
		sm[k] = secrets[k]
	}
	var s Secrets
	b, _ = json.Marshal(sm)
	_ = json.Unmarshal(b, &s)
	if len(ps) > 0 {
		return c, s, &ValidationError{Problems: ps}
	}
	return c, s, nil
}

func isSecretName(k string) bool {
	for _, p := range Properties {
		if p.Name == k && p.Secret {
			return true
		}
	}
	return false
}

func secretHint(k string) string {
	if isSecretName(k) {
		return " here: it is a secret setting"
	}
	return ""
}

// SecretMap is the secrets as a configuration's secret settings.
func (s Secrets) SecretMap() map[string]string {
	b, _ := json.Marshal(s)
	m := map[string]string{}
	_ = json.Unmarshal(b, &m)
	return m
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// reservedHeaders are set by the destination itself.
var reservedHeaders = []string{
	"Host", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "User-Agent",
	HeaderID, HeaderTimestamp, HeaderSignature, HeaderIdempotencyKey,
}

func checkHeaderName(name, path string, ps *problems) {
	switch {
	case name == "":
		ps.add(path, "required: the name of the header that carries the key, e.g. X-API-Key")
	case !headerName.MatchString(name):
		ps.add(path, "%q is not a valid header name", name)
	default:
		for _, r := range reservedHeaders {
			if http.CanonicalHeaderKey(r) == http.CanonicalHeaderKey(name) {
				ps.add(path, "%s is set by the destination itself; choose another header", name)
			}
		}
	}
}

func parseDuration(s, path string, def, lo, hi time.Duration, ps *problems) time.Duration {
	if strings.TrimSpace(s) == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		ps.add(path, "%q is not a duration (e.g. 30s, 15m, 2h)", s)
		return def
	}
	if d < lo || d > hi {
		ps.add(path, "%v: want %v to %v", d, lo, hi)
		return def
	}
	return d
}

func oneOf(v, def, path string, ps *problems, allowed ...string) string {
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	ps.add(path, "%q: want %s", v, strings.Join(allowed, ", "))
	return def
}
