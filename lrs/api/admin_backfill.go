package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
)

// Backfills on attach in the admin API: an objective's create or replace
// with "backfill": true starts one job per configuration it attaches
// (forward.Admin), answered with the objective; a configuration's status
// lists its jobs with their progress.

// backfillJSON is a backfill job as the admin API shows it.
type backfillJSON struct {
	ObjectiveID string    `json:"objective_id"`
	Kind        string    `json:"kind"`  // statements or results
	State       string    `json:"state"` // running, done or failed
	Counted     bool      `json:"counted"`
	Done        int       `json:"done"`
	Total       int       `json:"total"`
	Error       string    `json:"error,omitempty"`
	Until       time.Time `json:"until,omitzero"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func backfillsOut(jobs []forward.BackfillJob) []backfillJSON {
	out := make([]backfillJSON, len(jobs))
	for i, j := range jobs {
		out[i] = backfillJSON{ObjectiveID: j.ObjectiveID, Kind: j.Kind, State: j.State, Counted: j.Counted,
			Done: j.Done, Total: j.Total, Error: j.Error, StartedAt: j.StartedAt.UTC(), FinishedAt: j.FinishedAt.UTC(),
			UpdatedAt: j.UpdatedAt.UTC()}
		if j.Kind == forward.BackfillStatements {
			out[i].Until = j.Until.UTC()
		}
	}
	return out
}

// objectiveBackfillsJSON is an objective with the backfills its write
// started (one per configuration it attached, with "backfill": true).
type objectiveBackfillsJSON struct {
	objectiveJSON
	Backfills []startedBackfillJSON `json:"backfills"`
}

type startedBackfillJSON struct {
	ConfigurationID string `json:"configuration_id"`
	backfillJSON
}

func objectiveWithBackfills(o forward.Objective, jobs []forward.BackfillJob) objectiveBackfillsJSON {
	out := objectiveBackfillsJSON{objectiveJSON: objectiveOut(o), Backfills: []startedBackfillJSON{}}
	for i, b := range backfillsOut(jobs) {
		out.Backfills = append(out.Backfills, startedBackfillJSON{ConfigurationID: jobs[i].ConfigurationID, backfillJSON: b})
	}
	return out
}

// restartBackfill starts the objective's failed backfill of the
// configuration again from the beginning (forward.Admin.RestartBackfill):
// 200 with the new run, 404 for an unknown configuration or job, 409 when
// it has not failed, its objective was deleted or the configuration is no
// longer attached.
func (s *server) restartBackfill(c *gin.Context) {
	j, err := s.fadmin().RestartBackfill(c.Request.Context(), c.Param("org"), c.Param("configuration"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, startedBackfillJSON{ConfigurationID: j.ConfigurationID, backfillJSON: backfillsOut([]forward.BackfillJob{j})[0]})
}
