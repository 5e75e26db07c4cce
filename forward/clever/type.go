package clever

import (
	"slices"
	"strings"

	"github.com/lrs-project/lrs/forward"
)

// How the console groups the fields (forward.Field's presentation; what
// is valid stays Validate's).
const (
	groupSections    = "Sections"
	groupCredentials = "District and credentials"
	groupAssignment  = "Assignment"
	groupAdvanced    = "Advanced"
	exampleSections  = `{"<objective id>": ["<section id>"], "*": {"course": "<course id>"}}`
)

// Properties are the non-secret settings of a Clever configuration, for
// the registry (admin API, CLI, OpenAPI); the rules between them are
// Validate's.
var Properties = []forward.Field{
	{Name: PropSections, Required: true, Label: "Section mapping", Group: groupSections, Kind: forward.KindJSON, Example: exampleSections, Description: `which Clever sections receive an objective's grades: a JSON object of objective id → ["<section id>", …] or {"course": "<course id>"} (every section of the course the student is enrolled in); the key "*" covers every objective not named`},
	{Name: PropDistrictID, Flag: "district-id", Label: "District id", Group: groupCredentials, Example: "5b2ad81a709e300001e2cd7a", Description: "the Clever id of the district (24 hex digits); required with client credentials"},
	{Name: PropTitleTemplate, Flag: "title-template", Label: "Assignment title", Group: groupAssignment, Default: DefaultTitle, Description: "the assignment's title, a Go template with {{.Objective}} (the objective's name) and {{.ObjectiveID}}"},
	{Name: PropDescription, Label: "Assignment description", Group: groupAssignment, Kind: forward.KindMultiline, Default: DefaultDescription, Description: "the assignment's description, a Go template like the title"},
	{Name: PropGradingType, Flag: "grading-type", Label: "Grading", Group: groupAssignment, Enum: []string{GradingPoints, GradingPercent, GradingPassFail}, Default: GradingPoints, Description: "how the grade is written: points (scaled score × points possible), percent, or pass_fail"},
	{Name: PropPointsPossible, Flag: "points-possible", Label: "Points possible", Group: groupAssignment, Kind: forward.KindNumber, Default: "100", Description: "the assignment's points possible"},
	{Name: PropSubmissionTypes, Flag: "submission-types", Label: "Submission types", Group: groupAssignment, Example: "text,file", Default: "text", Description: "comma-separated submission types of the assignment: link, file, text, discussion (Schoology refuses link)"},
	{Name: PropMaxAttempts, Flag: "max-attempts", Label: "Max attempts", Group: groupAssignment, Kind: forward.KindNumber, Default: "1", Description: "the assignment's max attempts (1 to 1000)"},
	{Name: PropDueDateOffset, Flag: "due-date-offset", Label: "Due after", Group: groupAssignment, Example: "14d", Default: "30d", Description: "the assignment's due date, after its creation: a duration such as 720h or whole days such as 30d (1h to 5 years); Clever needs a future due date"},
	{Name: PropGraderID, Flag: "grader-id", Label: "Grader (teacher id)", Group: groupAssignment, Example: "5b2ad81a709e300001e2cd7c", Description: "the Clever id of the teacher recorded as the grader (optional)"},
	{Name: PropRateLimit, Flag: "rate-limit", Label: "Request limit per minute", Group: groupAdvanced, Kind: forward.KindNumber, Default: "1200", Description: "Clever's request limit per district token per minute; each process uses LRS_CLEVER_RATE_SHARE of it"},
	{Name: PropBaseURL, Flag: "base-url", Label: "API base URL", Group: groupAdvanced, Default: DefaultBaseURL, URL: true, Description: "Clever's API (change only to test against another server)"},
	{Name: PropTokenURL, Flag: "token-url", Label: "Token URL", Group: groupAdvanced, Default: DefaultTokenURL, URL: true, Description: "Clever's token endpoint, for client credentials"},
}

// Secrets are the secret settings of a Clever configuration.
var Secrets = []forward.Field{
	// Not --token: the admin CLI's own flag (its bearer token).
	{Name: SecretToken, Flag: "district-token", Label: "District-app token", Group: groupCredentials, Description: "the district-app bearer token (or client_id and client_secret, with district_id)"},
	{Name: SecretClientID, Flag: "client-id", Label: "Client id", Group: groupCredentials, AlsoProperty: true, Description: "the application's Clever client id, to fetch the district's token"},
	{Name: SecretClientSecret, Flag: "client-secret", Label: "Client secret", Group: groupCredentials, Description: "the application's Clever client secret"},
}

// Type is the Clever destination type with the factory the wiring
// builds.
func Type(factory forward.Factory) forward.Type {
	return forward.Type{
		Name:        TypeClever,
		Label:       "Clever grade passback",
		TestLabel:   "Check readiness",
		Description: "Clever LMS Connect grade passback: each objective becomes an assignment in the mapped sections of the district's LMS (Canvas, Schoology, Google Classroom), each result a student's grade",
		Sink:        forward.SinkOverwrite,
		Properties:  Properties,
		Secrets:     Secrets,
		Target:      PropSections,
		Validate:    crossCheck,
		Factory:     factory,
		Preview:     previewSample, // preview.go
		PreviewItem: previewItem,
	}
}

// crossCheck is Validate without the problems the fields' own rules
// (forward.Type.Check) report already: one problem per field at most
// from either.
func crossCheck(props, secrets map[string]string) []string {
	generic := forward.Type{Properties: Properties, Secrets: Secrets}.Check(props, secrets)
	field := func(p string) string { f, _, _ := strings.Cut(p, ": "); return f }
	var out []string
	for _, p := range Validate(props, secrets) {
		if !slices.ContainsFunc(generic, func(g string) bool { return field(g) == field(p) }) {
			out = append(out, p)
		}
	}
	return out
}
