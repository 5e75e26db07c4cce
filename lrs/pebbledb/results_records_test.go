package pebbledb

import (
	json "github.com/goccy/go-json"

	"github.com/lrs-project/lrs/forward"
)

// The JSON encoders of the records of version 1, as the binaries before
// the binary form wrote them: the tests write a store of JSON records
// with them.

func encodeContributionJSON(c forward.Contribution) ([]byte, error) {
	return json.Marshal(contributionRecord{
		V: resultRecordVersion, Org: c.Org, Objective: c.ObjectiveID, Participant: c.Participant, Registration: c.Registration,
		Statement: c.StatementID, Stored: toMs(c.Stored), Timestamp: toMs(c.Timestamp), Verb: c.Verb, Activity: c.Activity,
		Completion: c.Completion, Success: c.Success, Score: toScoreRecord(c.Score), Duration: c.Duration,
		Actor: toActorRecord(c.Actor), Voided: c.Voided,
	})
}

func encodeResultJSON(r forward.ObjectiveResult) ([]byte, error) {
	rec := resultRecord{
		V: resultRecordVersion, Org: r.Org, Objective: r.ObjectiveID, Participant: r.Participant, Registration: r.Registration,
		Actor: toActorRecord(r.Actor), Computed: toValuesRecord(r.Computed), Sources: sourcesRecord(r.Sources),
		Statements: r.Statements, Overrides: toValuesRecord(r.Override.Values), Revision: r.Revision, Gen: r.Gen,
		RulesAt: toMs(r.RulesAt), CreatedAt: toMs(r.CreatedAt), UpdatedAt: toMs(r.UpdatedAt),
	}
	if len(r.Override.Set) > 0 {
		rec.Overridden = make(map[string]overrideEntryRecord, len(r.Override.Set))
		for f, e := range r.Override.Set {
			rec.Overridden[string(f)] = overrideEntryRecord{By: e.By, At: toMs(e.At), Reason: e.Reason}
		}
	}
	for _, e := range r.History {
		rec.History = append(rec.History, overrideEventRecord{At: toMs(e.At), By: e.By, Reason: e.Reason, Set: fieldNames(e.Set),
			Values: toValuesRecord(e.Values), Cleared: fieldNames(e.Cleared), Revision: e.Revision})
	}
	return json.Marshal(rec)
}
