package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Formats is the value-format vocabulary (sinks.md §3.2), for
// documentation and for the admin API's schema. N is a number of decimals
// (0–9); a format without N that rounds keeps up to 2 decimals and drops
// trailing zeros. Rounding is decimal, halves away from zero (0.285 at
// percent:1 is 28.5; 1.005 at decimal:2 is 1.01).
var Formats = []string{
	"string", "lower", "upper", "int", "decimal", "decimal:N", "percent", "percent:N",
	"points:MAX", "points:MAX:N", "bool", "bool:Y/N", "bool:1/0", "bool:TRUE/FALSE",
	`enum:{passed:"Complete",failed:"Incomplete",*:"Other"}`,
	"date:rfc3339", "date:YYYY-MM-DD", "date:MM/DD/YYYY", "date:unix", "date:unix_ms",
	"date:<layout of YYYY MM DD HH mm ss>", "duration:iso8601", "duration:seconds[:N]",
	"duration:minutes[:N]", "duration:hours[:N]", "mailto", "const",
}

// out is one rendered value: its JSON form (for JSON bodies) and its text
// (for form bodies, CSV cells and URL templates).
type out struct {
	raw  json.RawMessage
	text string
}

func outString(s string) out {
	b, _ := json.Marshal(s)
	return out{raw: b, text: s}
}

func outNumber(s string) out { return out{raw: json.RawMessage(s), text: s} }

func outBool(b bool) out {
	s := strconv.FormatBool(b)
	return out{raw: json.RawMessage(s), text: s}
}

// format is a parsed value format.
type format struct {
	name   string   // "" is the value's natural form
	places int      // decimals; -1 when not given
	max    *big.Rat // points:MAX
	yes    out      // bool:YES/NO
	no     out
	enum   map[string]out
	other  *out   // enum's "*" entry
	layout string // date: a Go layout, or "rfc3339", "unix", "unix_ms"
	unit   string // duration: iso8601, seconds, minutes, hours
}

// Go layouts of the date tokens.
var dateTokens = []struct{ token, layout string }{
	{"YYYY", "2006"}, {"MM", "01"}, {"DD", "02"}, {"HH", "15"}, {"mm", "04"}, {"ss", "05"},
}

// dateLayout turns YYYY-MM-DD style tokens into a Go layout. Separators
// are - / . : , space and T; anything else is refused (a stray letter
// would otherwise be copied or, worse, read by Go as a layout element).
func dateLayout(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty date layout")
	}
	var b strings.Builder
next:
	for len(s) > 0 {
		for _, t := range dateTokens {
			if strings.HasPrefix(s, t.token) {
				b.WriteString(t.layout)
				s = s[len(t.token):]
				continue next
			}
		}
		switch c := s[0]; c {
		case '-', '/', '.', ':', ',', ' ', 'T':
			b.WriteByte(c)
			s = s[1:]
		default:
			return "", fmt.Errorf("unknown element %q in date layout (use YYYY MM DD HH mm ss, rfc3339, unix or unix_ms)", s)
		}
	}
	return b.String(), nil
}

func parsePlaces(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 9 || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("decimals %q: want a whole number from 0 to 9", s)
	}
	return n, nil
}

// parseFormat parses a format string of the vocabulary.
func parseFormat(s string) (format, error) {
	f := format{places: -1}
	name, arg, hasArg := strings.Cut(s, ":")
	f.name = name
	noArg := func() (format, error) {
		if hasArg {
			return f, fmt.Errorf("format %q takes no argument", name)
		}
		return f, nil
	}
	switch name {
	case "", "string", "lower", "upper", "int", "mailto", "const":
		return noArg()
	case "decimal", "percent":
		if hasArg {
			n, err := parsePlaces(arg)
			if err != nil {
				return f, fmt.Errorf("format %s: %w", name, err)
			}
			f.places = n
		}
		return f, nil
	case "points":
		maxText, places, hasPlaces := strings.Cut(arg, ":")
		m, ok := parseDecimal(maxText)
		if !hasArg || !ok || m.Sign() <= 0 {
			return f, errors.New("format points needs a positive maximum: points:MAX, e.g. points:50")
		}
		f.max = m
		if hasPlaces {
			n, err := parsePlaces(places)
			if err != nil {
				return f, fmt.Errorf("format points: %w", err)
			}
			f.places = n
		}
		return f, nil
	case "bool":
		f.yes, f.no = outBool(true), outBool(false)
		if !hasArg {
			return f, nil
		}
		yes, no, ok := strings.Cut(arg, "/")
		if !ok || yes == "" || no == "" || yes == no || strings.Contains(no, "/") {
			return f, fmt.Errorf("format bool:%s: want two different words, true first, e.g. bool:Y/N or bool:1/0", arg)
		}
		f.yes, f.no = bareOut(yes), bareOut(no)
		return f, nil
	case "enum":
		if !hasArg {
			return f, errors.New(`format enum needs a map, e.g. enum:{passed:"Complete",failed:"Incomplete"}`)
		}
		entries, other, err := parseEnum(arg)
		if err != nil {
			return f, fmt.Errorf("format enum: %w", err)
		}
		f.enum, f.other = entries, other
		return f, nil
	case "date":
		switch arg {
		case "rfc3339", "unix", "unix_ms":
			f.layout = arg
		default:
			l, err := dateLayout(arg)
			if err != nil {
				return f, fmt.Errorf("format date: %w", err)
			}
			f.layout = l
		}
		return f, nil
	case "duration":
		unit, places, hasPlaces := strings.Cut(arg, ":")
		switch unit {
		case "iso8601":
			if hasPlaces {
				return f, errors.New("format duration:iso8601 takes no decimals")
			}
		case "seconds", "minutes", "hours":
			if hasPlaces {
				n, err := parsePlaces(places)
				if err != nil {
					return f, fmt.Errorf("format duration: %w", err)
				}
				f.places = n
			}
		default:
			return f, fmt.Errorf("format duration:%s: want duration:iso8601, duration:seconds, duration:minutes or duration:hours", arg)
		}
		f.unit = unit
		return f, nil
	}
	return f, fmt.Errorf("unknown format %q", s)
}

// bareOut is an unquoted word of a format: a JSON number or boolean when
// it reads as one (bool:1/0 sends numbers), else a string.
func bareOut(s string) out {
	if s == "true" || s == "false" {
		return outBool(s == "true")
	}
	if _, ok := parseDecimal(s); ok && json.Valid([]byte(s)) {
		return outNumber(s)
	}
	return outString(s)
}

// parseEnum parses {key:"value",key2:value2,*:"default"}: keys bare words
// or JSON strings, values JSON strings or bare words (a bare number or
// boolean is sent as one).
func parseEnum(s string) (map[string]out, *out, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, nil, errors.New(`want {key:"value",…}`)
	}
	p := &enumParser{s: s[1 : len(s)-1]}
	entries := map[string]out{}
	var other *out
	for {
		p.space()
		if p.done() {
			break
		}
		key, _, err := p.word(true)
		if err != nil {
			return nil, nil, err
		}
		p.space()
		if !p.eat(':') {
			return nil, nil, fmt.Errorf("after key %q: want ':'", key)
		}
		p.space()
		val, quoted, err := p.word(false)
		if err != nil {
			return nil, nil, err
		}
		o := outString(val)
		if !quoted {
			o = bareOut(val)
		}
		if key == "*" {
			if other != nil {
				return nil, nil, errors.New(`"*" given twice`)
			}
			other = &o
		} else {
			if _, dup := entries[key]; dup {
				return nil, nil, fmt.Errorf("key %q given twice", key)
			}
			entries[key] = o
		}
		p.space()
		if p.done() {
			break
		}
		if !p.eat(',') {
			return nil, nil, fmt.Errorf("after %q: want ',' or '}'", key)
		}
	}
	if len(entries) == 0 {
		return nil, nil, errors.New("no entries")
	}
	return entries, other, nil
}

type enumParser struct{ s string }

func (p *enumParser) done() bool { return p.s == "" }
func (p *enumParser) space()     { p.s = strings.TrimLeft(p.s, " \t\n") }
func (p *enumParser) eat(c byte) bool {
	if strings.HasPrefix(p.s, string(c)) {
		p.s = p.s[1:]
		return true
	}
	return false
}

// word reads a JSON string or a bare word (letters, digits, _ - . and,
// for keys, *).
func (p *enumParser) word(key bool) (string, bool, error) {
	if strings.HasPrefix(p.s, `"`) {
		dec := json.NewDecoder(strings.NewReader(p.s))
		var v string
		if err := dec.Decode(&v); err != nil {
			return "", false, errors.New("an unterminated or invalid quoted string")
		}
		p.s = p.s[dec.InputOffset():]
		return v, true, nil
	}
	i := 0
	for i < len(p.s) {
		c := p.s[i]
		if c == '_' || c == '-' || c == '.' || c == '+' || (key && c == '*') ||
			(c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return "", false, fmt.Errorf("want a word or a quoted string at %q", p.s)
	}
	w := p.s[:i]
	p.s = p.s[i:]
	return w, false, nil
}

// accepts says why the format does not apply to a value of kind k ("" if
// it does). Constants are strings, numbers or booleans.
func (f format) accepts(k Kind) string {
	bad := func(want string) string {
		return fmt.Sprintf("format %s applies to %s values, not to a %s", f.name, want, k)
	}
	switch f.name {
	case "", "string", "lower", "upper":
		return ""
	case "int", "decimal":
		if k != KindNumber && k != KindString {
			return bad("number (or numeric text)")
		}
	case "percent", "points":
		if k != KindNumber {
			return bad("number")
		}
	case "bool":
		if k != KindBool {
			return bad("boolean")
		}
	case "enum":
		if k == KindTime || k == KindDuration {
			return bad("string, number or boolean")
		}
	case "date":
		if k != KindTime {
			return bad("time")
		}
	case "duration":
		if k != KindDuration {
			return bad("duration")
		}
	case "mailto":
		if k != KindString {
			return bad("string")
		}
	case "const":
		return "format const is only for a field with a constant"
	}
	return ""
}

// apply renders a value in the format; loc is the time zone of dates.
// Errors describe the value's problem (they become item rejections).
func (f format) apply(v value, loc *time.Location) (out, error) {
	switch f.name {
	case "", "const":
		return natural(v, loc), nil
	case "string":
		return outString(v.text(loc)), nil
	case "lower":
		return outString(strings.ToLower(v.text(loc))), nil
	case "upper":
		return outString(strings.ToUpper(v.text(loc))), nil
	case "int", "decimal":
		n := v.n
		if v.kind == KindString {
			var ok bool
			if n, ok = parseDecimal(v.s); !ok {
				return out{}, fmt.Errorf("%q is not a number", v.s)
			}
		}
		switch {
		case f.name == "int":
			return outNumber(fixed(n, 0)), nil
		case f.places >= 0:
			return outNumber(fixed(n, f.places)), nil
		}
		return outNumber(shortest(n)), nil
	case "percent":
		return outNumber(rounded(new(big.Rat).Mul(v.n, big.NewRat(100, 1)), f.places)), nil
	case "points":
		return outNumber(rounded(new(big.Rat).Mul(v.n, f.max), f.places)), nil
	case "bool":
		if v.b {
			return f.yes, nil
		}
		return f.no, nil
	case "enum":
		key := v.text(loc)
		if o, ok := f.enum[key]; ok {
			return o, nil
		}
		if f.other != nil {
			return *f.other, nil
		}
		return out{}, fmt.Errorf("%q has no entry in the enum map (add it or a \"*\" entry)", key)
	case "date":
		t := v.t.In(loc)
		switch f.layout {
		case "rfc3339":
			return outString(t.Format(time.RFC3339)), nil
		case "unix":
			return outNumber(strconv.FormatInt(t.Unix(), 10)), nil
		case "unix_ms":
			return outNumber(strconv.FormatInt(t.UnixMilli(), 10)), nil
		}
		return outString(t.Format(f.layout)), nil
	case "duration":
		if f.unit == "iso8601" {
			return outString(iso8601(v.d)), nil
		}
		unit := map[string]int64{"seconds": int64(time.Second), "minutes": int64(time.Minute), "hours": int64(time.Hour)}[f.unit]
		return outNumber(rounded(big.NewRat(int64(v.d), unit), f.places)), nil
	case "mailto":
		if strings.HasPrefix(strings.ToLower(v.s), "mailto:") {
			return outString(v.s), nil
		}
		return outString("mailto:" + v.s), nil
	}
	return out{}, fmt.Errorf("unknown format %q", f.name)
}

// natural is a value without a format: strings as strings, numbers as
// numbers, booleans as booleans, times as RFC 3339 in the zone, durations
// as ISO 8601.
func natural(v value, loc *time.Location) out {
	switch v.kind {
	case KindNumber:
		return outNumber(shortest(v.n))
	case KindBool:
		return outBool(v.b)
	}
	return outString(v.text(loc))
}

// fixed is n with exactly places decimals, halves away from zero.
func fixed(n *big.Rat, places int) string {
	s := n.FloatString(places)
	if strings.Trim(s, "-0.") == "" { // no "-0.00"
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// rounded is n with places decimals, or with up to 2 decimals and no
// trailing zeros when places is -1.
func rounded(n *big.Rat, places int) string {
	if places >= 0 {
		return fixed(n, places)
	}
	return trimZeros(fixed(n, 2))
}

// shortest is the exact decimal of n (9 decimals at most for a fraction
// that does not end).
func shortest(n *big.Rat) string {
	p, exact := n.FloatPrec()
	if !exact || p > 9 {
		return trimZeros(fixed(n, 9))
	}
	return fixed(n, p)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// iso8601 writes a duration as PT#H#M#S, seconds to the hundredth (the
// precision of xAPI durations).
func iso8601(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteString("PT")
	cs := (d + 5*time.Millisecond) / (10 * time.Millisecond) // centiseconds, rounded
	h, rest := cs/(360000), cs%360000
	m, rest := rest/6000, rest%6000
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if rest > 0 || (h == 0 && m == 0) {
		b.WriteString(trimZeros(fmt.Sprintf("%d.%02d", rest/100, rest%100)))
		b.WriteByte('S')
	}
	return b.String()
}
