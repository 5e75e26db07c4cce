package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/schema"
)

// Golden fixtures live in testdata/<dir>/<name>.json. A fixture holds one
// statement object or an array of them (a batch).
//
//	valid/          accepted by every version
//	valid-2.0/      accepted by 2.0 (not by 1.0.3: see invalid-1.0.3)
//	invalid/        rejected by every version
//	invalid-1.0.3/  rejected by 1.0.3 only; 2.0 accepts them
//	invalid-2.0/    rejected by 2.0 (1.0.3 may reject them for other reasons)
//
// Invalid fixtures are named <rule>--<case>.json: each breaks exactly one rule,
// and the parser must report that rule id in a *schema.Error with a Path.

// fixtureMaxStatements is the batch limit used for fixtures; every fixture
// batch is far below it.
const fixtureMaxStatements = 1000

type fixtureDir struct {
	name   string
	accept []schema.Version // versions that must accept every file
	reject []schema.Version // versions that must reject every file with its rule
}

var (
	bothVersions = []schema.Version{schema.V1_0_3, schema.V2_0_0}

	fixtureDirs = []fixtureDir{
		{name: "valid", accept: bothVersions},
		{name: "valid-2.0", accept: []schema.Version{schema.V2_0_0}},
		{name: "invalid", reject: bothVersions},
		{name: "invalid-1.0.3", reject: []schema.Version{schema.V1_0_3}, accept: []schema.Version{schema.V2_0_0}},
		{name: "invalid-2.0", reject: []schema.Version{schema.V2_0_0}},
	}
)

// fixtureFiles returns the sorted .json files of testdata/dir.
func fixtureFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func TestFixtures(t *testing.T) {
	total := 0
	for _, d := range fixtureDirs {
		files := fixtureFiles(t, d.name)
		if len(files) == 0 {
			t.Errorf("testdata/%s: no fixtures", d.name)
			continue
		}
		total += len(files)
		t.Run(d.name, func(t *testing.T) {
			for _, file := range files {
				name := strings.TrimSuffix(filepath.Base(file), ".json")
				body, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				t.Run(name, func(t *testing.T) {
					for _, v := range d.accept {
						checkAccepted(t, body, v)
					}
					if len(d.reject) > 0 {
						rule, _, ok := strings.Cut(name, "--")
						if !ok || rule == "" {
							t.Fatalf("invalid fixture %s is not named <rule>--<case>.json", file)
						}
						for _, v := range d.reject {
							checkRejected(t, body, v, rule)
						}
					}
				})
			}
		})
	}
	t.Logf("%d fixture files", total)
}

// isBatch reports whether a fixture body is a JSON array.
func isBatch(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

func isObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func checkAccepted(t *testing.T, body []byte, v schema.Version) {
	t.Helper()
	stmts, isArray, err := schema.ParseStatements(body, v, fixtureMaxStatements)
	if err != nil {
		t.Errorf("%s: ParseStatements rejected a valid fixture: %s", v, describeErr(err))
		return
	}
	if isArray != isBatch(body) {
		t.Errorf("%s: ParseStatements isArray = %v, want %v", v, isArray, isBatch(body))
	}
	if want := statementCount(t, body); len(stmts) != want {
		t.Errorf("%s: ParseStatements returned %d statements, want %d", v, len(stmts), want)
	}
	if isObject(body) {
		if _, err := schema.ParseStatement(body, v); err != nil {
			t.Errorf("%s: ParseStatement rejected a valid fixture: %s", v, describeErr(err))
		}
	}
	for i, s := range stmts {
		checkRoundTrip(t, v, i, s)
	}
}

// checkRoundTrip checks that MarshalJSON output parses again under the same
// version, and that the re-parsed statement marshals to the same JSON: the
// serialization is a fixed point, so no property is lost or altered on the way.
func checkRoundTrip(t *testing.T, v schema.Version, i int, s *schema.Statement) {
	t.Helper()
	out, err := s.MarshalJSON()
	if err != nil {
		t.Errorf("%s: statement %d: MarshalJSON: %v", v, i, err)
		return
	}
	if !json.Valid(out) {
		t.Errorf("%s: statement %d: MarshalJSON produced invalid JSON: %s", v, i, out)
		return
	}
	again, err := schema.ParseStatement(out, v)
	if err != nil {
		t.Errorf("%s: statement %d: MarshalJSON output does not parse again: %s\n%s", v, i, describeErr(err), out)
		return
	}
	out2, err := again.MarshalJSON()
	if err != nil {
		t.Errorf("%s: statement %d: MarshalJSON of the re-parsed statement: %v", v, i, err)
		return
	}
	if !jsonEqual(t, out, out2) {
		t.Errorf("%s: statement %d: re-parsed statement differs\nfirst:  %s\nsecond: %s", v, i, out, out2)
	}
}

func checkRejected(t *testing.T, body []byte, v schema.Version, rule string) {
	t.Helper()
	_, _, err := schema.ParseStatements(body, v, fixtureMaxStatements)
	checkRuleErr(t, "ParseStatements", v, err, rule)
	if isObject(body) {
		_, err := schema.ParseStatement(body, v)
		checkRuleErr(t, "ParseStatement", v, err, rule)
	}
}

func checkRuleErr(t *testing.T, fn string, v schema.Version, err error, rule string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: %s accepted a fixture that breaks rule %q", v, fn, rule)
		return
	}
	var se *schema.Error
	if !errors.As(err, &se) {
		t.Errorf("%s: %s error is %T, want *schema.Error: %v", v, fn, err, err)
		return
	}
	if se.Rule != rule {
		t.Errorf("%s: %s rule = %q, want %q (%s)", v, fn, se.Rule, rule, describeErr(err))
	}
	if se.Path == "" {
		t.Errorf("%s: %s error has an empty Path (%s)", v, fn, describeErr(err))
	}
}

func describeErr(err error) string {
	var se *schema.Error
	if errors.As(err, &se) {
		return "rule=" + se.Rule + " path=" + se.Path + " message=" + se.Message
	}
	return err.Error()
}

// statementCount is the number of statements a fixture holds.
func statementCount(t *testing.T, body []byte) int {
	t.Helper()
	if !isBatch(body) {
		return 1
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("fixture batch is not a JSON array: %v", err)
	}
	return len(items)
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if err := da.Decode(&x); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := db.Decode(&y); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
