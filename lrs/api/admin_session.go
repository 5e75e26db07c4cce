package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

// Accounts and sessions in the admin API: sign-in with a password (or an
// OpenID Connect provider, admin_oidc.go) gives a session cookie and a
// CSRF token; every admin request then carries the cookie, and every
// state-changing one also the token, in the X-CSRF-Token header (or, from
// the console's forms, the csrf_token field). The operator token keeps
// working for automation. adminGate authenticates and authorizes every
// admin route (admin_access.go).

// AccountMailer mails invitations and password reset links.
type AccountMailer interface {
	SendInvitation(ctx context.Context, to, link string, t auth.AccountToken) error
	SendPasswordReset(ctx context.Context, to, link string, a auth.Account, expires time.Time) error
}

const (
	// CSRFHeader carries the CSRF token of a session on state-changing
	// admin requests.
	CSRFHeader = "X-CSRF-Token"
	csrfField  = "csrf_token"

	sessionCookieName       = "lrs_session"
	secureSessionCookieName = "__Host-lrs_session" // Secure, Path=/, no Domain: bound to this origin
)

// adminPrincipal is who makes an admin request.
type adminPrincipal struct {
	token   bool   // the operator token
	session string // the session id (cookie), when signed in
	info    auth.SessionInfo
}

func (p adminPrincipal) operator() bool {
	return p.token || p.info.Account.Role == auth.RoleOperator
}

func (p adminPrincipal) administers(org string) bool {
	return p.token || p.info.Account.Administers(org)
}

func (p adminPrincipal) who() string {
	switch {
	case p.token:
		return "admin-token"
	case p.session != "":
		return "account:" + p.info.Account.Email
	}
	return "anonymous"
}

const keyAdminPrincipal = "lrs.admin.principal"

func adminPrincipalOf(c *gin.Context) adminPrincipal {
	v, _ := c.Get(keyAdminPrincipal)
	p, _ := v.(adminPrincipal)
	return p
}

// identityState is the accounts part of the admin API.
type identityState struct {
	id        *auth.Identity
	mailer    AccountMailer
	secure    bool   // cookies are Secure (the public URL is https)
	origin    string // the public URL's origin, for the Origin check
	signIns   *prometheus.CounterVec
	oidc      *oidcState // nil: no provider (admin_oidc.go)
	mailWG    sync.WaitGroup
	mailLog   *slog.Logger
	publicURL string
}

// signInOutcomes are the outcome label values of lrs_admin_sign_ins_total.
var signInOutcomes = []string{"ok", "unknown_account", "wrong_password", "no_password", "disabled",
	"throttled_account", "throttled_client", "refused", "error"}

func (s *server) mountIdentity(a *adminState, reg prometheus.Registerer) error {
	opts := &a.opts
	if opts.Identity == nil {
		return nil
	}
	st := &identityState{id: opts.Identity, mailer: opts.Mailer, mailLog: a.audit, publicURL: strings.TrimRight(opts.HomePage, "/")}
	if u, err := url.Parse(opts.HomePage); err == nil && u.Host != "" {
		st.secure = u.Scheme == "https"
		st.origin = u.Scheme + "://" + u.Host
	}
	if reg != nil {
		cv, err := registerCounterVec(reg, prometheus.CounterOpts{
			Namespace: "lrs",
			Subsystem: "admin",
			Name:      "sign_ins_total",
			Help:      "Sign-in attempts of accounts, by method (password, oidc) and outcome (ok, unknown_account, wrong_password, no_password, disabled, throttled_account, throttled_client, refused, error).",
		}, "method", "outcome")
		if err != nil {
			return err
		}
		for _, o := range signInOutcomes {
			cv.WithLabelValues("password", o)
		}
		st.signIns = cv
	}
	if len(opts.OIDC) > 0 {
		o, err := newOIDCState(opts.OIDC, st)
		if err != nil {
			return err
		}
		st.oidc = o
		if st.signIns != nil {
			for _, o := range signInOutcomes {
				st.signIns.WithLabelValues("oidc", o)
			}
		}
	}
	a.identity = st
	return nil
}

func (s *server) countSignIn(method, outcome string) {
	if st := s.admin.identity; st != nil && st.signIns != nil {
		st.signIns.WithLabelValues(method, outcome).Inc()
	}
}

// ---- the gate ----

// adminGate authenticates the request (the operator token, or a session
// cookie with its CSRF token on state-changing requests) and applies the
// route's access rule.
func (s *server) adminGate(c *gin.Context) {
	route := strings.TrimPrefix(c.FullPath(), AdminPrefix)
	acc, _ := accessOf(c.Request.Method, route)
	if acc == accessPublic {
		// GET: the OpenID Connect sign-in, whose callback is a navigation
		// from the provider's site (its state protects it).
		if unsafeMethod(c.Request.Method) && s.crossSite(c) {
			s.refuse(c, "cross-site requests are refused")
			return
		}
		c.Next()
		return
	}
	p, ok := s.adminAuthenticate(c)
	if !ok {
		return
	}
	c.Set(keyAdminPrincipal, p)
	if p.session != "" && unsafeMethod(c.Request.Method) {
		if s.crossSite(c) {
			s.refuse(c, "cross-site requests are refused")
			return
		}
		if !s.admin.identity.id.CheckCSRF(p.session, c.Request.Header.Get(CSRFHeader)) {
			s.refuse(c, "the "+CSRFHeader+" header must carry the session's CSRF token (GET "+AdminPrefix+"/session returns it)")
			return
		}
	}
	if msg := p.refusal(acc, c.Param("org")); msg != "" {
		s.refuse(c, msg)
		return
	}
	c.Next()
}

// refusal says why p may not use a route of access acc with the :org org,
// "" when p may (adminGate, and the console's pages).
func (p adminPrincipal) refusal(acc access, org string) string {
	switch {
	case acc == accessOperator && !p.operator():
		return "only operators may do this"
	case acc == accessOrg && !p.administers(org):
		return fmt.Sprintf("your account administers organization %q, not %q", p.info.Account.Org, org)
	}
	return ""
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// refuse answers 403 and audits the refusal.
func (s *server) refuse(c *gin.Context, msg string) {
	writeError(c, http.StatusForbidden, lrs.EFORBIDDEN, msg)
	s.auditRecord(c, "authorize", c.Param("org"), http.StatusForbidden)
}

// crossSite reports whether a browser sent the request from another site
// (Sec-Fetch-Site, else the Origin header): such a request is never
// accepted for a state-changing or public admin route, whatever cookies it
// carries. Scripts send neither header.
func (s *server) crossSite(c *gin.Context) bool {
	switch c.Request.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none": // "none": typed by the user
		return false
	case "cross-site", "same-site":
		return true
	}
	o := c.Request.Header.Get("Origin")
	if o == "" {
		return false
	}
	if st := s.admin.identity; st != nil && st.origin != "" && o == st.origin {
		return false
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return o != scheme+"://"+c.Request.Host // "null" included
}

// adminAuthenticate returns the principal of the request: the operator
// token in the Authorization header, else the session cookie. It answers
// 401 itself when there is neither or they are not valid.
func (s *server) adminAuthenticate(c *gin.Context) (adminPrincipal, bool) {
	st := s.admin.identity
	if h := c.Request.Header.Get("Authorization"); h != "" || st == nil {
		scheme, tok, ok := strings.Cut(h, " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(sum[:], s.admin.token[:]) != 1 {
			s.guard.fail(c, "admin_token")
			c.Header("WWW-Authenticate", `Bearer realm="lrs-admin"`)
			msg := "a valid admin bearer token is required"
			if st != nil {
				msg = "sign in (POST " + AdminPrefix + "/session), or send a valid admin bearer token"
			}
			writeError(c, http.StatusUnauthorized, lrs.EUNAUTHORIZED, msg)
			s.auditRecord(c, "auth", "", http.StatusUnauthorized)
			return adminPrincipal{}, false
		}
		return adminPrincipal{token: true}, true
	}
	info, session, err := s.sessionOf(c)
	if err != nil {
		if errors.Is(err, auth.ErrNoSession) {
			if session != "" {
				s.clearSessionCookie(c)
			}
			c.Header("WWW-Authenticate", `Bearer realm="lrs-admin"`)
			writeError(c, http.StatusUnauthorized, lrs.EUNAUTHORIZED, "sign in (POST "+AdminPrefix+"/session), or send a valid admin bearer token")
			s.auditRecord(c, "auth", "", http.StatusUnauthorized)
		} else {
			s.failAdmin(c, err)
		}
		return adminPrincipal{}, false
	}
	return adminPrincipal{session: session, info: info}, true
}

// sessionOf verifies the request's session cookie. session is the cookie's
// value ("" when there is none).
func (s *server) sessionOf(c *gin.Context) (auth.SessionInfo, string, error) {
	st := s.admin.identity
	ck, err := c.Request.Cookie(st.cookieName())
	if err != nil || ck.Value == "" {
		return auth.SessionInfo{}, "", auth.ErrNoSession
	}
	info, err := st.id.Verify(c.Request.Context(), ck.Value)
	return info, ck.Value, err
}

func (st *identityState) cookieName() string {
	if st.secure {
		return secureSessionCookieName
	}
	return sessionCookieName
}

func (s *server) setSessionCookie(c *gin.Context, session string, expires time.Time) {
	st := s.admin.identity
	http.SetCookie(c.Writer, &http.Cookie{
		Name: st.cookieName(), Value: session, Path: "/", Expires: expires.UTC(),
		Secure: st.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (s *server) clearSessionCookie(c *gin.Context) {
	st := s.admin.identity
	http.SetCookie(c.Writer, &http.Cookie{
		Name: st.cookieName(), Value: "", Path: "/", MaxAge: -1,
		Secure: st.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// ---- representations ----

type accountJSON struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Role        string    `json:"role"`
	Org         string    `json:"org,omitempty"`
	HasPassword bool      `json:"has_password"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func accountOut(a auth.Account) accountJSON {
	return accountJSON{ID: a.ID, Email: a.Email, Name: a.Name, Role: string(a.Role), Org: a.Org,
		HasPassword: a.PasswordHash != "", Disabled: a.Disabled, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

// sessionJSON answers GET /session and the sign-ins.
type sessionJSON struct {
	// Via is "session" or "token".
	Via           string       `json:"via"`
	Role          string       `json:"role"`
	Org           string       `json:"org,omitempty"`
	Account       *accountJSON `json:"account,omitempty"`
	CSRFToken     string       `json:"csrf_token,omitempty"`
	Method        string       `json:"method,omitempty"`
	CreatedAt     *time.Time   `json:"created_at,omitempty"`
	ExpiresAt     *time.Time   `json:"expires_at,omitempty"`
	IdleExpiresAt *time.Time   `json:"idle_expires_at,omitempty"`
}

func (s *server) sessionOut(session string, info auth.SessionInfo) sessionJSON {
	a := accountOut(info.Account)
	return sessionJSON{Via: "session", Role: a.Role, Org: a.Org, Account: &a,
		CSRFToken: s.admin.identity.id.CSRFToken(session), Method: info.Session.Method,
		CreatedAt: timeOrNil(info.Session.CreatedAt), ExpiresAt: timeOrNil(info.Session.ExpiresAt), IdleExpiresAt: timeOrNil(info.IdleExpiresAt)}
}

type invitationJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Org       string    `json:"org,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// MailSent and AcceptURL answer a create only: the link is in the
	// answer when no mail was sent (no SMTP server configured, or it
	// failed), for the operator to hand over.
	MailSent  *bool  `json:"mail_sent,omitempty"`
	AcceptURL string `json:"accept_url,omitempty"`
}

func invitationOut(t auth.AccountToken) invitationJSON {
	return invitationJSON{ID: hex.EncodeToString(t.Hash), Email: t.Email, Name: t.Name, Role: string(t.Role), Org: t.Org,
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC()}
}

// ---- sign-in and sessions ----

type signInRequest struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=1024"`
}

// passwordSignIn signs in with a password: the one implementation behind
// the admin API and the console's form. It counts the attempt and returns
// the account, or the refusal (signInRefusal).
func (s *server) passwordSignIn(c *gin.Context, email, password string) (auth.Account, error) {
	if norm, err := auth.NormalizeEmail(email); err == nil {
		setTarget(c, norm)
	}
	a, err := s.admin.identity.id.PasswordSignIn(c.Request.Context(), email, password, c.RemoteIP())
	s.countSignIn("password", auth.SignInReason(err))
	return a, err
}

// signInRefusal is the answer to a refused sign-in: 401, 403 for a
// disabled account, 429 throttled (with Retry-After); ok is false for an
// error that is not a refusal.
func signInRefusal(c *gin.Context, err error) (status int, code, msg string, ok bool) {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		c.Header("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds())+1))
		return http.StatusTooManyRequests, "throttled", "too many failed sign-ins: try again later", true
	case errors.Is(err, auth.ErrAccountDisabled): // the password was right: no oracle
		return http.StatusForbidden, lrs.EFORBIDDEN, "this account is disabled", true
	case errors.Is(err, auth.ErrSignInRefused):
		return http.StatusUnauthorized, lrs.EUNAUTHORIZED, "the email or the password is wrong", true
	}
	return 0, "", "", false
}

// beginSession starts a session for a, sets its cookie and makes a the
// request's principal (for the audit record).
func (s *server) beginSession(c *gin.Context, a auth.Account, method string) (string, auth.SessionInfo, error) {
	st := s.admin.identity
	session, sess, err := st.id.StartSession(c.Request.Context(), a, method, c.RemoteIP())
	if err != nil {
		return "", auth.SessionInfo{}, err
	}
	info := auth.SessionInfo{Session: sess, Account: a, IdleExpiresAt: sess.LastSeen.Add(st.id.Options().IdleTimeout)}
	if info.IdleExpiresAt.After(sess.ExpiresAt) {
		info.IdleExpiresAt = sess.ExpiresAt
	}
	s.setSessionCookie(c, session, sess.ExpiresAt)
	c.Set(keyAdminPrincipal, adminPrincipal{session: session, info: info})
	c.Header("Cache-Control", "no-store")
	return session, info, nil
}

func (s *server) signIn(c *gin.Context) {
	var req signInRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	a, err := s.passwordSignIn(c, req.Email, req.Password)
	if err != nil {
		if status, code, msg, ok := signInRefusal(c, err); ok {
			writeError(c, status, code, msg)
		} else {
			s.failAdmin(c, err)
		}
		return
	}
	session, info, err := s.beginSession(c, a, "password")
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	c.JSON(http.StatusCreated, s.sessionOut(session, info))
}

func (s *server) whoAmI(c *gin.Context) {
	p := adminPrincipalOf(c)
	c.Header("Cache-Control", "no-store")
	if p.token {
		c.JSON(http.StatusOK, sessionJSON{Via: "token", Role: string(auth.RoleOperator)})
		return
	}
	c.JSON(http.StatusOK, s.sessionOut(p.session, p.info))
}

func (s *server) signOut(c *gin.Context) {
	p := adminPrincipalOf(c)
	if p.session == "" {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "the admin token has no session to end"))
		return
	}
	if err := s.admin.identity.id.SignOut(c.Request.Context(), p.session); err != nil {
		s.failAdmin(c, err)
		return
	}
	s.clearSessionCookie(c)
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

type signedOutJSON struct {
	SignedOut int `json:"signed_out"`
}

func (s *server) signOutEverywhere(c *gin.Context) {
	p := adminPrincipalOf(c)
	if p.session == "" {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "the admin token has no sessions to end"))
		return
	}
	n, err := s.admin.identity.id.SignOutEverywhere(c.Request.Context(), p.info.Account.ID)
	if err != nil {
		s.failAdmin(c, err)
		return
	}
	s.clearSessionCookie(c)
	c.JSON(http.StatusOK, signedOutJSON{n})
}

// ---- accounts ----

type accountCreateRequest struct {
	Email    string `json:"email" validate:"required,email,max=254"`
	Name     string `json:"name" validate:"max=200"`
	Role     string `json:"role" validate:"required,oneof=operator org_admin"`
	Org      string `json:"org" validate:"required_if=Role org_admin,excluded_if=Role operator,omitempty,keychars"`
	Password string `json:"password"`
}

func (r *accountCreateRequest) extraChecks() []string {
	if r.Password == "" {
		return nil
	}
	if err := auth.ValidatePassword(r.Password); err != nil {
		return []string{"password: " + strings.TrimPrefix(err.Error(), "password ")}
	}
	return nil
}

type accountUpdateRequest struct {
	Name     *string `json:"name" validate:"omitempty,max=200"`
	Role     *string `json:"role" validate:"omitempty,oneof=operator org_admin"`
	Org      *string `json:"org" validate:"omitempty,keychars"`
	Password *string `json:"password"`
	Disabled *bool   `json:"disabled"`
}

func (r *accountUpdateRequest) extraChecks() []string {
	if r.Password == nil {
		return nil
	}
	if err := auth.ValidatePassword(*r.Password); err != nil {
		return []string{"password: " + strings.TrimPrefix(err.Error(), "password ")}
	}
	return nil
}

// failIdentity translates the identity errors, then answers as failAdmin.
func (s *server) failIdentity(c *gin.Context, err error) {
	switch {
	case errors.Is(err, auth.ErrAccountNotFound):
		err = lrs.Errorf(lrs.ENOTFOUND, "no account %q", c.Param("id"))
	case errors.Is(err, auth.ErrEmailTaken):
		err = lrs.Errorf(lrs.ECONFLICT, "an account with this email already exists")
	case errors.Is(err, auth.ErrTokenNotFound):
		err = lrs.Errorf(lrs.EINVALID, "this link is not valid: it was used, withdrawn or has expired")
	case errors.Is(err, auth.ErrInvalidEmail):
		err = lrs.Errorf(lrs.EINVALID, "email: is not one plain email address")
	}
	s.failAdmin(c, err)
}

// checkRoleOrg checks that an org_admin's organization exists.
func (s *server) checkRoleOrg(c *gin.Context, role auth.Role, org string) bool {
	if err := s.roleOrgExists(c.Request.Context(), role, org); err != nil {
		s.failAdmin(c, err)
		return false
	}
	return true
}

// roleOrgExists returns an EINVALID error naming org when an org_admin's
// organization does not exist.
func (s *server) roleOrgExists(ctx context.Context, role auth.Role, org string) error {
	if role != auth.RoleOrgAdmin {
		return nil
	}
	if _, err := s.admin.opts.Store.GetOrg(ctx, org); err != nil {
		if errors.Is(err, auth.ErrOrgNotFound) {
			err = lrs.Errorf(lrs.EINVALID, "org: no organization %q", org)
		}
		return err
	}
	return nil
}

func (s *server) listAccounts(c *gin.Context) {
	as, err := s.admin.identity.id.Accounts(c.Request.Context())
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	out := make([]accountJSON, len(as))
	for i, a := range as {
		out[i] = accountOut(a)
	}
	c.JSON(http.StatusOK, gin.H{"accounts": out})
}

func (s *server) createAccount(c *gin.Context) {
	var req accountCreateRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	setTarget(c, strings.ToLower(req.Email))
	role := auth.Role(req.Role)
	if !s.checkRoleOrg(c, role, req.Org) {
		return
	}
	a, err := s.admin.identity.id.CreateAccount(c.Request.Context(),
		auth.NewAccount{Email: req.Email, Name: req.Name, Role: role, Org: req.Org, Password: req.Password})
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	setTarget(c, a.ID)
	c.Header("Location", AdminPrefix+"/accounts/"+a.ID)
	c.JSON(http.StatusCreated, accountOut(a))
}

func (s *server) getAccount(c *gin.Context) {
	a, err := s.admin.identity.id.Account(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	c.JSON(http.StatusOK, accountOut(a))
}

// self reports whether the account in the path is the caller's own.
func self(c *gin.Context) bool {
	p := adminPrincipalOf(c)
	return p.session != "" && p.info.Account.ID == c.Param("id")
}

func (s *server) updateAccount(c *gin.Context) {
	var req accountUpdateRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	a, err := s.changeAccount(c, c.Param("id"), req)
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	c.JSON(http.StatusOK, accountOut(a))
}

// changeAccount applies a valid request to the account id (the admin API
// and the console): an org_admin needs an existing organization, an
// operator has none, and no one disables their own account or changes its
// role.
func (s *server) changeAccount(c *gin.Context, id string, req accountUpdateRequest) (auth.Account, error) {
	ctx := c.Request.Context()
	cur, err := s.admin.identity.id.Account(ctx, id)
	if err != nil {
		return auth.Account{}, err
	}
	ch := auth.AccountChange{Name: req.Name, Org: req.Org, Password: req.Password, Disabled: req.Disabled}
	role, org := cur.Role, cur.Org
	if req.Role != nil {
		r := auth.Role(*req.Role)
		ch.Role, role = &r, r
	}
	if req.Org != nil {
		org = *req.Org
	}
	p := adminPrincipalOf(c)
	switch {
	case role == auth.RoleOrgAdmin && org == "":
		return auth.Account{}, lrs.Errorf(lrs.EINVALID, "org: is required for an org_admin")
	case role == auth.RoleOperator && req.Org != nil && *req.Org != "":
		return auth.Account{}, lrs.Errorf(lrs.EINVALID, "org: an operator has no organization")
	case p.session != "" && p.info.Account.ID == id && (role != cur.Role || req.Disabled != nil && *req.Disabled):
		return auth.Account{}, lrs.Errorf(lrs.ECONFLICT, "you cannot disable your own account or change its role: ask another operator")
	}
	if err := s.roleOrgExists(ctx, role, org); err != nil {
		return auth.Account{}, err
	}
	return s.admin.identity.id.UpdateAccount(ctx, id, ch)
}

func (s *server) deleteAccount(c *gin.Context) {
	if self(c) {
		s.failAdmin(c, lrs.Errorf(lrs.ECONFLICT, "you cannot delete your own account: ask another operator"))
		return
	}
	if err := s.admin.identity.id.DeleteAccount(c.Request.Context(), c.Param("id")); err != nil {
		s.failIdentity(c, err)
		return
	}
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

func (s *server) signOutAccount(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("id")
	if _, err := s.admin.identity.id.Account(ctx, id); err != nil {
		s.failIdentity(c, err)
		return
	}
	n, err := s.admin.identity.id.SignOutEverywhere(ctx, id)
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	c.JSON(http.StatusOK, signedOutJSON{n})
}

// ---- invitations ----

type invitationCreateRequest struct {
	Email string `json:"email" validate:"required,email,max=254"`
	Name  string `json:"name" validate:"max=200"`
	Role  string `json:"role" validate:"required,oneof=operator org_admin"`
	Org   string `json:"org" validate:"required_if=Role org_admin,excluded_if=Role operator,omitempty,keychars"`
}

type invitationAcceptRequest struct {
	Token    string `json:"token" validate:"required,max=128"`
	Password string `json:"password" validate:"required"`
	Name     string `json:"name" validate:"max=200"`
}

func (r *invitationAcceptRequest) extraChecks() []string {
	if err := auth.ValidatePassword(r.Password); err != nil && r.Password != "" {
		return []string{"password: " + strings.TrimPrefix(err.Error(), "password ")}
	}
	return nil
}

func (s *server) listInvitations(c *gin.Context) {
	ts, err := s.admin.identity.id.Invitations(c.Request.Context())
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	now := s.admin.opts.Now()
	out := []invitationJSON{}
	for _, t := range ts {
		if now.Before(t.ExpiresAt) {
			out = append(out, invitationOut(t))
		}
	}
	c.JSON(http.StatusOK, gin.H{"invitations": out})
}

func (s *server) createInvitation(c *gin.Context) {
	var req invitationCreateRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	out, err := s.invite(c, req)
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, out)
}

// invite creates and mails an invitation from a valid request (the admin
// API and the console); the answer carries the link when no mail was sent.
func (s *server) invite(c *gin.Context, req invitationCreateRequest) (invitationJSON, error) {
	ctx, st := c.Request.Context(), s.admin.identity
	setTarget(c, strings.ToLower(req.Email))
	role := auth.Role(req.Role)
	if err := s.roleOrgExists(ctx, role, req.Org); err != nil {
		return invitationJSON{}, err
	}
	switch _, err := st.id.AccountByEmail(ctx, req.Email); {
	case err == nil:
		return invitationJSON{}, auth.ErrEmailTaken
	case !errors.Is(err, auth.ErrAccountNotFound):
		return invitationJSON{}, err
	}
	token, t, err := st.id.Invite(ctx, auth.NewAccount{Email: req.Email, Name: req.Name, Role: role, Org: req.Org},
		adminPrincipalOf(c).who())
	if err != nil {
		return invitationJSON{}, err
	}
	link := st.publicURL + consolePath + "/accept?token=" + url.QueryEscape(token)
	out := invitationOut(t)
	sent := false
	if st.mailer != nil {
		if err := st.mailer.SendInvitation(ctx, t.Email, link, t); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "invitation mail failed", slog.String("error", err.Error()))
		} else {
			sent = true
		}
	}
	out.MailSent = &sent
	if !sent {
		out.AcceptURL = link
	}
	return out, nil
}

func (s *server) deleteInvitation(c *gin.Context) {
	hash, err := hex.DecodeString(c.Param("id"))
	if err != nil || len(hash) != sha256.Size {
		s.failAdmin(c, lrs.Errorf(lrs.ENOTFOUND, "no invitation %q", c.Param("id")))
		return
	}
	if err := s.admin.identity.id.WithdrawInvitation(c.Request.Context(), hash); err != nil {
		if errors.Is(err, auth.ErrTokenNotFound) {
			err = lrs.Errorf(lrs.ENOTFOUND, "no invitation %q", c.Param("id"))
		}
		s.failAdmin(c, err)
		return
	}
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// acceptInvitation creates the invited account and signs it in.
func (s *server) acceptInvitation(c *gin.Context) {
	var req invitationAcceptRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	a, err := s.admin.identity.id.AcceptInvitation(c.Request.Context(), req.Token, req.Password, req.Name)
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	setTarget(c, a.ID)
	session, info, err := s.beginSession(c, a, "password")
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	c.JSON(http.StatusCreated, s.sessionOut(session, info))
}

// ---- password reset ----

type resetRequest struct {
	Email string `json:"email" validate:"required,max=254"`
}

type resetConfirmRequest struct {
	Token    string `json:"token" validate:"required,max=128"`
	Password string `json:"password" validate:"required"`
}

func (r *resetConfirmRequest) extraChecks() []string {
	if err := auth.ValidatePassword(r.Password); err != nil && r.Password != "" {
		return []string{"password: " + strings.TrimPrefix(err.Error(), "password ")}
	}
	return nil
}

// resetAnswer is the one answer to every reset request, whether or not the
// email has an account.
const resetAnswer = "If an account has this email, a link to choose a new password has been mailed to it."

// requestReset answers at once, the same whatever the email, and does the
// work (a store write and a mail) afterwards, so that neither the answer
// nor its timing tells whether the email has an account.
func (s *server) requestReset(c *gin.Context) {
	var req resetRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	if norm, err := auth.NormalizeEmail(req.Email); err == nil {
		setTarget(c, norm)
	}
	s.startReset(req.Email)
	c.JSON(http.StatusAccepted, gin.H{"message": resetAnswer})
}

func (s *server) sendReset(ctx context.Context, email string) {
	st := s.admin.identity
	token, a, expires, ok, err := st.id.RequestPasswordReset(ctx, email)
	switch {
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "password reset failed", slog.String("error", err.Error()))
		return
	case !ok:
		return
	case st.mailer == nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "password reset requested, but no mail can be sent: LRS_SMTP_HOST is not set",
			slog.String("account", a.ID))
		return
	}
	link := st.publicURL + consolePath + "/reset?token=" + url.QueryEscape(token)
	if err := st.mailer.SendPasswordReset(ctx, a.Email, link, a, expires); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "password reset mail failed", slog.String("account", a.ID), slog.String("error", err.Error()))
	}
}

func (s *server) confirmReset(c *gin.Context) {
	var req resetConfirmRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	a, err := s.admin.identity.id.ResetPassword(c.Request.Context(), req.Token, req.Password)
	if err != nil {
		s.failIdentity(c, err)
		return
	}
	setTarget(c, a.ID)
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// ---- credentials under their organization ----

// inCredentialOrg runs h when the credential in the path belongs to the
// organization in the path (else 404), so that organization rules cover
// credentials.
func (s *server) inCredentialOrg(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.orgCredential(c.Request.Context(), c.Param("org"), c.Param("key")); err != nil {
			s.failAdmin(c, err)
			return
		}
		h(c)
	}
}

// orgCredential returns the credential key if it belongs to org, else
// auth.ErrNotFound.
func (s *server) orgCredential(ctx context.Context, org, key string) (auth.Credential, error) {
	cred, err := s.admin.opts.Store.GetCredential(ctx, key)
	if err == nil && cred.Org != org {
		err = auth.ErrNotFound
	}
	return cred, err
}

// routesIdentity adds the account and session routes.
func (s *server) routesIdentity(g *gin.RouterGroup) {
	g.GET("/orgs/:org/credentials/:key", s.audited("credential.get", s.inCredentialOrg(s.getCredential)))
	g.PATCH("/orgs/:org/credentials/:key", s.audited("credential.update", s.inCredentialOrg(s.updateCredential)))
	g.DELETE("/orgs/:org/credentials/:key", s.audited("credential.delete", s.inCredentialOrg(s.deleteCredential)))
	g.POST("/orgs/:org/credentials/:key/revoke", s.audited("credential.revoke", s.inCredentialOrg(s.revokeCredential)))
	if s.admin.identity == nil {
		return
	}
	g.POST("/session", s.audited("session.create", s.signIn))
	g.GET("/session", s.whoAmI)
	g.DELETE("/session", s.audited("session.delete", s.signOut))
	g.DELETE("/sessions", s.audited("session.delete_all", s.signOutEverywhere))
	g.GET("/accounts", s.audited("account.list", s.listAccounts))
	g.POST("/accounts", s.audited("account.create", s.createAccount))
	g.GET("/accounts/:id", s.audited("account.get", s.getAccount))
	g.PATCH("/accounts/:id", s.audited("account.update", s.updateAccount))
	g.DELETE("/accounts/:id", s.audited("account.delete", s.deleteAccount))
	g.DELETE("/accounts/:id/sessions", s.audited("account.sign_out", s.signOutAccount))
	g.GET("/invitations", s.audited("invitation.list", s.listInvitations))
	g.POST("/invitations", s.audited("invitation.create", s.createInvitation))
	g.DELETE("/invitations/:id", s.audited("invitation.delete", s.deleteInvitation))
	g.POST("/invitations/accept", s.audited("invitation.accept", s.acceptInvitation))
	g.POST("/password-reset", s.audited("password_reset.request", s.requestReset))
	g.POST("/password-reset/confirm", s.audited("password_reset.confirm", s.confirmReset))
	g.GET("/session/oidc", s.oidcStart)
	g.GET("/session/oidc/callback", s.audited("session.oidc", s.oidcCallback))
}
