package lrs

// Index terms. A statement's Terms are computed once, at write time, from
// its content; a query asks for the statements that hold all its terms.
// Prefixes keep the term spaces apart; engines treat terms as opaque.
const (
	// TermAll is held by every statement, so a query always has a term.
	TermAll = "*"

	termAgent           = "a:"  // agent filter: actor, object agent/group, group members
	termRelatedAgent    = "ra:" // related_agents=true
	termVerb            = "v:"
	termActivity        = "o:"  // object activity
	termRelatedActivity = "ro:" // related_activities=true
	termRegistration    = "r:"
)
