package schema

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Format is the statements resource's format parameter.
type Format string

// Formats of the statements resource.
const (
	FormatExact     Format = "exact"
	FormatIDs       Format = "ids"
	FormatCanonical Format = "canonical"
)

// ParseFormat checks a format parameter ("" means exact).
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "":
		return FormatExact, nil
	case FormatExact, FormatIDs, FormatCanonical:
		return Format(s), nil
	}
	return "", errorf("format", "format", "format must be exact, ids or canonical, not %q", s)
}

// Render returns a stored statement (as kept for format=exact) in format f.
// For canonical, each language map keeps the single entry that best matches
// langs (Accept-Language order), or its first entry.
func Render(stored []byte, f Format, langs []string) ([]byte, error) {
	if f == FormatExact || f == "" {
		return stored, nil
	}
	tree, err := decodeTree(stored)
	if err != nil {
		return nil, fmt.Errorf("render stored statement: %w", err)
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("render stored statement: not an object")
	}
	switch f {
	case FormatIDs:
		idsStatement(m)
	case FormatCanonical:
		canonicalLangMaps(m, langs)
	}
	return encodeTree(m)
}

// idsStatement reduces a Statement, or a SubStatement, to what format=ids
// returns (Communication 2.1.3.s1.table1.row12): the minimum that
// identifies each Agent, Group, Verb and Activity. A Verb or an Activity
// is its id (an Activity's objectType is optional, Data 2.4.4.1); an Agent
// is its identifier, with objectType only where it is required (an Agent
// that is a statement's object, Data 2.4.4.2); a Group is its objectType
// and identifier, or, anonymous, its objectType and its members reduced
// alike. StatementRefs and everything that is not one of those objects
// (result, timestamps, attachments…) are kept.
func idsStatement(m map[string]any) {
	if a, ok := m["actor"]; ok {
		m["actor"] = idsActor(a, false)
	}
	if verb, ok := m["verb"].(map[string]any); ok {
		m["verb"] = map[string]any{"id": verb["id"]}
	}
	if a, ok := m["authority"]; ok {
		m["authority"] = idsActor(a, false)
	}
	if obj, ok := m["object"].(map[string]any); ok {
		switch obj["objectType"] {
		case "Agent", "Group":
			m["object"] = idsActor(obj, true)
		case "SubStatement":
			idsStatement(obj)
		case objectTypeStatementRf:
		default:
			m["object"] = idsActivity(obj)
		}
	}
	ctx, ok := m["context"].(map[string]any)
	if !ok {
		return
	}
	for _, k := range []string{"instructor", "team"} {
		if a, ok := ctx[k]; ok {
			ctx[k] = idsActor(a, false)
		}
	}
	for _, ca := range asList(ctx["contextAgents"]) {
		if x, ok := ca.(map[string]any); ok {
			x["agent"] = idsActor(x["agent"], false)
		}
	}
	for _, cg := range asList(ctx["contextGroups"]) {
		if x, ok := cg.(map[string]any); ok {
			x["group"] = idsActor(x["group"], false)
		}
	}
	if cas, ok := ctx["contextActivities"].(map[string]any); ok {
		for k, list := range cas {
			out := []any{}
			for _, a := range asList(list) {
				if x, ok := a.(map[string]any); ok {
					out = append(out, idsActivity(x))
				}
			}
			cas[k] = out
		}
	}
}

func idsActivity(m map[string]any) map[string]any { return map[string]any{"id": m["id"]} }

// idsActor reduces an Agent or Group. asObject: it is a statement's
// object, where an Agent's objectType is required.
func idsActor(v any, asObject bool) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	group := m["objectType"] == "Group"
	if ot, ok := m["objectType"]; ok && (group || asObject) {
		out["objectType"] = ot
	}
	for _, k := range []string{"mbox", "mbox_sha1sum", "openid", "account"} {
		if x, ok := m[k]; ok {
			out[k] = x
			return out
		}
	}
	if members, ok := m["member"].([]any); ok && group {
		ms := make([]any, len(members))
		for i, mm := range members {
			ms[i] = idsActor(mm, false)
		}
		out["member"] = ms
	}
	return out
}

// languageMapKeys are the properties holding language maps.
var languageMapKeys = map[string]bool{"display": true, "name": true, "description": true}

func canonicalLangMaps(v any, langs []string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "extensions" {
				continue
			}
			if languageMapKeys[k] {
				if lm, ok := val.(map[string]any); ok {
					x[k] = pickLanguage(lm, langs)
					continue
				}
			}
			canonicalLangMaps(val, langs)
		}
	case []any:
		for _, e := range x {
			canonicalLangMaps(e, langs)
		}
	}
}

func pickLanguage(lm map[string]any, langs []string) map[string]any {
	if len(lm) <= 1 {
		return lm
	}
	keys := make([]string, 0, len(lm))
	for k := range lm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, want := range langs {
		if want == "*" {
			break
		}
		for _, k := range keys {
			if strings.EqualFold(k, want) {
				return map[string]any{k: lm[k]}
			}
		}
		for _, k := range keys { // en matches en-US
			if len(k) > len(want) && strings.EqualFold(k[:len(want)], want) && k[len(want)] == '-' {
				return map[string]any{k: lm[k]}
			}
		}
	}
	for _, k := range keys {
		if k == "und" || strings.EqualFold(k, "en-US") {
			return map[string]any{k: lm[k]}
		}
	}
	return map[string]any{keys[0]: lm[keys[0]]}
}

// ParseAcceptLanguage returns the language tags of an Accept-Language
// header, most preferred first (q=0 entries dropped).
func ParseAcceptLanguage(h string) []string {
	type tag struct {
		name string
		q    float64
		i    int
	}
	var tags []tag
	for i, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			tags = append(tags, tag{name, q, i})
		}
	}
	sort.SliceStable(tags, func(a, b int) bool { return tags[a].q > tags[b].q })
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.name
	}
	return out
}
