package mongo

import (
	"fmt"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The stored form of the results read model: documents of this package's
// own shape ("v": the version of the shape, 1 since the read model
// exists), so that renaming a field of package forward never changes what
// is stored. A document of a later version does not read. The short field
// names at the top level are those the indexes use (resultIndexes).

const resultDocVersion = 1

func checkResultDocVersion(v int) error {
	if v > resultDocVersion || v < 1 {
		return fmt.Errorf("%w: results document version %d", errDocVersion, v)
	}
	return nil
}

type scoreDoc struct {
	Scaled *float64 `bson:"scaled,omitempty"`
	Raw    *float64 `bson:"raw,omitempty"`
	Min    *float64 `bson:"min,omitempty"`
	Max    *float64 `bson:"max,omitempty"`
}

func toScoreDoc(s *forward.Score) *scoreDoc {
	if s == nil {
		return nil
	}
	return &scoreDoc{Scaled: s.Scaled, Raw: s.Raw, Min: s.Min, Max: s.Max}
}

func (s *scoreDoc) score() *forward.Score {
	if s == nil {
		return nil
	}
	return &forward.Score{Scaled: s.Scaled, Raw: s.Raw, Min: s.Min, Max: s.Max}
}

type actorDoc struct {
	Name            string `bson:"name,omitempty"`
	Mbox            string `bson:"mbox,omitempty"`
	MboxSHA1Sum     string `bson:"sha1,omitempty"`
	OpenID          string `bson:"openid,omitempty"`
	AccountHomePage string `bson:"home,omitempty"`
	AccountName     string `bson:"account,omitempty"`
}

// contributionDoc is one statement's contribution to one result.
type contributionDoc struct {
	Key       string           `bson:"_id"` // <org>\x00<objective>\x00<statement>
	V         int              `bson:"v"`
	Result    string           `bson:"rk"` // the result's _id
	Statement string           `bson:"i"`
	Stored    time.Time        `bson:"s"`
	Voided    bool             `bson:"vd"`
	Data      contributionData `bson:"d"`
}

type contributionData struct {
	Org          string    `bson:"org"`
	Objective    string    `bson:"obj"`
	Participant  string    `bson:"p"`
	Registration string    `bson:"reg"`
	Timestamp    time.Time `bson:"ts"`
	Verb         string    `bson:"verb"`
	Activity     string    `bson:"act"`
	Completion   *bool     `bson:"completion,omitempty"`
	Success      *bool     `bson:"success,omitempty"`
	Score        *scoreDoc `bson:"score,omitempty"`
	Duration     string    `bson:"duration,omitempty"`
	Actor        actorDoc  `bson:"actor"`
}

func contribID(org, objective, stmt string) string { return fkey(org, objective, stmt) }

func resultID(k forward.ResultKey) string {
	return fkey(k.Org, k.ObjectiveID, k.Participant, k.Registration)
}

func toContributionDoc(c forward.Contribution) contributionDoc {
	return contributionDoc{
		Key: contribID(c.Org, c.ObjectiveID, c.StatementID), V: resultDocVersion, Result: resultID(c.ResultKey),
		Statement: c.StatementID, Stored: fwdMs(c.Stored), Voided: c.Voided,
		Data: contributionData{
			Org: c.Org, Objective: c.ObjectiveID, Participant: c.Participant, Registration: c.Registration,
			Timestamp: fwdMs(c.Timestamp), Verb: c.Verb, Activity: c.Activity, Completion: c.Completion, Success: c.Success,
			Score: toScoreDoc(c.Score), Duration: c.Duration, Actor: actorDoc(c.Actor),
		},
	}
}

func (x contributionDoc) contribution() (forward.Contribution, error) {
	d := x.Data
	return forward.Contribution{
		ResultKey:   forward.ResultKey{Org: d.Org, ObjectiveID: d.Objective, Participant: d.Participant, Registration: d.Registration},
		StatementID: x.Statement, Stored: fwdTime(x.Stored), Timestamp: fwdTime(d.Timestamp), Verb: d.Verb, Activity: d.Activity,
		Completion: d.Completion, Success: d.Success, Score: d.Score.score(), Duration: d.Duration, Actor: forward.Actor(d.Actor),
		Voided: x.Voided,
	}, checkResultDocVersion(x.V)
}

type valuesDoc struct {
	Completion    *bool     `bson:"completion,omitempty"`
	Success       *bool     `bson:"success,omitempty"`
	Score         *scoreDoc `bson:"score,omitempty"`
	Duration      string    `bson:"duration,omitempty"`
	Attempts      int       `bson:"attempts"`
	FirstActivity time.Time `bson:"first,omitempty"`
	LastActivity  time.Time `bson:"last,omitempty"`
	CompletedAt   time.Time `bson:"completed,omitempty"`
}

func toValuesDoc(v forward.Values) valuesDoc {
	return valuesDoc{Completion: v.Completion, Success: v.Success, Score: toScoreDoc(v.Score), Duration: v.Duration, Attempts: v.Attempts,
		FirstActivity: fwdMs(v.FirstActivity), LastActivity: fwdMs(v.LastActivity), CompletedAt: fwdMs(v.CompletedAt)}
}

func (v valuesDoc) values() forward.Values {
	return forward.Values{Completion: v.Completion, Success: v.Success, Score: v.Score.score(), Duration: v.Duration, Attempts: v.Attempts,
		FirstActivity: fwdTime(v.FirstActivity), LastActivity: fwdTime(v.LastActivity), CompletedAt: fwdTime(v.CompletedAt)}
}

type sourcesDoc struct {
	Completion    string `bson:"completion,omitempty"`
	Success       string `bson:"success,omitempty"`
	Score         string `bson:"score,omitempty"`
	Duration      string `bson:"duration,omitempty"`
	FirstActivity string `bson:"first,omitempty"`
	LastActivity  string `bson:"last,omitempty"`
	CompletedAt   string `bson:"completed,omitempty"`
}

type overrideEntryDoc struct {
	Field  string    `bson:"field"`
	By     string    `bson:"by"`
	At     time.Time `bson:"at"`
	Reason string    `bson:"reason"`
}

type overrideEventDoc struct {
	At       time.Time `bson:"at"`
	By       string    `bson:"by"`
	Reason   string    `bson:"reason"`
	Set      []string  `bson:"set,omitempty"`
	Values   valuesDoc `bson:"values"`
	Cleared  []string  `bson:"cleared,omitempty"`
	Revision int64     `bson:"rev"`
}

// resultDoc is a result; o, ob, p, r, c, s and u are what the indexes and
// queries use (c, s: 1 when the effective result is completed, passed).
type resultDoc struct {
	Key          string     `bson:"_id"`
	V            int        `bson:"v"`
	Org          string     `bson:"o"`
	Objective    string     `bson:"ob"`
	Participant  string     `bson:"p"`
	Registration string     `bson:"r"`
	Completed    int        `bson:"c"`
	Passed       int        `bson:"s"`
	UpdatedAt    time.Time  `bson:"u"`
	Gen          int64      `bson:"g"`
	Writer       string     `bson:"w"` // a token of the write that stored this generation
	Data         resultData `bson:"d"`
}

type resultData struct {
	Actor      actorDoc           `bson:"actor"`
	Computed   valuesDoc          `bson:"computed"`
	Sources    sourcesDoc         `bson:"sources"`
	Statements int                `bson:"n"`
	Overrides  valuesDoc          `bson:"override"`
	Overridden []overrideEntryDoc `bson:"overridden,omitempty"`
	History    []overrideEventDoc `bson:"history,omitempty"`
	Revision   int64              `bson:"rev"`
	RulesAt    time.Time          `bson:"rules,omitempty"`
	CreatedAt  time.Time          `bson:"created"`
}

func intFlag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func names(fs []forward.ResultField) []string {
	if fs == nil {
		return nil
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func fields(ss []string) []forward.ResultField {
	if ss == nil {
		return nil
	}
	out := make([]forward.ResultField, len(ss))
	for i, s := range ss {
		out[i] = forward.ResultField(s)
	}
	return out
}

func toResultDoc(r forward.ObjectiveResult, gen int64, writer string) resultDoc {
	x := resultDoc{
		Key: resultID(r.ResultKey), V: resultDocVersion, Org: r.Org, Objective: r.ObjectiveID, Participant: r.Participant,
		Registration: r.Registration, Completed: intFlag(r.Completed()), Passed: intFlag(r.Passed()), UpdatedAt: fwdMs(r.UpdatedAt), Gen: gen, Writer: writer,
		Data: resultData{
			Actor: actorDoc(r.Actor), Computed: toValuesDoc(r.Computed), Sources: sourcesDoc(r.Sources), Statements: r.Statements,
			Overrides: toValuesDoc(r.Override.Values), Revision: r.Revision, RulesAt: fwdMs(r.RulesAt), CreatedAt: fwdMs(r.CreatedAt),
		},
	}
	for _, f := range forward.ResultFields { // a fixed order: the stored form does not depend on map order
		if e, ok := r.Override.Set[f]; ok {
			x.Data.Overridden = append(x.Data.Overridden, overrideEntryDoc{Field: string(f), By: e.By, At: fwdMs(e.At), Reason: e.Reason})
		}
	}
	for _, e := range r.History {
		x.Data.History = append(x.Data.History, overrideEventDoc{At: fwdMs(e.At), By: e.By, Reason: e.Reason, Set: names(e.Set),
			Values: toValuesDoc(e.Values), Cleared: names(e.Cleared), Revision: e.Revision})
	}
	return x
}

func (x resultDoc) result() (forward.ObjectiveResult, error) {
	d := x.Data
	r := forward.ObjectiveResult{
		ResultKey: forward.ResultKey{Org: x.Org, ObjectiveID: x.Objective, Participant: x.Participant, Registration: x.Registration},
		Actor:     forward.Actor(d.Actor), Computed: d.Computed.values(), Sources: forward.Sources(d.Sources), Statements: d.Statements,
		Override: forward.Override{Values: d.Overrides.values()}, Revision: d.Revision, Gen: x.Gen,
		RulesAt: fwdTime(d.RulesAt), CreatedAt: fwdTime(d.CreatedAt), UpdatedAt: fwdTime(x.UpdatedAt),
	}
	if len(d.Overridden) > 0 {
		r.Override.Set = make(map[forward.ResultField]forward.OverrideEntry, len(d.Overridden))
		for _, e := range d.Overridden {
			r.Override.Set[forward.ResultField(e.Field)] = forward.OverrideEntry{By: e.By, At: fwdTime(e.At), Reason: e.Reason}
		}
	}
	for _, e := range d.History {
		r.History = append(r.History, forward.OverrideEvent{At: fwdTime(e.At), By: e.By, Reason: e.Reason, Set: fields(e.Set),
			Values: e.Values.values(), Cleared: fields(e.Cleared), Revision: e.Revision})
	}
	return r, checkResultDocVersion(x.V)
}
