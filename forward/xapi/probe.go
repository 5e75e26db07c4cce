package xapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/lrs-project/lrs/forward"
)

var _ forward.Tester = (*Destination)(nil)

// probeStatementID is a statement id that no LRS holds: asking for it
// checks the credentials without reading or writing anything.
const probeStatementID = "00000000-0000-4000-8000-000000000000"

// Test checks the destination without sending a statement (the admin API's
// "test connection"): GET …/about (reachability; with OAuth2 this first
// requests a token), then an authenticated GET of a statement id that does
// not exist, which the destination answers 404 (or 200) when it accepts
// the credentials, 403 when it accepts them without read permission
// (enough to forward) and 401 when it refuses them. The Result is
// classified like an attempt's and holds no secret.
func (d *Destination) Test(ctx context.Context) forward.Result {
	about := strings.TrimSuffix(d.statements, "/statements") + "/about"
	res := d.do(ctx, http.MethodGet, about, nil)
	if res.err != nil {
		return res.result
	}
	if res.status != http.StatusOK {
		return d.classify(res)
	}
	res = d.do(ctx, http.MethodGet, d.statements+"?statementId="+url.QueryEscape(probeStatementID), nil)
	if res.err != nil {
		return res.result
	}
	switch res.status {
	case http.StatusOK, http.StatusNotFound:
		return forward.Result{Outcome: forward.OutcomeSuccess, Status: res.status, Message: "the LRS answered and accepted the credentials"}
	case http.StatusForbidden:
		return forward.Result{Outcome: forward.OutcomeSuccess, Status: res.status,
			Message: "the LRS answered and accepted the credentials (they may not read statements, which forwarding does not need)"}
	case http.StatusUnauthorized:
		return d.failure(forward.OutcomeDestination, res, "the LRS refused the credentials")
	}
	return d.classify(res)
}
