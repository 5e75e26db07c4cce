package api

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
)

// The console's pages before and around signing in, served by lrs itself
// and rendered on the server (no script at all, so their
// Content-Security-Policy allows none): sign-in (password, and the OpenID
// Connect providers), sign-out, and the pages the invitation and password
// reset mails link to. They are built on the admin API's own functions
// (passwordSignIn, beginSession, the Identity) and add no rule of their
// own: what a page shows, the admin API would answer. The pages of
// signed-in accounts are console_app.go's.

const consolePath = "/console"

//go:embed console
var consoleFS embed.FS

var consolePages = template.Must(template.New("console").Funcs(consoleFuncs).ParseFS(consoleFS, "console/*.html"))

// consoleCSP allows the console's own style sheet and forms, nothing else:
// no script, no frame, no other origin.
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func consoleHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // the mailed links carry tokens: never to another site
	h.Set("Cache-Control", "no-store")
	if c.Request.Method == http.MethodPost { // the forms hold a few short fields
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxConsoleForm)
	}
	c.Next()
}

// maxConsoleForm bounds a console form's body (a longer one reads as empty
// and is refused like an empty form).
const maxConsoleForm = 64 << 10

func (s *server) routesConsole(e *gin.Engine) {
	css, _ := consoleFS.ReadFile("console/console.css")
	js, _ := consoleFS.ReadFile("console/console.js")
	g := e.Group(consolePath, consoleHeaders)
	g.GET("", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, consolePath+"/") })
	s.cpage(g, "GET", "/", "GET /session", "", s.consoleHome) // console_operators.go
	g.GET("/assets/console.css", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "text/css; charset=utf-8", css)
	})
	g.GET("/assets/console.js", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", js)
	})
	// The pages of signed-in accounts (console_app.go).
	s.routesConsoleOrgs(g)
	s.routesConsoleConfigurations(g)
	s.routesConsoleObjectives(g)
	s.routesConsoleResults(g) // console_results.go
	s.routesConsoleCredentials(g)
	s.routesConsoleStatements(g)
	g.GET("/login", s.consoleLogin)
	g.POST("/login", s.audited("session.create", s.consoleLoginPost))
	g.POST("/logout", s.audited("session.delete", s.consoleLogout(false)))
	g.POST("/logout-everywhere", s.audited("session.delete_all", s.consoleLogout(true)))
	g.GET("/accept", s.consoleTokenPage("accept"))
	g.POST("/accept", s.audited("invitation.accept", s.consoleAcceptPost))
	g.GET("/reset", s.consoleTokenPage("reset"))
	g.POST("/reset", s.audited("password_reset.confirm", s.consoleResetPost))
	g.GET("/forgot", func(c *gin.Context) { s.page(c, http.StatusOK, "forgot", pageData{Title: "Reset your password"}) })
	g.POST("/forgot", s.audited("password_reset.request", s.consoleForgotPost))
}

type pageData struct {
	Title, Error, Notice, Who string
	// login
	Email     string
	Providers []string
	// password pages
	Action, Token, Button, Name string
	AskName                     bool
}

func (s *server) page(c *gin.Context, status int, name string, d pageData) {
	var b bytes.Buffer
	if err := consolePages.ExecuteTemplate(&b, name, d); err != nil {
		s.fail(c, err)
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// The sign-in page's messages, by the code in ?error= (never text from
// the request).
var consoleErrors = map[string]string{
	"state":       "The single sign-on could not be completed (it was altered, or is too old). Try again.",
	"expired":     "The single sign-on took too long. Try again.",
	"provider":    "The identity provider did not sign you in.",
	"code":        "The identity provider refused the sign-in code. Try again.",
	"token":       "The identity provider's answer could not be verified.",
	"account":     "Your identity is not an account of this LRS: ask an operator.",
	"disabled":    "This account is disabled.",
	"unavailable": "The sign-in could not be completed just now. Try again later.",
	"session":     "Your session has ended: sign in again.",
}

var consoleNotices = map[string]string{
	"signed-out": "You are signed out.",
	"everywhere": "You are signed out on every device.",
	"reset":      "Your password is set: sign in with it.",
}

func (s *server) providerNames() []string {
	var out []string
	for _, p := range s.oidcProviders() {
		out = append(out, p.Name)
	}
	return out
}

func (s *server) consoleLogin(c *gin.Context) {
	s.page(c, http.StatusOK, "login", pageData{Title: "Sign in", Error: consoleErrors[c.Query("error")],
		Notice: consoleNotices[c.Query("done")], Providers: s.providerNames()})
}

func (s *server) consoleLoginPost(c *gin.Context) {
	if s.crossSite(c) {
		s.page(c, http.StatusForbidden, "login", pageData{Title: "Sign in", Error: "Cross-site requests are refused.", Providers: s.providerNames()})
		return
	}
	email, password := c.PostForm("email"), c.PostForm("password")
	a, err := s.passwordSignIn(c, email, password)
	if err == nil {
		_, _, err = s.beginSession(c, a, "password")
	}
	if err != nil {
		status, _, msg, ok := signInRefusal(c, err)
		if !ok {
			status, msg = http.StatusServiceUnavailable, consoleErrors["unavailable"]
		}
		s.page(c, status, "login", pageData{Title: "Sign in", Error: sentence(msg), Email: email, Providers: s.providerNames()})
		return
	}
	c.Redirect(http.StatusSeeOther, consolePath+"/")
}

// sentence capitalizes an API message for a page.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	b := []byte(msg)
	if 'a' <= b[0] && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b) + "."
}

// consoleSession returns the request's session, or redirects to the
// sign-in page and returns false.
func (s *server) consoleSession(c *gin.Context) (auth.SessionInfo, string, bool) {
	info, session, err := s.sessionOf(c)
	if err != nil {
		if session != "" {
			s.clearSessionCookie(c)
		}
		target := consolePath + "/login"
		if session != "" && errors.Is(err, auth.ErrNoSession) {
			target += "?error=session"
		}
		c.Redirect(http.StatusSeeOther, target)
		return auth.SessionInfo{}, "", false
	}
	return info, session, true
}

func (s *server) consoleLogout(everywhere bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		info, session, ok := s.consoleSession(c)
		if !ok {
			return
		}
		c.Set(keyAdminPrincipal, adminPrincipal{session: session, info: info})
		if s.crossSite(c) || !s.admin.identity.id.CheckCSRF(session, c.PostForm(csrfField)) {
			s.page(c, http.StatusForbidden, "login", pageData{Title: "Sign in", Error: "This form is too old or came from another site: nothing was done."})
			return
		}
		var err error
		done := "signed-out"
		if everywhere {
			_, err = s.admin.identity.id.SignOutEverywhere(c.Request.Context(), info.Account.ID)
			done = "everywhere"
		} else {
			err = s.admin.identity.id.SignOut(c.Request.Context(), session)
		}
		if err != nil {
			s.page(c, http.StatusServiceUnavailable, "login", pageData{Title: "Sign in", Error: consoleErrors["unavailable"]})
			return
		}
		s.clearSessionCookie(c)
		c.Redirect(http.StatusSeeOther, consolePath+"/login?done="+done)
	}
}

func tokenPageData(kind string) pageData {
	if kind == "accept" {
		return pageData{Title: "Create your account", Action: consolePath + "/accept", Button: "Create my account", AskName: true}
	}
	return pageData{Title: "Choose a new password", Action: consolePath + "/reset", Button: "Set my password"}
}

func (s *server) consoleTokenPage(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		d := tokenPageData(kind)
		d.Token = c.Query("token")
		if d.Token == "" {
			d.Error = "This link is incomplete: open the link of your mail."
		}
		s.page(c, http.StatusOK, "password", d)
	}
}

// tokenForm reads a password page's form; it renders the page again with
// the problem and returns false when there is one.
func (s *server) tokenFormOK(c *gin.Context, kind string) (token, password string, ok bool) {
	d := tokenPageData(kind)
	d.Token, d.Name = c.PostForm("token"), c.PostForm("name")
	switch err := auth.ValidatePassword(c.PostForm("password")); {
	case s.crossSite(c):
		d.Error = "Cross-site requests are refused."
	case err != nil:
		d.Error = sentence(err.Error())
	case len(d.Name) > 200:
		d.Error = "Your name must be at most 200 characters long."
	default:
		return d.Token, c.PostForm("password"), true
	}
	s.page(c, http.StatusBadRequest, "password", d)
	return "", "", false
}

func (s *server) tokenRefused(c *gin.Context, kind string, err error) {
	d := tokenPageData(kind)
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, auth.ErrTokenNotFound):
		d.Error = "This link is not valid: it was used, withdrawn or has expired."
	case errors.Is(err, auth.ErrEmailTaken):
		d.Error = "An account with your email exists already: sign in, or reset its password."
	default:
		status, d.Error = http.StatusServiceUnavailable, consoleErrors["unavailable"]
	}
	s.page(c, status, "password", d)
}

func (s *server) consoleAcceptPost(c *gin.Context) {
	token, password, ok := s.tokenFormOK(c, "accept")
	if !ok {
		return
	}
	a, err := s.admin.identity.id.AcceptInvitation(c.Request.Context(), token, password, c.PostForm("name"))
	if err == nil {
		setTarget(c, a.ID)
		_, _, err = s.beginSession(c, a, "password")
	}
	if err != nil {
		s.tokenRefused(c, "accept", err)
		return
	}
	c.Redirect(http.StatusSeeOther, consolePath+"/")
}

func (s *server) consoleResetPost(c *gin.Context) {
	token, password, ok := s.tokenFormOK(c, "reset")
	if !ok {
		return
	}
	a, err := s.admin.identity.id.ResetPassword(c.Request.Context(), token, password)
	if err != nil {
		s.tokenRefused(c, "reset", err)
		return
	}
	setTarget(c, a.ID)
	c.Redirect(http.StatusSeeOther, consolePath+"/login?done=reset")
}

func (s *server) consoleForgotPost(c *gin.Context) {
	d := pageData{Title: "Reset your password"}
	if s.crossSite(c) {
		d.Error = "Cross-site requests are refused."
		s.page(c, http.StatusForbidden, "forgot", d)
		return
	}
	email := c.PostForm("email")
	if norm, err := auth.NormalizeEmail(email); err == nil {
		setTarget(c, norm)
	}
	s.startReset(email)
	d.Notice = resetAnswer
	s.page(c, http.StatusAccepted, "forgot", d)
}

// startReset does the work of a reset request in the background (see
// requestReset).
func (s *server) startReset(email string) {
	st := s.admin.identity
	st.mailWG.Add(1)
	go func() {
		defer st.mailWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.sendReset(ctx, email)
	}()
}
