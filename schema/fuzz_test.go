package schema_test

import (
	"errors"
	"os"
	"testing"

	"github.com/lrs-project/lrs/schema"
)

// fuzzMaxInput bounds the input size so that each iteration stays fast.
const fuzzMaxInput = 64 << 10

// fuzzMaxStatements is the batch limit for fuzzing; small keeps iterations fast.
const fuzzMaxStatements = 32

// FuzzParseStatements feeds arbitrary bodies to ParseStatements under every
// version. It must never panic; a rejection must be a *schema.Error naming a
// rule; and whatever it accepts must marshal to JSON that parses again.
func FuzzParseStatements(f *testing.F) {
	for _, d := range fixtureDirs {
		for _, file := range fixtureFiles(f, d.name) {
			body, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(body)
		}
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[{}]`))

	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > fuzzMaxInput {
			t.Skip()
		}
		for _, v := range bothVersions {
			stmts, _, err := schema.ParseStatements(body, v, fuzzMaxStatements)
			if err != nil {
				var se *schema.Error
				if !errors.As(err, &se) {
					t.Fatalf("%s: error is %T, want *schema.Error: %v", v, err, err)
				}
				if se.Rule == "" {
					t.Fatalf("%s: *schema.Error without a Rule: %+v", v, se)
				}
				continue
			}
			for i, s := range stmts {
				out, err := s.MarshalJSON()
				if err != nil {
					t.Fatalf("%s: statement %d: MarshalJSON: %v", v, i, err)
				}
				if _, err := schema.ParseStatement(out, v); err != nil {
					t.Fatalf("%s: statement %d: MarshalJSON output does not parse again: %v\ninput:  %q\noutput: %s", v, i, err, body, out)
				}
			}
		}
	})
}
