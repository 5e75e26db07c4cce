package clever

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/lrs-project/lrs/forward"
)

// Result is an objective result of one participant, as the results read
// model holds it: completion, success and the xAPI score (sinks.md §2.3).
// Nil means unknown.
type Result struct {
	Completed *bool
	Success   *bool
	Scaled    *float64 // -1..1
	Raw       *float64
	Min, Max  *float64
}

// errNotGradable: the result carries nothing a grade can be made of.
var errNotGradable = errors.New("the result has no score, success or completion to grade")

// fraction is the result's score on a 0..1 scale, and whether it has one.
//
// The scaled score comes first: it is the content's own normalization of
// the result, and the one measure comparable across objectives. A raw
// score is used only with both its min and max (max > min), as
// (raw − min) / (max − min): without its range a raw score cannot be put on
// the assignment's scale (850 may be out of 1000 or out of 900), so it is
// ignored rather than guessed. Negative scaled scores and raw scores
// outside their range are clamped to 0..1.
func (r Result) fraction() (float64, bool) {
	clamp := func(f float64) float64 { return math.Min(math.Max(f, 0), 1) }
	switch {
	case r.Scaled != nil && !math.IsNaN(*r.Scaled):
		return clamp(*r.Scaled), true
	case r.Raw != nil && r.Min != nil && r.Max != nil && *r.Max > *r.Min:
		return clamp((*r.Raw - *r.Min) / (*r.Max - *r.Min)), true
	}
	return 0, false
}

// grade computes the submission update of a result under the assignment
// settings of c, or errNotGradable.
//
//   - points: grade_points = fraction × points_possible (rounded to 0.01),
//     grade the same number as text. Without a score, success gives full
//     or no points, and a completion without success full points.
//   - percent: grade_points as for points, grade the percentage ("92%").
//   - pass_fail: grade "pass" or "fail" (Clever does not document the
//     accepted values; these are the ones sinks.md §1.6 names),
//     grade_points points_possible or 0; decided by success, else by
//     completion (completed is a pass). An incomplete result without
//     success is not graded.
//
// Every grade is written in state "returned" (the finalized grade), with
// a short comment and the configured grader.
func (c Config) grade(r Result) (SubmissionRequest, error) {
	f, scored := r.fraction()
	var passed, decided bool
	switch {
	case r.Success != nil:
		passed, decided = *r.Success, true
	case r.Completed != nil && *r.Completed:
		passed, decided = true, true
	}
	req := SubmissionRequest{State: submissionReturned, GraderID: c.GraderID}
	var text string
	var points float64
	switch c.GradingType {
	case GradingPassFail:
		if !decided {
			return SubmissionRequest{}, errNotGradable
		}
		text = "fail"
		if passed {
			text, points = "pass", c.PointsPossible
		}
	default:
		switch {
		case scored:
		case decided && passed:
			f = 1
		case decided:
			f = 0
		default:
			return SubmissionRequest{}, errNotGradable
		}
		points = math.Round(f*c.PointsPossible*100) / 100
		text = formatNumber(points)
		if c.GradingType == GradingPercent {
			text = formatNumber(math.Round(f*10000)/100) + "%"
		}
	}
	req.Grade, req.GradePoints = &text, &points
	comment := comment(r, f, scored)
	req.GradeComment = &comment
	return req, nil
}

// comment is the grade's short comment: the outcome, and the score when
// there is one ("Passed, score 92%").
func comment(r Result, f float64, scored bool) string {
	var s string
	switch {
	case r.Success != nil && *r.Success:
		s = "Passed"
	case r.Success != nil:
		s = "Failed"
	case r.Completed != nil && *r.Completed:
		s = "Completed"
	case r.Completed != nil:
		s = "Not completed"
	}
	if scored {
		score := "score " + formatNumber(math.Round(f*10000)/100) + "%"
		if s == "" {
			return "Score " + score[len("score "):]
		}
		s += ", " + score
	}
	return s
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// GradeOf is the grade of an objective's result, as the results read
// model keeps it (overrides applied): the participant is the email of the
// result's mbox ("" when it has none: the grade is then skipped with a
// reason), the objective's name titles its assignment.
func GradeOf(objectiveName string, r forward.ObjectiveResult) Grade {
	v := r.Effective()
	mbox := r.Actor.Mbox
	if mbox == "" {
		mbox, _ = strings.CutPrefix(r.Participant, "mbox:")
	}
	email, ok := strings.CutPrefix(mbox, "mailto:")
	if !ok {
		email = ""
	}
	g := Grade{Objective: r.ObjectiveID, ObjectiveName: objectiveName, Participant: email,
		Result: Result{Completed: v.Completion, Success: v.Success}}
	if v.Score != nil {
		g.Result.Scaled, g.Result.Raw, g.Result.Min, g.Result.Max = v.Score.Scaled, v.Score.Raw, v.Score.Min, v.Score.Max
	}
	return g
}
