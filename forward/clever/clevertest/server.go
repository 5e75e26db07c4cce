// Package clevertest is a simulator of Clever's v3.1 API, for tests only:
// the LMS Connect endpoints (assignments and submissions), the roster
// endpoints the grade passback client reads (districts, sections, section
// users, course sections) and the token endpoint. Clever is a remote SaaS
// that tests cannot reach; this is the one simulator the project allows,
// so it rejects everything the real API is documented to reject (sinks.md
// §1.7, §1.9) and a lenient client cannot pass against it.
//
// What the real API does not document, the simulator decides, and says so
// where it does it:
//   - a district whose lms_state is not "success" refuses every LMS write
//     (POST, PATCH, DELETE of assignments, PATCH of submissions) with
//     400 {"message":"lms connection is not active for this district"}:
//     a 400, so that a client classifying by status alone would take it for
//     one bad request body and miss that the whole destination is down;
//   - a section that is not synced in the LMS (Section.NotSynced) refuses
//     every LMS request with 400 {"message":"section is not synced with the LMS"};
//   - a section, district or course outside the token's district is
//     404 {"message":"Resource not found"}, as the Data API answers for
//     resources not shared with the application;
//   - the token endpoint answers 401 {"message":"invalid client credentials"}
//     for an unknown client or a wrong secret.
//
// The rate limit is a fixed window of one minute per bearer token (every
// request counts, refused ones too), with X-RateLimit-Limit, -Remaining,
// -Reset (unix seconds of the window's end) and -Bucket on every /v3.1
// response and an empty-body 429 beyond the limit.
package clevertest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"
)

// LMS states and types of a district (Clever's District schema).
const (
	StateSuccess               = "success"
	StateMatchingInProgress    = "matching_in_progress"
	StateDisconnected          = "disconnected"
	StateError                 = "error"
	StateInitialSyncProcessing = "initial_sync_processing"
	StatePendingAuthorization  = "pending_authorization"

	Canvas          = "canvas"
	Schoology       = "schoology"
	GoogleClassroom = "google_classroom"
)

// Options configure a Server.
type Options struct {
	// Clock is the simulator's time; default the real clock.
	Clock interface{ Now() time.Time }
	// RateLimit is the number of requests per token per minute window;
	// default 1200.
	RateLimit int
}

// District is a district the application is connected to.
type District struct {
	ID       string
	Name     string
	LMSState string // default StateSuccess
	LMSType  string // Canvas (default), Schoology or GoogleClassroom
}

// Section is a class section of a district.
type Section struct {
	ID        string
	District  string
	Course    string
	Name      string
	NotSynced bool // lms_status.synced_in_lms = false
}

// User is a student or a teacher of a district.
type User struct {
	ID       string
	District string
	Email    string
	First    string
	Last     string
	// NoLTILaunch: the student never launched the LTI link, so a
	// Schoology district cannot update the student's submissions.
	NoLTILaunch bool
}

// Fault is a failure injected into the next matching requests.
type Fault struct {
	Method string // "" for any method
	Path   string // path prefix, "" for any /v3.1 path
	// Times is how many requests the fault hits; 0 is once.
	Times int
	// Status answers this HTTP status with Body (default {"message":"internal error"}).
	Status int
	Body   string
	// Delay holds the response for this long (real time) or until the
	// client gives up, then processes the request as usual: the work is
	// done even when nobody reads the answer, as with a slow server.
	Delay time.Duration
	// Reset closes the connection with a TCP reset instead of answering;
	// the request is not processed.
	Reset bool
	// After processes the request first, then applies Status or Reset to
	// the answer: the write happened but the client never learns it.
	After bool
	// Hit, when set, is sent a value (without blocking) each time the
	// fault takes a request: a test learns the request is in flight.
	Hit chan<- struct{}
}

// Window is the count of one rate-limit window of a token.
type Window struct {
	Start    time.Time
	Requests int // every request received in the window
	Limited  int // of which answered 429
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	clock interface{ Now() time.Time }
	limit int

	muxOnce sync.Once
	mux     *http.ServeMux

	mu          sync.Mutex
	clientID    string
	secret      string
	districts   map[string]*District
	tokens      map[string]*token
	sections    map[string]*Section
	users       map[string]*User
	teachers    map[string]bool
	enrolled    map[string]map[string]bool // section → student → enrolled
	assignments map[string]map[string]*assignment
	faults      []*Fault
	windows     map[string]map[int64]*Window // token → window start → counts
	created     map[[2]string]int            // (section, title) → assignments created
	grades      map[string]int               // user → submission updates
	requests    int
}

// New returns a simulator (serve it with httptest or Start).
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = 1200
	}
	return &Server{
		clock: opts.Clock, limit: opts.RateLimit,
		clientID: "lrs-test-app", secret: randomHex(20),
		districts: map[string]*District{}, tokens: map[string]*token{},
		sections: map[string]*Section{}, users: map[string]*User{}, teachers: map[string]bool{},
		enrolled: map[string]map[string]bool{}, assignments: map[string]map[string]*assignment{},
		windows: map[string]map[int64]*Window{}, created: map[[2]string]int{}, grades: map[string]int{},
	}
}

// Start serves s on a local port until the test ends and returns its base
// URL (for both the API and the token endpoint).
func Start(tb testing.TB, s *Server) string {
	srv := httptest.NewServer(s)
	tb.Cleanup(srv.Close)
	return srv.URL
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// NewID returns a random Clever id (24 hex digits, a Mongo ObjectID).
func NewID() string { return randomHex(12) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ClientID and ClientSecret are the application's credentials at the
// token endpoint.
func (s *Server) ClientID() string     { return s.clientID }
func (s *Server) ClientSecret() string { return s.secret }

// AddDistrict adds (or replaces) a district and returns a bearer token
// scoped to it.
func (s *Server) AddDistrict(d District) string {
	if d.LMSState == "" {
		d.LMSState = StateSuccess
	}
	if d.LMSType == "" {
		d.LMSType = Canvas
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.districts[d.ID] = &d
	return s.issueLocked(d.ID)
}

// token is a bearer token the application holds for a district.
type token struct {
	id       string
	district string
	created  time.Time
}

func (s *Server) issueLocked(district string) string {
	tok := randomHex(20)
	s.tokens[tok] = &token{id: NewID(), district: district, created: s.clock.Now()}
	return tok
}

// SetLMSState changes a district's LMS connection state.
func (s *Server) SetLMSState(district, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.districts[district].LMSState = state
}

// IssueToken returns a new token for a district (the old ones stay valid
// until revoked).
func (s *Server) IssueToken(district string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(district)
}

// RevokeToken makes a token unknown (403 Could not authorize token).
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tok)
}

// AddSection adds a section.
func (s *Server) AddSection(sec Section) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sections[sec.ID] = &sec
	if s.enrolled[sec.ID] == nil {
		s.enrolled[sec.ID] = map[string]bool{}
	}
}

// SetSynced sets a section's lms_status.synced_in_lms.
func (s *Server) SetSynced(section string, synced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sections[section].NotSynced = !synced
}

// AddStudent adds the user (if new) and enrols them in the sections.
func (s *Server) AddStudent(u User, sections ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.ID]; !ok {
		s.users[u.ID] = &u
	}
	for _, sec := range sections {
		s.enrolled[sec][u.ID] = true
	}
}

// AddTeacher adds a teacher (a valid grader_id).
func (s *Server) AddTeacher(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = &u
	s.teachers[u.ID] = true
}

// Unenroll removes a student from a section.
func (s *Server) Unenroll(section, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.enrolled[section], user)
}

// SetLTILaunched records whether a student has launched the LTI link.
func (s *Server) SetLTILaunched(user string, launched bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[user].NoLTILaunch = !launched
}

// Inject queues a fault; faults apply in the order injected.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// DeleteAssignment deletes an assignment as a teacher would in the LMS.
func (s *Server) DeleteAssignment(section, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.assignments[section][id]; !ok {
		return false
	}
	delete(s.assignments[section], id)
	return true
}

// Assignment is an assignment as the simulator holds it.
type Assignment struct {
	ID             string
	Section        string
	Title          string
	Description    string
	GradingType    string
	PointsPossible *float64
	DueDate        time.Time
	State          string
	SubmissionType []string
	MaxAttempts    *int64
	Created        time.Time
}

// Submission is a student's submission as the simulator holds it.
type Submission struct {
	User         string
	State        string
	Grade        *string
	GradePoints  *float64
	GradeComment *string
	GraderID     *string
	Updates      int // successful PATCHes
	LastModified time.Time
}

// Assignments lists the existing assignments of a section, oldest first.
func (s *Server) Assignments(section string) []Assignment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Assignment
	for _, a := range s.assignments[section] {
		out = append(out, a.public(section))
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Created.Before(out[j].Created) || out[i].Created.Equal(out[j].Created) && out[i].ID < out[j].ID
	})
	return out
}

// Submission returns a student's submission to an assignment.
func (s *Server) Submission(section, assignment, user string) (Submission, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.assignments[section][assignment]
	if a == nil || a.subs[user] == nil {
		return Submission{}, false
	}
	return *a.subs[user], true
}

// Created counts the assignments ever created in a section with a title
// (deleted ones too).
func (s *Server) Created(section, title string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[[2]string{section, title}]
}

// TotalCreated counts every assignment ever created.
func (s *Server) TotalCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.created {
		n += c
	}
	return n
}

// Grades counts the successful submission updates of a user, across
// assignments.
func (s *Server) Grades(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grades[user]
}

// Requests counts every request received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Windows lists a token's rate-limit windows in time order.
func (s *Server) Windows(tok string) []Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Window
	for _, w := range s.windows[tok] {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// bucket names a token's rate-limit bucket without revealing it.
func bucket(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return fmt.Sprintf("token-%x", h[:6])
}
