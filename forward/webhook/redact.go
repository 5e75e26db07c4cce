package webhook

import (
	"strings"

	"github.com/lrs-project/lrs/forward"
)

// redacted replaces a secret in every text the destination shows.
const redacted = forward.Redacted

// redactor removes secrets from text in every form the forward kit knows
// (forward.Redactor): as written, URL and form escaped, JSON and HTML
// escaped, base64, and as the user:password of a Basic header; a signing
// secret also without its "whsec_" prefix.
type redactor struct {
	r *forward.Redactor
}

// newRedactor builds a redactor of secrets; pairs are user:password
// credentials sent as HTTP Basic.
func newRedactor(secrets []string, basic ...[2]string) *redactor {
	var all []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		all = append(all, s)
		if rest, ok := strings.CutPrefix(s, secretPrefix); ok {
			all = append(all, rest)
		}
	}
	r := forward.NewRedactor(all...)
	for _, p := range basic {
		r.AddBasic(p[0], p[1])
	}
	return &redactor{r: r}
}

// redact removes the secrets, and any of extra (a current token), from s.
func (r *redactor) redact(s string, extra ...string) string {
	r.r.Add(extra...)
	return r.r.Redact(s)
}

// Redactor is the webhook's redaction, with the tokens it obtained
// (forward.Redacting): what the engine redacts its outcomes with.
func (w *Webhook) Redactor() *forward.Redactor { return w.red.r }
