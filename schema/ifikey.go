package schema

// IFIKey returns the IFI key (the AgentKey form) of an Agent or Group as a
// decoded JSON tree, such as a value from Statement.Tree(); "" when it has
// none (an anonymous group).
func IFIKey(m map[string]any) string { return ifiKey(m) }
