package schema

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The checks written out for speed are held to the rules they replace:
// timestampParts to the regular expression of a timestamp, and
// languageTagASCII to languageTagWellFormed, on every input where it
// decides.

var timestampExpr = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}(?::?\d{2})?)$`)

func checkTimestampParts(t *testing.T, s string) {
	t.Helper()
	g, ok := timestampParts(s)
	want := timestampExpr.FindStringSubmatch(s)
	if ok != (want != nil) {
		t.Fatalf("timestampParts(%q) ok = %v, the expression matches: %v", s, ok, want != nil)
	}
	if ok && !slicesEqual(g[:], want) {
		t.Fatalf("timestampParts(%q) = %q, the expression's groups are %q", s, g, want)
	}
}

func checkLanguageTag(t *testing.T, tag string) {
	t.Helper()
	if ok, decided := languageTagASCII(tag); decided && ok != languageTagWellFormed(tag) {
		t.Fatalf("languageTagASCII(%q) = %v, the rule says %v", tag, ok, !ok)
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var timestampSeeds = []string{
	"2026-11-25T10:00:00Z", "2026-11-25t10:00:00z", "2026-11-25 10:00:00.123456789+01:00", "2026-11-25T10:00:00.1-0530",
	"2026-11-25T10:00:00+01", "2026-11-25T10:00:00+01:", "2026-11-25T10:00:00+1", "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00",
	"2026-11-25T10:00:00ZZ", "2026-11-25T10:00:00+01:00:00", "2026-11-25X10:00:00Z", "226-11-25T10:00:00Z", "2026-1-25T10:00:00Z",
	"2026-11-25T10:00:60.5-00:00", "२०२६-11-25T10:00:00Z", "2026-11-25T10:00:00+0100", "2026-11-25T10:00:00+01:0", "",
}

func TestTimestampPartsMatchesExpression(t *testing.T) {
	for _, s := range timestampSeeds {
		checkTimestampParts(t, s)
	}
	pieces := []string{"2026", "-", "11", "25", "T", "t", " ", "10", ":", "00", ".", "5", "123456789123", "Z", "z", "+", "-", "01", "0100", "1", "x", ""}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b strings.Builder
		for range 1 + r.IntN(14) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		checkTimestampParts(t, b.String())
		// And a valid timestamp with one byte changed.
		s := []byte(timestampSeeds[r.IntN(5)])
		s[r.IntN(len(s))] = "0123456789-:.+TZtz x"[r.IntN(20)]
		checkTimestampParts(t, string(s))
	}
}

func TestLanguageTagFastPathMatchesRule(t *testing.T) {
	subtags := []string{"en", "EN", "us", "US", "x", "X", "i", "klingon", "1234", "abcde", "zh", "hant", "Latn", "419", "a", "b",
		"de", "ch", "1996", "fonipa", "", "123", "abcdefghi", "gb", "oed", "yue", "cmn", "abc", "q", "12", "é", "sgn", "be", "fr"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 300000 {
		n := 1 + r.IntN(10)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = subtags[r.IntN(len(subtags))]
		}
		checkLanguageTag(t, strings.Join(parts, "-"))
	}
	for tag := range irregularTags {
		checkLanguageTag(t, tag)
		checkLanguageTag(t, strings.ToUpper(tag))
	}
}

func FuzzTimestampParts(f *testing.F) {
	for _, s := range timestampSeeds {
		f.Add(s)
	}
	f.Fuzz(checkTimestampParts)
}

func FuzzLanguageTag(f *testing.F) {
	for _, s := range []string{"en-US", "zh-Hant-HK", "x-private", "en-a-bbb-x-a", "de-CH-1996-1996", "i-klingon", "EN-GB-OED", "sl-rozaj-biske"} {
		f.Add(s)
	}
	f.Fuzz(checkLanguageTag)
}
