// Package schema is the xAPI data model: parsing, validation for xAPI
// 1.0.3 and 2.0.0, canonical forms, statement equivalence and response
// formats. It is a leaf: it imports nothing from this module.
//
// A statement is kept as a JSON tree (objects as map[string]any, numbers as
// json.Number) so that format=exact returns what the client sent, with only
// the LRS-assigned properties added.
package schema

import (
	"fmt"
	"strings"
)

// Version is an xAPI version whose rules a request is processed under.
type Version string

// Supported versions (the latest patch of each).
const (
	V1_0_3 Version = "1.0.3"
	V2_0_0 Version = "2.0.0"
)

// Versions lists the supported versions for the About resource.
var Versions = []Version{V1_0_3, V2_0_0}

// ParseVersionHeader maps an X-Experience-API-Version header value to the
// rules that apply: 1.0, 1.0.0 … 1.0.x use 1.0.3; 2.0, 2.0.x use 2.0.0.
// Anything else (missing, 0.9, 1.1.0, 2.1.0, junk) is an *Error.
func ParseVersionHeader(h string) (Version, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", &Error{Path: "X-Experience-API-Version", Rule: "version", Message: "the X-Experience-API-Version header is required"}
	}
	major, rest, ok := strings.Cut(h, ".")
	if ok {
		minor, patch, hasPatch := strings.Cut(rest, ".")
		if minor == "0" && (!hasPatch || isDigits(patch)) {
			switch major {
			case "1":
				return V1_0_3, nil
			case "2":
				return V2_0_0, nil
			}
		}
	}
	return "", &Error{Path: "X-Experience-API-Version", Rule: "version",
		Message: fmt.Sprintf("version %q is not supported (supported: 1.0.x, 2.0.x)", h)}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Error is a rejected input: the JSON path of the offending value, the id of
// the rule it breaks (the golden fixtures are named after these ids), and a
// message for the client.
type Error struct {
	Path    string // JSON path, e.g. $.actor.mbox or $[2].object.id
	Rule    string // rule id, e.g. "mbox", "unknown-property"
	Message string
	Offset  int64 // byte offset in the body, for syntax errors; 0 otherwise
}

func (e *Error) Error() string {
	return e.Path + ": " + e.Rule + ": " + e.Message
}

func errorf(path, rule, format string, args ...any) *Error {
	return &Error{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)}
}
