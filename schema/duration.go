package schema

import "strconv"

// ValidDuration reports whether s is an ISO 8601 duration as xAPI allows
// in result.duration (PnW, or PnYnMnDTnHnMnS with any part omitted).
func ValidDuration(s string) bool { return validDuration(s) }

// DurationSeconds is the length of the valid duration s in seconds, with
// a week of 7 days and a day of 24 hours; ok is false when s is not valid
// or has years or months, whose length varies.
func DurationSeconds(s string) (secs float64, ok bool) {
	if !validDuration(s) {
		return 0, false
	}
	g := durationParts.FindStringSubmatch(s)
	if g == nil || g[2] != "" || g[3] != "" {
		return 0, false
	}
	for i, unit := range [8]float64{0, 7 * 86400, 0, 0, 86400, 3600, 60, 1} {
		if g[i] == "" || unit == 0 {
			continue
		}
		n, err := strconv.ParseFloat(g[i], 64)
		if err != nil {
			return 0, false
		}
		secs += n * unit
	}
	return secs, true
}
