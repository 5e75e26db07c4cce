package webhook

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
)

// redacted replaces a secret in every text the destination shows.
const redacted = "[redacted]"

// redactor removes secrets from text in each form they take on the wire:
// as written, URL query and path escaped, JSON escaped, base64 (alone and
// as the user:password of a Basic header). It is this package's own until
// the shared redaction of the forward package can be used here.
type redactor struct {
	r *strings.Replacer
}

// newRedactor builds a redactor of secrets; pairs are user:password
// credentials sent as HTTP Basic.
func newRedactor(secrets []string, basic ...[2]string) *redactor {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if len(s) >= 4 && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		if j, err := json.Marshal(s); err == nil {
			add(string(j[1 : len(j)-1]))
		}
		add(base64.StdEncoding.EncodeToString([]byte(s)))
		add(base64.RawURLEncoding.EncodeToString([]byte(s)))
		if rest, ok := strings.CutPrefix(s, secretPrefix); ok {
			add(rest)
		}
	}
	for _, p := range basic {
		if p[1] != "" {
			add(base64.StdEncoding.EncodeToString([]byte(p[0] + ":" + p[1])))
		}
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, redacted)
	}
	return &redactor{r: strings.NewReplacer(pairs...)}
}

// redact removes the secrets, and any of extra (a current token), from s.
func (r *redactor) redact(s string, extra ...string) string {
	s = r.r.Replace(s)
	for _, e := range extra {
		if len(e) >= 4 {
			s = strings.ReplaceAll(s, e, redacted)
		}
	}
	return s
}
