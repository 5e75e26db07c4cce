package schema

import (
	"strings"
)

// ifiKey returns the IFI key of an Agent or Group object, or "" when it has
// none (an anonymous group). Keys: "mbox:mailto:x@y", "mbox_sha1sum:<hex>",
// "openid:<uri>", "account:<homePage> <name>". Case-insensitive parts
// (the mbox, the sha1 hex) are lower-cased.
func ifiKey(m map[string]any) string {
	if v, ok := m["mbox"].(string); ok {
		return "mbox:" + strings.ToLower(v)
	}
	if v, ok := m["mbox_sha1sum"].(string); ok {
		return "mbox_sha1sum:" + strings.ToLower(v)
	}
	if v, ok := m["openid"].(string); ok {
		return "openid:" + v
	}
	if acc, ok := m["account"].(map[string]any); ok {
		hp, _ := acc["homePage"].(string)
		name, _ := acc["name"].(string)
		return "account:" + hp + " " + name
	}
	return ""
}

// appendAgentKeys appends the IFI keys an agent filter matches for an
// Agent or Group value: its own, and those of a group's members.
func appendAgentKeys(keys []string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return keys
	}
	if k := ifiKey(m); k != "" {
		keys = append(keys, k)
	}
	if m["objectType"] == "Group" {
		for _, member := range asList(m["member"]) {
			if mm, ok := member.(map[string]any); ok {
				if k := ifiKey(mm); k != "" {
					keys = append(keys, k)
				}
			}
		}
	}
	return keys
}

// AgentKey validates the JSON of an Agent or identified Group (the agent
// query parameter) under version v and returns its IFI key. An anonymous
// group or an invalid agent is an *Error.
func AgentKey(raw []byte, v Version) (string, error) {
	tree, err := decodeTree(raw)
	if err != nil {
		return "", err
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return "", errorf("$", "wrong-type", "an Agent or Group must be a JSON object")
	}
	c := &checker{v: v}
	c.actor(root("$"), m, true)
	if c.err != nil {
		return "", c.err
	}
	k := ifiKey(m)
	if k == "" {
		return "", errorf("$", "ifi", "an anonymous Group cannot be used as a filter: it has no identifier")
	}
	return k, nil
}

// ParseAgent validates an Agent (not a Group) for the document resources
// and returns its IFI key.
func ParseAgent(raw []byte, v Version) (string, error) {
	tree, err := decodeTree(raw)
	if err != nil {
		return "", err
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return "", errorf("$", "wrong-type", "an Agent must be a JSON object")
	}
	if ot, ok := m["objectType"]; ok && ot != "Agent" {
		return "", errorf("$.objectType", "object-type", "must be \"Agent\"")
	}
	c := &checker{v: v}
	c.actor(root("$"), m, false)
	if c.err != nil {
		return "", c.err
	}
	return ifiKey(m), nil
}
