package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
)

// The credentials of an organization in the console: the list, a new one
// (its secret shown once, on the answer to the form), revocation.

func (s *server) routesConsoleCredentials(g *gin.RouterGroup) {
	o := "/orgs/:org/credentials"
	s.cpage(g, "GET", o, "GET "+o, "", s.consoleCredentials)
	s.cpage(g, "POST", o, "POST "+o, "credential.create", s.consoleCreateCredential)
	s.cpage(g, "POST", o+"/:key/revoke", "POST "+o+"/:key/revoke", "credential.revoke", s.consoleRevokeCredential)
}

type credentialRow struct {
	C      auth.Credential
	State  string // active, expired or revoked
	Scopes string
}

type credentialsPage struct {
	Rows   []credentialRow
	Fields []*field
	New    *credentialJSON // the credential just created, with its secret
}

// credentialLayout is how the expiry is typed (a datetime-local input,
// read as UTC).
const credentialLayout = "2006-01-02T15:04"

func credentialFields(name string, scopes []string, expires string) []*field {
	n := newField("name", "Name", "text")
	n.Value, n.Required, n.Help = name, true, "What the credential is for (the LMS, the course, the person who holds it)."
	sc := newField("scopes", "Scopes", "checkboxes")
	sc.Values, sc.Required = scopes, true
	sc.Help = "What the credential may do (the xAPI scopes). statements/write and statements/read/mine suit a learning tool."
	for _, s := range auth.Scopes {
		sc.Options = append(sc.Options, option{Value: s, Label: s})
	}
	ex := newField("expires_at", "Expires (UTC)", "datetime")
	ex.Value, ex.Help = expires, "Optional: after this the credential is refused."
	return []*field{n, sc, ex}
}

func (s *server) consoleCredentials(c *gin.Context, v *view) {
	s.showCredentials(c, v, http.StatusOK, credentialFields("", []string{"statements/write", "statements/read/mine"}, ""), nil)
}

func (s *server) showCredentials(c *gin.Context, v *view, status int, fields []*field, created *credentialJSON) {
	creds, err := s.admin.opts.Store.ListCredentials(c.Request.Context(), v.Org.ID)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	now := s.admin.opts.Now()
	d := &credentialsPage{Fields: fields, New: created}
	for _, cr := range creds {
		r := credentialRow{C: cr, State: "active", Scopes: strings.Join(cr.Scopes, ", ")}
		switch {
		case cr.Revoked:
			r.State = "revoked"
		case !cr.ExpiresAt.IsZero() && !now.Before(cr.ExpiresAt):
			r.State = "expired"
		}
		d.Rows = append(d.Rows, r)
	}
	v.Title, v.Section, v.Data = "Credentials", "credentials", d
	if created != nil {
		c.Header("Cache-Control", "no-store")
	}
	s.render(c, status, "credentials", v)
}

func (s *server) consoleCreateCredential(c *gin.Context, v *view) {
	name, scopes, expires := strings.TrimSpace(c.PostForm("name")), c.PostFormArray("scopes"), strings.TrimSpace(c.PostForm("expires_at"))
	fields := credentialFields(name, scopes, expires)
	req := credentialCreateRequest{Name: name, Scopes: scopes}
	var problems []string
	if expires != "" {
		t, err := time.ParseInLocation(credentialLayout, expires, time.UTC)
		if err != nil {
			problems = append(problems, "expires_at: want a date and a time, such as 2030-01-31T18:00")
		} else {
			req.ExpiresAt = &t
		}
	}
	ps, err := adminProblems(&req)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	if problems = append(problems, ps...); len(problems) > 0 {
		v.Problems = attachProblems(fields, problems)
		s.showCredentials(c, v, http.StatusBadRequest, fields, nil)
		return
	}
	cred, secret, err := s.newCredential(c, v.Org.ID, req)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	out := credentialOut(cred)
	out.Secret = secret
	v.Notice = "The credential is created. Copy its secret now: it is shown only this once."
	s.showCredentials(c, v, http.StatusCreated, credentialFields("", []string{"statements/write", "statements/read/mine"}, ""), &out)
}

func (s *server) consoleRevokeCredential(c *gin.Context, v *view) {
	ctx, org, key := c.Request.Context(), v.Org.ID, c.Param("key")
	if _, err := s.orgCredential(ctx, org, key); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	now := s.admin.opts.Now()
	if _, err := s.changeCredential(ctx, key, auth.CredentialUpdate{RevokedAt: &now}); err != nil {
		s.consoleFail(c, v, err)
		return
	}
	redirectDone(c, "/orgs/"+org+"/credentials", "revoked")
}
