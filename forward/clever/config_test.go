package clever

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	sec1 = "5fee004cca2e43cf27000007"
	sec2 = "5fee004cca2e43cf27000008"
	dist = "5b2ad81a709e300001e2cd7a"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	errs := Validate(map[string]string{
		PropSections:        `{"obj-1":["nothex"],"obj-2":{"course":"x"},"obj-3":[],"obj-4":5}`,
		PropGradingType:     "letter_grade",
		PropPointsPossible:  "-3",
		PropSubmissionTypes: "text, video",
		PropMaxAttempts:     "1.5",
		PropDueDateOffset:   "-1h",
		PropGraderID:        "teacher",
		PropBaseURL:         "ftp://clever",
		PropTokenURL:        "https://user:pw@clever.com/oauth/tokens",
		PropRateLimit:       "5",
		PropTitleTemplate:   "{{.Nope}}",
		PropDescription:     "{{",
		"token":             "in the properties",
		"colour":            "blue",
	}, map[string]string{"password": "x"})
	text := strings.Join(errs, "\n")
	for _, want := range []string{
		"properties.token: is a secret",
		"properties.colour: unknown property",
		"secrets.password: unknown secret",
		"secrets.token: is required",
		"properties.grader_id:",
		"properties.base_url:",
		"properties.token_url:",
		`obj-1: section "nothex" is not a Clever id`,
		`obj-2: course "x" is not a Clever id`,
		"obj-3: lists no section",
		"obj-4: want an array of section ids",
		"properties.title_template:",
		"properties.description:",
		"properties.grading_type: letter_grade is not supported",
		"properties.points_possible:",
		`properties.submission_types: "video"`,
		"properties.max_attempts:",
		"properties.due_date_offset:",
		"properties.rate_limit:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "in the properties") {
		t.Errorf("a secret value is echoed:\n%s", text)
	}
}

func TestValidateCredentials(t *testing.T) {
	props := map[string]string{PropSections: `{"*":["` + sec1 + `"]}`}
	for _, tc := range []struct {
		name    string
		props   map[string]string
		secrets map[string]string
		want    string // "" for valid
	}{
		{"token", nil, map[string]string{SecretToken: "t"}, ""},
		{"client credentials", map[string]string{PropDistrictID: dist}, map[string]string{SecretClientID: "id", SecretClientSecret: "s"}, ""},
		{"client id as a property", map[string]string{PropDistrictID: dist, PropClientID: "id"}, map[string]string{SecretClientSecret: "s"}, ""},
		{"both", nil, map[string]string{SecretToken: "t", SecretClientSecret: "s"}, "not both"},
		{"no district", nil, map[string]string{SecretClientID: "id", SecretClientSecret: "s"}, "properties.district_id: is required"},
		{"no secret", map[string]string{PropDistrictID: dist}, map[string]string{SecretClientID: "id"}, "secrets.client_secret: is required"},
		{"bad district", map[string]string{PropDistrictID: "D1"}, map[string]string{SecretToken: "t"}, "properties.district_id: want a Clever id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]string{}
			for k, v := range props {
				p[k] = v
			}
			for k, v := range tc.props {
				p[k] = v
			}
			errs := strings.Join(Validate(p, tc.secrets), "; ")
			if tc.want == "" && errs != "" || tc.want != "" && !strings.Contains(errs, tc.want) {
				t.Fatalf("got %q, want %q", errs, tc.want)
			}
		})
	}
}

func TestParseDefaultsAndMapping(t *testing.T) {
	c, err := Parse(map[string]string{
		PropSections:      `{"obj-1":["` + sec2 + `","` + sec1 + `","` + sec1 + `"],"obj-2":{"course":"` + dist + `"},"*":["` + sec1 + `"]}`,
		PropDueDateOffset: "14d",
	}, map[string]string{SecretToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL.String() != DefaultBaseURL || c.TokenURL.String() != DefaultTokenURL || c.RateLimit != 1200 || c.PointsPossible != 100 ||
		c.GradingType != GradingPoints || c.MaxAttempts != 1 || c.DueDateOffset != 14*24*time.Hour || strings.Join(c.SubmissionTypes, ",") != "text" {
		t.Fatalf("defaults %+v", c)
	}
	if tg, _ := c.target("obj-1"); strings.Join(tg.Sections, ",") != sec1+","+sec2 {
		t.Fatalf("obj-1 → %+v", tg)
	}
	if tg, _ := c.target("obj-2"); tg.Course != dist {
		t.Fatalf("obj-2 → %+v", tg)
	}
	if tg, ok := c.target("other"); !ok || tg.Sections[0] != sec1 {
		t.Fatalf("other → %+v", tg)
	}
	title, _ := render(c.Title, TemplateData{Objective: strings.Repeat("é", 200)})
	if len(title) > maxText || !strings.HasPrefix(title, "éé") || !strings.HasSuffix(title, "é") {
		t.Fatalf("title cut badly: %d bytes", len(title))
	}
}

func TestGrade(t *testing.T) {
	b := func(v bool) *bool { return &v }
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name    string
		grading string
		r       Result
		grade   string
		points  float64
		comment string
	}{
		{"scaled", GradingPoints, Result{Success: b(true), Scaled: f(0.923)}, "92.3", 92.3, "Passed, score 92.3%"},
		{"scaled over raw", GradingPoints, Result{Scaled: f(0.5), Raw: f(9), Min: f(0), Max: f(10)}, "50", 50, "Score 50%"},
		{"raw with its range", GradingPoints, Result{Completed: b(true), Raw: f(30), Min: f(10), Max: f(50)}, "50", 50, "Completed, score 50%"},
		{"negative scaled", GradingPoints, Result{Success: b(false), Scaled: f(-0.4)}, "0", 0, "Failed, score 0%"},
		{"raw without range is not guessed", GradingPoints, Result{Success: b(true), Raw: f(850)}, "100", 100, "Passed"},
		{"success only", GradingPoints, Result{Success: b(false)}, "0", 0, "Failed"},
		{"completion only", GradingPoints, Result{Completed: b(true)}, "100", 100, "Completed"},
		{"percent", GradingPercent, Result{Scaled: f(0.875)}, "87.5%", 87.5, "Score 87.5%"},
		{"pass", GradingPassFail, Result{Success: b(true), Scaled: f(0.2)}, "pass", 100, "Passed, score 20%"},
		{"fail", GradingPassFail, Result{Success: b(false)}, "fail", 0, "Failed"},
		{"pass by completion", GradingPassFail, Result{Completed: b(true)}, "pass", 100, "Completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{GradingType: tc.grading, PointsPossible: 100, GraderID: sec1}
			req, err := c.grade(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if *req.Grade != tc.grade || *req.GradePoints != tc.points || *req.GradeComment != tc.comment || req.State != "returned" || req.GraderID != sec1 {
				t.Fatalf("grade %q, points %v, comment %q, state %s", *req.Grade, *req.GradePoints, *req.GradeComment, req.State)
			}
		})
	}
	for _, r := range []Result{{}, {Completed: b(false)}, {Raw: f(3)}} {
		for _, g := range []string{GradingPoints, GradingPassFail} {
			if _, err := (Config{GradingType: g, PointsPossible: 10}).grade(r); !errors.Is(err, errNotGradable) {
				t.Errorf("%s %+v: %v, want not gradable", g, r, err)
			}
		}
	}
}

// stepClock is a clock that moves only when told, and records sleeps.
type stepClock struct {
	now    time.Time
	slept  time.Duration
	sleeps int
}

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) Sleep(_ context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
	return nil
}

func TestLimiterKeepsEveryMinuteUnderTheAllowance(t *testing.T) {
	if got := Allowance(1200, 1); got != 1188 {
		t.Fatalf("allowance %d", got)
	}
	if got := Allowance(1200, 0.25); got != 297 {
		t.Fatalf("quarter allowance %d", got)
	}
	c := &stepClock{now: time.Date(2026, 1, 1, 0, 0, 17, 0, time.UTC)}
	l := NewLimiters(c, 1).forToken("tok", 1200)
	var sent []time.Time
	for range 5000 {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, c.now)
	}
	// Any 60-second interval, not only aligned windows.
	for i, j := 0, 0; i < len(sent); i++ {
		for j < len(sent) && sent[j].Sub(sent[i]) < time.Minute {
			j++
		}
		if j-i > 1188 {
			t.Fatalf("%d requests in the minute from %v", j-i, sent[i])
		}
	}
	if elapsed := sent[len(sent)-1].Sub(sent[0]); elapsed.Minutes() > 5000.0/1187 {
		t.Fatalf("5000 requests took %v", elapsed)
	}
}

func TestLimiterStopsOnClevers429AndExhaustedWindow(t *testing.T) {
	c := &stepClock{now: time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)}
	reset := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("X-RateLimit-Reset", "1767225660")
	for _, tc := range []struct {
		name      string
		status    int
		remaining string
		stop      time.Duration
	}{
		{"ok", 200, "10", 0},
		{"exhausted", 200, "0", 50 * time.Second},
		{"429", 429, "0", 50 * time.Second},
	} {
		l := NewLimiters(c, 1).forToken("tok", 1200)
		h.Set("X-RateLimit-Remaining", tc.remaining)
		if got := l.observe(tc.status, h); got != tc.stop {
			t.Fatalf("%s: stop %v, want %v", tc.name, got, tc.stop)
		}
		before := c.now
		_ = l.wait(context.Background())
		if tc.stop > 0 && c.now.Before(reset) || tc.stop == 0 && c.now != before {
			t.Fatalf("%s: the next request at %v", tc.name, c.now)
		}
		c.now = before
	}
	// A 429 without a reset waits a minute; a far reset is capped.
	l := NewLimiters(c, 1).forToken("other", 1200)
	if got := l.observe(429, http.Header{}); got != time.Minute {
		t.Fatalf("no reset header: %v", got)
	}
	far := http.Header{}
	far.Set("X-RateLimit-Reset", "1999999999")
	if got := l.observe(429, far); got != maxBlock {
		t.Fatalf("far reset: %v", got)
	}
}
