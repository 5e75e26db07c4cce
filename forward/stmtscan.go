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
	return ScanObject(raw, func(key, v []byte) error {
		switch {
		case isNull(v):
			return nil
		case nameIs(key, "actor"):
			return ScanObject(v, func(key, v []byte) error {
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
					return ScanObject(v, func(key, v []byte) error {
						if nameIs(key, "name") {
							return scanString(v, &f.Actor.Account.Name)
						}
						return nil
					})
				}
				return nil
			})
		case nameIs(key, "verb"):
			return ScanObject(v, func(key, v []byte) error {
				if nameIs(key, "id") {
					return scanString(v, &f.Verb.ID)
				}
				return nil
			})
		case nameIs(key, "object"):
			return ScanObject(v, func(key, v []byte) error {
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
