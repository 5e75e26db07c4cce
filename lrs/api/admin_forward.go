package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/xapi"
	"github.com/lrs-project/lrs/lrs"
)

// The forwarding objects of an organization in the admin API: LMS
// configurations (destinations, their status, delivery log and test
// connection), objectives, and the deliveries of a statement. Destination
// secrets are write-only: sealed with AdminOptions.Forward.Sealer before
// they are stored, never answered, never logged.

// ForwardAdmin is what the forwarding endpoints of the admin API need.
type ForwardAdmin struct {
	// Store keeps configurations, objectives, deliveries and statuses.
	Store forward.Store
	// Sealer seals destination secrets; nil (no LRS_FORWARD_KEY): the
	// objects can be read but not written nor tested.
	Sealer *forward.Sealer
	// Factories build destinations by configuration type (test connection).
	Factories map[string]forward.Factory
	// Invalidator forgets cached objectives and configurations of an
	// organization after an edit (*forward.Obligations); optional.
	Invalidator interface{ Invalidate(org string) }
	// TestTimeout bounds a test connection; default 15s.
	TestTimeout time.Duration
}

// Tester is implemented by destinations that can check their settings
// without sending anything (xapi.Destination).
type Tester interface {
	Test(ctx context.Context) forward.Result
}

// typeValidators check a configuration type's properties and secrets.
var typeValidators = map[string]func(props, secrets map[string]string) []string{
	forward.TypeXAPI: xapi.Validate,
}

const forwardDisabled = "forwarding is disabled: set LRS_FORWARD_KEY"

func init() {
	addAdminRoutes(func(s *server, g *gin.RouterGroup) {
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
		g.GET(o+"/objectives", s.audited("objective.list", s.fwd(s.listObjectives)))
		g.POST(o+"/objectives", s.audited("objective.create", s.fwd(s.createObjective)))
		g.GET(o+"/objectives/:id", s.audited("objective.get", s.fwd(s.getObjective)))
		g.PUT(o+"/objectives/:id", s.audited("objective.update", s.fwd(s.updateObjective)))
		g.DELETE(o+"/objectives/:id", s.audited("objective.delete", s.fwd(s.deleteObjective)))
		g.GET(o+"/statements/:id/deliveries", s.audited("statement.deliveries", s.fwd(s.statementDeliveries)))
	})
}

// fwd guards a forwarding handler: forwarding must be configured and the
// organization must exist (every read and write is scoped by the path's
// organization).
func (s *server) fwd(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if id := c.Param("id"); id != "" {
			setTarget(c, c.Param("org")+"/"+id)
		}
		f := s.admin.opts.Forward
		if f == nil || f.Store == nil {
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
		if s.admin.opts.Forward.Sealer == nil {
			s.failAdmin(c, lrs.Errorf(lrs.EUNAVAILABLE, forwardDisabled))
			return
		}
		h(c)
	})
}

func (s *server) fstore() forward.Store { return s.admin.opts.Forward.Store }

func (s *server) invalidate(org string) {
	if inv := s.admin.opts.Forward.Invalidator; inv != nil {
		inv.Invalidate(org)
	}
}

// failForward answers a forwarding error: ErrNotFound names what is
// missing.
func (s *server) failForward(c *gin.Context, what string, err error) {
	if errors.Is(err, forward.ErrNotFound) {
		err = lrs.Errorf(lrs.ENOTFOUND, "no %s %q in organization %q", what, c.Param("id"), c.Param("org"))
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

// configurationRequest creates or replaces a configuration. On a replace,
// omitted secrets keep the stored ones.
type configurationRequest struct {
	Name         string            `json:"name" validate:"required,max=200"`
	ContactEmail string            `json:"contact_email" validate:"required,email,max=254"`
	Type         string            `json:"type" validate:"required,oneof=xapi"`
	Identifier   string            `json:"identifier" validate:"omitempty,oneof=mbox account"`
	Properties   map[string]string `json:"properties" validate:"max=32"`
	Secrets      map[string]string `json:"secrets" validate:"max=16"`

	kept map[string]string // the stored secrets (replace without secrets)
}

// extraChecks are the type's rules, reported with the field errors.
func (r *configurationRequest) extraChecks() []string {
	v, ok := typeValidators[r.Type]
	if !ok {
		return nil
	}
	secrets := r.Secrets
	if secrets == nil {
		secrets = r.kept
	}
	return v(r.Properties, secrets)
}

type objectiveJSON struct {
	ID             string    `json:"id"`
	Org            string    `json:"org"`
	Name           string    `json:"name"`
	ActivityID     string    `json:"activity_id"`
	Verbs          []string  `json:"verbs"`
	Configurations []string  `json:"configurations"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func objectiveOut(o forward.Objective) objectiveJSON {
	verbs, cfgs := o.Verbs, o.Configurations
	if verbs == nil {
		verbs = []string{}
	}
	if cfgs == nil {
		cfgs = []string{}
	}
	return objectiveJSON{ID: o.ID, Org: o.Org, Name: o.Name, ActivityID: o.ActivityID, Verbs: verbs,
		Configurations: cfgs, CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC()}
}

type objectiveRequest struct {
	Name           string   `json:"name" validate:"required,max=200"`
	ActivityID     string   `json:"activity_id" validate:"required,iri"`
	Verbs          []string `json:"verbs" validate:"max=64,unique,dive,iri"`
	Configurations []string `json:"configurations" validate:"max=64,unique,dive,required"`

	existing map[string]bool // configuration ids of the organization
}

func (r *objectiveRequest) extraChecks() []string {
	var errs []string
	for i, id := range r.Configurations {
		if id != "" && !r.existing[id] {
			errs = append(errs, fmt.Sprintf("configurations[%d]: no configuration %q in this organization", i, id))
		}
	}
	return errs
}

// isIRI: an absolute IRI (a scheme, then something).
func isIRI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && len(s) > len(u.Scheme)+1 && !strings.ContainsAny(s, " \t\n")
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
}

type testJSON struct {
	OK         bool   `json:"ok"`
	Status     string `json:"status"`  // OK, Can't Connect or Server Error
	Outcome    string `json:"outcome"` // the attempt outcome class
	HTTPStatus int    `json:"http_status,omitempty"`
	Message    string `json:"message"`
}

// ---- configurations ----

func (s *server) listConfigurations(c *gin.Context) {
	cfgs, err := s.fstore().ListConfigurations(c.Request.Context(), c.Param("org"))
	if err != nil {
		s.failAdmin(c, err)
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
	now := s.admin.opts.Now().UTC().Truncate(time.Millisecond)
	cf := forward.Configuration{ID: uuid.NewString(), Org: org, CreatedAt: now, Revision: 1}
	setTarget(c, org+"/"+cf.ID)
	if !s.applyConfiguration(c, &cf, req, now) {
		return
	}
	c.Header("Location", AdminPrefix+"/orgs/"+org+"/configurations/"+cf.ID)
	c.JSON(http.StatusCreated, configurationOut(cf))
}

// applyConfiguration seals the request's secrets into cf and stores it.
func (s *server) applyConfiguration(c *gin.Context, cf *forward.Configuration, req configurationRequest, now time.Time) bool {
	cf.Name, cf.ContactEmail, cf.Type, cf.Identifier = req.Name, req.ContactEmail, req.Type, req.Identifier
	if cf.Identifier == "" {
		cf.Identifier = forward.IdentifierMbox
	}
	cf.Properties = req.Properties
	cf.UpdatedAt = now
	if req.Secrets != nil {
		sealed, err := s.admin.opts.Forward.Sealer.Seal(cf.Org, cf.ID, req.Secrets)
		if err != nil {
			s.failAdmin(c, err)
			return false
		}
		cf.SealedSecret = sealed
	}
	if err := s.fstore().PutConfiguration(c.Request.Context(), *cf); err != nil {
		s.failAdmin(c, err)
		return false
	}
	s.invalidate(cf.Org)
	return true
}

func (s *server) getConfiguration(c *gin.Context) {
	cf, err := s.fstore().GetConfiguration(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, "configuration", err)
		return
	}
	c.JSON(http.StatusOK, configurationOut(cf))
}

// updateConfiguration replaces a configuration (secrets omitted: kept),
// bumps its revision and re-drives its parked and rejected deliveries.
func (s *server) updateConfiguration(c *gin.Context) {
	ctx, org, id := c.Request.Context(), c.Param("org"), c.Param("id")
	cf, err := s.fstore().GetConfiguration(ctx, org, id)
	if err != nil {
		s.failForward(c, "configuration", err)
		return
	}
	kept, err := s.admin.opts.Forward.Sealer.Open(org, id, cf.SealedSecret)
	if err != nil {
		kept = nil // unreadable (key changed): the request must bring secrets
	}
	req := configurationRequest{kept: kept}
	if !s.bindAdmin(c, &req) {
		return
	}
	now := s.admin.opts.Now().UTC().Truncate(time.Millisecond)
	cf.Revision++
	if !s.applyConfiguration(c, &cf, req, now) {
		return
	}
	if _, err := s.fstore().Redrive(ctx, org, id, []string{forward.StateParked, forward.StateRejected}, now); err != nil {
		s.failAdmin(c, err)
		return
	}
	c.JSON(http.StatusOK, configurationOut(cf))
}

// deleteConfiguration removes a configuration and detaches it from the
// organization's objectives (its deliveries and log stay).
func (s *server) deleteConfiguration(c *gin.Context) {
	ctx, org, id := c.Request.Context(), c.Param("org"), c.Param("id")
	if err := s.fstore().DeleteConfiguration(ctx, org, id); err != nil {
		s.failForward(c, "configuration", err)
		return
	}
	objs, err := s.fstore().ListObjectives(ctx, org)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	for _, o := range objs {
		if i := slices.Index(o.Configurations, id); i >= 0 {
			o.Configurations = slices.Delete(o.Configurations, i, i+1)
			o.UpdatedAt = s.admin.opts.Now().UTC().Truncate(time.Millisecond)
			if err := s.fstore().PutObjective(ctx, o); err != nil {
				s.failAdmin(c, err)
				return
			}
		}
	}
	s.invalidate(org)
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// redactor removes a configuration's secrets from text shown to the
// administrator (the engine stores redacted text already: defence in
// depth).
func (s *server) redactor(cf forward.Configuration) func(string) string {
	sealer := s.admin.opts.Forward.Sealer
	if sealer == nil || len(cf.SealedSecret) == 0 {
		return func(t string) string { return t }
	}
	secrets, err := sealer.OpenConfiguration(cf)
	if err != nil {
		return func(t string) string { return t }
	}
	var pairs []string
	for _, v := range secrets {
		if len(v) >= 4 {
			pairs = append(pairs, v, "[redacted]")
		}
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

// configuration loads the path's configuration, answering 404 if missing.
func (s *server) configuration(c *gin.Context) (forward.Configuration, bool) {
	cf, err := s.fstore().GetConfiguration(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, "configuration", err)
		return cf, false
	}
	return cf, true
}

func (s *server) configurationStatus(c *gin.Context) {
	cf, ok := s.configuration(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	st, err := s.fstore().GetStatus(ctx, cf.Org, cf.ID)
	if errors.Is(err, forward.ErrNotFound) {
		st, err = forward.ConfigStatus{Status: forward.StatusNotAttempted}, nil
	}
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	n, err := s.fstore().CountDeliveries(ctx, cf.Org, cf.ID)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	out := statusJSON{
		ConfigurationID: cf.ID, Status: st.Status, LastError: s.redactor(cf)(st.LastError), LastStatus: st.LastStatus,
		FirstFailure: st.FirstFailure.UTC(), LastSuccess: st.LastSuccess.UTC(), LastAlert: st.LastAlert.UTC(), UpdatedAt: st.UpdatedAt.UTC(),
		Queued: n.Pending, Delivered: n.Delivered, Parked: n.Parked, Rejected: n.Rejected, Skipped: n.Skipped,
		OldestPending: n.OldestPending.UTC(),
	}
	if !n.OldestPending.IsZero() {
		out.OldestPendingAgeSeconds = max(s.admin.opts.Now().Sub(n.OldestPending).Seconds(), 0)
	}
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

var deliveryStates = []string{forward.StatePending, forward.StateDelivered, forward.StateParked, forward.StateRejected, forward.StateSkipped}

func (s *server) configurationDeliveries(c *gin.Context) {
	state := c.Query("state")
	if state != "" && !slices.Contains(deliveryStates, state) {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "state: %q: want one of %s", state, strings.Join(deliveryStates, ", ")))
		return
	}
	limit, ok := s.limitParam(c)
	if !ok {
		return
	}
	cf, ok := s.configuration(c)
	if !ok {
		return
	}
	ds, err := s.fstore().ListDeliveries(c.Request.Context(), cf.Org, cf.ID, state, limit)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	redact := s.redactor(cf)
	for i := range ds {
		ds[i].LastError = redact(ds[i].LastError)
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": nonNil(ds)})
}

func (s *server) configurationAttempts(c *gin.Context) {
	limit, ok := s.limitParam(c)
	if !ok {
		return
	}
	cf, ok := s.configuration(c)
	if !ok {
		return
	}
	as, err := s.fstore().ListAttempts(c.Request.Context(), cf.Org, cf.ID, limit)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	redact := s.redactor(cf)
	for i := range as {
		as[i].Response = redact(as[i].Response)
	}
	c.JSON(http.StatusOK, gin.H{"attempts": nonNil(as)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// testConfiguration builds the destination and checks it without sending
// a statement; the answer is classified like an attempt. It does not
// change the configuration's status.
func (s *server) testConfiguration(c *gin.Context) {
	cf, ok := s.configuration(c)
	if !ok {
		return
	}
	f := s.admin.opts.Forward
	answer := func(r forward.Result) {
		status := forward.StatusOK
		switch r.Outcome {
		case forward.OutcomeTransport:
			status = forward.StatusCantConnect
		case forward.OutcomeSuccess:
		default:
			status = forward.StatusServerError
		}
		c.JSON(http.StatusOK, testJSON{OK: r.Outcome == forward.OutcomeSuccess, Status: status, Outcome: r.Outcome,
			HTTPStatus: r.Status, Message: s.redactor(cf)(r.Message)})
	}
	factory, ok := f.Factories[cf.Type]
	if !ok {
		s.failAdmin(c, lrs.Errorf(lrs.ECONFLICT, "this server cannot send to configurations of type %q", cf.Type))
		return
	}
	secrets, err := f.Sealer.OpenConfiguration(cf)
	if err != nil {
		answer(forward.Result{Outcome: forward.OutcomeDestination, Message: "the stored secrets cannot be opened (was LRS_FORWARD_KEY changed?): save the configuration with its secrets again"})
		return
	}
	dest, err := factory(cf, secrets)
	if err != nil {
		answer(forward.Result{Outcome: forward.OutcomeDestination, Message: "invalid configuration: " + err.Error()})
		return
	}
	t, ok := dest.(Tester)
	if !ok {
		s.failAdmin(c, lrs.Errorf(lrs.ECONFLICT, "configurations of type %q cannot be tested", cf.Type))
		return
	}
	timeout := f.TestTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
	defer cancel()
	answer(t.Test(ctx))
}

// redriveConfiguration makes the configuration's parked and rejected
// deliveries pending again, due now.
func (s *server) redriveConfiguration(c *gin.Context) {
	cf, ok := s.configuration(c)
	if !ok {
		return
	}
	n, err := s.fstore().Redrive(c.Request.Context(), cf.Org, cf.ID, []string{forward.StateParked, forward.StateRejected}, s.admin.opts.Now().UTC())
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"redriven": n})
}

// ---- objectives ----

func (s *server) listObjectives(c *gin.Context) {
	objs, err := s.fstore().ListObjectives(c.Request.Context(), c.Param("org"))
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	out := make([]objectiveJSON, len(objs))
	for i, o := range objs {
		out[i] = objectiveOut(o)
	}
	c.JSON(http.StatusOK, gin.H{"objectives": out})
}

// bindObjective binds an objective body, checking its configurations
// exist in the organization.
func (s *server) bindObjective(c *gin.Context) (objectiveRequest, bool) {
	cfgs, err := s.fstore().ListConfigurations(c.Request.Context(), c.Param("org"))
	if err != nil {
		s.failAdmin(c, err)
		return objectiveRequest{}, false
	}
	req := objectiveRequest{existing: map[string]bool{}}
	for _, cf := range cfgs {
		req.existing[cf.ID] = true
	}
	return req, s.bindAdmin(c, &req)
}

func (s *server) createObjective(c *gin.Context) {
	req, ok := s.bindObjective(c)
	if !ok {
		return
	}
	org := c.Param("org")
	now := s.admin.opts.Now().UTC().Truncate(time.Millisecond)
	o := forward.Objective{ID: uuid.NewString(), Org: org, CreatedAt: now}
	setTarget(c, org+"/"+o.ID)
	if !s.putObjective(c, &o, req, now) {
		return
	}
	c.Header("Location", AdminPrefix+"/orgs/"+org+"/objectives/"+o.ID)
	c.JSON(http.StatusCreated, objectiveOut(o))
}

func (s *server) putObjective(c *gin.Context, o *forward.Objective, req objectiveRequest, now time.Time) bool {
	o.Name, o.ActivityID, o.Verbs, o.Configurations, o.UpdatedAt = req.Name, req.ActivityID, req.Verbs, req.Configurations, now
	if err := s.fstore().PutObjective(c.Request.Context(), *o); err != nil {
		s.failAdmin(c, err)
		return false
	}
	s.invalidate(o.Org)
	return true
}

func (s *server) getObjective(c *gin.Context) {
	o, err := s.fstore().GetObjective(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, "objective", err)
		return
	}
	c.JSON(http.StatusOK, objectiveOut(o))
}

func (s *server) updateObjective(c *gin.Context) {
	o, err := s.fstore().GetObjective(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, "objective", err)
		return
	}
	req, ok := s.bindObjective(c)
	if !ok {
		return
	}
	if !s.putObjective(c, &o, req, s.admin.opts.Now().UTC().Truncate(time.Millisecond)) {
		return
	}
	c.JSON(http.StatusOK, objectiveOut(o))
}

func (s *server) deleteObjective(c *gin.Context) {
	if err := s.fstore().DeleteObjective(c.Request.Context(), c.Param("org"), c.Param("id")); err != nil {
		s.failForward(c, "objective", err)
		return
	}
	s.invalidate(c.Param("org"))
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// ---- statements ----

func (s *server) statementDeliveries(c *gin.Context) {
	ds, err := s.fstore().DeliveriesOfStatement(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": nonNil(ds)})
}
