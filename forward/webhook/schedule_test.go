package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/webhook"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func sched(t *testing.T, expr, zone string) *webhook.Schedule {
	t.Helper()
	s, err := webhook.ParseSchedule(0, 0, expr, zone)
	if err != nil {
		t.Fatalf("ParseSchedule(%q, %q): %v", expr, zone, err)
	}
	return s
}

// runs lists the next n runs after from, in RFC 3339 with the zone's
// offset.
func runs(s *webhook.Schedule, from time.Time, n int) []string {
	var out []string
	for range n {
		from = s.Next(from)
		out = append(out, from.In(s.Zone).Format(time.RFC3339))
	}
	return out
}

// TestScheduleAcrossDST: a daily time runs once a day even when the clock
// goes back, and right at the jump when the clock skips it; an hourly
// schedule follows real hours.
func TestScheduleAcrossDST(t *testing.T) {
	ny := zone(t, "America/New_York")
	cases := []struct {
		name, expr, zone string
		from             time.Time
		want             []string
	}{
		{"daily 02:30 on the spring-forward day runs at the jump", "30 2 * * *", "America/New_York",
			time.Date(2026, 3, 7, 12, 0, 0, 0, ny),
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"}},
		{"daily 02:00 on the spring-forward day runs at the jump", "0 2 * * *", "America/New_York",
			time.Date(2026, 3, 8, 0, 0, 0, 0, ny),
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{"daily 01:30 on the fall-back day runs once", "30 1 * * *", "America/New_York",
			time.Date(2026, 10, 31, 12, 0, 0, 0, ny),
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"}},
		{"from inside the repeated hour, the next day", "30 1 * * *", "America/New_York",
			time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC), // 01:10 EST, the second pass
			[]string{"2026-11-02T01:30:00-05:00"}},
		{"hourly at fall-back runs both 01:00s", "0 * * * *", "America/New_York",
			time.Date(2026, 11, 1, 0, 30, 0, 0, ny),
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"hourly at spring-forward skips the missing hour", "0 * * * *", "America/New_York",
			time.Date(2026, 3, 8, 0, 30, 0, 0, ny),
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{"@daily in Berlin across its own change", "@daily", "Europe/Berlin",
			time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
			[]string{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"}},
		{"Berlin 02:30 on its spring-forward day", "30 2 * * *", "Europe/Berlin",
			time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"Lord Howe's half-hour shift", "15 2 * * *", "Australia/Lord_Howe",
			time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC), // clocks go 02:00 → 02:30 on Oct 4
			[]string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"weekdays at 05:00 UTC", "0 5 * * 1-5", "",
			time.Date(2026, 9, 4, 6, 0, 0, 0, time.UTC), // a Friday after 05:00
			[]string{"2026-09-07T05:00:00Z", "2026-09-08T05:00:00Z"}},
		{"monthly", "@monthly", "Asia/Tokyo",
			time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC), // Feb 1 00:00 JST
			[]string{"2026-03-01T00:00:00+09:00", "2026-04-01T00:00:00+09:00"}},
		{"every two hours", "0 */2 * * *", "UTC",
			time.Date(2026, 9, 2, 1, 0, 0, 0, time.UTC),
			[]string{"2026-09-02T02:00:00Z", "2026-09-02T04:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sched(t, tc.expr, tc.zone)
			if got := runs(s, tc.from, len(tc.want)); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("runs %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestScheduleNextIsStrict: at a run time, the next run is the one after.
func TestScheduleNextIsStrict(t *testing.T) {
	s := sched(t, "0 2 * * *", "Europe/Berlin")
	at := time.Date(2026, 9, 2, 2, 0, 0, 0, zone(t, "Europe/Berlin"))
	if got := s.Next(at); !got.Equal(at.AddDate(0, 0, 1)) {
		t.Errorf("Next(%v) = %v", at, got)
	}
	if got := s.Next(at.Add(-time.Nanosecond)); !got.Equal(at) {
		t.Errorf("Next just before = %v", got)
	}
}

func TestDue(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	base := time.Date(2026, 9, 2, 1, 0, 0, 0, berlin) // 01:00, the batch runs at 02:00
	items, err := webhook.ParseSchedule(3, 0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	wait, err := webhook.ParseSchedule(0, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	nightly, err := webhook.ParseSchedule(0, 0, "0 2 * * *", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	both, err := webhook.ParseSchedule(100, 30*time.Minute, "0 2 * * *", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	two := time.Date(2026, 9, 2, 2, 0, 0, 0, berlin)
	cases := []struct {
		name         string
		s            *webhook.Schedule
		last, oldest time.Time
		queued       int
		now          time.Time
		send         bool
		wake         time.Time
	}{
		{"nothing queued", nightly, base, base, 0, two.Add(time.Hour), false, time.Time{}},
		{"max items not reached", items, base, base, 2, base, false, time.Time{}},
		{"max items reached", items, base, base, 3, base, true, time.Time{}},
		{"max wait not reached", wait, base, base, 1, base.Add(59 * time.Minute), false, base.Add(time.Hour)},
		{"max wait reached", wait, base, base, 1, base.Add(time.Hour), true, time.Time{}},
		{"before the nightly time", nightly, base.Add(-23 * time.Hour), base, 5, two.Add(-time.Second), false, two},
		{"at the nightly time", nightly, base.Add(-23 * time.Hour), base, 5, two, true, time.Time{}},
		{"after a three-day outage: once", nightly, two.AddDate(0, 0, -3), base, 5, two.Add(5 * time.Hour), true, time.Time{}},
		{"already sent tonight", nightly, two, base, 5, two.Add(time.Hour), false, two.AddDate(0, 0, 1)},
		{"max wait before the schedule", both, base.Add(-time.Hour), base, 1, base.Add(10 * time.Minute), false, base.Add(30 * time.Minute)},
		{"schedule before max wait", both, base.Add(-time.Hour), two.Add(-10 * time.Minute), 1, two.Add(-5 * time.Minute), false, two},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send, wake := tc.s.Due(tc.last, tc.oldest, tc.queued, tc.now)
			if send != tc.send || !wake.Equal(tc.wake) {
				t.Fatalf("Due = %v, %v; want %v, %v", send, wake, tc.send, tc.wake)
			}
		})
	}
	// After sending, recording now as the last send waits for the next
	// night: one batch for the missed nights, not three.
	s, _ := nightly.Due(two.AddDate(0, 0, -3), base, 5, two.Add(5*time.Hour))
	again, wake := nightly.Due(two.Add(5*time.Hour), base, 5, two.Add(5*time.Hour+time.Minute))
	if !s || again || !wake.Equal(two.AddDate(0, 0, 1)) {
		t.Errorf("after the catch-up: %v then %v, %v", s, again, wake)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	cases := []struct {
		items int
		wait  time.Duration
		expr  string
		zone  string
		want  string
	}{
		{0, 0, "", "", "needs max_items, max_wait or a schedule"},
		{-1, 0, "", "", "want 1 to 1000"},
		{0, time.Second, "", "", "max_wait 1s"},
		{0, 0, "61 * * * *", "", "61 * * * *"},
		{0, 0, "* * *", "", "* * *"},
		{0, 0, "0 2 31 2 *", "", "never fires"},
		{0, 0, "@every 5m", "", "use max_wait"},
		{0, 0, "0 2 * * *", "Nowhere/Zone", "unknown time zone"},
	}
	for _, tc := range cases {
		_, err := webhook.ParseSchedule(tc.items, tc.wait, tc.expr, tc.zone)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSchedule(%d, %v, %q, %q) = %v, want …%s…", tc.items, tc.wait, tc.expr, tc.zone, err, tc.want)
		}
	}
}
