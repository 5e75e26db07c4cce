// Package api is the HTTP adapter of the LRS: the xAPI statements resource,
// About, health, readiness and metrics endpoints. It is the only place
// where errors become HTTP statuses.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// Authenticator checks HTTP Basic credentials. It returns
// auth.ErrBadCredentials when the key is unknown or the secret wrong; any
// other error is a storage failure (503 if lrs.ErrorCode(err) ==
// lrs.EUNAVAILABLE, else 500).
type Authenticator interface {
	Authenticate(ctx context.Context, key, secret string) (auth.Principal, error)
}

// Options configures the handler returned by New.
type Options struct {
	Service        *lrs.Service
	Documents      *lrs.Documents // the State, Activity Profile and Agent Profile resources
	Auth           Authenticator
	Root           string                      // xAPI root path, default "/xapi"
	Logger         *slog.Logger                // default slog.Default()
	Registerer     prometheus.Registerer       // HTTP metrics registered here (nil: none)
	MetricsHandler http.Handler                // served at GET /metrics (nil: 404)
	Ready          func(context.Context) error // GET /readyz: nil error → 200, else 503
	MaxBodyBytes   int64                       // request body limit, default 16 MiB → 413
	MaxBatch       int                         // statements per POST, default 1000 → 413
	// Versions are the xAPI versions served (default schema.Versions): About
	// lists them, a request for another is a 400, and responses without a
	// version of their own carry the newest.
	Versions []schema.Version
	// Admin, when set, serves the admin API under /admin/v1 (admin.go).
	Admin *AdminOptions
	// Slowdown tunes the delay of repeated authentication failures.
	Slowdown SlowdownOptions
	// BodyTimeout is how long a request body may take to arrive after the
	// headers (0: no limit). The connection is closed when it expires.
	BodyTimeout time.Duration
	// Tokens, when set, serves the OAuth 2.0 token endpoint at TokenPath
	// and accepts its bearer tokens on every xAPI resource (oauth2.go).
	Tokens Tokens
}

const (
	defaultMaxBodyBytes = 16 << 20
	defaultMaxBatch     = 1000

	headerVersion           = "X-Experience-API-Version"
	headerConsistentThrough = "X-Experience-API-Consistent-Through"
	consistentLayout        = "2006-01-02T15:04:05.000Z"
	internalMessage         = "Internal error."
)

type server struct {
	svc      *lrs.Service
	docs     *lrs.Documents
	auth     Authenticator
	tokens   Tokens // nil: no token endpoint, no bearer tokens
	root     string
	log      *slog.Logger
	ready    func(context.Context) error
	maxBody  int64
	maxBatch int
	versions []schema.Version // oldest first
	newest   string           // the newest of versions, the default response header
	metrics  *httpMetrics
	guard    *authGuard
	admin    *adminState // nil: no admin API
	// consoleRoutes are the console's pages and the rule of each
	// (console_app.go).
	consoleRoutes []consoleRoute
	// tokenRequests counts token requests by outcome (nil: not counted).
	tokenRequests *prometheus.CounterVec
}

// New returns the HTTP handler of the LRS.
func New(opts Options) (http.Handler, error) {
	_, h, err := build(opts)
	return h, err
}

// build returns the router and the handler around it.
func build(opts Options) (*gin.Engine, http.Handler, error) {
	if opts.Service == nil {
		return nil, nil, errors.New("api: Options.Service is required")
	}
	if opts.Documents == nil {
		return nil, nil, errors.New("api: Options.Documents is required")
	}
	if opts.Auth == nil {
		return nil, nil, errors.New("api: Options.Auth is required")
	}
	root := opts.Root
	if root == "" {
		root = "/xapi"
	}
	root = "/" + strings.Trim(root, "/")
	if root == "/" {
		root = ""
	}
	s := &server{
		svc:      opts.Service,
		docs:     opts.Documents,
		auth:     opts.Auth,
		tokens:   opts.Tokens,
		root:     root,
		log:      opts.Logger,
		ready:    opts.Ready,
		maxBody:  opts.MaxBodyBytes,
		maxBatch: opts.MaxBatch,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxBodyBytes
	}
	if s.maxBatch <= 0 {
		s.maxBatch = defaultMaxBatch
	}
	s.versions = schema.Versions
	if len(opts.Versions) > 0 {
		for _, v := range opts.Versions {
			if !slices.Contains(schema.Versions, v) {
				return nil, nil, fmt.Errorf("api: Options.Versions: %q is not a version schema implements", v)
			}
		}
		vs := slices.Clone(opts.Versions)
		slices.SortFunc(vs, func(a, b schema.Version) int {
			return slices.Index(schema.Versions, a) - slices.Index(schema.Versions, b)
		})
		s.versions = slices.Compact(vs)
	}
	s.newest = string(s.versions[len(s.versions)-1])
	if opts.Registerer != nil {
		m, err := newHTTPMetrics(opts.Registerer)
		if err != nil {
			return nil, nil, err
		}
		s.metrics = m
	}

	guard, err := newAuthGuard(opts.Slowdown, opts.Registerer)
	if err != nil {
		return nil, nil, err
	}
	s.guard = guard
	if s.tokenRequests, err = newTokenRequests(opts.Registerer); err != nil {
		return nil, nil, err
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.Use(s.metricsMiddleware, s.logMiddleware, s.recoverMiddleware)

	e.GET("/healthz", func(c *gin.Context) { c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("ok")) })
	e.GET("/readyz", s.readyz)
	if opts.MetricsHandler != nil {
		e.GET("/metrics", gin.WrapH(opts.MetricsHandler))
	}
	if s.tokens != nil {
		e.POST(TokenPath, s.token)
	}

	x := e.Group(root, s.xapiHeaders)
	x.GET("/about", s.about)
	x.HEAD("/about", s.about)
	x.OPTIONS("/about", s.preflight)

	st := x.Group("/statements")
	st.OPTIONS("", s.preflight)
	chain := []gin.HandlerFunc{s.authenticate, s.consistentThrough, s.version, s.alternateError}
	read := append(append([]gin.HandlerFunc{}, chain...), s.requireScope(auth.ScopeStatementsRead, auth.ScopeAllRead, auth.ScopeStatementsReadMine))
	write := append(append([]gin.HandlerFunc{}, chain...), s.requireScope(auth.ScopeStatementsWrite))
	st.GET("", append(read, s.getStatements)...)
	st.HEAD("", append(read, s.getStatements)...)
	st.PUT("", append(write, s.putStatement)...)
	st.POST("", append(write, s.postStatements)...)
	s.activityRoutes(x, chain)

	s.registerDocuments(x)
	if opts.Admin != nil {
		if err := s.mountAdmin(e, opts.Admin, opts.Registerer); err != nil {
			return nil, nil, err
		}
	}

	e.NoRoute(s.noRoute(http.StatusNotFound, lrs.ENOTFOUND, "no resource at this path"))
	e.NoMethod(s.noRoute(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this resource"))

	return e, bodyDeadline(s.alternateSyntax(e), opts.BodyTimeout), nil
}

// underRoot reports whether path is the xAPI root or below it.
func (s *server) underRoot(path string) bool {
	return s.root == "" || path == s.root || strings.HasPrefix(path, s.root+"/")
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(c *gin.Context, status int, code, message string) {
	var b errorBody
	b.Error.Code = code
	b.Error.Message = message
	body, _ := json.Marshal(b) // plain strings: cannot fail
	if c.Request.Method == http.MethodHead {
		c.Header("Content-Type", "application/json")
		c.Status(status)
		c.Writer.WriteHeaderNow()
	} else {
		c.Data(status, "application/json", body)
	}
	c.Abort()
}

var statusOf = map[string]int{
	lrs.EINVALID:      http.StatusBadRequest,
	lrs.EUNAUTHORIZED: http.StatusUnauthorized,
	lrs.EFORBIDDEN:    http.StatusForbidden,
	lrs.ENOTFOUND:     http.StatusNotFound,
	lrs.ECONFLICT:     http.StatusConflict,
	lrs.EPRECONDITION: http.StatusPreconditionFailed,
	lrs.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	lrs.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	lrs.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// fail answers err: the single place where errors become HTTP statuses.
func (s *server) fail(c *gin.Context, err error) {
	var se *schema.Error
	if errors.As(err, &se) {
		msg := se.Path + ": " + se.Rule + ": " + se.Message
		if se.Rule == "batch-size" {
			writeError(c, http.StatusRequestEntityTooLarge, lrs.ETOOLARGE, msg)
			return
		}
		writeError(c, http.StatusBadRequest, lrs.EINVALID, msg)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(c, http.StatusRequestEntityTooLarge, lrs.ETOOLARGE,
			fmt.Sprintf("the request body exceeds the limit of %d bytes", mbe.Limit))
		return
	}
	code := lrs.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path),
			slog.String("error", err.Error()))
		writeError(c, http.StatusInternalServerError, lrs.EINTERNAL, internalMessage)
		return
	}
	if status == http.StatusServiceUnavailable {
		s.log.LogAttrs(c.Request.Context(), slog.LevelWarn, "storage unavailable",
			slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path),
			slog.String("error", err.Error()))
	}
	if status == http.StatusUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == "" {
		c.Header("WWW-Authenticate", `Basic realm="xAPI"`)
	}
	writeError(c, status, code, lrs.ErrorMessage(err))
}

func (s *server) noRoute(status int, code, message string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.underRoot(c.Request.URL.Path) {
			s.setCORS(c)
			c.Header(headerVersion, s.newest)
		}
		writeError(c, status, code, message)
	}
}

// ---- middleware ----

func (s *server) recoverMiddleware(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler {
			panic(r)
		}
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "panic serving request",
			slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path),
			slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		if !c.Writer.Written() {
			writeError(c, http.StatusInternalServerError, lrs.EINTERNAL, internalMessage)
		}
		c.Abort()
	}()
	c.Next()
}

func (s *server) logMiddleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.log.LogAttrs(c.Request.Context(), slog.LevelDebug, "request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.String("route", routeLabel(c)),
		slog.Int("status", c.Writer.Status()),
		slog.Int("bytes", c.Writer.Size()),
		slog.Duration("duration", time.Since(start)))
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lrs",
			Subsystem: "http",
			Name:      "requests_total",
			Help:      "HTTP requests answered, by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lrs",
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "Duration of HTTP requests, by route and method.",
			Buckets:   prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	if err := reg.Register(m.requests); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
		m.requests = existing
	}
	if err := reg.Register(m.duration); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.HistogramVec)
		if !ok {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
		m.duration = existing
	}
	return m, nil
}

func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost,
		http.MethodDelete, http.MethodOptions, http.MethodPatch:
		return m
	}
	return "other"
}

func (s *server) metricsMiddleware(c *gin.Context) {
	if s.metrics == nil {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	route, method := routeLabel(c), methodLabel(c.Request.Method)
	s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(c.Writer.Status())).Inc()
	s.metrics.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
}

const (
	corsExpose       = "ETag, Last-Modified, X-Experience-API-Version, X-Experience-API-Consistent-Through, Content-Type"
	corsAllowMethods = "GET, HEAD, PUT, POST, DELETE, OPTIONS"
	corsAllowHeaders = "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, Accept-Language"
)

func (s *server) setCORS(c *gin.Context) {
	h := c.Writer.Header()
	if o := c.Request.Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Add("Vary", "Origin")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	h.Set("Access-Control-Expose-Headers", corsExpose)
}

// xapiHeaders sets the CORS headers and the default version header (the
// newest version served) of every response under the xAPI root.
func (s *server) xapiHeaders(c *gin.Context) {
	s.setCORS(c)
	c.Header(headerVersion, s.newest)
	c.Next()
}

func (s *server) preflight(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// ---- context values ----

const (
	keyPrincipal = "lrs.principal"
	keyVersion   = "lrs.version"
	keyCT        = "lrs.consistentThrough"
	keyBearer    = "lrs.bearer" // true: the principal came from a bearer token
)

func principal(c *gin.Context) auth.Principal {
	p, _ := c.Get(keyPrincipal)
	pr, _ := p.(auth.Principal)
	return pr
}

func version(c *gin.Context) schema.Version {
	v, _ := c.Get(keyVersion)
	ver, _ := v.(schema.Version)
	return ver
}

func consistentThroughOf(c *gin.Context) time.Time {
	v, _ := c.Get(keyCT)
	t, _ := v.(time.Time)
	return t
}

func writer(c *gin.Context) lrs.Writer {
	p := principal(c)
	return lrs.Writer{Org: p.Org, Authority: p.Authority}
}

func (s *server) authenticate(c *gin.Context) {
	var p auth.Principal
	var err error
	token, bearer := bearerToken(c.Request)
	if bearer = bearer && s.tokens != nil; bearer {
		c.Set(keyBearer, true)
		p, err = s.tokens.Verify(c.Request.Context(), token)
	} else {
		key, secret, ok := c.Request.BasicAuth()
		if !ok {
			s.guard.fail(c, "missing")
			msg := "HTTP Basic credentials are required"
			if s.tokens != nil {
				c.Writer.Header().Add("WWW-Authenticate", `Basic realm="xAPI"`)
				c.Writer.Header().Add("WWW-Authenticate", `Bearer realm="xAPI"`)
				msg = "HTTP Basic credentials or a bearer token are required"
			}
			s.fail(c, lrs.Errorf(lrs.EUNAUTHORIZED, "%s", msg))
			return
		}
		p, err = s.auth.Authenticate(c.Request.Context(), key, secret)
	}
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			s.guard.fail(c, auth.FailureReason(err))
			msg := "the credentials are not valid"
			switch {
			case errors.Is(err, auth.ErrRevoked): // the secret was right: no oracle
				msg = "the credentials have been revoked"
			case errors.Is(err, auth.ErrExpired):
				msg = "the credentials have expired"
			case errors.Is(err, auth.ErrTokenExpired):
				msg = "the access token has expired"
			case bearer:
				msg = "the access token is not valid"
			}
			if bearer {
				c.Header("WWW-Authenticate", bearerChallenge("invalid_token", msg))
			}
			s.fail(c, lrs.Errorf(lrs.EUNAUTHORIZED, "%s", msg))
		case lrs.ErrorCode(err) == lrs.EUNAVAILABLE:
			s.fail(c, err)
		default:
			// %v, not %w: only EUNAVAILABLE keeps its code; anything else is a 500.
			s.fail(c, fmt.Errorf("authenticate: %v", err))
		}
		return
	}
	c.Set(keyPrincipal, p)
	c.Next()
}

func (s *server) consistentThrough(c *gin.Context) {
	ct, err := s.svc.ConsistentThrough(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(keyCT, ct)
	c.Header(headerConsistentThrough, ct.UTC().Format(consistentLayout))
	c.Next()
}

func (s *server) version(c *gin.Context) {
	v, err := schema.ParseVersionHeader(c.Request.Header.Get(headerVersion), s.versions)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header(headerVersion, string(v))
	c.Set(keyVersion, v)
	c.Next()
}

func (s *server) requireScope(scopes ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !principal(c).Allows(scopes...) {
			if c.GetBool(keyBearer) {
				c.Header("WWW-Authenticate", bearerChallenge("insufficient_scope", "the access token lacks the scope of this request"))
			}
			s.fail(c, lrs.Errorf(lrs.EFORBIDDEN, "the credentials lack the %s scope", strings.Join(scopes, " or ")))
			return
		}
		c.Next()
	}
}

// ---- simple resources ----

func (s *server) about(c *gin.Context) {
	vs := make([]string, len(s.versions))
	for i, v := range s.versions {
		vs[i] = string(v)
	}
	body, _ := json.Marshal(struct {
		Version    []string       `json:"version"`
		Extensions map[string]any `json:"extensions"`
	}{vs, map[string]any{}})
	c.Header("Content-Length", strconv.Itoa(len(body)))
	if c.Request.Method == http.MethodHead {
		c.Header("Content-Type", "application/json")
		c.Status(http.StatusOK)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, "application/json", body)
}

func (s *server) readyz(c *gin.Context) {
	if s.ready != nil {
		if err := s.ready(c.Request.Context()); err != nil {
			s.log.LogAttrs(c.Request.Context(), slog.LevelWarn, "not ready", slog.String("error", err.Error()))
			writeError(c, http.StatusServiceUnavailable, lrs.EUNAVAILABLE, "not ready")
			return
		}
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("ok"))
}
