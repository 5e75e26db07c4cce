package pebbledb

import (
	"fmt"
	"time"

	json "github.com/goccy/go-json"

	"github.com/lrs-project/lrs/forward"
)

// The first stored form of the results read model (version 1): JSON
// records of this package's own shape ("v": the version of the shape), so
// that renaming a field of package forward never changes what is on
// disk. Records are written in the binary form of results_binary.go since
// version 2; the JSON ones of a store written before still read (and are
// written again in the binary form when they change). Times are UTC at
// millisecond precision; a zero time is omitted. They are decoded by
// goccy/go-json, the same JSON as encoding/json's.

const resultRecordVersion = 1

func checkResultVersion(v int) error {
	if v > resultRecordVersion || v < 1 {
		return fmt.Errorf("%w: results record version %d", errRecordVersion, v)
	}
	return nil
}

// msTime is a stored time: milliseconds since the epoch, 0 for the zero
// time (the zero time.Time, not 1970).
type msTime int64

func toMs(t time.Time) msTime {
	if t.IsZero() {
		return 0
	}
	return msTime(floorMs(t))
}

func (m msTime) time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return fwdMsTime(int64(m))
}

type scoreRecord struct {
	Scaled *float64 `json:"scaled,omitempty"`
	Raw    *float64 `json:"raw,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
}

func toScoreRecord(s *forward.Score) *scoreRecord {
	if s == nil {
		return nil
	}
	return &scoreRecord{Scaled: s.Scaled, Raw: s.Raw, Min: s.Min, Max: s.Max}
}

func (s *scoreRecord) score() *forward.Score {
	if s == nil {
		return nil
	}
	return &forward.Score{Scaled: s.Scaled, Raw: s.Raw, Min: s.Min, Max: s.Max}
}

type actorRecord struct {
	Name            string `json:"name,omitempty"`
	Mbox            string `json:"mbox,omitempty"`
	MboxSHA1Sum     string `json:"sha1,omitempty"`
	OpenID          string `json:"openid,omitempty"`
	AccountHomePage string `json:"home,omitempty"`
	AccountName     string `json:"account,omitempty"`
}

func toActorRecord(a forward.Actor) actorRecord {
	return actorRecord(a)
}

func (a actorRecord) actor() forward.Actor { return forward.Actor(a) }

type contributionRecord struct {
	V            int          `json:"v"`
	Org          string       `json:"org"`
	Objective    string       `json:"obj"`
	Participant  string       `json:"p"`
	Registration string       `json:"reg,omitempty"`
	Statement    string       `json:"st"`
	Stored       msTime       `json:"stored"`
	Timestamp    msTime       `json:"ts"`
	Verb         string       `json:"verb"`
	Activity     string       `json:"act"`
	Completion   *bool        `json:"completion,omitempty"`
	Success      *bool        `json:"success,omitempty"`
	Score        *scoreRecord `json:"score,omitempty"`
	Duration     string       `json:"duration,omitempty"`
	Actor        actorRecord  `json:"actor"`
	Voided       bool         `json:"voided,omitempty"`
}

func decodeContributionJSON(b []byte) (forward.Contribution, error) {
	var r contributionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return forward.Contribution{}, err
	}
	return forward.Contribution{
		ResultKey:   forward.ResultKey{Org: r.Org, ObjectiveID: r.Objective, Participant: r.Participant, Registration: r.Registration},
		StatementID: r.Statement, Stored: r.Stored.time(), Timestamp: r.Timestamp.time(), Verb: r.Verb, Activity: r.Activity,
		Completion: r.Completion, Success: r.Success, Score: r.Score.score(), Duration: r.Duration, Actor: r.Actor.actor(), Voided: r.Voided,
	}, checkResultVersion(r.V)
}

type valuesRecord struct {
	Completion    *bool        `json:"completion,omitempty"`
	Success       *bool        `json:"success,omitempty"`
	Score         *scoreRecord `json:"score,omitempty"`
	Duration      string       `json:"duration,omitempty"`
	Attempts      int          `json:"attempts,omitempty"`
	FirstActivity msTime       `json:"first,omitempty"`
	LastActivity  msTime       `json:"last,omitempty"`
	CompletedAt   msTime       `json:"completed,omitempty"`
}

func toValuesRecord(v forward.Values) valuesRecord {
	return valuesRecord{Completion: v.Completion, Success: v.Success, Score: toScoreRecord(v.Score), Duration: v.Duration,
		Attempts: v.Attempts, FirstActivity: toMs(v.FirstActivity), LastActivity: toMs(v.LastActivity), CompletedAt: toMs(v.CompletedAt)}
}

func (v valuesRecord) values() forward.Values {
	return forward.Values{Completion: v.Completion, Success: v.Success, Score: v.Score.score(), Duration: v.Duration,
		Attempts: v.Attempts, FirstActivity: v.FirstActivity.time(), LastActivity: v.LastActivity.time(), CompletedAt: v.CompletedAt.time()}
}

type sourcesRecord struct {
	Completion    string `json:"completion,omitempty"`
	Success       string `json:"success,omitempty"`
	Score         string `json:"score,omitempty"`
	Duration      string `json:"duration,omitempty"`
	FirstActivity string `json:"first,omitempty"`
	LastActivity  string `json:"last,omitempty"`
	CompletedAt   string `json:"completed,omitempty"`
}

type overrideEntryRecord struct {
	By     string `json:"by"`
	At     msTime `json:"at"`
	Reason string `json:"reason"`
}

type overrideEventRecord struct {
	At       msTime       `json:"at"`
	By       string       `json:"by"`
	Reason   string       `json:"reason"`
	Set      []string     `json:"set,omitempty"`
	Values   valuesRecord `json:"values"`
	Cleared  []string     `json:"cleared,omitempty"`
	Revision int64        `json:"rev"`
}

type resultRecord struct {
	V            int                            `json:"v"`
	Org          string                         `json:"org"`
	Objective    string                         `json:"obj"`
	Participant  string                         `json:"p"`
	Registration string                         `json:"reg,omitempty"`
	Actor        actorRecord                    `json:"actor"`
	Computed     valuesRecord                   `json:"computed"`
	Sources      sourcesRecord                  `json:"sources"`
	Statements   int                            `json:"n"`
	Overrides    valuesRecord                   `json:"override"`
	Overridden   map[string]overrideEntryRecord `json:"overridden,omitempty"`
	History      []overrideEventRecord          `json:"history,omitempty"`
	Revision     int64                          `json:"rev"`
	Gen          int64                          `json:"gen"`
	RulesAt      msTime                         `json:"rules,omitempty"`
	CreatedAt    msTime                         `json:"created"`
	UpdatedAt    msTime                         `json:"updated"`
}

func fieldNames(fs []forward.ResultField) []string {
	if fs == nil {
		return nil
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func resultFields(ss []string) []forward.ResultField {
	if ss == nil {
		return nil
	}
	out := make([]forward.ResultField, len(ss))
	for i, s := range ss {
		out[i] = forward.ResultField(s)
	}
	return out
}

func decodeResultJSON(b []byte) (forward.ObjectiveResult, error) {
	var rec resultRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return forward.ObjectiveResult{}, err
	}
	r := forward.ObjectiveResult{
		ResultKey: forward.ResultKey{Org: rec.Org, ObjectiveID: rec.Objective, Participant: rec.Participant, Registration: rec.Registration},
		Actor:     rec.Actor.actor(), Computed: rec.Computed.values(), Sources: forward.Sources(rec.Sources), Statements: rec.Statements,
		Override: forward.Override{Values: rec.Overrides.values()}, Revision: rec.Revision, Gen: rec.Gen,
		RulesAt: rec.RulesAt.time(), CreatedAt: rec.CreatedAt.time(), UpdatedAt: rec.UpdatedAt.time(),
	}
	if len(rec.Overridden) > 0 {
		r.Override.Set = make(map[forward.ResultField]forward.OverrideEntry, len(rec.Overridden))
		for f, e := range rec.Overridden {
			r.Override.Set[forward.ResultField(f)] = forward.OverrideEntry{By: e.By, At: e.At.time(), Reason: e.Reason}
		}
	}
	for _, e := range rec.History {
		r.History = append(r.History, forward.OverrideEvent{At: e.At.time(), By: e.By, Reason: e.Reason, Set: resultFields(e.Set),
			Values: e.Values.values(), Cleared: resultFields(e.Cleared), Revision: e.Revision})
	}
	return r, checkResultVersion(rec.V)
}
