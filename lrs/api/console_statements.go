package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// The statement browser of the console: an organization's statements with
// the statements resource's own filters (parsed by the resource's parser)
// and paging, each with its raw JSON. It reads through the LRS service in
// the organization's scope, as the organization's administrators may (no
// credential is involved).

func (s *server) routesConsoleStatements(g *gin.RouterGroup) {
	s.cpage(g, "GET", "/orgs/:org/statements", "", "", s.consoleStatements)
}

type statementRow struct {
	ID, Stored, Timestamp string
	Actor, Verb, Object   string
	Voided                bool
	JSON                  string
}

type statementsPage struct {
	Fields []*field
	Rows   []statementRow
	More   string // the next page's URL
	Asked  bool   // a query was made
	Count  int
	Daily  chart
}

// browseParams are the filters of the browser, in the resource's names.
var browseParams = []string{"statementId", "agent", "verb", "activity", "registration", "since", "until",
	"related_activities", "related_agents", "ascending", "limit"}

func browseFields(q url.Values) []*field {
	text := func(name, label, example, help string) *field {
		f := newField(name, label, "text")
		f.Value, f.Example, f.Help = q.Get(name), example, help
		return f
	}
	check := func(name, label string) *field {
		f := newField(name, label, "checkbox")
		if q.Get(name) == "true" {
			f.Value = "true"
		}
		return f
	}
	lim := text("limit", "Per page", "20", "")
	if lim.Value == "" {
		lim.Value = "20"
	}
	return []*field{
		text("agent", "Agent", `ada@example.com or {"account":{"homePage":"https://lms.example","name":"42"}}`, "An email, or the agent as JSON."),
		text("verb", "Verb IRI", "http://adlnet.gov/expapi/verbs/passed", ""),
		text("activity", "Activity IRI", "https://courses.example.com/fire-safety", ""),
		text("registration", "Registration", "UUID", ""),
		text("since", "Stored after", "2026-03-01T00:00:00Z", "RFC 3339."),
		text("until", "Stored at or before", "2026-03-31T23:59:59Z", "RFC 3339."),
		text("statementId", "Statement id", "UUID", "One statement (the other filters are then ignored)."),
		check("related_activities", "Also in context activities"),
		check("related_agents", "Also as another agent (team, instructor…)"),
		check("ascending", "Oldest first"),
		lim,
	}
}

// browseQuery is the resource's query of the browser's form: empty
// filters dropped, an email agent written as JSON.
func browseQuery(q url.Values) url.Values {
	out := url.Values{}
	if m := q.Get("more"); m != "" {
		out.Set("more", m)
		return out
	}
	if id := strings.TrimSpace(q.Get("statementId")); id != "" {
		out.Set("statementId", id)
		return out
	}
	for _, k := range browseParams {
		v := strings.TrimSpace(q.Get(k))
		if v == "" || k == "statementId" {
			continue
		}
		if k == "agent" && !strings.HasPrefix(v, "{") {
			mbox := v
			if !strings.HasPrefix(mbox, "mailto:") {
				mbox = "mailto:" + mbox
			}
			b, _ := json.Marshal(map[string]string{"mbox": mbox})
			v = string(b)
		}
		out.Set(k, v)
	}
	return out
}

// browseProblem names the filter an error of the resource's parser is
// about ("verb must be …" is verb's).
func browseProblem(msg string) string {
	for _, k := range browseParams {
		if rest, ok := strings.CutPrefix(msg, k+" "); ok {
			return k + ": " + rest
		}
	}
	return msg
}

func (s *server) consoleStatements(c *gin.Context, v *view) {
	ctx, org := c.Request.Context(), v.Org.ID
	q := c.Request.URL.Query()
	d := &statementsPage{Fields: browseFields(q)}
	v.Title, v.Section, v.Data = "Statements", "statements", d
	status := http.StatusOK
	if counts, err := s.svc.StatementCounts(ctx, org, s.admin.opts.Now().AddDate(0, 0, -29), s.admin.opts.Now()); err == nil {
		d.Daily = statementsChart("chart-statements", "Statements stored per day, last 30 days", counts)
	}
	g, err := parseGet(browseQuery(q), schema.V2_0_0)
	if err == nil {
		d.Asked = true
		err = s.browse(c, org, g, d)
	}
	if err != nil {
		if msg := userProblem(err); msg != "" {
			v.Problems = attachProblems(d.Fields, []string{browseProblem(msg)})
			status = http.StatusBadRequest
		} else {
			s.consoleFail(c, v, err)
			return
		}
	}
	s.render(c, status, "statements", v)
}

// browse runs the query and fills the page with its statements.
func (s *server) browse(c *gin.Context, org string, g getRequest, d *statementsPage) error {
	ctx := c.Request.Context()
	var raws [][]byte
	switch {
	case g.id != "":
		raw, _, err := s.svc.GetStatement(ctx, org, g.id, false)
		if err != nil {
			if raw, _, err = s.svc.GetStatement(ctx, org, g.id, true); err != nil {
				return err
			}
		}
		raws = [][]byte{raw}
	default:
		var page struct {
			Statements [][]byte
			More       string
		}
		if g.more != "" {
			p, err := s.svc.More(ctx, org, g.more)
			if err != nil {
				return err
			}
			page.Statements, page.More = p.Statements, p.More
		} else {
			p, err := s.svc.QueryStatements(ctx, org, g.query)
			if err != nil {
				return err
			}
			page.Statements, page.More = p.Statements, p.More
		}
		raws = page.Statements
		if page.More != "" {
			d.More = consolePath + "/orgs/" + org + "/statements?more=" + url.QueryEscape(page.More)
		}
	}
	for _, raw := range raws {
		d.Rows = append(d.Rows, statementRowOf(raw))
	}
	d.Count = len(d.Rows)
	return nil
}

// statementRowOf is what the browser shows of a stored statement.
func statementRowOf(raw []byte) statementRow {
	var st map[string]any
	_ = json.Unmarshal(raw, &st)
	r := statementRow{ID: str(st["id"]), Stored: stamp(str(st["stored"])), Timestamp: stamp(str(st["timestamp"]))}
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		r.JSON = pretty.String()
	} else {
		r.JSON = string(raw)
	}
	r.Actor = agentName(st["actor"])
	if vb, ok := st["verb"].(map[string]any); ok {
		r.Verb = firstDisplay(vb["display"], str(vb["id"]))
		r.Voided = str(vb["id"]) == "http://adlnet.gov/expapi/verbs/voided"
	}
	if ob, ok := st["object"].(map[string]any); ok {
		switch str(ob["objectType"]) {
		case "StatementRef":
			r.Object = "statement " + str(ob["id"])
		case "Agent", "Group":
			r.Object = agentName(ob)
		case "SubStatement":
			r.Object = "a sub-statement"
		default:
			name := ""
			if def, ok := ob["definition"].(map[string]any); ok {
				name = firstDisplay(def["name"], "")
			}
			r.Object = firstNonEmpty(name, str(ob["id"]))
		}
	}
	return r
}

// userProblem is the message of an error about the query itself ("" for
// another error).
func userProblem(err error) string {
	switch lrs.ErrorCode(err) {
	case lrs.EINVALID:
		return lrs.ErrorMessage(err)
	case lrs.ENOTFOUND:
		return "statementId: " + lrs.ErrorMessage(err)
	}
	return ""
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func stamp(ts string) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ts
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func agentName(v any) string {
	a, _ := v.(map[string]any)
	if a == nil {
		return ""
	}
	if n := str(a["name"]); n != "" {
		return n
	}
	if m := str(a["mbox"]); m != "" {
		return strings.TrimPrefix(m, "mailto:")
	}
	if acc, ok := a["account"].(map[string]any); ok {
		return str(acc["name"]) + " (" + str(acc["homePage"]) + ")"
	}
	if o := str(a["openid"]); o != "" {
		return o
	}
	if h := str(a["mbox_sha1sum"]); h != "" {
		return "sha1:" + h
	}
	return str(a["objectType"])
}

// firstDisplay is a language map's en-US, en or first value.
func firstDisplay(v any, fallback string) string {
	m, _ := v.(map[string]any)
	for _, k := range []string{"en-US", "en", "en-GB"} {
		if s := str(m[k]); s != "" {
			return s
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if s := str(m[k]); s != "" {
			return s
		}
	}
	return fallback
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
