package clevertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The request schemas of v3.1-lms.yml (AssignmentRequest,
// SubmissionRequest), checked the way Clever's generated server checks
// them: JSON syntax, then each field's JSON type, then enums (all failures
// in one "validation failure list"), then what the documentation adds
// (required fields and a future due_date on create). Unknown members are
// ignored, as the generated server ignores them; null is the same as
// absent (every field is nullable).

type kind int

const (
	kString kind = iota
	kNumber
	kInteger
	kDateTime
	kEnum
	kEnumArray
	kStringArray
	kAttachments
)

type field struct {
	kind kind
	enum []string
}

var (
	assigneeModes   = []string{"all", "individuals"}
	gradingTypes    = []string{"points", "percent", "pass_fail", "letter_grade"}
	submissionTypes = []string{"link", "file", "text", "discussion"}
	assignmentState = []string{"draft", "scheduled", "open", "locked"}
	submissionState = []string{"created", "submitted", "returned", "reclaimed"}
	submissionFlags = []string{"excused", "late", "missing"}
	attachmentTypes = []string{"file"}
)

var assignmentFields = map[string]field{
	"title":                 {kind: kString},
	"description":           {kind: kString},
	"description_plaintext": {kind: kString},
	"attachments":           {kind: kAttachments},
	"assignee_mode":         {kind: kEnum, enum: assigneeModes},
	"assignee_ids":          {kind: kStringArray},
	"due_date":              {kind: kDateTime},
	"display_date":          {kind: kDateTime},
	"start_date":            {kind: kDateTime},
	"end_date":              {kind: kDateTime},
	"grading_type":          {kind: kEnum, enum: gradingTypes},
	"points_possible":       {kind: kNumber},
	"submission_types":      {kind: kEnumArray, enum: submissionTypes},
	"max_attempts":          {kind: kInteger},
	"term_id":               {kind: kString},
	// Not in the OpenAPI request schema, but documented as accepted (and
	// ignored by Canvas).
	"state": {kind: kEnum, enum: assignmentState},
}

var submissionFields = map[string]field{
	"grade":             {kind: kString},
	"grade_points":      {kind: kNumber},
	"grade_comment":     {kind: kString},
	"grader_id":         {kind: kString},
	"flags":             {kind: kEnumArray, enum: submissionFlags},
	"state":             {kind: kEnum, enum: submissionState},
	"extra_attempts":    {kind: kInteger},
	"override_due_date": {kind: kDateTime},
	"attachments":       {kind: kAttachments},
}

// body is a validated request body: its members, null ones dropped.
type body map[string]json.RawMessage

func (b body) has(name string) bool { _, ok := b[name]; return ok }

func (b body) str(name string) string {
	var s string
	_ = json.Unmarshal(b[name], &s)
	return s
}

func (b body) strs(name string) []string {
	var s []string
	_ = json.Unmarshal(b[name], &s)
	return s
}

func (b body) num(name string) *float64 {
	if !b.has(name) {
		return nil
	}
	var f float64
	_ = json.Unmarshal(b[name], &f)
	return &f
}

func (b body) integer(name string) *int64 {
	if !b.has(name) {
		return nil
	}
	f := *b.num(name)
	n := int64(f)
	return &n
}

func (b body) time(name string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, b.str(name))
	return t
}

// parseBody checks raw against the fields; it returns the message of the
// 400 answer when the body is refused.
func parseBody(raw []byte, fields map[string]field) (body, string) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, "request body is required, but was empty"
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, syn.Error()
		}
		return nil, "request body must be a JSON object"
	}
	b := body{}
	for k, v := range m {
		if string(bytes.TrimSpace(v)) != "null" {
			b[k] = v
		}
	}
	names := make([]string, 0, len(b))
	for k := range b {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		f, ok := fields[name]
		if !ok {
			continue
		}
		if msg := checkType(name, b[name], f); msg != "" {
			return nil, msg
		}
	}
	var failures []string
	for _, name := range names {
		f, ok := fields[name]
		if !ok {
			continue
		}
		failures = append(failures, checkEnum(name, b[name], f)...)
	}
	if len(failures) > 0 {
		return nil, "validation failure list:\n" + strings.Join(failures, "\n")
	}
	return b, ""
}

// jsonType is the JSON type of a raw value.
func jsonType(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return "null"
	case v[0] == '"':
		return "string"
	case v[0] == '{':
		return "object"
	case v[0] == '[':
		return "array"
	case v[0] == 't' || v[0] == 'f':
		return "boolean"
	case v[0] == 'n':
		return "null"
	}
	return "number"
}

func typeError(name, want string, v json.RawMessage) string {
	return fmt.Sprintf("%s in body must be of type %s: %q", name, want, jsonType(v))
}

func checkType(name string, v json.RawMessage, f field) string {
	t := jsonType(v)
	switch f.kind {
	case kString, kEnum:
		if t != "string" {
			return typeError(name, "string", v)
		}
	case kDateTime:
		if t != "string" {
			return typeError(name, "string", v)
		}
		var s string
		_ = json.Unmarshal(v, &s)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return err.Error()
		}
	case kNumber:
		if t != "number" {
			return typeError(name, "number", v)
		}
	case kInteger:
		var n float64
		if t != "number" || json.Unmarshal(v, &n) != nil || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return typeError(name, "integer", v)
		}
	case kEnumArray, kStringArray:
		var items []json.RawMessage
		if t != "array" || json.Unmarshal(v, &items) != nil {
			return typeError(name, "array", v)
		}
		for i, it := range items {
			if jsonType(it) != "string" {
				return typeError(fmt.Sprintf("%s.%d", name, i), "string", it)
			}
		}
	case kAttachments:
		var items []json.RawMessage
		if t != "array" || json.Unmarshal(v, &items) != nil {
			return typeError(name, "array", v)
		}
		for i, it := range items {
			var m map[string]json.RawMessage
			if jsonType(it) != "object" || json.Unmarshal(it, &m) != nil {
				return typeError(fmt.Sprintf("%s.%d", name, i), "object", it)
			}
			for _, k := range []string{"type", "url", "title", "description"} {
				if x, ok := m[k]; ok && jsonType(x) != "string" && jsonType(x) != "null" {
					return typeError(fmt.Sprintf("%s.%d.%s", name, i, k), "string", x)
				}
			}
		}
	}
	return ""
}

func oneOf(name string, enum []string) string {
	return fmt.Sprintf("%s in body should be one of [%s]", name, strings.Join(enum, " "))
}

func checkEnum(name string, v json.RawMessage, f field) []string {
	var out []string
	switch f.kind {
	case kEnum:
		var s string
		_ = json.Unmarshal(v, &s)
		if !slices.Contains(f.enum, s) {
			out = append(out, oneOf(name, f.enum))
		}
	case kEnumArray:
		var items []string
		_ = json.Unmarshal(v, &items)
		for i, s := range items {
			if !slices.Contains(f.enum, s) {
				out = append(out, oneOf(fmt.Sprintf("%s.%d", name, i), f.enum))
			}
		}
	case kAttachments:
		var items []map[string]json.RawMessage
		_ = json.Unmarshal(v, &items)
		for i, it := range items {
			var s string
			_ = json.Unmarshal(it["type"], &s)
			if !slices.Contains(attachmentTypes, s) {
				out = append(out, oneOf(fmt.Sprintf("%s.%d.type", name, i), attachmentTypes))
			}
		}
	}
	return out
}
