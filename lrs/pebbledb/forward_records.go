package pebbledb

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The stored form of the forwarding records: JSON documents of this
// package's own shape, not the domain structs, so that renaming a field of
// package forward never changes what is on disk. "v" is the version of the
// shape. Version 1 is the shape below; the records written before the
// version was stored carry none and have the same shape, so they read as
// version 1 (testdata/forward-v0.json). A record of a later version, written
// by a newer binary, does not read (errRecordVersion) rather than losing
// what this binary does not know.
const fwdRecordVersion = 1

var errRecordVersion = errors.New("forwarding record of an unknown version (written by a newer lrs?)")

func checkVersion(v int) error {
	if v > fwdRecordVersion || v < 0 {
		return fmt.Errorf("%w: version %d", errRecordVersion, v)
	}
	return nil
}

type configRecord struct {
	V            int               `json:"v"`
	ID           string            `json:"id"`
	Org          string            `json:"org"`
	Name         string            `json:"name"`
	ContactEmail string            `json:"contact_email"`
	Type         string            `json:"type"`
	Identifier   string            `json:"identifier"`
	Properties   map[string]string `json:"properties"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Revision     int64             `json:"revision"`
	SealedSecret []byte            `json:"sealed_secret,omitempty"`
}

func encodeConfig(c forward.Configuration) ([]byte, error) {
	return json.Marshal(configRecord{
		V: fwdRecordVersion, ID: c.ID, Org: c.Org, Name: c.Name, ContactEmail: c.ContactEmail, Type: c.Type,
		Identifier: c.Identifier, Properties: c.Properties, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Revision: c.Revision, SealedSecret: c.SealedSecret,
	})
}

func decodeConfig(b []byte) (forward.Configuration, error) {
	var r configRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return forward.Configuration{}, err
	}
	return forward.Configuration{
		ID: r.ID, Org: r.Org, Name: r.Name, ContactEmail: r.ContactEmail, Type: r.Type, Identifier: r.Identifier,
		Properties: r.Properties, SealedSecret: r.SealedSecret, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Revision: r.Revision,
	}, checkVersion(r.V)
}

type objectiveRecord struct {
	V              int      `json:"v"`
	ID             string   `json:"id"`
	Org            string   `json:"org"`
	Name           string   `json:"name"`
	ActivityID     string   `json:"activity_id"`
	Verbs          []string `json:"verbs"`
	Configurations []string `json:"configurations"`
	// Added with the results read model; absent (false) in older records.
	LatestAttemptCounts bool      `json:"latest_attempt_counts,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	// Added with backfill on attach; absent in older records.
	Attached []attachedRecord `json:"attached,omitempty"`
}

// attachedRecord is when a configuration was attached to an objective.
type attachedRecord struct {
	Configuration string    `json:"c"`
	At            time.Time `json:"at"`
}

func encodeAttached(m map[string]time.Time) []attachedRecord {
	var out []attachedRecord
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, attachedRecord{Configuration: k, At: normMs(m[k])})
	}
	return out
}

func decodeAttached(rs []attachedRecord) map[string]time.Time {
	if len(rs) == 0 {
		return nil
	}
	m := make(map[string]time.Time, len(rs))
	for _, r := range rs {
		m[r.Configuration] = normMs(r.At)
	}
	return m
}

func encodeObjective(o forward.Objective) ([]byte, error) {
	return json.Marshal(objectiveRecord{
		V: fwdRecordVersion, ID: o.ID, Org: o.Org, Name: o.Name, ActivityID: o.ActivityID, Verbs: o.Verbs,
		Configurations: o.Configurations, LatestAttemptCounts: o.LatestAttemptCounts, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		Attached: encodeAttached(o.Attached),
	})
}

func decodeObjective(b []byte) (forward.Objective, error) {
	var r objectiveRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return forward.Objective{}, err
	}
	return forward.Objective{
		ID: r.ID, Org: r.Org, Name: r.Name, ActivityID: r.ActivityID, Verbs: r.Verbs,
		Configurations: r.Configurations, LatestAttemptCounts: r.LatestAttemptCounts, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Attached: decodeAttached(r.Attached),
	}, checkVersion(r.V)
}

// deliveryRecord is a delivery, its lease included, as version 1 wrote
// it (JSON); version 2 is binary (encodeDelivery).
type deliveryRecord struct {
	V               int       `json:"v"`
	Org             string    `json:"org"`
	ConfigurationID string    `json:"configuration_id"`
	StatementID     string    `json:"statement_id"`
	ObjectiveID     string    `json:"objective_id"`
	Participant     string    `json:"participant"`
	State           string    `json:"state"`
	Attempts        int       `json:"attempts"`
	NextAttempt     time.Time `json:"next_attempt"`
	FirstFailure    time.Time `json:"first_failure,omitzero"`
	LastAttempt     time.Time `json:"last_attempt,omitzero"`
	LastStatus      int       `json:"last_status,omitempty"`
	LastError       string    `json:"last_error,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	LeaseOwner      string    `json:"lease_owner,omitempty"`
	LeaseUntil      time.Time `json:"lease_until,omitzero"`
}

// Deliveries are the records written and read most (three writes and two
// reads each on its way), so from version 2 on they are binary: the byte 2,
// then the strings (uvarint length, bytes) Org, ConfigurationID,
// StatementID, ObjectiveID, Participant, State, LastError, Reason,
// LeaseOwner, the varints Attempts and LastStatus, and the times (varint
// Unix milliseconds, math.MinInt64 for the zero time) NextAttempt,
// FirstFailure, LastAttempt, CreatedAt, UpdatedAt, LeaseUntil. Version 1
// records (JSON, deliveryRecord) still read.
const deliveryVersion = 2

func encodeDelivery(d *forward.Delivery) ([]byte, error) {
	n := 1 + 9*binary.MaxVarintLen32 + 8*binary.MaxVarintLen64 + len(d.Org) + len(d.ConfigurationID) + len(d.StatementID) +
		len(d.ObjectiveID) + len(d.Participant) + len(d.State) + len(d.LastError) + len(d.Reason) + len(d.LeaseOwner)
	b := make([]byte, 1, n)
	b[0] = deliveryVersion
	for _, s := range []string{d.Org, d.ConfigurationID, d.StatementID, d.ObjectiveID, d.Participant, d.State, d.LastError, d.Reason, d.LeaseOwner} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, int64(d.Attempts))
	b = binary.AppendVarint(b, int64(d.LastStatus))
	for _, t := range []time.Time{d.NextAttempt, d.FirstFailure, d.LastAttempt, d.CreatedAt, d.UpdatedAt, d.LeaseUntil} {
		ms := int64(math.MinInt64)
		if !t.IsZero() {
			ms = t.UnixMilli()
		}
		b = binary.AppendVarint(b, ms)
	}
	return b, nil
}

var errShortRecord = errors.New("delivery record cut short")

func decodeDelivery(b []byte) (forward.Delivery, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeDeliveryJSON(b)
	}
	if len(b) == 0 || b[0] != deliveryVersion {
		v := -1
		if len(b) > 0 {
			v = int(b[0])
		}
		return forward.Delivery{}, fmt.Errorf("%w: delivery version %d", errRecordVersion, v)
	}
	b = b[1:]
	str := func() string {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			b = nil
			return ""
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s
	}
	num := func() int64 {
		v, k := binary.Varint(b)
		if k <= 0 {
			b = nil
			return 0
		}
		b = b[k:]
		return v
	}
	var d forward.Delivery
	for _, p := range []*string{&d.Org, &d.ConfigurationID, &d.StatementID, &d.ObjectiveID, &d.Participant, &d.State, &d.LastError, &d.Reason, &d.LeaseOwner} {
		*p = str()
	}
	d.Attempts, d.LastStatus = int(num()), int(num())
	for _, p := range []*time.Time{&d.NextAttempt, &d.FirstFailure, &d.LastAttempt, &d.CreatedAt, &d.UpdatedAt, &d.LeaseUntil} {
		if ms := num(); ms != math.MinInt64 {
			*p = time.UnixMilli(ms).UTC()
		}
	}
	if b == nil {
		return forward.Delivery{}, errShortRecord
	}
	return d, nil
}

func decodeDeliveryJSON(b []byte) (forward.Delivery, error) {
	var r deliveryRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return forward.Delivery{}, err
	}
	return forward.Delivery{
		Org: r.Org, ConfigurationID: r.ConfigurationID, StatementID: r.StatementID, ObjectiveID: r.ObjectiveID,
		Participant: r.Participant, State: r.State, Attempts: r.Attempts, NextAttempt: r.NextAttempt,
		FirstFailure: r.FirstFailure, LastAttempt: r.LastAttempt, LastStatus: r.LastStatus, LastError: r.LastError,
		Reason: r.Reason, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, LeaseOwner: r.LeaseOwner, LeaseUntil: r.LeaseUntil,
	}, checkVersion(r.V)
}

type statusRecord struct {
	V               int       `json:"v"`
	Org             string    `json:"org"`
	ConfigurationID string    `json:"configuration_id"`
	Status          string    `json:"status"`
	LastError       string    `json:"last_error,omitempty"`
	LastStatus      int       `json:"last_status,omitempty"`
	FirstFailure    time.Time `json:"first_failure,omitzero"`
	LastSuccess     time.Time `json:"last_success,omitzero"`
	LastAlert       time.Time `json:"last_alert,omitzero"`
	AlertedStatus   string    `json:"alerted_status,omitempty"`
	Since           time.Time `json:"since,omitzero"` // absent in records written before it was kept
	UpdatedAt       time.Time `json:"updated_at"`
	StoppedRevision int64     `json:"stopped_revision,omitempty"`
	StoppedAt       time.Time `json:"stopped_at,omitzero"`
	StopReason      string    `json:"stop_reason,omitempty"`
}

func encodeStatus(s forward.ConfigStatus) ([]byte, error) {
	return json.Marshal(statusRecord{
		V: fwdRecordVersion, Org: s.Org, ConfigurationID: s.ConfigurationID, Status: s.Status, LastError: s.LastError,
		LastStatus: s.LastStatus, FirstFailure: s.FirstFailure, LastSuccess: s.LastSuccess, LastAlert: s.LastAlert,
		AlertedStatus: s.AlertedStatus, Since: s.Since, UpdatedAt: s.UpdatedAt,
		StoppedRevision: s.StoppedRevision, StoppedAt: s.StoppedAt, StopReason: s.StopReason,
	})
}

func decodeStatus(b []byte) (forward.ConfigStatus, error) {
	var r statusRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return forward.ConfigStatus{}, err
	}
	return forward.ConfigStatus{
		Org: r.Org, ConfigurationID: r.ConfigurationID, Status: r.Status, LastError: r.LastError, LastStatus: r.LastStatus,
		FirstFailure: r.FirstFailure, LastSuccess: r.LastSuccess, LastAlert: r.LastAlert, AlertedStatus: r.AlertedStatus,
		Since: r.Since, UpdatedAt: r.UpdatedAt,
		StoppedRevision: r.StoppedRevision, StoppedAt: r.StoppedAt, StopReason: r.StopReason,
	}, checkVersion(r.V)
}

type attemptRecord struct {
	V               int       `json:"v"`
	Org             string    `json:"org"`
	ConfigurationID string    `json:"configuration_id"`
	StatementIDs    []string  `json:"statement_ids"`
	At              time.Time `json:"at"`
	DurationNs      int64     `json:"duration_ns"`
	Outcome         string    `json:"outcome"`
	Status          int       `json:"status,omitempty"`
	Response        string    `json:"response,omitempty"`
}

func encodeAttempt(a forward.Attempt) ([]byte, error) {
	return json.Marshal(attemptRecord{
		V: fwdRecordVersion, Org: a.Org, ConfigurationID: a.ConfigurationID, StatementIDs: a.StatementIDs, At: a.At,
		DurationNs: int64(a.Duration), Outcome: a.Outcome, Status: a.Status, Response: a.Response,
	})
}

func decodeAttempt(b []byte) (forward.Attempt, error) {
	var r attemptRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return forward.Attempt{}, err
	}
	return forward.Attempt{
		Org: r.Org, ConfigurationID: r.ConfigurationID, StatementIDs: r.StatementIDs, At: r.At,
		Duration: time.Duration(r.DurationNs), Outcome: r.Outcome, Status: r.Status, Response: r.Response,
	}, checkVersion(r.V)
}

// periodRecord is the claim of one period of a periodic task.
type periodRecord struct {
	V        int       `json:"v"`
	Owner    string    `json:"owner"`
	Until    time.Time `json:"until"`
	Finished time.Time `json:"finished,omitzero"`
}

func encodePeriod(r periodRecord) ([]byte, error) {
	r.V = fwdRecordVersion
	return json.Marshal(r)
}

func decodePeriod(b []byte) (periodRecord, error) {
	var r periodRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	return r, checkVersion(r.V)
}

// rejectionRecord is an item awaiting the digest (the key holds the rest).
type rejectionRecord struct {
	V      int       `json:"v"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func encodeRejection(r forward.RejectedItem) ([]byte, error) {
	return json.Marshal(rejectionRecord{V: fwdRecordVersion, Reason: r.Reason, At: r.At})
}

func decodeRejection(b []byte) (rejectionRecord, error) {
	var r rejectionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	return r, checkVersion(r.V)
}
