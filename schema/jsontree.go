package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// treeParser is a strict RFC 8259 parser producing the tree decodeTree
// returns. It exists because encoding/json's token API costs several
// hundred allocations per statement, and because it must reject repeated
// object keys, which encoding/json silently accepts.
type treeParser struct {
	data []byte
	// text is data as one string, allocated once: the strings without
	// escapes (nearly all) are slices of it, not allocations of their own.
	text string
	pos  int
	path []pathSeg // where the parser is, for error paths only
	// finite refuses numbers a double cannot hold (1e400): set for what
	// clients send, not for statements stored before the rule.
	finite bool
}

type pathSeg struct {
	key   string
	index int // -1 for an object key
}

// where returns the JSON path of the value being parsed.
func (p *treeParser) where() string {
	path := "$"
	for _, s := range p.path {
		if s.index >= 0 {
			path = indexPath(path, s.index)
		} else {
			path = childPath(path, s.key)
		}
	}
	return path
}

func (p *treeParser) fail(format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Path: "$", Rule: "json-syntax", Offset: int64(p.pos),
		Message: fmt.Sprintf("malformed JSON at byte %d: %s", p.pos, msg)}
}

func (p *treeParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *treeParser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, &Error{Path: p.where(), Rule: "json-syntax", Offset: int64(p.pos),
			Message: fmt.Sprintf("JSON nested deeper than %d levels", maxDepth)}
	}
	p.ws()
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end of JSON input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.string()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.fail("invalid character %q looking for a value", rune(c))
	}
}

func (p *treeParser) literal(word string) error {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return nil
	}
	return p.fail("invalid literal, expected %s", word)
}

func (p *treeParser) object(depth int) (any, error) {
	p.pos++ // {
	m := map[string]any{}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return m, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.fail("unexpected end of JSON input")
		}
		if p.data[p.pos] != '"' {
			return nil, p.fail("invalid character %q looking for an object key", rune(p.data[p.pos]))
		}
		keyPos := p.pos
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		p.path = append(p.path, pathSeg{key: k, index: -1})
		if _, dup := m[k]; dup {
			return nil, &Error{Path: p.where(), Rule: "duplicate-key", Offset: int64(keyPos),
				Message: fmt.Sprintf("property %q appears twice in the same object", k)}
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.fail("expected ':' after an object key")
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		m[k] = v
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.fail("unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return m, nil
		default:
			return nil, p.fail("invalid character %q after an object value", rune(p.data[p.pos]))
		}
	}
}

func (p *treeParser) array(depth int) (any, error) {
	p.pos++ // [
	list := []any{}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return list, nil
	}
	for i := 0; ; i++ {
		p.path = append(p.path, pathSeg{index: i})
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		list = append(list, v)
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.fail("unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return list, nil
		default:
			return nil, p.fail("invalid character %q after an array element", rune(p.data[p.pos]))
		}
	}
}

func (p *treeParser) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := p.text[start:p.pos]
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail("control character in a string")
		}
		p.pos++
	}
	buf := append([]byte(nil), p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.fail("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++ // backslash
		if p.pos >= len(p.data) {
			break
		}
		e := p.data[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by a low one is a
				// character; a lone one would be stored as U+FFFD, so
				// that the statement kept is not the one sent (and two
				// different ones compare equal). I-JSON (RFC 7493 §2.1)
				// forbids them.
				escPos := p.pos - 6
				r2 := utf8.RuneError
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					p.pos += 2
					if x, ok := p.hex4(); ok {
						r2 = x
					}
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					p.pos = escPos
					return "", &Error{Path: p.where(), Rule: "unpaired-surrogate", Offset: int64(escPos),
						Message: fmt.Sprintf("the escape %s at byte %d is half of a UTF-16 surrogate pair without its other half; escape the whole character as a pair, or send it as UTF-8", p.data[escPos:escPos+6], escPos)}
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.pos--
			return "", p.fail("invalid escape character %q", rune(e))
		}
	}
	return "", p.fail("unexpected end of JSON input in a string")
}

func (p *treeParser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(n), true
}

func (p *treeParser) number() (any, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
		if p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			return nil, p.fail("a number must not have a leading zero")
		}
	} else if digits() == 0 {
		return nil, p.fail("invalid number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.fail("invalid number: digits expected after '.'")
		}
	}
	exp := p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E')
	if exp {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number: digits expected in the exponent")
		}
	}
	n := json.Number(p.data[start:p.pos])
	if p.finite && (exp || p.pos-start > maxExactDigits) {
		// Only an exponent or many digits can overflow a double.
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return nil, &Error{Path: p.where(), Rule: "number-range", Offset: int64(start),
				Message: fmt.Sprintf("the number %s is outside the range of a double-precision number (about ±1.8e308): receivers could not read it as sent", truncateNumber(n))}
		}
	}
	return n, nil
}

// maxExactDigits is fewer characters than any number without an exponent
// that overflows a double has (it has 309 digits or more).
const maxExactDigits = 300

// truncateNumber shortens a very long number for an error message.
func truncateNumber(n json.Number) string {
	if len(n) <= 40 {
		return string(n)
	}
	return string(n[:20]) + "…" + string(n[len(n)-10:])
}
