package clevertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// timeFormat is how Clever writes timestamps: RFC 3339, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

func stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

var (
	mongoID = regexp.MustCompile(`^[0-9a-f]{24}$`)
	uuidRe  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Messages of documented errors (sinks.md §1.7).
const (
	msgNoAuth            = "No authorization provided"
	msgBadToken          = "Could not authorize token"
	msgNoBody            = "request body is required, but was empty"
	msgDueFuture         = "due_date must be in the future"
	msgInvalidID         = "INVALID_ID"
	msgNoAssignment      = "Assignment does not exist"
	msgNoUser            = "User not found"
	msgNotFound          = "Resource not found"
	msgLMSInactive       = "lms connection is not active for this district"
	msgNotSynced         = "section is not synced with the LMS"
	msgSchoologyLink     = "Schoology does not support submission type of link"
	msgSchoologyNoLaunch = "Error updating submission"
)

type ctxKey struct{}

// ServeHTTP serves the simulated API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if r.URL.Path == "/oauth/tokens" {
		s.serveTokens(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v3.1/") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>")
		return
	}
	tok, hasAuth := bearerToken(r)
	if !s.count(w, tok) {
		w.WriteHeader(http.StatusTooManyRequests) // empty body
		return
	}
	if f := s.takeFault(r); f != nil {
		if s.applyFault(w, r, f) {
			return
		}
	}
	if !hasAuth {
		writeMessage(w, http.StatusUnauthorized, msgNoAuth)
		return
	}
	s.serveAPI(w, r)
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// count records the request in its token's fixed window, sets the
// X-RateLimit headers and reports whether the request is within the limit.
func (s *Server) count(w http.ResponseWriter, tok string) bool {
	now := s.clock.Now()
	start := now.Truncate(time.Minute)
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.windows[tok]
	if ws == nil {
		ws = map[int64]*Window{}
		s.windows[tok] = ws
	}
	win := ws[start.Unix()]
	if win == nil {
		win = &Window{Start: start}
		ws[start.Unix()] = win
	}
	win.Requests++
	ok := win.Requests <= s.limit
	if !ok {
		win.Limited++
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(s.limit-win.Requests, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(start.Add(time.Minute).Unix(), 10))
	h.Set("X-RateLimit-Bucket", bucket(tok))
	return ok
}

func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			if f.Hit != nil {
				select {
				case f.Hit <- struct{}{}:
				default:
				}
			}
			return f
		}
	}
	return nil
}

// applyFault applies f and reports whether the request is answered.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		// Read the body first: the server notices a client that hangs up
		// only once the request body is consumed.
		b := readBody(r)
		r.Body = io.NopCloser(bytes.NewReader(b))
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if f.After && (f.Reset || f.Status != 0) {
		if _, ok := bearerToken(r); ok {
			s.serveAPI(httptest.NewRecorder(), r.Clone(context.WithoutCancel(r.Context())))
		}
	}
	switch {
	case f.Reset:
		resetConnection(w)
		return true
	case f.Status != 0:
		body := f.Body
		if body == "" {
			body = `{"message":"internal error"}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, body)
		return true
	}
	return false
}

// serveAPI serves an authenticated /v3.1 request past the rate limit
// and the faults.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearerToken(r)
	s.mu.Lock()
	t := s.tokens[tok]
	s.mu.Unlock()
	if t == nil {
		writeMessage(w, http.StatusForbidden, msgBadToken)
		return
	}
	s.routes().ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t.district)))
}

// resetConnection closes the client's connection with a TCP RST.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func (s *Server) routes() *http.ServeMux {
	s.muxOnce.Do(func() {
		m := http.NewServeMux()
		m.HandleFunc("GET /v3.1/districts", s.listDistricts)
		m.HandleFunc("GET /v3.1/districts/{id}", s.getDistrict)
		m.HandleFunc("GET /v3.1/sections/{id}", s.getSection)
		m.HandleFunc("GET /v3.1/sections/{id}/users", s.sectionUsers)
		m.HandleFunc("GET /v3.1/courses/{id}/sections", s.courseSections)
		m.HandleFunc("POST /v3.1/sections/{sid}/assignments", s.createAssignment)
		m.HandleFunc("GET /v3.1/sections/{sid}/assignments/{aid}", s.getAssignment)
		m.HandleFunc("PATCH /v3.1/sections/{sid}/assignments/{aid}", s.patchAssignment)
		m.HandleFunc("DELETE /v3.1/sections/{sid}/assignments/{aid}", s.deleteAssignment)
		m.HandleFunc("GET /v3.1/sections/{sid}/assignments/{aid}/submissions", s.listSubmissions)
		m.HandleFunc("GET /v3.1/sections/{sid}/assignments/{aid}/submissions/{uid}", s.getSubmission)
		m.HandleFunc("PATCH /v3.1/sections/{sid}/assignments/{aid}/submissions/{uid}", s.patchSubmission)
		s.mux = m
	})
	return s.mux
}

func districtOf(r *http.Request) string { return r.Context().Value(ctxKey{}).(string) }

// --- Roster (Data API) ---

func (d *District) json() map[string]any {
	return map[string]any{"id": d.ID, "name": d.Name, "lms_state": d.LMSState, "lms_type": d.LMSType, "state": "running"}
}

func (sec *Section) json(created time.Time) map[string]any {
	return map[string]any{
		"id": sec.ID, "district": sec.District, "course": sec.Course, "name": sec.Name,
		"lms_status": map[string]bool{"synced_in_lms": !sec.NotSynced},
		"created":    stamp(created), "last_modified": stamp(created),
	}
}

func (u *User) json(created time.Time) map[string]any {
	return map[string]any{
		"id": u.ID, "district": u.District, "email": u.Email,
		"name":       map[string]string{"first": u.First, "last": u.Last},
		"roles":      map[string]any{"student": map[string]any{}},
		"lms_status": map[string]bool{"synced_in_lms": true},
		"created":    stamp(created), "last_modified": stamp(created),
	}
}

func (s *Server) listDistricts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.districts[districtOf(r)]
	writeJSON(w, http.StatusOK, map[string]any{
		"data":  []any{map[string]any{"data": d.json()}},
		"links": []any{map[string]string{"rel": "self", "uri": "/v3.1/districts"}},
	})
}

func (s *Server) getDistrict(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	if id != districtOf(r) || s.districts[id] == nil {
		writeMessage(w, http.StatusNotFound, msgNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.districts[id].json()})
}

func (s *Server) getSection(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.sections[r.PathValue("id")]
	if sec == nil || sec.District != districtOf(r) {
		writeMessage(w, http.StatusNotFound, msgNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": sec.json(s.clock.Now())})
}

// page is the Data API's pagination over ids in ascending order: limit
// (default 100, at most 10000), starting_after, ending_before; it answers
// the page's ids and its links, or writes the error.
func page(w http.ResponseWriter, r *http.Request, ids []string, base pagePath) ([]string, []any, bool) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			writeMessage(w, http.StatusBadRequest, fmt.Sprintf("limit in query must be of type integer: %q", v))
			return nil, nil, false
		case n < 1:
			writeMessage(w, http.StatusBadRequest, "limit in query should be greater than or equal to 1")
			return nil, nil, false
		case n > 10000:
			writeMessage(w, http.StatusRequestEntityTooLarge, "limit in query should be less than or equal to 10000")
			return nil, nil, false
		}
		limit = n
	}
	sort.Strings(ids)
	var out []string
	after, before := q.Get("starting_after"), q.Get("ending_before")
	switch {
	case after != "" && before != "":
		writeMessage(w, http.StatusBadRequest, "starting_after and ending_before cannot both be set")
		return nil, nil, false
	case before != "":
		var prior []string
		for _, id := range ids {
			if id < before {
				prior = append(prior, id)
			}
		}
		out = prior[max(len(prior)-limit, 0):]
	default:
		for _, id := range ids {
			if id > after && len(out) < limit {
				out = append(out, id)
			}
		}
	}
	links := []any{map[string]string{"rel": "self", "uri": base.with(q, "", "")}}
	if len(out) > 0 {
		if last := out[len(out)-1]; last < ids[len(ids)-1] {
			links = append(links, map[string]string{"rel": "next", "uri": base.with(q, "starting_after", last)})
		}
		if first := out[0]; first > ids[0] {
			links = append(links, map[string]string{"rel": "prev", "uri": base.with(q, "ending_before", first)})
		}
	}
	return out, links, true
}

// pagePath is a list's path; its page links keep the query's limit and
// role.
type pagePath string

func (u pagePath) with(q map[string][]string, key, value string) string {
	params := []string{}
	for _, k := range []string{"limit", "role"} {
		if v := q[k]; len(v) > 0 && v[0] != "" {
			params = append(params, k+"="+v[0])
		}
	}
	if key != "" {
		params = append(params, key+"="+value)
	}
	if len(params) == 0 {
		return string(u)
	}
	return string(u) + "?" + strings.Join(params, "&")
}

func (s *Server) sectionUsers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	sec := s.sections[id]
	if sec == nil || sec.District != districtOf(r) {
		writeMessage(w, http.StatusNotFound, msgNotFound)
		return
	}
	role := r.URL.Query().Get("role")
	if role != "" && role != "student" && role != "teacher" {
		writeMessage(w, http.StatusBadRequest, "role in query should be one of [student teacher]")
		return
	}
	var ids []string
	if role != "teacher" {
		for uid := range s.enrolled[id] {
			ids = append(ids, uid)
		}
	}
	got, links, ok := page(w, r, ids, pagePath("/v3.1/sections/"+id+"/users"))
	if !ok {
		return
	}
	data := []any{}
	for _, uid := range got {
		data = append(data, map[string]any{"data": s.users[uid].json(s.clock.Now())})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links})
}

func (s *Server) courseSections(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	course := r.PathValue("id")
	var ids []string
	for id, sec := range s.sections {
		if sec.Course == course && sec.District == districtOf(r) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		writeMessage(w, http.StatusNotFound, msgNotFound)
		return
	}
	got, links, ok := page(w, r, ids, pagePath("/v3.1/courses/"+course+"/sections"))
	if !ok {
		return
	}
	data := []any{}
	for _, id := range got {
		data = append(data, map[string]any{"data": s.sections[id].json(s.clock.Now())})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links})
}

// --- LMS Connect ---

// assignment is an assignment with its students' submissions.
type assignment struct {
	id, title, description, gradingType, state, assigneeMode string
	pointsPossible                                           *float64
	maxAttempts                                              *int64
	due                                                      time.Time
	assignees, submissionTypes                               []string
	created, modified                                        time.Time
	subs                                                     map[string]*Submission
}

func (a *assignment) public(section string) Assignment {
	return Assignment{ID: a.id, Section: section, Title: a.title, Description: a.description, GradingType: a.gradingType,
		PointsPossible: a.pointsPossible, DueDate: a.due, State: a.state, SubmissionType: a.submissionTypes,
		MaxAttempts: a.maxAttempts, Created: a.created}
}

func (a *assignment) json() map[string]any {
	m := map[string]any{
		"id": a.id, "title": a.title, "description": a.description, "state": a.state,
		"grading_type": a.gradingType, "assignee_mode": a.assigneeMode,
		"due_date": stamp(a.due), "created": stamp(a.created), "last_modified": stamp(a.modified),
	}
	if a.pointsPossible != nil {
		m["points_possible"] = *a.pointsPossible
	}
	if a.maxAttempts != nil {
		m["max_attempts"] = *a.maxAttempts
	}
	if len(a.assignees) > 0 {
		m["assignee_ids"] = a.assignees
	}
	if len(a.submissionTypes) > 0 {
		m["submission_types"] = a.submissionTypes
	}
	return m
}

// lmsSection checks the section of an LMS Connect path; write says whether
// the request changes the LMS (refused while the district's LMS
// connection is not active).
func (s *Server) lmsSection(w http.ResponseWriter, r *http.Request, write bool) (*Section, *District, bool) {
	sid := r.PathValue("sid")
	if !mongoID.MatchString(sid) {
		writeMessage(w, http.StatusBadRequest, fmt.Sprintf("section_id in path must be of type mongo-id: %q", sid))
		return nil, nil, false
	}
	sec := s.sections[sid]
	if sec == nil || sec.District != districtOf(r) {
		writeMessage(w, http.StatusNotFound, msgNotFound)
		return nil, nil, false
	}
	d := s.districts[sec.District]
	if write && d.LMSState != StateSuccess {
		writeMessage(w, http.StatusBadRequest, msgLMSInactive)
		return nil, nil, false
	}
	if sec.NotSynced {
		writeMessage(w, http.StatusBadRequest, msgNotSynced)
		return nil, nil, false
	}
	return sec, d, true
}

// lmsAssignment checks the assignment of an LMS Connect path.
func (s *Server) lmsAssignment(w http.ResponseWriter, r *http.Request, sec *Section) (*assignment, bool) {
	aid := r.PathValue("aid")
	if !uuidRe.MatchString(aid) {
		writeMessage(w, http.StatusBadRequest, msgInvalidID)
		return nil, false
	}
	a := s.assignments[sec.ID][aid]
	if a == nil {
		writeMessage(w, http.StatusNotFound, msgNoAssignment)
		return nil, false
	}
	return a, true
}

// assigned reports whether the user is a student of the section to whom
// the assignment is assigned.
func (s *Server) assigned(sec *Section, a *assignment, uid string) bool {
	if !s.enrolled[sec.ID][uid] {
		return false
	}
	return a.assigneeMode != "individuals" || slices.Contains(a.assignees, uid)
}

func readBody(r *http.Request) []byte {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return b
}

func newUUID() string {
	b := []byte(randomHex(16))
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}

// checkAssignment applies the rules of a create (all) or an update.
func (s *Server) checkAssignment(b body, d *District, create bool) string {
	if create {
		var missing []string
		for _, f := range []string{"title", "description", "due_date"} {
			if b.str(f) == "" {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			return "missing required field(s): " + strings.Join(missing, ", ")
		}
	}
	if b.has("due_date") && !b.time("due_date").After(s.clock.Now()) {
		return msgDueFuture
	}
	if d.LMSType == Schoology && slices.Contains(b.strs("submission_types"), "link") {
		return msgSchoologyLink
	}
	if b.has("assignee_ids") {
		for _, id := range b.strs("assignee_ids") {
			if !mongoID.MatchString(id) {
				return fmt.Sprintf("assignee_ids in body must be of type mongo-id: %q", id)
			}
		}
	}
	if b.has("points_possible") && *b.num("points_possible") < 0 {
		return "points_possible in body should be greater than or equal to 0"
	}
	return ""
}

// apply sets the assignment's fields from a checked body.
func (a *assignment) apply(b body, d *District) {
	for name, dst := range map[string]*string{"title": &a.title, "description": &a.description,
		"grading_type": &a.gradingType, "assignee_mode": &a.assigneeMode} {
		if b.has(name) {
			*dst = b.str(name)
		}
	}
	for name, dst := range map[string]*[]string{"assignee_ids": &a.assignees, "submission_types": &a.submissionTypes} {
		if b.has(name) {
			*dst = b.strs(name)
		}
	}
	if b.has("due_date") {
		a.due = b.time("due_date")
	}
	if b.has("points_possible") {
		a.pointsPossible = b.num("points_possible")
	}
	if b.has("max_attempts") {
		a.maxAttempts = b.integer("max_attempts")
	}
	// Canvas ignores state on create and update.
	if b.has("state") && d.LMSType != Canvas {
		a.state = b.str("state")
	}
}

// lmsPath is what an LMS Connect path names, checked.
type lmsPath struct {
	sec *Section
	d   *District
	a   *assignment
	uid string
}

// Depths of an LMS Connect path.
const (
	toSection = iota
	toAssignment
	toUser
)

// resolve checks an LMS Connect path down to depth (writing the error
// answer when it fails); write says whether the request changes the LMS.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request, write bool, depth int) (lmsPath, bool) {
	var p lmsPath
	var ok bool
	if p.sec, p.d, ok = s.lmsSection(w, r, write); !ok {
		return p, false
	}
	if depth >= toAssignment {
		if p.a, ok = s.lmsAssignment(w, r, p.sec); !ok {
			return p, false
		}
	}
	if depth >= toUser {
		if p.uid, ok = s.lmsUser(w, r, p.sec, p.a); !ok {
			return p, false
		}
	}
	return p, true
}

func (s *Server) createAssignment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, d, ok := s.lmsSection(w, r, true)
	if !ok {
		return
	}
	b, msg := parseBody(readBody(r), assignmentFields)
	if msg == "" {
		msg = s.checkAssignment(b, d, true)
	}
	if msg != "" {
		writeMessage(w, http.StatusBadRequest, msg)
		return
	}
	now := s.clock.Now()
	a := &assignment{id: newUUID(), state: "open", gradingType: "points", assigneeMode: "all",
		created: now, modified: now, subs: map[string]*Submission{}}
	a.apply(b, d)
	if s.assignments[sec.ID] == nil {
		s.assignments[sec.ID] = map[string]*assignment{}
	}
	s.assignments[sec.ID][a.id] = a
	s.created[[2]string{sec.ID, a.title}]++
	writeJSON(w, http.StatusOK, map[string]any{"data": a.json()})
}

func (s *Server) getAssignment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.resolve(w, r, false, toAssignment)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": p.a.json()})
}

func (s *Server) patchAssignment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.resolve(w, r, true, toAssignment)
	if !ok {
		return
	}
	d, a := p.d, p.a
	b, msg := parseBody(readBody(r), assignmentFields)
	if msg == "" {
		msg = s.checkAssignment(b, d, false)
	}
	if msg != "" {
		writeMessage(w, http.StatusBadRequest, msg)
		return
	}
	a.apply(b, d)
	a.modified = s.clock.Now()
	writeJSON(w, http.StatusOK, map[string]any{"data": a.json()})
}

func (s *Server) deleteAssignment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.resolve(w, r, true, toAssignment)
	if !ok {
		return
	}
	delete(s.assignments[p.sec.ID], p.a.id)
	w.WriteHeader(http.StatusOK) // no body
}

// submission returns (creating in state "created") a student's submission.
func (s *Server) submission(a *assignment, uid string) *Submission {
	sub := a.subs[uid]
	if sub == nil {
		sub = &Submission{User: uid, State: "created", LastModified: a.created}
		a.subs[uid] = sub
	}
	return sub
}

func (s *Server) submissionJSON(sec *Section, d *District, a *assignment, sub *Submission) map[string]any {
	m := map[string]any{
		"assignment_id": a.id, "user_id": sub.User, "state": sub.State, "flags": []string{},
		"created": stamp(a.created), "last_modified": stamp(sub.LastModified),
	}
	// The deprecated submission id: never for Google Classroom.
	if d.LMSType != GoogleClassroom {
		h := sha256.Sum256([]byte(a.id + sub.User))
		m["id"] = hex.EncodeToString(h[:12])
	}
	if sub.Grade != nil {
		m["grade"] = *sub.Grade
	}
	if sub.GradePoints != nil {
		m["grade_points"] = *sub.GradePoints
	}
	if sub.GradeComment != nil {
		m["grade_comment"] = *sub.GradeComment
	}
	if sub.GraderID != nil {
		m["grader_id"] = *sub.GraderID
	}
	return m
}

// lmsUser checks the user of a submission path.
func (s *Server) lmsUser(w http.ResponseWriter, r *http.Request, sec *Section, a *assignment) (string, bool) {
	uid := r.PathValue("uid")
	if !mongoID.MatchString(uid) {
		writeMessage(w, http.StatusBadRequest, fmt.Sprintf("user_id in path must be of type mongo-id: %q", uid))
		return "", false
	}
	if !s.assigned(sec, a, uid) {
		writeMessage(w, http.StatusNotFound, msgNoUser)
		return "", false
	}
	return uid, true
}

func (s *Server) getSubmission(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.resolve(w, r, false, toUser)
	if !ok {
		return
	}
	sec, d, a, uid := p.sec, p.d, p.a, p.uid
	writeJSON(w, http.StatusOK, map[string]any{"data": s.submissionJSON(sec, d, a, s.submission(a, uid))})
}

func (s *Server) patchSubmission(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.resolve(w, r, true, toUser)
	if !ok {
		return
	}
	sec, d, a, uid := p.sec, p.d, p.a, p.uid
	b, msg := parseBody(readBody(r), submissionFields)
	if msg != "" {
		writeMessage(w, http.StatusBadRequest, msg)
		return
	}
	if g := b.str("grader_id"); b.has("grader_id") && (!s.teachers[g] || s.users[g].District != d.ID) {
		writeMessage(w, http.StatusBadRequest, fmt.Sprintf("NOT_FOUND: Person with id clever:%s not found for this integration.", g))
		return
	}
	if d.LMSType == Schoology && s.users[uid].NoLTILaunch {
		writeMessage(w, http.StatusInternalServerError, msgSchoologyNoLaunch)
		return
	}
	sub := s.submission(a, uid)
	for name, dst := range map[string]**string{"grade": &sub.Grade, "grade_comment": &sub.GradeComment, "grader_id": &sub.GraderID} {
		if b.has(name) {
			v := b.str(name)
			*dst = &v
		}
	}
	if b.has("grade_points") {
		sub.GradePoints = b.num("grade_points")
	}
	if b.has("state") {
		sub.State = b.str("state")
	}
	sub.Updates++
	sub.LastModified = s.clock.Now()
	s.grades[uid]++
	writeJSON(w, http.StatusOK, map[string]any{"data": s.submissionJSON(sec, d, a, sub)})
}

// cursor is an opaque next-page token of the submissions list, valid two
// hours: the last user id of the page and its expiry.
func (s *Server) cursor(last string) string {
	exp := s.clock.Now().Add(2 * time.Hour).Unix()
	return base64.RawURLEncoding.EncodeToString([]byte(last + "|" + strconv.FormatInt(exp, 10)))
}

func (s *Server) listSubmissions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.resolve(w, r, false, toAssignment)
	if !ok {
		return
	}
	sec, d, a := p.sec, p.d, p.a
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeMessage(w, http.StatusBadRequest, fmt.Sprintf("limit in query must be of type integer: %q", v))
			return
		}
		if n < 1 || n > 100 {
			writeMessage(w, http.StatusBadRequest, "limit in query should be between 1 and 100")
			return
		}
		limit = n
	}
	after := ""
	if c := q.Get("cursor"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		last, exp, ok := strings.Cut(string(raw), "|")
		n, perr := strconv.ParseInt(exp, 10, 64)
		if err != nil || !ok || perr != nil {
			writeMessage(w, http.StatusBadRequest, "invalid cursor")
			return
		}
		if s.clock.Now().Unix() > n {
			writeMessage(w, http.StatusBadRequest, "cursor expired")
			return
		}
		after = last
	}
	var ids []string
	for uid := range s.enrolled[sec.ID] {
		if s.assigned(sec, a, uid) && uid > after {
			ids = append(ids, uid)
		}
	}
	sort.Strings(ids)
	data := []any{}
	for i, uid := range ids {
		if i == limit {
			break
		}
		data = append(data, s.submissionJSON(sec, d, a, s.submission(a, uid)))
	}
	out := map[string]any{"data": data}
	if len(ids) > limit {
		out["links"] = []any{map[string]string{"rel": "next",
			"uri": fmt.Sprintf("/v3.1/sections/%s/assignments/%s/submissions?limit=%d&cursor=%s", sec.ID, a.id, limit, s.cursor(ids[limit-1]))}}
	}
	writeJSON(w, http.StatusOK, out)
}

// --- Token endpoint ---

func (s *Server) serveTokens(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeMessage(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		writeMessage(w, http.StatusUnauthorized, msgNoAuth)
		return
	}
	if id != s.clientID || secret != s.secret {
		writeMessage(w, http.StatusUnauthorized, "invalid client credentials")
		return
	}
	q := r.URL.Query()
	switch q.Get("owner_type") {
	case "":
		writeMessage(w, http.StatusBadRequest, "owner_type in query is required")
		return
	case "district":
	default:
		writeMessage(w, http.StatusBadRequest, "owner_type in query should be one of [district]")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var toks []string
	for tok, t := range s.tokens {
		if d := q.Get("district"); d == "" || d == t.district {
			toks = append(toks, tok)
		}
	}
	sort.Slice(toks, func(i, j int) bool { return s.tokens[toks[i]].created.Before(s.tokens[toks[j]].created) })
	data := []any{}
	for _, tok := range toks {
		t := s.tokens[tok]
		data = append(data, map[string]any{
			"id": t.id, "created": stamp(t.created), "access_token": tok,
			"owner":  map[string]string{"type": "district", "id": t.district},
			"scopes": []string{"read:district_admins", "read:sections", "read:students", "read:teachers", "read:user_id"},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}
