package schema

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// decodeTree decodes one JSON value into a tree of map[string]any, []any,
// string, json.Number, bool and nil. A syntax error or a repeated object key
// is an *Error.
func decodeTree(body []byte) (any, error) { return decode(body, false) }

// decodeInput is decodeTree for what a client sends: a number outside a
// double's range is also an *Error (rule number-range).
func decodeInput(body []byte) (any, error) { return decode(body, true) }

func decode(body []byte, finite bool) (any, error) {
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
	p := &treeParser{data: body, text: string(body), finite: finite}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(body) {
		return nil, p.fail("unexpected data after the JSON value")
	}
	return v, nil
}

const maxDepth = 64

// childPath appends an object key to a JSON path.
func childPath(path, key string) string {
	if simpleKey(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// simpleKey reports whether a key is written after a dot in a JSON path
// (otherwise it is quoted in brackets).
func simpleKey(key string) bool {
	for _, r := range key {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return key != ""
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// ParseStatements parses the body of a statements POST or PUT: one
// statement object or an array of them (at most maxStatements; 0 means no
// limit), validated under v. isArray tells which form the body had. A
// batch holding the same id twice is rejected (rule duplicate-id).
func ParseStatements(body []byte, v Version, maxStatements int) (stmts []*Statement, isArray bool, err error) {
	tree, err := decodeInput(body)
	if err != nil {
		return nil, false, err
	}
	switch t := tree.(type) {
	case map[string]any:
		st, err := newStatement(t, "$", v)
		if err != nil {
			return nil, false, err
		}
		st.size = len(body)
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
			st.size = len(body) / len(t)
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
	tree, err := decodeInput(body)
	if err != nil {
		return nil, err
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return nil, errorf("$", "wrong-type", "a statement must be a JSON object")
	}
	st, err := newStatement(m, "$", v)
	if err != nil {
		return nil, err
	}
	st.size = len(body)
	return st, nil
}

// newStatement validates m and normalizes it: ids lower-cased, context
// activities as arrays, timestamps in UTC (2.0).
func newStatement(m map[string]any, path string, v Version) (*Statement, error) {
	c := &checker{v: v}
	c.statement(root(path), m, false)
	if c.err != nil {
		return nil, c.err
	}
	normalize(m, v, false)
	return &Statement{m: m}, nil
}
