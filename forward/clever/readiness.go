package clever

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/lrs-project/lrs/forward"
)

// Readiness is the answer of "test connection": whether grades can be
// written, why, and what was read to decide it.
type Readiness struct {
	Ready bool
	// Verdict is one or more sentences for the administrator.
	Verdict  string
	District District
	Sections []SectionReadiness
	// Outcome classifies the check as an attempt would be (success when
	// ready; Server Error when Clever answered but grades cannot go
	// through; the failure's class when a request failed).
	Outcome Outcome
}

// SectionReadiness is one mapped section's state.
type SectionReadiness struct {
	ID      string
	Name    string
	Course  string // when reached through a course mapping
	Synced  bool
	Problem string // why grades cannot go to it, "" when they can
}

// maxCheckedSections bounds the sections a readiness check reads.
const maxCheckedSections = 100

// Test checks, without writing anything, what grade passback needs: the
// credentials (fetching the token with client credentials), the
// district's LMS connection (lms_state success, lms_type), every mapped
// section (visible to the token, synced in the LMS) and, for Schoology,
// that no link submission type is configured.
func (d *Destination) Test(ctx context.Context) Readiness {
	var r Readiness
	fail := func(o Outcome, verdict string) Readiness {
		r.Outcome, r.Verdict = o, verdict+" "+o.Message
		return r
	}
	dist, err := d.c.getDistrict(ctx, d.cfg.DistrictID)
	if err != nil {
		o := d.classify("", err)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound && d.cfg.DistrictID != "" && !strings.HasPrefix(ae.Message, "token endpoint:") {
			o.Message = fmt.Sprintf("district %s is not the token's district: %v", d.cfg.DistrictID, ae)
		}
		return fail(o, "Not ready: Clever could not be read.")
	}
	r.District = dist
	var problems []string
	if dist.LMSState != LMSSuccess {
		problems = append(problems, notActive(dist)+".")
	}
	if dist.LMSType == LMSSchoology && slices.Contains(d.cfg.SubmissionTypes, "link") {
		problems = append(problems, "Schoology does not accept the link submission type: remove it from submission_types.")
	}

	seen := map[string]bool{}
	for _, obj := range sortedKeys(d.cfg.Targets) {
		t := d.cfg.Targets[obj]
		if t.Course != "" {
			secs, err := d.rosters.course(ctx, t.Course)
			if err != nil {
				return fail(d.classify("", err), fmt.Sprintf("Not ready: the sections of course %s could not be read.", t.Course))
			}
			synced := 0
			for _, s := range secs {
				if !seen[s.ID] && len(r.Sections) < maxCheckedSections {
					seen[s.ID] = true
					sr := SectionReadiness{ID: s.ID, Name: s.Name, Course: t.Course, Synced: s.Synced()}
					if !sr.Synced {
						sr.Problem = "not synced in the LMS (skipped: its students get no grade)"
					}
					r.Sections = append(r.Sections, sr)
				}
				if s.Synced() {
					synced++
				}
			}
			if synced == 0 {
				problems = append(problems, fmt.Sprintf("Course %s (objective %s) has no section synced in the LMS.", t.Course, obj))
			}
			continue
		}
		for _, id := range t.Sections {
			if seen[id] || len(r.Sections) >= maxCheckedSections {
				continue
			}
			seen[id] = true
			sec, err := d.c.getSection(ctx, id)
			sr := SectionReadiness{ID: id}
			var ae *APIError
			switch isAPI := errors.As(err, &ae); {
			case err == nil:
				sr.Name, sr.Synced = sec.Name, sec.Synced()
				if !sr.Synced {
					sr.Problem = "not synced in the LMS"
					problems = append(problems, fmt.Sprintf("Section %s (%s) is not synced in the LMS.", id, sec.Name))
				}
			case isAPI && ae.Status == http.StatusNotFound:
				sr.Problem = "not visible to the token (not in the district, or not shared with the application)"
				problems = append(problems, fmt.Sprintf("Section %s is not visible to the token.", id))
			default:
				return fail(d.classify(id, err), fmt.Sprintf("Not ready: section %s could not be read.", id))
			}
			r.Sections = append(r.Sections, sr)
		}
	}

	lms := dist.LMSType
	if lms == "" {
		lms = "no LMS"
	}
	summary := fmt.Sprintf("District %s (%s), %s, LMS connection %s; %d mapped section(s) checked, %d synced in the LMS.",
		dist.Name, dist.ID, lms, orNone(dist.LMSState), len(r.Sections), countSynced(r.Sections))
	if len(problems) > 0 {
		r.Verdict = "Not ready. " + strings.Join(problems, " ") + " " + summary
		r.Outcome = Outcome{Class: forward.OutcomeDestination, Status: http.StatusOK, Message: truncate(r.Verdict, 1024)}
		return r
	}
	r.Ready = true
	r.Verdict = "Ready: grades can be written. " + summary
	r.Outcome = Outcome{Class: forward.OutcomeSuccess, Status: http.StatusOK, Message: truncate(r.Verdict, 1024)}
	return r
}

func orNone(s string) string {
	if s == "" {
		return "not set up"
	}
	return s
}

func countSynced(ss []SectionReadiness) int {
	n := 0
	for _, s := range ss {
		if s.Synced {
			n++
		}
	}
	return n
}

// Result is the readiness as the administration's test connection shows
// it (forward.Tester): classified like an attempt, the verdict as its
// message.
func (r Readiness) Result() forward.Result {
	return forward.Result{Outcome: r.Outcome.Class, Status: r.Outcome.Status, Message: truncate(r.Verdict, 1024), RetryAfter: r.Outcome.RetryAfter}
}
