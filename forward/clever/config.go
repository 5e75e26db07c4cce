package clever

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// Properties (non-secret settings) of a Clever configuration.
const (
	// PropDistrictID is the Clever id of the district. Required with
	// client credentials (to pick the district's token); optional with a
	// token (the token's own district is read from Clever).
	PropDistrictID = "district_id"
	// PropClientID is the application's Clever client id (also accepted
	// as a secret).
	PropClientID = "client_id"
	// PropSections maps objectives to the Clever sections that receive
	// their grades, as a JSON object: objective id → an array of section
	// ids, or {"course": "<course id>"} for every section of that course
	// the student is enrolled in. The key "*" applies to every objective
	// not named.
	PropSections = "sections"
	// PropTitleTemplate and PropDescription are text/template texts of the
	// assignment's title and description, with {{.Objective}} (the
	// objective's name) and {{.ObjectiveID}}.
	PropTitleTemplate = "title_template"
	PropDescription   = "description"
	// PropGradingType is points (default), percent or pass_fail.
	PropGradingType = "grading_type"
	// PropPointsPossible is the assignment's points possible (default 100).
	PropPointsPossible = "points_possible"
	// PropSubmissionTypes is a comma-separated list of link, file, text,
	// discussion (default text).
	PropSubmissionTypes = "submission_types"
	// PropMaxAttempts is the assignment's max_attempts (default 1; Canvas
	// needs it set explicitly).
	PropMaxAttempts = "max_attempts"
	// PropDueDateOffset sets due_date to the creation time plus this
	// (Clever refuses a due date that is not in the future): a Go duration
	// ("720h") or whole days ("30d"); default 30d.
	PropDueDateOffset = "due_date_offset"
	// PropGraderID is the Clever id of the teacher recorded as grader
	// (optional).
	PropGraderID = "grader_id"
	// PropBaseURL is the API's base URL (default https://api.clever.com).
	PropBaseURL = "base_url"
	// PropTokenURL is the token endpoint (default
	// https://clever.com/oauth/tokens).
	PropTokenURL = "token_url"
	// PropRateLimit is Clever's limit per token per minute (default 1200).
	PropRateLimit = "rate_limit"
)

// Secret settings.
const (
	SecretToken        = "token"         // the district-app bearer token
	SecretClientID     = "client_id"     // with client_secret, fetches the token
	SecretClientSecret = "client_secret" // the application's client secret
)

// Defaults.
const (
	DefaultBaseURL        = "https://api.clever.com"
	DefaultTokenURL       = "https://clever.com/oauth/tokens"
	DefaultRateLimit      = 1200
	DefaultPointsPossible = 100
	DefaultTitle          = "{{.Objective}}"
	DefaultDescription    = "Result of {{.Objective}}, sent by the learning record store."
	DefaultDueDateOffset  = 30 * 24 * time.Hour
	// AllObjectives is the sections key that applies to every objective
	// not named.
	AllObjectives = "*"
)

// Target is where an objective's grades go: listed sections, or every
// section of a course the student is enrolled in.
type Target struct {
	Sections []string
	Course   string
}

// Config is a parsed, valid Clever configuration.
type Config struct {
	BaseURL  *url.URL
	TokenURL *url.URL

	Token                  string // a bearer token, or:
	ClientID, ClientSecret string // client credentials, with DistrictID
	DistrictID             string

	Targets map[string]Target // objective id (or AllObjectives) → target

	Title, Description *template.Template
	GradingType        string
	PointsPossible     float64
	SubmissionTypes    []string
	MaxAttempts        int
	DueDateOffset      time.Duration
	GraderID           string
	RateLimit          int
}

// TemplateData is what the title and description templates see.
type TemplateData struct {
	Objective   string // the objective's name (its id when it has none)
	ObjectiveID string
}

var cleverID = regexp.MustCompile(`^[0-9a-f]{24}$`)

var knownProps = []string{PropDistrictID, PropClientID, PropSections, PropTitleTemplate, PropDescription,
	PropGradingType, PropPointsPossible, PropSubmissionTypes, PropMaxAttempts, PropDueDateOffset,
	PropGraderID, PropBaseURL, PropTokenURL, PropRateLimit}

var knownSecrets = []string{SecretToken, SecretClientID, SecretClientSecret}

// Validate checks the properties and secrets of a Clever configuration and
// returns every problem (nil when they are usable), each naming its field.
func Validate(props, secrets map[string]string) []string {
	_, errs := parse(props, secrets)
	return errs
}

// Parse returns the configuration of props and secrets, or an error
// listing every problem.
func Parse(props, secrets map[string]string) (Config, error) {
	c, errs := parse(props, secrets)
	if len(errs) > 0 {
		return Config{}, errors.New(strings.Join(errs, "; "))
	}
	return c, nil
}

func parse(props, secrets map[string]string) (Config, []string) {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	for _, k := range sortedKeys(props) {
		switch {
		case k == SecretToken || k == SecretClientSecret:
			bad("properties."+k, "is a secret: put it in secrets")
		case !slices.Contains(knownProps, k):
			bad("properties."+k, "unknown property (want %s)", strings.Join(knownProps, ", "))
		}
	}
	for _, k := range sortedKeys(secrets) {
		if !slices.Contains(knownSecrets, k) {
			bad("secrets."+k, "unknown secret (want %s)", strings.Join(knownSecrets, ", "))
		}
	}
	prop := func(name string) string { return strings.TrimSpace(props[name]) }

	c := Config{
		Token:        strings.TrimSpace(secrets[SecretToken]),
		ClientID:     strings.TrimSpace(secrets[SecretClientID]),
		ClientSecret: strings.TrimSpace(secrets[SecretClientSecret]),
		DistrictID:   prop(PropDistrictID),
		GraderID:     prop(PropGraderID),
	}
	if c.ClientID == "" {
		c.ClientID = prop(PropClientID)
	}
	switch {
	case c.Token != "" && (c.ClientID != "" || c.ClientSecret != ""):
		bad("secrets", "give either token or client_id and client_secret, not both")
	case c.Token == "" && c.ClientID == "" && c.ClientSecret == "":
		bad("secrets.token", "is required (or client_id and client_secret with properties.district_id)")
	case c.Token == "":
		if c.ClientID == "" {
			bad("secrets.client_id", "is required with client_secret")
		}
		if c.ClientSecret == "" {
			bad("secrets.client_secret", "is required with client_id")
		}
		if c.DistrictID == "" {
			bad("properties.district_id", "is required with client credentials")
		}
	}
	if c.DistrictID != "" && !cleverID.MatchString(c.DistrictID) {
		bad("properties.district_id", "want a Clever id (24 lowercase hex digits), got %q", c.DistrictID)
	}
	if c.GraderID != "" && !cleverID.MatchString(c.GraderID) {
		bad("properties.grader_id", "want a Clever id (24 lowercase hex digits), got %q", c.GraderID)
	}

	var err error
	if c.BaseURL, err = httpURL(prop(PropBaseURL), DefaultBaseURL); err != nil {
		bad("properties.base_url", "%v", err)
	}
	if c.TokenURL, err = httpURL(prop(PropTokenURL), DefaultTokenURL); err != nil {
		bad("properties.token_url", "%v", err)
	}

	if raw := prop(PropSections); raw == "" {
		bad("properties.sections", `is required: a JSON object of objective id → ["<section id>", …] or {"course": "<course id>"}`)
	} else if c.Targets, err = parseTargets(raw); err != nil {
		bad("properties.sections", "%v", err)
	}

	c.Title = parseTemplate(PropTitleTemplate, props[PropTitleTemplate], DefaultTitle, bad)
	c.Description = parseTemplate(PropDescription, props[PropDescription], DefaultDescription, bad)

	c.GradingType = GradingPoints
	switch v := prop(PropGradingType); v {
	case "", GradingPoints:
	case GradingPercent, GradingPassFail:
		c.GradingType = v
	case GradingLetter:
		bad("properties.grading_type", "letter_grade is not supported (a letter needs the section's grading scale); want points, percent or pass_fail")
	default:
		bad("properties.grading_type", "want points, percent or pass_fail, got %q", v)
	}

	c.PointsPossible = DefaultPointsPossible
	if v := prop(PropPointsPossible); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1e6) {
			bad("properties.points_possible", "want a number above 0 and at most 1000000, got %q", v)
		} else {
			c.PointsPossible = f
		}
	}

	c.SubmissionTypes = []string{"text"}
	if v := prop(PropSubmissionTypes); v != "" {
		c.SubmissionTypes = nil
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if !slices.Contains(submissionTypes, t) {
				bad("properties.submission_types", "%q: want a comma-separated list of %s", t, strings.Join(submissionTypes, ", "))
				continue
			}
			if !slices.Contains(c.SubmissionTypes, t) {
				c.SubmissionTypes = append(c.SubmissionTypes, t)
			}
		}
	}

	c.MaxAttempts = 1
	if v := prop(PropMaxAttempts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			bad("properties.max_attempts", "want a whole number from 1 to 1000, got %q", v)
		} else {
			c.MaxAttempts = n
		}
	}

	c.DueDateOffset = DefaultDueDateOffset
	if v := prop(PropDueDateOffset); v != "" {
		d, err := parseOffset(v)
		if err != nil {
			bad("properties.due_date_offset", "%v", err)
		} else {
			c.DueDateOffset = d
		}
	}

	c.RateLimit = DefaultRateLimit
	if v := prop(PropRateLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 || n > 100000 {
			bad("properties.rate_limit", "want requests per minute per token, a whole number from 10 to 100000, got %q", v)
		} else {
			c.RateLimit = n
		}
	}
	return c, errs
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func httpURL(s, def string) (*url.URL, error) {
	if s == "" {
		s = def
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("want an absolute http(s) URL without credentials, query or fragment, got %q", s)
	}
	return u, nil
}

// parseTargets reads the sections property.
func parseTargets(raw string) (map[string]Target, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf(`want a JSON object of objective id → ["<section id>", …] or {"course": "<course id>"}: %v`, err)
	}
	if len(m) == 0 {
		return nil, errors.New("maps no objective")
	}
	var problems []string
	out := make(map[string]Target, len(m))
	for _, obj := range sortedKeys(m) {
		v := m[obj]
		if strings.TrimSpace(obj) == "" {
			problems = append(problems, "an objective id is empty")
			continue
		}
		var ids []string
		var course struct {
			Course string `json:"course"`
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		switch {
		case json.Unmarshal(v, &ids) == nil:
			if len(ids) == 0 {
				problems = append(problems, fmt.Sprintf("%s: lists no section", obj))
				continue
			}
			for _, id := range ids {
				if !cleverID.MatchString(id) {
					problems = append(problems, fmt.Sprintf("%s: section %q is not a Clever id (24 lowercase hex digits)", obj, id))
				}
			}
			out[obj] = Target{Sections: slices.Compact(slices.Sorted(slices.Values(ids)))}
		case dec.Decode(&course) == nil && course.Course != "":
			if !cleverID.MatchString(course.Course) {
				problems = append(problems, fmt.Sprintf("%s: course %q is not a Clever id (24 lowercase hex digits)", obj, course.Course))
			}
			out[obj] = Target{Course: course.Course}
		default:
			problems = append(problems, fmt.Sprintf(`%s: want an array of section ids or {"course": "<course id>"}`, obj))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

func parseTemplate(name, text, def string, bad func(field, format string, args ...any)) *template.Template {
	if strings.TrimSpace(text) == "" {
		text = def
	}
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		bad("properties."+name, "%v", err)
		return nil
	}
	if out, err := render(t, TemplateData{Objective: "Objective", ObjectiveID: "objective"}); err != nil {
		bad("properties."+name, "%v", err)
		return nil
	} else if out == "" {
		bad("properties."+name, "renders empty text (Clever requires a title and a description)")
		return nil
	}
	return t
}

// maxText bounds a rendered title or description (Canvas's title limit).
const maxText = 255

func render(t *template.Template, d TemplateData) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	s := strings.TrimSpace(b.String())
	if len(s) > maxText {
		n := maxText
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s, nil
}

func parseOffset(v string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("want a Go duration (720h) or whole days (30d), got %q", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("want a Go duration (720h) or whole days (30d), got %q", v)
		}
	}
	if d < time.Hour || d > 5*365*24*time.Hour {
		return 0, fmt.Errorf("want from 1h to 5 years (the due date must be in the future when Clever receives it), got %q", v)
	}
	return d, nil
}

// target returns where an objective's grades go.
func (c Config) target(objective string) (Target, bool) {
	if t, ok := c.Targets[objective]; ok {
		return t, true
	}
	t, ok := c.Targets[AllObjectives]
	return t, ok
}
