package forward_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/forward"
)

// hostileSecret has every character some encoding changes: URL-reserved,
// JSON- and HTML-special, a space, non-ASCII and beyond the BMP.
const hostileSecret = `s3cr/t+"<&>'=?% é🔑\x`

// wireForms are the forms a secret takes in what a destination echoes,
// each made the way the sender (or an echoing proxy) makes it, not by the
// redactor.
func wireForms(t *testing.T, key, secret string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://example.com", nil)
	req.SetBasicAuth(key, secret)
	jsonOf := func(v any, escapeHTML bool) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(b.String())
	}
	form := url.Values{"client_id": {key}, "client_secret": {secret}}.Encode()
	jsEscaped := func(s string) string { // encodeURIComponent
		var b strings.Builder
		for _, c := range []byte(s) {
			if strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()", c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		return b.String()
	}
	asciiJSON := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteString(`\` + string(r))
			case r < 0x80:
				b.WriteRune(r)
			case r > 0xFFFF:
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			default:
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		return b.String()
	}
	return map[string]string{
		"raw":                   secret,
		"basic header":          req.Header.Get("Authorization"),
		"basic base64":          strings.TrimPrefix(req.Header.Get("Authorization"), "Basic "),
		"basic base64 unpadded": strings.TrimRight(strings.TrimPrefix(req.Header.Get("Authorization"), "Basic "), "="),
		"query":                 "https://x.example/?secret=" + url.QueryEscape(secret),
		"query lower hex":       strings.ToLower(url.QueryEscape(secret)),
		"path":                  "https://x.example/" + url.PathEscape(secret) + "/y",
		"form body":             form,
		"encodeURIComponent":    jsEscaped(secret),
		"json":                  jsonOf(map[string]string{"secret": secret}, true),
		"json without html":     jsonOf(map[string]string{"secret": secret}, false),
		"json slash":            strings.ReplaceAll(jsonOf(secret, false), "/", `\/`),
		"json ascii":            asciiJSON(secret),
		"json of a json body":   jsonOf(jsonOf(map[string]string{"secret": secret}, false), false),
		"json of a form body":   jsonOf(map[string]string{"echo": form}, true),
		"html page":             "<p>" + html.EscapeString(secret) + "</p>",
		"html of json":          html.EscapeString(jsonOf(secret, true)),
		"base64":                base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64 url unpadded":   base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"header dump":           "Authorization: " + req.Header.Get("Authorization") + "\r\nX-Secret: " + secret,
		"cut short at the end":  forward.Truncate("error: "+secret, len("error: ")+9),
		"cut short, query form": forward.Truncate("error: "+url.QueryEscape(secret), len("error: ")+12),
	}
}

func TestRedactorRemovesEveryWireForm(t *testing.T) {
	const key = "the-key"
	r := forward.ConfigRedactor(map[string]string{"endpoint": "https://lms.example.com/xapi/"},
		map[string]string{"key": key, "secret": hostileSecret})
	for name, text := range wireForms(t, key, hostileSecret) {
		got := r.Redact(text)
		if !strings.HasPrefix(name, "cut short") {
			got = r.Redact("before " + text + " after")
		}
		if !strings.Contains(got, forward.Redacted) {
			t.Errorf("%s: %q: nothing redacted", name, got)
		}
		// Nothing of the secret is left: not its distinctive middle, in
		// any of the forms.
		for _, probe := range []string{"s3cr", "3cr", "%C3%A9%F0", "🔑", "8J+U", "czNjcl"} {
			if strings.Contains(got, probe) {
				t.Errorf("%s: %q still holds %q", name, got, probe)
			}
		}
	}
}

func TestRedactorKeepsOrdinaryText(t *testing.T) {
	r := forward.NewRedactor("abc", "", "longer-secret")
	for _, s := range []string{"abc is too short to be a secret", "HTTP 500: boom", ""} {
		if got := r.Redact(s); got != s {
			t.Errorf("Redact(%q) = %q, want it unchanged", s, got)
		}
	}
	var nilR *forward.Redactor
	if got := nilR.Redact("x longer-secret"); got != "x longer-secret" {
		t.Errorf("a nil Redactor changed the text: %q", got)
	}
}

func TestRedactorRunTimeSecrets(t *testing.T) {
	r := forward.NewRedactor("configured-secret")
	token := "eyJhbGciOiJIUzI1NiJ9.tok"
	if got := r.Redact("Bearer " + token); !strings.Contains(got, token) {
		t.Fatalf("a token not yet added was redacted: %q", got)
	}
	r.Add(token)
	if got := r.Redact("Authorization: Bearer " + token + `, {"t":"` + token + `"}`); strings.Contains(got, "eyJhbGci") {
		t.Fatalf("the token added is still there: %q", got)
	}
	outer := forward.NewRedactor("another-secret").Also(r)
	if got := outer.Redact("another-secret " + token + " configured-secret"); strings.Count(got, forward.Redacted) != 3 {
		t.Fatalf("Also: %q", got)
	}
	res := r.RedactResult(forward.Result{Message: "m " + token, Rejected: map[string]string{"id": "why configured-secret"}})
	if strings.Contains(res.Message, token) || strings.Contains(res.Rejected["id"], "configured-secret") {
		t.Fatalf("RedactResult: %+v", res)
	}
}
