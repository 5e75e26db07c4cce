package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
)

// The "Preview request" page of a configuration that is sent results (an
// overwrite destination: postback, webhook, Clever): what it would send
// for a sample result, or for a stored result chosen by objective,
// participant and registration (the result's page links here), through
// forward.Admin.Preview and PreviewResult, the admin API's preview. The
// stored configuration is previewed as it is, its stored secrets standing
// in ("[redacted]" in what is shown); nothing is stored or sent. Every
// value is escaped by the templates.

type requestPreviewPage struct {
	C       forward.Configuration
	Type    forward.Type
	Back    string // the configuration's page
	Action  string // this page
	Fields  []*field
	Stored  bool         // of a stored result, else of the sample
	Preview *previewView // nil: nothing to show (the form's problems say why)
}

// requestPreviewURL is the page's URL for configuration id, of the stored
// result (participant, registration) of objective ("" for the sample).
func requestPreviewURL(org, id, objective, participant, registration string) string {
	u := consolePath + "/orgs/" + org + "/configurations/" + id + "/request"
	if objective == "" {
		return u
	}
	q := url.Values{"objective": {objective}, "participant": {participant}}
	if registration != "" {
		q.Set("registration", registration)
	}
	return u + "?" + q.Encode()
}

// hasRequestPreview says whether configurations of type t have the page:
// they are sent results and their type renders their requests.
func hasRequestPreview(t forward.Type) bool {
	return t.Sink == forward.SinkOverwrite && t.Preview != nil && t.PreviewItem != nil
}

func (s *server) consoleRequestPreview(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	ctx, org, id := c.Request.Context(), v.Org.ID, c.Param("id")
	cf, err := fa.Configuration(ctx, org, id)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	t, known := fa.Types().Lookup(cf.Type)
	if !known || !hasRequestPreview(t) {
		s.consoleRefuse(c, v, http.StatusConflict, "Configurations of type "+cf.Type+" have no request preview: only the destinations that are sent results (postback, webhook, Clever) have one.")
		return
	}
	objs, err := fa.ListObjectives(ctx, org)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	objective, participant, registration := c.Query("objective"), strings.TrimSpace(c.Query("participant")), strings.TrimSpace(c.Query("registration"))
	d := &requestPreviewPage{C: cf, Type: t, Back: consolePath + "/orgs/" + org + "/configurations/" + id,
		Action: consolePath + "/orgs/" + org + "/configurations/" + id + "/request", Stored: objective != "" || participant != ""}
	of := newField("objective", "Result of", "select")
	of.Options, of.Value = []option{{Value: "", Label: "A sample result"}}, objective
	for _, o := range objs {
		of.Options = append(of.Options, option{Value: o.ID, Label: o.Name})
	}
	pf := newField("participant", "Participant", "text")
	pf.Value, pf.Example = participant, "mbox:mailto:ada@example.com"
	pf.Help = "The result's participant as the results list names it (mbox:mailto:…, account:…); with an objective."
	rf := newField("registration", "Registration", "text")
	rf.Value, rf.Help = registration, "The result's registration (a UUID), if it has one."
	d.Fields = []*field{of, pf, rf}

	in := forward.ConfigurationInput{Name: cf.Name, ContactEmail: cf.ContactEmail, Type: cf.Type, Identifier: cf.Identifier, Properties: cf.Properties}
	var problems []string
	status := http.StatusOK
	var p forward.Preview
	switch {
	case d.Stored && objective == "":
		problems = []string{"objective: choose the objective of the result"}
	case d.Stored && participant == "":
		problems = []string{"participant: name the participant of the result"}
	case d.Stored:
		p, err = fa.PreviewResult(ctx, org, id, in, objective, participant, registration)
	default:
		p, err = fa.Preview(ctx, org, id, in)
	}
	var ae *forward.AdminError
	switch {
	case problems != nil:
		status = http.StatusBadRequest
	case errors.As(err, &ae) && errors.Is(err, forward.ErrNotFound):
		msg := "participant: no result of this participant in this objective"
		if registration != "" {
			msg += " and registration"
		}
		status, problems = http.StatusNotFound, []string{msg}
	case problemsOf(err) != nil:
		status, problems = http.StatusBadRequest, problemsOf(err)
	case err != nil:
		s.consoleFail(c, v, err)
		return
	default:
		d.Preview = previewViewOf(p, nil)
	}
	v.Title, v.Section, v.Data = "Preview request: "+cf.Name, "configurations", d
	v.Problems = attachProblems(d.Fields, problems)
	s.render(c, status, "request-preview", v)
}

// resultPreviews are the links of a result's page to the request each
// configuration that has a request preview would send for it: those
// attached to the objective first (the others say it is not attached).
func resultPreviews(c *gin.Context, fa *forward.Admin, org string, o forward.Objective, r forward.ObjectiveResult) ([]option, error) {
	if !fa.CanWrite() {
		return nil, nil
	}
	cfgs, err := fa.ListConfigurations(c.Request.Context(), org)
	if err != nil {
		return nil, err
	}
	var attached, others []option
	for _, cf := range cfgs {
		if t, ok := fa.Types().Lookup(cf.Type); !ok || !hasRequestPreview(t) {
			continue
		}
		link := option{Label: cf.Name, Value: requestPreviewURL(org, cf.ID, o.ID, r.Participant, r.Registration)}
		if slices.Contains(o.Configurations, cf.ID) {
			attached = append(attached, link)
		} else {
			link.Help = "not attached to this objective"
			others = append(others, link)
		}
	}
	return append(attached, others...), nil
}
