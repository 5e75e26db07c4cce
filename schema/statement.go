package schema

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Statement is a parsed, validated statement.
type Statement struct {
	m map[string]any
	// size is about the length of the statement's JSON as received, so
	// that encoding it allocates its buffer once.
	size int
}

// StoredLayout is the layout of the stored property and of timestamps the
// LRS sets.
const StoredLayout = "2006-01-02T15:04:05.000Z07:00"

const (
	verbVoidedID          = "http://adlnet.gov/expapi/verbs/voided"
	signatureUsageType    = "http://adlnet.gov/expapi/attachments/signature"
	objectTypeStatementRf = "StatementRef"
)

// ID returns the statement id ("" when the client sent none).
func (s *Statement) ID() string {
	id, _ := s.m["id"].(string)
	return id
}

// SetID sets the statement id (lower case).
func (s *Statement) SetID(id string) { s.m["id"] = strings.ToLower(id) }

// SetStored sets stored, in UTC with millisecond precision.
func (s *Statement) SetStored(t time.Time) { s.m["stored"] = formatTime(t) }

// HasTimestamp reports whether the statement has a timestamp.
func (s *Statement) HasTimestamp() bool { _, ok := s.m["timestamp"]; return ok }

// SetTimestamp sets the timestamp, in UTC with millisecond precision.
func (s *Statement) SetTimestamp(t time.Time) { s.m["timestamp"] = formatTime(t) }

// HasVersion reports whether the statement carries a version property.
func (s *Statement) HasVersion() bool { _, ok := s.m["version"]; return ok }

// SetVersion sets the version property.
func (s *Statement) SetVersion(v string) { s.m["version"] = v }

// SetAuthority replaces the authority with the given Agent or Group JSON.
func (s *Statement) SetAuthority(raw []byte) error {
	a, err := ParseAuthority(raw)
	if err != nil {
		return err
	}
	s.SetParsedAuthority(a)
	return nil
}

// Authority is an authority (Agent or Group JSON) decoded once, for the
// statements of a batch.
type Authority struct{ tree map[string]any }

// ParseAuthority decodes an authority for SetParsedAuthority.
func ParseAuthority(raw []byte) (Authority, error) {
	v, err := decodeTree(raw)
	if err != nil {
		return Authority{}, fmt.Errorf("authority: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Authority{}, fmt.Errorf("authority: not a JSON object")
	}
	return Authority{m}, nil
}

// SetParsedAuthority replaces the authority with a. The statements it is
// set on share its tree, which nothing modifies (see Tree).
func (s *Statement) SetParsedAuthority(a Authority) { s.m["authority"] = a.tree }

// VerbID returns the verb's IRI.
func (s *Statement) VerbID() string {
	verb, _ := s.m["verb"].(map[string]any)
	id, _ := verb["id"].(string)
	return id
}

// RefTarget returns the id of the statement this one targets with a
// StatementRef object (voiding statements included).
func (s *Statement) RefTarget() (string, bool) {
	obj, _ := s.m["object"].(map[string]any)
	if obj == nil || obj["objectType"] != objectTypeStatementRf {
		return "", false
	}
	id, _ := obj["id"].(string)
	return strings.ToLower(id), id != ""
}

// VoidTarget returns the id of the statement this one voids, if it is a
// voiding statement.
func (s *Statement) VoidTarget() (string, bool) {
	if s.VerbID() != verbVoidedID {
		return "", false
	}
	return s.RefTarget()
}

// Attachment is the metadata of one attachment of a statement.
type Attachment struct {
	UsageType   string
	ContentType string
	Length      int64
	SHA2        string
	FileURL     string
}

// Attachments returns the statement's attachment metadata.
func (s *Statement) Attachments() []Attachment {
	list, _ := s.m["attachments"].([]any)
	out := make([]Attachment, 0, len(list))
	for _, a := range list {
		m, _ := a.(map[string]any)
		at := Attachment{}
		at.UsageType, _ = m["usageType"].(string)
		at.ContentType, _ = m["contentType"].(string)
		at.SHA2, _ = m["sha2"].(string)
		at.FileURL, _ = m["fileUrl"].(string)
		if n, ok := m["length"].(json.Number); ok {
			at.Length, _ = n.Int64()
		}
		out = append(out, at)
	}
	return out
}

// Clone returns a deep copy of the statement.
func (s *Statement) Clone() *Statement {
	return &Statement{m: deepCopy(s.m).(map[string]any), size: s.size}
}

// MarshalJSON returns the statement's JSON (object keys sorted, no HTML
// escaping).
func (s *Statement) MarshalJSON() ([]byte, error) {
	// What the LRS adds (id, stored, timestamp, authority, version) is
	// a few hundred bytes.
	return appendValue(make([]byte, 0, max(1024, s.size+512)), s.m)
}

// Tree returns the statement as a decoded JSON tree. Callers must not
// modify it.
func (s *Statement) Tree() map[string]any { return s.m }

func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// Refs are what a statement is indexed by.
type Refs struct {
	// Agents are the IFI keys (AgentKey form) the agent filter matches: the
	// actor and an Agent or Group object, with the members of groups.
	Agents []string
	// RelatedAgents add, for related_agents=true, the authority, instructor,
	// team, contextAgents, contextGroups and everything in a SubStatement.
	RelatedAgents []string
	Verb          string
	// Activity is the object's id when the object is an Activity.
	Activity string
	// RelatedActivities add, for related_activities=true, the context
	// activities and the activities of a SubStatement.
	RelatedActivities []string
	Registration      string // lower case
}

// Refs returns the index references of the statement.
func (s *Statement) Refs() Refs {
	r := Refs{RelatedAgents: make([]string, 0, 4), RelatedActivities: make([]string, 0, 6)}
	r.Verb = s.VerbID()
	add := func(list *[]string, agent any) { *list = appendAgentKeys(*list, agent) }
	add(&r.Agents, s.m["actor"])
	obj, _ := s.m["object"].(map[string]any)
	ot, _ := obj["objectType"].(string)
	switch ot {
	case "Agent", "Group":
		add(&r.Agents, obj)
	case "", "Activity":
		r.Activity, _ = obj["id"].(string)
	}
	r.RelatedAgents = append(r.RelatedAgents, r.Agents...)
	if r.Activity != "" {
		r.RelatedActivities = append(r.RelatedActivities, r.Activity)
	}
	add(&r.RelatedAgents, s.m["authority"])
	relatedFromContext(&r, s.m["context"], add)
	if ot == "SubStatement" {
		add(&r.RelatedAgents, obj["actor"])
		sub, _ := obj["object"].(map[string]any)
		switch sot, _ := sub["objectType"].(string); sot {
		case "Agent", "Group":
			add(&r.RelatedAgents, sub)
		case "", "Activity":
			if id, ok := sub["id"].(string); ok {
				r.RelatedActivities = append(r.RelatedActivities, id)
			}
		}
		relatedFromContext(&r, obj["context"], add)
	}
	if ctx, ok := s.m["context"].(map[string]any); ok {
		if reg, ok := ctx["registration"].(string); ok {
			r.Registration = strings.ToLower(reg)
		}
	}
	return r
}

func relatedFromContext(r *Refs, c any, add func(*[]string, any)) {
	ctx, ok := c.(map[string]any)
	if !ok {
		return
	}
	add(&r.RelatedAgents, ctx["instructor"])
	add(&r.RelatedAgents, ctx["team"])
	for _, ca := range asList(ctx["contextAgents"]) {
		if m, ok := ca.(map[string]any); ok {
			add(&r.RelatedAgents, m["agent"])
		}
	}
	for _, cg := range asList(ctx["contextGroups"]) {
		if m, ok := cg.(map[string]any); ok {
			add(&r.RelatedAgents, m["group"])
		}
	}
	if ca, ok := ctx["contextActivities"].(map[string]any); ok {
		for _, k := range []string{"parent", "grouping", "category", "other"} {
			for _, a := range asList(ca[k]) {
				if m, ok := a.(map[string]any); ok {
					if id, ok := m["id"].(string); ok {
						r.RelatedActivities = append(r.RelatedActivities, id)
					}
				}
			}
		}
	}
}

func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}
