package webhook

import (
	"net/url"
	"strings"
	"time"
)

// urlTemplate is a URL with placeholders: {{source}} or {{source|format}},
// e.g. https://x.example/api/credits/{{result.key}} or
// …?member={{participant.external_id}}. Placeholders may stand in the
// path and the query, never in the scheme, the host or the fragment (a
// learner's value must not choose where the request goes). A value in the
// path is escaped as one path segment ("/" becomes %2F, a lone "." or ".."
// is escaped too); a value in the query is query-escaped.
type urlTemplate struct {
	parts []tplPart
}

type tplPart struct {
	lit    string
	src    *Source
	format format
	query  bool
	loc    *time.Location
}

// compileURL parses and checks a URL template; path is the property name
// for problems.
func compileURL(raw, path string, loc *time.Location, ps *problems) *urlTemplate {
	t := &urlTemplate{}
	ok := true
	rest := raw
	var skeleton strings.Builder // the URL with every placeholder as "x"
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				ps.add(path, "a '}}' without its '{{'")
				ok = false
			}
			t.parts = append(t.parts, tplPart{lit: rest})
			skeleton.WriteString(rest)
			break
		}
		lit := rest[:i]
		if strings.Contains(lit, "}}") {
			ps.add(path, "a '}}' without its '{{'")
			ok = false
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			ps.add(path, "a '{{' without its '}}'")
			return nil
		}
		inner := strings.TrimSpace(rest[i+2 : i+j])
		rest = rest[i+j+2:]
		t.parts = append(t.parts, tplPart{lit: lit})
		skeleton.WriteString(lit)
		before := skeleton.String()
		skeleton.WriteString("x")

		name, fmtText, _ := strings.Cut(inner, "|")
		name, fmtText = strings.TrimSpace(name), strings.TrimSpace(fmtText)
		at := path + "{{" + inner + "}}"
		p := tplPart{loc: loc}
		s, known := lookupSource(name)
		if !known {
			ps.add(at, "unknown field %q in the URL template%s", name, suggest(name))
			ok = false
		} else {
			p.src = &s
			f, err := parseFormat(fmtText)
			switch {
			case err != nil:
				ps.add(at, "%v", err)
				ok = false
			case f.accepts(s.Kind) != "":
				ps.add(at, "%s (%s is a %s)", f.accepts(s.Kind), s.Name, s.Kind)
				ok = false
			}
			p.format = f
		}
		switch {
		case strings.Contains(before, "#"):
			ps.add(at, "a placeholder cannot stand in the fragment")
			ok = false
		case strings.Contains(before, "?"):
			p.query = true
		case !pastHost(before):
			ps.add(at, "a placeholder can stand in the path or the query, not in the scheme or the host")
			ok = false
		}
		t.parts = append(t.parts, p)
	}
	u, err := url.Parse(skeleton.String())
	switch {
	case raw == "":
		ps.add(path, "required")
		ok = false
	case err != nil:
		ps.add(path, "not a URL: %v", unwrapURLError(err))
		ok = false
	case u.Scheme != "http" && u.Scheme != "https":
		ps.add(path, "want an absolute http or https URL")
		ok = false
	case u.Host == "":
		ps.add(path, "the URL has no host")
		ok = false
	case u.User != nil:
		ps.add(path, "the URL carries a user name or password; use the basic auth settings instead (secrets are kept encrypted, URLs are not)")
		ok = false
	}
	if !ok {
		return nil
	}
	return t
}

// pastHost reports whether the text before a placeholder already ends the
// authority (scheme://host/…).
func pastHost(before string) bool {
	_, after, found := strings.Cut(before, "://")
	return found && strings.Contains(after, "/")
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// expand fills the template for one input.
func (t *urlTemplate) expand(in *Input) (string, error) {
	var b strings.Builder
	var ps problems
	for _, p := range t.parts {
		if p.src == nil {
			b.WriteString(p.lit)
			continue
		}
		v, ok := p.src.get(in)
		if !ok {
			ps.add("url", "%s has no value for the URL", p.src.Name)
			continue
		}
		o, err := p.format.apply(v, p.loc)
		if err != nil {
			ps.add("url", "%s: %v", p.src.Name, err)
			continue
		}
		if p.query {
			b.WriteString(url.QueryEscape(o.text))
		} else {
			b.WriteString(escapeSegment(o.text))
		}
	}
	if len(ps) > 0 {
		return "", &RenderError{Problems: ps}
	}
	return b.String(), nil
}

// escapeSegment escapes a value as one path segment, dot segments too.
func escapeSegment(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}
