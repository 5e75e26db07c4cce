package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
)

// The console's forms: fields described once (field) and rendered by one
// template ("field" in console/layout.html), a destination type's fields
// built from its registry entry, and the services' problems put beside the
// fields they name.

// field is one input of a form.
type field struct {
	Name  string // the form's name of the input, also the path the services' problems use
	ID    string
	Label string
	Help  string
	// Input is text, email, password, textarea, json, select, radio,
	// checkboxes, datetime or hidden.
	Input        string
	Value        string
	Values       []string // checkboxes
	Options      []option
	Required     bool
	Example      string
	Autocomplete string
	Hint         string // below the input: "A secret is stored: …"
	Error        string
	When         *when
}

type option struct {
	Value, Label, Help string
}

// when shows a field only while another input has one of some values.
type when struct {
	Input  string // the name of the input
	Values string // JSON array of the values
	Text   string // the condition in words, for those without script
}

// fieldGroup is fields shown together (a fieldset when it has a legend).
type fieldGroup struct {
	Legend string
	When   *when
	Fields []*field
}

// problem is one problem of a form, for the summary at its top.
type problem struct {
	ID      string // the input it concerns ("" for the form as a whole)
	Label   string
	Message string
}

func fieldID(name string) string {
	return "f-" + strings.NewReplacer(".", "-", "[", "-", "]", "", "_", "-").Replace(name)
}

func newField(name, label, input string) *field {
	return &field{Name: name, ID: fieldID(name), Label: label, Input: input}
}

// splitProblem splits "path: message"; path is "" when the problem does
// not start with one.
func splitProblem(p string) (path, msg string) {
	path, msg, ok := strings.Cut(p, ": ")
	if !ok || path == "" || strings.ContainsAny(path, " \"'") {
		return "", p
	}
	return path, msg
}

// attachProblems puts each problem beside the field it names (the field
// whose name is its path, or a prefix of it before '.' or '['), and
// returns them all for the summary, in order.
func attachProblems(fields []*field, problems []string) []problem {
	var out []problem
	for _, p := range problems {
		path, msg := splitProblem(p)
		var f *field
		for _, cand := range fields {
			if path == cand.Name || strings.HasPrefix(path, cand.Name+".") || strings.HasPrefix(path, cand.Name+"[") {
				if f == nil || len(cand.Name) > len(f.Name) {
					f = cand
				}
			}
		}
		if f == nil || f.Input == "hidden" {
			out = append(out, problem{Message: sentence(p)})
			continue
		}
		if path != f.Name { // a part of the field: say which
			msg = partName(strings.TrimPrefix(path, f.Name)) + ": " + msg
		}
		if f.Error != "" {
			f.Error += " "
		}
		f.Error += sentence(msg)
		out = append(out, problem{ID: f.ID, Label: f.Label, Message: sentence(msg)})
	}
	return out
}

// partName names a part of a field for people: "[0].target" is "Item 1:
// target", ".url" is "url".
func partName(rest string) string {
	rest = strings.TrimPrefix(rest, ".")
	if !strings.HasPrefix(rest, "[") {
		return rest
	}
	end := strings.IndexByte(rest, ']')
	n, err := strconv.Atoi(rest[1:max(end, 1)])
	if end < 0 || err != nil {
		return rest
	}
	out := fmt.Sprintf("Item %d", n+1)
	if tail := strings.TrimPrefix(rest[end+1:], "."); tail != "" {
		out += ": " + tail
	}
	return out
}

// groupFields lists the fields of groups.
func groupFields(gs []fieldGroup) []*field {
	var out []*field
	for _, g := range gs {
		out = append(out, g.Fields...)
	}
	return out
}

// typeForm is the form of a destination type's fields with the values of
// props (secrets are never shown: set says which are stored).
func typeForm(t forward.Type, props map[string]string, storedSecrets bool) []fieldGroup {
	label, defaults := map[string]string{}, map[string]string{}
	for _, f := range t.Properties {
		label[f.Name], defaults[f.Name] = f.LabelOrName(), f.Default
	}
	whenOf := func(c *forward.Condition) *when {
		if c == nil {
			return nil
		}
		vs, _ := json.Marshal(c.Values)
		var words []string
		for _, v := range c.Values {
			switch {
			case v == "" && slices.Contains(c.Values, defaults[c.Property]):
				// the default is named already
			case v == "":
				words = append(words, "not set")
			case v == defaults[c.Property]:
				words = append(words, v+" (the default)")
			default:
				words = append(words, v)
			}
		}
		return &when{Input: "properties." + c.Property, Values: string(vs),
			Text: fmt.Sprintf("Applies when %s is %s.", label[c.Property], strings.Join(words, " or "))}
	}
	var groups []fieldGroup
	add := func(group string, f *field, c *forward.Condition) {
		f.When = whenOf(c)
		i := slices.IndexFunc(groups, func(g fieldGroup) bool { return g.Legend == group })
		if i < 0 {
			groups = append(groups, fieldGroup{Legend: group})
			i = len(groups) - 1
		}
		groups[i].Fields = append(groups[i].Fields, f)
	}
	input := func(f forward.Field) string {
		switch {
		case len(f.Enum) > 0:
			return "select"
		case f.Kind == forward.KindJSON:
			return "json"
		case f.Kind == forward.KindMultiline:
			return "textarea"
		}
		return "text"
	}
	help := func(f forward.Field) string {
		h := sentence(f.Description)
		if f.Default != "" && len(f.Enum) == 0 {
			h += " Default: " + f.Default
			if !strings.HasSuffix(f.Default, ".") {
				h += "."
			}
		}
		return h
	}
	for _, f := range t.Properties {
		in := newField("properties."+f.Name, f.LabelOrName(), input(f))
		in.Help, in.Required, in.Example, in.Value = help(f), f.Required, f.Example, props[f.Name]
		if f.Kind == forward.KindNumber {
			in.Autocomplete = "off"
		}
		for _, v := range f.Enum {
			o := option{Value: v, Label: v}
			if v == f.Default {
				o.Label += " (default)"
			}
			in.Options = append(in.Options, o)
		}
		if in.Input == "select" && in.Value == "" {
			in.Value = f.Default
		}
		add(f.Group, in, f.When)
	}
	for _, f := range t.Secrets {
		if v, ok := props[f.Name]; ok && f.AlsoProperty { // stored as a property: not a secret in itself
			in := newField("properties."+f.Name, f.LabelOrName(), "text")
			in.Help, in.Value = help(f), v
			add(f.Group, in, f.When)
			continue
		}
		in := newField("secrets."+f.Name, f.LabelOrName(), "password")
		if f.Kind == forward.KindMultiline || f.Kind == forward.KindJSON {
			in.Input = "textarea"
		}
		in.Help, in.Required, in.Autocomplete = help(f)+" Secret: stored sealed, never shown again.", f.Required, "off"
		if storedSecrets {
			in.Hint = "Leave every secret empty to keep the stored ones; entering one replaces them all."
		}
		add(f.Group, in, f.When)
	}
	// A group whose fields all apply under one condition shows it once.
	for i := range groups {
		g := &groups[i]
		if g.Legend == "" || len(g.Fields) == 0 || g.Fields[0].When == nil {
			continue
		}
		same := true
		for _, f := range g.Fields[1:] {
			same = same && f.When != nil && *f.When == *g.Fields[0].When
		}
		if same {
			g.When = g.Fields[0].When
			for _, f := range g.Fields {
				f.When = nil
			}
		}
	}
	return groups
}

// typeValues reads a type's fields from the form: the properties and the
// secrets typed (nil when none was: the stored ones are kept).
func typeValues(c *gin.Context, t forward.Type) (props, secrets map[string]string) {
	props = map[string]string{}
	for _, f := range slices.Concat(t.Properties, t.Secrets) {
		if v := formValue(c, "properties."+f.Name, f); v != "" {
			props[f.Name] = v
		}
	}
	for _, f := range t.Secrets {
		if v := formValue(c, "secrets."+f.Name, f); v != "" {
			if secrets == nil {
				secrets = map[string]string{}
			}
			secrets[f.Name] = v
		}
	}
	return props, secrets
}

// formValue is the value of a form input: one line of text trimmed,
// several lines as typed.
func formValue(c *gin.Context, name string, f forward.Field) string {
	v := c.PostForm(name)
	if f.Kind == forward.KindMultiline || f.Kind == forward.KindJSON {
		if strings.TrimSpace(v) == "" {
			return ""
		}
		return strings.ReplaceAll(v, "\r\n", "\n")
	}
	return strings.TrimSpace(v)
}

// Checked reports whether a choice of the field is chosen.
func (f *field) Checked(v string) bool {
	if f.Input == "checkboxes" {
		return slices.Contains(f.Values, v)
	}
	return f.Value == v
}

// Described lists the ids of the texts that describe the input.
func (f *field) Described() string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, f.ID+"-help")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// Type is the type attribute of an input element.
func (f *field) Type() string {
	switch f.Input {
	case "email", "password":
		return f.Input
	case "datetime":
		return "datetime-local"
	}
	return "text"
}
