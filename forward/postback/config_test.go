package postback_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/postback"
)

func TestValidate(t *testing.T) {
	ok := map[string]string{"url": "https://lms.example.com/postback"}
	for _, tc := range []struct {
		name           string
		props, secrets map[string]string
		want           []string
	}{
		{"minimal", ok, nil, nil},
		{"every setting", map[string]string{"url": "http://lms.example.com:8080/pb?tenant=7", "authType": "httpbasic", "resultsFormat": "full"},
			map[string]string{"userName": "lms", "password": "pw"}, nil},
		{"user name as a property", map[string]string{"url": "https://x.example", "userName": "lms"}, map[string]string{"password": "pw"}, nil},
		{"user name without a password", ok, map[string]string{"userName": "lms"}, nil},
		{"no url", map[string]string{}, nil, []string{"properties.url: is required"}},
		{"relative url", map[string]string{"url": "/postback"}, nil, []string{"properties.url: want an absolute http(s) URL"}},
		{"ftp url", map[string]string{"url": "ftp://lms.example.com/"}, nil, []string{"properties.url: want an absolute http(s) URL"}},
		{"no host", map[string]string{"url": "https:///postback"}, nil, []string{"properties.url: want an absolute http(s) URL"}},
		{"opaque", map[string]string{"url": "https:lms.example.com"}, nil, []string{"properties.url: want an absolute http(s) URL"}},
		{"credentials in the url", map[string]string{"url": "https://lms:pw@lms.example.com/"}, nil, []string{"properties.url: must not carry user:password@: set userName and password instead"}},
		{"fragment", map[string]string{"url": "https://lms.example.com/pb#x"}, nil, []string{"properties.url: must not have a #fragment (it is never sent)"}},
		{"unknown auth type", map[string]string{"url": "https://x.example", "authType": "basic"}, nil, []string{`properties.authType: "basic": want form or httpbasic`}},
		{"auth type upper-case", map[string]string{"url": "https://x.example", "authType": "FORM"}, nil, []string{`properties.authType: "FORM": want form or httpbasic`}},
		{"SDK's UNDEFINED", map[string]string{"url": "https://x.example", "authType": "UNDEFINED"}, nil, []string{`properties.authType: "UNDEFINED": want form or httpbasic`}},
		{"unknown results format", map[string]string{"url": "https://x.example", "resultsFormat": "xml"}, nil, []string{`properties.resultsFormat: "xml": want course, activity or full`}},
		{"password as a property", map[string]string{"url": "https://x.example", "password": "pw"}, nil, []string{"properties.password: is a secret: put it in secrets"}},
		{"password without a user name", ok, map[string]string{"password": "pw"}, []string{"secrets.userName: is required with a password"}},
		{"unknown property", map[string]string{"url": "https://x.example", "legacy": "true"}, nil, []string{"properties.legacy: unknown property (want url, authType, resultsFormat, userName)"}},
		{"unknown secret", ok, map[string]string{"token": "t"}, []string{"secrets.token: unknown secret (want userName, password)"}},
		{"every problem at once",
			map[string]string{"url": "lms.example.com", "authType": "oauth2", "resultsFormat": "xml", "password": "pw", "extra": "1"},
			map[string]string{"apiKey": "k"},
			[]string{
				"properties.extra: unknown property (want url, authType, resultsFormat, userName)",
				"properties.password: is a secret: put it in secrets",
				"secrets.apiKey: unknown secret (want userName, password)",
				`properties.authType: "oauth2": want form or httpbasic`,
				`properties.resultsFormat: "xml": want course, activity or full`,
				"properties.url: want an absolute http(s) URL",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := postback.Validate(tc.props, tc.secrets)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Validate =\n  %q\nwant\n  %q", got, tc.want)
			}
			_, err := postback.New(tc.props, tc.secrets, postback.Options{})
			var ve *postback.ValidationError
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != nil && (!errors.As(err, &ve) || !slices.Equal(ve.Problems, tc.want)):
				t.Errorf("New: %v, want the same problems", err)
			}
			if err != nil && strings.Contains(err.Error(), "pw") && tc.secrets["password"] == "pw" {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestTypeRegisters(t *testing.T) {
	factory := func(forward.Configuration, map[string]string) (forward.Destination, error) { return nil, nil }
	typ := postback.Type(factory)
	reg, err := forward.NewRegistry(typ)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := reg.Lookup("postback")
	if !ok || got.Sink != forward.SinkOverwrite || got.Target != "url" {
		t.Fatalf("registered type = %+v, %v", got, ok)
	}
	// The registry's own check is Validate.
	props := map[string]string{"url": "https://x.example", "authType": "form"}
	if ps := got.Check(props, map[string]string{"password": "pw"}); !slices.Equal(ps, []string{"secrets.userName: is required with a password"}) {
		t.Errorf("Check = %q", ps)
	}
	flags := map[string]string{}
	for _, f := range slices.Concat(got.Properties, got.Secrets) {
		flags[f.Name] = f.FlagName()
	}
	want := map[string]string{"url": "url", "authType": "auth-type", "resultsFormat": "results-format", "userName": "user-name", "password": "password"}
	for name, flag := range want {
		if flags[name] != flag {
			t.Errorf("flag of %s = %q, want %q", name, flags[name], flag)
		}
	}
	if len(flags) != len(want) {
		t.Errorf("fields %v, want %v", flags, want)
	}
	if _, err := forward.NewRegistry(postback.Type(nil)); err == nil {
		t.Error("a type without its factory was registered")
	}
}
