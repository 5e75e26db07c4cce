package schema_test

import (
	"testing"

	"github.com/lrs-project/lrs/schema"
)

func TestDurationSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		secs float64
		ok   bool
	}{
		{"PT12M30S", 750, true},
		{"PT1H0.5S", 3600.5, true},
		{"P1DT1S", 86401, true},
		{"P2W", 14 * 86400, true},
		{"PT0S", 0, true},
		{"P1M", 0, false}, // months vary
		{"P1Y2D", 0, false},
		{"PT", 0, false},
		{"12 minutes", 0, false},
	} {
		secs, ok := schema.DurationSeconds(tc.in)
		if secs != tc.secs || ok != tc.ok || schema.ValidDuration(tc.in) != (tc.ok || tc.in == "P1M" || tc.in == "P1Y2D") {
			t.Errorf("%q: %v %v (valid %v), want %v %v", tc.in, secs, ok, schema.ValidDuration(tc.in), tc.secs, tc.ok)
		}
	}
}
