package schema

import "strconv"

// loc is where a value is in the document being checked: a chain of
// object keys and array indexes up to a root (such as "$" or "$[3]"). The
// checker passes one down to every value it checks and builds the JSON
// path string only for an error message, so that checking a valid
// statement builds no path at all. A child lives on the stack of its
// caller: at and index are inlined, and no check keeps a loc.
type loc struct {
	up  *loc
	key string // object key, or the root's path when up is nil
	i   int    // array index, or -1 for an object key
}

func root(path string) *loc { return &loc{key: path, i: -1} }

// at is the location of the member key of the object at l.
func (l *loc) at(key string) *loc { return &loc{up: l, key: key, i: -1} }

// index is the location of element i of the array at l.
func (l *loc) index(i int) *loc { return &loc{up: l, i: i} }

// String returns the JSON path of l, written as childPath and indexPath
// write it. It copies what it needs, so that building a path on a failure
// keeps no loc alive (and the checks can keep theirs on the stack).
func (l *loc) String() string {
	var segs [maxDepth + 2]*loc
	n := 0
	for p := l; p != nil && n < len(segs); p = p.up {
		segs[n] = p
		n++
	}
	var b []byte
	for i := n - 1; i >= 0; i-- {
		s := segs[i]
		switch {
		case s.up == nil:
			b = append(b, s.key...)
		case s.i >= 0:
			b = append(strconv.AppendInt(append(b, '['), int64(s.i), 10), ']')
		case simpleKey(s.key):
			b = append(append(b, '.'), s.key...)
		default:
			b = append(strconv.AppendQuote(append(b, '['), s.key), ']')
		}
	}
	return string(b)
}
