package webhook

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a source's value; it decides which formats apply.
type Kind int

// Kinds of values.
const (
	KindString Kind = iota + 1
	KindNumber
	KindBool
	KindTime
	KindDuration
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "boolean"
	case KindTime:
		return "time"
	case KindDuration:
		return "duration"
	}
	return "unknown"
}

// Source is one name of the source vocabulary.
type Source struct {
	Name        string
	Kind        Kind
	Description string
	get         func(in *Input) (value, bool)
}

// extraPrefix names per-objective extra values: objective.extra.<name>.
const extraPrefix = "objective.extra."

var extraName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func str(s string) (value, bool) { return value{kind: KindString, s: s}, s != "" }

func num(p *float64) (value, bool) {
	if p == nil {
		return value{}, false
	}
	return numberValue(*p)
}

func boolean(p *bool) (value, bool) {
	if p == nil {
		return value{}, false
	}
	return value{kind: KindBool, b: *p}, true
}

func when(t time.Time) (value, bool) { return value{kind: KindTime, t: t}, !t.IsZero() }

// Sources is the source vocabulary (sinks.md §3.2), in the order the
// documentation lists it. objective.extra.<name> is accepted besides.
var Sources = []Source{
	{"participant.email", KindString, "the learner's email", func(in *Input) (value, bool) { return str(in.Participant.Email) }},
	{"participant.id", KindString, "the LRS's participant identifier", func(in *Input) (value, bool) { return str(in.Participant.ID) }},
	{"participant.name", KindString, "the learner's name", func(in *Input) (value, bool) { return str(in.Participant.Name) }},
	{"participant.external_id", KindString, "the AMS member id from the participant directory", func(in *Input) (value, bool) { return str(in.Participant.ExternalID) }},
	{"objective.id", KindString, "the objective's id", func(in *Input) (value, bool) { return str(in.Objective.ID) }},
	{"objective.name", KindString, "the objective's name", func(in *Input) (value, bool) { return str(in.Objective.Name) }},
	{"objective.iri", KindString, "the objective's activity IRI", func(in *Input) (value, bool) { return str(in.Objective.IRI) }},
	{"objective.credits", KindNumber, "credits the objective earns", func(in *Input) (value, bool) { return num(in.Objective.Credits) }},
	{"objective.credit_type", KindString, "the objective's credit type", func(in *Input) (value, bool) { return str(in.Objective.CreditType) }},
	{"objective.external_id", KindString, "the AMS's id of the objective", func(in *Input) (value, bool) { return str(in.Objective.ExternalID) }},
	{"result.id", KindString, "the result's id", func(in *Input) (value, bool) { return str(in.Result.ID) }},
	{"result.key", KindString, "the stable idempotency key of the result at this configuration", func(in *Input) (value, bool) {
		if in.Result.ID == "" {
			return value{}, false
		}
		return str(in.Key())
	}},
	{"result.registration", KindString, "the xAPI registration", func(in *Input) (value, bool) { return str(in.Result.Registration) }},
	{"result.status", KindString, "passed, failed, completed or incomplete", func(in *Input) (value, bool) { return str(in.Result.Status()) }},
	{"result.completed", KindBool, "whether the objective is completed", func(in *Input) (value, bool) { return boolean(in.Result.Completed) }},
	{"result.passed", KindBool, "whether the objective is passed (absent when unknown)", func(in *Input) (value, bool) { return boolean(in.Result.Passed) }},
	{"result.score.scaled", KindNumber, "the scaled score, -1 to 1", func(in *Input) (value, bool) { return num(in.Result.Score.Scaled) }},
	{"result.score.raw", KindNumber, "the raw score", func(in *Input) (value, bool) { return num(in.Result.Score.Raw) }},
	{"result.score.min", KindNumber, "the lowest possible raw score", func(in *Input) (value, bool) { return num(in.Result.Score.Min) }},
	{"result.score.max", KindNumber, "the highest possible raw score", func(in *Input) (value, bool) { return num(in.Result.Score.Max) }},
	{"result.duration", KindDuration, "the time spent", func(in *Input) (value, bool) {
		if in.Result.Duration == nil {
			return value{}, false
		}
		return value{kind: KindDuration, d: *in.Result.Duration}, true
	}},
	{"result.completed_at", KindTime, "when the objective was completed", func(in *Input) (value, bool) { return when(in.Result.CompletedAt) }},
	{"result.first_activity_at", KindTime, "the first activity's time", func(in *Input) (value, bool) { return when(in.Result.FirstActivityAt) }},
	{"result.last_activity_at", KindTime, "the latest activity's time", func(in *Input) (value, bool) { return when(in.Result.LastActivityAt) }},
	{"result.attempts", KindNumber, "the number of attempts", func(in *Input) (value, bool) {
		return value{kind: KindNumber, n: big.NewRat(int64(in.Result.Attempts), 1)}, true
	}},
	{"result.revision", KindNumber, "the result's revision", func(in *Input) (value, bool) {
		return value{kind: KindNumber, n: big.NewRat(in.Result.Revision, 1)}, true
	}},
	{"result.overridden", KindBool, "whether an administrator's override set a value", func(in *Input) (value, bool) {
		return value{kind: KindBool, b: in.Result.Overridden}, true
	}},
	{"configuration.name", KindString, "the configuration's name", func(in *Input) (value, bool) { return str(in.ConfigurationName) }},
	{"lrs.statement_id", KindString, "the id of the statement that last changed the result", func(in *Input) (value, bool) { return str(in.StatementID) }},
}

var sourceIndex = func() map[string]*Source {
	m := make(map[string]*Source, len(Sources))
	for i := range Sources {
		m[Sources[i].Name] = &Sources[i]
	}
	return m
}()

// lookupSource returns the source of a name; ok is false for an unknown
// name. objective.extra.<name> is a string source.
func lookupSource(name string) (Source, bool) {
	if s, ok := sourceIndex[name]; ok {
		return *s, true
	}
	if rest, ok := strings.CutPrefix(name, extraPrefix); ok && extraName.MatchString(rest) {
		return Source{Name: name, Kind: KindString, get: func(in *Input) (value, bool) { return str(in.Objective.Extra[rest]) }}, true
	}
	return Source{}, false
}

// value is one source value, or a constant.
type value struct {
	kind Kind
	s    string
	n    *big.Rat // exact decimal of the number
	b    bool
	t    time.Time
	d    time.Duration
}

// numberValue converts a float to its exact shortest decimal, so 0.285
// stays 0.285 (not 0.28499999…) for rounding.
func numberValue(f float64) (value, bool) {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok { // NaN or ±Inf: not a JSON number
		return value{}, false
	}
	return value{kind: KindNumber, n: r}, true
}

var decimalSyntax = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)

// parseDecimal parses a decimal number written in a string.
func parseDecimal(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if !decimalSyntax.MatchString(s) {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

// text is the plain string form of a value (for form bodies, CSV cells,
// URL templates and enum keys).
func (v value) text(loc *time.Location) string {
	switch v.kind {
	case KindString:
		return v.s
	case KindNumber:
		return shortest(v.n)
	case KindBool:
		return strconv.FormatBool(v.b)
	case KindTime:
		return v.t.In(loc).Format(time.RFC3339)
	case KindDuration:
		return iso8601(v.d)
	}
	return ""
}
