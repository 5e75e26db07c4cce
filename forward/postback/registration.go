package postback

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// The RegistrationSchema of SCORM Cloud's API v2 (GET
// /registrations/{registrationId}, sinks.md §4.3), as much of it as an
// objective result fills, with its exact field names. Fields are written
// in this order.

// Completion values (registrationCompletion, activityCompletion).
const (
	CompletionUnknown    = "UNKNOWN"
	CompletionCompleted  = "COMPLETED"
	CompletionIncomplete = "INCOMPLETE"
)

// Success values (registrationSuccess, activitySuccess,
// runtime.runtimeSuccessStatus).
const (
	SuccessUnknown = "UNKNOWN"
	SuccessPassed  = "PASSED"
	SuccessFailed  = "FAILED"
)

// Registration is the postback's JSON.
type Registration struct {
	ID                           string          `json:"id"`
	Instance                     int             `json:"instance"`
	XAPIRegistrationID           string          `json:"xapiRegistrationId,omitempty"`
	Updated                      Time            `json:"updated"`
	RegistrationCompletion       string          `json:"registrationCompletion"`
	RegistrationCompletionAmount float64         `json:"registrationCompletionAmount"`
	RegistrationSuccess          string          `json:"registrationSuccess"`
	Score                        *ScoreSchema    `json:"score,omitempty"`
	TotalSecondsTracked          float64         `json:"totalSecondsTracked"`
	FirstAccessDate              *Time           `json:"firstAccessDate,omitempty"`
	LastAccessDate               *Time           `json:"lastAccessDate,omitempty"`
	CompletedDate                *Time           `json:"completedDate,omitempty"`
	CreatedDate                  *Time           `json:"createdDate,omitempty"`
	Course                       Course          `json:"course"`
	Learner                      Learner         `json:"learner"`
	Tags                         []string        `json:"tags"`
	GlobalObjectives             []any           `json:"globalObjectives"`
	SharedData                   []any           `json:"sharedData"`
	ActivityDetails              *ActivityResult `json:"activityDetails,omitempty"`
}

// ScoreSchema is a score on SCORM Cloud's 0–100 scale.
type ScoreSchema struct {
	Scaled float64 `json:"scaled"`
}

// Course is the objective.
type Course struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version int    `json:"version"`
}

// Learner is the participant.
type Learner struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
}

// ActivityResult is one node of activityDetails (ActivityResultSchema).
type ActivityResult struct {
	ID                 string           `json:"id"`
	Title              string           `json:"title"`
	Attempts           int              `json:"attempts"`
	ActivityCompletion string           `json:"activityCompletion"`
	ActivitySuccess    string           `json:"activitySuccess"`
	Score              *ScoreSchema     `json:"score,omitempty"`
	TimeTracked        string           `json:"timeTracked"`
	CompletionAmount   ScoreSchema      `json:"completionAmount"`
	Children           []ActivityResult `json:"children"`
	Runtime            *Runtime         `json:"runtime,omitempty"`
}

// Runtime is the activity's runtime data (RuntimeSchema, resultsFormat
// full): the values in their own scales, as strings, the way SCORM's CMI
// data model carries them. scoreScaled is xAPI's (and SCORM 2004's) −1..1,
// so a negative score that the 0–100 score cannot carry is here.
type Runtime struct {
	CompletionStatus     string `json:"completionStatus"` // completed, incomplete, unknown (cmi.completion_status)
	RuntimeSuccessStatus string `json:"runtimeSuccessStatus"`
	ScoreScaled          string `json:"scoreScaled,omitempty"`
	ScoreRaw             string `json:"scoreRaw,omitempty"`
	ScoreMin             string `json:"scoreMin,omitempty"`
	ScoreMax             string `json:"scoreMax,omitempty"`
	TotalTime            string `json:"totalTime"` // ISO 8601 duration (cmi.total_time)
	TimeTracked          string `json:"timeTracked"`
}

// Time is a date as SCORM Cloud writes it: UTC, milliseconds, "Z"
// (2026-09-02T08:15:01.000Z).
type Time time.Time

// TimeLayout is the layout of Time.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes the time in TimeLayout.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Time(v)
	return nil
}

func optTime(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	v := Time(t)
	return &v
}

// ErrNotSendable is wrapped by Render's errors: the result lacks what the
// RegistrationSchema requires. The delivery is rejected with the reason,
// not retried (the same result would fail again).
var ErrNotSendable = errors.New("not sendable")

// Render builds the registration of in for a results format (course,
// activity or full; "" is course). activity and full add activityDetails:
// the objective as the root activity, with one child, the objective's
// activity (ActivityIRI), both carrying the result's values; full adds
// the child's runtime data.
func Render(in Input, resultsFormat string) (*Registration, error) {
	var missing []string
	if in.Objective.ID == "" {
		missing = append(missing, "objective id")
	}
	if in.Participant.Email == "" {
		missing = append(missing, "participant email")
	}
	if in.Result.UpdatedAt.IsZero() {
		missing = append(missing, "updated time")
	}
	if in.Objective.ActivityIRI == "" && (resultsFormat == FormatActivity || resultsFormat == FormatFull) {
		missing = append(missing, "activity IRI")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: the result has no %s", ErrNotSendable, strings.Join(missing, ", no "))
	}
	switch resultsFormat {
	case "", FormatCourse, FormatActivity, FormatFull:
	default:
		return nil, fmt.Errorf("results format %q: want %s, %s or %s", resultsFormat, FormatCourse, FormatActivity, FormatFull)
	}
	r := in.Result
	completion := CompletionOf(r)
	first, last := splitName(in.Participant)
	reg := &Registration{
		ID:                           in.RegistrationID(),
		XAPIRegistrationID:           r.Registration,
		Updated:                      Time(r.UpdatedAt),
		RegistrationCompletion:       completion,
		RegistrationCompletionAmount: completionAmount(completion),
		RegistrationSuccess:          SuccessOf(r.Passed),
		Score:                        scoreSchema(r.Score),
		TotalSecondsTracked:          Seconds(r.Duration),
		FirstAccessDate:              optTime(r.FirstActivityAt),
		LastAccessDate:               optTime(r.LastActivityAt),
		CompletedDate:                optTime(r.CompletedAt),
		CreatedDate:                  optTime(r.CreatedAt),
		Course:                       Course{ID: in.Objective.ID, Title: in.Objective.Name},
		Learner:                      Learner{ID: in.Participant.Email, Email: in.Participant.Email, FirstName: first, LastName: last},
		Tags:                         []string{},
		GlobalObjectives:             []any{},
		SharedData:                   []any{},
	}
	if resultsFormat == FormatActivity || resultsFormat == FormatFull {
		node := func(id, title string) ActivityResult {
			return ActivityResult{
				ID: id, Title: title, Attempts: r.Attempts,
				ActivityCompletion: completion, ActivitySuccess: reg.RegistrationSuccess,
				Score: reg.Score, TimeTracked: TimeTracked(r.Duration),
				CompletionAmount: ScoreSchema{Scaled: reg.RegistrationCompletionAmount},
				Children:         []ActivityResult{},
			}
		}
		child := node(in.Objective.ActivityIRI, in.Objective.Name)
		if resultsFormat == FormatFull {
			child.Runtime = runtime(r)
		}
		root := node(in.Objective.ID, in.Objective.Name)
		root.Children = []ActivityResult{child}
		reg.ActivityDetails = &root
	}
	return reg, nil
}

// CompletionOf maps a result's completion: completed is COMPLETED, not
// completed INCOMPLETE; when no statement said either, a result with
// recorded activity (a first activity time or an attempt) is INCOMPLETE,
// as SCORM Cloud reports a launched registration, and one without is
// UNKNOWN. A pass does not imply completion (xAPI and SCORM 2004 keep the
// two apart; the read model decides if its objective folds them).
func CompletionOf(r Result) string {
	switch {
	case r.Completed != nil && *r.Completed:
		return CompletionCompleted
	case r.Completed != nil:
		return CompletionIncomplete
	case !r.FirstActivityAt.IsZero() || !r.LastActivityAt.IsZero() || r.Attempts > 0:
		return CompletionIncomplete
	}
	return CompletionUnknown
}

// SuccessOf maps success: passed PASSED, failed FAILED, unknown UNKNOWN.
func SuccessOf(passed *bool) string {
	switch {
	case passed == nil:
		return SuccessUnknown
	case *passed:
		return SuccessPassed
	}
	return SuccessFailed
}

// completionAmount is 100 for a completed result, else 0 (a result has no
// progress measure).
func completionAmount(completion string) float64 {
	if completion == CompletionCompleted {
		return 100
	}
	return 0
}

func scoreSchema(s Score) *ScoreSchema {
	v, ok := Percent(s)
	if !ok {
		return nil
	}
	return &ScoreSchema{Scaled: v}
}

// Percent converts an xAPI score to SCORM Cloud's 0–100 score.scaled:
// scaled × 100 when the score has a scaled part; else, from raw within
// [min, max] (min 0 when absent), (raw − min) / (max − min) × 100 when
// max > min; else there is no score. The arithmetic is exact decimal on
// the numbers as written (0.92 is 92, not 92.00000000000001), rounded to
// two decimals with halves away from zero (0.12345 is 12.35).
//
// Negative scores: xAPI's scaled runs from −1 to 1, SCORM Cloud's from 0 to
// 100, and receivers check that range. A negative scaled score (or a raw
// below min) is sent as 0: the lowest score the receiver can hold, and
// still a fail by any passing mark; the exact value is in the runtime
// data of resultsFormat full (scoreScaled). Values above the top are sent
// as 100.
func Percent(s Score) (float64, bool) {
	var v *big.Rat
	switch {
	case s.Scaled != nil:
		v = decimal(*s.Scaled)
		v.Mul(v, big.NewRat(100, 1))
	case s.Raw != nil && s.Max != nil:
		lo := new(big.Rat)
		if s.Min != nil {
			lo = decimal(*s.Min)
		}
		span := new(big.Rat).Sub(decimal(*s.Max), lo)
		if span.Sign() <= 0 {
			return 0, false
		}
		v = new(big.Rat).Sub(decimal(*s.Raw), lo)
		v.Mul(v, big.NewRat(100, 1))
		v.Quo(v, span)
	default:
		return 0, false
	}
	switch {
	case v.Sign() < 0:
		v.SetInt64(0)
	case v.Cmp(big.NewRat(100, 1)) > 0:
		v.SetInt64(100)
	}
	return round2(v), true
}

// decimal is the exact value of f as written in its shortest decimal form.
func decimal(f float64) *big.Rat {
	v, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'f', -1, 64))
	if !ok { // NaN or ±Inf: schema validation keeps them out of statements
		return new(big.Rat)
	}
	return v
}

// round2 rounds to two decimals, halves away from zero (big.Rat's
// FloatString rounds that way).
func round2(v *big.Rat) float64 {
	f, _ := strconv.ParseFloat(v.FloatString(2), 64)
	return f
}

// Seconds is totalSecondsTracked: the duration in seconds to the
// hundredth (SCORM's time resolution), 0 when absent or negative.
func Seconds(d *time.Duration) float64 {
	if d == nil || *d <= 0 {
		return 0
	}
	return round2(big.NewRat(int64(*d), int64(time.Second)))
}

// TimeTracked is timeTracked: HHHH:MM:SS (SCORM's CMITimespan, as SCORM
// Cloud writes it: "0000:12:30"), with ".ss" hundredths only when they
// are not zero; 0000:00:00 when absent.
func TimeTracked(d *time.Duration) string {
	cs := centiseconds(d)
	s := fmt.Sprintf("%04d:%02d:%02d", cs/360000, cs/6000%60, cs/100%60)
	if cs%100 != 0 {
		s += fmt.Sprintf(".%02d", cs%100)
	}
	return s
}

// ISODuration is the duration as an ISO 8601 duration (PT1H2M3.45S), as
// xAPI and SCORM 2004's cmi.total_time write it; PT0S when absent.
func ISODuration(d *time.Duration) string {
	cs := centiseconds(d)
	if cs == 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := cs / 360000; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m := cs / 6000 % 60; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if s := cs % 6000; s > 0 {
		if s%100 == 0 {
			fmt.Fprintf(&b, "%dS", s/100)
		} else {
			fmt.Fprintf(&b, "%d.%02dS", s/100, s%100)
		}
	}
	return b.String()
}

// centiseconds rounds d to hundredths of a second, halves up.
func centiseconds(d *time.Duration) int64 {
	if d == nil || *d <= 0 {
		return 0
	}
	return int64((*d + 5*time.Millisecond) / (10 * time.Millisecond))
}

func runtime(r Result) *Runtime {
	rt := &Runtime{
		CompletionStatus:     "unknown",
		RuntimeSuccessStatus: SuccessOf(r.Passed),
		TotalTime:            ISODuration(r.Duration),
		TimeTracked:          TimeTracked(r.Duration),
	}
	switch CompletionOf(r) {
	case CompletionCompleted:
		rt.CompletionStatus = "completed"
	case CompletionIncomplete:
		rt.CompletionStatus = "incomplete"
	}
	str := func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'f', -1, 64)
	}
	rt.ScoreScaled, rt.ScoreRaw, rt.ScoreMin, rt.ScoreMax = str(r.Score.Scaled), str(r.Score.Raw), str(r.Score.Min), str(r.Score.Max)
	return rt
}

// splitName is learner.firstName and lastName: FirstName and LastName
// when either is set, else Name cut at its first space ("Ada Lovelace":
// Ada, Lovelace; "Ludwig van Beethoven": Ludwig, van Beethoven; one word
// is the first name).
func splitName(p Participant) (first, last string) {
	if p.FirstName != "" || p.LastName != "" {
		return p.FirstName, p.LastName
	}
	name := strings.Join(strings.Fields(p.Name), " ")
	first, last, _ = strings.Cut(name, " ")
	return first, last
}
