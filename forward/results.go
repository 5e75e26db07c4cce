package forward

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The results read model: the result of a participant on an objective
// (completed? passed? score? when?), per registration, derived from the
// statements the objective matches and kept current as they arrive, with
// the overrides an administrator sets on top. README (Results) states the
// rules; this file is them, as a pure function of the contributing
// statements (computeResult), so that a result does not depend on the
// order in which statements arrive, nor on how many times one is
// observed.

// Verbs with a meaning for results (ADL vocabulary, as cmi5 uses it).
const (
	VerbCompleted   = "http://adlnet.gov/expapi/verbs/completed"
	VerbPassed      = "http://adlnet.gov/expapi/verbs/passed"
	VerbFailed      = "http://adlnet.gov/expapi/verbs/failed"
	VerbInitialized = "http://adlnet.gov/expapi/verbs/initialized"
	VerbLaunched    = "http://adlnet.gov/expapi/verbs/launched"
	VerbVoided      = "http://adlnet.gov/expapi/verbs/voided"
)

// ResultKey identifies a result: one participant's on one objective of an
// organization, in one registration ("" for the statements without one).
// Participant is the IFI key of the statements' actor (schema.IFIKey:
// "mbox:mailto:ada@example.com", "account:<homePage> <name>", …).
type ResultKey struct {
	Org          string
	ObjectiveID  string
	Participant  string
	Registration string
}

// resultNamespace is the namespace of result ids (UUID version 5).
var resultNamespace = uuid.MustParse("1b6f0c1e-7d1a-5e52-9c57-1a3c2b9e4f10")

// ID is the result's stable identifier: a name-based UUID (version 5) of
// its key, the same on every process and engine.
func (k ResultKey) ID() string {
	name := make([]byte, 0, len(k.Org)+len(k.ObjectiveID)+len(k.Participant)+len(k.Registration)+3)
	name = append(name, k.Org...)
	for _, p := range []string{k.ObjectiveID, k.Participant, k.Registration} {
		name = append(name, 0)
		name = append(name, p...)
	}
	return uuid.NewSHA1(resultNamespace, name).String()
}

// Score is an xAPI score; a nil field is absent.
type Score struct {
	Scaled *float64
	Raw    *float64
	Min    *float64
	Max    *float64
}

// Actor is how the latest statement of a result named its participant.
type Actor struct {
	Name            string
	Mbox            string // mailto: IRI
	MboxSHA1Sum     string
	OpenID          string
	AccountHomePage string
	AccountName     string
}

// Contribution is what one statement says for one result: its key is
// (Org, ObjectiveID, StatementID), and the statement determines the rest
// of the result key. Times are at millisecond precision. Completion and
// Success are the statement's own result fields (nil when absent); the
// rules derive them from the verb when absent.
type Contribution struct {
	ResultKey
	StatementID string
	Stored      time.Time
	Timestamp   time.Time
	Verb        string
	Activity    string
	Completion  *bool
	Success     *bool
	Score       *Score
	Duration    string // ISO 8601, "" when absent
	Actor       Actor
	// Voided: the statement was voided; it no longer counts.
	Voided bool
	// New: the statement was stored first by the call that adds this
	// contribution (Statement.New), so no copy of it can be stored yet.
	// Not stored: a read contribution is never New.
	New bool
}

// ResultField names a value of a result (the admin API's and the CSV's names).
type ResultField string

// The values of a result.
const (
	FieldCompletion    ResultField = "completion"
	FieldSuccess       ResultField = "success"
	FieldScore         ResultField = "score"
	FieldDuration      ResultField = "duration"
	FieldAttempts      ResultField = "attempts"
	FieldFirstActivity ResultField = "first_activity"
	FieldLastActivity  ResultField = "last_activity"
	FieldCompletedAt   ResultField = "completed_at"
)

// ResultFields are the values of a result, in the order they are shown.
var ResultFields = []ResultField{FieldCompletion, FieldSuccess, FieldScore, FieldDuration, FieldAttempts,
	FieldFirstActivity, FieldLastActivity, FieldCompletedAt}

// Values are what a result says. A nil pointer, "" or the zero time is
// "not known".
type Values struct {
	Completion    *bool
	Success       *bool
	Score         *Score
	Duration      string // ISO 8601
	Attempts      int
	FirstActivity time.Time
	LastActivity  time.Time
	CompletedAt   time.Time
}

// copyField sets v's field f to that of src.
func (v *Values) copyField(f ResultField, src Values) {
	switch f {
	case FieldCompletion:
		v.Completion = src.Completion
	case FieldSuccess:
		v.Success = src.Success
	case FieldScore:
		v.Score = src.Score
	case FieldDuration:
		v.Duration = src.Duration
	case FieldAttempts:
		v.Attempts = src.Attempts
	case FieldFirstActivity:
		v.FirstActivity = src.FirstActivity
	case FieldLastActivity:
		v.LastActivity = src.LastActivity
	case FieldCompletedAt:
		v.CompletedAt = src.CompletedAt
	}
}

// Equal reports whether v and w say the same.
func (v Values) Equal(w Values) bool {
	return eqPtr(v.Completion, w.Completion) && eqPtr(v.Success, w.Success) && eqScore(v.Score, w.Score) &&
		v.Duration == w.Duration && v.Attempts == w.Attempts && v.FirstActivity.Equal(w.FirstActivity) &&
		v.LastActivity.Equal(w.LastActivity) && v.CompletedAt.Equal(w.CompletedAt)
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func eqScore(a, b *Score) bool {
	return (a == nil) == (b == nil) && (a == nil ||
		eqPtr(a.Scaled, b.Scaled) && eqPtr(a.Raw, b.Raw) && eqPtr(a.Min, b.Min) && eqPtr(a.Max, b.Max))
}

// Sources name the statement that set each computed value ("" when the
// value is not known). Attempts has none: it counts statements.
type Sources struct {
	Completion    string
	Success       string
	Score         string
	Duration      string
	FirstActivity string
	LastActivity  string
	CompletedAt   string
}

// OverrideEntry says who overrode a value, when and why.
type OverrideEntry struct {
	By     string
	At     time.Time
	Reason string
}

// Override is what an administrator set on a result: Values holds the
// overridden values, Set the fields that are overridden (the other fields
// of Values mean nothing).
type Override struct {
	Values Values
	Set    map[ResultField]OverrideEntry
}

// OverrideEvent is one administrator's change of a result's overrides:
// the fields set (to the values in Values) and the fields cleared.
type OverrideEvent struct {
	At       time.Time
	By       string
	Reason   string
	Set      []ResultField
	Values   Values
	Cleared  []ResultField
	Revision int64 // the result's revision this change created
}

// MaxOverrideHistory is how many override events a result keeps (the
// oldest go first).
const MaxOverrideHistory = 100

// ObjectiveResult is a participant's result on an objective.
type ObjectiveResult struct {
	ResultKey
	Actor      Actor
	Computed   Values  // derived from the statements
	Sources    Sources // the statements that set Computed
	Statements int     // statements that count (not voided)
	Override   Override
	History    []OverrideEvent // oldest first
	// Revision increases on every change of the effective result (its
	// values, or which of them are overridden); it is what an overwrite
	// delivery carries.
	Revision int64
	// Gen increases on every write of the result (a change of the
	// computed values under an override, of the sources, …): the
	// compare-and-swap token of ResultStore.PutResults. 0: not stored.
	Gen int64
	// RulesAt is the UpdatedAt of the objective whose rules computed the
	// values: a process that reads a result computed under a newer edit
	// of its objective than it knows reads the objective again.
	RulesAt   time.Time
	CreatedAt time.Time
	UpdatedAt time.Time // when Revision last increased; each revision later than the one before
}

// Effective is what the result says: the computed values, each replaced
// by its override when it has one.
func (r ObjectiveResult) Effective() Values {
	v := r.Computed
	for f := range r.Override.Set {
		v.copyField(f, r.Override.Values)
	}
	return v
}

// Overridden reports whether field f is overridden.
func (r ObjectiveResult) Overridden(f ResultField) bool {
	_, ok := r.Override.Set[f]
	return ok
}

// OverriddenFields lists the overridden fields in the order of ResultFields.
func (r ObjectiveResult) OverriddenFields() []ResultField {
	var out []ResultField
	for _, f := range ResultFields {
		if r.Overridden(f) {
			out = append(out, f)
		}
	}
	return out
}

// sameEffect reports whether r and s say the same to a reader of the
// effective result: the same values, the same fields overridden.
func sameEffect(r, s ObjectiveResult) bool {
	return r.Effective().Equal(s.Effective()) && slices.Equal(r.OverriddenFields(), s.OverriddenFields())
}

// Completed reports whether the effective result is completed.
func (r ObjectiveResult) Completed() bool { c := r.Effective().Completion; return c != nil && *c }

// Passed reports whether the effective result is passed.
func (r ObjectiveResult) Passed() bool { s := r.Effective().Success; return s != nil && *s }

// ---- the rules ----

// later reports whether a comes after b in the order of statements:
// timestamp, then stored time, then statement id.
func later(a, b *Contribution) bool { return compareOrder(a, b) > 0 }

func compareOrder(a, b *Contribution) int {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	if c := a.Stored.Compare(b.Stored); c != 0 {
		return c
	}
	return cmp.Compare(a.StatementID, b.StatementID)
}

// counts reports whether c counts for o: not voided, about o's activity,
// with one of o's verbs (any verb when o lists none).
func counts(o Objective, c *Contribution) bool {
	return !c.Voided && c.Activity == o.ActivityID && (len(o.Verbs) == 0 || slices.Contains(o.Verbs, c.Verb))
}

// completion is what c says of completion: its result's, else true for
// the verb completed.
func (c *Contribution) completion() *bool {
	if c.Completion != nil {
		return c.Completion
	}
	if c.Verb == VerbCompleted {
		return ptr(true)
	}
	return nil
}

// success is what c says of success: its result's, else true for passed
// and false for failed.
func (c *Contribution) success() *bool {
	if c.Success != nil {
		return c.Success
	}
	switch c.Verb {
	case VerbPassed:
		return ptr(true)
	case VerbFailed:
		return ptr(false)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// startsAttempt reports whether c starts an attempt.
func (c *Contribution) startsAttempt() bool {
	return c.Verb == VerbInitialized || c.Verb == VerbLaunched
}

// scoreRank orders scores for "best": a score with a value on a common
// scale (scaled, else raw mapped onto 0..1 by min and max) beats one
// without (raw only), which are ordered by raw.
func scoreRank(s *Score) (comparable bool, v float64) {
	switch {
	case s.Scaled != nil:
		return true, *s.Scaled
	case s.Raw != nil && s.Min != nil && s.Max != nil && *s.Min < *s.Max:
		return true, (*s.Raw - *s.Min) / (*s.Max - *s.Min)
	case s.Raw != nil:
		return false, *s.Raw
	}
	return false, math.Inf(-1)
}

// betterScore reports whether a's score beats b's (then, at equal scores,
// whether a is later).
func betterScore(a, b *Contribution) bool {
	ca, va := scoreRank(a.Score)
	cb, vb := scoreRank(b.Score)
	switch {
	case ca != cb:
		return ca
	case va != vb:
		return va > vb
	}
	return later(a, b)
}

// computeResult is the result of the contributions cs under objective o:
// the values, the statements that set them, the actor of the latest
// statement and how many statements count. It is a pure function of the
// set cs (its order does not matter).
func computeResult(o Objective, cs []Contribution) (Values, Sources, Actor, int) {
	live := make([]*Contribution, 0, len(cs))
	for i := range cs {
		if counts(o, &cs[i]) {
			live = append(live, &cs[i])
		}
	}
	var v Values
	var src Sources
	if len(live) == 0 {
		return v, src, Actor{}, 0
	}
	slices.SortFunc(live, compareOrder)
	first, last := live[0], live[len(live)-1]
	v.FirstActivity, src.FirstActivity = first.Timestamp, first.StatementID
	v.LastActivity, src.LastActivity = last.Timestamp, last.StatementID

	// Attempts: the initialized statements or the launched ones, whichever
	// are more; one when neither.
	var initialized, launched, start int
	start = -1
	for i, c := range live {
		switch c.Verb {
		case VerbInitialized:
			initialized++
		case VerbLaunched:
			launched++
		}
		if c.startsAttempt() {
			start = i
		}
	}
	v.Attempts = max(initialized, launched, 1)

	// The statements whose values count: all of them (best attempt), or
	// those of the latest attempt, from its start on.
	scope := live
	if o.LatestAttemptCounts && start >= 0 {
		scope = live[start:]
	}
	var completion, success, score, duration *Contribution
	for _, c := range scope { // ascending: a later statement replaces an earlier one
		if b := c.completion(); b != nil && (o.LatestAttemptCounts || completion == nil || *b || !*completion.completion()) {
			completion = c
		}
		if b := c.success(); b != nil && (o.LatestAttemptCounts || success == nil || *b || !*success.success()) {
			success = c
		}
		if c.Score != nil && (o.LatestAttemptCounts || score == nil || betterScore(c, score)) {
			score = c
		}
		if c.Duration != "" {
			duration = c
		}
	}
	if completion != nil {
		v.Completion, src.Completion = completion.completion(), completion.StatementID
		if *v.Completion {
			// Completed at: the first statement of the scope that completed.
			for _, c := range scope {
				if b := c.completion(); b != nil && *b {
					v.CompletedAt, src.CompletedAt = c.Timestamp, c.StatementID
					break
				}
			}
		}
	}
	if success != nil {
		v.Success, src.Success = success.success(), success.StatementID
	}
	if score != nil {
		s := *score.Score
		v.Score, src.Score = &s, score.StatementID
	}
	if duration != nil {
		v.Duration, src.Duration = duration.Duration, duration.StatementID
	}
	return v, src, last.Actor, len(live)
}
