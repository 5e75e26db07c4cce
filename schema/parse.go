package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// decodeTree decodes one JSON value into a tree of map[string]any, []any,
// string, json.Number, bool and nil. A syntax error or a repeated object key
// is an *Error.
func decodeTree(body []byte) (any, error) {
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			r, size := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, &Error{Path: "$", Rule: "json-syntax", Offset: int64(off),
			Message: fmt.Sprintf("malformed JSON at byte %d: invalid UTF-8", off)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	d := &treeDecoder{dec: dec}
	v, err := d.value("$")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Path: "$", Rule: "json-syntax", Offset: dec.InputOffset(),
			Message: fmt.Sprintf("unexpected data after the JSON value at byte %d", dec.InputOffset())}
	}
	return v, nil
}

type treeDecoder struct {
	dec *json.Decoder
}

func (d *treeDecoder) syntax(err error) *Error {
	off := d.dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "unexpected end of JSON input"
	}
	return &Error{Path: "$", Rule: "json-syntax", Offset: off,
		Message: fmt.Sprintf("malformed JSON at byte %d: %s", off, msg)}
}

const maxDepth = 64

func (d *treeDecoder) value(path string) (any, error) {
	return d.valueDepth(path, 0)
}

func (d *treeDecoder) valueDepth(path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &Error{Path: path, Rule: "json-syntax", Offset: d.dec.InputOffset(),
			Message: fmt.Sprintf("JSON nested deeper than %d levels", maxDepth)}
	}
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntax(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for d.dec.More() {
				kt, err := d.dec.Token()
				if err != nil {
					return nil, d.syntax(err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, d.syntax(fmt.Errorf("object key is not a string"))
				}
				kp := childPath(path, k)
				if _, dup := m[k]; dup {
					return nil, &Error{Path: kp, Rule: "duplicate-key", Offset: d.dec.InputOffset(),
						Message: fmt.Sprintf("property %q appears twice in the same object", k)}
				}
				v, err := d.valueDepth(kp, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := d.dec.Token(); err != nil {
				return nil, d.syntax(err)
			}
			return m, nil
		case '[':
			list := []any{}
			for i := 0; d.dec.More(); i++ {
				v, err := d.valueDepth(path+"["+strconv.Itoa(i)+"]", depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := d.dec.Token(); err != nil {
				return nil, d.syntax(err)
			}
			return list, nil
		}
		return nil, d.syntax(fmt.Errorf("unexpected %v", t))
	default:
		return t, nil
	}
}

// childPath appends an object key to a JSON path.
func childPath(path, key string) string {
	simple := key != ""
	for _, r := range key {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			simple = false
			break
		}
	}
	if simple {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// ParseStatements parses the body of a statements POST or PUT: one
// statement object or an array of them (at most maxStatements; 0 means no
// limit), validated under v. isArray tells which form the body had. A
// batch holding the same id twice is rejected (rule duplicate-id).
func ParseStatements(body []byte, v Version, maxStatements int) (stmts []*Statement, isArray bool, err error) {
	tree, err := decodeTree(body)
	if err != nil {
		return nil, false, err
	}
	switch t := tree.(type) {
	case map[string]any:
		st, err := newStatement(t, "$", v)
		if err != nil {
			return nil, false, err
		}
		return []*Statement{st}, false, nil
	case []any:
		if maxStatements > 0 && len(t) > maxStatements {
			return nil, true, &Error{Path: "$", Rule: "batch-size",
				Message: fmt.Sprintf("a batch may hold at most %d statements; this one holds %d", maxStatements, len(t))}
		}
		stmts = make([]*Statement, 0, len(t))
		seen := map[string]int{}
		for i, item := range t {
			p := indexPath("$", i)
			m, ok := item.(map[string]any)
			if !ok {
				return nil, true, errorf(p, "wrong-type", "a statement must be a JSON object")
			}
			st, err := newStatement(m, p, v)
			if err != nil {
				return nil, true, err
			}
			if id := st.ID(); id != "" {
				if j, dup := seen[id]; dup {
					return nil, true, errorf(p+".id", "duplicate-id", "statement id %s is also used by statement %d of the batch", id, j)
				}
				seen[id] = i
			}
			stmts = append(stmts, st)
		}
		return stmts, true, nil
	default:
		return nil, false, errorf("$", "wrong-type", "the body must be a statement object or an array of statements")
	}
}

// ParseStatement parses and validates a single statement object.
func ParseStatement(body []byte, v Version) (*Statement, error) {
	tree, err := decodeTree(body)
	if err != nil {
		return nil, err
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return nil, errorf("$", "wrong-type", "a statement must be a JSON object")
	}
	return newStatement(m, "$", v)
}

// newStatement validates m and normalizes it: ids lower-cased, context
// activities as arrays, timestamps in UTC (2.0).
func newStatement(m map[string]any, path string, v Version) (*Statement, error) {
	c := &checker{v: v}
	c.statement(path, m, false)
	if c.err != nil {
		return nil, c.err
	}
	normalize(m, v, false)
	return &Statement{m: m}, nil
}
