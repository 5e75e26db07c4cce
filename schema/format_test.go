package schema_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/schema"
)

// TestFormatIDsGolden renders each statement of testdata/format-ids with
// format=ids and compares it with the golden answer. A fixture is
// {"about": what it shows, "exact": the statement as stored, "ids": what
// format=ids returns}.
func TestFormatIDsGolden(t *testing.T) {
	files := fixtureFiles(t, "format-ids")
	if len(files) == 0 {
		t.Fatal("testdata/format-ids: no fixtures")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fx struct {
				About string          `json:"about"`
				Exact json.RawMessage `json:"exact"`
				IDs   json.RawMessage `json:"ids"`
			}
			if err := json.Unmarshal(body, &fx); err != nil || fx.About == "" || fx.Exact == nil || fx.IDs == nil {
				t.Fatalf("fixture needs about, exact and ids: %v", err)
			}
			stored, err := schema.ParseStatement(fx.Exact, schema.V2_0_0)
			if err != nil {
				t.Fatalf("exact statement does not parse: %s", describeErr(err))
			}
			raw, err := stored.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got, err := schema.Render(raw, schema.FormatIDs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, fx.IDs) {
				t.Errorf("%s\nformat=ids: %s\nwant:       %s", fx.About, got, compact(t, fx.IDs))
			}
			// The minimal form is still a valid statement.
			if _, err := schema.ParseStatement(got, schema.V2_0_0); err != nil {
				t.Errorf("format=ids output is not a valid statement: %s\n%s", describeErr(err), got)
			}
		})
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
