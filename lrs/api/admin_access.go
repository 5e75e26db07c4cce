package api

import (
	"strings"
)

// Who may use each admin route: the one place where the admin API
// authorizes (adminGate applies it to every route of the admin group,
// whichever file registers the route).
//
// A route with an :org parameter is an organization's: operators and the
// administrators of that organization may use it, unless it is listed
// below. Every route without :org must be listed; one that is not is
// refused to everyone but operators (and TestAdminAccessEveryRoute fails).

type access int

const (
	// accessOrg: operators, and the administrators of the route's :org.
	accessOrg access = iota
	// accessOperator: operators (an operator account or the admin token).
	accessOperator
	// accessSignedIn: anyone signed in, or the admin token (their own
	// session).
	accessSignedIn
	// accessPublic: anyone (signing in, accepting an invitation, resetting
	// a password); cross-origin browser requests are still refused.
	accessPublic
)

func (a access) String() string {
	return [...]string{"organization", "operator", "signed-in", "public"}[a]
}

// adminAccess lists the routes that are not organization routes, and the
// organization routes only operators may use; keys are "METHOD path" with
// the path relative to AdminPrefix, as gin names the route.
var adminAccess = map[string]access{
	// Organizations: creating, listing, renaming and deleting them is the
	// operators'; an organization's administrators may read it.
	"GET /orgs":                     accessOperator,
	"POST /orgs":                    accessOperator,
	"PATCH /orgs/:org":              accessOperator,
	"DELETE /orgs/:org":             accessOperator,
	"GET /orgs/:org":                accessOrg,
	"GET /credentials/:key":         accessOperator,
	"PATCH /credentials/:key":       accessOperator,
	"DELETE /credentials/:key":      accessOperator,
	"POST /credentials/:key/revoke": accessOperator,
	"GET /accounts":                 accessOperator,
	"POST /accounts":                accessOperator,
	"GET /accounts/:id":             accessOperator,
	"PATCH /accounts/:id":           accessOperator,
	"DELETE /accounts/:id":          accessOperator,
	"DELETE /accounts/:id/sessions": accessOperator,
	"GET /invitations":              accessOperator,
	"POST /invitations":             accessOperator,
	"DELETE /invitations/:id":       accessOperator,
	"POST /invitations/accept":      accessPublic,
	"POST /password-reset":          accessPublic,
	"POST /password-reset/confirm":  accessPublic,
	"POST /session":                 accessPublic,
	"GET /session":                  accessSignedIn,
	"DELETE /session":               accessSignedIn,
	"DELETE /sessions":              accessSignedIn,
	"GET /session/oidc":             accessPublic,
	"GET /session/oidc/callback":    accessPublic,
}

// accessOf returns who may use a route; listed is false for a route
// without a rule (then operators only).
func accessOf(method, route string) (a access, listed bool) {
	if a, ok := adminAccess[method+" "+route]; ok {
		return a, true
	}
	for _, seg := range strings.Split(route, "/") {
		if seg == ":org" {
			return accessOrg, true
		}
	}
	return accessOperator, false
}
