package mongo

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The stored form of the forwarding records: documents of this package's
// own shape, not the domain structs, so that renaming a field of package
// forward never changes what is stored. "v" is the version of the shape.
// Version 1 is the shape below, whose field names are those the driver
// derived from the domain structs before the shape had a version; the
// documents written then carry no "v" and read as version 1
// (testdata/forward-v0.json). A document of a later version, written by a
// newer binary, does not read (errDocVersion) rather than losing what this
// binary does not know. The lease and watermark documents (forward.go)
// have had their own shape from the start.
const fwdDocVersion = 1

var errDocVersion = errors.New("forwarding document of an unknown version (written by a newer lrs?)")

func checkDocVersion(v int) error {
	if v > fwdDocVersion || v < 0 {
		return fmt.Errorf("%w: version %d", errDocVersion, v)
	}
	return nil
}

// fwdTime is a stored time as the domain keeps it: UTC, zero when unset
// (the driver decodes the zero time as 0001-01-01 in the local zone).
func fwdTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// fwdMs is a time as stored: UTC milliseconds (the zero time stays zero).
func fwdMs(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

type configDoc struct {
	Key    string     `bson:"_id"`
	V      int        `bson:"v"`
	Org    string     `bson:"o"`
	ID     string     `bson:"i"`
	Config configData `bson:"d"`
	Secret []byte     `bson:"x,omitempty"`
}

type configData struct {
	ID           string            `bson:"id"`
	Org          string            `bson:"org"`
	Name         string            `bson:"name"`
	ContactEmail string            `bson:"contactemail"`
	Type         string            `bson:"type"`
	Identifier   string            `bson:"identifier"`
	Properties   map[string]string `bson:"properties"`
	CreatedAt    time.Time         `bson:"createdat"`
	UpdatedAt    time.Time         `bson:"updatedat"`
	Revision     int64             `bson:"revision"`
}

func toConfigDoc(c forward.Configuration) configDoc {
	return configDoc{Key: fkey(c.Org, c.ID), V: fwdDocVersion, Org: c.Org, ID: c.ID, Secret: c.SealedSecret, Config: configData{
		ID: c.ID, Org: c.Org, Name: c.Name, ContactEmail: c.ContactEmail, Type: c.Type, Identifier: c.Identifier,
		Properties: c.Properties, CreatedAt: fwdMs(c.CreatedAt), UpdatedAt: fwdMs(c.UpdatedAt), Revision: c.Revision,
	}}
}

func (x configDoc) config() (forward.Configuration, error) {
	c := x.Config
	return forward.Configuration{
		ID: c.ID, Org: c.Org, Name: c.Name, ContactEmail: c.ContactEmail, Type: c.Type, Identifier: c.Identifier,
		Properties: c.Properties, SealedSecret: x.Secret, CreatedAt: fwdTime(c.CreatedAt), UpdatedAt: fwdTime(c.UpdatedAt), Revision: c.Revision,
	}, checkDocVersion(x.V)
}

type objectiveDoc struct {
	Key       string        `bson:"_id"`
	V         int           `bson:"v"`
	Org       string        `bson:"o"`
	Activity  string        `bson:"a"`
	Objective objectiveData `bson:"d"`
}

type objectiveData struct {
	ID             string   `bson:"id"`
	Org            string   `bson:"org"`
	Name           string   `bson:"name"`
	ActivityID     string   `bson:"activityid"`
	Verbs          []string `bson:"verbs"`
	Configurations []string `bson:"configurations"`
	// Added with the results read model; absent (false) in older documents.
	LatestAttemptCounts bool      `bson:"latestattemptcounts,omitempty"`
	CreatedAt           time.Time `bson:"createdat"`
	UpdatedAt           time.Time `bson:"updatedat"`
	// Added with backfill on attach; absent in older documents.
	Attached []attachedData `bson:"attached,omitempty"`
}

// attachedData is when a configuration was attached to an objective.
type attachedData struct {
	Configuration string    `bson:"c"`
	At            time.Time `bson:"at"`
}

func toAttached(m map[string]time.Time) []attachedData {
	var out []attachedData
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, attachedData{Configuration: k, At: fwdMs(m[k])})
	}
	return out
}

func fromAttached(ds []attachedData) map[string]time.Time {
	if len(ds) == 0 {
		return nil
	}
	m := make(map[string]time.Time, len(ds))
	for _, d := range ds {
		m[d.Configuration] = fwdTime(d.At)
	}
	return m
}

func toObjectiveDoc(o forward.Objective) objectiveDoc {
	return objectiveDoc{Key: fkey(o.Org, o.ID), V: fwdDocVersion, Org: o.Org, Activity: o.ActivityID, Objective: objectiveData{
		ID: o.ID, Org: o.Org, Name: o.Name, ActivityID: o.ActivityID, Verbs: o.Verbs, Configurations: o.Configurations,
		LatestAttemptCounts: o.LatestAttemptCounts, CreatedAt: fwdMs(o.CreatedAt), UpdatedAt: fwdMs(o.UpdatedAt),
		Attached: toAttached(o.Attached),
	}}
}

func (x objectiveDoc) objective() (forward.Objective, error) {
	o := x.Objective
	return forward.Objective{
		ID: o.ID, Org: o.Org, Name: o.Name, ActivityID: o.ActivityID, Verbs: o.Verbs, Configurations: o.Configurations,
		LatestAttemptCounts: o.LatestAttemptCounts, CreatedAt: fwdTime(o.CreatedAt), UpdatedAt: fwdTime(o.UpdatedAt),
		Attached: fromAttached(o.Attached),
	}, checkDocVersion(x.V)
}

// deliveryDoc is a delivery with its lease; its short field names are
// those of the indexes (forwardIndexes).
type deliveryDoc struct {
	Key          string    `bson:"_id"`
	V            int       `bson:"v"`
	Org          string    `bson:"o"`
	Config       string    `bson:"c"`
	Statement    string    `bson:"st"`
	Objective    string    `bson:"ob"`
	Participant  string    `bson:"p"`
	State        string    `bson:"s"`
	Attempts     int       `bson:"n"`
	NextAttempt  time.Time `bson:"na"`
	FirstFailure time.Time `bson:"ff"`
	LastAttempt  time.Time `bson:"la"`
	LastStatus   int       `bson:"ls"`
	LastError    string    `bson:"le"`
	Reason       string    `bson:"r"`
	CreatedAt    time.Time `bson:"ca"`
	UpdatedAt    time.Time `bson:"ua"`
	LeaseOwner   string    `bson:"lo"`
	LeaseUntil   time.Time `bson:"lu"` // the zero time when free
	Gen          int64     `bson:"g"`  // lease generation (see forward_leases)
}

func toDeliveryDoc(dl forward.Delivery) deliveryDoc {
	return deliveryDoc{
		Key: fkey(dl.Org, dl.ConfigurationID, dl.StatementID), V: fwdDocVersion, Org: dl.Org, Config: dl.ConfigurationID, Statement: dl.StatementID,
		Objective: dl.ObjectiveID, Participant: dl.Participant, State: dl.State, Attempts: dl.Attempts,
		NextAttempt: fwdMs(dl.NextAttempt), FirstFailure: fwdMs(dl.FirstFailure), LastAttempt: fwdMs(dl.LastAttempt),
		LastStatus: dl.LastStatus, LastError: dl.LastError, Reason: dl.Reason,
		CreatedAt: fwdMs(dl.CreatedAt), UpdatedAt: fwdMs(dl.UpdatedAt),
		LeaseOwner: dl.LeaseOwner, LeaseUntil: fwdMs(dl.LeaseUntil),
	}
}

func (x deliveryDoc) delivery() (forward.Delivery, error) {
	return forward.Delivery{
		Org: x.Org, ConfigurationID: x.Config, StatementID: x.Statement, ObjectiveID: x.Objective,
		Participant: x.Participant, State: x.State, Attempts: x.Attempts,
		NextAttempt: fwdTime(x.NextAttempt), FirstFailure: fwdTime(x.FirstFailure), LastAttempt: fwdTime(x.LastAttempt),
		LastStatus: x.LastStatus, LastError: x.LastError, Reason: x.Reason,
		CreatedAt: fwdTime(x.CreatedAt), UpdatedAt: fwdTime(x.UpdatedAt),
		LeaseOwner: x.LeaseOwner, LeaseUntil: fwdTime(x.LeaseUntil),
	}, checkDocVersion(x.V)
}

type statusDoc struct {
	Key    string     `bson:"_id"`
	V      int        `bson:"v"`
	Status statusData `bson:"d"`
}

type statusData struct {
	Org             string    `bson:"org"`
	ConfigurationID string    `bson:"configurationid"`
	Status          string    `bson:"status"`
	LastError       string    `bson:"lasterror"`
	LastStatus      int       `bson:"laststatus"`
	FirstFailure    time.Time `bson:"firstfailure"`
	LastSuccess     time.Time `bson:"lastsuccess"`
	LastAlert       time.Time `bson:"lastalert"`
	AlertedStatus   string    `bson:"alertedstatus"`
	Since           time.Time `bson:"since,omitempty"` // absent in documents written before it was kept
	UpdatedAt       time.Time `bson:"updatedat"`
	StoppedRevision int64     `bson:"stoppedrevision,omitempty"`
	StoppedAt       time.Time `bson:"stoppedat,omitempty"`
	StopReason      string    `bson:"stopreason,omitempty"`
}

func toStatusDoc(s forward.ConfigStatus) statusDoc {
	return statusDoc{Key: fkey(s.Org, s.ConfigurationID), V: fwdDocVersion, Status: statusData{
		Org: s.Org, ConfigurationID: s.ConfigurationID, Status: s.Status, LastError: s.LastError, LastStatus: s.LastStatus,
		FirstFailure: fwdMs(s.FirstFailure), LastSuccess: fwdMs(s.LastSuccess), LastAlert: fwdMs(s.LastAlert),
		AlertedStatus: s.AlertedStatus, Since: fwdMs(s.Since), UpdatedAt: fwdMs(s.UpdatedAt),
		StoppedRevision: s.StoppedRevision, StoppedAt: fwdMs(s.StoppedAt), StopReason: s.StopReason,
	}}
}

func (x statusDoc) status() (forward.ConfigStatus, error) {
	s := x.Status
	return forward.ConfigStatus{
		Org: s.Org, ConfigurationID: s.ConfigurationID, Status: s.Status, LastError: s.LastError, LastStatus: s.LastStatus,
		FirstFailure: fwdTime(s.FirstFailure), LastSuccess: fwdTime(s.LastSuccess), LastAlert: fwdTime(s.LastAlert),
		AlertedStatus: s.AlertedStatus, Since: fwdTime(s.Since), UpdatedAt: fwdTime(s.UpdatedAt),
		StoppedRevision: s.StoppedRevision, StoppedAt: fwdTime(s.StoppedAt), StopReason: s.StopReason,
	}, checkDocVersion(x.V)
}

type attemptDoc struct {
	Key     string      `bson:"_id"`
	V       int         `bson:"v"`
	Attempt attemptData `bson:"d"`
}

type attemptData struct {
	Org             string    `bson:"org"`
	ConfigurationID string    `bson:"configurationid"`
	StatementIDs    []string  `bson:"statementids"`
	At              time.Time `bson:"at"`
	DurationNs      int64     `bson:"duration"`
	Outcome         string    `bson:"outcome"`
	Status          int       `bson:"status"`
	Response        string    `bson:"response"`
}

func toAttemptDoc(key string, a forward.Attempt) attemptDoc {
	return attemptDoc{Key: key, V: fwdDocVersion, Attempt: attemptData{
		Org: a.Org, ConfigurationID: a.ConfigurationID, StatementIDs: a.StatementIDs, At: fwdMs(a.At),
		DurationNs: int64(a.Duration), Outcome: a.Outcome, Status: a.Status, Response: a.Response,
	}}
}

func (x attemptDoc) attempt() (forward.Attempt, error) {
	a := x.Attempt
	return forward.Attempt{
		Org: a.Org, ConfigurationID: a.ConfigurationID, StatementIDs: a.StatementIDs, At: fwdTime(a.At),
		Duration: time.Duration(a.DurationNs), Outcome: a.Outcome, Status: a.Status, Response: a.Response,
	}, checkDocVersion(x.V)
}

// periodDoc is one generation of the claim of a period of a periodic task
// (PeriodStore): _id "<name>\x00<period>\x00<generation>", each written by
// an insert that only one caller wins, and then only by its owner.
type periodDoc struct {
	Key      string    `bson:"_id"`
	V        int       `bson:"v"`
	Name     string    `bson:"n"`
	Period   int64     `bson:"p"`
	Gen      int       `bson:"g"`
	Owner    string    `bson:"owner"`
	Until    time.Time `bson:"until"`
	Finished time.Time `bson:"fin,omitempty"`
}

// rejectionDoc is an item awaiting the digest (DigestQueue).
type rejectionDoc struct {
	Key       string    `bson:"_id"`
	V         int       `bson:"v"`
	Org       string    `bson:"o"`
	Config    string    `bson:"c"`
	Statement string    `bson:"st"`
	Reason    string    `bson:"r"`
	At        time.Time `bson:"at"`
}

func (x rejectionDoc) pending() (forward.PendingRejection, error) {
	return forward.PendingRejection{Org: x.Org, ConfigurationID: x.Config,
		RejectedItem: forward.RejectedItem{StatementID: x.Statement, Reason: x.Reason, At: fwdTime(x.At)}}, checkDocVersion(x.V)
}
