package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
)

// The LMS configurations of an organization in the console: the list with
// each one's live status, the two steps of creating one (name and contact
// email, then the type's properties, rendered from the registry), a
// configuration's page (status, counts, test connection, retry parked
// now, its charts and delivery log, live), its edit and delete.

func (s *server) routesConsoleConfigurations(g *gin.RouterGroup) {
	o := "/orgs/:org/configurations"
	a := "/orgs/:org/configurations"
	s.cpage(g, "GET", o, "GET "+a, "", s.consoleConfigurations)
	s.cpage(g, "GET", o+"/live", "GET "+a, "", s.consoleConfigurationsLive)
	s.cpage(g, "GET", o+"/new", "POST "+a, "", s.consoleNewConfiguration)
	s.cpage(g, "POST", o+"/new", "POST "+a, "", s.consoleNewConfigurationStep)
	s.cpage(g, "POST", o, "POST "+a, "configuration.create", s.consoleCreateConfiguration)
	s.cpage(g, "POST", o+"/preview", "POST "+a, "", s.consolePreview)
	s.cpage(g, "GET", o+"/:id", "GET "+a+"/:id", "", s.consoleConfiguration)
	s.cpage(g, "GET", o+"/:id/live", "GET "+a+"/:id/status", "", s.consoleConfigurationLive)
	s.cpage(g, "GET", o+"/:id/edit", "PUT "+a+"/:id", "", s.consoleEditConfiguration)
	s.cpage(g, "POST", o+"/:id/edit", "PUT "+a+"/:id", "configuration.update", s.consoleUpdateConfiguration)
	s.cpage(g, "POST", o+"/:id/preview", "PUT "+a+"/:id", "", s.consolePreview)
	s.cpage(g, "GET", o+"/:id/request", "POST "+a+"/:id/preview", "", s.consoleRequestPreview) // console_request.go
	s.cpage(g, "POST", o+"/:id/test", "POST "+a+"/:id/test", "configuration.test", s.consoleTestConfiguration)
	s.cpage(g, "POST", o+"/:id/redrive", "POST "+a+"/:id/redrive", "configuration.redrive", s.consoleRedrive)
	s.cpage(g, "POST", o+"/:id/delete", "DELETE "+a+"/:id", "configuration.delete", s.consoleDeleteConfiguration)
}

// consoleForward returns the forwarding administration, or renders why
// there is none.
func (s *server) consoleForward(c *gin.Context, v *view) (*forward.Admin, bool) {
	if s.admin.opts.Forward == nil {
		s.consoleRefuse(c, v, http.StatusServiceUnavailable, "Forwarding is disabled on this server: its store does not keep forwarding objects, or LRS_FORWARD_KEY is not set.")
		return nil, false
	}
	return s.admin.opts.Forward, true
}

// statusView is a configuration's status as the console shows it.
type statusView struct {
	ID                                  string
	Status, Class                       string
	LastError                           string
	LastStatus                          int
	FirstFailure, LastSuccess, Updated  time.Time
	Queued, Delivered, Parked, Rejected int
	Skipped                             int
	OldestAge                           string // of the oldest queued delivery, "" when none
}

var statusClass = map[string]string{
	forward.StatusOK: "ok", forward.StatusCantConnect: "down", forward.StatusServerError: "error", forward.StatusNotAttempted: "none",
}

func (s *server) statusOf(c *gin.Context, fa *forward.Admin, org, id string) (statusView, error) {
	st, n, err := fa.Status(c.Request.Context(), org, id)
	if err != nil {
		return statusView{}, err
	}
	v := statusView{ID: id, Status: st.Status, Class: statusClass[st.Status], LastError: st.LastError, LastStatus: st.LastStatus,
		FirstFailure: st.FirstFailure, LastSuccess: st.LastSuccess, Updated: st.UpdatedAt,
		Queued: n.Pending, Delivered: n.Delivered, Parked: n.Parked, Rejected: n.Rejected, Skipped: n.Skipped}
	if v.Class == "" {
		v.Class = "none"
	}
	if !n.OldestPending.IsZero() {
		v.OldestAge = age(s.admin.opts.Now().Sub(n.OldestPending))
	}
	return v, nil
}

// age is a duration in words, to the unit that matters.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// cfgRow is a configuration in a list.
type cfgRow struct {
	C      forward.Configuration
	Type   string
	Target string
	Status statusView
}

func (s *server) configurationRows(c *gin.Context, fa *forward.Admin, org string) ([]cfgRow, error) {
	cfgs, err := fa.ListConfigurations(c.Request.Context(), org)
	if err != nil {
		return nil, err
	}
	rows := make([]cfgRow, len(cfgs))
	for i, cf := range cfgs {
		rows[i] = cfgRow{C: cf, Type: cf.Type}
		if t, ok := fa.Types().Lookup(cf.Type); ok {
			rows[i].Type, rows[i].Target = t.LabelOrName(), cf.Properties[t.Target]
		}
		if rows[i].Status, err = s.statusOf(c, fa, org, cf.ID); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

func (s *server) consoleConfigurations(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	rows, err := s.configurationRows(c, fa, v.Org.ID)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	v.Title, v.Section, v.Data = "LMS configurations", "configurations", rows
	s.render(c, http.StatusOK, "configurations", v)
}

// consoleConfigurationsLive is the live part of the list (and of the
// organization's overview): every configuration's status and counts.
func (s *server) consoleConfigurationsLive(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	rows, err := s.configurationRows(c, fa, v.Org.ID)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	s.renderPart(c, http.StatusOK, "configurations-live", rows)
}

// ---- creating: step 1 (name, contact email, type) and step 2 (the type's fields) ----

type typeChoice struct {
	Name, Label, Description string
}

type cfgStep1 struct {
	Fields []*field
	Types  []typeChoice
}

func (s *server) step1(fa *forward.Admin, name, email, typ string) *cfgStep1 {
	d := &cfgStep1{}
	n, e := nameEmailFields(name, email)
	t := newField("type", "Type", "radio")
	t.Value, t.Required = typ, true
	for _, ty := range fa.Types().Types() {
		t.Options = append(t.Options, option{Value: ty.Name, Label: ty.LabelOrName(), Help: sentence(ty.Description)})
	}
	if t.Value == "" && len(t.Options) > 0 {
		t.Value = t.Options[0].Value
	}
	d.Fields = []*field{n, e, t}
	return d
}

// nameEmailFields are a configuration's name and contact email.
func nameEmailFields(name, email string) (*field, *field) {
	n := newField("name", "Name", "text")
	n.Value, n.Required, n.Help = name, true, "How this destination is called in the console and in alert mail."
	e := newField("contact_email", "Contact email", "email")
	e.Value, e.Required, e.Autocomplete = email, true, "email"
	e.Help = "Who is mailed when the destination stops answering, and when it recovers."
	return n, e
}

func (s *server) consoleNewConfiguration(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	v.Title, v.Section, v.Data = "New LMS configuration: step 1 of 2", "configurations", s.step1(fa, "", "", "")
	s.render(c, http.StatusOK, "configuration-new", v)
}

// consoleNewConfigurationStep checks step 1 as the service would and
// shows step 2 (or step 1 again, with its problems, or as it was when
// the administrator goes back).
func (s *server) consoleNewConfigurationStep(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	in := forward.ConfigurationInput{Name: strings.TrimSpace(c.PostForm("name")), ContactEmail: strings.TrimSpace(c.PostForm("contact_email")), Type: c.PostForm("type")}
	step := s.step1(fa, in.Name, in.ContactEmail, in.Type)
	v.Title, v.Section, v.Data = "New LMS configuration: step 1 of 2", "configurations", step
	if c.PostForm("back") != "" {
		s.render(c, http.StatusOK, "configuration-new", v)
		return
	}
	var mine []string // the problems of step 1's fields
	for _, p := range fa.CheckConfiguration(c.Request.Context(), in, nil, nil) {
		if path, _ := splitProblem(p); path == "name" || path == "contact_email" || path == "type" {
			mine = append(mine, p)
		}
	}
	if len(mine) > 0 {
		v.Problems = attachProblems(step.Fields, mine)
		s.render(c, http.StatusBadRequest, "configuration-new", v)
		return
	}
	t, _ := fa.Types().Lookup(in.Type)
	s.renderConfigurationForm(c, v, http.StatusOK, fa, nil, t, in, nil, nil)
}

// cfgForm is step 2 of a new configuration, or the edit of one.
type cfgForm struct {
	Edit     *forward.Configuration // nil: new
	Type     forward.Type
	Action   string // the form's action
	Preview  string // the preview's URL ("" for a type without one)
	Head     []*field
	Groups   []fieldGroup
	Name     string
	Email    string
	Rendered *previewView // the preview, when asked without script
	// Objectives are the organization's, for a type with a mapping keyed
	// by objective id (a JSON property: Clever's sections, a webhook's
	// objective values).
	Objectives []forward.Objective
}

func (s *server) renderConfigurationForm(c *gin.Context, v *view, status int, fa *forward.Admin, edit *forward.Configuration, t forward.Type,
	in forward.ConfigurationInput, problems []string, pv *previewView) {
	base := consolePath + "/orgs/" + v.Org.ID + "/configurations"
	d := &cfgForm{Edit: edit, Type: t, Action: base, Name: in.Name, Email: in.ContactEmail, Rendered: pv}
	if edit != nil {
		d.Action = base + "/" + edit.ID + "/edit"
		n, e := nameEmailFields(in.Name, in.ContactEmail)
		d.Head = []*field{n, e}
	} else {
		d.Head = []*field{{Name: "name", Input: "hidden", Value: in.Name}, {Name: "contact_email", Input: "hidden", Value: in.ContactEmail}, {Name: "type", Input: "hidden", Value: t.Name}}
	}
	idf := newField("identifier", "Learner identifier", "select")
	idf.Value = in.Identifier
	if idf.Value == "" {
		idf.Value = forward.IdentifierMbox
	}
	idf.Options = []option{{Value: forward.IdentifierMbox, Label: "the learner's email (mbox)"}, {Value: forward.IdentifierAccount, Label: "the learner's account (account)"}}
	idf.Help = "What identifies a learner to the destination. Learners without one are skipped, with the reason."
	d.Head = append(d.Head, idf)
	d.Groups = typeForm(t, in.Properties, edit != nil && len(edit.SealedSecret) > 0)
	if slices.ContainsFunc(t.Properties, func(f forward.Field) bool { return f.Kind == forward.KindJSON }) {
		objs, err := fa.ListObjectives(c.Request.Context(), v.Org.ID)
		if err != nil {
			s.consoleFail(c, v, err)
			return
		}
		d.Objectives = objs
	}
	if t.Preview != nil {
		d.Preview = base + "/preview"
		if edit != nil {
			d.Preview = base + "/" + edit.ID + "/preview"
		}
	}
	v.Section = "configurations"
	if edit != nil {
		v.Title = "Edit " + edit.Name
	} else {
		v.Title = "New LMS configuration: step 2 of 2"
	}
	v.Problems = attachProblems(slices.Concat(d.Head, groupFields(d.Groups)), problems)
	v.Data = d
	s.render(c, status, "configuration-form", v)
}

// configurationInput reads step 2's or the edit's form.
func configurationInput(c *gin.Context, t forward.Type) forward.ConfigurationInput {
	in := forward.ConfigurationInput{Name: strings.TrimSpace(c.PostForm("name")), ContactEmail: strings.TrimSpace(c.PostForm("contact_email")),
		Type: t.Name, Identifier: c.PostForm("identifier")}
	in.Properties, in.Secrets = typeValues(c, t)
	return in
}

// problemsOf returns the problems of an invalid input (nil for another
// error).
func problemsOf(err error) []string {
	var ae *forward.AdminError
	if errors.As(err, &ae) && errors.Is(err, forward.ErrInvalid) {
		if len(ae.Problems) > 0 {
			return ae.Problems
		}
		return []string{ae.Message}
	}
	return nil
}

func (s *server) consoleCreateConfiguration(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	t, known := fa.Types().Lookup(c.PostForm("type"))
	if !known {
		s.consoleNewConfigurationStep(c, v) // step 1 says what is wrong
		return
	}
	in := configurationInput(c, t)
	cf, err := fa.CreateConfiguration(c.Request.Context(), v.Org.ID, in)
	if ps := problemsOf(err); ps != nil {
		s.renderConfigurationForm(c, v, http.StatusBadRequest, fa, nil, t, in, ps, nil)
		return
	}
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	setTarget(c, v.Org.ID+"/"+cf.ID)
	redirectDone(c, "/orgs/"+v.Org.ID+"/configurations/"+cf.ID, "created")
}

// ---- a configuration ----

type cfgPage struct {
	C          forward.Configuration
	Type       forward.Type
	Known      bool
	Target     string
	Props      []option // Label: the field, Value: its value
	Status     statusView
	Attempts   []attemptView
	Parked     []forward.Delivery
	Rejected   []forward.Delivery
	Skipped    []forward.Delivery
	Objectives []forward.Objective
	Day        chart
	Month      chart
	Backfills  backfillsPart
	Test       *testView
	Live       string // the URL of the live part
	CanWrite   bool
	// RequestPreview is the URL of its "Preview request" page ("": its
	// type has none).
	RequestPreview string
}

type attemptView struct {
	At         time.Time
	Outcome    string
	Class      string
	Status     int
	Statements int
	First      string // the first statement's id
	Duration   string
	Response   string
}

func attemptViews(as []forward.Attempt) []attemptView {
	out := make([]attemptView, len(as))
	for i, a := range as {
		label, class := attemptOutcome(a.Outcome)
		out[i] = attemptView{At: a.At, Outcome: label, Class: class, Status: a.Status,
			Statements: len(a.StatementIDs), Duration: a.Duration.Round(time.Millisecond).String(), Response: a.Response}
		if len(a.StatementIDs) > 0 {
			out[i].First = a.StatementIDs[0]
		}
	}
	return out
}

// attemptOutcome names an attempt's outcome in the delivery log: the
// status it gives the configuration, except for the outcomes that leave
// the status as it is (sinks.md §0.2): the destination refused the items
// themselves (Rejected), or answered they are not for it (Skipped, with
// the reason in the answer).
func attemptOutcome(outcome string) (label, class string) {
	switch outcome {
	case forward.OutcomeItem:
		return "Rejected", "error"
	case forward.OutcomeSkipped:
		return "Skipped", "none"
	}
	st := forward.StatusOf(outcome)
	return st, statusClass[st]
}

// liveParts are what the live part of a configuration's page renders.
type liveParts struct {
	Status     statusView
	Attempts   []attemptView
	Day, Month chart
	Backfills  backfillsPart // console_backfill.go
}

func (s *server) configurationLive(c *gin.Context, fa *forward.Admin, org, id string) (liveParts, error) {
	var p liveParts
	var err error
	if p.Status, err = s.statusOf(c, fa, org, id); err != nil {
		return p, err
	}
	as, err := fa.Attempts(c.Request.Context(), org, id, 20)
	if err != nil {
		return p, err
	}
	p.Attempts = attemptViews(as)
	// One read of the month's hours (the counters of the hours that had
	// attempts) draws both charts.
	now := s.admin.opts.Now()
	hours, err := fa.Activity(c.Request.Context(), org, id, now.Add(-30*24*time.Hour).Add(time.Hour), now)
	if err != nil {
		return p, err
	}
	p.Day = hourChart("chart-day", "Deliveries and failures, last 24 hours", hours[max(len(hours)-24, 0):])
	p.Month = dayChart("chart-month", "Deliveries and failures, last 30 days", hours)
	objs, err := fa.ListObjectives(c.Request.Context(), org)
	if err != nil {
		return p, err
	}
	p.Backfills, err = configurationBackfills(c, fa, org, id, objs)
	return p, err
}

func (s *server) consoleConfiguration(c *gin.Context, v *view) {
	s.showConfiguration(c, v, http.StatusOK, nil)
}

func (s *server) showConfiguration(c *gin.Context, v *view, status int, test *testView) {
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
	d := &cfgPage{C: cf, Test: test, CanWrite: fa.CanWrite(), Live: consolePath + "/orgs/" + org + "/configurations/" + id + "/live"}
	d.Type, d.Known = fa.Types().Lookup(cf.Type)
	if !d.Known {
		d.Type = forward.Type{Name: cf.Type}
	}
	d.Target = cf.Properties[d.Type.Target]
	if d.Known && hasRequestPreview(d.Type) && d.CanWrite {
		d.RequestPreview = requestPreviewURL(org, id, "", "", "")
	}
	for _, f := range slices.Concat(d.Type.Properties, d.Type.Secrets) {
		if val, ok := cf.Properties[f.Name]; ok && f.Name != d.Type.Target {
			d.Props = append(d.Props, option{Label: f.LabelOrName(), Value: val})
		}
	}
	if !d.Known {
		for _, k := range slices.Sorted(maps.Keys(cf.Properties)) {
			d.Props = append(d.Props, option{Label: k, Value: cf.Properties[k]})
		}
	}
	live, err := s.configurationLive(c, fa, org, id)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	d.Status, d.Attempts, d.Day, d.Month, d.Backfills = live.Status, live.Attempts, live.Day, live.Month, live.Backfills
	if d.Parked, err = fa.Deliveries(ctx, org, id, forward.StateParked, 20); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	if d.Rejected, err = fa.Deliveries(ctx, org, id, forward.StateRejected, 20); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	if d.Skipped, err = fa.Deliveries(ctx, org, id, forward.StateSkipped, 20); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	objs, err := fa.ListObjectives(ctx, org)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	for _, o := range objs {
		if slices.Contains(o.Configurations, id) {
			d.Objectives = append(d.Objectives, o)
		}
	}
	v.Title, v.Section, v.Data = cf.Name, "configurations", d
	s.render(c, status, "configuration", v)
}

func (s *server) consoleConfigurationLive(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	live, err := s.configurationLive(c, fa, v.Org.ID, c.Param("id"))
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	s.renderPart(c, http.StatusOK, "configuration-live", live)
}

// editable returns the configuration of the page and its type, or renders
// why it cannot be edited.
func (s *server) editable(c *gin.Context, v *view) (*forward.Admin, forward.Configuration, forward.Type, bool) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return nil, forward.Configuration{}, forward.Type{}, false
	}
	cf, err := fa.Configuration(c.Request.Context(), v.Org.ID, c.Param("id"))
	if err != nil {
		s.consoleFail(c, v, err)
		return nil, forward.Configuration{}, forward.Type{}, false
	}
	t, known := fa.Types().Lookup(cf.Type)
	if !known {
		s.consoleRefuse(c, v, http.StatusConflict, fmt.Sprintf("This server cannot send to configurations of type %q: it cannot edit them either.", cf.Type))
		return nil, forward.Configuration{}, forward.Type{}, false
	}
	return fa, cf, t, true
}

func (s *server) consoleEditConfiguration(c *gin.Context, v *view) {
	fa, cf, t, ok := s.editable(c, v)
	if !ok {
		return
	}
	in := forward.ConfigurationInput{Name: cf.Name, ContactEmail: cf.ContactEmail, Type: cf.Type, Identifier: cf.Identifier, Properties: cf.Properties}
	s.renderConfigurationForm(c, v, http.StatusOK, fa, &cf, t, in, nil, nil)
}

func (s *server) consoleUpdateConfiguration(c *gin.Context, v *view) {
	fa, cf, t, ok := s.editable(c, v)
	if !ok {
		return
	}
	in := configurationInput(c, t)
	_, err := fa.UpdateConfiguration(c.Request.Context(), v.Org.ID, cf.ID, in)
	if ps := problemsOf(err); ps != nil {
		s.renderConfigurationForm(c, v, http.StatusBadRequest, fa, &cf, t, in, ps, nil)
		return
	}
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	redirectDone(c, "/orgs/"+v.Org.ID+"/configurations/"+cf.ID, "saved")
}

// ---- the preview ----

type previewView struct {
	P        forward.Preview
	Headers  []option
	Problems []string
	// Requests: every request in order when a result takes several
	// (Clever's lookups, then its grade writes).
	Requests []previewRequestView
}

type previewRequestView struct {
	Purpose, Method, URL, Body string
	Headers                    []option
}

// sortedHeaders are the headers as the preview lists them, by name.
func sortedHeaders(h map[string][]string) []option {
	var out []option
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, val := range h[k] {
			out = append(out, option{Label: k, Value: val})
		}
	}
	return out
}

// previewViewOf is the preview p as the console shows it.
func previewViewOf(p forward.Preview, problems []string) *previewView {
	pv := &previewView{P: p, Problems: problems, Headers: sortedHeaders(p.Headers)}
	for _, r := range p.Requests {
		pv.Requests = append(pv.Requests, previewRequestView{Purpose: r.Purpose, Method: r.Method, URL: r.URL, Body: r.Body, Headers: sortedHeaders(r.Headers)})
	}
	return pv
}

// consolePreview renders what the form's configuration would send: the
// fragment for console.js, or the form again with it.
func (s *server) consolePreview(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	ctx, org, id := c.Request.Context(), v.Org.ID, c.Param("id")
	var edit *forward.Configuration
	typ := c.PostForm("type")
	if id != "" {
		cf, err := fa.Configuration(ctx, org, id)
		if err != nil {
			s.consoleFail(c, v, err)
			return
		}
		edit, typ = &cf, cf.Type
	}
	t, known := fa.Types().Lookup(typ)
	if !known {
		s.consoleRefuse(c, v, http.StatusBadRequest, "Choose a type first.")
		return
	}
	in := configurationInput(c, t)
	p, err := fa.Preview(ctx, org, id, in)
	pv := previewViewOf(p, problemsOf(err))
	if err != nil && pv.Problems == nil {
		s.consoleFail(c, v, err)
		return
	}
	if fragment(c) {
		s.renderPart(c, http.StatusOK, "preview", pv)
		return
	}
	s.renderConfigurationForm(c, v, http.StatusOK, fa, edit, t, in, nil, pv)
}

// ---- actions ----

type testView struct {
	Name       string // what the test is called
	OK         bool
	Status     string
	Class      string
	HTTPStatus int
	Message    string
}

func (s *server) consoleTestConfiguration(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	ctx, org, id := c.Request.Context(), v.Org.ID, c.Param("id")
	r, err := fa.TestConfiguration(ctx, org, id)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	cf, _ := fa.Configuration(ctx, org, id)
	t, _ := fa.Types().Lookup(cf.Type)
	tv := &testView{Name: t.TestName(), OK: r.Outcome == forward.OutcomeSuccess, Status: forward.StatusOf(r.Outcome), HTTPStatus: r.Status, Message: r.Message}
	tv.Class = statusClass[tv.Status]
	if fragment(c) {
		s.renderPart(c, http.StatusOK, "test-result", tv)
		return
	}
	s.showConfiguration(c, v, http.StatusOK, tv)
}

func (s *server) consoleRedrive(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	org, id := v.Org.ID, c.Param("id")
	n, err := fa.Redrive(c.Request.Context(), org, id, nil)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	done := "redriven"
	if n == 0 {
		done = "nothing-parked"
	}
	if fragment(c) {
		s.renderPart(c, http.StatusOK, "redrive-result", struct {
			N       int
			Message string
		}{n, consoleDone[done]})
		return
	}
	redirectDone(c, "/orgs/"+org+"/configurations/"+id, done)
}

func (s *server) consoleDeleteConfiguration(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	if err := fa.DeleteConfiguration(c.Request.Context(), v.Org.ID, c.Param("id")); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	redirectDone(c, "/orgs/"+v.Org.ID+"/configurations", "deleted")
}
