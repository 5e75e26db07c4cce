package forward

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// What people see of a destination type: how each field is asked for, and
// the preview of what a configuration sends. The console renders every
// type's form from these, so a type added later needs no console change.

// FieldKind is the kind of input a field takes. Every value is a string;
// the kind only says how it is entered.
type FieldKind string

// Field kinds.
const (
	KindText      FieldKind = ""          // one line of text
	KindMultiline FieldKind = "multiline" // several lines: a template, a PEM key
	KindJSON      FieldKind = "json"      // a JSON document (a mapping), shown monospace
	KindNumber    FieldKind = "number"    // a number
)

// FieldKinds are the kinds a field may have.
var FieldKinds = []FieldKind{KindText, KindMultiline, KindJSON, KindNumber}

// Condition names the values of another property for which a field
// applies.
type Condition struct {
	Property string
	// Values are the property's values for which the field applies; ""
	// stands for the property left empty (its default).
	Values []string
}

// Holds reports whether the condition holds for the properties.
func (c *Condition) Holds(props map[string]string) bool {
	return c == nil || slices.Contains(c.Values, props[c.Property])
}

// LabelOrName is the field's label, or its name when it has none.
func (f Field) LabelOrName() string {
	if f.Label != "" {
		return f.Label
	}
	return f.Name
}

// LabelOrName is the type's label, or its name when it has none.
func (t Type) LabelOrName() string {
	if t.Label != "" {
		return t.Label
	}
	return t.Name
}

// TestName is what the test of a configuration is called.
func (t Type) TestName() string {
	if t.TestLabel != "" {
		return t.TestLabel
	}
	return "Test connection"
}

// checkUI checks the presentation of a field of t.
func (f Field) checkUI(t Type) error {
	var errs []error
	if !slices.Contains(FieldKinds, f.Kind) {
		errs = append(errs, fmt.Errorf("kind %q: want one of %q", f.Kind, FieldKinds))
	}
	if c := f.When; c != nil {
		p := slices.IndexFunc(t.Properties, func(p Field) bool { return p.Name == c.Property })
		switch {
		case p < 0 || c.Property == f.Name:
			errs = append(errs, fmt.Errorf("when: %q is not another property of the type", c.Property))
		case len(c.Values) == 0:
			errs = append(errs, errors.New("when: lists no value"))
		case len(t.Properties[p].Enum) > 0:
			for _, v := range c.Values {
				if v != "" && !slices.Contains(t.Properties[p].Enum, v) {
					errs = append(errs, fmt.Errorf("when: %q is not a value of %s (%s)", v, c.Property, strings.Join(t.Properties[p].Enum, ", ")))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Preview is what a configuration would send for a sample result, without
// sending it: the request (or the file), secrets redacted.
type Preview struct {
	Method  string
	URL     string
	Headers map[string][]string
	Body    string
	// FileName is the file a configuration that uploads files would write.
	FileName string
	// Notes say why the sample would not be sent as it is (a required
	// value missing), and anything else the administrator should know.
	Notes []string
	// Requests, when sending takes more than one request (a Clever grade:
	// the lookups of the ids it needs first), are all of them in the
	// order they are sent; Method, URL, Headers and Body above are then
	// the first that writes the result.
	Requests []PreviewRequest
}

// PreviewRequest is one request of a Preview that takes several.
type PreviewRequest struct {
	// Purpose says what the request is for and when it is sent (a lookup
	// is cached, an assignment created once).
	Purpose string
	Method  string
	URL     string
	Headers map[string][]string
	Body    string
}
