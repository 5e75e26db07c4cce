package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// definitionReadScopes may read the Activities and Agents resources: the
// read scopes, and those of clients that work with activities and agents
// (define, state, profile). ScopeAll is always allowed.
var definitionReadScopes = []string{
	auth.ScopeStatementsRead, auth.ScopeAllRead, auth.ScopeDefine, auth.ScopeState, auth.ScopeProfile,
}

// activityRoutes registers GET|HEAD {root}/activities and {root}/agents
// (Communication 2.4, 2.5) behind chain (authentication, version, …).
func (s *server) activityRoutes(x *gin.RouterGroup, chain []gin.HandlerFunc) {
	read := append(append([]gin.HandlerFunc{}, chain...), s.requireScope(definitionReadScopes...))
	for path, h := range map[string]gin.HandlerFunc{"/activities": s.getActivity, "/agents": s.getPerson} {
		x.OPTIONS(path, s.preflight)
		x.GET(path, append(read, h)...)
		x.HEAD(path, append(read, h)...)
	}
}

// getActivity answers GET /activities?activityId=IRI with the Activity
// object and its canonical definition (just the id when none is known).
func (s *server) getActivity(c *gin.Context) {
	p, err := params(c.Request.URL.Query(), "activityId")
	if err != nil {
		s.fail(c, err)
		return
	}
	id, ok := p["activityId"]
	switch {
	case !ok:
		s.fail(c, lrs.Errorf(lrs.EINVALID, "the activityId parameter is required"))
		return
	case !schema.ValidIRI(id):
		s.fail(c, lrs.Errorf(lrs.EINVALID, "activityId must be an absolute IRI, not %q", id))
		return
	}
	body, err := s.svc.GetActivity(c.Request.Context(), writer(c).Org, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, body)
}

// getPerson answers GET /agents?agent=JSON with the Person object.
func (s *server) getPerson(c *gin.Context) {
	p, err := params(c.Request.URL.Query(), "agent")
	if err != nil {
		s.fail(c, err)
		return
	}
	agent, ok := p["agent"]
	if !ok {
		s.fail(c, lrs.Errorf(lrs.EINVALID, "the agent parameter is required"))
		return
	}
	body, err := s.svc.GetPerson(c.Request.Context(), writer(c).Org, []byte(agent), version(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, body)
}

// writeJSON answers 200 with a JSON body (headers only for HEAD).
func writeJSON(c *gin.Context, body []byte) {
	c.Header("Content-Length", strconv.Itoa(len(body)))
	if c.Request.Method == http.MethodHead {
		c.Header("Content-Type", "application/json")
		c.Status(http.StatusOK)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, "application/json", body)
}
