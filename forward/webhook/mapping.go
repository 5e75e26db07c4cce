package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Field is one entry of the ordered field mapping: the target receives the
// value of the source (or the constant) in the format. For JSON bodies the
// target is a dotted path ("data.member_email") or a JSON pointer
// ("/data/member_email", ~1 for "/" and ~0 for "~" in a key); every
// segment is an object key. For form bodies and CSV files it is the key or
// the column name as written.
type Field struct {
	Target string `json:"target"`
	Source string `json:"source,omitempty"`
	// Constant is a JSON string, number or boolean sent as written.
	Constant json.RawMessage `json:"constant,omitempty"`
	Format   string          `json:"format,omitempty"`
	// Zone is the IANA time zone of a date (default: the configuration's
	// zone, else UTC).
	Zone string `json:"zone,omitempty"`
	// Required fields must have a value; an input without one is not sent.
	Required bool `json:"required,omitempty"`
}

// field is a compiled Field.
type field struct {
	target   string
	path     []string // JSON object keys
	src      *Source
	constant *out
	format   format
	loc      *time.Location
	required bool
}

// Problem is one error of a configuration or an input, with the path of
// what it concerns: a property name ("url", "schedule"), a field
// ("fields[2].format") or a template placeholder ("url{{result.kee}}").
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

func joinProblems(ps []Problem) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// ValidationError lists every problem of a configuration at once: the
// admin API answers it as one 400 with the list.
type ValidationError struct{ Problems []Problem }

func (e *ValidationError) Error() string {
	return "invalid webhook configuration: " + joinProblems(e.Problems)
}

// RenderError lists why one input cannot be sent with the mapping (a
// required value missing, a value the format cannot take); the delivery
// is not sendable as it is, so it is an item-level outcome, not a
// destination failure.
type RenderError struct{ Problems []Problem }

func (e *RenderError) Error() string { return joinProblems(e.Problems) }

type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// parseTarget splits a JSON target into its object keys.
func parseTarget(t string) ([]string, error) {
	if t == "" {
		return nil, fmt.Errorf("empty target")
	}
	var segs []string
	if rest, ok := strings.CutPrefix(t, "/"); ok {
		for _, s := range strings.Split(rest, "/") {
			if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(s, "~0", ""), "~1", ""), "~") {
				return nil, fmt.Errorf("JSON pointer %q: '~' must be written ~0 (and '/' in a key ~1)", t)
			}
			segs = append(segs, strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~"))
		}
	} else {
		segs = strings.Split(t, ".")
	}
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("target %q has an empty key", t)
		}
	}
	return segs, nil
}

// parseConstant reads a constant: a JSON string, number or boolean.
func parseConstant(raw json.RawMessage) (out, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return out{}, fmt.Errorf("not a JSON value")
	}
	switch x := v.(type) {
	case string:
		return outString(x), nil
	case json.Number:
		return outNumber(x.String()), nil
	case bool:
		return outBool(x), nil
	}
	return out{}, fmt.Errorf("a constant is a string, a number or a boolean")
}

// compileFields checks every field and reports all problems. structured
// is true for JSON bodies (targets are paths).
func compileFields(fs []Field, structured bool, defLoc *time.Location, ps *problems) []field {
	if len(fs) == 0 {
		ps.add("fields", "at least one field is needed")
	}
	var out []field
	seen := map[string]int{} // JSON: joined path → field index
	for i, f := range fs {
		at := fmt.Sprintf("fields[%d]", i)
		c := field{target: f.Target, required: f.Required, loc: defLoc}
		ok := true
		if structured {
			path, err := parseTarget(f.Target)
			if err != nil {
				ps.add(at+".target", "%v", err)
				ok = false
			}
			c.path = path
		} else if f.Target == "" || strings.ContainsAny(f.Target, "\r\n\x00") {
			ps.add(at+".target", "want a non-empty key on one line")
			ok = false
		}
		hasConst := len(bytes.TrimSpace(f.Constant)) > 0
		switch {
		case f.Source != "" && hasConst:
			ps.add(at, "give a source or a constant, not both")
			ok = false
		case f.Source == "" && !hasConst && f.Required:
			ps.add(at+".source", "the field is required but has neither a source nor a constant")
			ok = false
		case f.Source == "" && !hasConst:
			ps.add(at+".source", "give a source or a constant")
			ok = false
		case hasConst:
			o, err := parseConstant(f.Constant)
			if err != nil {
				ps.add(at+".constant", "%v", err)
				ok = false
			}
			c.constant = &o
			if f.Format != "" && f.Format != "const" {
				ps.add(at+".format", "a constant is sent as written: use no format (or const)")
				ok = false
			}
		default:
			s, known := lookupSource(f.Source)
			if !known {
				ps.add(at+".source", "unknown source %q%s", f.Source, suggest(f.Source))
				ok = false
				break
			}
			c.src = &s
			fm, err := parseFormat(f.Format)
			if err != nil {
				ps.add(at+".format", "%v", err)
				ok = false
				break
			}
			if why := fm.accepts(s.Kind); why != "" {
				ps.add(at+".format", "%s (%s is a %s)", why, s.Name, s.Kind)
				ok = false
			}
			if fm.name == "enum" {
				checkEnumKeys(s, fm, at+".format", ps)
			}
			c.format = fm
		}
		if f.Zone != "" {
			loc, err := loadZone(f.Zone)
			switch {
			case err != nil:
				ps.add(at+".zone", "%v", err)
				ok = false
			case c.src == nil || c.src.Kind != KindTime:
				ps.add(at+".zone", "a time zone applies to a time source (result.completed_at…)")
				ok = false
			default:
				c.loc = loc
			}
		}
		key := f.Target
		if structured {
			key = strings.Join(c.path, "\x00")
		}
		if key != "" {
			if j, dup := seen[key]; dup {
				ps.add(at+".target", "target %q is also the target of fields[%d]", f.Target, j)
				ok = false
			} else {
				seen[key] = i
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	if structured {
		checkPrefixes(fs, ps)
	}
	return out
}

// checkPrefixes refuses a target that is inside another one's value
// ("data" and "data.email"): one of them would be lost.
func checkPrefixes(fs []Field, ps *problems) {
	paths := make([][]string, len(fs))
	for i, f := range fs {
		paths[i], _ = parseTarget(f.Target)
	}
	for i, a := range paths {
		for j, b := range paths {
			if i == j || a == nil || b == nil || len(a) >= len(b) {
				continue
			}
			if strings.Join(b[:len(a)], "\x00") == strings.Join(a, "\x00") {
				ps.add(fmt.Sprintf("fields[%d].target", j), "target %q is inside %q, which fields[%d] sets to a value", fs[j].Target, fs[i].Target, i)
			}
		}
	}
}

// checkEnumKeys refuses keys a boolean or result.status can never have.
func checkEnumKeys(s Source, f format, at string, ps *problems) {
	var allowed []string
	switch {
	case s.Kind == KindBool:
		allowed = []string{"true", "false"}
	case s.Name == "result.status":
		allowed = StatusValues
	default:
		return
	}
	for k := range f.enum {
		if !contains(allowed, k) {
			ps.add(at, "enum key %q: %s is one of %s", k, s.Name, strings.Join(allowed, ", "))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest names a close source for a typo.
func suggest(name string) string {
	best, dist := "", 4
	for _, s := range Sources {
		if d := editDistance(name, s.Name); d < dist {
			best, dist = s.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("time zone %q: name an IANA zone such as Europe/Berlin (Local depends on the server)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as America/Chicago)", name)
	}
	return loc, nil
}

// rendered is the mapped values of one input, in field order; fields
// without a value are left out.
type rendered struct {
	fields []*field
	values []out
}

// render maps one input; every problem of the input is reported.
func render(fs []field, in *Input) (rendered, error) {
	var r rendered
	var ps problems
	for i := range fs {
		f := &fs[i]
		if f.constant != nil {
			r.fields, r.values = append(r.fields, f), append(r.values, *f.constant)
			continue
		}
		v, ok := f.src.get(in)
		if !ok {
			if f.required {
				ps.add(f.target, "required, but %s has no value", f.src.Name)
			}
			continue
		}
		o, err := f.format.apply(v, f.loc)
		if err != nil {
			ps.add(f.target, "%s: %v", f.src.Name, err)
			continue
		}
		r.fields, r.values = append(r.fields, f), append(r.values, o)
	}
	if len(ps) > 0 {
		return rendered{}, &RenderError{Problems: ps}
	}
	return r, nil
}

// object is a JSON object that keeps its keys in insertion order.
type object struct {
	keys []string
	vals map[string]any // json.RawMessage or *object
}

func (o *object) child(k string) *object {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if c, ok := o.vals[k].(*object); ok {
		return c
	}
	c := &object{}
	o.keys = append(o.keys, k)
	o.vals[k] = c
	return c
}

func (o *object) set(k string, v json.RawMessage) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) write(b *bytes.Buffer) {
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		switch v := o.vals[k].(type) {
		case *object:
			v.write(b)
		case json.RawMessage:
			b.Write(v)
		}
	}
	b.WriteByte('}')
}

// json is the rendered values as one JSON object, keys in mapping order.
func (r rendered) json() []byte {
	root := &object{}
	for i, f := range r.fields {
		o := root
		for _, k := range f.path[:len(f.path)-1] {
			o = o.child(k)
		}
		o.set(f.path[len(f.path)-1], r.values[i].raw)
	}
	var b bytes.Buffer
	root.write(&b)
	return b.Bytes()
}

// form is the rendered values as application/x-www-form-urlencoded, keys
// in mapping order.
func (r rendered) form() []byte {
	var b strings.Builder
	for i, f := range r.fields {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.target))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(r.values[i].text))
	}
	return []byte(b.String())
}

// row is the rendered values as CSV cells, one per field ("" when absent).
func (r rendered) row(fs []field) []string {
	cells := make([]string, len(fs))
	for i, f := range r.fields {
		for j := range fs {
			if &fs[j] == f {
				cells[j] = r.values[i].text
			}
		}
	}
	return cells
}
