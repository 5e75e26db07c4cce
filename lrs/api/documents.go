package api

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// The document resources (Communication 2.2, 2.3, 2.6, 2.7): State,
// Activity Profile and Agent Profile.

// docResource describes one document resource.
type docResource struct {
	path     string
	kind     lrs.DocumentKind
	idParam  string // "stateId" or "profileId"
	activity bool   // takes activityId
	agent    bool   // takes agent
	reg      bool   // takes registration
	scope    string // auth scope of writes (reads also: all/read)
	// deleteAll: a DELETE without the id removes the whole scope.
	deleteAll bool
	// alwaysRequireHeaders: a PUT to an existing document needs If-Match
	// or If-None-Match under every version (State: under 2.0 only), and
	// under 1.0.x a PUT that creates one needs them too (State: never).
	alwaysRequireHeaders bool
}

var docResources = []docResource{
	{path: "/activities/state", kind: lrs.KindState, idParam: "stateId", activity: true, agent: true, reg: true,
		scope: auth.ScopeState, deleteAll: true},
	{path: "/activities/profile", kind: lrs.KindActivityProfile, idParam: "profileId", activity: true,
		scope: auth.ScopeProfile, alwaysRequireHeaders: true},
	{path: "/agents/profile", kind: lrs.KindAgentProfile, idParam: "profileId", agent: true,
		scope: auth.ScopeProfile, alwaysRequireHeaders: true},
}

// registerDocuments adds the document routes to the xAPI root group.
func (s *server) registerDocuments(x *gin.RouterGroup) {
	chain := []gin.HandlerFunc{s.authenticate, s.version, s.alternateError}
	for _, r := range docResources {
		read := append(append([]gin.HandlerFunc{}, chain...), s.requireScope(r.scope, auth.ScopeAllRead))
		write := append(append([]gin.HandlerFunc{}, chain...), s.requireScope(r.scope))
		x.OPTIONS(r.path, s.preflight)
		x.GET(r.path, append(read, s.getDocument(r))...)
		x.HEAD(r.path, append(read, s.getDocument(r))...)
		x.PUT(r.path, append(write, s.writeDocument(r))...)
		x.POST(r.path, append(write, s.writeDocument(r))...)
		x.DELETE(r.path, append(write, s.deleteDocument(r))...)
	}
}

// docRequest is a parsed document request.
type docRequest struct {
	scope lrs.DocumentScope
	id    string
	hasID bool
	since time.Time
}

// parseDocRequest checks the query parameters of a request to r.
func parseDocRequest(c *gin.Context, r docResource) (docRequest, error) {
	var dr docRequest
	method := c.Request.Method
	list := method == http.MethodGet || method == http.MethodHead
	allowed := []string{r.idParam}
	if r.activity {
		allowed = append(allowed, "activityId")
	}
	if r.agent {
		allowed = append(allowed, "agent")
	}
	if r.reg {
		allowed = append(allowed, "registration")
	}
	if list {
		allowed = append(allowed, "since")
	}
	p, err := params(c.Request.URL.Query(), allowed...)
	if err != nil {
		return dr, err
	}
	dr.scope.Kind = r.kind
	if r.activity {
		a, ok := p["activityId"]
		if !ok {
			return dr, lrs.Errorf(lrs.EINVALID, "the activityId parameter is required")
		}
		if !schema.ValidIRI(a) {
			return dr, lrs.Errorf(lrs.EINVALID, "activityId must be an absolute IRI, not %q", a)
		}
		dr.scope.ActivityID = a
	}
	if r.agent {
		a, ok := p["agent"]
		if !ok {
			return dr, lrs.Errorf(lrs.EINVALID, "the agent parameter is required")
		}
		key, err := schema.ParseAgent([]byte(a), version(c))
		if err != nil {
			var se *schema.Error
			if errors.As(err, &se) {
				return dr, lrs.Errorf(lrs.EINVALID, "agent: %s: %s: %s", se.Path, se.Rule, se.Message)
			}
			return dr, lrs.Errorf(lrs.EINVALID, "agent: %v", err)
		}
		if key == "" {
			return dr, lrs.Errorf(lrs.EINVALID, "agent: the Agent has no identifier (mbox, mbox_sha1sum, openid or account)")
		}
		dr.scope.Agent = key
	}
	if reg, ok := p["registration"]; ok {
		if !schema.ValidUUID(reg) {
			return dr, lrs.Errorf(lrs.EINVALID, "registration %q is not a UUID", reg)
		}
		dr.scope.Registration = strings.ToLower(reg)
	}
	dr.id, dr.hasID = p[r.idParam]
	if dr.hasID {
		if dr.id == "" {
			return dr, lrs.Errorf(lrs.EINVALID, "the %s parameter is empty", r.idParam)
		}
		if !utf8.ValidString(dr.id) {
			return dr, lrs.Errorf(lrs.EINVALID, "the %s parameter is not valid UTF-8", r.idParam)
		}
	}
	switch {
	case dr.hasID && list:
		if _, ok := p["since"]; ok {
			return dr, lrs.Errorf(lrs.EINVALID, "since lists documents: it cannot be combined with %s", r.idParam)
		}
	case dr.hasID:
	case method == http.MethodPut || method == http.MethodPost:
		return dr, lrs.Errorf(lrs.EINVALID, "the %s parameter is required", r.idParam)
	case method == http.MethodDelete && !r.deleteAll:
		return dr, lrs.Errorf(lrs.EINVALID, "the %s parameter is required", r.idParam)
	}
	if dr.since, err = parseTime(p, "since"); err != nil {
		return dr, err
	}
	return dr, nil
}

func writeConditions(c *gin.Context, r docResource) lrs.WriteConditions {
	v1 := version(c) == schema.V1_0_3
	return lrs.WriteConditions{
		IfMatch:                c.Request.Header.Get("If-Match"),
		IfNoneMatch:            c.Request.Header.Get("If-None-Match"),
		RequireHeaders:         r.alwaysRequireHeaders || !v1,
		RequireHeadersToCreate: r.alwaysRequireHeaders && v1,
	}
}

func noContent(c *gin.Context) {
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// sendBody answers 200 with body (or only the headers for HEAD).
func sendBody(c *gin.Context, contentType string, body []byte) {
	c.Header("Content-Length", strconv.Itoa(len(body)))
	if c.Request.Method == http.MethodHead {
		c.Header("Content-Type", contentType)
		c.Status(http.StatusOK)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, contentType, body)
}

func (s *server) getDocument(r docResource) gin.HandlerFunc {
	return func(c *gin.Context) {
		dr, err := parseDocRequest(c, r)
		if err != nil {
			s.fail(c, err)
			return
		}
		org := principal(c).Org
		if dr.hasID {
			doc, err := s.docs.Get(c.Request.Context(), org, dr.scope, dr.id)
			if err != nil {
				s.fail(c, err)
				return
			}
			c.Header("ETag", `"`+doc.ETag+`"`)
			c.Header("Last-Modified", doc.Updated.UTC().Format(http.TimeFormat))
			sendBody(c, doc.ContentType, doc.Contents)
			return
		}
		ids, last, err := s.docs.List(c.Request.Context(), org, dr.scope, dr.since)
		if err != nil {
			s.fail(c, err)
			return
		}
		if ids == nil {
			ids = []string{}
		}
		body, err := json.Marshal(ids)
		if err != nil {
			s.fail(c, err)
			return
		}
		sum := sha1.Sum(body)
		c.Header("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		if !last.IsZero() {
			c.Header("Last-Modified", last.UTC().Format(http.TimeFormat))
		}
		sendBody(c, "application/json", body)
	}
}

func (s *server) writeDocument(r docResource) gin.HandlerFunc {
	return func(c *gin.Context) {
		dr, err := parseDocRequest(c, r)
		if err != nil {
			s.fail(c, err)
			return
		}
		body, err := s.readBody(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		ct := c.Request.Header.Get("Content-Type")
		org := principal(c).Org
		wc := writeConditions(c, r)
		if c.Request.Method == http.MethodPost {
			err = s.docs.Post(c.Request.Context(), org, dr.scope, dr.id, ct, body, wc)
		} else {
			err = s.docs.Put(c.Request.Context(), org, dr.scope, dr.id, ct, body, wc)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		noContent(c)
	}
}

func (s *server) deleteDocument(r docResource) gin.HandlerFunc {
	return func(c *gin.Context) {
		dr, err := parseDocRequest(c, r)
		if err != nil {
			s.fail(c, err)
			return
		}
		org := principal(c).Org
		if dr.hasID {
			err = s.docs.Delete(c.Request.Context(), org, dr.scope, dr.id, writeConditions(c, r))
		} else {
			err = s.docs.DeleteAll(c.Request.Context(), org, dr.scope)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		noContent(c)
	}
}
