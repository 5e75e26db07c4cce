// Package postbacktest is the test kit of the postback destination: a
// local receiver of SCORM-Cloud-style registration postbacks that checks
// what an LMS receiving them relies on (sinks.md §4.5): the method, the
// content type and its charset, the form field names and the URL-decoded
// data (form) or the HTTP Basic header (httpbasic), the RegistrationSchema's
// field names, required fields and enum spellings, scores and completion
// amounts within 0–100, dates, and that `updated` never goes backwards per
// registration; and that answers on demand with any status, a hang (a
// timeout at the sender) or a connection reset.
//
// It decodes with its own copy of the schema, not the destination's, so a
// misspelt field cannot hide behind the same misspelling in the check.
package postbacktest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options say what the receiver expects.
type Options struct {
	// AuthType is "form" (default) or "httpbasic".
	AuthType string
	// UserName and Password are the credentials required (form fields
	// userName and password, or the Basic header); a request without
	// them, or with others, is answered 401. Both empty: none required.
	UserName, Password string
	// ResultsFormat, when set, is the format every registration must
	// have: "course" (no activityDetails), "activity" (activityDetails
	// without runtime data) or "full" (activityDetails whose activity has
	// runtime data).
	ResultsFormat string
}

// Answer is a programmed reply to one request, instead of the receiver's
// own verdict.
type Answer struct {
	Status     int    // default 200
	Location   string // Location header (redirects)
	RetryAfter string // Retry-After header
	Body       string
	// Hang answers nothing until the sender gives up or the receiver
	// closes: a timeout at the sender.
	Hang bool
	// Reset closes the connection with a TCP reset, without an answer.
	Reset bool
}

// Request is one request the receiver got, with its verdict.
type Request struct {
	Method string
	Header http.Header
	Body   []byte
	// Form is the decoded form (authType form).
	Form url.Values
	// Data is the registration JSON: the URL-decoded data field, or the
	// body.
	Data []byte
	// Registration is Data decoded (nil when it could not be).
	Registration *Registration
	// Problems are what the receiver found wrong; empty when valid.
	Problems []string
	// Status is what the receiver answered (0 after a hang or a reset).
	Status int
	// Programmed is set when a queued Answer replied; such a request is
	// never applied.
	Programmed bool
	// Duplicate is set for a valid request whose registration, updated
	// time and content were applied before (a retry): answered 200,
	// applied once.
	Duplicate bool
	// Stale is set for a valid request whose `updated` is older than the
	// registration's applied one (or equal with other content): answered
	// 200 and not applied, as a latest-wins receiver does; it is a
	// Violation.
	Stale bool
}

// Violation is an ordering fault of the sender: for one registration, an
// `updated` older than one already applied, or the same `updated` with
// other content (a receiver that dedupes by (id, updated) would drop the
// change).
type Violation struct {
	Registration string
	Applied, Got string // the applied and the received `updated`
	Message      string
}

// Receiver is a local postback receiver.
type Receiver struct {
	URL string

	opts   Options
	srv    *httptest.Server
	closed chan struct{}
	once   sync.Once

	mu         sync.Mutex
	answers    []Answer
	requests   []Request
	applied    map[string]applied
	violations []Violation
}

type applied struct {
	updated time.Time
	text    string
	data    []byte
	reg     Registration
}

// NewReceiver starts a receiver; it stops when the test ends.
func NewReceiver(t testing.TB, o Options) *Receiver {
	t.Helper()
	switch o.AuthType {
	case "":
		o.AuthType = "form"
	case "form", "httpbasic":
	default:
		t.Fatalf("postbacktest: AuthType %q: want form or httpbasic", o.AuthType)
	}
	switch o.ResultsFormat {
	case "", "course", "activity", "full":
	default:
		t.Fatalf("postbacktest: ResultsFormat %q: want course, activity or full", o.ResultsFormat)
	}
	r := &Receiver{opts: o, closed: make(chan struct{}), applied: map[string]applied{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/postback"
	t.Cleanup(r.Close)
	return r
}

// Close stops the receiver, releasing hung requests first.
func (r *Receiver) Close() {
	r.once.Do(func() {
		close(r.closed)
		r.srv.Close()
	})
}

// Then queues answers: each request takes the next one (after it was read
// and checked); when none is left the receiver answers its own verdict.
func (r *Receiver) Then(answers ...Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, answers...)
}

// Requests are every request received, in order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Accepted are the requests applied (valid, not programmed, not a
// duplicate, not stale), in order.
func (r *Receiver) Accepted() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Request
	for _, q := range r.requests {
		if q.Status == http.StatusOK && !q.Programmed && !q.Duplicate && !q.Stale && len(q.Problems) == 0 {
			out = append(out, q)
		}
	}
	return out
}

// Registration is the applied state of registration id (the newest by
// `updated`), and whether there is one.
func (r *Receiver) Registration(id string) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.applied[id]
	return a.reg, ok
}

// Registrations are the ids of the registrations applied, sorted.
func (r *Receiver) Registrations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.applied))
	for id := range r.applied {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Violations are the ordering faults seen, in order.
func (r *Receiver) Violations() []Violation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Violation(nil), r.violations...)
}

// WaitAccepted polls until n requests were applied, failing the test
// after timeout.
func (r *Receiver) WaitAccepted(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := r.Accepted(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("postbacktest: %d requests applied after %v, want %d:%s", len(r.Accepted()), timeout, n, r.summary())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Receiver) summary() string {
	var b strings.Builder
	for i, q := range r.Requests() {
		fmt.Fprintf(&b, "\n  #%d %s → %d %v", i, q.Method, q.Status, q.Problems)
	}
	return b.String()
}

const maxBody = 4 << 20

func (r *Receiver) serve(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody))
	q := Request{Method: hr.Method, Header: hr.Header.Clone(), Body: body}
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadRequest
		q.Problems = append(q.Problems, "body: "+err.Error())
	} else {
		status = r.inspect(hr, &q)
	}

	r.mu.Lock()
	var programmed *Answer
	if len(r.answers) > 0 {
		programmed = &r.answers[0]
		r.answers = r.answers[1:]
	}
	q.Programmed = programmed != nil
	if programmed == nil && status == http.StatusOK {
		r.apply(&q)
	}
	idx := len(r.requests)
	r.requests = append(r.requests, q)
	r.mu.Unlock()

	if programmed != nil {
		status = r.answer(w, hr, *programmed)
	} else if status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": strings.Join(q.Problems, "; ")})
	} else {
		w.WriteHeader(status)
	}
	r.mu.Lock()
	r.requests[idx].Status = status
	r.mu.Unlock()
}

// apply keeps a valid registration as a latest-wins receiver does
// (r.mu held): newer `updated` replaces, the same content again is a
// duplicate, anything else is stale and a violation.
func (r *Receiver) apply(q *Request) {
	reg := q.Registration
	updated, _ := time.Parse(time.RFC3339Nano, reg.Updated) // checked
	prev, seen := r.applied[reg.ID]
	switch {
	case !seen || updated.After(prev.updated):
		r.applied[reg.ID] = applied{updated: updated, text: reg.Updated, data: q.Data, reg: *reg}
	case updated.Equal(prev.updated) && bytes.Equal(q.Data, prev.data):
		q.Duplicate = true
	case updated.Equal(prev.updated):
		q.Stale = true
		r.violations = append(r.violations, Violation{Registration: reg.ID, Applied: prev.text, Got: reg.Updated,
			Message: "updated did not advance although the registration changed: a receiver deduping by (id, updated) drops the change"})
	default:
		q.Stale = true
		r.violations = append(r.violations, Violation{Registration: reg.ID, Applied: prev.text, Got: reg.Updated,
			Message: "updated went backwards"})
	}
}

// answer replies as programmed; it returns the status sent (0 for none).
func (r *Receiver) answer(w http.ResponseWriter, hr *http.Request, a Answer) int {
	if a.Reset {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic("postbacktest: cannot hijack the connection: " + err.Error())
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // the close sends RST
		}
		_ = conn.Close()
		return 0
	}
	if a.Hang {
		select {
		case <-hr.Context().Done():
		case <-r.closed:
		}
		return 0
	}
	if a.Location != "" {
		w.Header().Set("Location", a.Location)
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, a.Body)
	return status
}

// inspect checks the request and returns the receiver's verdict: 200, or
// 405, 415, 401 or 400 with the problems in q.
func (r *Receiver) inspect(hr *http.Request, q *Request) int {
	if hr.Method != http.MethodPost {
		q.Problems = append(q.Problems, "method "+hr.Method+": want POST")
		return http.StatusMethodNotAllowed
	}
	want := "application/x-www-form-urlencoded"
	if r.opts.AuthType == "httpbasic" {
		want = "application/json"
	}
	if p := checkContentType(hr.Header.Get("Content-Type"), want); p != "" {
		q.Problems = append(q.Problems, p)
		return http.StatusUnsupportedMediaType
	}
	if r.opts.AuthType == "form" {
		if st := r.inspectForm(hr, q); st != http.StatusOK {
			return st
		}
	} else {
		if !r.basicOK(hr) {
			q.Problems = append(q.Problems, "authorization: want HTTP Basic with the configured user name and password")
			return http.StatusUnauthorized
		}
		q.Data = q.Body
	}
	reg, problems := decodeRegistration(q.Data, r.opts.ResultsFormat)
	q.Registration = reg
	q.Problems = append(q.Problems, problems...)
	if len(q.Problems) > 0 {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// checkContentType wants the media type and charset=UTF-8 (any case).
func checkContentType(v, want string) string {
	mt, params, err := mime.ParseMediaType(v)
	switch {
	case err != nil:
		return fmt.Sprintf("content type %q: %v", v, err)
	case mt != want:
		return fmt.Sprintf("content type %q: want %s; charset=UTF-8", v, want)
	case !strings.EqualFold(params["charset"], "utf-8"):
		return fmt.Sprintf("content type %q: want charset=UTF-8", v)
	}
	return ""
}

var formFields = map[string]bool{"data": true, "userName": true, "password": true}

func (r *Receiver) inspectForm(hr *http.Request, q *Request) int {
	form, err := url.ParseQuery(string(q.Body))
	if err != nil {
		q.Problems = append(q.Problems, "form: "+err.Error())
		return http.StatusBadRequest
	}
	q.Form = form
	if hr.Header.Get("Authorization") != "" {
		q.Problems = append(q.Problems, "form authentication sends its credentials as form fields, not in an Authorization header")
	}
	for k, vs := range form {
		switch {
		case !formFields[k]:
			q.Problems = append(q.Problems, fmt.Sprintf("form field %q: unknown (want data, userName, password)", k))
		case len(vs) > 1:
			q.Problems = append(q.Problems, fmt.Sprintf("form field %q: given %d times", k, len(vs)))
		}
	}
	if r.opts.UserName != "" || r.opts.Password != "" {
		if form.Get("userName") != r.opts.UserName || form.Get("password") != r.opts.Password {
			q.Problems = append(q.Problems, "form fields userName and password: want the configured credentials")
			return http.StatusUnauthorized
		}
	}
	if _, ok := form["data"]; !ok {
		q.Problems = append(q.Problems, `form field "data": missing`)
		return http.StatusBadRequest
	}
	q.Data = []byte(form.Get("data"))
	if len(q.Problems) > 0 {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

func (r *Receiver) basicOK(hr *http.Request) bool {
	if r.opts.UserName == "" && r.opts.Password == "" {
		return true
	}
	scheme, cred, ok := strings.Cut(hr.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	return err == nil && string(raw) == r.opts.UserName+":"+r.opts.Password
}

// Registration is the receiver's own copy of SCORM Cloud's
// RegistrationSchema (as much of it as a postback from an LRS fills).
type Registration struct {
	ID                           string    `json:"id"`
	Instance                     *int      `json:"instance"`
	XAPIRegistrationID           string    `json:"xapiRegistrationId"`
	DispatchID                   string    `json:"dispatchId"`
	Updated                      string    `json:"updated"`
	RegistrationCompletion       string    `json:"registrationCompletion"`
	RegistrationCompletionAmount *float64  `json:"registrationCompletionAmount"`
	RegistrationSuccess          string    `json:"registrationSuccess"`
	Score                        *Score    `json:"score"`
	TotalSecondsTracked          *float64  `json:"totalSecondsTracked"`
	FirstAccessDate              string    `json:"firstAccessDate"`
	LastAccessDate               string    `json:"lastAccessDate"`
	CompletedDate                string    `json:"completedDate"`
	CreatedDate                  string    `json:"createdDate"`
	Course                       *Course   `json:"course"`
	Learner                      *Learner  `json:"learner"`
	Tags                         []string  `json:"tags"`
	GlobalObjectives             []any     `json:"globalObjectives"`
	SharedData                   []any     `json:"sharedData"`
	SuspendedActivityID          string    `json:"suspendedActivityId"`
	ActivityDetails              *Activity `json:"activityDetails"`
}

// Score is ScoreSchema: scaled between 0 and 100.
type Score struct {
	Scaled *float64 `json:"scaled"`
}

// Course is CourseReferenceSchema.
type Course struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version int    `json:"version"`
}

// Learner is LearnerSchema.
type Learner struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// Activity is ActivityResultSchema.
type Activity struct {
	ID                 string     `json:"id"`
	Title              string     `json:"title"`
	Attempts           int        `json:"attempts"`
	ActivityCompletion string     `json:"activityCompletion"`
	ActivitySuccess    string     `json:"activitySuccess"`
	Score              *Score     `json:"score"`
	TimeTracked        string     `json:"timeTracked"`
	CompletionAmount   *Score     `json:"completionAmount"`
	Suspended          bool       `json:"suspended"`
	Children           []Activity `json:"children"`
	Objectives         []any      `json:"objectives"`
	Runtime            *Runtime   `json:"runtime"`
}

// Runtime is RuntimeSchema (its scalar part).
type Runtime struct {
	CompletionStatus     string `json:"completionStatus"`
	RuntimeSuccessStatus string `json:"runtimeSuccessStatus"`
	ScoreScaled          string `json:"scoreScaled"`
	ScoreRaw             string `json:"scoreRaw"`
	ScoreMin             string `json:"scoreMin"`
	ScoreMax             string `json:"scoreMax"`
	TotalTime            string `json:"totalTime"`
	TimeTracked          string `json:"timeTracked"`
}

var (
	completions = []string{"UNKNOWN", "COMPLETED", "INCOMPLETE"}
	successes   = []string{"UNKNOWN", "PASSED", "FAILED"}
	cmiStatuses = []string{"completed", "incomplete", "not attempted", "unknown"}
	timespan    = regexp.MustCompile(`^\d{4,}:\d{2}:\d{2}(\.\d{1,2})?$`)
	isoDuration = regexp.MustCompile(`^PT(\d+H)?(\d+M)?(\d+(\.\d+)?S)?$`)
)

// decodeRegistration reads the JSON strictly (unknown fields refused) and
// checks it; format is the results format required ("" any).
func decodeRegistration(data []byte, format string) (*Registration, []string) {
	var ps []string
	add := func(f string, args ...any) { ps = append(ps, fmt.Sprintf(f, args...)) }
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, []string{"data: not a JSON object: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var reg Registration
	if err := dec.Decode(&reg); err != nil {
		return nil, []string{"registration: " + err.Error()}
	}
	for _, k := range []string{"id", "instance", "updated", "registrationCompletion", "registrationCompletionAmount",
		"registrationSuccess", "totalSecondsTracked", "course", "learner", "tags", "globalObjectives", "sharedData"} {
		if _, ok := keys[k]; !ok {
			add("%s: missing", k)
		}
	}
	if reg.ID == "" {
		add("id: empty")
	}
	if reg.Updated != "" {
		checkDate(add, "updated", reg.Updated)
	}
	oneOf(add, "registrationCompletion", reg.RegistrationCompletion, completions)
	oneOf(add, "registrationSuccess", reg.RegistrationSuccess, successes)
	if reg.RegistrationCompletionAmount != nil {
		inRange(add, "registrationCompletionAmount", *reg.RegistrationCompletionAmount, 0, 100)
	}
	if reg.RegistrationCompletion == "COMPLETED" && reg.RegistrationCompletionAmount != nil && *reg.RegistrationCompletionAmount != 100 {
		add("registrationCompletionAmount: %v for a COMPLETED registration: want 100", *reg.RegistrationCompletionAmount)
	}
	checkScore(add, "score", reg.Score)
	if reg.TotalSecondsTracked != nil && *reg.TotalSecondsTracked < 0 {
		add("totalSecondsTracked: %v: want ≥ 0", *reg.TotalSecondsTracked)
	}
	for name, v := range map[string]string{"firstAccessDate": reg.FirstAccessDate, "lastAccessDate": reg.LastAccessDate,
		"completedDate": reg.CompletedDate, "createdDate": reg.CreatedDate} {
		if _, ok := keys[name]; ok {
			checkDate(add, name, v)
		}
	}
	if reg.Course != nil && reg.Course.ID == "" {
		add("course.id: empty")
	}
	if reg.Learner != nil && reg.Learner.ID == "" {
		add("learner.id: empty")
	}
	switch {
	case format == "course" && reg.ActivityDetails != nil:
		add("activityDetails: present, but resultsFormat course sends the registration only")
	case (format == "activity" || format == "full") && reg.ActivityDetails == nil:
		add("activityDetails: missing for resultsFormat %s", format)
	}
	if reg.ActivityDetails != nil {
		checkActivity(add, "activityDetails", reg.ActivityDetails, format)
	}
	sort.Strings(ps) // map order above
	return &reg, ps
}

func checkActivity(add func(string, ...any), path string, a *Activity, format string) {
	if a.ID == "" {
		add("%s.id: empty", path)
	}
	oneOf(add, path+".activityCompletion", a.ActivityCompletion, completions)
	oneOf(add, path+".activitySuccess", a.ActivitySuccess, successes)
	checkScore(add, path+".score", a.Score)
	if a.CompletionAmount != nil && a.CompletionAmount.Scaled != nil {
		inRange(add, path+".completionAmount.scaled", *a.CompletionAmount.Scaled, 0, 100)
	}
	if a.TimeTracked != "" && !timespan.MatchString(a.TimeTracked) {
		add("%s.timeTracked: %q: want HHHH:MM:SS[.ss]", path, a.TimeTracked)
	}
	if a.Children == nil {
		add("%s.children: missing", path)
	}
	if rt := a.Runtime; rt != nil {
		if format == "activity" {
			add("%s.runtime: present, but resultsFormat activity sends no runtime data", path)
		}
		oneOf(add, path+".runtime.completionStatus", rt.CompletionStatus, cmiStatuses)
		oneOf(add, path+".runtime.runtimeSuccessStatus", rt.RuntimeSuccessStatus, successes)
		if rt.ScoreScaled != "" {
			if v, err := strconv.ParseFloat(rt.ScoreScaled, 64); err != nil || v < -1 || v > 1 {
				add("%s.runtime.scoreScaled: %q: want a number from -1 to 1", path, rt.ScoreScaled)
			}
		}
		for name, v := range map[string]string{"scoreRaw": rt.ScoreRaw, "scoreMin": rt.ScoreMin, "scoreMax": rt.ScoreMax} {
			if _, err := strconv.ParseFloat(v, 64); v != "" && err != nil {
				add("%s.runtime.%s: %q: want a number", path, name, v)
			}
		}
		if rt.TotalTime != "" && (!isoDuration.MatchString(rt.TotalTime) || rt.TotalTime == "PT") {
			add("%s.runtime.totalTime: %q: want an ISO 8601 duration (PT1H2M3S)", path, rt.TotalTime)
		}
		if rt.TimeTracked != "" && !timespan.MatchString(rt.TimeTracked) {
			add("%s.runtime.timeTracked: %q: want HHHH:MM:SS[.ss]", path, rt.TimeTracked)
		}
	}
	if format == "full" && path != "activityDetails" && a.Runtime == nil {
		add("%s.runtime: missing for resultsFormat full", path)
	}
	for i := range a.Children {
		checkActivity(add, fmt.Sprintf("%s.children[%d]", path, i), &a.Children[i], format)
	}
}

func oneOf(add func(string, ...any), path, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	add("%s: %q: want one of %s", path, v, strings.Join(allowed, ", "))
}

func inRange(add func(string, ...any), path string, v, lo, hi float64) {
	if math.IsNaN(v) || v < lo || v > hi {
		add("%s: %v: want %v to %v", path, v, lo, hi)
	}
}

func checkScore(add func(string, ...any), path string, s *Score) {
	if s == nil {
		return
	}
	if s.Scaled == nil {
		add("%s.scaled: missing", path)
		return
	}
	inRange(add, path+".scaled", *s.Scaled, 0, 100)
}

// checkDate wants an RFC 3339 time in UTC ("Z"), as SCORM Cloud writes
// them.
func checkDate(add func(string, ...any), path, v string) {
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil || !strings.HasSuffix(v, "Z") {
		add("%s: %q: want an RFC 3339 time in UTC (2026-09-02T08:15:01.000Z)", path, v)
	}
}
