package lrs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"

	"github.com/lrs-project/lrs/schema"
)

// recordDefinitions records what stmts teach about activities and agents:
// each Activity Definition they carry (object, context activities, and the
// same inside a SubStatement) is merged into the activity's canonical
// definition, and the names agents carry are added to their IFI's names.
// Definitions of one activity within the batch are merged in memory first
// (in batch order), so each activity and agent costs one store call per
// batch; statements without definitions or named agents cost nothing.
//
// A definition is recorded only when it changes: the process remembers the
// fingerprint of the definition it merged last for each activity, and a
// batch whose only definition of an activity is that one costs neither a
// store call nor an encoding (content repeats an activity's definition on
// every statement about it).
//
// It runs for new and repeated statements alike, so that a client's retry
// completes a batch whose recording was cut short.
func (s *Service) recordDefinitions(ctx context.Context, org string, stmts []*schema.Statement) error {
	if s.activities == nil && s.agents == nil {
		return nil
	}
	c := collector{defs: map[string][]definitionSeen{}, names: map[string][]string{}}
	for _, st := range stmts {
		c.statement(st.Tree())
	}
	if s.activities != nil {
		for _, id := range c.order {
			seq := c.defs[id]
			k := recentKey("activity", org, id)
			last := seq[len(seq)-1].fp
			if len(seq) == 1 && s.recordedDefs.is(k, last) {
				continue // this process merged this very definition last
			}
			var merged []byte
			for i, d := range seq {
				raw, err := encodeJSON(d.def)
				switch {
				case err != nil:
				case i == 0:
					merged = raw
				default:
					merged, err = MergeDefinition(merged, raw)
				}
				if err != nil {
					return fmt.Errorf("definition of activity %s: %w", id, err)
				}
			}
			if err := s.activities.MergeActivity(ctx, org, id, merged); err != nil {
				return fmt.Errorf("merge definition of activity %s: %w", id, err)
			}
			s.recordedDefs.put(k, last)
		}
	}
	if s.agents != nil {
		add := map[string][]string{}
		var keys [][16]byte
		for _, key := range c.agentOrder {
			k := recentKey(append([]string{"agent", org, key}, c.names[key]...)...)
			if _, ok := s.recordedNames.get(k); ok {
				continue
			}
			add[key] = c.names[key]
			keys = append(keys, k)
		}
		if len(add) > 0 {
			if err := s.agents.AddAgentNames(ctx, org, add); err != nil {
				return fmt.Errorf("record names of %d agents: %w", len(add), err)
			}
			for _, k := range keys {
				s.recordedNames.put(k, struct{}{})
			}
		}
	}
	return nil
}

// definitionSeen is one definition of an activity in a batch.
type definitionSeen struct {
	def map[string]any
	fp  uint64 // fingerprint(def)
}

// collector gathers the definitions and agent names of a batch.
type collector struct {
	// defs holds, per activity id, its definitions in batch order, each
	// run of equal definitions kept once (merging one twice in a row
	// changes nothing).
	defs       map[string][]definitionSeen
	order      []string
	names      map[string][]string // IFI key -> names
	agentOrder []string
}

func (c *collector) statement(m map[string]any) {
	c.agent(m["actor"])
	obj, _ := m["object"].(map[string]any)
	switch ot, _ := obj["objectType"].(string); ot {
	case "", "Activity":
		c.activity(obj)
	case "Agent", "Group":
		c.agent(obj)
	case "SubStatement":
		c.statement(obj)
	}
	ctx, _ := m["context"].(map[string]any)
	if ctx == nil {
		return
	}
	c.agent(ctx["instructor"])
	c.agent(ctx["team"])
	for _, ca := range list(ctx["contextAgents"]) {
		if x, ok := ca.(map[string]any); ok {
			c.agent(x["agent"])
		}
	}
	for _, cg := range list(ctx["contextGroups"]) {
		if x, ok := cg.(map[string]any); ok {
			c.agent(x["group"])
		}
	}
	if cas, ok := ctx["contextActivities"].(map[string]any); ok {
		for _, k := range []string{"parent", "grouping", "category", "other"} {
			for _, a := range list(cas[k]) {
				if x, ok := a.(map[string]any); ok {
					c.activity(x)
				}
			}
		}
	}
}

func (c *collector) activity(m map[string]any) {
	id, _ := m["id"].(string)
	def, ok := m["definition"].(map[string]any)
	if id == "" || !ok {
		return
	}
	fp := fingerprint(def)
	seq, seen := c.defs[id]
	if !seen {
		c.order = append(c.order, id)
	} else if seq[len(seq)-1].fp == fp {
		return
	}
	c.defs[id] = append(seq, definitionSeen{def: def, fp: fp})
}

// fingerprintSeed is this process's seed of definition fingerprints, which
// are only ever compared within the process.
var fingerprintSeed = maphash.MakeSeed()

// fingerprint hashes a decoded JSON value: equal values (object keys in
// any order) have equal fingerprints, and different ones differ but for a
// chance of about 2^-64. Strings and numbers are hashed with maphash (seeded
// per process), then tagged and mixed; array elements are chained in order;
// object members are combined by a sum of their hashes, so no key is
// sorted, and nothing is allocated.
func fingerprint(v any) uint64 {
	switch x := v.(type) {
	case nil:
		return mix64(fpNull)
	case bool:
		if x {
			return mix64(fpTrue)
		}
		return mix64(fpFalse)
	case string:
		return mix64(maphash.String(fingerprintSeed, x) ^ fpString)
	case json.Number:
		return mix64(maphash.String(fingerprintSeed, string(x)) ^ fpNumber)
	case float64:
		return mix64(maphash.String(fingerprintSeed, strconv.FormatFloat(x, 'g', -1, 64)) ^ fpNumber)
	case int:
		return mix64(maphash.String(fingerprintSeed, strconv.Itoa(x)) ^ fpNumber)
	case []any:
		h := mix64(fpArray ^ uint64(len(x)))
		for _, e := range x {
			h = mix64(h ^ fingerprint(e))
		}
		return h
	case map[string]any:
		var sum uint64
		for k, e := range x {
			sum += mix64(maphash.String(fingerprintSeed, k) ^ fingerprint(e)*fpMember)
		}
		return mix64(sum ^ fpObject ^ uint64(len(x))<<8)
	default:
		return mix64(maphash.String(fingerprintSeed, fmt.Sprintf("%T %v", v, v)) ^ fpOther)
	}
}

// Tags of the kinds of values in fingerprints, and the multiplier of a
// member's value (odd, so that it is a bijection).
const (
	fpNull uint64 = iota + 1
	fpTrue
	fpFalse
	fpString
	fpNumber
	fpArray
	fpObject
	fpOther
	fpMember uint64 = 0x9e3779b97f4a7c15
)

// mix64 is SplitMix64's finalizer: every bit of the result depends on
// every bit of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (c *collector) agent(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if name, ok := m["name"].(string); ok {
		if key := schema.IFIKey(m); key != "" {
			if _, seen := c.names[key]; !seen {
				c.agentOrder = append(c.agentOrder, key)
			}
			if !slices.Contains(c.names[key], name) {
				c.names[key] = append(c.names[key], name)
			}
		}
	}
	if m["objectType"] == "Group" {
		for _, member := range list(m["member"]) {
			c.agent(member)
		}
	}
}

func list(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}

// GetActivity returns the Activity object of the Activities resource:
// {"objectType":"Activity","id":id,"definition":{…}} with the canonical
// definition, or without a definition when the LRS knows none (Communication
// 2.5: the LRS still returns an Activity object).
func (s *Service) GetActivity(ctx context.Context, org, id string) ([]byte, error) {
	act := map[string]any{"objectType": "Activity", "id": id}
	if s.activities != nil {
		def, err := s.activities.GetActivity(ctx, org, id)
		switch {
		case err == nil:
			act["definition"] = json.RawMessage(def)
		case ErrorCode(err) != ENOTFOUND:
			return nil, fmt.Errorf("get activity %s: %w", id, err)
		}
	}
	return encodeJSON(act)
}

// GetPerson returns the Person object of the Agents resource for agent, an
// Agent JSON object (not a Group) validated under v: its identifier, and
// the names the LRS has seen with it together with the agent's own name.
// This LRS links no identities, so the Person holds exactly one identifier,
// the requested one (Communication 2.4: an unknown agent still gets a
// Person with what the request gave). A malformed agent is EINVALID.
func (s *Service) GetPerson(ctx context.Context, org string, agent []byte, v schema.Version) ([]byte, error) {
	key, err := schema.ParseAgent(agent, v)
	if err != nil {
		var se *schema.Error
		if errors.As(err, &se) {
			return nil, Errorf(EINVALID, "agent: %s", se.Error())
		}
		return nil, err
	}
	var m map[string]any
	if err := decodeObject(agent, &m); err != nil || key == "" {
		return nil, Errorf(EINVALID, "agent: the agent must be an Agent object with an identifier")
	}
	var names []string
	if s.agents != nil {
		if names, err = s.agents.AgentNames(ctx, org, key); err != nil {
			return nil, fmt.Errorf("get names of agent %s: %w", key, err)
		}
	}
	if n, ok := m["name"].(string); ok && !slices.Contains(names, n) {
		names = append(names, n)
		slices.Sort(names)
	}
	p := map[string]any{"objectType": "Person"}
	if len(names) > 0 {
		p["name"] = names
	}
	for _, ifi := range []string{"mbox", "mbox_sha1sum", "openid", "account"} {
		if x, ok := m[ifi]; ok {
			p[ifi] = []any{x}
			break
		}
	}
	return encodeJSON(p)
}
