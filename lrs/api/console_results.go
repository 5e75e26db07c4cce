package api

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/forward"
)

// An objective's results in the console: the list on the objective's page
// (the admin API's filters, parsed by its own parser, its paging and its
// CSV export), and a result's page with what the statements say beside
// what is in effect, the override form and the override history. The
// override goes through forward.Admin.OverrideResult, whose CheckOverride
// is the only judge of what may be set: the form only turns its inputs
// into an OverrideInput, and the service's problems are shown beside the
// inputs they name.

func (s *server) routesConsoleResults(g *gin.RouterGroup) {
	o := "/orgs/:org/objectives/:id"
	s.cpage(g, "GET", o+"/result", "GET /orgs/:org/objectives/:id/progress", "", s.consoleResult)
	s.cpage(g, "POST", o+"/result", "POST /orgs/:org/objectives/:id/progress/override", "result.override", s.consoleOverride)
}

// consoleResultsPage is how many results the objective's page lists at a
// time (unless ?limit= says otherwise).
const consoleResultsPage = 25

// resultsSection is the section of the objective's page with its results.
func (s *server) resultsSection() consoleSection {
	return consoleSection{Template: "objective-results", Data: s.resultsSectionData}
}

// resultRow is a result in the objective's list.
type resultRow struct {
	ID, Link                        string
	Name, Participant, Registration string
	Completion, Success, Score      string
	Updated                         time.Time
	Overridden                      []string
	CompletionClass, SuccessClass   string
}

type resultsList struct {
	Base     string // the objective's page
	Fields   []*field
	Rows     []resultRow
	Next     string   // the next page's URL
	CSV      string   // the export with the same filters
	Note     string   // why there is no list (this server keeps no results)
	Invalid  bool     // the filters have problems
	Errors   []string // those of no filter of the form
	Filtered bool
}

func (s *server) resultsSectionData(c *gin.Context, org, id string) (any, error) {
	base := consolePath + "/orgs/" + org + "/objectives/" + id
	d := &resultsList{Base: base, Fields: resultFilterFields(c)}
	filters := url.Values{}
	for _, k := range []string{"completed", "passed", "since"} {
		if v := c.Query(k); v != "" {
			filters.Set(k, v)
		}
	}
	d.Filtered = len(filters) > 0
	d.CSV = AdminPrefix + "/orgs/" + url.PathEscape(org) + "/objectives/" + url.PathEscape(id) + "/results.csv"
	if len(filters) > 0 {
		d.CSV += "?" + filters.Encode()
	}
	q, problems := parseResultQuery(c, true)
	if len(problems) > 0 {
		for _, p := range attachProblems(d.Fields, problems) {
			if p.ID == "" { // of no filter of the form (limit, cursor)
				d.Errors = append(d.Errors, p.Message)
			}
		}
		d.Invalid = true
		return d, nil
	}
	if c.Query("limit") == "" {
		q.Limit = consoleResultsPage
	}
	q.ObjectiveID = id
	page, next, err := s.admin.opts.Forward.ListResults(c.Request.Context(), q)
	var ae *forward.AdminError
	switch {
	case errors.As(err, &ae) && errors.Is(err, forward.ErrConflict): // no results kept
		d.Note = sentence(ae.Message)
		return d, nil
	case err != nil:
		return nil, err
	}
	for _, r := range page {
		d.Rows = append(d.Rows, resultRowOf(base, r))
	}
	if next != nil {
		nq := url.Values{}
		for k, v := range filters {
			nq[k] = v
		}
		if l := c.Query("limit"); l != "" {
			nq.Set("limit", l)
		}
		nq.Set("cursor", encodeCursor(next, !q.Since.IsZero()))
		d.Next = base + "?" + nq.Encode() + "#results"
	}
	return d, nil
}

// resultFilterFields are the filters of the list, with the query's values.
func resultFilterFields(c *gin.Context) []*field {
	tri := func(name, label, yes, no string) *field {
		f := newField(name, label, "select")
		f.Value = c.Query(name)
		f.Options = []option{{Value: "", Label: "Any"}, {Value: "true", Label: yes}, {Value: "false", Label: no}}
		return f
	}
	since := newField("since", "Updated since", "text")
	since.Value, since.Example, since.Help = c.Query("since"), "2026-03-01T00:00:00Z", "RFC 3339."
	return []*field{tri("completed", "Completion", "Completed", "Not completed"), tri("passed", "Success", "Passed", "Failed"), since}
}

// resultLink is the console's page of a result.
func resultLink(base string, k forward.ResultKey) string {
	q := url.Values{"participant": {k.Participant}}
	if k.Registration != "" {
		q.Set("registration", k.Registration)
	}
	return base + "/result?" + q.Encode()
}

func resultRowOf(base string, r forward.ObjectiveResult) resultRow {
	v := r.Effective()
	row := resultRow{ID: r.ID(), Link: resultLink(base, r.ResultKey), Name: r.Actor.Name, Participant: participantText(r.Participant),
		Registration: r.Registration, Completion: boolText(v.Completion, "Completed", "Not completed"),
		Success: boolText(v.Success, "Passed", "Failed"), Score: scoreText(v.Score), Updated: r.UpdatedAt,
		CompletionClass: boolClass(v.Completion), SuccessClass: boolClass(v.Success)}
	for _, f := range r.OverriddenFields() {
		row.Overridden = append(row.Overridden, fieldLabel(f))
	}
	return row
}

// participantText is a participant key for people: an email for an mbox.
func participantText(key string) string {
	if addr, ok := strings.CutPrefix(key, "mbox:mailto:"); ok {
		return addr
	}
	return key
}

func boolText(b *bool, yes, no string) string {
	switch {
	case b == nil:
		return "Unknown"
	case *b:
		return yes
	}
	return no
}

func boolClass(b *bool) string {
	switch {
	case b == nil:
		return "none"
	case *b:
		return "ok"
	}
	return "down"
}

func num(p *float64) string { return strconv.FormatFloat(*p, 'g', -1, 64) }

// scoreText is a score for people: its parts that are known.
func scoreText(sc *forward.Score) string {
	if sc == nil {
		return "—"
	}
	var parts []string
	for _, p := range []struct {
		name string
		v    *float64
	}{{"scaled", sc.Scaled}, {"raw", sc.Raw}, {"min", sc.Min}, {"max", sc.Max}} {
		if p.v != nil {
			parts = append(parts, p.name+" "+num(p.v))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " · ")
}

var fieldLabels = map[forward.ResultField]string{
	forward.FieldCompletion: "Completion", forward.FieldSuccess: "Success", forward.FieldScore: "Score",
	forward.FieldDuration: "Duration", forward.FieldAttempts: "Attempts", forward.FieldFirstActivity: "First activity",
	forward.FieldLastActivity: "Last activity", forward.FieldCompletedAt: "Completed at",
}

func fieldLabel(f forward.ResultField) string {
	if l, ok := fieldLabels[f]; ok {
		return l
	}
	return string(f)
}

// valueText is field f of v for people.
func valueText(f forward.ResultField, v forward.Values) string {
	t := func(at time.Time) string {
		if at.IsZero() {
			return "—"
		}
		return at.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	switch f {
	case forward.FieldCompletion:
		return boolText(v.Completion, "Completed", "Not completed")
	case forward.FieldSuccess:
		return boolText(v.Success, "Passed", "Failed")
	case forward.FieldScore:
		return scoreText(v.Score)
	case forward.FieldDuration:
		if v.Duration == "" {
			return "—"
		}
		return v.Duration
	case forward.FieldAttempts:
		return strconv.Itoa(v.Attempts)
	case forward.FieldFirstActivity:
		return t(v.FirstActivity)
	case forward.FieldLastActivity:
		return t(v.LastActivity)
	case forward.FieldCompletedAt:
		return t(v.CompletedAt)
	}
	return ""
}

// ---- a result's page ----

type valueRow struct {
	Field               string
	Label               string
	Effective, Computed string
	Overridden          bool
	By, Reason          string
	At                  time.Time
}

type historyRow struct {
	At       time.Time
	By       string
	Reason   string
	Changes  []string
	Revision int64
}

type resultPage struct {
	R          forward.ObjectiveResult
	Objective  forward.Objective
	Back       string // the objective's page
	Action     string
	Name       string
	Who        string // the participant for people
	Values     []valueRow
	Overridden []string
	Head       []*field // completion, success, score
	Score      []fieldGroup
	Others     []fieldGroup // duration, attempts and the times: keep, set or clear each
	Reason     *field
	Hidden     []*field // participant, registration
	History    []historyRow
	// Previews link to the request each configuration would send for it
	// (console_request.go).
	Previews []option
}

func (s *server) consoleResult(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	r, o, ok := s.resultOf(c, v, fa, c.Query("participant"), c.Query("registration"))
	if !ok {
		return
	}
	s.showResult(c, v, http.StatusOK, r, o, nil, nil)
}

// resultOf reads the objective and the result of the page, or renders why
// not.
func (s *server) resultOf(c *gin.Context, v *view, fa *forward.Admin, participant, registration string) (forward.ObjectiveResult, forward.Objective, bool) {
	ctx, org, id := c.Request.Context(), v.Org.ID, c.Param("id")
	o, err := fa.Objective(ctx, org, id)
	if err == nil {
		var r forward.ObjectiveResult
		if r, err = fa.Result(ctx, org, id, participant, registration); err == nil {
			return r, o, true
		}
	}
	if ps := problemsOf(err); ps != nil { // the link's participant or registration
		s.consoleRefuse(c, v, http.StatusBadRequest, sentence(strings.Join(ps, "; ")))
	} else {
		s.consoleFail(c, v, err)
	}
	return forward.ObjectiveResult{}, forward.Objective{}, false
}

// showResult renders a result's page, its form with the values posted
// (nil: as the result is) and the problems of the form.
func (s *server) showResult(c *gin.Context, v *view, status int, r forward.ObjectiveResult, o forward.Objective, form url.Values, problems []string) {
	org := v.Org.ID
	base := consolePath + "/orgs/" + org + "/objectives/" + o.ID
	d := &resultPage{R: r, Objective: o, Back: base, Action: base + "/result", Name: r.Actor.Name, Who: participantText(r.Participant)}
	eff := r.Effective()
	for _, f := range forward.ResultFields {
		row := valueRow{Field: string(f), Label: fieldLabel(f), Effective: valueText(f, eff), Computed: valueText(f, r.Computed), Overridden: r.Overridden(f)}
		if e, ok := r.Override.Set[f]; ok {
			row.By, row.At, row.Reason = e.By, e.At, e.Reason
			d.Overridden = append(d.Overridden, fieldLabel(f))
		}
		d.Values = append(d.Values, row)
	}
	for i := len(r.History) - 1; i >= 0; i-- { // newest first
		e := r.History[i]
		h := historyRow{At: e.At, By: e.By, Reason: e.Reason, Revision: e.Revision}
		for _, f := range e.Set {
			h.Changes = append(h.Changes, fieldLabel(f)+" set to "+valueText(f, e.Values))
		}
		for _, f := range e.Cleared {
			h.Changes = append(h.Changes, fieldLabel(f)+" cleared")
		}
		d.History = append(d.History, h)
	}
	if fa := s.admin.opts.Forward; fa != nil {
		var err error
		if d.Previews, err = resultPreviews(c, fa, org, o, r); err != nil {
			s.consoleFail(c, v, err)
			return
		}
	}
	d.Head, d.Score, d.Others, d.Reason, d.Hidden = overrideForm(r, form)
	fields := slices.Concat(d.Head, groupFields(d.Score), groupFields(d.Others), []*field{d.Reason}, d.Hidden)
	v.Title, v.Section, v.Data = "Result of "+firstNonEmpty(r.Actor.Name, d.Who), "objectives", d
	v.Problems = attachProblems(fields, problems)
	s.render(c, status, "result", v)
}

// overrideForm is the form of an override of r: the values of form (nil:
// the form as r is, every value kept).
func overrideForm(r forward.ObjectiveResult, form url.Values) (head []*field, score []fieldGroup, others []fieldGroup, reason *field, hidden []*field) {
	get := func(name, def string) string {
		if form == nil {
			return def
		}
		return form.Get(name)
	}
	eff := r.Effective()
	words := func(f forward.ResultField, v forward.Values) string { // an option's words: no lone dash
		if t := valueText(f, v); t != "—" {
			return t
		}
		return "not known"
	}
	choice := func(f forward.ResultField, yes, no string) *field {
		in := newField(string(f), fieldLabel(f), "select")
		in.Value = get(string(f), "")
		in.Options = []option{{Value: "", Label: "Keep: " + words(f, eff)}, {Value: "true", Label: "Set to " + yes}, {Value: "false", Label: "Set to " + no}}
		if r.Overridden(f) {
			in.Options = append(in.Options, option{Value: "clear", Label: "Clear the override: back to " + words(f, r.Computed)})
			in.Help = "Overridden: the statements say " + words(f, r.Computed) + "."
		}
		return in
	}
	sc := newField("score", "Score", "select")
	sc.Value = get("score", "")
	sc.Options = []option{{Value: "", Label: "Keep: " + words(forward.FieldScore, eff)}, {Value: "set", Label: "Set to the values below"}}
	if r.Overridden(forward.FieldScore) {
		sc.Options = append(sc.Options, option{Value: "clear", Label: "Clear the override: back to " + words(forward.FieldScore, r.Computed)})
		sc.Help = "Overridden: the statements say " + words(forward.FieldScore, r.Computed) + "."
	}
	head = []*field{choice(forward.FieldCompletion, "Completed", "Not completed"), choice(forward.FieldSuccess, "Passed", "Failed"), sc}
	part := func(name, label string, p *float64) *field {
		in := newField("score."+name, label, "text")
		def := ""
		if p != nil {
			def = num(p)
		}
		in.Value, in.Autocomplete = get("score."+name, def), "off"
		return in
	}
	var cur forward.Score
	if eff.Score != nil {
		cur = *eff.Score
	}
	sw := &when{Input: "score", Values: `["set"]`, Text: "Applies when Score is “Set to the values below”."}
	score = []fieldGroup{{Legend: "The score's values", When: sw, Fields: []*field{
		part("scaled", "Scaled (−1 to 1)", cur.Scaled), part("raw", "Raw", cur.Raw), part("min", "Minimum", cur.Min), part("max", "Maximum", cur.Max),
	}}}
	// The other values: a choice (keep, set, clear) each, and the value
	// to set, as the admin API takes it.
	var rest []*field
	for _, o := range otherValues {
		ch := newField(string(o.f)+".do", fieldLabel(o.f), "select")
		ch.Value = get(ch.Name, "")
		ch.Options = []option{{Value: "", Label: "Keep: " + words(o.f, eff)}, {Value: "set", Label: "Set to the value below"}}
		if r.Overridden(o.f) {
			ch.Options = append(ch.Options, option{Value: "clear", Label: "Clear the override: back to " + words(o.f, r.Computed)})
			ch.Help = "Overridden: the statements say " + words(o.f, r.Computed) + "."
		}
		in := newField(string(o.f), "New "+strings.ToLower(fieldLabel(o.f)), "text")
		in.Value, in.Help, in.Example, in.Autocomplete = get(string(o.f), formText(o.f, eff)), o.help, o.example, "off"
		in.When = &when{Input: ch.Name, Values: `["set"]`, Text: "Applies when " + fieldLabel(o.f) + " is “Set to the value below”."}
		rest = append(rest, ch, in)
	}
	others = []fieldGroup{{Legend: "Duration, attempts and times", Fields: rest}}
	reason = newField("reason", "Reason", "textarea")
	reason.Required, reason.Value = true, get("reason", "")
	reason.Help = "Why the value is changed: kept in the result's history with your name."
	p := newField("participant", "", "hidden")
	p.Value = r.Participant
	reg := newField("registration", "", "hidden")
	reg.Value = r.Registration
	return head, score, others, reason, []*field{p, reg}
}

// otherValues are the values of a result besides completion, success and
// score, with how the admin API takes each.
var otherValues = []struct {
	f             forward.ResultField
	help, example string
}{
	{forward.FieldDuration, "An ISO 8601 duration, as in xAPI: PT1H30M is 1 h 30 min, PT45S 45 seconds.", "PT1H30M"},
	{forward.FieldAttempts, "A whole number, 0 or more.", "2"},
	{forward.FieldFirstActivity, "An RFC 3339 time, with its offset: 2026-03-01T09:30:00Z.", "2026-03-01T09:30:00Z"},
	{forward.FieldLastActivity, "An RFC 3339 time, with its offset: 2026-03-01T10:15:00Z.", "2026-03-01T10:15:00Z"},
	{forward.FieldCompletedAt, "An RFC 3339 time, with its offset: 2026-03-01T10:15:00Z.", "2026-03-01T10:15:00Z"},
}

// formText is the value f of v as the form takes it ("" when not known).
func formText(f forward.ResultField, v forward.Values) string {
	t := func(at time.Time) string {
		if at.IsZero() {
			return ""
		}
		return at.UTC().Format(time.RFC3339Nano)
	}
	switch f {
	case forward.FieldDuration:
		return v.Duration
	case forward.FieldAttempts:
		return strconv.Itoa(v.Attempts)
	case forward.FieldFirstActivity:
		return t(v.FirstActivity)
	case forward.FieldLastActivity:
		return t(v.LastActivity)
	case forward.FieldCompletedAt:
		return t(v.CompletedAt)
	}
	return ""
}

// overrideInputOf turns the form into the service's input, judging
// nothing: a value that is not one (a score part that is not a number, a
// duration or a time that is not one) is passed on as such, and
// CheckOverride names it. The one problem it names itself is one the
// input cannot carry, as the admin API's decoding does: attempts that are
// not a whole number.
func overrideInputOf(form url.Values) (in forward.OverrideInput, errs []string) {
	in = forward.OverrideInput{Reason: strings.TrimSpace(strings.ReplaceAll(form.Get("reason"), "\r\n", "\n"))}
	for _, b := range []struct {
		f   forward.ResultField
		dst **bool
	}{{forward.FieldCompletion, &in.Values.Completion}, {forward.FieldSuccess, &in.Values.Success}} {
		switch v := form.Get(string(b.f)); v {
		case "":
		case "clear":
			in.Clear = append(in.Clear, b.f)
		case "true", "false":
			t := v == "true"
			*b.dst = &t
			in.Set = append(in.Set, b.f)
		default: // set to nothing: "must be true or false"
			in.Set = append(in.Set, b.f)
		}
	}
	switch form.Get("score") {
	case "":
	case "clear":
		in.Clear = append(in.Clear, forward.FieldScore)
	default:
		in.Set = append(in.Set, forward.FieldScore)
		var sc forward.Score
		for _, p := range []struct {
			name string
			dst  **float64
		}{{"scaled", &sc.Scaled}, {"raw", &sc.Raw}, {"min", &sc.Min}, {"max", &sc.Max}} {
			v := strings.TrimSpace(form.Get("score." + p.name))
			if v == "" {
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				x = math.NaN() // "must be a number"
			}
			*p.dst = &x
		}
		in.Values.Score = &sc
	}
	for _, o := range otherValues {
		f := o.f
		switch form.Get(string(f) + ".do") {
		case "":
			continue
		case "clear":
			in.Clear = append(in.Clear, f)
			continue
		}
		in.Set = append(in.Set, f)
		v := strings.TrimSpace(form.Get(string(f)))
		switch f {
		case forward.FieldDuration:
			in.Values.Duration = v // CheckOverride: "is not an ISO 8601 duration"
		case forward.FieldAttempts:
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, "attempts: must be a whole number") // the admin API's words
			}
			in.Values.Attempts = n
		default:
			at, _ := time.Parse(time.RFC3339Nano, v) // the zero time: CheckOverride's "must be a time (RFC 3339)"
			switch f {
			case forward.FieldFirstActivity:
				in.Values.FirstActivity = at
			case forward.FieldLastActivity:
				in.Values.LastActivity = at
			default:
				in.Values.CompletedAt = at
			}
		}
	}
	for _, f := range form["clear"] { // the admin API's list of fields to clear
		in.Clear = append(in.Clear, forward.ResultField(f))
	}
	return in, errs
}

func (s *server) consoleOverride(c *gin.Context, v *view) {
	fa, ok := s.consoleForward(c, v)
	if !ok {
		return
	}
	if err := c.Request.ParseForm(); err != nil {
		s.consoleRefuse(c, v, http.StatusBadRequest, "The form could not be read: nothing was done.")
		return
	}
	form := c.Request.PostForm
	r, o, ok := s.resultOf(c, v, fa, form.Get("participant"), form.Get("registration"))
	if !ok {
		return
	}
	in, errs := overrideInputOf(form)
	in.By = adminWho(c)
	if len(errs) > 0 { // with the service's own problems of the rest, nothing done
		s.showResult(c, v, http.StatusBadRequest, r, o, form, append(errs, forward.CheckOverride(in)...))
		return
	}
	got, err := fa.OverrideResult(c.Request.Context(), v.Org.ID, o.ID, r.Participant, r.Registration, in)
	var ae *forward.AdminError
	switch {
	case problemsOf(err) != nil:
		s.showResult(c, v, http.StatusBadRequest, r, o, form, problemsOf(err))
		return
	case errors.As(err, &ae) && errors.Is(err, forward.ErrConflict): // nothing to clear (it changed meanwhile)
		s.showResult(c, v, http.StatusConflict, r, o, form, []string{ae.Message})
		return
	case err != nil:
		s.consoleFail(c, v, err)
		return
	}
	setTarget(c, v.Org.ID+"/"+o.ID+"/"+got.ID())
	c.Redirect(http.StatusSeeOther, resultLink(consolePath+"/orgs/"+v.Org.ID+"/objectives/"+o.ID, got.ResultKey)+"&done=overridden")
}
