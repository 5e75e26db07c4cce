package lrs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// ActivityStore keeps the canonical definition of each Activity (xAPI Data
// 2.4.4.1: the LRS builds it from the definitions it receives). Every
// method is scoped to one organization.
type ActivityStore interface {
	// MergeActivity merges def, an Activity Definition JSON object, into the
	// stored definition of the activity id with MergeDefinition (creating it
	// when there is none). Each call is atomic for its activity: concurrent
	// merges of the same activity (from this or other processes) must all be
	// applied, none lost. An engine writes nothing when the merge changes
	// nothing.
	MergeActivity(ctx context.Context, org, id string, def []byte) error

	// GetActivity returns the stored definition of the activity id (as
	// MergeDefinition returned it), ENOTFOUND when there is none.
	GetActivity(ctx context.Context, org, id string) ([]byte, error)
}

// AgentStore keeps what the LRS learns about agents from statements, for
// the Agents resource. This product links no identities: an agent is its
// IFI, and what is kept per IFI is the set of names it was seen with.
type AgentStore interface {
	// AddAgentNames adds, for each IFI key (schema.AgentKey form) of
	// names, its names to the set of names seen with that agent: all the
	// agents of a batch in one call. Idempotent and safe under concurrency:
	// no name added by any caller is lost.
	AddAgentNames(ctx context.Context, org string, names map[string][]string) error

	// AgentNames returns the names seen with key, sorted, without
	// duplicates; none (and no error) for an unknown key.
	AgentNames(ctx context.Context, org, key string) ([]string, error)
}

// mergedByKey are the properties of an Activity Definition merged entry by
// entry: the language maps and extensions. Every other property a received
// definition carries replaces the stored one.
var mergedByKey = map[string]bool{"name": true, "description": true, "extensions": true}

// MergeDefinition returns the canonical definition after receiving def:
// stored (nil or empty when there is none) updated with def. Language maps
// (name, description) and extensions are merged by key, the received
// entries winning; any other property present in def replaces the stored
// one. The result is a JSON object with sorted keys, so that merging a
// definition already merged gives back the stored bytes unchanged.
func MergeDefinition(stored, def []byte) ([]byte, error) {
	out := map[string]any{}
	if len(bytes.TrimSpace(stored)) > 0 {
		if err := decodeObject(stored, &out); err != nil {
			return nil, fmt.Errorf("merge definition: stored: %w", err)
		}
	}
	var in map[string]any
	if err := decodeObject(def, &in); err != nil {
		return nil, fmt.Errorf("merge definition: received: %w", err)
	}
	for k, v := range in {
		if mergedByKey[k] {
			newMap, ok1 := v.(map[string]any)
			oldMap, ok2 := out[k].(map[string]any)
			if ok1 && ok2 {
				for lk, lv := range newMap {
					oldMap[lk] = lv
				}
				continue
			}
		}
		out[k] = v
	}
	return encodeJSON(out)
}

func decodeObject(raw []byte, into *map[string]any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(into); err != nil {
		return err
	}
	if *into == nil {
		return fmt.Errorf("not a JSON object")
	}
	return nil
}

// encodeJSON marshals v with sorted map keys and without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
