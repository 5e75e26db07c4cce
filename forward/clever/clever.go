// Package clever is the grade passback destination: objective results
// become assignments and grades in the district's LMS (Canvas, Schoology,
// Google Classroom) through Clever's LMS Connect API v3.1 (sinks.md §1).
//
// A Destination serves one configuration. For a participant's result of an
// objective it finds the sections the objective is mapped to (listed, or
// every section of a course the student is enrolled in), maps the
// participant's email to the student's Clever id through each section's
// roster, makes sure the section has the objective's assignment (created
// once, its id persisted before use: see assignments.go), and writes the
// grade with a PATCH of the student's submission. Rate limiting per token
// is in limiter.go, the roster cache in roster.go, the grade computation
// in grade.go, the readiness check in readiness.go.
//
// Send never retries on its own (the engine schedules retries) and bounds
// its time by its context and Options.Timeout per request. Its Outcome is
// classified per sinks.md §0.2:
//
//   - 401 and 403 (the token refused), a district whose LMS connection is
//     not active, a mapped section that is not synced or not visible to the
//     token, an assignment body Clever refuses, 3xx, 405, 501, an answer
//     that is not the JSON expected: destination-wide (Server Error);
//   - no HTTP answer (refused, reset, timeout, DNS, TLS): Can't Connect;
//   - 408, 429 (retry not before X-RateLimit-Reset), 5xx: transient;
//   - "User not found" for a student the refreshed roster still has, a 400
//     on the grade itself, Schoology's "Error updating submission" (the
//     student never launched the LTI link), an objective mapped to no
//     section: item-level rejections that leave the status alone;
//   - a participant that is not an email, on no mapped section's roster, or
//     a result with nothing to grade: skipped, with the reason.
package clever

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// TypeClever is the configuration type name.
const TypeClever = "clever"

// OutcomeSkipped is the class of a result that is not sendable: the
// delivery is Skipped with the Outcome's message as its reason (the
// engine's forward.OutcomeSkipped).
const OutcomeSkipped = forward.OutcomeSkipped

// Outcome is the verdict of one Send or Test. Class is one of forward's
// Outcome classes or OutcomeSkipped; Message is short and holds no secret.
type Outcome struct {
	Class      string
	Status     int // HTTP status of the answer that decided it, 0 if none
	Message    string
	RetryAfter time.Duration // not before: Clever stopped the token
}

// Options are shared by every Clever destination of the process.
type Options struct {
	// Client sends every request; default the forward kit's (no
	// redirects, the egress policy Egress, each request bounded by
	// Timeout).
	Client *http.Client
	// Egress is the default Client's egress policy; nil: public unicast
	// only.
	Egress *forward.Egress
	// Timeout bounds each request; default 30 s (Clever advises 15–60 s:
	// writes can be slow).
	Timeout time.Duration
	// Clock is the time of rate limiting, caches, due dates and
	// reservations; default the real clock.
	Clock Clock
	// Limiters holds the process's rate limiters (one per token, shared by
	// every destination); default NewLimiters(Clock, RateShare).
	Limiters *Limiters
	// RateShare is this process's share of each token's limit when
	// Limiters is nil (see limiter.go); default 1.
	RateShare float64
	// RosterTTL is how long a section's roster is used before it is read
	// again (default 15 min); RosterMinAge how old it must be before a
	// missing email reads it again (default 1 min).
	RosterTTL, RosterMinAge time.Duration
	// ReservationTTL is the age after which an unresolved assignment
	// reservation is taken to be a dead worker's (default Timeout + 1 min;
	// never less than Timeout + 10 s).
	ReservationTTL time.Duration
	// Assignments is the assignment store (required).
	Assignments forward.AssignmentStore
	// Logger receives warnings; default discards.
	Logger *slog.Logger
}

func (o *Options) defaults() error {
	if o.Assignments == nil {
		return errors.New("clever: Options.Assignments is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = forward.NewHTTPClient(forward.HTTPOptions{Timeout: o.Timeout, Egress: o.Egress})
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Limiters == nil {
		o.Limiters = NewLimiters(o.Clock, o.RateShare)
	}
	if o.RosterTTL <= 0 {
		o.RosterTTL = 15 * time.Minute
	}
	if o.RosterMinAge <= 0 {
		o.RosterMinAge = time.Minute
	}
	if o.ReservationTTL < o.Timeout+10*time.Second {
		o.ReservationTTL = o.Timeout + time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Destination sends one configuration's grades. It is safe for concurrent
// use by every worker.
type Destination struct {
	org, config string
	cfg         Config
	opts        Options
	c           *client
	rosters     *rosters
	assignments flight[forward.AssignmentRecord]

	mu         sync.Mutex
	district   District // last read, for explaining refusals
	districtAt time.Time
}

// New returns the destination of configuration c with its decrypted
// secrets.
func New(c forward.Configuration, secrets map[string]string, opts Options) (*Destination, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	cfg, err := Parse(c.Properties, secrets)
	if err != nil {
		return nil, fmt.Errorf("clever: %w", err)
	}
	d := &Destination{org: c.Org, config: c.ID, cfg: cfg, opts: opts}
	d.c = newClient(&d.cfg, &d.opts)
	d.rosters = newRosters(d.c, &d.opts)
	return d, nil
}

// Redactor is the destination's redaction (the forward kit's), with the
// tokens it fetched: what the engine redacts its outcomes with
// (forward.Redacting).
func (d *Destination) Redactor() *forward.Redactor { return d.c.redact }

func (d *Destination) log() *slog.Logger {
	return d.opts.Logger.With("destination", TypeClever, "org", d.org, "configuration", d.config)
}

// Grade is one participant's result of an objective, to send.
type Grade struct {
	Objective     string // objective id (the sections mapping's key)
	ObjectiveName string // for the assignment's title; the id when empty
	Participant   string // the learner's email
	Result        Result
}

// Send writes the grade of g in every mapped section the participant is a
// student of; see the package documentation for the outcomes.
func (d *Destination) Send(ctx context.Context, g Grade) Outcome {
	email := strings.TrimSpace(g.Participant)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return Outcome{Class: OutcomeSkipped, Message: "the participant is not an email address"}
	}
	sub, err := d.cfg.grade(g.Result)
	if err != nil {
		return Outcome{Class: OutcomeSkipped, Message: err.Error()}
	}
	target, ok := d.cfg.target(g.Objective)
	if !ok {
		return Outcome{Class: forward.OutcomeItem, Message: fmt.Sprintf("objective %s is mapped to no Clever section (properties.sections)", g.Objective)}
	}
	sections := target.Sections
	if target.Course != "" {
		secs, err := d.rosters.course(ctx, target.Course)
		if err != nil {
			return d.classify("", err)
		}
		sections = sections[:0:0]
		for _, s := range secs {
			if s.Synced() {
				sections = append(sections, s.ID)
			}
		}
	}
	data := TemplateData{Objective: g.ObjectiveName, ObjectiveID: g.Objective}
	if strings.TrimSpace(data.Objective) == "" {
		data.Objective = g.Objective
	}
	// First with the cached rosters; when the participant is on none of
	// them, again with the rosters old enough to be read again.
	var graded, rejected []string
	for _, recheck := range []bool{false, true} {
		found := false
		for _, section := range sections {
			uid, err := d.rosters.lookup(ctx, section, email, recheck)
			if err != nil {
				return d.classify(section, err)
			}
			if uid == "" {
				continue
			}
			found = true
			o := d.sendSection(ctx, g, data, section, uid, email, sub)
			switch o.Class {
			case forward.OutcomeSuccess:
				graded = append(graded, section)
			case forward.OutcomeItem:
				rejected = append(rejected, o.Message)
			case OutcomeSkipped:
			default:
				return o
			}
		}
		if found {
			break
		}
	}
	switch {
	case len(rejected) > 0:
		msg := strings.Join(rejected, "; ")
		if len(graded) > 0 {
			msg += fmt.Sprintf(" (graded in %d other section(s))", len(graded))
		}
		return Outcome{Class: forward.OutcomeItem, Message: truncate(msg, 1024)}
	case len(graded) == 0:
		what := "the sections of course " + target.Course
		if target.Course == "" {
			what = "section(s) " + strings.Join(sections, ", ")
		}
		return Outcome{Class: OutcomeSkipped, Message: truncate("the participant is not a student of "+what+" in Clever", 1024)}
	}
	return Outcome{Class: forward.OutcomeSuccess, Status: http.StatusOK, Message: fmt.Sprintf("graded in %d section(s)", len(graded))}
}

// sendSection writes the grade in one section: assignment, then PATCH.
func (d *Destination) sendSection(ctx context.Context, g Grade, data TemplateData, section, uid, email string, sub SubmissionRequest) Outcome {
	key := forward.AssignmentKey{Org: d.org, Configuration: d.config, Section: section, Objective: g.Objective}
	recreated, refreshed := false, false
	for {
		rec, err := d.assignment(ctx, key, data)
		if err != nil {
			return d.classifyCreate(ctx, section, err)
		}
		_, err = d.c.patchSubmission(ctx, section, rec.AssignmentID, uid, sub)
		var ae *APIError
		switch {
		case err == nil:
			return Outcome{Class: forward.OutcomeSuccess, Status: http.StatusOK}
		case !errors.As(err, &ae):
			return d.classify(section, err)
		case ae.is(http.StatusNotFound, msgNoAssignment):
			if recreated {
				return Outcome{Class: forward.OutcomeDestination, Status: ae.Status,
					Message: fmt.Sprintf("section %s: the assignment was deleted again right after it was created (%v)", section, ae)}
			}
			recreated = true
			d.log().Info("the assignment was deleted in the LMS; creating it again", "section", section, "objective", g.Objective, "assignment", rec.AssignmentID)
			if err := d.opts.Assignments.ReleaseAssignment(ctx, rec); err != nil && !errors.Is(err, forward.ErrAssignmentChanged) {
				return d.classify(section, &storeError{err})
			}
		case ae.is(http.StatusNotFound, msgUserNotFound):
			if refreshed {
				return Outcome{Class: forward.OutcomeItem, Status: ae.Status,
					Message: fmt.Sprintf("section %s: Clever answered User not found for a student of the section's roster (not assigned, or not matched in the LMS yet)", section)}
			}
			refreshed = true
			d.rosters.forget(section)
			fresh, err := d.rosters.lookup(ctx, section, email, false)
			if err != nil {
				return d.classify(section, err)
			}
			if fresh == "" {
				return Outcome{Class: OutcomeSkipped, Message: "no longer a student of section " + section}
			}
			uid = fresh
		case ae.Status == http.StatusBadRequest:
			if o, ok := d.explain(ctx, section); ok {
				return o
			}
			return Outcome{Class: forward.OutcomeItem, Status: ae.Status, Message: fmt.Sprintf("section %s: Clever refused the grade: %v", section, ae)}
		case ae.is(http.StatusInternalServerError, msgSchoologyNoLaunch) && d.lmsType(ctx) == LMSSchoology:
			return Outcome{Class: forward.OutcomeItem, Status: ae.Status,
				Message: fmt.Sprintf("section %s: Schoology could not update the submission: the student must open the assignment's LTI link once (%v)", section, ae)}
		default:
			return d.classify(section, err)
		}
	}
}

// classifyCreate classifies a failure to get or create the assignment: a
// 400 on the create is the destination's (the body comes from the
// configuration and would be refused for every grade).
func (d *Destination) classifyCreate(ctx context.Context, section string, err error) Outcome {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		if o, ok := d.explain(ctx, section); ok {
			return o
		}
		return Outcome{Class: forward.OutcomeDestination, Status: ae.Status,
			Message: fmt.Sprintf("section %s: Clever refused to create the assignment (check the assignment settings): %v", section, ae)}
	}
	return d.classify(section, err)
}

// classify maps a failure that no step explained.
func (d *Destination) classify(section string, err error) Outcome {
	where := ""
	if section != "" {
		where = "section " + section + ": "
	}
	var (
		te *TransportError
		ae *APIError
		se *storeError
		ce *configError
	)
	switch {
	case errors.As(err, &te):
		return Outcome{Class: forward.OutcomeTransport, Message: where + te.Message}
	case errors.As(err, &se):
		return Outcome{Class: forward.OutcomeTransient, Message: truncate(se.Error(), 512)}
	case errors.As(err, &ce):
		return Outcome{Class: forward.OutcomeDestination, Message: ce.msg}
	case errors.Is(err, errReservationHeld):
		return Outcome{Class: forward.OutcomeTransient, Message: where + err.Error(), RetryAfter: 10 * time.Second}
	case errors.As(err, &ae):
		o := Outcome{Status: ae.Status, Message: where + ae.Error(), RetryAfter: ae.RetryAfter}
		switch s := ae.Status; {
		case s == http.StatusTooManyRequests:
			o.Class = forward.OutcomeTransient
			o.Message = where + "HTTP 429: Clever's rate limit for the token is exhausted"
		case s == http.StatusRequestTimeout || (s >= 500 && s != http.StatusNotImplemented):
			o.Class = forward.OutcomeTransient
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			o.Class = forward.OutcomeDestination
			o.Message = "Clever refused the credentials: " + ae.Error()
		case s == http.StatusNotFound && section != "" && strings.HasPrefix(ae.Message, "Resource not found"):
			o.Class = forward.OutcomeDestination
			o.Message = where + "not visible to the token (not in the district, or not shared with the application): " + ae.Error()
		default:
			o.Class = forward.OutcomeDestination
		}
		return o
	}
	return Outcome{Class: forward.OutcomeDestination, Message: where + truncate(d.c.redactString(err.Error()), 512)}
}

// districtTTL is how long a district read explains refusals.
const districtTTL = time.Minute

// readDistrict returns the district, read at most once per districtTTL.
func (d *Destination) readDistrict(ctx context.Context) (District, error) {
	now := d.opts.Clock.Now()
	d.mu.Lock()
	if !d.districtAt.IsZero() && now.Sub(d.districtAt) < districtTTL {
		defer d.mu.Unlock()
		return d.district, nil
	}
	d.mu.Unlock()
	dist, err := d.c.getDistrict(ctx, d.cfg.DistrictID)
	if err != nil {
		return District{}, err
	}
	d.mu.Lock()
	d.district, d.districtAt = dist, now
	d.mu.Unlock()
	return dist, nil
}

func (d *Destination) lmsType(ctx context.Context) string {
	dist, err := d.readDistrict(ctx)
	if err != nil {
		return ""
	}
	return dist.LMSType
}

// explain looks for a destination-wide cause of a 400 (Clever does not
// document how it answers writes to a district whose LMS connection is
// not active, or to a section not synced in the LMS): it reads the
// district and the section. ok is false when neither explains it.
func (d *Destination) explain(ctx context.Context, section string) (Outcome, bool) {
	dist, err := d.readDistrict(ctx)
	if err != nil {
		return d.classify("", err), true
	}
	if dist.LMSState != LMSSuccess {
		return Outcome{Class: forward.OutcomeDestination, Status: http.StatusBadRequest, Message: notActive(dist)}, true
	}
	sec, err := d.c.getSection(ctx, section)
	if err != nil {
		return d.classify(section, err), true
	}
	if !sec.Synced() {
		return Outcome{Class: forward.OutcomeDestination, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("section %s (%s) is not synced in the LMS: fix the mapping or sync the section in Clever", section, sec.Name)}, true
	}
	return Outcome{}, false
}

func notActive(dist District) string {
	state := dist.LMSState
	if state == "" {
		state = "not set up"
	}
	return fmt.Sprintf("the LMS connection of district %s is %s, not success: grades cannot be written until the district's LMS connection in Clever is active", dist.Name, state)
}
