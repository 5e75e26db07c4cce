package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
)

// Backfills in the console: the attach form's "also send what is already
// stored" (forward.ObjectiveInput.Backfill, as the admin API's
// "backfill": true), and the jobs it starts with their progress, on the
// objective's page (one per configuration) and on the configuration's
// page (one per objective), rendered on the server and kept live by
// console.js like the status badge (each row a data-swap element of the
// page's live fragment).

// backfillView is a backfill job as the console shows it.
type backfillView struct {
	ID                       string // the row's element id
	ConfigurationID, CfgName string
	ObjectiveID, ObjName     string
	Kind                     string // what it sends: "statements" or "results"
	State, Class             string
	Counted                  bool
	Done, Total, Percent     int
	Error                    string
	StartedAt, FinishedAt    time.Time
	UpdatedAt                time.Time
	// Restart is the action of the failed job's restart form ("": none),
	// CSRF its token.
	Restart, CSRF string
}

var backfillClass = map[string]string{forward.BackfillRunning: "none", forward.BackfillDone: "ok", forward.BackfillFailed: "error"}

func backfillViewOf(j forward.BackfillJob, cfgName, objName string) backfillView {
	b := backfillView{ID: "bf-" + j.ConfigurationID + "-" + j.ObjectiveID, ConfigurationID: j.ConfigurationID, CfgName: cfgName,
		ObjectiveID: j.ObjectiveID, ObjName: objName, Kind: j.Kind, State: j.State, Class: backfillClass[j.State],
		Counted: j.Counted, Done: j.Done, Total: j.Total, Error: j.Error, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, UpdatedAt: j.UpdatedAt}
	if b.Class == "" {
		b.Class = "none"
	}
	if b.Total > 0 {
		b.Percent = min(100*b.Done/b.Total, 100)
	}
	return b
}

// restartable gives the failed job b its restart form.
func (b *backfillView) restartable(c *gin.Context, org string) {
	if b.State == forward.BackfillFailed {
		b.Restart = consolePath + "/orgs/" + org + "/objectives/" + b.ObjectiveID + "/backfills/" + b.ConfigurationID + "/restart"
		b.CSRF = c.GetString(keyConsoleCSRF)
	}
}

// backfillsPart is the backfills of a page and the URL that keeps them
// live ("" when none is running: nothing to follow).
type backfillsPart struct {
	Jobs []backfillView
	Live string
	// Objective: the jobs of an objective (named by configuration), else
	// of a configuration (named by objective).
	Objective bool
}

func (p *backfillsPart) follow(url string) {
	for _, j := range p.Jobs {
		if j.State == forward.BackfillRunning {
			p.Live = url
		}
	}
}

// objectiveBackfills are the jobs of the objective (org, id), one per
// configuration of org that has one for it, in the configurations' order.
func objectiveBackfills(c *gin.Context, fa *forward.Admin, org, id string) (backfillsPart, error) {
	p := backfillsPart{Objective: true}
	cfgs, err := fa.ListConfigurations(c.Request.Context(), org)
	if err != nil {
		return p, err
	}
	for _, cf := range cfgs {
		jobs, err := fa.Backfills(c.Request.Context(), org, cf.ID)
		if err != nil {
			return p, err
		}
		for _, j := range jobs {
			if j.ObjectiveID == id {
				b := backfillViewOf(j, cf.Name, "")
				b.restartable(c, org)
				p.Jobs = append(p.Jobs, b)
			}
		}
	}
	p.follow(consolePath + "/orgs/" + org + "/objectives/" + id + "/backfills")
	return p, nil
}

// configurationBackfills are the jobs of the configuration (org, id), one
// per objective it was attached to with a backfill.
func configurationBackfills(c *gin.Context, fa *forward.Admin, org, id string, objs []forward.Objective) (backfillsPart, error) {
	var p backfillsPart
	jobs, err := fa.Backfills(c.Request.Context(), org, id)
	if err != nil {
		return p, err
	}
	names := map[string]string{}
	for _, o := range objs {
		names[o.ID] = o.Name
	}
	for _, j := range jobs {
		name, ok := names[j.ObjectiveID]
		if !ok {
			name = "(deleted objective " + j.ObjectiveID + ")"
		}
		b := backfillViewOf(j, "", name)
		if ok {
			b.restartable(c, org)
		}
		p.Jobs = append(p.Jobs, b)
	}
	return p, nil
}

// backfillsSection is the section of the objective's page with its
// backfills (nothing when it has none).
func (s *server) backfillsSection() consoleSection {
	return consoleSection{Template: "objective-backfills", Data: func(c *gin.Context, org, id string) (any, error) {
		return objectiveBackfills(c, s.admin.opts.Forward, org, id)
	}}
}

// consoleObjectiveBackfills is the live part of the objective's backfills.
func (s *server) consoleObjectiveBackfills(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	org, id := v.Org.ID, c.Param("id")
	if _, err := fa.Objective(c.Request.Context(), org, id); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	p, err := objectiveBackfills(c, fa, org, id)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	s.renderPart(c, http.StatusOK, "backfills-live", p)
}

// backfillField is the attach form's checkbox.
func backfillField(checked bool) *field {
	f := newField("backfill", "Also send what is already stored", "checkbox")
	f.Help = "Without it, the configuration gets only the results that come from now on. With it, it is also sent, once, " +
		"every result of this objective stored before (the statements of an LRS destination, the current results of a grade or writeback destination); " +
		"the progress shows below."
	if checked {
		f.Value = "true"
	}
	return f
}

// consoleRestartBackfill starts the objective's failed backfill of the
// form's configuration again from the beginning (the admin API's
// restart); a refusal (not failed, detached) is shown as the page's error.
func (s *server) consoleRestartBackfill(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	org, id := v.Org.ID, c.Param("id")
	if _, err := fa.RestartBackfill(c.Request.Context(), org, c.Param("configuration"), id); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	redirectDone(c, "/orgs/"+org+"/objectives/"+id, "restarted")
}
