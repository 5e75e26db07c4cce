package api

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// The console's pages for signed-in accounts: an organization's LMS
// configurations, objectives, credentials and statements, and for
// operators the organizations and accounts. They are rendered on the
// server (html/template escapes every value) from the same functions the
// admin API calls, so they add no rule of their own:
//
//   - who may open a page or send a form is the admin route's rule
//     (admin_access.go): each console route names the admin route it does
//     the work of (consoleRoute.mirror), and a route without one is judged
//     by its own path, like an admin route (":org" is the organization's);
//   - what is valid is what the services say (forward.Admin's problems,
//     the admin API's request checks), shown beside the field they name;
//   - forms carry the session's CSRF token and cross-site posts are
//     refused, as the admin API does.
//
// One small script (console/console.js, no build step) makes some parts
// live: the status badges, counts and delivery log (it polls fragments of
// the page), the webhook mapping's preview, and the answers of "test
// connection" and "retry parked now" without leaving the page. Without it
// every page and form still works.

// consoleAppCSP is the console's pages' policy: the one script file of the
// console, its style sheet and its own origin, nothing else.
const consoleAppCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// fragmentHeader marks a request of console.js for a part of a page.
const fragmentHeader = "X-Console-Fragment"

// liveEvery is how often console.js refreshes the live parts of a page,
// in milliseconds.
const liveEvery = 2000

// view is what every signed-in page renders.
type view struct {
	Title    string
	Who      string // the account's email
	CSRF     string
	Error    string
	Notice   string
	Operator bool
	Org      *auth.Organization // the organization the page is of, nil for none
	Section  string             // the navigation entry of the page
	Live     int                // console.js's refresh period (ms)
	Problems []problem          // the problems of the form, for the summary
	Data     any                // the page's own
}

// consoleRoute is a console route and the admin route whose rule it takes.
type consoleRoute struct {
	method, path string
	// mirror is "METHOD /path" of the admin route (relative to AdminPrefix)
	// whose work the page does; "" judges the page by its own path.
	mirror string
}

// rule is the admin route whose access rule applies to the route.
func (r consoleRoute) rule() (method, path string) {
	if r.mirror != "" {
		method, path, _ = strings.Cut(r.mirror, " ")
		return method, path
	}
	return r.method, r.path
}

type consoleHandler func(c *gin.Context, v *view)

// keyConsoleCSRF is the page's CSRF token in the request's context.
const keyConsoleCSRF = "lrs.console.csrf"

// cpage registers a console page (path relative to consolePath) doing the
// work of the admin route mirror; a page that changes something names its
// audited action (the admin route's).
func (s *server) cpage(g *gin.RouterGroup, method, path, mirror, action string, h consoleHandler) {
	r := consoleRoute{method: method, path: path, mirror: mirror}
	s.consoleRoutes = append(s.consoleRoutes, r)
	hf := s.consoleGate(r, h)
	if action != "" {
		hf = s.audited(action, hf)
	}
	g.Handle(method, path, hf)
}

// consoleGate signs the page's account in (or sends it to the sign-in
// page), refuses cross-site posts and posts without the page's CSRF token,
// applies the admin route's access rule, and finds the page's
// organization.
func (s *server) consoleGate(r consoleRoute, h consoleHandler) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Content-Security-Policy", consoleAppCSP)
		info, session, ok := s.consoleSession(c)
		if !ok {
			return
		}
		p := adminPrincipal{session: session, info: info}
		c.Set(keyAdminPrincipal, p)
		v := &view{Who: info.Account.Email, CSRF: s.admin.identity.id.CSRFToken(session), Operator: p.operator(), Live: liveEvery}
		c.Set(keyConsoleCSRF, v.CSRF) // for the forms of sections and live parts (a failed backfill's restart)
		if c.Request.Method == http.MethodPost && (s.crossSite(c) || !s.admin.identity.id.CheckCSRF(session, c.PostForm(csrfField))) {
			s.consoleRefuse(c, v, http.StatusForbidden, "This form is too old or came from another site: nothing was done. Reload the page and try again.")
			return
		}
		method, path := r.rule()
		acc, _ := accessOf(method, path)
		if msg := p.refusal(acc, c.Param("org")); msg != "" {
			s.auditRecord(c, "authorize", c.Param("org"), http.StatusForbidden)
			s.consoleRefuse(c, v, http.StatusForbidden, "You may not open this page: "+msg+".")
			return
		}
		if org := c.Param("org"); org != "" {
			o, err := s.admin.opts.Store.GetOrg(c.Request.Context(), org)
			if err != nil {
				s.consoleFail(c, v, err)
				return
			}
			v.Org = &o
		}
		h(c, v)
	}
}

// consoleRefuse renders the page that says why nothing was shown.
func (s *server) consoleRefuse(c *gin.Context, v *view, status int, msg string) {
	v.Title, v.Error, v.Data = http.StatusText(status), msg, nil
	s.render(c, status, "refused", v)
}

// consoleFail renders an error of a service: its message when it is meant
// for the user (a not found, a conflict), a fixed sentence otherwise
// (logged by fail's rules).
func (s *server) consoleFail(c *gin.Context, v *view, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on the server: try again later."
	var ae *forward.AdminError
	switch {
	case errors.As(err, &ae) && errors.Is(err, forward.ErrNotFound), errors.Is(err, auth.ErrOrgNotFound), errors.Is(err, auth.ErrNotFound):
		status, msg = http.StatusNotFound, "There is nothing here: it was deleted, or the link is wrong."
	case errors.As(err, &ae) && errors.Is(err, forward.ErrNoKey):
		status, msg = http.StatusServiceUnavailable, sentence(forwardDisabled)
	case errors.As(err, &ae):
		status, msg = http.StatusConflict, sentence(ae.Message)
	case lrs.ErrorCode(err) == lrs.EUNAVAILABLE:
		status, msg = http.StatusServiceUnavailable, "The storage cannot be reached just now: try again later."
		s.log.Warn("console: storage unavailable", "path", c.Request.URL.Path, "error", err.Error())
	case lrs.ErrorCode(err) != lrs.EINTERNAL:
		status, msg = statusOf[lrs.ErrorCode(err)], sentence(lrs.ErrorMessage(err))
	default:
		s.log.Error("console: request failed", "path", c.Request.URL.Path, "error", err.Error())
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	s.consoleRefuse(c, v, status, msg)
}

// render executes the page's template with v (and the notice of the
// form that led here, if the page has none of its own).
func (s *server) render(c *gin.Context, status int, name string, v *view) {
	if v.Notice == "" && v.Error == "" {
		v.Notice = consoleDone[c.Query("done")]
	}
	var b bytes.Buffer
	if err := consolePages.ExecuteTemplate(&b, name, v); err != nil {
		s.log.Error("console: render", "template", name, "error", err.Error())
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("The page could not be rendered."))
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// fragment reports whether console.js asked for a part of a page.
func fragment(c *gin.Context) bool { return c.GetHeader(fragmentHeader) != "" }

// renderPart renders one template of a page on its own, for console.js.
func (s *server) renderPart(c *gin.Context, status int, name string, data any) {
	var b bytes.Buffer
	if err := consolePages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.Error("console: render", "template", name, "error", err.Error())
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// section renders a template into HTML a page embeds (the sections a
// later step adds to a page: consoleSection).
func section(name string, data any) (template.HTML, error) {
	var b bytes.Buffer
	if err := consolePages.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil // html/template's own escaped output
}

// redirectDone sends the browser to path with a notice code (its text is
// consoleDone's: never text from the request).
func redirectDone(c *gin.Context, path, done string) {
	c.Redirect(http.StatusSeeOther, consolePath+path+"?done="+url.QueryEscape(done))
}

// consoleDone are the notices a page shows after a form, by code.
var consoleDone = map[string]string{
	"created":           "Created.",
	"saved":             "Saved.",
	"deleted":           "Deleted.",
	"revoked":           "The credential is revoked: it no longer signs anything in.",
	"attached":          "The configuration is attached: the objective's new results go to it.",
	"attached-backfill": "The configuration is attached, and what is already stored is being sent to it: its progress shows below.",
	"created-backfill":  "Created, and what is already stored is being sent to its configuration: its progress shows below.",
	"restarted":         "The backfill starts again from the beginning: its progress shows below.",
	"detached":          "The configuration is detached.",
	"redriven":          "The parked and rejected deliveries will be sent again now.",
	"nothing-parked":    "Nothing was parked or rejected: nothing to retry.",
	"invited":           "The invitation is sent.",
	"invite-link":       "No mail could be sent: give the link below to the person invited.",
	"disabled":          "The account is disabled and signed out everywhere.",
	"enabled":           "The account is enabled.",
	"withdrawn":         "The invitation is withdrawn.",
	"org-created":       "The organization is created.",
	"already-there":     "It is attached already.",
	"nothing-changed":   "Nothing changed.",
	"overridden":        "The override is saved.",
}
