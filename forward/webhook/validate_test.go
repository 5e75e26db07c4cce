package webhook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func validConfig() Config {
	return Config{
		URL: "https://ams.example.org/api/credits/{{result.key}}",
		Fields: []Field{
			{Target: "member_email", Source: "participant.email", Required: true},
			{Target: "completed_on", Source: "result.completed_at", Format: "date:YYYY-MM-DD"},
			{Target: "reference", Source: "result.key"},
		},
	}
}

func validSecrets() Secrets { return Secrets{SigningSecret: testSecret} }

func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	return ve.Problems
}

func hasProblem(ps []Problem, path, msg string) bool {
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Message, msg) {
			return true
		}
	}
	return false
}

func TestValidConfigurations(t *testing.T) {
	cases := map[string]func(*Config, *Secrets){
		"immediate json":  func(*Config, *Secrets) {},
		"form body":       func(c *Config, _ *Secrets) { c.ContentType = ContentForm },
		"put":             func(c *Config, _ *Secrets) { c.Method = "PUT" },
		"json pointer":    func(c *Config, _ *Secrets) { c.Fields[0].Target = "/data/member~1email" },
		"constant number": func(c *Config, _ *Secrets) { c.Fields[1] = Field{Target: "units", Constant: json.RawMessage(`1.50`)} },
		"zone per field":  func(c *Config, _ *Secrets) { c.Fields[1].Zone = "America/Chicago" },
		"extra value": func(c *Config, _ *Secrets) {
			c.Fields[1] = Field{Target: "code", Source: "objective.extra.product_code"}
		},
		"query template": func(c *Config, _ *Secrets) { c.URL = "https://x.example/api?member={{participant.external_id|upper}}" },
		"basic": func(c *Config, s *Secrets) {
			c.Auth, c.Username, s.Password = AuthBasic, "lrs", "pw"
		},
		"bearer":  func(c *Config, s *Secrets) { c.Auth, s.Token = AuthBearer, "tok" },
		"api key": func(c *Config, s *Secrets) { c.Auth, c.APIKeyHeader, s.APIKey = AuthAPIKey, "X-API-Key", "k" },
		"oauth2": func(c *Config, s *Secrets) {
			c.Auth, c.TokenURL, c.ClientID, s.ClientSecret, c.CredentialsIn = AuthOAuth2, "https://auth.example/token", "id", "sec", "basic"
		},
		"batch": func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.MaxItems, c.MaxWait, c.Schedule, c.Zone = ModeBatch, "https://x.example/batch", 50, "1h", "0 2 * * *", "Europe/Berlin"
		},
		"file": func(c *Config, s *Secrets) {
			c.Mode, c.Schedule, c.SFTPAddress, c.SFTPUser = ModeFile, "0 5 * * *", "sftp.example.org", "lrs"
			c.SFTPHostKey = "SHA256:" + strings.Repeat("A", 43)
			c.URL = ""
			s.SigningSecret, s.SFTPPassword = "", "pw"
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c, s := validConfig(), validSecrets()
			mutate(&c, &s)
			if err := Validate(c, s); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

// TestValidationErrors: each mistake is reported with its path and a
// message that says what to do.
func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config, *Secrets)
		path   string
		msg    string
	}{
		{"unknown source", func(c *Config, _ *Secrets) { c.Fields[0].Source = "participant.mail" }, "fields[0].source", `unknown source "participant.mail" (did you mean participant.email?)`},
		{"unknown extra name", func(c *Config, _ *Secrets) { c.Fields[0].Source = "objective.extra.bad name" }, "fields[0].source", "unknown source"},
		{"bad format", func(c *Config, _ *Secrets) { c.Fields[1].Format = "date:DD-MM-YY" }, "fields[1].format", "unknown element"},
		{"format of the wrong kind", func(c *Config, _ *Secrets) { c.Fields[0].Format = "percent" }, "fields[0].format", "applies to number values"},
		{"required without a source", func(c *Config, _ *Secrets) { c.Fields[0].Source = "" }, "fields[0].source", "required but has neither a source nor a constant"},
		{"neither source nor constant", func(c *Config, _ *Secrets) { c.Fields[1].Source = "" }, "fields[1].source", "give a source or a constant"},
		{"source and constant", func(c *Config, _ *Secrets) { c.Fields[1].Constant = json.RawMessage(`"x"`) }, "fields[1]", "not both"},
		{"constant object", func(c *Config, _ *Secrets) { c.Fields[1] = Field{Target: "x", Constant: json.RawMessage(`{"a":1}`)} }, "fields[1].constant", "string, a number or a boolean"},
		{"constant with a format", func(c *Config, _ *Secrets) {
			c.Fields[1] = Field{Target: "x", Constant: json.RawMessage(`"a"`), Format: "upper"}
		}, "fields[1].format", "sent as written"},
		{"const format on a source", func(c *Config, _ *Secrets) { c.Fields[0].Format = "const" }, "fields[0].format", "only for a field with a constant"},
		{"enum key a bool cannot have", func(c *Config, _ *Secrets) {
			c.Fields[1] = Field{Target: "p", Source: "result.passed", Format: `enum:{passed:"Y",false:"N"}`}
		}, "fields[1].format", `enum key "passed"`},
		{"enum key a status cannot have", func(c *Config, _ *Secrets) {
			c.Fields[1] = Field{Target: "s", Source: "result.status", Format: `enum:{complete:"Y"}`}
		}, "fields[1].format", "passed, failed, completed, incomplete"},
		{"bad zone", func(c *Config, _ *Secrets) { c.Fields[1].Zone = "Mars/Olympus" }, "fields[1].zone", "unknown time zone"},
		{"zone on a string", func(c *Config, _ *Secrets) { c.Fields[0].Zone = "Europe/Berlin" }, "fields[0].zone", "applies to a time source"},
		{"Local zone", func(c *Config, _ *Secrets) { c.Zone = "Local" }, "zone", "IANA zone"},
		{"empty target", func(c *Config, _ *Secrets) { c.Fields[0].Target = "" }, "fields[0].target", "empty target"},
		{"empty key in a path", func(c *Config, _ *Secrets) { c.Fields[0].Target = "data..email" }, "fields[0].target", "empty key"},
		{"bad pointer escape", func(c *Config, _ *Secrets) { c.Fields[0].Target = "/data/a~2" }, "fields[0].target", "~0"},
		{"duplicate target", func(c *Config, _ *Secrets) { c.Fields[1].Target = "member_email" }, "fields[1].target", "also the target of fields[0]"},
		{"duplicate through pointer and path", func(c *Config, _ *Secrets) {
			c.Fields[0].Target, c.Fields[1].Target = "data.email", "/data/email"
		}, "fields[1].target", "also the target of fields[0]"},
		{"target inside another", func(c *Config, _ *Secrets) { c.Fields[1].Target = "member_email.date" }, "fields[1].target", `inside "member_email"`},
		{"form key on two lines", func(c *Config, _ *Secrets) { c.ContentType, c.Fields[0].Target = ContentForm, "a\nb" }, "fields[0].target", "one line"},
		{"no fields", func(c *Config, _ *Secrets) { c.Fields = nil }, "fields", "at least one"},
		{"template unknown field", func(c *Config, _ *Secrets) { c.URL = "https://x.example/{{result.kee}}" }, "url{{result.kee}}", `unknown field "result.kee" in the URL template (did you mean result.key?)`},
		{"template bad format", func(c *Config, _ *Secrets) { c.URL = "https://x.example/{{result.completed_at|date:x}}" }, "url{{result.completed_at|date:x}}", "unknown element"},
		{"template in the host", func(c *Config, _ *Secrets) { c.URL = "https://{{participant.email}}.example/x" }, "url{{participant.email}}", "not in the scheme or the host"},
		{"template right after the host", func(c *Config, _ *Secrets) { c.URL = "https://x.example{{result.key}}" }, "url{{result.key}}", "not in the scheme or the host"},
		{"template in the fragment", func(c *Config, _ *Secrets) { c.URL = "https://x.example/a#{{result.key}}" }, "url{{result.key}}", "fragment"},
		{"unclosed template", func(c *Config, _ *Secrets) { c.URL = "https://x.example/{{result.key" }, "url", "without its '}}'"},
		{"stray close", func(c *Config, _ *Secrets) { c.URL = "https://x.example/a}}" }, "url", "without its '{{'"},
		{"no url", func(c *Config, _ *Secrets) { c.URL = "" }, "url", "required"},
		{"relative url", func(c *Config, _ *Secrets) { c.URL = "/api/x" }, "url", "absolute http or https"},
		{"ftp url", func(c *Config, _ *Secrets) { c.URL = "ftp://x.example/a" }, "url", "absolute http or https"},
		{"credentials in the url", func(c *Config, _ *Secrets) { c.URL = "https://u:p@x.example/a" }, "url", "user name or password"},
		{"bad method", func(c *Config, _ *Secrets) { c.Method = "DELETE" }, "method", "want POST, PUT, PATCH"},
		{"bad content type", func(c *Config, _ *Secrets) { c.ContentType = "xml" }, "content_type", "want json, form"},
		{"bad timeout", func(c *Config, _ *Secrets) { c.Timeout = "forever" }, "timeout", "not a duration"},
		{"timeout too long", func(c *Config, _ *Secrets) { c.Timeout = "10m" }, "timeout", "want 1s to 2m0s"},
		{"bad mode", func(c *Config, _ *Secrets) { c.Mode = "stream" }, "mode", "want immediate, batch, file"},
		{"bad trigger", func(c *Config, _ *Secrets) { c.Trigger = "always" }, "trigger", "want completion, pass, change"},
		{"unknown preset", func(c *Config, _ *Secrets) { c.Preset = "nimble" }, "preset", "want generic, imis, salesforce, yourmembership"},
		{"no signing secret", func(_ *Config, s *Secrets) { s.SigningSecret = "" }, "signing_secret", "required"},
		{"signing secret without prefix", func(_ *Config, s *Secrets) { s.SigningSecret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, "signing_secret", `starts with "whsec_"`},
		{"signing secret too short", func(_ *Config, s *Secrets) { s.SigningSecret = "whsec_c2hvcnQ=" }, "signing_secret", "is 5 bytes"},
		{"signing secret not base64", func(_ *Config, s *Secrets) { s.SigningSecret = "whsec_***" }, "signing_secret", "not base64"},
		{"bad auth", func(c *Config, _ *Secrets) { c.Auth = "digest" }, "auth", "want none, basic, bearer, api_key, oauth2"},
		{"basic without user", func(c *Config, s *Secrets) { c.Auth, s.Password = AuthBasic, "pw" }, "username", "required for basic auth"},
		{"basic without password", func(c *Config, _ *Secrets) { c.Auth, c.Username = AuthBasic, "u" }, "password", "required for basic auth"},
		{"basic user with colon", func(c *Config, s *Secrets) { c.Auth, c.Username, s.Password = AuthBasic, "a:b", "pw" }, "username", "cannot contain ':'"},
		{"bearer without token", func(c *Config, _ *Secrets) { c.Auth = AuthBearer }, "token", "required for bearer auth"},
		{"api key without header", func(c *Config, s *Secrets) { c.Auth, s.APIKey = AuthAPIKey, "k" }, "api_key_header", "required"},
		{"api key bad header", func(c *Config, s *Secrets) { c.Auth, c.APIKeyHeader, s.APIKey = AuthAPIKey, "X API", "k" }, "api_key_header", "not a valid header name"},
		{"api key reserved header", func(c *Config, s *Secrets) { c.Auth, c.APIKeyHeader, s.APIKey = AuthAPIKey, "Webhook-Signature", "k" }, "api_key_header", "set by the destination itself"},
		{"api key without key", func(c *Config, _ *Secrets) { c.Auth, c.APIKeyHeader = AuthAPIKey, "X-Key" }, "api_key", "required for api_key auth"},
		{"oauth2 without token url", func(c *Config, s *Secrets) { c.Auth, c.ClientID, s.ClientSecret = AuthOAuth2, "id", "s" }, "token_url", "required"},
		{"oauth2 bad token url", func(c *Config, s *Secrets) {
			c.Auth, c.TokenURL, c.ClientID, s.ClientSecret = AuthOAuth2, "auth.example/token", "id", "s"
		}, "token_url", "absolute"},
		{"oauth2 without client", func(c *Config, s *Secrets) {
			c.Auth, c.TokenURL, s.ClientSecret = AuthOAuth2, "https://a.example/t", "s"
		}, "client_id", "required"},
		{"oauth2 without secret", func(c *Config, _ *Secrets) { c.Auth, c.TokenURL, c.ClientID = AuthOAuth2, "https://a.example/t", "id" }, "client_secret", "required"},
		{"oauth2 bad credentials_in", func(c *Config, s *Secrets) {
			c.Auth, c.TokenURL, c.ClientID, s.ClientSecret, c.CredentialsIn = AuthOAuth2, "https://a.example/t", "id", "s", "header"
		}, "credentials_in", "want body, basic"},
		{"batch without a trigger", func(c *Config, _ *Secrets) { c.Mode, c.URL = ModeBatch, "https://x.example/b" }, "schedule", "needs max_items, max_wait or a schedule"},
		{"batch bad schedule", func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.Schedule = ModeBatch, "https://x.example/b", "0 25 * * *"
		}, "schedule", "0 25 * * *"},
		{"batch schedule that never fires", func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.Schedule = ModeBatch, "https://x.example/b", "0 0 30 2 *"
		}, "schedule", "never fires"},
		{"batch @every", func(c *Config, _ *Secrets) { c.Mode, c.URL, c.Schedule = ModeBatch, "https://x.example/b", "@every 1h" }, "schedule", "use max_wait"},
		{"batch TZ in the expression", func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.Schedule = ModeBatch, "https://x.example/b", "CRON_TZ=Europe/Paris 0 2 * * *"
		}, "schedule", "give the time zone in zone"},
		{"batch bad zone", func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.Schedule, c.Zone = ModeBatch, "https://x.example/b", "0 2 * * *", "Europe/Atlantis"
		}, "zone", "unknown time zone"},
		{"batch bad max_wait", func(c *Config, _ *Secrets) { c.Mode, c.URL, c.MaxWait = ModeBatch, "https://x.example/b", "10s" }, "max_wait", "want 1m0s to 168h0m0s"},
		{"batch too many items", func(c *Config, _ *Secrets) { c.Mode, c.URL, c.MaxItems = ModeBatch, "https://x.example/b", 5000 }, "max_items", "want 1 to 1000"},
		{"batch form body", func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.MaxItems, c.ContentType = ModeBatch, "https://x.example/b", 10, ContentForm
		}, "content_type", "use json"},
		{"batch url template", func(c *Config, _ *Secrets) { c.Mode, c.MaxItems = ModeBatch, 10 }, "url", "cannot name a result's values"},
		{"batch without result.key", func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.MaxItems, c.Fields = ModeBatch, "https://x.example/b", 10, c.Fields[:2]
		}, "fields", "mapped from result.key"},
		{"batch bad envelope", func(c *Config, _ *Secrets) {
			c.Mode, c.URL, c.MaxItems, c.Envelope = ModeBatch, "https://x.example/b", 10, "list"
		}, "envelope", "want items, array"},
		{"file without schedule", func(c *Config, _ *Secrets) { c.Mode = ModeFile }, "schedule", "required for file mode"},
		{"file without address", func(c *Config, _ *Secrets) { c.Mode, c.Schedule = ModeFile, "0 5 * * *" }, "sftp_address", "required"},
		{"file bad address", func(c *Config, _ *Secrets) { c.Mode, c.Schedule, c.SFTPAddress = ModeFile, "0 5 * * *", "host:" }, "sftp_address", "host:port"},
		{"file without user", func(c *Config, _ *Secrets) { c.Mode, c.Schedule = ModeFile, "0 5 * * *" }, "sftp_user", "required"},
		{"file without host key", func(c *Config, _ *Secrets) { c.Mode, c.Schedule = ModeFile, "0 5 * * *" }, "sftp_host_key", "never trusted on first use"},
		{"file bad host key", func(c *Config, _ *Secrets) {
			c.Mode, c.Schedule, c.SFTPHostKey = ModeFile, "0 5 * * *", "ssh-ed25519 nope"
		}, "sftp_host_key", "want the server's public key"},
		{"file short fingerprint", func(c *Config, _ *Secrets) { c.Mode, c.Schedule, c.SFTPHostKey = ModeFile, "0 5 * * *", "SHA256:abc" }, "sftp_host_key", "43 base64"},
		{"file without credentials", func(c *Config, _ *Secrets) { c.Mode, c.Schedule = ModeFile, "0 5 * * *" }, "sftp_password", "sftp_password or sftp_private_key"},
		{"file bad private key", func(c *Config, s *Secrets) {
			c.Mode, c.Schedule, s.SFTPPrivateKey = ModeFile, "0 5 * * *", "-----BEGIN NONSENSE-----"
		}, "sftp_private_key", "not a private key"},
		{"file bad prefix", func(c *Config, _ *Secrets) { c.Mode, c.Schedule, c.FilePrefix = ModeFile, "0 5 * * *", "../x" }, "file_prefix", "letters, digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, s := validConfig(), validSecrets()
			tc.mutate(&c, &s)
			ps := problemsOf(t, Validate(c, s))
			if !hasProblem(ps, tc.path, tc.msg) {
				t.Fatalf("problems %v, want %s: …%s…", ps, tc.path, tc.msg)
			}
		})
	}
}

// TestValidationListsEveryProblem: one save with many mistakes gets them
// all in one answer, each with its own path.
func TestValidationListsEveryProblem(t *testing.T) {
	c := Config{
		URL:    "https://x.example/{{result.kee}}/{{participant.emial}}",
		Method: "GET", ContentType: "json", Timeout: "1h", Zone: "Nowhere/Land", Auth: AuthBearer,
		Fields: []Field{
			{Target: "a", Source: "result.scroe.scaled"},
			{Target: "b", Source: "result.passed", Format: "percent"},
			{Target: "c", Required: true},
			{Target: "a", Source: "objective.name", Format: "date:QQ"},
		},
	}
	ps := problemsOf(t, Validate(c, Secrets{}))
	want := []struct{ path, msg string }{
		{"url{{result.kee}}", "unknown field"},
		{"url{{participant.emial}}", "unknown field"},
		{"method", "want POST"},
		{"timeout", "want 1s"},
		{"zone", "unknown time zone"},
		{"fields[0].source", "unknown source"},
		{"fields[1].format", "applies to number values"},
		{"fields[2].source", "required but has neither"},
		{"fields[3].target", "also the target of fields[0]"},
		{"fields[3].format", "unknown element"},
		{"signing_secret", "required"},
		{"token", "required for bearer auth"},
	}
	for _, w := range want {
		if !hasProblem(ps, w.path, w.msg) {
			t.Errorf("missing problem %s: %s", w.path, w.msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(ps), len(want), ps)
	}
	var ve *ValidationError
	if err := Validate(c, Secrets{}); !errors.As(err, &ve) || !strings.Contains(err.Error(), "fields[1].format: ") {
		t.Errorf("Error() = %v", err)
	}
}

// TestValidationNeverEchoesSecrets: a secret that is wrong is described,
// never quoted.
func TestValidationNeverEchoesSecrets(t *testing.T) {
	c := validConfig()
	c.Mode, c.Schedule = ModeFile, "0 5 * * *"
	s := Secrets{SigningSecret: "whsec_topsecretvalue!!", SFTPPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nsupersecretkeymaterial\n"}
	err := Validate(c, s)
	if err == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{"topsecretvalue", "supersecretkeymaterial"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error quotes a secret: %v", err)
		}
	}
	c2 := validConfig()
	if err := Validate(c2, Secrets{SigningSecret: "whsec_topsecretvalue!!"}); err == nil || strings.Contains(err.Error(), "topsecretvalue") {
		t.Errorf("signing secret error: %v", err)
	}
}

func TestPropertiesRoundTrip(t *testing.T) {
	c := validConfig()
	c.Mode, c.MaxItems, c.Schedule, c.Zone, c.Envelope = ModeBatch, 25, "0 2 * * *", "Europe/Berlin", EnvelopeArray
	c.URL = "https://x.example/batch"
	c.Fields[1].Zone = "Asia/Tokyo"
	credits := 2.5
	c.Directory = "email,member_id\nada@example.com,100042\n"
	c.Objectives = map[string]ObjectiveValues{"42": {Credits: &credits, CreditType: "CE", Extra: map[string]string{"product_code": "FS101"}}}
	s := Secrets{SigningSecret: testSecret, Token: "t"}
	props := c.Properties()
	if props["max_items"] != "25" || props["mode"] != "batch" || !strings.HasPrefix(props["fields"], "[") {
		t.Fatalf("properties %v", props)
	}
	c2, s2, err := FromProperties(props, s.SecretMap())
	if err != nil {
		t.Fatal(err)
	}
	j1, _ := json.Marshal(c)
	j2, _ := json.Marshal(c2)
	if string(j1) != string(j2) || s2 != s || *c2.Objectives["42"].Credits != 2.5 {
		t.Errorf("round trip:\n%+v\n%+v\n%+v", c, c2, s2)
	}
	for _, p := range Properties {
		if _, ok := props[p.Name]; !ok && !p.Secret {
			if p.Name == "preset" || strings.HasPrefix(p.Name, "sftp_") || p.Name == "file_prefix" || p.Name == "auth" ||
				p.Name == "method" || p.Name == "content_type" || p.Name == "timeout" || p.Name == "trigger" || p.Name == "max_wait" ||
				p.Name == "username" || p.Name == "api_key_header" || p.Name == "token_url" || p.Name == "client_id" || p.Name == "scope" || p.Name == "credentials_in" {
				continue // empty in this configuration
			}
			t.Errorf("property %s missing from %v", p.Name, props)
		}
	}
}

func TestFromPropertiesErrors(t *testing.T) {
	_, _, err := FromProperties(
		map[string]string{"url": "https://x", "fields": "{not json", "max_items": "ten", "colour": "red", "password": "pw"},
		map[string]string{"url": "x", "nonsense": "y"},
	)
	ps := problemsOf(t, err)
	for _, w := range []struct{ path, msg string }{
		{"fields", "JSON array"}, {"max_items", "whole number"}, {"colour", "unknown setting"},
		{"password", "it is a secret setting"}, {"url", "unknown secret setting"}, {"nonsense", "unknown secret setting"},
	} {
		if !hasProblem(ps, w.path, w.msg) {
			t.Errorf("missing %s: %s in %v", w.path, w.msg, ps)
		}
	}
	if strings.Contains(err.Error(), "pw") {
		t.Errorf("the error quotes a secret: %v", err)
	}
}
