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
	"slices"
	"strings"
)

// Version is an xAPI version whose rules a request is processed under.
type Version string

// Supported versions (the latest patch of each).
const (
	V1_0_3 Version = "1.0.3"
	V2_0_0 Version = "2.0.0"
)

// Versions lists every version this package implements, oldest first.
var Versions = []Version{V1_0_3, V2_0_0}

// ParseVersions parses a comma-separated list of versions, such as
// "1.0.3,2.0.0": each one of Versions, written as About lists it, none
// twice. The result is ordered oldest first.
func ParseVersions(s string) ([]Version, error) {
	var out []Version
	for _, part := range strings.Split(s, ",") {
		v := Version(strings.TrimSpace(part))
		if !slices.Contains(Versions, v) {
			return nil, fmt.Errorf("%q is not an xAPI version this LRS implements (%s)", v, joinVersions(Versions, false))
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("%q is listed twice", v)
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Version) int { return slices.Index(Versions, a) - slices.Index(Versions, b) })
	return out, nil
}

// ParseVersionHeader maps an X-Experience-API-Version header value to the
// rules that apply, among the supported versions: 1.0, 1.0.0 … 1.0.x use
// 1.0.3; 2.0, 2.0.x use 2.0.0. Anything else (missing, 0.9, 1.1.0, 2.1.0,
// junk, a version not in supported) is an *Error naming what is accepted.
func ParseVersionHeader(h string, supported []Version) (Version, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", &Error{Path: "X-Experience-API-Version", Rule: "version",
			Message: fmt.Sprintf("the X-Experience-API-Version header is required (supported: %s)", joinVersions(supported, true))}
	}
	var v Version
	major, rest, ok := strings.Cut(h, ".")
	if ok {
		minor, patch, hasPatch := strings.Cut(rest, ".")
		if minor == "0" && (!hasPatch || isDigits(patch)) {
			switch major {
			case "1":
				v = V1_0_3
			case "2":
				v = V2_0_0
			}
		}
	}
	if v == "" || !slices.Contains(supported, v) {
		return "", &Error{Path: "X-Experience-API-Version", Rule: "version",
			Message: fmt.Sprintf("version %q is not supported (supported: %s)", h, joinVersions(supported, true))}
	}
	return v, nil
}

// joinVersions joins versions with commas; family writes each as the
// header values it stands for (1.0.3 as 1.0.x).
func joinVersions(vs []Version, family bool) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = string(v)
		if family {
			parts[i] = parts[i][:strings.LastIndexByte(parts[i], '.')] + ".x"
		}
	}
	return strings.Join(parts, ", ")
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
