package forward

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// readStmtFields fills f from the stored statement raw as json.Unmarshal
// would (the same members, names matched exactly or case-insensitively, a
// later duplicate over an earlier one, null leaving a field as it is and an
// account null, a wrong type an error), but scans only the members it
// reads: the top level, and actor, actor.account, verb and object one
// level down. Obligations read these of every statement stored, and a
// decode of the whole statement was most of their cost.
func readStmtFields(raw []byte, f *stmtFields) error {
	return scanObject(raw, func(key, v []byte) error {
		switch {
		case isNull(v):
			return nil
		case nameIs(key, "actor"):
			return scanObject(v, func(key, v []byte) error {
				switch {
				case nameIs(key, "mbox"):
					return scanString(v, &f.Actor.Mbox)
				case nameIs(key, "account"):
					if isNull(v) {
						f.Actor.Account = nil
						return nil
					}
					if f.Actor.Account == nil {
						f.Actor.Account = &struct {
							Name string `json:"name"`
						}{}
					}
					return scanObject(v, func(key, v []byte) error {
						if nameIs(key, "name") {
							return scanString(v, &f.Actor.Account.Name)
						}
						return nil
					})
				}
				return nil
			})
		case nameIs(key, "verb"):
			return scanObject(v, func(key, v []byte) error {
				if nameIs(key, "id") {
					return scanString(v, &f.Verb.ID)
				}
				return nil
			})
		case nameIs(key, "object"):
			return scanObject(v, func(key, v []byte) error {
				switch {
				case nameIs(key, "objectType"):
					return scanString(v, &f.Object.ObjectType)
				case nameIs(key, "id"):
					return scanString(v, &f.Object.ID)
				}
				return nil
			})
		}
		return nil
	})
}

var errScan = errors.New("not the JSON expected")

func isNull(v []byte) bool { return string(v) == "null" }

// nameIs reports whether the member key (a JSON string as written) names
// the field name as encoding/json matches it: exactly, else ignoring case.
func nameIs(key []byte, name string) bool {
	k := key[1 : len(key)-1]
	if bytes.IndexByte(k, '\\') >= 0 {
		var s string
		if json.Unmarshal(key, &s) != nil {
			return false
		}
		k = []byte(s)
	}
	return string(k) == name || bytes.EqualFold(k, []byte(name))
}

// scanString sets *s to the JSON string v; null leaves it.
func scanString(v []byte, s *string) error {
	switch {
	case isNull(v):
		return nil
	case len(v) < 2 || v[0] != '"':
		return errScan
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		*s = string(in)
		return nil
	}
	return json.Unmarshal(v, s)
}

// scanObject calls fn with each member of the JSON object raw: its key
// as written (quotes included) and its value as written.
func scanObject(raw []byte, fn func(key, value []byte) error) error {
	i := scanSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errScan
	}
	i = scanSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for {
		end, err := scanStringEnd(raw, i)
		if err != nil {
			return err
		}
		key := raw[i:end]
		i = scanSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return errScan
		}
		vStart := scanSpace(raw, i+1)
		vEnd, err := scanValueEnd(raw, vStart)
		if err != nil {
			return err
		}
		if err := fn(key, raw[vStart:vEnd]); err != nil {
			return err
		}
		i = scanSpace(raw, vEnd)
		switch {
		case i < len(raw) && raw[i] == ',':
			i = scanSpace(raw, i+1)
		case i < len(raw) && raw[i] == '}':
			return nil
		default:
			return errScan
		}
	}
}

func scanSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanStringEnd returns the end of the string starting at b[i].
func scanStringEnd(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errScan
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errScan
}

// scanValueEnd returns the end of the value starting at b[i].
func scanValueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errScan
	}
	switch b[i] {
	case '"':
		return scanStringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, err := scanStringEnd(b, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errScan
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return 0, errScan
		}
		return j, nil
	}
}
