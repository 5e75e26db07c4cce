package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

// The console's home, an organization's overview, and the operators'
// pages: the organizations, and the accounts with their invitations.

func (s *server) routesConsoleOrgs(g *gin.RouterGroup) {
	s.cpage(g, "GET", "/orgs", "GET /orgs", "", s.consoleOrgs)
	s.cpage(g, "POST", "/orgs", "POST /orgs", "org.create", s.consoleCreateOrg)
	s.cpage(g, "GET", "/orgs/:org", "GET /orgs/:org", "", s.consoleOverview)
	s.cpage(g, "GET", "/accounts", "GET /accounts", "", s.consoleAccounts)
	s.cpage(g, "POST", "/accounts/invite", "POST /invitations", "invitation.create", s.consoleInvite)
	s.cpage(g, "POST", "/accounts/:id/disable", "PATCH /accounts/:id", "account.update", s.consoleSetDisabled(true))
	s.cpage(g, "POST", "/accounts/:id/enable", "PATCH /accounts/:id", "account.update", s.consoleSetDisabled(false))
	s.cpage(g, "POST", "/invitations/:id/withdraw", "DELETE /invitations/:id", "invitation.delete", s.consoleWithdraw)
}

// ---- home ----

type homePage struct {
	Account auth.Account
	OrgName string
	Method  string
	Until   string
}

func (s *server) consoleHome(c *gin.Context, v *view) {
	p := adminPrincipalOf(c)
	a := p.info.Account
	d := &homePage{Account: a, Method: map[string]string{"oidc": "with single sign-on", "password": "with a password"}[p.info.Session.Method],
		Until: p.info.Session.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")}
	if a.Role == auth.RoleOrgAdmin {
		d.OrgName = a.Org
		if o, err := s.admin.opts.Store.GetOrg(c.Request.Context(), a.Org); err == nil {
			d.OrgName = o.Name
			v.Org = &o
		}
	}
	v.Title, v.Section, v.Data = "Console", "home", d
	s.render(c, http.StatusOK, "home", v)
}

// ---- an organization's overview ----

type overviewPage struct {
	Configs     []cfgRow
	Objectives  int
	Credentials int
	Statements  chart
	HasCounts   bool
	Forwarding  bool
	Live        string
}

func (s *server) consoleOverview(c *gin.Context, v *view) {
	ctx, org := c.Request.Context(), v.Org.ID
	d := &overviewPage{Live: consolePath + "/orgs/" + org + "/configurations/live"}
	now := s.admin.opts.Now()
	counts, err := s.svc.StatementCounts(ctx, org, now.AddDate(0, 0, -29), now)
	switch {
	case err == nil:
		d.Statements, d.HasCounts = statementsChart("chart-statements", "Statements stored per day, last 30 days", counts), true
	case lrs.ErrorCode(err) != lrs.EUNAVAILABLE:
		s.consoleFail(c, v, err)
		return
	}
	creds, err := s.admin.opts.Store.ListCredentials(ctx, org)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	d.Credentials = len(creds)
	if fa := s.admin.opts.Forward; fa != nil {
		d.Forwarding = true
		if d.Configs, err = s.configurationRows(c, fa, org); err != nil {
			s.consoleFail(c, v, err)
			return
		}
		objs, err := fa.ListObjectives(ctx, org)
		if err != nil {
			s.consoleFail(c, v, err)
			return
		}
		d.Objectives = len(objs)
	}
	v.Title, v.Section, v.Data = v.Org.Name, "overview", d
	s.render(c, http.StatusOK, "overview", v)
}

// ---- organizations ----

type orgsPage struct {
	Orgs   []auth.Organization
	Fields []*field
}

func orgFields(id, name string) []*field {
	n := newField("name", "Name", "text")
	n.Value, n.Required = name, true
	i := newField("id", "Id", "text")
	i.Value, i.Example = id, "acme"
	i.Help = "Optional: letters, digits, '.', '_' and '-'; a random one otherwise. It is part of the organization's addresses and cannot change."
	return []*field{n, i}
}

func (s *server) consoleOrgs(c *gin.Context, v *view) {
	s.showOrgs(c, v, http.StatusOK, orgFields("", ""))
}

func (s *server) showOrgs(c *gin.Context, v *view, status int, fields []*field) {
	orgs, err := s.admin.opts.Store.ListOrgs(c.Request.Context())
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	v.Title, v.Section, v.Data = "Organizations", "orgs", &orgsPage{Orgs: orgs, Fields: fields}
	s.render(c, status, "orgs", v)
}

func (s *server) consoleCreateOrg(c *gin.Context, v *view) {
	req := orgCreateRequest{ID: strings.TrimSpace(c.PostForm("id")), Name: strings.TrimSpace(c.PostForm("name"))}
	fields := orgFields(req.ID, req.Name)
	problems, err := adminProblems(&req)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	if len(problems) == 0 {
		var o auth.Organization
		o, err = s.newOrg(c, req)
		switch {
		case errors.Is(err, auth.ErrOrgTaken):
			problems = []string{"id: an organization with this id already exists"}
		case err != nil:
			s.consoleFail(c, v, err)
			return
		default:
			redirectDone(c, "/orgs/"+o.ID, "org-created")
			return
		}
	}
	v.Problems = attachProblems(fields, problems)
	s.showOrgs(c, v, http.StatusBadRequest, fields)
}

// ---- accounts and invitations ----

type accountsPage struct {
	Accounts    []auth.Account
	Invitations []invitationRow
	Fields      []*field
	Self        string // the signed-in account's id
	Link        string // an invitation's link, when no mail was sent
}

type invitationRow struct {
	ID string
	T  auth.AccountToken
}

func inviteFields(email, name, role, org string, orgs []auth.Organization) []*field {
	e := newField("email", "Email", "email")
	e.Value, e.Required, e.Autocomplete = email, true, "off"
	n := newField("name", "Name", "text")
	n.Value = name
	r := newField("role", "Role", "select")
	r.Value, r.Required = role, true
	r.Options = []option{{Value: string(auth.RoleOrgAdmin), Label: "administrator of one organization"}, {Value: string(auth.RoleOperator), Label: "operator (every organization)"}}
	if r.Value == "" {
		r.Value = string(auth.RoleOrgAdmin)
	}
	o := newField("org", "Organization", "select")
	o.Value = org
	o.Options = []option{{Value: "", Label: "none (an operator)"}}
	for _, x := range orgs {
		o.Options = append(o.Options, option{Value: x.ID, Label: x.Name + " (" + x.ID + ")"})
	}
	o.When = &when{Input: "role", Values: `["org_admin"]`, Text: "Applies when Role is administrator of one organization."}
	return []*field{e, n, r, o}
}

func (s *server) consoleAccounts(c *gin.Context, v *view) {
	s.showAccounts(c, v, http.StatusOK, nil, "")
}

func (s *server) showAccounts(c *gin.Context, v *view, status int, fields []*field, link string) {
	ctx := c.Request.Context()
	id := s.admin.identity.id
	as, err := id.Accounts(ctx)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	ts, err := id.Invitations(ctx)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	orgs, err := s.admin.opts.Store.ListOrgs(ctx)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	if fields == nil {
		fields = inviteFields("", "", "", "", orgs)
	}
	d := &accountsPage{Accounts: as, Fields: fields, Self: adminPrincipalOf(c).info.Account.ID, Link: link}
	now := s.admin.opts.Now()
	for _, t := range ts {
		if now.Before(t.ExpiresAt) {
			d.Invitations = append(d.Invitations, invitationRow{ID: hex.EncodeToString(t.Hash), T: t})
		}
	}
	v.Title, v.Section, v.Data = "Accounts", "accounts", d
	if link != "" {
		c.Header("Cache-Control", "no-store")
	}
	s.render(c, status, "accounts", v)
}

func (s *server) consoleInvite(c *gin.Context, v *view) {
	req := invitationCreateRequest{Email: strings.TrimSpace(c.PostForm("email")), Name: strings.TrimSpace(c.PostForm("name")),
		Role: c.PostForm("role"), Org: c.PostForm("org")}
	if req.Role == string(auth.RoleOperator) {
		req.Org = "" // the drop-down's value does not apply
	}
	orgs, err := s.admin.opts.Store.ListOrgs(c.Request.Context())
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	fields := inviteFields(req.Email, req.Name, req.Role, req.Org, orgs)
	problems, err := adminProblems(&req)
	if err != nil {
		s.consoleFail(c, v, err)
		return
	}
	if len(problems) == 0 {
		out, err := s.invite(c, req)
		switch {
		case errors.Is(err, auth.ErrEmailTaken):
			problems = []string{"email: an account with this email already exists"}
		case errors.Is(err, auth.ErrInvalidEmail):
			problems = []string{"email: is not one plain email address"}
		case lrs.ErrorCode(err) == lrs.EINVALID:
			problems = []string{lrs.ErrorMessage(err)}
		case err != nil:
			s.consoleFail(c, v, err)
			return
		case out.AcceptURL != "":
			v.Notice = consoleDone["invite-link"]
			s.showAccounts(c, v, http.StatusCreated, nil, out.AcceptURL)
			return
		default:
			redirectDone(c, "/accounts", "invited")
			return
		}
	}
	v.Problems = attachProblems(fields, problems)
	s.showAccounts(c, v, http.StatusBadRequest, fields, "")
}

func (s *server) consoleSetDisabled(disabled bool) consoleHandler {
	return func(c *gin.Context, v *view) {
		_, err := s.changeAccount(c, c.Param("id"), accountUpdateRequest{Disabled: &disabled})
		switch {
		case errors.Is(err, auth.ErrAccountNotFound):
			s.consoleFail(c, v, auth.ErrNotFound)
			return
		case err != nil:
			s.consoleFail(c, v, err)
			return
		}
		done := "enabled"
		if disabled {
			done = "disabled"
		}
		redirectDone(c, "/accounts", done)
	}
}

func (s *server) consoleWithdraw(c *gin.Context, v *view) {
	hash, err := hex.DecodeString(c.Param("id"))
	if err != nil || len(hash) != sha256.Size {
		s.consoleFail(c, v, auth.ErrNotFound)
		return
	}
	if err := s.admin.identity.id.WithdrawInvitation(c.Request.Context(), hash); err != nil {
		if errors.Is(err, auth.ErrTokenNotFound) {
			err = auth.ErrNotFound
		}
		s.consoleFail(c, v, err)
		return
	}
	redirectDone(c, "/accounts", "withdrawn")
}
