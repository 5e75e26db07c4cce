package forward

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SinkKind is how a destination type takes results.
type SinkKind string

// Sink kinds.
const (
	// SinkAppend: one delivery per (configuration, statement); every result
	// is sent (an LMS's LRS).
	SinkAppend SinkKind = "append"
	// SinkOverwrite: one delivery per (configuration, objective,
	// participant, registration); the newest result wins (a grade, an
	// upsert, a registration's state).
	SinkOverwrite SinkKind = "overwrite"
)

// Field is one setting of a destination type: a property (stored as it
// is, shown to the administrator) or a secret (sealed, write-only).
type Field struct {
	Name        string
	Description string   // one line, for the OpenAPI document and the CLI's help
	Required    bool     // always required (conditional rules are the type's Validate)
	Enum        []string // the allowed values, when they are a closed set
	Default     string   // the value an empty one stands for
	// Flag is the flag of `lrs admin configuration create` that sets it;
	// default Name with '_' written '-'.
	Flag string
	// AlsoProperty: a secret that may be given as a property instead (an
	// identifier that is not secret in itself, such as a key or client id).
	AlsoProperty bool
	// URL: a property that is a URL the destination sends to, with its
	// secrets. It must be an absolute http(s) URL without credentials
	// (CheckURLSyntax), the administration checks it against the egress
	// policy when it is saved, and a change of its origin (scheme, host,
	// port) is refused unless the secrets are entered again, so that they
	// never go to a host they were not entered for.
	URL bool
	// Address: a property that is a host[:port] the destination connects
	// to without a URL (an SFTP server). The administration checks it
	// against the egress policy when it is saved (Egress.CheckAddress),
	// and, like a URL's origin, a change of it is refused unless the
	// secrets are entered again.
	Address bool

	// How the console asks for the field (fields_ui.go): none of these
	// changes what is valid, which Check and the type's Validate decide.
	Label   string    // a short name for people; default Name
	Kind    FieldKind // the kind of input; default one line of text
	Group   string    // fields of one Group are shown together under it
	Example string    // a sample value, shown in the empty input
	// When, if set, says the field applies only when another property
	// has one of some values (basic authentication's key, a batch's size):
	// the console hides it otherwise.
	When *Condition
}

// FlagName is the CLI flag of the field.
func (f Field) FlagName() string {
	if f.Flag != "" {
		return f.Flag
	}
	return strings.ReplaceAll(f.Name, "_", "-")
}

// Type is a destination type: everything the engine, the admin API, the
// CLI, the OpenAPI document and the metrics know of it. A destination
// package returns its Type; cmd registers it in the Registry.
type Type struct {
	Name        string
	Description string
	Sink        SinkKind
	Properties  []Field
	Secrets     []Field
	// Target names the property that says where results go (shown in the
	// CLI's lists).
	Target string
	// Validate returns the problems the fields' own rules do not cover
	// (rules between fields), each naming its field
	// ("secrets.key: is required for basic authentication").
	Validate func(props, secrets map[string]string) []string
	// Factory builds the destination of a configuration.
	Factory Factory

	// Label names the type for people (the console); default Name.
	Label string
	// TestLabel names the test of a configuration for people ("Check
	// readiness"); default "Test connection".
	TestLabel string
	// Preview, optional, renders what a configuration would send for a
	// sample result, without sending anything (the console shows it live
	// while the administrator edits a mapping): see Admin.Preview.
	Preview func(ctx context.Context, env PreviewEnv, c Configuration, secrets map[string]string, at time.Time) (Preview, error)
	// PreviewItem, optional, renders what a configuration would send for
	// a real item (a stored result, as the engine would read it to send
	// it now): see Admin.PreviewResult.
	PreviewItem func(ctx context.Context, env PreviewEnv, c Configuration, secrets map[string]string, it Item, at time.Time) (Preview, error)
	// Wants, optional (overwrite sinks), says whether configuration c owes
	// a delivery for a result in its current state (a webhook's trigger:
	// on completion, on pass): a result it does not want ensures and
	// re-opens no delivery (Obligations.ResultChanged). nil: every result.
	Wants func(c Configuration, r ObjectiveResult) bool
}

// PreviewEnv is what a preview may read besides its configuration: read
// only (a preview writes nothing and sends nothing).
type PreviewEnv struct {
	// Assignments reads the remote assignments the configuration's
	// destination recorded (AssignmentStore); nil when none can exist (a
	// configuration not saved yet).
	Assignments AssignmentReader
}

// AssignmentReader is the read of an AssignmentStore.
type AssignmentReader interface {
	GetAssignment(ctx context.Context, key AssignmentKey) (AssignmentRecord, error)
}

// Check returns every problem of a configuration's properties and secrets
// (nil when they are usable): unknown names, a secret given as a property,
// missing required fields and values outside a field's Enum, then the
// type's own Validate.
func (t Type) Check(props, secrets map[string]string) []string {
	var errs []string
	var known []string
	for _, f := range t.Properties {
		known = append(known, f.Name)
	}
	for _, f := range t.Secrets {
		if f.AlsoProperty {
			known = append(known, f.Name)
		}
	}
	for _, k := range sortedKeys(props) {
		switch {
		case slices.Contains(known, k):
		case slices.ContainsFunc(t.Secrets, func(f Field) bool { return f.Name == k }):
			errs = append(errs, fmt.Sprintf("properties.%s: is a secret: put it in secrets", k))
		default:
			errs = append(errs, fmt.Sprintf("properties.%s: unknown property (want %s)", k, strings.Join(known, ", ")))
		}
	}
	for _, k := range sortedKeys(secrets) {
		if !slices.ContainsFunc(t.Secrets, func(f Field) bool { return f.Name == k }) {
			errs = append(errs, fmt.Sprintf("secrets.%s: unknown secret (want %s)", k, strings.Join(fieldNames(t.Secrets), ", ")))
		}
	}
	check := func(where string, fs []Field, values map[string]string) {
		for _, f := range fs {
			v := values[f.Name]
			switch {
			case v == "" && f.Required:
				errs = append(errs, fmt.Sprintf("%s.%s: is required", where, f.Name))
			case v != "" && len(f.Enum) > 0 && !slices.Contains(f.Enum, v):
				errs = append(errs, fmt.Sprintf("%s.%s: %q: want %s", where, f.Name, v, orList(f.Enum)))
			case v != "" && f.URL:
				if _, err := CheckURLSyntax(v); err != nil {
					errs = append(errs, fmt.Sprintf("%s.%s: %v", where, f.Name, err))
				}
			}
		}
	}
	check("properties", t.Properties, props)
	check("secrets", t.Secrets, secrets)
	if t.Validate != nil {
		errs = append(errs, t.Validate(props, secrets)...)
	}
	return errs
}

// orList is "a", "a or b", "a, b or c".
func orList(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

func fieldNames(fs []Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Registry is the destination types a binary serves, in the order they
// were registered.
type Registry struct {
	types []Type
}

// NewRegistry returns the registry of types; every type needs a name (of
// lower-case letters, digits and '-'), a sink kind, a factory and distinct
// field names, and no two types share a name.
func NewRegistry(types ...Type) (*Registry, error) {
	var errs []error
	seen := map[string]bool{}
	for i, t := range types {
		name := t.Name
		switch {
		case name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
			errs = append(errs, fmt.Errorf("forward: type %d: name %q: want lower-case letters, digits and '-'", i, name))
		case seen[name]:
			errs = append(errs, fmt.Errorf("forward: type %q is registered twice", name))
		}
		seen[name] = true
		if t.Sink != SinkAppend && t.Sink != SinkOverwrite {
			errs = append(errs, fmt.Errorf("forward: type %q: sink kind %q: want %s or %s", name, t.Sink, SinkAppend, SinkOverwrite))
		}
		if t.Factory == nil {
			errs = append(errs, fmt.Errorf("forward: type %q has no factory", name))
		}
		fields := map[string]bool{}
		for _, f := range slices.Concat(t.Properties, t.Secrets) {
			if f.Name == "" || fields[f.Name] {
				errs = append(errs, fmt.Errorf("forward: type %q: field name %q is empty or repeated", name, f.Name))
			}
			fields[f.Name] = true
		}
		for _, f := range slices.Concat(t.Properties, t.Secrets) {
			if err := f.checkUI(t); err != nil {
				errs = append(errs, fmt.Errorf("forward: type %q: field %q: %w", name, f.Name, err))
			}
		}
		if t.Target != "" && !slices.ContainsFunc(t.Properties, func(f Field) bool { return f.Name == t.Target }) {
			errs = append(errs, fmt.Errorf("forward: type %q: target %q is not one of its properties", name, t.Target))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Registry{types: slices.Clone(types)}, nil
}

// Lookup returns the type of that name.
func (r *Registry) Lookup(name string) (Type, bool) {
	for _, t := range r.types {
		if t.Name == name {
			return t, true
		}
	}
	return Type{}, false
}

// Types returns the registered types, in registration order.
func (r *Registry) Types() []Type { return slices.Clone(r.types) }

// Names returns the names of the registered types, in registration order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.types))
	for i, t := range r.types {
		out[i] = t.Name
	}
	return out
}
