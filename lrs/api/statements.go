package api

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// params checks that q holds only allowed parameters, each once, and
// returns them as single values.
func params(q url.Values, allowed ...string) (map[string]string, error) {
	out := make(map[string]string, len(q))
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names) // deterministic error messages
	for _, k := range names {
		if !slices.Contains(allowed, k) {
			return nil, lrs.Errorf(lrs.EINVALID, "unknown query parameter %q", k)
		}
		if len(q[k]) > 1 {
			return nil, lrs.Errorf(lrs.EINVALID, "query parameter %q is given more than once", k)
		}
		out[k] = q[k][0]
	}
	return out, nil
}

func (s *server) putStatement(c *gin.Context) {
	p, err := params(c.Request.URL.Query(), "statementId")
	if err != nil {
		s.fail(c, err)
		return
	}
	id, ok := p["statementId"]
	if !ok {
		s.fail(c, lrs.Errorf(lrs.EINVALID, "the statementId parameter is required"))
		return
	}
	if !schema.ValidUUID(id) {
		s.fail(c, lrs.Errorf(lrs.EINVALID, "statementId %q is not a UUID", id))
		return
	}
	body, parts, err := s.readStatementsBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := version(c)
	st, err := schema.ParseStatement(body, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.svc.PutStatementWithAttachments(c.Request.Context(), writer(c), id, st, v, parts); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

func (s *server) postStatements(c *gin.Context) {
	if _, err := params(c.Request.URL.Query()); err != nil {
		s.fail(c, err)
		return
	}
	body, parts, err := s.readStatementsBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := version(c)
	stmts, _, err := schema.ParseStatements(body, v, s.maxBatch)
	if err != nil {
		s.fail(c, err)
		return
	}
	ids, err := s.svc.PostStatementsWithAttachments(c.Request.Context(), writer(c), stmts, v, parts)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	out, err := json.Marshal(ids)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", out)
}

var (
	getParams = []string{"statementId", "voidedStatementId", "agent", "verb", "activity", "registration",
		"related_activities", "related_agents", "since", "until", "limit", "format", "attachments", "ascending", "more"}
)

// parseBool reads a Boolean parameter: true or false in any letter case,
// as widely used clients send True.
func parseBool(p map[string]string, name string) (bool, error) {
	switch v, ok := p[name]; {
	case !ok || strings.EqualFold(v, "false"):
		return false, nil
	case strings.EqualFold(v, "true"):
		return true, nil
	default:
		return false, lrs.Errorf(lrs.EINVALID, "%s must be true or false, not %q", name, v)
	}
}

func parseTime(p map[string]string, name string) (time.Time, error) {
	v, ok := p[name]
	if !ok {
		return time.Time{}, nil
	}
	t, err := schema.ParseTimestamp(v)
	if err != nil {
		return time.Time{}, lrs.Errorf(lrs.EINVALID, "%s must be an RFC 3339 timestamp, not %q", name, v)
	}
	return t.UTC(), nil
}

// getRequest is a parsed statements GET.
type getRequest struct {
	id          string // statementId or voidedStatementId
	voided      bool
	more        string
	query       lrs.Query
	format      schema.Format
	attachments bool
}

func parseGet(q url.Values, v schema.Version) (getRequest, error) {
	var g getRequest
	p, err := params(q, getParams...)
	if err != nil {
		return g, err
	}
	if more, ok := p["more"]; ok {
		if len(p) > 1 {
			return g, lrs.Errorf(lrs.EINVALID, "the more parameter cannot be combined with other parameters")
		}
		if more == "" {
			return g, lrs.Errorf(lrs.EINVALID, "the more parameter is empty")
		}
		g.more = more
		return g, nil
	}
	sid, hasID := p["statementId"]
	vid, hasVoided := p["voidedStatementId"]
	if hasID && hasVoided {
		return g, lrs.Errorf(lrs.EINVALID, "statementId and voidedStatementId cannot be combined")
	}
	if hasID || hasVoided {
		name := "statementId"
		if hasVoided {
			name, sid, g.voided = "voidedStatementId", vid, true
		}
		for _, k := range getParams {
			if _, ok := p[k]; ok && k != name && k != "format" && k != "attachments" {
				return g, lrs.Errorf(lrs.EINVALID, "%s cannot be combined with %s", k, name)
			}
		}
		if !schema.ValidUUID(sid) {
			return g, lrs.Errorf(lrs.EINVALID, "%s %q is not a UUID", name, sid)
		}
		g.id = sid
	}
	if g.format, err = schema.ParseFormat(p["format"]); err != nil {
		return g, err
	}
	if g.attachments, err = parseBool(p, "attachments"); err != nil {
		return g, err
	}
	if g.id != "" {
		return g, nil
	}

	qq := lrs.Query{Format: string(g.format), Attachments: g.attachments}
	if a, ok := p["agent"]; ok {
		key, err := schema.AgentKey([]byte(a), v)
		if err != nil {
			var se *schema.Error
			if errors.As(err, &se) {
				return g, lrs.Errorf(lrs.EINVALID, "agent: %s: %s: %s", se.Path, se.Rule, se.Message)
			}
			return g, err
		}
		qq.Agent = key
	}
	for _, k := range []string{"verb", "activity"} {
		if val, ok := p[k]; ok && !schema.ValidIRI(val) {
			return g, lrs.Errorf(lrs.EINVALID, "%s must be an absolute IRI, not %q", k, val)
		}
	}
	qq.Verb, qq.Activity = p["verb"], p["activity"]
	if r, ok := p["registration"]; ok {
		if !schema.ValidUUID(r) {
			return g, lrs.Errorf(lrs.EINVALID, "registration %q is not a UUID", r)
		}
		qq.Registration = r
	}
	if qq.RelatedActivities, err = parseBool(p, "related_activities"); err != nil {
		return g, err
	}
	if qq.RelatedAgents, err = parseBool(p, "related_agents"); err != nil {
		return g, err
	}
	if qq.Ascending, err = parseBool(p, "ascending"); err != nil {
		return g, err
	}
	if qq.Since, err = parseTime(p, "since"); err != nil {
		return g, err
	}
	if qq.Until, err = parseTime(p, "until"); err != nil {
		return g, err
	}
	if l, ok := p["limit"]; ok {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return g, lrs.Errorf(lrs.EINVALID, "limit must be a non-negative integer, not %q", l)
		}
		qq.Limit = n
	}
	g.query = qq
	return g, nil
}

func (s *server) getStatements(c *gin.Context) {
	ctx := c.Request.Context()
	org := writer(c).Org
	g, err := parseGet(c.Request.URL.Query(), version(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	langs := schema.ParseAcceptLanguage(c.Request.Header.Get("Accept-Language"))
	mine := mineOnly(principal(c)) // "" unless limited to statements/read/mine

	if g.id != "" {
		raw, stored, err := s.svc.GetStatement(ctx, org, g.id, g.voided)
		if err == nil && mine != "" && lrs.StatementAuthorityKey(raw) != mine {
			err = lrs.Errorf(lrs.ENOTFOUND, "no statement with id %s", g.id)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		out, err := schema.Render(raw, g.format, langs)
		if err != nil {
			s.fail(c, err)
			return
		}
		atts, err := s.attachmentsFor(c, org, g.attachments, [][]byte{raw})
		if err != nil {
			s.fail(c, err)
			return
		}
		s.writeResult(c, out, stored, g.attachments, atts)
		return
	}

	var page lrs.Page
	if g.more != "" {
		page, err = s.svc.More(ctx, org, g.more)
		if err == nil && mine != "" && page.Query.Authority != mine {
			err = lrs.Errorf(lrs.EINVALID, "the more token is not valid")
		}
	} else {
		g.query.Authority = mine
		page, err = s.svc.QueryStatements(ctx, org, g.query)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	format, err := schema.ParseFormat(page.Query.Format)
	if err != nil {
		s.fail(c, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString(`{"statements":[`)
	for i, raw := range page.Statements {
		if i > 0 {
			buf.WriteByte(',')
		}
		out, err := schema.Render(raw, format, langs)
		if err != nil {
			s.fail(c, err)
			return
		}
		buf.Write(out)
	}
	more := ""
	if page.More != "" {
		more = s.root + "/statements?more=" + url.QueryEscape(page.More)
	}
	m, _ := json.Marshal(more) // a string: cannot fail
	buf.WriteString(`],"more":`)
	buf.Write(m)
	buf.WriteByte('}')
	last := page.LastStored
	if last.IsZero() {
		last = consistentThroughOf(c)
	}
	atts, err := s.attachmentsFor(c, org, page.Query.Attachments, page.Statements)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeResult(c, buf.Bytes(), last, page.Query.Attachments, atts)
}

// writeResult answers a statements GET or HEAD with body (JSON), as
// multipart/mixed with the attachment bodies atts when attachments were
// asked for.
func (s *server) writeResult(c *gin.Context, body []byte, lastModified time.Time, attachments bool, atts []lrs.AttachmentBody) {
	contentType := "application/json"
	if attachments {
		contentType, body = multipartResult(body, atts)
	}
	if !lastModified.IsZero() {
		c.Header("Last-Modified", lastModified.UTC().Format(http.TimeFormat))
	}
	c.Header("Content-Length", strconv.Itoa(len(body)))
	if c.Request.Method == http.MethodHead {
		c.Header("Content-Type", contentType)
		c.Status(http.StatusOK)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, contentType, body)
}

func newBoundary() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "lrs-" + hex.EncodeToString(b[:])
}

// mineOnly returns the AuthorityKey of p's authority when p may read only
// its own statements (statements/read/mine without statements/read,
// all/read or all), else "".
func mineOnly(p auth.Principal) string {
	if p.Allows(auth.ScopeStatementsRead, auth.ScopeAllRead) || !p.Allows(auth.ScopeStatementsReadMine) {
		return ""
	}
	return lrs.AuthorityKey(p.Authority)
}
