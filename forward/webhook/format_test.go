package webhook

import (
	"strings"
	"testing"
	"time"
)

func numV(t *testing.T, f float64) value {
	t.Helper()
	v, ok := numberValue(f)
	if !ok {
		t.Fatalf("numberValue(%v) failed", f)
	}
	return v
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestFormats applies every format of the vocabulary to values of each
// kind it takes, with the JSON and the text it must give.
func TestFormats(t *testing.T) {
	chicago := mustZone(t, "America/Chicago")
	berlin := mustZone(t, "Europe/Berlin")
	kolkata := mustZone(t, "Asia/Kolkata")
	// 2026-03-08 07:59:59Z is 01:59:59 CST, one second before Chicago
	// springs forward; 08:00:00Z is 03:00:00 CDT.
	beforeJump := time.Date(2026, 3, 8, 7, 59, 59, 0, time.UTC)
	afterJump := beforeJump.Add(time.Second)
	// 2026-11-01 06:30Z is 01:30 CDT, 07:30Z is 01:30 CST (the hour repeats).
	firstPass := time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)
	secondPass := firstPass.Add(time.Hour)
	// 2026-09-02 23:30Z is the next day in Berlin and Kolkata.
	late := time.Date(2026, 9, 2, 23, 30, 15, 0, time.UTC)
	str := func(s string) value { return value{kind: KindString, s: s} }
	bl := func(b bool) value { return value{kind: KindBool, b: b} }
	at := func(t time.Time) value { return value{kind: KindTime, t: t} }
	dur := func(d time.Duration) value { return value{kind: KindDuration, d: d} }

	cases := []struct {
		name     string
		format   string
		v        value
		loc      *time.Location
		wantJSON string
		wantText string // defaults to wantJSON without quotes
	}{
		{"natural string", "", str("Ada"), nil, `"Ada"`, "Ada"},
		{"natural number", "", numV(t, 1.5), nil, `1.5`, ""},
		{"natural bool", "", bl(true), nil, `true`, ""},
		{"natural time is rfc3339 in the zone", "", at(late), berlin, `"2026-09-03T01:30:15+02:00"`, ""},
		{"natural duration is iso8601", "", dur(90 * time.Minute), nil, `"PT1H30M"`, ""},
		{"string of a number", "string", numV(t, 92), nil, `"92"`, "92"},
		{"string of a bool", "string", bl(false), nil, `"false"`, "false"},
		{"string escapes quotes", "string", str(`say "hi"`), nil, `"say \"hi\""`, `say "hi"`},
		{"lower", "lower", str("Ada@Example.COM"), nil, `"ada@example.com"`, ""},
		{"upper", "upper", str("ce"), nil, `"CE"`, ""},
		{"upper of unicode", "upper", str("élan"), nil, `"ÉLAN"`, ""},
		{"int rounds half away from zero", "int", numV(t, 2.5), nil, `3`, ""},
		{"int rounds negative half away from zero", "int", numV(t, -2.5), nil, `-3`, ""},
		{"int of numeric text", "int", str("00123"), nil, `123`, ""},
		{"decimal keeps the exact value", "decimal", numV(t, 0.1), nil, `0.1`, ""},
		{"decimal:2 pads", "decimal:2", numV(t, 1.5), nil, `1.50`, ""},
		{"decimal:2 rounds 1.005 up (decimal, not binary)", "decimal:2", numV(t, 1.005), nil, `1.01`, ""},
		{"decimal:0", "decimal:0", numV(t, 7.49), nil, `7`, ""},
		{"decimal:2 of text", "decimal:2", str("3.14159"), nil, `3.14`, ""},
		{"decimal never gives -0", "decimal:1", numV(t, -0.04), nil, `0.0`, ""},
		{"percent", "percent", numV(t, 0.92), nil, `92`, ""},
		{"percent keeps two decimals", "percent", numV(t, 0.12345), nil, `12.35`, ""},
		{"percent:1 rounds 0.285 to 28.5 exactly", "percent:1", numV(t, 0.285), nil, `28.5`, ""},
		{"percent:0 half up", "percent:0", numV(t, 0.285), nil, `29`, ""},
		{"percent:2 pads", "percent:2", numV(t, 0.9), nil, `90.00`, ""},
		{"percent of a negative scaled score", "percent", numV(t, -0.5), nil, `-50`, ""},
		{"points", "points:50", numV(t, 0.92), nil, `46`, ""},
		{"points keeps two decimals", "points:7", numV(t, 0.333), nil, `2.33`, ""},
		{"points with decimals", "points:10:1", numV(t, 0.25), nil, `2.5`, ""},
		{"points decimal max", "points:2.5", numV(t, 0.5), nil, `1.25`, ""},
		{"bool true", "bool", bl(true), nil, `true`, ""},
		{"bool false", "bool", bl(false), nil, `false`, ""},
		{"bool:Y/N yes", "bool:Y/N", bl(true), nil, `"Y"`, "Y"},
		{"bool:Y/N no", "bool:Y/N", bl(false), nil, `"N"`, "N"},
		{"bool:1/0 sends numbers", "bool:1/0", bl(true), nil, `1`, ""},
		{"bool:1/0 zero", "bool:1/0", bl(false), nil, `0`, ""},
		{"bool with words", "bool:Passed/Failed", bl(false), nil, `"Failed"`, "Failed"},
		{"enum of a status", `enum:{passed:"Complete",failed:"Incomplete"}`, str("passed"), nil, `"Complete"`, "Complete"},
		{"enum default", `enum:{passed:"Complete",*:"Other"}`, str("incomplete"), nil, `"Other"`, "Other"},
		{"enum of a bool", `enum:{true:"Y",false:"N"}`, bl(true), nil, `"Y"`, "Y"},
		{"enum bare number value", `enum:{passed:1,failed:0}`, str("failed"), nil, `0`, ""},
		{"enum quoted key with spaces", `enum:{"Gold Member":"GM", other : "O"}`, str("Gold Member"), nil, `"GM"`, "GM"},
		{"enum of a number", `enum:{1:"one",2:"two"}`, numV(t, 2), nil, `"two"`, "two"},
		{"enum value with escapes", `enum:{a:"tab\there"}`, str("a"), nil, `"tab\there"`, "tab\there"},
		{"date:rfc3339 UTC", "date:rfc3339", at(late), time.UTC, `"2026-09-02T23:30:15Z"`, ""},
		{"date:rfc3339 in Kolkata (half-hour offset)", "date:rfc3339", at(late), kolkata, `"2026-09-03T05:00:15+05:30"`, ""},
		{"date:YYYY-MM-DD crosses the day in Berlin", "date:YYYY-MM-DD", at(late), berlin, `"2026-09-03"`, ""},
		{"date:YYYY-MM-DD same day in Chicago", "date:YYYY-MM-DD", at(late), chicago, `"2026-09-02"`, ""},
		{"date:MM/DD/YYYY", "date:MM/DD/YYYY", at(late), chicago, `"09/02/2026"`, ""},
		{"date with a time layout", "date:DD.MM.YYYY HH:mm:ss", at(late), berlin, `"03.09.2026 01:30:15"`, ""},
		{"date:unix ignores the zone", "date:unix", at(late), kolkata, `1788391815`, ""},
		{"date:unix_ms", "date:unix_ms", at(late.Add(250 * time.Millisecond)), nil, `1788391815250`, ""},
		{"DST: the second before the spring jump", "date:rfc3339", at(beforeJump), chicago, `"2026-03-08T01:59:59-06:00"`, ""},
		{"DST: the spring jump skips 02:00", "date:rfc3339", at(afterJump), chicago, `"2026-03-08T03:00:00-05:00"`, ""},
		{"DST: first 01:30 in autumn is CDT", "date:rfc3339", at(firstPass), chicago, `"2026-11-01T01:30:00-05:00"`, ""},
		{"DST: second 01:30 in autumn is CST", "date:rfc3339", at(secondPass), chicago, `"2026-11-01T01:30:00-06:00"`, ""},
		{"DST: both autumn 01:30s have the same local date", "date:MM/DD/YYYY", at(secondPass), chicago, `"11/01/2026"`, ""},
		{"duration:iso8601", "duration:iso8601", dur(time.Hour + 2*time.Minute + 3500*time.Millisecond), nil, `"PT1H2M3.5S"`, ""},
		{"duration:iso8601 zero", "duration:iso8601", dur(0), nil, `"PT0S"`, ""},
		{"duration:iso8601 hundredths", "duration:iso8601", dur(1234 * time.Millisecond), nil, `"PT1.23S"`, ""},
		{"duration:seconds", "duration:seconds", dur(90500 * time.Millisecond), nil, `90.5`, ""},
		{"duration:seconds:0", "duration:seconds:0", dur(90500 * time.Millisecond), nil, `91`, ""},
		{"duration:minutes", "duration:minutes", dur(100 * time.Second), nil, `1.67`, ""},
		{"duration:hours", "duration:hours", dur(90 * time.Minute), nil, `1.5`, ""},
		{"duration:hours:2", "duration:hours:2", dur(20 * time.Minute), nil, `0.33`, ""},
		{"mailto", "mailto", str("ada@example.com"), nil, `"mailto:ada@example.com"`, ""},
		{"mailto keeps an existing prefix", "mailto", str("MAILTO:ada@example.com"), nil, `"MAILTO:ada@example.com"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFormat(tc.format)
			if err != nil {
				t.Fatalf("parseFormat(%q): %v", tc.format, err)
			}
			if why := f.accepts(tc.v.kind); why != "" {
				t.Fatalf("format %q refuses a %s: %s", tc.format, tc.v.kind, why)
			}
			loc := tc.loc
			if loc == nil {
				loc = time.UTC
			}
			o, err := f.apply(tc.v, loc)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if string(o.raw) != tc.wantJSON {
				t.Errorf("JSON %s, want %s", o.raw, tc.wantJSON)
			}
			want := tc.wantText
			if want == "" {
				want = strings.Trim(tc.wantJSON, `"`)
			}
			if o.text != want {
				t.Errorf("text %q, want %q", o.text, want)
			}
		})
	}
}

// TestFormatValueErrors: values a format cannot take fail the item with a
// message, never a panic or a silent default.
func TestFormatValueErrors(t *testing.T) {
	cases := []struct {
		format string
		v      value
		want   string
	}{
		{"int", value{kind: KindString, s: "A-17"}, `"A-17" is not a number`},
		{"decimal:2", value{kind: KindString, s: "1/2"}, `"1/2" is not a number`},
		{"int", value{kind: KindString, s: "0x10"}, `"0x10" is not a number`},
		{`enum:{passed:"P"}`, value{kind: KindString, s: "failed"}, `"failed" has no entry`},
	}
	for _, tc := range cases {
		f, err := parseFormat(tc.format)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.apply(tc.v, time.UTC)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s of %+v: error %v, want %q", tc.format, tc.v, err, tc.want)
		}
	}
}

// TestParseFormatErrors lists the format strings validation refuses.
func TestParseFormatErrors(t *testing.T) {
	cases := []struct{ format, want string }{
		{"percentage", "unknown format"},
		{"decimal:x", "decimals"},
		{"decimal:10", "decimals"},
		{"decimal:-1", "decimals"},
		{"decimal:02", "decimals"},
		{"percent:1.5", "decimals"},
		{"points", "positive maximum"},
		{"points:0", "positive maximum"},
		{"points:abc", "positive maximum"},
		{"points:50:x", "decimals"},
		{"bool:Y", "two different words"},
		{"bool:Y/Y", "two different words"},
		{"bool:/N", "two different words"},
		{"bool:a/b/c", "two different words"},
		{"enum", "needs a map"},
		{"enum:passed=Complete", "want {key"},
		{`enum:{}`, "no entries"},
		{`enum:{passed:"A",passed:"B"}`, "given twice"},
		{`enum:{*:"A",*:"B"}`, "given twice"},
		{`enum:{passed:"A" failed:"B"}`, "want ',' or '}'"},
		{`enum:{passed "A"}`, "want ':'"},
		{`enum:{passed:"unterminated}`, "quoted string"},
		{"date:", "empty date layout"},
		{"date:YYYY-MM-DDx", "unknown element"},
		{"date:yyyy-mm-dd", "unknown element"},
		{"date:iso", "unknown element"},
		{"duration", "want duration:iso8601"},
		{"duration:days", "want duration:iso8601"},
		{"duration:iso8601:2", "takes no decimals"},
		{"duration:hours:x", "decimals"},
		{"string:x", "takes no argument"},
		{"mailto:x", "takes no argument"},
	}
	for _, tc := range cases {
		_, err := parseFormat(tc.format)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFormat(%q) = %v, want an error with %q", tc.format, err, tc.want)
		}
	}
}

// TestFormatKinds: a format refuses a source of the wrong kind at
// validation time.
func TestFormatKinds(t *testing.T) {
	cases := []struct {
		format string
		kind   Kind
		ok     bool
	}{
		{"percent", KindString, false},
		{"percent", KindNumber, true},
		{"int", KindString, true},
		{"int", KindBool, false},
		{"bool:Y/N", KindNumber, false},
		{"date:rfc3339", KindString, false},
		{"date:rfc3339", KindTime, true},
		{"duration:hours", KindTime, false},
		{"mailto", KindNumber, false},
		{"enum:{a:b}", KindTime, false},
		{"enum:{a:b}", KindBool, true},
		{"const", KindString, false},
		{"upper", KindTime, true},
	}
	for _, tc := range cases {
		f, err := parseFormat(tc.format)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.accepts(tc.kind) == ""; got != tc.ok {
			t.Errorf("format %s on a %s: accepted %v, want %v", tc.format, tc.kind, got, tc.ok)
		}
	}
}
