package forward

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/schema"
)

// The administration of results: one participant's progress on an
// objective, lists of an objective's or a participant's results, their
// export, overrides, and the recompute after an objective's rules change.

// Limits of results queries and overrides.
const (
	MaxResultsPage  = 1000
	maxReason       = 500
	maxParticipant  = 1000
	exportPageLimit = 500
)

// ParseParticipant returns the participant key (the form of
// ObjectiveResult.Participant, schema's IFI key) that s names: a key
// ("mbox:mailto:ada@example.com", "mbox_sha1sum:<hex>", "openid:<uri>",
// "account:<homePage> <name>"), a mailto: IRI, or an email address.
// ErrInvalid says what is wrong.
func ParseParticipant(s string) (string, error) {
	bad := func(why string) error {
		return invalid([]string{fmt.Sprintf("participant: %q %s", s, why)})
	}
	switch {
	case s == "":
		return "", invalid([]string{"participant: is required"})
	case len(s) > maxParticipant || !utf8.ValidString(s):
		return "", bad(fmt.Sprintf("is not a participant (at most %d bytes of UTF-8)", maxParticipant))
	}
	email := func(addr string) (string, error) {
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			return "", bad("is not an email address")
		}
		return "mbox:mailto:" + strings.ToLower(addr), nil
	}
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "mbox":
		addr, ok := strings.CutPrefix(rest, "mailto:")
		if !ok {
			return "", bad("is not an mbox key (mbox:mailto:<email>)")
		}
		return email(addr)
	case "mailto":
		return email(rest)
	case "mbox_sha1sum":
		if len(rest) != 40 || strings.Trim(strings.ToLower(rest), "0123456789abcdef") != "" {
			return "", bad("is not an mbox_sha1sum key (40 hex digits)")
		}
		return "mbox_sha1sum:" + strings.ToLower(rest), nil
	case "openid":
		if !schema.ValidIRI(rest) {
			return "", bad("is not an openid key (an absolute IRI)")
		}
		return s, nil
	case "account":
		home, name, ok := strings.Cut(rest, " ")
		if !ok || !schema.ValidIRI(home) || name == "" {
			return "", bad("is not an account key (account:<homePage> <name>)")
		}
		return s, nil
	}
	if strings.Contains(s, "@") && !strings.Contains(s, ":") {
		return email(s)
	}
	return "", bad("is not a participant: give an email, mailto:, mbox:, mbox_sha1sum:, openid: or account: key")
}

// ParseRegistration returns the registration s names ("" for none) in the
// form results keep (a lower-case UUID). ErrInvalid.
func ParseRegistration(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", invalid([]string{fmt.Sprintf("registration: %q is not a UUID", s)})
	}
	return u.String(), nil
}

func (a *Admin) results() (*Results, error) {
	if a.opts.Results == nil {
		return nil, adminError(ErrConflict, "this server keeps no results")
	}
	return a.opts.Results, nil
}

// Result returns the result of participant on the objective (org,
// objectiveID) in registration ("" for none): the analogue of SCORM
// Cloud's registration progress. ErrNotFound (no objective, or no result),
// ErrInvalid (participant, registration).
func (a *Admin) Result(ctx context.Context, org, objectiveID, participant, registration string) (ObjectiveResult, error) {
	key, err := a.resultKey(ctx, org, objectiveID, participant, registration)
	if err != nil {
		return ObjectiveResult{}, err
	}
	got, err := a.store.GetResults(ctx, []ResultKey{key})
	if err != nil {
		return ObjectiveResult{}, err
	}
	r, ok := got[key]
	if !ok {
		reg := "no registration"
		if key.Registration != "" {
			reg = "registration " + key.Registration
		}
		return ObjectiveResult{}, adminError(ErrNotFound, "no result of %s on objective %q (%s)", key.Participant, objectiveID, reg)
	}
	return r, nil
}

// resultKey checks and normalizes a result's key.
func (a *Admin) resultKey(ctx context.Context, org, objectiveID, participant, registration string) (ResultKey, error) {
	if _, err := a.results(); err != nil {
		return ResultKey{}, err
	}
	if _, err := a.Objective(ctx, org, objectiveID); err != nil {
		return ResultKey{}, err
	}
	p, err := ParseParticipant(participant)
	if err != nil {
		return ResultKey{}, err
	}
	reg, err := ParseRegistration(registration)
	if err != nil {
		return ResultKey{}, err
	}
	return ResultKey{Org: org, ObjectiveID: objectiveID, Participant: p, Registration: reg}, nil
}

// ListResults returns a page of q (q.Org's results of q.ObjectiveID, of
// q.Participant, or both) and the position after which the next page
// starts (nil: this is the last page). ErrNotFound (the objective),
// ErrInvalid (no objective nor participant, a participant, a limit out of
// 1..1000).
func (a *Admin) ListResults(ctx context.Context, q ResultQuery) ([]ObjectiveResult, *ResultCursor, error) {
	q, err := a.checkQuery(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	q.Limit++ // one more tells whether there is a next page
	page, err := a.store.ListResults(ctx, q)
	if err != nil || len(page) < q.Limit {
		return page, nil, err
	}
	page = page[:q.Limit-1]
	next := page[len(page)-1].Cursor()
	return page, &next, nil
}

func (a *Admin) checkQuery(ctx context.Context, q ResultQuery) (ResultQuery, error) {
	if _, err := a.results(); err != nil {
		return q, err
	}
	if q.Limit < 1 || q.Limit > MaxResultsPage {
		return q, invalid([]string{fmt.Sprintf("limit: want a number from 1 to %d", MaxResultsPage)})
	}
	if q.ObjectiveID == "" && q.Participant == "" {
		return q, invalid([]string{"participant: is required to list results across objectives"})
	}
	if q.ObjectiveID != "" {
		if _, err := a.Objective(ctx, q.Org, q.ObjectiveID); err != nil {
			return q, err
		}
	}
	if q.Participant != "" {
		p, err := ParseParticipant(q.Participant)
		if err != nil {
			return q, err
		}
		q.Participant = p
	}
	return q, nil
}

// EachResult calls fn with every result of q (its Limit and After
// ignored), in q's order, page by page: the export. It stops at the
// first error of fn. Errors as ListResults.
func (a *Admin) EachResult(ctx context.Context, q ResultQuery, fn func(ObjectiveResult) error) error {
	q.Limit, q.After = exportPageLimit, nil
	q, err := a.checkQuery(ctx, q)
	if err != nil {
		return err
	}
	for {
		page, err := a.store.ListResults(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < q.Limit {
			return nil
		}
		c := page[len(page)-1].Cursor()
		q.After = &c
	}
}

// OverrideInput is an administrator's change of a result's overrides:
// the Set fields take their value in Values, the Clear fields go back to
// the computed value. Reason is required; By is who (the caller's
// authenticated administrator).
type OverrideInput struct {
	Values Values
	Set    []ResultField
	Clear  []ResultField
	Reason string
	By     string
}

// CheckOverride returns every problem of in (nil when it can be applied).
func CheckOverride(in OverrideInput) []string {
	var errs []string
	switch {
	case strings.TrimSpace(in.Reason) == "":
		errs = append(errs, "reason: is required")
	case utf8.RuneCountInString(in.Reason) > maxReason:
		errs = append(errs, fmt.Sprintf("reason: must be at most %d characters long", maxReason))
	}
	if len(in.Set) == 0 && len(in.Clear) == 0 {
		errs = append(errs, "set or clear at least one value")
	}
	all := slices.Concat(in.Set, in.Clear)
	for _, f := range all {
		if !slices.Contains(ResultFields, f) {
			errs = append(errs, fmt.Sprintf("%s: not a value of a result (want one of %s)", f, joinFields(ResultFields)))
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
		errs = append(errs, "a value is named twice (set and clear each value at most once)")
	}
	v := in.Values
	for _, f := range in.Set {
		switch f {
		case FieldCompletion:
			if v.Completion == nil {
				errs = append(errs, "completion: must be true or false")
			}
		case FieldSuccess:
			if v.Success == nil {
				errs = append(errs, "success: must be true or false")
			}
		case FieldScore:
			errs = append(errs, checkScore(v.Score)...)
		case FieldDuration:
			if !schema.ValidDuration(v.Duration) {
				errs = append(errs, fmt.Sprintf("duration: %q is not an ISO 8601 duration", v.Duration))
			}
		case FieldAttempts:
			if v.Attempts < 0 {
				errs = append(errs, "attempts: must not be negative")
			}
		case FieldFirstActivity, FieldLastActivity, FieldCompletedAt:
			t := map[ResultField]bool{FieldFirstActivity: v.FirstActivity.IsZero(), FieldLastActivity: v.LastActivity.IsZero(), FieldCompletedAt: v.CompletedAt.IsZero()}
			if t[f] {
				errs = append(errs, fmt.Sprintf("%s: must be a time (RFC 3339)", f))
			}
		}
	}
	return errs
}

// checkScore applies xAPI's rules of a score (Data 2.4.5.1.1).
func checkScore(s *Score) []string {
	if s == nil || s.Scaled == nil && s.Raw == nil && s.Min == nil && s.Max == nil {
		return []string{"score: must hold at least one of scaled, raw, min, max"}
	}
	var errs []string
	for name, p := range map[string]*float64{"scaled": s.Scaled, "raw": s.Raw, "min": s.Min, "max": s.Max} {
		if p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0)) {
			errs = append(errs, fmt.Sprintf("score.%s: must be a number", name))
		}
	}
	if s.Scaled != nil && (*s.Scaled < -1 || *s.Scaled > 1) {
		errs = append(errs, "score.scaled: must be from -1 to 1")
	}
	if s.Min != nil && s.Max != nil && *s.Min >= *s.Max {
		errs = append(errs, "score.min: must be less than score.max")
	}
	if s.Raw != nil && (s.Min != nil && *s.Raw < *s.Min || s.Max != nil && *s.Raw > *s.Max) {
		errs = append(errs, "score.raw: must be from score.min to score.max")
	}
	slices.Sort(errs)
	return errs
}

func joinFields(fs []ResultField) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// OverrideResult applies in to the result of participant on the objective
// in registration, and returns the result written (a new revision).
// ErrNotFound, ErrInvalid, ErrConflict (clearing only values that are not
// overridden).
func (a *Admin) OverrideResult(ctx context.Context, org, objectiveID, participant, registration string, in OverrideInput) (ObjectiveResult, error) {
	key, err := a.resultKey(ctx, org, objectiveID, participant, registration)
	if err != nil {
		return ObjectiveResult{}, err
	}
	if errs := CheckOverride(in); len(errs) > 0 {
		return ObjectiveResult{}, invalid(errs)
	}
	in.Values.FirstActivity, in.Values.LastActivity, in.Values.CompletedAt =
		in.Values.FirstActivity.UTC().Truncate(time.Millisecond), in.Values.LastActivity.UTC().Truncate(time.Millisecond), in.Values.CompletedAt.UTC().Truncate(time.Millisecond)
	r, err := a.opts.Results.Override(ctx, key, OverrideChange{Values: in.Values, Fields: in.Set, Clear: in.Clear, By: in.By, Reason: in.Reason})
	switch {
	case errors.Is(err, ErrNotFound):
		return ObjectiveResult{}, adminError(ErrNotFound, "no result of %s on objective %q to override", key.Participant, objectiveID)
	case errors.Is(err, ErrNotOverridden):
		return ObjectiveResult{}, adminError(ErrConflict, "nothing to clear: %s is not overridden", joinFields(in.Clear))
	}
	return r, err
}

// RecomputeResults computes every result of the objective again from its
// statements' contributions under the objective's current rules, and
// returns how many. ErrNotFound.
func (a *Admin) RecomputeResults(ctx context.Context, org, objectiveID string) (int, error) {
	res, err := a.results()
	if err != nil {
		return 0, err
	}
	if _, err := a.Objective(ctx, org, objectiveID); err != nil {
		return 0, err
	}
	return res.RecomputeObjective(ctx, org, objectiveID)
}

// recomputeIfRulesChanged recomputes the objective's results when an edit
// changed what counts or how (activity, verbs, attempt rule).
func (a *Admin) recomputeIfRulesChanged(ctx context.Context, before, after Objective) error {
	if a.opts.Results == nil || before.ActivityID == after.ActivityID && slices.Equal(before.Verbs, after.Verbs) &&
		before.LatestAttemptCounts == after.LatestAttemptCounts {
		return nil
	}
	if _, err := a.opts.Results.RecomputeObjective(ctx, after.Org, after.ID); err != nil {
		return fmt.Errorf("the objective is saved, but its results were not all recomputed (POST its results/recompute to finish): %w", err)
	}
	return nil
}

func (a *Admin) deleteResults(ctx context.Context, org, id string) error {
	if err := a.store.DeleteResults(ctx, org, id); err != nil {
		return fmt.Errorf("the objective is deleted, but not all of its results: %w", err)
	}
	return nil
}
