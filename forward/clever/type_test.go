package clever_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
)

// The registry's checks and the package's own say the same, once per
// field: the fields list every property and secret Validate knows.
func TestTypeChecksOncePerField(t *testing.T) {
	typ := clever.Type(func(forward.Configuration, map[string]string) (forward.Destination, error) { return nil, nil })
	if _, err := forward.NewRegistry(typ); err != nil {
		t.Fatal(err)
	}
	good := map[string]string{clever.PropSections: `{"*":["5fee004cca2e43cf27000007"]}`}
	if errs := typ.Check(good, map[string]string{clever.SecretToken: "tok"}); len(errs) != 0 {
		t.Fatalf("a valid configuration: %q", errs)
	}
	for _, f := range typ.Properties {
		if errs := clever.Validate(map[string]string{f.Name: "", clever.PropSections: good[clever.PropSections]}, map[string]string{clever.SecretToken: "tok"}); slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, "unknown") }) {
			t.Errorf("property %s is not one Validate knows: %q", f.Name, errs)
		}
	}
	props := map[string]string{clever.PropGradingType: "letter_grade", clever.PropPointsPossible: "-1",
		clever.PropBaseURL: "ftp://x", "colour": "red", clever.SecretClientSecret: "s"}
	errs := typ.Check(props, nil)
	fields := map[string]int{}
	for _, e := range errs {
		f, _, _ := strings.Cut(e, ": ")
		fields[f]++
	}
	for _, f := range []string{"properties.grading_type", "properties.points_possible", "properties.base_url", "properties.colour",
		"properties.client_secret", "properties.sections", "secrets.token"} {
		if fields[f] != 1 {
			t.Errorf("%s is reported %d times, want once: %q", f, fields[f], errs)
		}
	}
}
