package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Equivalent applies the spec's statement comparison rule (Data 2.3.1):
// received, as a client sent it again, is the same statement as stored
// (a statement as kept by the LRS) when they differ only in what the
// immutability exceptions allow: properties the LRS assigns (id,
// authority, stored, version; timestamp when the client sent none), verb
// display, activity definitions, the order of group members, attachments,
// the serialization of timestamps, durations beyond 0.01 s (Data 4.6.s1.b5),
// and the case of case-insensitive values.
func Equivalent(received *Statement, stored []byte) (bool, error) {
	tree, err := decodeTree(stored)
	if err != nil {
		return false, fmt.Errorf("compare with stored statement: %w", err)
	}
	sm, ok := tree.(map[string]any)
	if !ok {
		return false, fmt.Errorf("compare with stored statement: not an object")
	}
	a := comparable(received.m, !received.HasTimestamp())
	b := comparable(sm, !received.HasTimestamp())
	return reflect.DeepEqual(a, b), nil
}

// comparable returns a copy of a statement with everything the comparison
// ignores removed and the rest normalized.
func comparable(m map[string]any, dropTimestamp bool) map[string]any {
	out := deepCopy(m).(map[string]any)
	for _, k := range []string{"id", "authority", "stored", "version", "attachments"} {
		delete(out, k)
	}
	if dropTimestamp {
		delete(out, "timestamp")
	}
	normalizeForCompare(out, "")
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = deepCopy(val)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, val := range x {
			l[i] = deepCopy(val)
		}
		return l
	default:
		return v
	}
}

func normalizeForCompare(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		if key == "extensions" {
			return x
		}
		for k, val := range x {
			switch k {
			case "timestamp":
				if s, ok := val.(string); ok {
					if t, err := parseTimestamp(s); err == nil {
						x[k] = t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
					}
				}
				continue
			case "duration":
				if s, ok := val.(string); ok {
					x[k] = comparableDuration(s)
				}
				continue
			case "mbox", "mbox_sha1sum", "registration":
				if s, ok := val.(string); ok {
					x[k] = strings.ToLower(s)
				}
				continue
			case "verb":
				if vm, ok := val.(map[string]any); ok {
					delete(vm, "display")
				}
			case "definition":
				delete(x, k)
				continue
			case "score":
				if sm, ok := val.(map[string]any); ok {
					for sk, sv := range sm {
						if n, ok := sv.(json.Number); ok {
							f, _ := n.Float64()
							sm[sk] = f
						}
					}
				}
				continue
			}
			if languageMapKeys[k] {
				if lm, ok := val.(map[string]any); ok {
					low := make(map[string]any, len(lm))
					for lk, lv := range lm {
						low[strings.ToLower(lk)] = lv
					}
					x[k] = low
					continue
				}
			}
			x[k] = normalizeForCompare(val, k)
		}
		if x["objectType"] == "StatementRef" {
			if id, ok := x["id"].(string); ok {
				x["id"] = strings.ToLower(id)
			}
		}
		return x
	case []any:
		for i, val := range x {
			x[i] = normalizeForCompare(val, "")
		}
		if key == "member" {
			sort.Slice(x, func(i, j int) bool {
				a, _ := encodeTree(x[i])
				b, _ := encodeTree(x[j])
				return string(a) < string(b)
			})
		}
		return x
	default:
		return v
	}
}

// durationParts captures the designators of a valid duration: weeks, or
// years, months, days, then hours, minutes, seconds.
var durationParts = regexp.MustCompile(`^P(?:(\d+(?:\.\d+)?)W|(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?)$`)

// comparableDuration is the form in which two durations compare equal
// when they agree to the hundredth of a second (Data 4.6.s1.b5; 2.0
// §4.2.7): the time part (hours, minutes, seconds) is a number of seconds,
// truncated to 0.01 s, so PT1M0.1237S, PT60.12S and PT1M0.12S are one
// duration (Data 4.6 counts PT4H35M59.14S and PT16559.14S as the same
// period). Weeks, years, months and days, whose length in seconds varies,
// are compared as numbers. Arithmetic is exact (big.Rat), on numbers
// bounded so that a hostile duration costs no more than a plain one: at
// most 30 integer digits (else the duration compares as written) and 12
// fraction digits (1e-12 h is 3.6 ns).
func comparableDuration(s string) string {
	g := durationParts.FindStringSubmatch(s)
	if g == nil {
		return s
	}
	var n [8]*big.Rat
	for i := 1; i < len(g); i++ {
		n[i] = new(big.Rat)
		if g[i] == "" {
			continue
		}
		whole, frac, _ := strings.Cut(g[i], ".")
		if len(whole) > 30 {
			return s
		}
		if len(frac) > 12 {
			frac = frac[:12]
		}
		n[i].SetString(whole + "." + frac + "0") // digits only, by the pattern
	}
	secs := new(big.Rat).Mul(n[5], big.NewRat(3600, 1))
	secs.Add(secs, new(big.Rat).Mul(n[6], big.NewRat(60, 1)))
	secs.Add(secs, n[7])
	secs.Mul(secs, big.NewRat(100, 1))
	hundredths := new(big.Int).Quo(secs.Num(), secs.Denom()) // non-negative: truncation
	return fmt.Sprintf("P%sW%sY%sM%sDT%s", n[1].RatString(), n[2].RatString(),
		n[3].RatString(), n[4].RatString(), hundredths.String())
}
