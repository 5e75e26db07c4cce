package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// The forwarding objects of an organization in the admin API: LMS
// configurations (destinations, their status, delivery log and test
// connection), objectives, and the deliveries of a statement. The handlers
// only translate HTTP: the rules are forward.Admin's (validation through
// the registry of destination types, sealed write-only secrets, re-drive on
// edit), and the types are whatever that registry holds.

const forwardDisabled = "forwarding is disabled: set LRS_FORWARD_KEY"

// forwardRoutes adds the forwarding endpoints to the admin group.
func (s *server) forwardRoutes(g *gin.RouterGroup) {
	o := "/orgs/:org"
	g.GET(o+"/configurations", s.audited("configuration.list", s.fwd(s.listConfigurations)))
	g.POST(o+"/configurations", s.audited("configuration.create", s.fwdWrite(s.createConfiguration)))
	g.GET(o+"/configurations/:id", s.audited("configuration.get", s.fwd(s.getConfiguration)))
	g.PUT(o+"/configurations/:id", s.audited("configuration.update", s.fwdWrite(s.updateConfiguration)))
	g.DELETE(o+"/configurations/:id", s.audited("configuration.delete", s.fwd(s.deleteConfiguration)))
	g.GET(o+"/configurations/:id/status", s.audited("configuration.status", s.fwd(s.configurationStatus)))
	g.GET(o+"/configurations/:id/deliveries", s.audited("configuration.deliveries", s.fwd(s.configurationDeliveries)))
	g.GET(o+"/configurations/:id/attempts", s.audited("configuration.attempts", s.fwd(s.configurationAttempts)))
	g.POST(o+"/configurations/:id/test", s.audited("configuration.test", s.fwdWrite(s.testConfiguration)))
	g.POST(o+"/configurations/:id/redrive", s.audited("configuration.redrive", s.fwd(s.redriveConfiguration)))
	g.POST(o+"/configurations/preview", s.audited("configuration.preview", s.fwdWrite(s.previewConfiguration)))
	g.GET(o+"/configurations/:id/files", s.audited("configuration.files", s.fwd(s.configurationFiles)))
	g.GET(o+"/configurations/:id/files/:name", s.audited("configuration.file", s.fwd(s.configurationFile)))
	g.POST(o+"/configurations/:id/preview", s.audited("configuration.preview", s.fwdWrite(s.previewConfiguration)))
	g.GET(o+"/objectives", s.audited("objective.list", s.fwd(s.listObjectives)))
	g.POST(o+"/objectives", s.audited("objective.create", s.fwd(s.createObjective)))
	g.GET(o+"/objectives/:id", s.audited("objective.get", s.fwd(s.getObjective)))
	g.PUT(o+"/objectives/:id", s.audited("objective.update", s.fwd(s.updateObjective)))
	g.DELETE(o+"/objectives/:id", s.audited("objective.delete", s.fwd(s.deleteObjective)))
	g.POST(o+"/objectives/:id/backfills/:configuration/restart", s.audited("backfill.restart", s.fwd(s.restartBackfill))) // admin_backfill.go
	g.GET(o+"/statements/:id/deliveries", s.audited("statement.deliveries", s.fwd(s.statementDeliveries)))
	s.resultRoutes(g) // admin_results.go
}

// fadmin is the forwarding administration (set: fwd checked it).
func (s *server) fadmin() *forward.Admin { return s.admin.opts.Forward }

// fwd guards a forwarding handler: forwarding must be configured and the
// organization must exist (every read and write is scoped by the path's
// organization).
func (s *server) fwd(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if id := c.Param("id"); id != "" {
			setTarget(c, c.Param("org")+"/"+id)
		}
		if s.admin.opts.Forward == nil {
			s.failAdmin(c, lrs.Errorf(lrs.EUNAVAILABLE, "forwarding is disabled: this server's store does not keep forwarding objects, or LRS_FORWARD_KEY is not set"))
			return
		}
		if _, err := s.admin.opts.Store.GetOrg(c.Request.Context(), c.Param("org")); err != nil {
			s.failAdmin(c, err)
			return
		}
		h(c)
	}
}

// fwdWrite guards a handler that seals or opens destination secrets.
func (s *server) fwdWrite(h gin.HandlerFunc) gin.HandlerFunc {
	return s.fwd(func(c *gin.Context) {
		if !s.fadmin().CanWrite() {
			s.failAdmin(c, lrs.Errorf(lrs.EUNAVAILABLE, forwardDisabled))
			return
		}
		h(c)
	})
}

// failForward answers an error of the forwarding administration: its
// kind becomes the HTTP status, its message (written for the
// administrator, without secrets) the answer's.
func (s *server) failForward(c *gin.Context, err error) {
	var ae *forward.AdminError
	if errors.As(err, &ae) {
		switch {
		case errors.Is(err, forward.ErrNotFound):
			err = lrs.Errorf(lrs.ENOTFOUND, "%s", ae.Message)
		case errors.Is(err, forward.ErrInvalid):
			err = lrs.Errorf(lrs.EINVALID, "%s", ae.Message)
		case errors.Is(err, forward.ErrConflict):
			err = lrs.Errorf(lrs.ECONFLICT, "%s", ae.Message)
		case errors.Is(err, forward.ErrNoKey):
			err = lrs.Errorf(lrs.EUNAVAILABLE, forwardDisabled)
		}
	}
	s.failAdmin(c, err)
}

// ---- representations ----

type configurationJSON struct {
	ID           string            `json:"id"`
	Org          string            `json:"org"`
	Name         string            `json:"name"`
	ContactEmail string            `json:"contact_email"`
	Type         string            `json:"type"`
	Identifier   string            `json:"identifier"`
	Properties   map[string]string `json:"properties"`
	SecretsSet   bool              `json:"secrets_set"` // secrets are stored (never returned)
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Revision     int64             `json:"revision"`
}

func configurationOut(cf forward.Configuration) configurationJSON {
	props := cf.Properties
	if props == nil {
		props = map[string]string{}
	}
	return configurationJSON{
		ID: cf.ID, Org: cf.Org, Name: cf.Name, ContactEmail: cf.ContactEmail, Type: cf.Type,
		Identifier: cf.Identifier, Properties: props, SecretsSet: len(cf.SealedSecret) > 0,
		CreatedAt: cf.CreatedAt.UTC(), UpdatedAt: cf.UpdatedAt.UTC(), Revision: cf.Revision,
	}
}

// configurationRequest creates or replaces a configuration (forward.Admin
// checks it). On a replace, omitted secrets keep the stored ones.
type configurationRequest struct {
	Name         string            `json:"name"`
	ContactEmail string            `json:"contact_email"`
	Type         string            `json:"type"`
	Identifier   string            `json:"identifier"`
	Properties   map[string]string `json:"properties"`
	Secrets      map[string]string `json:"secrets"`
}

func (r configurationRequest) input() forward.ConfigurationInput {
	return forward.ConfigurationInput{Name: r.Name, ContactEmail: r.ContactEmail, Type: r.Type, Identifier: r.Identifier,
		Properties: r.Properties, Secrets: r.Secrets}
}

type objectiveJSON struct {
	ID             string   `json:"id"`
	Org            string   `json:"org"`
	Name           string   `json:"name"`
	ActivityID     string   `json:"activity_id"`
	Verbs          []string `json:"verbs"`
	Configurations []string `json:"configurations"`
	// LatestAttemptCounts: results follow the latest attempt (admin_results.go).
	LatestAttemptCounts bool      `json:"latest_attempt_counts"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func objectiveOut(o forward.Objective) objectiveJSON {
	return objectiveJSON{ID: o.ID, Org: o.Org, Name: o.Name, ActivityID: o.ActivityID, Verbs: nonNil(o.Verbs),
		Configurations: nonNil(o.Configurations), LatestAttemptCounts: o.LatestAttemptCounts,
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC()}
}

// objectiveRequest creates or replaces an objective (forward.Admin checks
// it).
type objectiveRequest struct {
	Name                string   `json:"name"`
	ActivityID          string   `json:"activity_id"`
	Verbs               []string `json:"verbs"`
	Configurations      []string `json:"configurations"`
	LatestAttemptCounts bool     `json:"latest_attempt_counts"`
	// Backfill: the configurations this attaches are also sent what the
	// objective matched before (admin_backfill.go).
	Backfill bool `json:"backfill"`
}

func (r objectiveRequest) input() forward.ObjectiveInput {
	return forward.ObjectiveInput{Name: r.Name, ActivityID: r.ActivityID, Verbs: r.Verbs, Configurations: r.Configurations,
		LatestAttemptCounts: r.LatestAttemptCounts, Backfill: r.Backfill}
}

type statusJSON struct {
	ConfigurationID         string    `json:"configuration_id"`
	Status                  string    `json:"status"`
	LastError               string    `json:"last_error,omitempty"`
	LastStatus              int       `json:"last_status,omitempty"`
	FirstFailure            time.Time `json:"first_failure,omitzero"`
	LastSuccess             time.Time `json:"last_success,omitzero"`
	LastAlert               time.Time `json:"last_alert,omitzero"`
	UpdatedAt               time.Time `json:"updated_at,omitzero"`
	Queued                  int       `json:"queued"`
	Delivered               int       `json:"delivered"`
	Parked                  int       `json:"parked"`
	Rejected                int       `json:"rejected"`
	Skipped                 int       `json:"skipped"`
	OldestPending           time.Time `json:"oldest_pending,omitzero"`
	OldestPendingAgeSeconds float64   `json:"oldest_pending_age_seconds"`
	// Backfills are the configuration's backfill jobs (admin_backfill.go).
	Backfills []backfillJSON `json:"backfills"`

	// StoppedAt is when the destination asked to be sent nothing more
	// (a webhook's 410 Gone), with StopReason: nothing is sent until the
	// configuration is edited. Absent when it is not stopped.
	StoppedAt  time.Time `json:"stopped_at,omitzero"`
	StopReason string    `json:"stop_reason,omitempty"`
}

type deliveryJSON struct {
	Org             string    `json:"org"`
	ConfigurationID string    `json:"configuration_id"`
	StatementID     string    `json:"statement_id"`
	ObjectiveID     string    `json:"objective_id"`
	Participant     string    `json:"participant"`
	State           string    `json:"state"`
	Attempts        int       `json:"attempts"`
	NextAttempt     time.Time `json:"next_attempt"`
	FirstFailure    time.Time `json:"first_failure,omitzero"`
	LastAttempt     time.Time `json:"last_attempt,omitzero"`
	LastStatus      int       `json:"last_status,omitempty"`
	LastError       string    `json:"last_error,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func deliveriesOut(ds []forward.Delivery) []deliveryJSON {
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = deliveryJSON{
			Org: d.Org, ConfigurationID: d.ConfigurationID, StatementID: d.StatementID, ObjectiveID: d.ObjectiveID,
			Participant: d.Participant, State: d.State, Attempts: d.Attempts, NextAttempt: d.NextAttempt.UTC(),
			FirstFailure: d.FirstFailure.UTC(), LastAttempt: d.LastAttempt.UTC(), LastStatus: d.LastStatus,
			LastError: d.LastError, Reason: d.Reason, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		}
	}
	return out
}

type attemptJSON struct {
	Org             string    `json:"org"`
	ConfigurationID string    `json:"configuration_id"`
	StatementIDs    []string  `json:"statement_ids"`
	At              time.Time `json:"at"`
	DurationNs      int64     `json:"duration_ns"`
	Outcome         string    `json:"outcome"` // an outcome class
	Status          int       `json:"status,omitempty"`
	Response        string    `json:"response,omitempty"` // first bytes, redacted
}

func attemptsOut(as []forward.Attempt) []attemptJSON {
	out := make([]attemptJSON, len(as))
	for i, a := range as {
		out[i] = attemptJSON{Org: a.Org, ConfigurationID: a.ConfigurationID, StatementIDs: a.StatementIDs, At: a.At.UTC(),
			DurationNs: int64(a.Duration), Outcome: a.Outcome, Status: a.Status, Response: a.Response}
	}
	return out
}

type testJSON struct {
	OK         bool   `json:"ok"`
	Status     string `json:"status"`  // OK, Can't Connect or Server Error
	Outcome    string `json:"outcome"` // the attempt outcome class
	HTTPStatus int    `json:"http_status,omitempty"`
	Message    string `json:"message"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ---- configurations ----

func (s *server) listConfigurations(c *gin.Context) {
	cfgs, err := s.fadmin().ListConfigurations(c.Request.Context(), c.Param("org"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	out := make([]configurationJSON, len(cfgs))
	for i, cf := range cfgs {
		out[i] = configurationOut(cf)
	}
	c.JSON(http.StatusOK, gin.H{"configurations": out})
}

func (s *server) createConfiguration(c *gin.Context) {
	var req configurationRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	org := c.Param("org")
	cf, err := s.fadmin().CreateConfiguration(c.Request.Context(), org, req.input())
	if err != nil {
		s.failForward(c, err)
		return
	}
	setTarget(c, org+"/"+cf.ID)
	c.Header("Location", AdminPrefix+"/orgs/"+org+"/configurations/"+cf.ID)
	c.JSON(http.StatusCreated, configurationOut(cf))
}

func (s *server) getConfiguration(c *gin.Context) {
	cf, err := s.fadmin().Configuration(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, configurationOut(cf))
}

// updateConfiguration replaces a configuration (secrets omitted: kept),
// bumps its revision and re-drives its parked and rejected deliveries.
func (s *server) updateConfiguration(c *gin.Context) {
	var req configurationRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	cf, err := s.fadmin().UpdateConfiguration(c.Request.Context(), c.Param("org"), c.Param("id"), req.input())
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, configurationOut(cf))
}

// deleteConfiguration removes a configuration and detaches it from the
// organization's objectives (its deliveries and log stay).
func (s *server) deleteConfiguration(c *gin.Context) {
	if err := s.fadmin().DeleteConfiguration(c.Request.Context(), c.Param("org"), c.Param("id")); err != nil {
		s.failForward(c, err)
		return
	}
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

func (s *server) configurationStatus(c *gin.Context) {
	st, n, err := s.fadmin().Status(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	out := statusJSON{
		ConfigurationID: st.ConfigurationID, Status: st.Status, LastError: st.LastError, LastStatus: st.LastStatus,
		FirstFailure: st.FirstFailure.UTC(), LastSuccess: st.LastSuccess.UTC(), LastAlert: st.LastAlert.UTC(), UpdatedAt: st.UpdatedAt.UTC(),
		Queued: n.Pending, Delivered: n.Delivered, Parked: n.Parked, Rejected: n.Rejected, Skipped: n.Skipped,
		OldestPending: n.OldestPending.UTC(), StoppedAt: st.StoppedAt.UTC(), StopReason: st.StopReason,
	}
	if !n.OldestPending.IsZero() {
		out.OldestPendingAgeSeconds = max(s.admin.opts.Now().Sub(n.OldestPending).Seconds(), 0)
	}
	jobs, err := s.fadmin().Backfills(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	out.Backfills = backfillsOut(jobs)
	c.JSON(http.StatusOK, out)
}

// limitParam reads ?limit= (default 100, at most 1000).
func (s *server) limitParam(c *gin.Context) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "limit: want a number from 1 to 1000"))
		return 0, false
	}
	return n, true
}

func (s *server) configurationDeliveries(c *gin.Context) {
	limit, ok := s.limitParam(c)
	if !ok {
		return
	}
	ds, err := s.fadmin().Deliveries(c.Request.Context(), c.Param("org"), c.Param("id"), c.Query("state"), limit)
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": deliveriesOut(ds)})
}

func (s *server) configurationAttempts(c *gin.Context) {
	limit, ok := s.limitParam(c)
	if !ok {
		return
	}
	as, err := s.fadmin().Attempts(c.Request.Context(), c.Param("org"), c.Param("id"), limit)
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"attempts": attemptsOut(as)})
}

// testConfiguration checks the destination without sending a result; the
// answer is classified like an attempt. It does not change the
// configuration's status.
func (s *server) testConfiguration(c *gin.Context) {
	r, err := s.fadmin().TestConfiguration(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, testJSON{OK: r.Outcome == forward.OutcomeSuccess, Status: forward.StatusOf(r.Outcome),
		Outcome: r.Outcome, HTTPStatus: r.Status, Message: r.Message})
}

// previewJSON is what a configuration would send for a sample result,
// without sending it: the exact request, secrets redacted.
type previewJSON struct {
	Method   string              `json:"method,omitempty"`
	URL      string              `json:"url,omitempty"`
	Headers  map[string][]string `json:"headers,omitempty"`
	Body     string              `json:"body"`
	FileName string              `json:"file_name,omitempty"`
	Notes    []string            `json:"notes,omitempty"`
	// Requests: every request, in order, when a result takes several
	// (Clever's lookups, then its grade writes).
	Requests []previewRequestJSON `json:"requests,omitempty"`
}

type previewRequestJSON struct {
	Purpose string              `json:"purpose"`
	Method  string              `json:"method"`
	URL     string              `json:"url"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body"`
}

func previewOut(p forward.Preview) previewJSON {
	out := previewJSON{Method: p.Method, URL: p.URL, Headers: p.Headers, Body: p.Body, FileName: p.FileName, Notes: p.Notes}
	for _, r := range p.Requests {
		out.Requests = append(out.Requests, previewRequestJSON{Purpose: r.Purpose, Method: r.Method, URL: r.URL, Headers: r.Headers, Body: r.Body})
	}
	return out
}

// previewConfiguration renders the configuration of the body (a new one,
// or the edit of :id, whose stored secrets stand in when the body has
// none) for a sample result, or for the stored result the query names
// (objective, participant, registration); nothing is stored or sent.
func (s *server) previewConfiguration(c *gin.Context) {
	var req configurationRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	var p forward.Preview
	var err error
	if obj := c.Query("objective"); obj != "" || c.Query("participant") != "" {
		// A real result instead of the sample.
		p, err = s.fadmin().PreviewResult(c.Request.Context(), c.Param("org"), c.Param("id"), req.input(), obj, c.Query("participant"), c.Query("registration"))
	} else {
		p, err = s.fadmin().Preview(c.Request.Context(), c.Param("org"), c.Param("id"), req.input())
	}
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, previewOut(p))
}

// fileJSON is a kept copy of an uploaded file.
type fileJSON struct {
	Name      string    `json:"name"`
	Size      int       `json:"size"`
	Rows      int       `json:"rows"`
	CreatedAt time.Time `json:"created_at"`
}

// configurationFiles lists the files the configuration uploaded that are
// still kept (28 days), newest first.
func (s *server) configurationFiles(c *gin.Context) {
	limit, ok := s.limitParam(c)
	if !ok {
		return
	}
	fs, err := s.fadmin().Files(c.Request.Context(), c.Param("org"), c.Param("id"), limit)
	if err != nil {
		s.failForward(c, err)
		return
	}
	out := make([]fileJSON, len(fs))
	for i, f := range fs {
		out[i] = fileJSON{Name: f.Name, Size: f.Size, Rows: f.Rows, CreatedAt: f.CreatedAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"files": out})
}

// configurationFile downloads one kept file, byte for byte as uploaded.
func (s *server) configurationFile(c *gin.Context) {
	f, err := s.fadmin().File(c.Request.Context(), c.Param("org"), c.Param("id"), c.Param("name"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/csv; charset=utf-8", f.Data)
}

// redriveRequest is the optional body of a re-drive.
type redriveRequest struct {
	States []string `json:"states"`
}

// redriveConfiguration makes the configuration's deliveries in the states
// of the body (default pending, parked and rejected; no body is the
// default) pending again, due now.
func (s *server) redriveConfiguration(c *gin.Context) {
	var req redriveRequest
	body, err := readBodyWithin(c, maxAdminBody)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "the body is not the expected JSON object: %s", jsonProblem(err)))
			return
		}
	}
	n, err := s.fadmin().Redrive(c.Request.Context(), c.Param("org"), c.Param("id"), req.States)
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"redriven": n})
}

// ---- objectives ----

func (s *server) listObjectives(c *gin.Context) {
	objs, err := s.fadmin().ListObjectives(c.Request.Context(), c.Param("org"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	out := make([]objectiveJSON, len(objs))
	for i, o := range objs {
		out[i] = objectiveOut(o)
	}
	c.JSON(http.StatusOK, gin.H{"objectives": out})
}

func (s *server) createObjective(c *gin.Context) {
	var req objectiveRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	org := c.Param("org")
	o, jobs, err := s.fadmin().CreateObjectiveBackfill(c.Request.Context(), org, req.input())
	if err != nil {
		s.failForward(c, err)
		return
	}
	setTarget(c, org+"/"+o.ID)
	c.Header("Location", AdminPrefix+"/orgs/"+org+"/objectives/"+o.ID)
	c.JSON(http.StatusCreated, objectiveWithBackfills(o, jobs))
}

func (s *server) getObjective(c *gin.Context) {
	o, err := s.fadmin().Objective(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, objectiveOut(o))
}

func (s *server) updateObjective(c *gin.Context) {
	var req objectiveRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	o, jobs, err := s.fadmin().UpdateObjectiveBackfill(c.Request.Context(), c.Param("org"), c.Param("id"), req.input())
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, objectiveWithBackfills(o, jobs))
}

func (s *server) deleteObjective(c *gin.Context) {
	if err := s.fadmin().DeleteObjective(c.Request.Context(), c.Param("org"), c.Param("id")); err != nil {
		s.failForward(c, err)
		return
	}
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// ---- statements ----

func (s *server) statementDeliveries(c *gin.Context) {
	ds, err := s.fadmin().StatementDeliveries(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": deliveriesOut(ds)})
}

// ---- the OpenAPI document ----

// openAPIDocument is admin_openapi.json with the destination types of the
// registry: the enum of a configuration's type, and in ConfigurationWrite
// each type's properties and secrets (x-destination-types).
func openAPIDocument(types []forward.Type) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(adminOpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("admin_openapi.json: %w", err)
	}
	schemas, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)
	names := make([]string, len(types))
	xtypes := map[string]any{}
	var desc []string
	for i, t := range types {
		names[i] = t.Name
		fields := func(fs []forward.Field) (map[string]any, []string) {
			props := map[string]any{}
			var required, parts []string
			for _, f := range fs {
				p := map[string]any{"type": "string", "description": f.Description}
				if len(f.Enum) > 0 {
					p["enum"] = f.Enum
				}
				if f.Default != "" {
					p["default"] = f.Default
				}
				props[f.Name] = p
				if f.Required {
					required = append(required, f.Name)
				}
				parts = append(parts, f.Name)
			}
			m := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
			if len(required) > 0 {
				m["required"] = required
			}
			return m, parts
		}
		props, pnames := fields(t.Properties)
		secrets, snames := fields(t.Secrets)
		xtypes[t.Name] = map[string]any{"description": t.Description, "sink": string(t.Sink), "properties": props, "secrets": secrets}
		desc = append(desc, fmt.Sprintf("%s (properties: %s; secrets: %s)", t.Name, strings.Join(pnames, ", "), strings.Join(snames, ", ")))
	}
	for _, name := range []string{"Configuration", "ConfigurationWrite"} {
		sc, _ := schemas[name].(map[string]any)
		props, _ := sc["properties"].(map[string]any)
		typ, _ := props["type"].(map[string]any)
		if typ == nil {
			return nil, fmt.Errorf("admin_openapi.json: %s has no type property", name)
		}
		typ["enum"] = names
	}
	write := schemas["ConfigurationWrite"].(map[string]any)
	write["x-destination-types"] = xtypes
	write["description"] = fmt.Sprintf("%s Types served: %s.", write["description"], strings.Join(desc, "; "))
	return json.Marshal(doc)
}
