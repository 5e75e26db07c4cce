package api

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	gojson "github.com/goccy/go-json"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// The results of an organization's objectives in the admin API: one
// participant's progress on an objective (the analogue of SCORM Cloud's
// registration progress), lists of an objective's or a participant's
// results with filters and paging, a CSV export, overrides, and the
// recompute of an objective. The handlers only translate HTTP: the rules
// are forward.Admin's and forward.Results'.

func (s *server) resultRoutes(g *gin.RouterGroup) {
	o := "/orgs/:org"
	g.GET(o+"/objectives/:id/results", s.audited("result.list", s.fwd(s.listObjectiveResults)))
	g.GET(o+"/objectives/:id/results.csv", s.audited("result.export", s.fwd(s.exportResults)))
	g.POST(o+"/objectives/:id/results/recompute", s.audited("result.recompute", s.fwd(s.recomputeResults)))
	g.GET(o+"/objectives/:id/progress", s.audited("result.get", s.fwd(s.getProgress)))
	g.POST(o+"/objectives/:id/progress/override", s.audited("result.override", s.fwd(s.overrideProgress)))
	g.GET(o+"/results", s.audited("result.participant", s.fwd(s.listParticipantResults)))
}

// adminWho names the administrator of a request in what it records
// (overrides), as the audit log does: the holder of the admin token, or
// the signed-in account.
func adminWho(c *gin.Context) string { return adminPrincipalOf(c).who() }

// ---- representations ----

type scoreJSON struct {
	Scaled *float64 `json:"scaled,omitempty"`
	Raw    *float64 `json:"raw,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
}

func scoreOut(sc *forward.Score) *scoreJSON {
	if sc == nil {
		return nil
	}
	return &scoreJSON{Scaled: sc.Scaled, Raw: sc.Raw, Min: sc.Min, Max: sc.Max}
}

// valuesJSON are a result's values; null: not known.
type valuesJSON struct {
	Completion      *bool      `json:"completion"`
	Success         *bool      `json:"success"`
	Score           *scoreJSON `json:"score"`
	Duration        *string    `json:"duration"`
	DurationSeconds *float64   `json:"duration_seconds"`
	Attempts        int        `json:"attempts"`
	FirstActivity   *string    `json:"first_activity"` // RFC 3339 (timeText)
	LastActivity    *string    `json:"last_activity"`
	CompletedAt     *string    `json:"completed_at"`
}

// timeText is t as its JSON string says it (time.Time's MarshalJSON: RFC
// 3339 with the fraction it needs, in UTC): a result's times are formatted
// once, as text, and the representation's copies (the effective values
// and the computed ones) share it; goccy/go-json then writes a string
// instead of calling a marshaler for each.
func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func timeTextOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timeText(t)
	return &s
}

func valuesOut(v forward.Values) valuesJSON {
	out := valuesJSON{Completion: v.Completion, Success: v.Success, Score: scoreOut(v.Score), Attempts: v.Attempts,
		FirstActivity: timeTextOrNil(v.FirstActivity), LastActivity: timeTextOrNil(v.LastActivity), CompletedAt: timeTextOrNil(v.CompletedAt)}
	if v.Duration != "" {
		d := v.Duration
		out.Duration = &d
		if secs, ok := durationSeconds(d); ok {
			out.DurationSeconds = &secs
		}
	}
	return out
}

// durationSeconds is schema.DurationSeconds (a regular expression: 2.5
// µs, most of a result's representation), remembered: the durations of
// an organization's results are few and repeat.
func durationSeconds(d string) (float64, bool) {
	durations.mu.Lock()
	e, ok := durations.m[d]
	durations.mu.Unlock()
	if ok {
		return e.secs, e.ok
	}
	secs, valid := schema.DurationSeconds(d)
	durations.mu.Lock()
	if durations.m == nil || len(durations.m) >= 4096 {
		durations.m = make(map[string]durationEntry, 64)
	}
	durations.m[d] = durationEntry{secs, valid}
	durations.mu.Unlock()
	return secs, valid
}

type durationEntry struct {
	secs float64
	ok   bool
}

var durations struct {
	mu sync.Mutex
	m  map[string]durationEntry
}

type actorJSON struct {
	Name    string          `json:"name,omitempty"`
	Mbox    string          `json:"mbox,omitempty"`
	SHA1Sum string          `json:"mbox_sha1sum,omitempty"`
	OpenID  string          `json:"openid,omitempty"`
	Account *accountJSONOut `json:"account,omitempty"`
}

type accountJSONOut struct {
	HomePage string `json:"homePage"`
	Name     string `json:"name"`
}

type sourcesJSON struct {
	Completion    string `json:"completion,omitempty"`
	Success       string `json:"success,omitempty"`
	Score         string `json:"score,omitempty"`
	Duration      string `json:"duration,omitempty"`
	FirstActivity string `json:"first_activity,omitempty"`
	LastActivity  string `json:"last_activity,omitempty"`
	CompletedAt   string `json:"completed_at,omitempty"`
}

type overrideJSON struct {
	Value  any    `json:"value"`
	By     string `json:"by"`
	At     string `json:"at"` // timeText
	Reason string `json:"reason"`
}

type overrideEventJSON struct {
	At       string         `json:"at"` // timeText
	By       string         `json:"by"`
	Reason   string         `json:"reason"`
	Set      map[string]any `json:"set"`
	Cleared  []string       `json:"cleared"`
	Revision int64          `json:"revision"`
}

// resultJSON is a result: its effective values at the top, what the
// statements say under computed (with the statements that set each value
// under sources), and the overrides.
type resultJSON struct {
	ID           string `json:"id"`
	Org          string `json:"org"`
	ObjectiveID  string `json:"objective_id"`
	Participant  string `json:"participant"`
	Registration string `json:"registration"`
	valuesJSON
	Actor      actorJSON               `json:"actor"`
	Computed   valuesJSON              `json:"computed"`
	Sources    sourcesJSON             `json:"sources"`
	Overrides  map[string]overrideJSON `json:"overrides"`
	History    []overrideEventJSON     `json:"override_history,omitempty"`
	Statements int                     `json:"statements"`
	Revision   int64                   `json:"revision"`
	CreatedAt  string                  `json:"created_at"` // timeText
	UpdatedAt  string                  `json:"updated_at"`
}

// fieldValue is the JSON value of field f of v.
func fieldValue(f forward.ResultField, v forward.Values) any {
	out := valuesOut(v)
	switch f {
	case forward.FieldCompletion:
		return out.Completion
	case forward.FieldSuccess:
		return out.Success
	case forward.FieldScore:
		return out.Score
	case forward.FieldDuration:
		return out.Duration
	case forward.FieldAttempts:
		return out.Attempts
	case forward.FieldFirstActivity:
		return out.FirstActivity
	case forward.FieldLastActivity:
		return out.LastActivity
	case forward.FieldCompletedAt:
		return out.CompletedAt
	}
	return nil
}

func resultOut(r forward.ObjectiveResult, history bool) resultJSON {
	a := r.Actor
	computed := valuesOut(r.Computed)
	effective := computed // the same values without an override (pointers shared: they are only encoded)
	if len(r.Override.Set) > 0 {
		effective = valuesOut(r.Effective())
	}
	out := resultJSON{
		ID: r.ID(), Org: r.Org, ObjectiveID: r.ObjectiveID, Participant: r.Participant, Registration: r.Registration,
		valuesJSON: effective, Computed: computed, Sources: sourcesJSON(r.Sources),
		Actor:     actorJSON{Name: a.Name, Mbox: a.Mbox, SHA1Sum: a.MboxSHA1Sum, OpenID: a.OpenID},
		Overrides: map[string]overrideJSON{}, Statements: r.Statements, Revision: r.Revision,
		CreatedAt: timeText(r.CreatedAt), UpdatedAt: timeText(r.UpdatedAt),
	}
	if a.AccountName != "" || a.AccountHomePage != "" {
		out.Actor.Account = &accountJSONOut{HomePage: a.AccountHomePage, Name: a.AccountName}
	}
	for _, f := range r.OverriddenFields() {
		e := r.Override.Set[f]
		out.Overrides[string(f)] = overrideJSON{Value: fieldValue(f, r.Override.Values), By: e.By, At: timeText(e.At), Reason: e.Reason}
	}
	if history {
		out.History = []overrideEventJSON{}
		for _, e := range r.History {
			ev := overrideEventJSON{At: timeText(e.At), By: e.By, Reason: e.Reason, Set: map[string]any{}, Cleared: []string{}, Revision: e.Revision}
			for _, f := range e.Set {
				ev.Set[string(f)] = fieldValue(f, e.Values)
			}
			for _, f := range e.Cleared {
				ev.Cleared = append(ev.Cleared, string(f))
			}
			out.History = append(out.History, ev)
		}
	}
	return out
}

// ---- queries ----

// cursorJSON is the opaque cursor of a results page: the position of its
// last result, and whether the query orders by update time.
type cursorJSON struct {
	Since        bool   `json:"s,omitempty"`
	UpdatedMs    int64  `json:"u,omitempty"`
	ObjectiveID  string `json:"o"`
	Participant  string `json:"p"`
	Registration string `json:"r,omitempty"`
}

func encodeCursor(c *forward.ResultCursor, since bool) string {
	if c == nil {
		return ""
	}
	b, _ := json.Marshal(cursorJSON{Since: since, UpdatedMs: c.UpdatedAt.UnixMilli(), ObjectiveID: c.ObjectiveID,
		Participant: c.Participant, Registration: c.Registration})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, since bool) (*forward.ResultCursor, error) {
	bad := lrs.Errorf(lrs.EINVALID, "cursor: not a cursor of this list (give back the next_cursor of the previous page, with the same filters)")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c cursorJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&c) != nil || c.Since != since || c.Participant == "" {
		return nil, bad
	}
	return &forward.ResultCursor{UpdatedAt: time.UnixMilli(c.UpdatedMs).UTC(), ObjectiveID: c.ObjectiveID,
		Participant: c.Participant, Registration: c.Registration}, nil
}

// resultQuery reads the filters of a results list: completed, passed
// (true or false), since (RFC 3339), participant; with page also limit
// (1..1000, default 100) and cursor. It answers the problems and returns
// false when there are some.
func (s *server) resultQuery(c *gin.Context, page bool) (forward.ResultQuery, bool) {
	q, errs := parseResultQuery(c, page)
	if len(errs) > 0 {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "%s", strings.Join(errs, "; ")))
		return q, false
	}
	return q, true
}

// parseResultQuery reads what resultQuery reads and returns its problems,
// each "name: message" (the console shows them beside its filters).
func parseResultQuery(c *gin.Context, page bool) (forward.ResultQuery, []string) {
	q := forward.ResultQuery{Org: c.Param("org"), Participant: c.Query("participant")}
	var errs []string
	for _, p := range []struct {
		name string
		dst  **bool
	}{{"completed", &q.Completed}, {"passed", &q.Passed}} {
		switch v := c.Query(p.name); v {
		case "":
		case "true", "false":
			b := v == "true"
			*p.dst = &b
		default:
			errs = append(errs, fmt.Sprintf("%s: %q: want true or false", p.name, v))
		}
	}
	if v := c.Query("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("since: %q is not an RFC 3339 time", v))
		}
		q.Since = t.UTC()
	}
	if page {
		q.Limit = 100
		if v := c.Query("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > forward.MaxResultsPage {
				errs = append(errs, fmt.Sprintf("limit: want a number from 1 to %d", forward.MaxResultsPage))
			}
			q.Limit = n
		}
	}
	if len(errs) > 0 {
		return q, errs
	}
	if v := c.Query("cursor"); page && v != "" {
		after, err := decodeCursor(v, !q.Since.IsZero())
		if err != nil {
			return q, []string{lrs.ErrorMessage(err)}
		}
		q.After = after
	}
	return q, nil
}

func (s *server) listResults(c *gin.Context, q forward.ResultQuery) {
	page, next, err := s.fadmin().ListResults(c.Request.Context(), q)
	if err != nil {
		s.failForward(c, err)
		return
	}
	out := make([]resultJSON, len(page))
	for i, r := range page {
		out[i] = resultOut(r, false)
	}
	body := resultsPageJSON{Results: out}
	if next != nil {
		body.NextCursor = encodeCursor(next, !q.Since.IsZero())
	}
	// goccy/go-json: the same JSON as encoding/json's (gin's), a third of
	// its time for a page of 100 results.
	b, err := gojson.Marshal(body)
	if err != nil {
		s.failForward(c, fmt.Errorf("encode a page of results: %w", err))
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

type resultsPageJSON struct {
	Results    []resultJSON `json:"results"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// listObjectiveResults lists an objective's results (of one participant
// with ?participant=).
func (s *server) listObjectiveResults(c *gin.Context) {
	q, ok := s.resultQuery(c, true)
	if !ok {
		return
	}
	q.ObjectiveID = c.Param("id")
	s.listResults(c, q)
}

// listParticipantResults lists a participant's results on every objective.
func (s *server) listParticipantResults(c *gin.Context) {
	q, ok := s.resultQuery(c, true)
	if !ok {
		return
	}
	s.listResults(c, q)
}

// getProgress is one participant's result on the objective, in one
// registration (none without ?registration=), with its override history.
func (s *server) getProgress(c *gin.Context) {
	r, err := s.fadmin().Result(c.Request.Context(), c.Param("org"), c.Param("id"), c.Query("participant"), c.Query("registration"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, resultOut(r, true))
}

func (s *server) recomputeResults(c *gin.Context) {
	n, err := s.fadmin().RecomputeResults(c.Request.Context(), c.Param("org"), c.Param("id"))
	if err != nil {
		s.failForward(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recomputed": n})
}

// ---- overrides ----

// overrideRequest sets values (set: a value per field, each of the type
// the result shows) and clears others, with a reason.
type overrideRequest struct {
	Set    map[string]json.RawMessage `json:"set"`
	Clear  []string                   `json:"clear"`
	Reason string                     `json:"reason"`
}

// input decodes the set values by their field (every problem listed).
func (r overrideRequest) input() (forward.OverrideInput, []string) {
	in := forward.OverrideInput{Reason: r.Reason}
	var errs []string
	names := make([]string, 0, len(r.Set))
	for name := range r.Set {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		raw := r.Set[name]
		f := forward.ResultField(name)
		in.Set = append(in.Set, f)
		strict := func(dst any) error {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			return dec.Decode(dst)
		}
		var err error
		var what string
		switch f {
		case forward.FieldCompletion, forward.FieldSuccess:
			var b *bool
			err, what = strict(&b), "true or false"
			if f == forward.FieldCompletion {
				in.Values.Completion = b
			} else {
				in.Values.Success = b
			}
		case forward.FieldScore:
			var sc *scoreJSON
			err, what = strict(&sc), `an object {"scaled", "raw", "min", "max"}`
			if sc != nil {
				in.Values.Score = &forward.Score{Scaled: sc.Scaled, Raw: sc.Raw, Min: sc.Min, Max: sc.Max}
			}
		case forward.FieldDuration:
			err, what = strict(&in.Values.Duration), "an ISO 8601 duration"
		case forward.FieldAttempts:
			err, what = strict(&in.Values.Attempts), "a whole number"
		case forward.FieldFirstActivity, forward.FieldLastActivity, forward.FieldCompletedAt:
			var t time.Time
			err, what = strict(&t), "an RFC 3339 time"
			switch f {
			case forward.FieldFirstActivity:
				in.Values.FirstActivity = t
			case forward.FieldLastActivity:
				in.Values.LastActivity = t
			default:
				in.Values.CompletedAt = t
			}
		default:
			continue // CheckOverride names it
		}
		if err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) && what != "true or false" {
			errs = append(errs, fmt.Sprintf("set.%s: must be %s", name, what))
		}
	}
	for _, name := range r.Clear {
		in.Clear = append(in.Clear, forward.ResultField(name))
	}
	return in, errs
}

// overrideProgress sets or clears overrides of one participant's result
// on the objective (?participant=, ?registration=) and answers the result.
func (s *server) overrideProgress(c *gin.Context) {
	var req overrideRequest
	if !s.bindAdmin(c, &req) {
		return
	}
	in, errs := req.input()
	if len(errs) > 0 {
		s.failAdmin(c, lrs.Errorf(lrs.EINVALID, "%s", strings.Join(errs, "; ")))
		return
	}
	in.By = adminWho(c)
	r, err := s.fadmin().OverrideResult(c.Request.Context(), c.Param("org"), c.Param("id"), c.Query("participant"), c.Query("registration"), in)
	if err != nil {
		s.failForward(c, err)
		return
	}
	setTarget(c, c.Param("org")+"/"+c.Param("id")+"/"+r.ID())
	c.JSON(http.StatusOK, resultOut(r, true))
}

// ---- the export ----

// csvColumns are the columns of the export, in order.
var csvColumns = []string{
	"objective_id", "result_id", "participant", "registration", "name", "email", "account_homepage", "account_name",
	"completion", "success", "score_scaled", "score_raw", "score_min", "score_max", "duration", "duration_seconds",
	"attempts", "first_activity", "last_activity", "completed_at", "overridden", "statements", "revision", "updated_at",
}

// csvText guards a text cell against spreadsheet formulas (OWASP: a cell
// starting with =, +, -, @, a tab or a carriage return is prefixed with a
// quote): names and identifiers come from statements, which anyone with a
// write credential sends.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvRow(r forward.ObjectiveResult) []string {
	v := r.Effective()
	b := func(p *bool) string {
		if p == nil {
			return ""
		}
		return strconv.FormatBool(*p)
	}
	f := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	t := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	var sc forward.Score
	if v.Score != nil {
		sc = *v.Score
	}
	secs := ""
	if d, ok := schema.DurationSeconds(v.Duration); ok {
		secs = strconv.FormatFloat(d, 'f', -1, 64)
	}
	overridden := make([]string, 0, len(r.Override.Set))
	for _, fd := range r.OverriddenFields() {
		overridden = append(overridden, string(fd))
	}
	return []string{
		csvText(r.ObjectiveID), r.ID(), csvText(r.Participant), csvText(r.Registration), csvText(r.Actor.Name),
		csvText(strings.TrimPrefix(r.Actor.Mbox, "mailto:")), csvText(r.Actor.AccountHomePage), csvText(r.Actor.AccountName),
		b(v.Completion), b(v.Success), f(sc.Scaled), f(sc.Raw), f(sc.Min), f(sc.Max), v.Duration, secs,
		strconv.Itoa(v.Attempts), t(v.FirstActivity), t(v.LastActivity), t(v.CompletedAt), strings.Join(overridden, " "),
		strconv.Itoa(r.Statements), strconv.FormatInt(r.Revision, 10), t(r.UpdatedAt),
	}
}

// exportResults streams the objective's results (with the list's
// filters) as CSV (RFC 4180: a header row, CRLF line ends, quoted fields
// where needed), a page of the store at a time. A storage failure after
// the first bytes aborts the connection, so that a client never takes a
// cut file for a whole one.
func (s *server) exportResults(c *gin.Context) {
	q, ok := s.resultQuery(c, false)
	if !ok {
		return
	}
	q.ObjectiveID = c.Param("id")
	ctx := c.Request.Context()
	// The objective and the filters are checked before the first byte.
	if _, _, err := s.fadmin().ListResults(ctx, forward.ResultQuery{Org: q.Org, ObjectiveID: q.ObjectiveID, Participant: q.Participant, Limit: 1}); err != nil {
		s.failForward(c, err)
		return
	}
	name := strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, q.ObjectiveID)
	c.Header("Content-Type", "text/csv; charset=utf-8; header=present")
	c.Header("Content-Disposition", `attachment; filename="results-`+name+`.csv"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.UseCRLF = true
	_ = w.Write(csvColumns)
	n := 0
	err := s.fadmin().EachResult(ctx, q, func(r forward.ObjectiveResult) error {
		if err := w.Write(csvRow(r)); err != nil {
			return err
		}
		if n++; n%200 == 0 {
			w.Flush()
			return w.Error()
		}
		return nil
	})
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "results export cut short", slog.String("path", c.Request.URL.Path),
			slog.Int("rows", n), slog.String("error", err.Error()))
		s.auditRecord(c, "result.export", c.Param("org")+"/"+c.Param("id"), http.StatusInternalServerError)
		panic(http.ErrAbortHandler)
	}
}
