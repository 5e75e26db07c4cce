package api

import (
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
)

// The objectives of an organization in the console: the list and the form
// of a new one, an objective's page with its attached configurations (each
// with its live status), the drop-down that attaches another, and the
// sections later steps add (objectiveSections).

func (s *server) routesConsoleObjectives(g *gin.RouterGroup) {
	o := "/orgs/:org/objectives"
	s.cpage(g, "GET", o, "GET "+o, "", s.consoleObjectives)
	s.cpage(g, "POST", o, "POST "+o, "objective.create", s.consoleCreateObjective)
	s.cpage(g, "GET", o+"/:id", "GET "+o+"/:id", "", s.consoleObjective)
	s.cpage(g, "POST", o+"/:id", "PUT "+o+"/:id", "objective.update", s.consoleUpdateObjective)
	s.cpage(g, "POST", o+"/:id/attach", "PUT "+o+"/:id", "objective.update", s.consoleAttach(true))
	s.cpage(g, "GET", o+"/:id/backfills", "GET "+o+"/:id", "", s.consoleObjectiveBackfills) // console_backfill.go
	s.cpage(g, "POST", o+"/:id/backfills/:configuration/restart", "POST "+o+"/:id/backfills/:configuration/restart", "backfill.restart", s.consoleRestartBackfill)
	s.cpage(g, "POST", o+"/:id/detach", "PUT "+o+"/:id", "objective.update", s.consoleAttach(false))
	s.cpage(g, "POST", o+"/:id/delete", "DELETE "+o+"/:id", "objective.delete", s.consoleDeleteObjective)
}

// consoleSection is a part of a page that a later step adds (an
// objective's backfill progress, its results): the template of
// console/*.html that renders it, with what Data returns.
type consoleSection struct {
	Template string
	Data     func(c *gin.Context, org, id string) (any, error)
}

// objectiveSections are shown on an objective's page below its
// configurations (backfill and results add theirs here).
func (s *server) objectiveSections() []consoleSection {
	return []consoleSection{s.backfillsSection(), s.resultsSection()} // console_backfill.go, console_results.go
}

type objectiveRow struct {
	O       forward.Objective
	Configs []cfgRow // attached, in the objective's order
}

type objectivesPage struct {
	Rows   []objectiveRow
	Fields []*field
	// Attach and Backfill: the new objective's first configuration
	// (optional) and its "also send what is already stored".
	Attach, Backfill *field
}

// objectiveFields is the form of an objective's own fields.
func objectiveFields(in forward.ObjectiveInput) []*field {
	n := newField("name", "Name", "text")
	n.Value, n.Required = in.Name, true
	a := newField("activity_id", "Activity IRI", "text")
	a.Value, a.Required, a.Example = in.ActivityID, true, "https://courses.example.com/fire-safety"
	a.Help = "The activity whose statements give this objective its results (the statement's object, or a parent or grouping activity of its context)."
	vb := newField("verbs", "Verbs", "textarea")
	vb.Value = strings.Join(in.Verbs, "\n")
	vb.Help = "The verb IRIs that count as a result, one per line; none: every verb counts."
	vb.Example = "http://adlnet.gov/expapi/verbs/passed"
	return []*field{n, a, vb}
}

func objectiveInput(c *gin.Context) forward.ObjectiveInput {
	in := forward.ObjectiveInput{Name: strings.TrimSpace(c.PostForm("name")), ActivityID: strings.TrimSpace(c.PostForm("activity_id"))}
	for _, l := range strings.Split(c.PostForm("verbs"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			in.Verbs = append(in.Verbs, l)
		}
	}
	return in
}

func (s *server) objectiveRows(c *gin.Context, fa *forward.Admin, org string) ([]objectiveRow, []cfgRow, error) {
	cfgs, err := s.configurationRows(c, fa, org)
	if err != nil {
		return nil, nil, err
	}
	objs, err := fa.ListObjectives(c.Request.Context(), org)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]objectiveRow, len(objs))
	for i, o := range objs {
		rows[i].O = o
		for _, id := range o.Configurations {
			if j := slices.IndexFunc(cfgs, func(r cfgRow) bool { return r.C.ID == id }); j >= 0 {
				rows[i].Configs = append(rows[i].Configs, cfgs[j])
			}
		}
	}
	return rows, cfgs, nil
}

func (s *server) consoleObjectives(c *gin.Context, v *view) {
	s.showObjectives(c, v, http.StatusOK, forward.ObjectiveInput{}, nil)
}

// createAttachField is the new objective's drop-down of a configuration
// to send to, none by default.
func createAttachField(cfgs []cfgRow, selected []string) *field {
	f := newField("configuration", "Sends to", "select")
	f.Help = "Optional: an LMS configuration this objective's results go to (attach more on its page)."
	f.Options = []option{{Value: "", Label: "None for now"}}
	for _, r := range cfgs {
		f.Options = append(f.Options, option{Value: r.C.ID, Label: r.C.Name + " (" + r.Type + ")"})
	}
	if len(selected) > 0 {
		f.Value = selected[0]
	}
	return f
}

func (s *server) showObjectives(c *gin.Context, v *view, status int, in forward.ObjectiveInput, problems []string) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	rows, cfgs, err := s.objectiveRows(c, fa, v.Org.ID)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	d := &objectivesPage{Rows: rows, Fields: objectiveFields(in), Attach: createAttachField(cfgs, in.Configurations),
		Backfill: backfillField(in.Backfill)}
	v.Title, v.Section, v.Data = "Objectives", "objectives", d
	for i, p := range problems { // the one configuration the form names
		if path, msg := splitProblem(p); strings.HasPrefix(path, "configurations[") {
			problems[i] = "configuration: " + msg
		}
	}
	v.Problems = attachProblems(append(slices.Clone(d.Fields), d.Attach, d.Backfill), problems)
	s.render(c, status, "objectives", v)
}

func (s *server) consoleCreateObjective(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	in := objectiveInput(c)
	if cfg := c.PostForm("configuration"); cfg != "" {
		in.Configurations = []string{cfg}
		in.Backfill = c.PostForm("backfill") == "true"
	}
	o, jobs, err := fa.CreateObjectiveBackfill(c.Request.Context(), v.Org.ID, in)
	if ps := problemsOf(err); ps != nil {
		s.showObjectives(c, v, http.StatusBadRequest, in, ps)
		return
	}
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	setTarget(c, v.Org.ID+"/"+o.ID)
	done := "created"
	if len(jobs) > 0 {
		done = "created-backfill"
	}
	redirectDone(c, "/orgs/"+v.Org.ID+"/objectives/"+o.ID, done)
}

type objectivePage struct {
	Row      objectiveRow
	Fields   []*field
	Attach   *field // the drop-down of the configurations not attached
	Backfill *field // its "also send what is already stored"
	Live     string
	Sections []template.HTML
}

func (s *server) consoleObjective(c *gin.Context, v *view) {
	s.showObjective(c, v, http.StatusOK, nil, nil)
}

func (s *server) showObjective(c *gin.Context, v *view, status int, in *forward.ObjectiveInput, problems []string) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	ctx, org, id := c.Request.Context(), v.Org.ID, c.Param("id")
	o, err := fa.Objective(ctx, org, id)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	rows, cfgs, err := s.objectiveRows(c, fa, org)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	d := &objectivePage{Live: consolePath + "/orgs/" + org + "/configurations/live"}
	for _, r := range rows {
		if r.O.ID == id {
			d.Row = r
		}
	}
	if in == nil {
		in = &forward.ObjectiveInput{Name: o.Name, ActivityID: o.ActivityID, Verbs: o.Verbs}
	}
	d.Fields = objectiveFields(*in)
	d.Attach = newField("configuration", "Configuration", "select")
	d.Backfill = backfillField(c.PostForm("backfill") == "true")
	for _, r := range cfgs {
		if !slices.Contains(o.Configurations, r.C.ID) {
			d.Attach.Options = append(d.Attach.Options, option{Value: r.C.ID, Label: r.C.Name + " (" + r.Type + ")"})
		}
	}
	for _, sec := range s.objectiveSections() {
		data, err := sec.Data(c, org, id)
		if err != nil {
			s.consoleFail(c, v, err)
			return
		}
		h, err := section(sec.Template, data)
		if err != nil {
			s.consoleFail(c, v, err)
			return
		}
		d.Sections = append(d.Sections, h)
	}
	v.Title, v.Section, v.Data = o.Name, "objectives", d
	v.Problems = attachProblems(append(slices.Clone(d.Fields), d.Attach, d.Backfill), problems)
	s.render(c, status, "objective", v)
}

func (s *server) consoleUpdateObjective(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	ctx, org, id := c.Request.Context(), v.Org.ID, c.Param("id")
	o, err := fa.Objective(ctx, org, id)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	in := objectiveInput(c)
	in.Configurations = o.Configurations
	_, err = fa.UpdateObjective(ctx, org, id, in)
	if ps := problemsOf(err); ps != nil {
		s.showObjective(c, v, http.StatusBadRequest, &in, ps)
		return
	}
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	redirectDone(c, "/orgs/"+org+"/objectives/"+id, "saved")
}

// consoleAttach attaches the form's configuration to the objective, or
// detaches it.
func (s *server) consoleAttach(attach bool) consoleHandler {
	return func(c *gin.Context, v *view) {
		fa, ok := s.consoleForward(c, v)
		if !ok {
			return
		}
		ctx, org, id := c.Request.Context(), v.Org.ID, c.Param("id")
		o, err := fa.Objective(ctx, org, id)
		if err != nil {
			s.consoleFail(c, v, err)
			return
		}
		cfg := c.PostForm("configuration")
		in := forward.ObjectiveInput{Name: o.Name, ActivityID: o.ActivityID, Verbs: o.Verbs, Configurations: slices.Clone(o.Configurations),
			Backfill: attach && c.PostForm("backfill") == "true"}
		i := slices.Index(in.Configurations, cfg)
		done := "attached"
		switch {
		case attach && i >= 0:
			redirectDone(c, "/orgs/"+org+"/objectives/"+id, "already-there")
			return
		case attach:
			in.Configurations = append(in.Configurations, cfg)
		case i < 0:
			redirectDone(c, "/orgs/"+org+"/objectives/"+id, "nothing-changed")
			return
		default:
			in.Configurations, done = slices.Delete(in.Configurations, i, i+1), "detached"
		}
		_, jobs, err := fa.UpdateObjectiveBackfill(ctx, org, id, in)
		if len(jobs) > 0 {
			done = "attached-backfill"
		}
		if ps := problemsOf(err); ps != nil {
			for i, p := range ps { // the one configuration the form names
				if path, msg := splitProblem(p); strings.HasPrefix(path, "configurations[") {
					ps[i] = "configuration: " + msg
				}
			}
			s.showObjective(c, v, http.StatusBadRequest, nil, ps)
			return
		}
		if err != nil {
			s.consoleFail(c, v, err)
			return
		}
		redirectDone(c, "/orgs/"+org+"/objectives/"+id, done)
	}
}

func (s *server) consoleDeleteObjective(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	if err := fa.DeleteObjective(c.Request.Context(), v.Org.ID, c.Param("id")); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	redirectDone(c, "/orgs/"+v.Org.ID+"/objectives", "deleted")
}
