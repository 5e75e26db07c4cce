package clever

import (
	"slices"
	"strings"

	"github.com/lrs-project/lrs/forward"
)

// Properties are the non-secret settings of a Clever configuration, for
// the registry (admin API, CLI, OpenAPI); the rules between them are
// Validate's.
var Properties = []forward.Field{
	{Name: PropSections, Required: true, Description: `which Clever sections receive an objective's grades: a JSON object of objective id → ["<section id>", …] or {"course": "<course id>"} (every section of the course the student is enrolled in); the key "*" covers every objective not named`},
	{Name: PropDistrictID, Flag: "district-id", Description: "the Clever id of the district (24 hex digits); required with client credentials"},
	{Name: PropTitleTemplate, Flag: "title-template", Default: DefaultTitle, Description: "the assignment's title, a Go template with {{.Objective}} (the objective's name) and {{.ObjectiveID}}"},
	{Name: PropDescription, Default: DefaultDescription, Description: "the assignment's description, a Go template like the title"},
	{Name: PropGradingType, Flag: "grading-type", Enum: []string{GradingPoints, GradingPercent, GradingPassFail}, Default: GradingPoints, Description: "how the grade is written: points (scaled score × points possible), percent, or pass_fail"},
	{Name: PropPointsPossible, Flag: "points-possible", Default: "100", Description: "the assignment's points possible"},
	{Name: PropSubmissionTypes, Flag: "submission-types", Default: "text", Description: "comma-separated submission types of the assignment: link, file, text, discussion (Schoology refuses link)"},
	{Name: PropMaxAttempts, Flag: "max-attempts", Default: "1", Description: "the assignment's max attempts (1 to 1000)"},
	{Name: PropDueDateOffset, Flag: "due-date-offset", Default: "30d", Description: "the assignment's due date, after its creation: a duration such as 720h or whole days such as 30d (1h to 5 years); Clever needs a future due date"},
	{Name: PropGraderID, Flag: "grader-id", Description: "the Clever id of the teacher recorded as the grader (optional)"},
	{Name: PropRateLimit, Flag: "rate-limit", Default: "1200", Description: "Clever's request limit per district token per minute; each process uses LRS_CLEVER_RATE_SHARE of it"},
	{Name: PropBaseURL, Flag: "base-url", Default: DefaultBaseURL, URL: true, Description: "Clever's API (change only to test against another server)"},
	{Name: PropTokenURL, Flag: "token-url", Default: DefaultTokenURL, URL: true, Description: "Clever's token endpoint, for client credentials"},
}

// Secrets are the secret settings of a Clever configuration.
var Secrets = []forward.Field{
	// Not --token: the admin CLI's own flag (its bearer token).
	{Name: SecretToken, Flag: "district-token", Description: "the district-app bearer token (or client_id and client_secret, with district_id)"},
	{Name: SecretClientID, Flag: "client-id", AlsoProperty: true, Description: "the application's Clever client id, to fetch the district's token"},
	{Name: SecretClientSecret, Flag: "client-secret", Description: "the application's Clever client secret"},
}

// Type is the Clever destination type with the factory the wiring
// builds.
func Type(factory forward.Factory) forward.Type {
	return forward.Type{
		Name:        TypeClever,
		Description: "Clever LMS Connect grade passback: each objective becomes an assignment in the mapped sections of the district's LMS (Canvas, Schoology, Google Classroom), each result a student's grade",
		Sink:        forward.SinkOverwrite,
		Properties:  Properties,
		Secrets:     Secrets,
		Target:      PropSections,
		Validate:    crossCheck,
		Factory:     factory,
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
