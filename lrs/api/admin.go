package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// The admin API: JSON under /admin/v1, protected by a bearer token
// configured at start (LRS_ADMIN_TOKEN) or an account's session
// (admin_session.go), each route by the rule of admin_access.go. It
// manages organizations, credentials and accounts, and the forwarding
// objects of organizations (admin_forward.go); admin_openapi.json
// documents it (TestAdminOpenAPIInSync keeps the two in step). Handlers run
// behind adminGate (authentication, then the access rule of
// admin_access.go: a route under /orgs/:org is that organization's) and use
// s.bindAdmin (validated JSON bodies), s.failAdmin (errors) and s.audited
// (audit log and metrics).

// AdminPrefix is the path of the admin API.
const AdminPrefix = "/admin/v1"

// AdminOptions enables the admin API.
type AdminOptions struct {
	// Token is the bearer token of administrators (required; 32 or more
	// characters).
	Token string
	// Store keeps organizations and credentials.
	Store auth.AdminStore
	// Audit receives one record per admin action (default: Options.Logger).
	Audit *slog.Logger
	// HomePage is the homePage of the authority account of credentials
	// created without an authority: the LRS's public URL.
	HomePage string
	// Forget, when set, is called with the key of every credential changed
	// or deleted, so that this process stops trusting its cached copy at
	// once (other processes follow within their cache TTL).
	Forget func(key string)
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Forward enables the forwarding objects (admin_forward.go); nil:
	// their endpoints answer 503.
	Forward *forward.Admin
	// Identity enables accounts, sessions and the console's sign-in
	// (admin_session.go, console.go); nil: only the token.
	Identity *auth.Identity
	// Mailer mails invitations and password resets; nil: none are mailed
	// (an invitation's answer then carries its link).
	Mailer AccountMailer
	// OIDC are the OpenID Connect providers accounts may sign in through
	// (admin_oidc.go).
	OIDC []OIDCProvider
}

// MinAdminTokenLen is the shortest admin token accepted.
const MinAdminTokenLen = 32

type adminState struct {
	opts     AdminOptions
	token    [32]byte // SHA-256 of the token: compared in constant time
	audit    *slog.Logger
	actions  *prometheus.CounterVec // nil: not counted
	identity *identityState         // nil: no accounts (admin_session.go)
}

//go:embed admin_openapi.json
var adminOpenAPI []byte

func (s *server) mountAdmin(e *gin.Engine, opts *AdminOptions, reg prometheus.Registerer) error {
	if len(opts.Token) < MinAdminTokenLen {
		return fmt.Errorf("api: the admin token must be at least %d characters long", MinAdminTokenLen)
	}
	if opts.Store == nil {
		return errors.New("api: AdminOptions.Store is required")
	}
	a := &adminState{opts: *opts, token: sha256.Sum256([]byte(opts.Token)), audit: opts.Audit}
	if a.audit == nil {
		a.audit = s.log
	}
	if a.opts.Now == nil {
		a.opts.Now = time.Now
	}
	if reg != nil {
		cv, err := registerCounterVec(reg, prometheus.CounterOpts{
			Namespace: "lrs",
			Subsystem: "admin",
			Name:      "actions_total",
			Help:      "Admin API actions, by action and outcome (ok, refused, error).",
		}, "action", "outcome")
		if err != nil {
			return err
		}
		a.actions = cv
	}
	s.admin = a
	if err := s.mountIdentity(a, reg); err != nil {
		return err
	}

	openAPI := adminOpenAPI
	if opts.Forward != nil {
		doc, err := openAPIDocument(opts.Forward.Types().Types())
		if err != nil {
			return err
		}
		openAPI = doc
	}
	e.GET(AdminPrefix+"/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPI) })
	// Every route of the group is authenticated and authorized by
	// adminGate (admin_access.go).
	g := e.Group(AdminPrefix, s.adminGate)
	g.GET("/orgs", s.audited("org.list", s.listOrgs))
	g.POST("/orgs", s.audited("org.create", s.createOrg))
	g.GET("/orgs/:org", s.audited("org.get", s.getOrg))
	g.PATCH("/orgs/:org", s.audited("org.update", s.updateOrg))
	g.DELETE("/orgs/:org", s.audited("org.delete", s.deleteOrg))
	g.GET("/orgs/:org/credentials", s.audited("credential.list", s.listCredentials))
	g.POST("/orgs/:org/credentials", s.audited("credential.create", s.createCredential))
	g.GET("/credentials/:key", s.audited("credential.get", s.getCredential))
	g.PATCH("/credentials/:key", s.audited("credential.update", s.updateCredential))
	g.DELETE("/credentials/:key", s.audited("credential.delete", s.deleteCredential))
	g.POST("/credentials/:key/revoke", s.audited("credential.revoke", s.revokeCredential))
	s.forwardRoutes(g)
	s.routesIdentity(g) // admin_session.go
	if a.identity != nil {
		s.routesConsole(e) // console.go
	}
	return nil
}

const keyAdminTarget = "lrs.admin.target"

// audited wraps an admin handler: after it ran, the action is logged (who,
// what, on what, outcome) and counted.
func (s *server) audited(action string, h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		h(c)
		target := c.GetString(keyAdminTarget)
		if target == "" {
			target = c.Param("org") + c.Param("key")
		}
		s.auditRecord(c, action, target, c.Writer.Status())
	}
}

// setTarget names what an admin action acted on, when it is not in the
// path (a created organization or credential).
func setTarget(c *gin.Context, target string) { c.Set(keyAdminTarget, target) }

func (s *server) auditRecord(c *gin.Context, action, target string, status int) {
	outcome := "ok"
	switch {
	case status >= 500:
		outcome = "error"
	case status >= 400:
		outcome = "refused"
	}
	if s.admin.actions != nil {
		s.admin.actions.WithLabelValues(action, outcome).Inc()
	}
	s.admin.audit.LogAttrs(c.Request.Context(), slog.LevelInfo, "admin action",
		slog.String("who", adminPrincipalOf(c).who()),
		slog.String("client", c.RemoteIP()),
		slog.String("action", action),
		slog.String("target", target),
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.String("outcome", outcome),
		slog.Time("at", s.admin.opts.Now().UTC()))
}

// ---- request validation ----

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

func adminValidator() *validator.Validate {
	validateOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			return name
		})
		_ = v.RegisterValidation("xapiscope", func(fl validator.FieldLevel) bool {
			return slices.Contains(auth.Scopes, fl.Field().String())
		})
		_ = v.RegisterValidation("keychars", func(fl validator.FieldLevel) bool {
			return auth.ValidateKey(fl.Field().String()) == nil
		})
		validate = v
	})
	return validate
}

// maxAdminBody is the largest admin request body (413 above).
const maxAdminBody = 1 << 20

// bindAdmin decodes the JSON body into dst (unknown fields refused) and
// validates it; every problem is reported in one 400.
func (s *server) bindAdmin(c *gin.Context, dst any) bool {
	body, err := readBodyWithin(c, maxAdminBody)
	if err != nil {
		s.failAdmin(c, err) // 413 when too large
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "the body is not the expected JSON object: %s", jsonProblem(err)))
		return false
	}
	msgs, err := adminProblems(dst)
	if err != nil {
		s.failAdmin(c, err)
		return false
	}
	if len(msgs) > 0 {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "%s", strings.Join(msgs, "; ")))
		return false
	}
	return true
}

// adminProblems returns every problem of a decoded request (its tags' and
// its extraChecks), each naming its field: the one validation of the admin
// API and of the console's forms.
func adminProblems(dst any) ([]string, error) {
	var msgs []string
	if err := adminValidator().Struct(dst); err != nil {
		var ves validator.ValidationErrors
		if !errors.As(err, &ves) {
			return nil, err
		}
		for _, fe := range ves {
			msgs = append(msgs, fieldMessage(fe))
		}
	}
	if x, ok := dst.(interface{ extraChecks() []string }); ok { // rules beyond the tags
		msgs = append(msgs, x.extraChecks()...)
	}
	return msgs, nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s must be a %s", te.Field, te.Type)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// fieldMessage is a readable sentence for one field error, naming the
// field by its JSON path (the top-level struct name dropped).
func fieldMessage(fe validator.FieldError) string {
	path := fe.Namespace()
	if _, rest, ok := strings.Cut(path, "."); ok {
		path = rest
	}
	switch fe.Tag() {
	case "required":
		return path + ": is required"
	case "min":
		if fe.Kind() == reflect.Slice || fe.Kind() == reflect.Map {
			return fmt.Sprintf("%s: must hold at least %s item(s)", path, fe.Param())
		}
		return fmt.Sprintf("%s: must be at least %s characters long", path, fe.Param())
	case "max":
		if fe.Kind() == reflect.Slice || fe.Kind() == reflect.Map {
			return fmt.Sprintf("%s: must hold at most %s items", path, fe.Param())
		}
		return fmt.Sprintf("%s: must be at most %s characters long", path, fe.Param())
	case "xapiscope":
		return fmt.Sprintf("%s: %q is not an xAPI scope (want one of %s)", path, fe.Value(), strings.Join(auth.Scopes, ", "))
	case "keychars":
		return path + ": may hold only letters, digits, '.', '_' and '-' (3 to 128 characters)"
	case "gt":
		return path + ": must be in the future"
	case "unique":
		return path + ": must not repeat a value"
	case "eq":
		return fmt.Sprintf("%s: must be %s", path, fe.Param())
	case "email":
		return fmt.Sprintf("%s: %q is not an email address", path, fe.Value())
	case "oneof":
		return fmt.Sprintf("%s: %q: want one of %s", path, fe.Value(), strings.ReplaceAll(fe.Param(), " ", ", "))
	}
	return fmt.Sprintf("%s: fails the %s rule", path, fe.Tag())
}

// failAdmin answers an admin request with err.
func (s *server) failAdmin(c *gin.Context, err error) {
	switch {
	case errors.Is(err, auth.ErrOrgNotFound):
		err = lrs.Errorf(lrs.ENOTFOUND, "no organization %q", c.Param("org"))
	case errors.Is(err, auth.ErrNotFound):
		err = lrs.Errorf(lrs.ENOTFOUND, "no credential %q", c.Param("key"))
	case errors.Is(err, auth.ErrOrgTaken):
		err = lrs.Errorf(lrs.ECONFLICT, "an organization with this id already exists")
	case errors.Is(err, auth.ErrKeyTaken):
		err = lrs.Errorf(lrs.ECONFLICT, "a credential with this key already exists")
	}
	s.fail(c, err)
}

// ---- representations ----

type orgJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func orgOut(o auth.Organization) orgJSON {
	return orgJSON{ID: o.ID, Name: o.Name, CreatedAt: o.CreatedAt.UTC()}
}

type credentialJSON struct {
	Key       string          `json:"key"`
	Secret    string          `json:"secret,omitempty"` // only in the answer to a create
	Org       string          `json:"org"`
	Name      string          `json:"name"`
	Scopes    []string        `json:"scopes"`
	Authority json.RawMessage `json:"authority"`
	CreatedAt time.Time       `json:"created_at"`
	ExpiresAt *time.Time      `json:"expires_at,omitempty"`
	Revoked   bool            `json:"revoked"`
	RevokedAt *time.Time      `json:"revoked_at,omitempty"`
	LastUsed  *time.Time      `json:"last_used,omitempty"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func credentialOut(c auth.Credential) credentialJSON {
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	authority := json.RawMessage(c.Authority)
	if len(authority) == 0 {
		authority = json.RawMessage("null")
	}
	return credentialJSON{
		Key: c.Key, Org: c.Org, Name: c.Name, Scopes: scopes, Authority: authority,
		CreatedAt: c.CreatedAt.UTC(), ExpiresAt: timeOrNil(c.ExpiresAt),
		Revoked: c.Revoked, RevokedAt: timeOrNil(c.RevokedAt), LastUsed: timeOrNil(c.LastUsed),
	}
}

// ---- organizations ----

type orgCreateRequest struct {
	ID   string `json:"id" validate:"omitempty,keychars"`
	Name string `json:"name" validate:"required,max=200"`
}

type orgUpdateRequest struct {
	Name string `json:"name" validate:"required,max=200"`
}

func (s *server) listOrgs(c *gin.Context) {
	orgs, err := s.admin.opts.Store.ListOrgs(c.Request.Context())
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	out := make([]orgJSON, len(orgs))
	for i, o := range orgs {
		out[i] = orgOut(o)
	}
	c.JSON(http.StatusOK, gin.H{"organizations": out})
}

func (s *server) createOrg(c *gin.Context) {
	var req orgCreateRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	o, err := s.newOrg(c, req)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	c.Header("Location", AdminPrefix+"/orgs/"+o.ID)
	c.JSON(http.StatusCreated, orgOut(o))
}

// newOrg creates an organization from a valid request (a random id when it
// names none): the admin API and the console.
func (s *server) newOrg(c *gin.Context, req orgCreateRequest) (auth.Organization, error) {
	if req.ID == "" {
		req.ID = uuid.NewString()
	}
	setTarget(c, req.ID)
	o := auth.Organization{ID: req.ID, Name: req.Name, CreatedAt: s.admin.opts.Now().UTC().Truncate(time.Millisecond)}
	return o, s.admin.opts.Store.CreateOrg(c.Request.Context(), o)
}

func (s *server) getOrg(c *gin.Context) {
	o, err := s.admin.opts.Store.GetOrg(c.Request.Context(), c.Param("org"))
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	c.JSON(http.StatusOK, orgOut(o))
}

func (s *server) updateOrg(c *gin.Context) {
	var req orgUpdateRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	ctx := c.Request.Context()
	if err := s.admin.opts.Store.UpdateOrg(ctx, auth.Organization{ID: c.Param("org"), Name: req.Name}); err != nil {
		s.failAdmin(c, err)
		return
	}
	s.getOrg(c)
}

// deleteOrg removes an organization without credentials (its statements
// and documents stay stored, unreachable until it is created again).
func (s *server) deleteOrg(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("org")
	if _, err := s.admin.opts.Store.GetOrg(ctx, id); err != nil {
		s.failAdmin(c, err)
		return
	}
	creds, err := s.admin.opts.Store.ListCredentials(ctx, id)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	if len(creds) > 0 {
		s.failAdmin(c, lrs.Errorf(lrs.ECONFLICT, "organization %q still has %d credential(s): delete them first", id, len(creds)))
		return
	}
	if err := s.admin.opts.Store.DeleteOrg(ctx, id); err != nil {
		s.failAdmin(c, err)
		return
	}
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// ---- credentials ----

type credentialCreateRequest struct {
	Name      string     `json:"name" validate:"required,max=200"`
	Scopes    []string   `json:"scopes" validate:"required,min=1,max=8,unique,dive,xapiscope"`
	ExpiresAt *time.Time `json:"expires_at" validate:"omitempty,gt"`
}

type credentialUpdateRequest struct {
	Name      *string    `json:"name" validate:"omitempty,min=1,max=200"`
	Scopes    *[]string  `json:"scopes" validate:"omitempty,min=1,max=8,unique,dive,xapiscope"`
	ExpiresAt *time.Time `json:"expires_at" validate:"omitempty,gt"`
	// NoExpiry removes the expiry.
	NoExpiry bool `json:"no_expiry" validate:"excluded_with=ExpiresAt"`
	// Revoked: only true (a revocation cannot be undone).
	Revoked *bool `json:"revoked" validate:"omitempty,eq=true"`
}

func (s *server) listCredentials(c *gin.Context) {
	ctx, org := c.Request.Context(), c.Param("org")
	if _, err := s.admin.opts.Store.GetOrg(ctx, org); err != nil {
		s.failAdmin(c, err)
		return
	}
	creds, err := s.admin.opts.Store.ListCredentials(ctx, org)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	out := make([]credentialJSON, len(creds))
	for i, cr := range creds {
		out[i] = credentialOut(cr)
	}
	c.JSON(http.StatusOK, gin.H{"credentials": out})
}

func (s *server) createCredential(c *gin.Context) {
	var req credentialCreateRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	cred, secret, err := s.newCredential(c, c.Param("org"), req)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	out := credentialOut(cred)
	out.Secret = secret
	c.Header("Location", AdminPrefix+"/credentials/"+cred.Key)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, out)
}

// newCredential creates a credential of org from a valid request and
// returns it with its secret (the admin API and the console).
func (s *server) newCredential(c *gin.Context, org string, req credentialCreateRequest) (auth.Credential, string, error) {
	ctx := c.Request.Context()
	if _, err := s.admin.opts.Store.GetOrg(ctx, org); err != nil {
		return auth.Credential{}, "", err
	}
	cred, secret, err := auth.NewCredential(org, req.Name, req.Scopes, nil)
	if err != nil {
		return auth.Credential{}, "", err
	}
	cred.Authority = auth.DefaultAuthority(cred.Key, s.admin.opts.HomePage)
	if req.ExpiresAt != nil {
		cred.ExpiresAt = req.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	setTarget(c, cred.Key)
	if err := s.admin.opts.Store.CreateCredential(ctx, cred); err != nil {
		return auth.Credential{}, "", err
	}
	return cred, secret, nil
}

func (s *server) getCredential(c *gin.Context) {
	cred, err := s.admin.opts.Store.GetCredential(c.Request.Context(), c.Param("key"))
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	c.JSON(http.StatusOK, credentialOut(cred))
}

func (s *server) updateCredential(c *gin.Context) {
	var req credentialUpdateRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	u := auth.CredentialUpdate{Name: req.Name, Scopes: req.Scopes, ExpiresAt: req.ExpiresAt}
	if req.NoExpiry {
		u.ExpiresAt = &time.Time{}
	}
	if req.Revoked != nil {
		now := s.admin.opts.Now()
		u.RevokedAt = &now
	}
	s.applyCredentialUpdate(c, u)
}

func (s *server) revokeCredential(c *gin.Context) {
	now := s.admin.opts.Now()
	s.applyCredentialUpdate(c, auth.CredentialUpdate{RevokedAt: &now})
}

func (s *server) applyCredentialUpdate(c *gin.Context, u auth.CredentialUpdate) {
	cred, err := s.changeCredential(c.Request.Context(), c.Param("key"), u)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	c.JSON(http.StatusOK, credentialOut(cred))
}

// changeCredential applies u to the credential key, which this process
// then stops trusting from its cache (the admin API and the console).
func (s *server) changeCredential(ctx context.Context, key string, u auth.CredentialUpdate) (auth.Credential, error) {
	cred, err := s.admin.opts.Store.UpdateCredential(ctx, key, u)
	if err != nil {
		return auth.Credential{}, err
	}
	s.forget(key)
	return cred, nil
}

func (s *server) deleteCredential(c *gin.Context) {
	key := c.Param("key")
	if err := s.admin.opts.Store.DeleteCredential(c.Request.Context(), key); err != nil {
		s.failAdmin(c, err)
		return
	}
	s.forget(key)
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

func (s *server) forget(key string) {
	if f := s.admin.opts.Forget; f != nil {
		f(key)
	}
}
