package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/forward/forwardtest"
)

// The egress policy, on each storage engine: a configuration may point at
// public addresses only unless LRS_FORWARD_ALLOWED_NETWORKS allows more,
// checked when it is saved (a 400 naming the rule and the setting) and
// again when connecting: a configuration saved while loopback was allowed
// sends nothing once the policy no longer allows it.
func TestForwardEgressPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		down := forwardtest.NewLRS(t, nil)
		closed := slices.DeleteFunc(upstreamEnv(storeEnv), func(e string) bool {
			return strings.HasPrefix(e, "LRS_FORWARD_ALLOWED_NETWORKS=")
		})
		up := startLRS(t, closed...)
		a := fwdAdmin(t, up)
		body := func(endpoint string) map[string]any {
			return map[string]any{"name": "LMS", "contact_email": "ops@example.com", "type": "xapi",
				"properties": map[string]string{"endpoint": endpoint}, "secrets": map[string]string{"key": forwardtest.DownKey, "secret": forwardtest.DownSecret}}
		}
		for endpoint, want := range map[string]string{
			down.Endpoint():                              "is a loopback address",
			"http://169.254.169.254/latest/":             "is a link-local address",
			"http://10.1.2.3/xapi/":                      "is a private address",
			"http://0x7f000001/xapi/":                    "non-standard notation",
			"https://lms:pass@lms.example.invalid/xapi/": "must not carry a user name or password",
			"http://[::ffff:127.0.0.1]:8080/xapi/":       "is a loopback address",
		} {
			r := a.expect(http.StatusBadRequest, http.MethodPost, "/configurations", body(endpoint), adminBearer()...)
			if !strings.Contains(string(r.body), "properties.endpoint") || !strings.Contains(string(r.body), want) {
				t.Errorf("saving %s: %s, want a 400 saying %q", endpoint, r.body, want)
			}
			if strings.Contains(want, "address") && !strings.Contains(string(r.body), "LRS_FORWARD_ALLOWED_NETWORKS") {
				t.Errorf("saving %s: %s, want it to say how to open the policy", endpoint, r.body)
			}
		}
		up.stop()

		// Opened to loopback, the configuration is saved.
		up = startLRS(t, upstreamEnv(storeEnv)...)
		if isMongoEnv(storeEnv) {
			waitOutput(t, up, `store="mongodb`)
		}
		activity := "http://example.com/e2e/egress/" + uuid.NewString()
		id := setupForwardingWith(t, up, activity, map[string]string{"endpoint": down.Endpoint()},
			map[string]string{"key": forwardtest.DownKey, "secret": forwardtest.DownSecret})
		up.stop()

		// Closed again: the destination's address is refused when
		// connecting, whatever was checked when it was saved.
		up = startLRS(t, closed...)
		if isMongoEnv(storeEnv) {
			waitOutput(t, up, `store="mongodb`)
		}
		c := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "2.0.0"}
		sts, _ := fwdBatch(2, activity)
		c.expect(http.StatusOK, http.MethodPost, "/statements", sts)
		a = fwdAdmin(t, up)
		var st struct {
			Status    string `json:"status"`
			LastError string `json:"last_error"`
		}
		forwardtest.Eventually(t, 30*time.Second, func() error {
			r := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+id+"/status", nil, adminBearer()...)
			if err := json.Unmarshal(r.body, &st); err != nil {
				return err
			}
			if st.Status != "Can't Connect" {
				return fmt.Errorf("status %+v, want Can't Connect", st)
			}
			return nil
		})
		if !strings.Contains(st.LastError, "127.0.0.1 is a loopback address") || !strings.Contains(st.LastError, "LRS_FORWARD_ALLOWED_NETWORKS") {
			t.Errorf("last error %q, want the egress policy's refusal", st.LastError)
		}
		if n := down.Requests(); n != 0 {
			t.Errorf("the destination got %d requests past the policy", n)
		}
	})
}
