package forward

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redaction, the kit's one entry point for every destination type: a
// Redactor knows the secrets of a configuration in every form they take on
// the wire, and removes them from any text before it is stored, logged,
// mailed or answered. The engine applies it to every Result a destination
// returns (and the administration to every text it answers); destinations
// call it too, before they cut an answer short, so that no secret is cut
// in half where the redaction can no longer see it.

// Redacted replaces a secret in redacted text.
const Redacted = "[redacted]"

// MinSecret is the shortest value redacted: shorter ones would blank out
// ordinary text (and are refused as secrets by no type today).
const MinSecret = 4

// maxDynamic bounds the run-time secrets (tokens) a Redactor keeps.
const maxDynamic = 8

// Redactor removes secrets from text shown to anyone: results, logs,
// stored errors, mail. It is safe for concurrent use; a nil Redactor
// removes nothing.
type Redactor struct {
	mu      sync.RWMutex
	static  []string // forms of the secrets given at construction and by AddBasic
	dynamic []string // raw run-time secrets (tokens), newest last
	forms   []string // every form, longest first
	r       *strings.Replacer
	also    []*Redactor
}

// NewRedactor returns a Redactor of the secrets (empty and too short ones
// are ignored), in every form listed by SecretForms.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		r.static = append(r.static, SecretForms(s)...)
	}
	r.rebuild()
	return r
}

// ConfigRedactor is the Redactor of a configuration's settings: every
// secret value, and every value paired with a secret as HTTP Basic
// credentials (base64 of "value:secret"), so that a Basic header echoed by
// a destination is recognised whatever the type calls its user.
func ConfigRedactor(props, secrets map[string]string) *Redactor {
	r := NewRedactor(mapValues(secrets)...)
	users := slices.Concat(mapValues(props), mapValues(secrets))
	for _, s := range mapValues(secrets) {
		for _, u := range users {
			if u != s {
				r.static = append(r.static, basicForms(u, s)...)
			}
		}
	}
	r.rebuild()
	return r
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		if v := m[k]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

// AddBasic adds the forms of HTTP Basic credentials user:password (the
// header's base64, alone or with its scheme).
func (r *Redactor) AddBasic(user, password string) {
	if r == nil || len(password) < MinSecret {
		return
	}
	r.mu.Lock()
	r.static = append(r.static, basicForms(user, password)...)
	r.rebuildLocked()
	r.mu.Unlock()
}

// Add adds run-time secrets, such as a token obtained from a token
// endpoint; the newest few are kept.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		if len(s) < MinSecret || slices.Contains(r.dynamic, s) {
			continue
		}
		r.dynamic = append(r.dynamic, s)
		changed = true
	}
	if len(r.dynamic) > maxDynamic {
		r.dynamic = slices.Clone(r.dynamic[len(r.dynamic)-maxDynamic:])
	}
	if changed {
		r.rebuildLocked()
	}
}

// Also makes r redact what each of others redacts as well (a destination's
// own Redactor, which knows its tokens).
func (r *Redactor) Also(others ...*Redactor) *Redactor {
	if r == nil {
		r = NewRedactor()
	}
	r.mu.Lock()
	for _, o := range others {
		if o != nil && o != r {
			r.also = append(r.also, o)
		}
	}
	r.mu.Unlock()
	return r
}

func (r *Redactor) rebuild() {
	r.mu.Lock()
	r.rebuildLocked()
	r.mu.Unlock()
}

func (r *Redactor) rebuildLocked() {
	forms := slices.Clone(r.static)
	for _, d := range r.dynamic {
		forms = append(forms, SecretForms(d)...)
	}
	slices.SortFunc(forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Redacted)
	}
	r.forms = forms
	r.r = strings.NewReplacer(pairs...)
}

// Redact returns s with every form of every secret replaced by
// "[redacted]", and a secret's form cut short at the end of s (before a
// "…" that Truncate appended) removed as well. A nil Redactor returns s.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	rep, forms, also := r.r, r.forms, r.also
	r.mu.RUnlock()
	if len(forms) > 0 {
		s = rep.Replace(s)
		s = cutPartial(s, forms)
	}
	for _, o := range also {
		s = o.Redact(s)
	}
	return s
}

// RedactResult returns r with its message and the reasons of its rejected
// and skipped items redacted.
func (r *Redactor) RedactResult(res Result) Result {
	res.Message = r.Redact(res.Message)
	redact := func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return m
		}
		out := make(map[string]string, len(m))
		for id, why := range m {
			out[id] = r.Redact(why)
		}
		return out
	}
	res.Rejected, res.Skipped = redact(res.Rejected), redact(res.Skipped)
	return res
}

// minPartial is the shortest beginning of a secret's form removed at the
// end of a text cut short.
const minPartial = 4

// cutPartial removes, at the end of s (before a trailing "…"), the
// longest beginning of one of forms (of at least minPartial bytes): the
// rest of a secret that was cut short.
func cutPartial(s string, forms []string) string {
	body, ell := s, ""
	if b, ok := strings.CutSuffix(s, "…"); ok {
		body, ell = b, "…"
	}
	best := 0
	for _, f := range forms {
		for n := min(len(f)-1, len(body)); n >= minPartial && n > best; n-- {
			if strings.HasSuffix(body, f[:n]) {
				best = n
				break
			}
		}
	}
	if best == 0 {
		return s
	}
	body = body[:len(body)-best]
	for len(body) > 0 && !utf8.ValidString(body) {
		body = body[:len(body)-1]
	}
	return body + Redacted + ell
}

// SecretForms returns the forms a secret takes on the wire, the secret
// itself first: URL query, path, strict (RFC 3986) and JavaScript's
// encodeURIComponent escaping with upper
// and lower hex digits, JSON string escaping (with and without HTML
// escapes, with "\/", ASCII-only, and escaped twice, as when a JSON body is
// echoed inside a JSON string), HTML escaping, and base64 (standard and
// URL alphabets, padded or not). Secrets shorter than MinSecret have none.
func SecretForms(s string) []string {
	if len(s) < MinSecret {
		return nil
	}
	var out []string
	add := func(f string) {
		if len(f) >= MinSecret && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	add(s)
	for _, e := range []string{url.QueryEscape(s), url.PathEscape(s), strictEscape(s, ""), strictEscape(s, "!'()*")} {
		add(e)
		add(lowerHex(e))
	}
	for _, j := range jsonForms(s) {
		add(j)
		add(html.EscapeString(j))
		for _, jj := range jsonForms(j) {
			add(jj)
		}
	}
	add(html.EscapeString(s))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		add(enc.EncodeToString([]byte(s)))
	}
	return out
}

// basicForms are the forms of HTTP Basic credentials: the base64 of
// "user:password" (padded or not).
func basicForms(user, password string) []string {
	if len(password) < MinSecret {
		return nil
	}
	pair := []byte(user + ":" + password)
	return []string{
		base64.StdEncoding.EncodeToString(pair),
		base64.RawStdEncoding.EncodeToString(pair),
		base64.URLEncoding.EncodeToString(pair),
	}
}

// jsonForms are a string's JSON escapings, without the quotes.
func jsonForms(s string) []string {
	var out []string
	var b bytes.Buffer
	for _, escapeHTML := range []bool{true, false} {
		b.Reset()
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		if enc.Encode(s) != nil {
			continue
		}
		j := strings.TrimSuffix(b.String(), "\n")
		j = j[1 : len(j)-1]
		out = append(out, j, strings.ReplaceAll(j, "/", `\/`))
	}
	// ASCII-only: every non-ASCII rune as \uXXXX (surrogate pairs beyond
	// the BMP), as many serializers write them.
	var a strings.Builder
	for _, r := range out[2] { // no HTML escapes, "/" as it is
		switch {
		case r < utf8.RuneSelf:
			a.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			a.WriteString(uEscape(0xD800 + (r >> 10)))
			a.WriteString(uEscape(0xDC00 + (r & 0x3FF)))
		default:
			a.WriteString(uEscape(r))
		}
	}
	ascii := a.String()
	return append(out, ascii, upperU(ascii))
}

func uEscape(r rune) string {
	const hex = "0123456789abcdef"
	return `\u` + string([]byte{hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF]})
}

// upperU writes the hex digits of \u escapes in upper case.
func upperU(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+6 <= len(s) && s[i+1] == 'u' {
			b.WriteString(`\u`)
			b.WriteString(strings.ToUpper(s[i+2 : i+6]))
			i += 5
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// strictEscape percent-encodes every byte but RFC 3986's unreserved ones
// and keep (with "!'()*" as JavaScript's encodeURIComponent does).
func strictEscape(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

// lowerHex writes the hex digits of percent escapes in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lower(b[i+1])
			b[i+2] = lower(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// Redacting is implemented by destinations whose Redactor knows more than
// the configuration's settings (tokens obtained at run time): the engine
// and the administration redact with it besides ConfigRedactor.
type Redacting interface {
	Redactor() *Redactor
}

// redactorOf is the Redactor of a configuration's settings and, when it
// has one, of its destination.
func redactorOf(c Configuration, secrets map[string]string, dest Destination) *Redactor {
	r := ConfigRedactor(c.Properties, secrets)
	if rd, ok := dest.(Redacting); ok {
		r.Also(rd.Redactor())
	}
	return r
}
