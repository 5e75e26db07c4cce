package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// A statement that cannot be kept exactly as sent is refused with a clear
// 400 on both engines, and nothing of it is stored: a number no double
// holds, or a lone UTF-16 surrogate escape (which would be kept as U+FFFD).
func TestStatementsKeptAsSentOrRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		const key, secret = "input-key", "input-secret-0123456789abcdef"
		p := startLRS(t, append(storeEnv, "LRS_BOOTSTRAP_KEY="+key, "LRS_BOOTSTRAP_SECRET="+secret)...)
		c := &client{t: t, base: p.base + "/xapi", key: key, secret: secret, version: "2.0.0"}
		statement := func(id, object, extra string) string {
			return `{"id":"` + id + `","actor":{"mbox":"mailto:ann@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},` +
				`"object":{"id":"` + object + `"}` + extra + `}`
		}
		tests := []struct {
			name, object, extra string
			mentions            []string
		}{
			{"1e400 in a result extension", "http://example.com/input", `,"result":{"extensions":{"http://example.com/ext/n":1e400}}`,
				[]string{`.result.extensions["http://example.com/ext/n"]`, "1e400", "number-range"}},
			{"a lone surrogate in the object IRI", `http://example.com/input/\ud800`, "",
				[]string{".object.id", `\ud800`, "unpaired-surrogate"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := uuid.NewString()
				for _, send := range []struct{ method, path, body string }{
					{http.MethodPut, "/statements?statementId=" + id, statement("", tt.object, tt.extra)},
					{http.MethodPost, "/statements", "[" + statement(id, tt.object, tt.extra) + "]"},
				} {
					r := c.expect(http.StatusBadRequest, send.method, send.path, send.body)
					var e errorBody
					if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code != "invalid" {
						t.Errorf("%s: error body %s, want code invalid", send.method, r.body)
					}
					for _, m := range tt.mentions {
						if !strings.Contains(e.Error.Message, m) {
							t.Errorf("%s: message %q does not mention %q", send.method, e.Error.Message, m)
						}
					}
				}
				c.expect(http.StatusNotFound, http.MethodGet, "/statements?statementId="+id, nil)
			})
		}
		// Their neighbours that can be kept are kept exactly.
		id := uuid.NewString()
		body := statement(id, `http://example.com/input/\ud83d\ude00`, `,"result":{"extensions":{"http://example.com/ext/n":1.7976931348623157e308}}`)
		c.expect(http.StatusNoContent, http.MethodPut, "/statements?statementId="+id, body)
		got := string(c.expect(http.StatusOK, http.MethodGet, "/statements?statementId="+id, nil).body)
		if !strings.Contains(got, "http://example.com/input/😀") || !strings.Contains(got, "1.7976931348623157e308") {
			t.Errorf("stored statement %s lost the emoji or the number", got)
		}
	})
}
