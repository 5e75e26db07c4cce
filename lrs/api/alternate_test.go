package api_test

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/lrs-project/lrs/lrs"
)

// Under xAPI 2.0 the alternate request syntax answers 400 saying 2.0
// removed it, also when the credentials are in the form as 1.0.3 clients
// send them; a request without any credentials is still a 401.
func TestAlternateSyntaxUnder2(t *testing.T) {
	e := newEnv(t)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	formCT := []string{"Content-Type", "application/x-www-form-urlencoded"}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("writer:s-writer"))
	removed := bodyContains("2.0.0 removed the alternate request syntax")
	run(t, e, []tcase{
		{name: "version header 2.0, credentials in the form", req: req{method: "POST", path: "/xapi/statements?method=GET", key: "-", header: formCT,
			body: form("Authorization", basic)}, want: 400, checks: []check{removed, codeIs(lrs.EINVALID)}},
		{name: "version 2.0 and credentials in the form", req: req{method: "POST", path: "/xapi/activities/state?method=GET", key: "-", version: "-", header: formCT,
			body: form("Authorization", basic, "X-Experience-API-Version", "2.0.0", "activityId", docAct, "agent", docAgent, "stateId", "s")}, want: 400, checks: []check{removed}},
		{name: "version 2.0, credentials in the header", req: req{method: "POST", path: "/xapi/statements?method=GET", header: formCT, body: form()}, want: 400, checks: []check{removed}},
		{name: "version 2.0, no credentials", req: req{method: "POST", path: "/xapi/statements?method=GET", key: "-", header: formCT, body: form()}, want: 401},
		{name: "version 2.0, wrong credentials in the form", req: req{method: "POST", path: "/xapi/statements?method=GET", key: "-", header: formCT,
			body: form("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("writer:wrong")))}, want: 401},
	})
}
