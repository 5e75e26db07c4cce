package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/schema"
)

// What a client sends must survive storage and forwarding unchanged: a
// number no double holds and a lone UTF-16 surrogate escape are refused,
// with the path of the value and a message saying what is wrong.
func TestInputThatCannotBeKeptAsSent(t *testing.T) {
	const head = `{"actor":{"mbox":"mailto:ada@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},`
	tests := []struct {
		name, body      string
		rule, path      string
		messageMentions []string
	}{
		{"1e400 in an extension", head + `"object":{"id":"http://example.com/a"},"result":{"extensions":{"http://example.com/x":1e400}}}`,
			"number-range", `$.result.extensions["http://example.com/x"]`, []string{"1e400", "double"}},
		{"-1e400 in an array", head + `"object":{"id":"http://example.com/a"},"context":{"extensions":{"http://example.com/x":[0,-1e400]}}}`,
			"number-range", `$.context.extensions["http://example.com/x"][1]`, []string{"-1e400"}},
		{"a 400-digit integer, shortened in the message", head + `"object":{"id":"http://example.com/a"},"result":{"extensions":{"http://example.com/x":1` + strings.Repeat("0", 400) + `}}}`,
			"number-range", `$.result.extensions["http://example.com/x"]`, []string{"10000000000000000000…"}},
		{"lone high surrogate in an IRI", head + `"object":{"id":"http://example.com/\ud800"}}`,
			"unpaired-surrogate", `$.object.id`, []string{`\ud800`, "surrogate"}},
		{"lone low surrogate", head + `"object":{"id":"http://example.com/a"},"result":{"response":"\uDC00 x"}}`,
			"unpaired-surrogate", `$.result.response`, []string{`\uDC00`}},
		{"high surrogate at the end of the string", head + `"object":{"id":"http://example.com/a"},"result":{"response":"x\ud83d"}}`,
			"unpaired-surrogate", `$.result.response`, []string{`\ud83d`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.ParseStatement([]byte(tt.body), schema.V2_0_0)
			var se *schema.Error
			if !errors.As(err, &se) {
				t.Fatalf("ParseStatement: %v, want a *schema.Error", err)
			}
			if se.Rule != tt.rule || se.Path != tt.path {
				t.Errorf("rule %q at %q, want %q at %q (%s)", se.Rule, se.Path, tt.rule, tt.path, se.Message)
			}
			for _, m := range tt.messageMentions {
				if !strings.Contains(se.Message, m) {
					t.Errorf("message %q does not mention %q", se.Message, m)
				}
			}
		})
	}
}

// A statement stored before numbers were checked still renders.
func TestStoredOutOfRangeNumberStillRenders(t *testing.T) {
	stored := []byte(`{"actor":{"mbox":"mailto:ada@example.com"},"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","object":{"id":"http://example.com/a"},"result":{"extensions":{"http://example.com/x":1e400}},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"}}`)
	out, err := schema.Render(stored, schema.FormatIDs, nil)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !strings.Contains(string(out), "1e400") {
		t.Errorf("Render lost the number: %s", out)
	}
}
