package clever

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The request preview of a Clever configuration (forward.Type.Preview and
// PreviewItem): every request that sending one grade makes, in order,
// built by the same code the destination sends with (paths, bodies,
// headers), with what each is for, and without contacting Clever. The ids
// only Clever can answer (the student's, the sections of a course, an
// assignment not created yet) are placeholders; the secrets are
// "[redacted]". The assignment of a section the destination already
// created is read from the assignment store (read only): its id is shown
// and its creation left out, as the destination then sends.

// Placeholders of the ids a preview cannot know.
const (
	PlaceholderStudent    = "{student_id}"
	PlaceholderAssignment = "{assignment_id}"
	PlaceholderSection    = "{section_id}"
)

const redacted = "[redacted]"

// unplaceholder puts the placeholders back as they read in a URL (a path
// segment escaped, then the URL's path escaped again).
func unplaceholder(u string) string {
	for _, ph := range []string{PlaceholderStudent, PlaceholderAssignment, PlaceholderSection} {
		esc := url.PathEscape(ph)
		u = strings.ReplaceAll(strings.ReplaceAll(u, strings.ReplaceAll(esc, "%", "%25"), ph), esc, ph)
	}
	return u
}

// PreviewGrade renders the requests that sending g at time at makes; a
// grade that would not be sent has only notes saying why. assignments are
// the ids of g's objective's assignments already created, by section
// (KnownAssignments): a section with one is graded in it, without the
// creation; nil: none is known.
func (c Config) PreviewGrade(g Grade, at time.Time, assignments map[string]string) forward.Preview {
	var p forward.Preview
	notSent := func(why string) forward.Preview {
		p.Notes = append(p.Notes, "this result would not be sent: "+why)
		return p
	}
	email := strings.TrimSpace(g.Participant)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return notSent("the participant is not an email address")
	}
	sub, err := c.grade(g.Result)
	if err != nil {
		return notSent(err.Error())
	}
	target, ok := c.target(g.Objective)
	if !ok {
		return notSent(fmt.Sprintf("objective %s is mapped to no Clever section (properties.sections)", g.Objective))
	}
	data := TemplateData{Objective: g.ObjectiveName, ObjectiveID: g.Objective}
	if strings.TrimSpace(data.Objective) == "" {
		data.Objective = g.Objective
	}
	assignment, err := c.assignmentRequest(data, at)
	if err != nil {
		return notSent(err.Error())
	}
	cl := &client{cfg: &c}
	if c.Token == "" {
		p.Requests = append(p.Requests, forward.PreviewRequest{
			Purpose: "fetches the district's token with the client credentials: once, then kept until Clever refuses it",
			Method:  http.MethodGet, URL: cl.tokenURL(),
			Headers: map[string][]string{"Authorization": {"Basic " + redacted}, "Accept": {"application/json"}},
		})
	}
	api := func(purpose, method, path string, in any) *forward.PreviewRequest {
		r := forward.PreviewRequest{Purpose: purpose, Method: method, URL: unplaceholder(cl.url(path)),
			Headers: map[string][]string{"Authorization": {"Bearer " + redacted}, "Accept": {"application/json"}}}
		if in != nil {
			b, _ := json.Marshal(in) // the wire types always encode
			r.Body = string(b)
			r.Headers["Content-Type"] = []string{"application/json"}
		}
		p.Requests = append(p.Requests, r)
		return &p.Requests[len(p.Requests)-1]
	}
	sections := target.Sections
	if target.Course != "" {
		api(fmt.Sprintf("lists the sections of course %s (and its next pages, if any; kept 15 minutes): the grade goes to each one synced in the LMS whose students include the participant, %s below", target.Course, PlaceholderSection),
			http.MethodGet, courseSectionsPath(target.Course), nil)
		sections = []string{PlaceholderSection}
	}
	write := -1
	for _, s := range sections {
		api(fmt.Sprintf("lists the students of section %s (and its next pages, if any; kept 15 minutes) to find the Clever id of %s, %s below; a section without them is skipped", s, email, PlaceholderStudent),
			http.MethodGet, studentsPath(s), nil)
		if id := assignments[s]; id != "" {
			api(fmt.Sprintf("writes the grade in section %s, in the objective's assignment there (created by an earlier grade: its id is recorded)", s),
				http.MethodPatch, submissionPath(s, id, PlaceholderStudent), sub)
		} else {
			api(fmt.Sprintf("creates the objective's assignment in section %s, for its first grade there only: its id, %s below, is kept and used from then on", s, PlaceholderAssignment),
				http.MethodPost, sectionPath(s)+"/assignments", assignment)
			api(fmt.Sprintf("writes the grade in section %s", s), http.MethodPatch, submissionPath(s, PlaceholderAssignment, PlaceholderStudent), sub)
		}
		if write < 0 {
			write = len(p.Requests) - 1
		}
	}
	w := p.Requests[write]
	p.Method, p.URL, p.Body = w.Method, w.URL, w.Body
	p.Headers = map[string][]string{}
	for k, v := range w.Headers {
		p.Headers[k] = append([]string(nil), v...)
	}
	var shown []string
	for _, ph := range []string{PlaceholderStudent, PlaceholderAssignment, PlaceholderSection} {
		for _, r := range p.Requests {
			if strings.Contains(r.URL, ph) {
				shown = append(shown, ph)
				break
			}
		}
	}
	ids := strings.Join(shown, " and ")
	if len(shown) == 3 {
		ids = shown[0] + ", " + shown[1] + " and " + shown[2]
	}
	p.Notes = append(p.Notes, fmt.Sprintf("nothing was sent to Clever: the ids only it can answer are shown as %s", ids))
	return p
}

// KnownAssignments reads, without writing, the ids of the assignments the
// destination of configuration (org, config) created for objective in the
// sections the objective is mapped to by id, by section (the sections of
// a course are known only to Clever: none is read). A reservation (an
// assignment being created) is no id. On a failure of the store it returns
// what it read before it.
func (c Config) KnownAssignments(ctx context.Context, store forward.AssignmentReader, org, config, objective string) (map[string]string, error) {
	target, ok := c.target(objective)
	if !ok || store == nil {
		return nil, nil
	}
	known := map[string]string{}
	for _, s := range target.Sections {
		rec, err := store.GetAssignment(ctx, forward.AssignmentKey{Org: org, Configuration: config, Section: s, Objective: objective})
		switch {
		case errors.Is(err, forward.ErrNoAssignment):
		case err != nil:
			return known, fmt.Errorf("reading the assignment of section %s: %w", s, err)
		case rec.AssignmentID != "":
			known[s] = rec.AssignmentID
		}
	}
	return known, nil
}

// previewOf is the preview of g by configuration c: with the assignments
// its destination created, read from env.
func (c Config) previewOf(ctx context.Context, env forward.PreviewEnv, conf forward.Configuration, g Grade, at time.Time) forward.Preview {
	known, err := c.KnownAssignments(ctx, env.Assignments, conf.Org, conf.ID, g.Objective)
	p := c.PreviewGrade(g, at, known)
	if err != nil && len(p.Requests) > 0 {
		p.Notes = append(p.Notes, "the assignment store could not be read ("+err.Error()+"): a section's assignment may exist already, and then is not created again")
	}
	return p
}

// sampleGrade is the illustrative grade of a preview: a passed result
// with a scaled score of 0.92, of the first objective the sections name
// (or of a sample objective when they name only "*").
func (c Config) sampleGrade() Grade {
	obj := "sample-objective"
	for _, k := range sortedKeys(c.Targets) {
		if k != AllObjectives {
			obj = k
			break
		}
	}
	passed, completed, scaled := true, true, 0.92
	return Grade{Objective: obj, ObjectiveName: "Fire safety drill", Participant: "ada@example.com",
		Result: Result{Completed: &completed, Success: &passed, Scaled: &scaled}}
}

// previewSample is Type.Preview: the sample grade's requests.
func previewSample(ctx context.Context, env forward.PreviewEnv, c forward.Configuration, secrets map[string]string, at time.Time) (forward.Preview, error) {
	cfg, err := Parse(c.Properties, secrets)
	if err != nil {
		return forward.Preview{}, err
	}
	return cfg.previewOf(ctx, env, c, cfg.sampleGrade(), at), nil
}

// previewItem is Type.PreviewItem: a stored result's requests.
func previewItem(ctx context.Context, env forward.PreviewEnv, c forward.Configuration, secrets map[string]string, it forward.Item, at time.Time) (forward.Preview, error) {
	cfg, err := Parse(c.Properties, secrets)
	if err != nil {
		return forward.Preview{}, err
	}
	g, ok := GradeOfItem(it)
	if !ok {
		return forward.Preview{Notes: []string{"not sendable: the item carries no result"}}, nil
	}
	return cfg.previewOf(ctx, env, c, g, at), nil
}
