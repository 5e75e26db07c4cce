package webhook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when a batch (or a file) is sent: when MaxItems results
// are queued, when the oldest queued result has waited MaxWait, or at the
// times of a cron expression in a named time zone, whichever comes first.
type Schedule struct {
	MaxItems int
	MaxWait  time.Duration
	// Cron is empty or a five-field cron expression ("0 2 * * *" is
	// 02:00 daily) or a descriptor (@hourly, @daily, @weekly, @monthly).
	Cron string
	Zone *time.Location

	spec     cron.Schedule
	wallSpec *cron.SpecSchedule // Cron read on the wall clock (hour not "*")
}

// Limits of schedules.
const (
	MaxBatchItems   = 1000
	DefaultMaxItems = 100 // items per request when MaxItems is not set
	minWait         = time.Minute
	maxWait         = 7 * 24 * time.Hour
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule builds a schedule; zone is an IANA name ("" is UTC).
func ParseSchedule(maxItems int, wait time.Duration, expr, zone string) (*Schedule, error) {
	var errs []error
	loc, err := loadZone(zone)
	if err != nil {
		errs = append(errs, err)
		loc = time.UTC
	}
	s := &Schedule{MaxItems: maxItems, MaxWait: wait, Cron: strings.TrimSpace(expr), Zone: loc}
	if maxItems < 0 || maxItems > MaxBatchItems {
		errs = append(errs, fmt.Errorf("max_items %d: want 1 to %d", maxItems, MaxBatchItems))
	}
	if wait != 0 && (wait < minWait || wait > maxWait) {
		errs = append(errs, fmt.Errorf("max_wait %v: want %v to %v", wait, minWait, maxWait))
	}
	if s.Cron != "" {
		if err := s.parseCron(); err != nil {
			errs = append(errs, err)
		}
	}
	if maxItems == 0 && wait == 0 && s.Cron == "" {
		errs = append(errs, errors.New("a batch needs max_items, max_wait or a schedule"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func (s *Schedule) parseCron() error {
	if strings.HasPrefix(s.Cron, "@every") {
		return fmt.Errorf("schedule %q: use max_wait for a fixed interval; a schedule names clock times", s.Cron)
	}
	if strings.Contains(s.Cron, "TZ=") {
		return fmt.Errorf("schedule %q: give the time zone in zone, not in the expression", s.Cron)
	}
	spec, err := cronParser.Parse(s.Cron)
	if err != nil {
		return fmt.Errorf("schedule %q: %v", s.Cron, err)
	}
	ss := spec.(*cron.SpecSchedule) // every non-@every expression parses to one
	if ss.Hour&(1<<63) == 0 {
		// A fixed hour is a wall-clock time: run it once a day even when
		// the clock goes back, and right after a jump forward over it.
		w := *ss
		w.Location = time.UTC
		s.wallSpec = &w
	} else {
		// Every hour: follow real time (01:00 twice when the clock goes
		// back is two hours).
		r := *ss
		r.Location = s.Zone
		spec = &r
	}
	s.spec = spec
	probe := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if s.Next(probe).IsZero() {
		return fmt.Errorf("schedule %q never fires", s.Cron)
	}
	return nil
}

// Next is the first scheduled time strictly after t (zero without a cron
// expression). A time of day that does not exist on a day (the clock
// jumps over it) runs at the jump; one that exists twice (the clock goes
// back) runs once, at its first occurrence.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.spec == nil {
		return time.Time{}
	}
	if s.wallSpec == nil {
		return s.spec.Next(t)
	}
	wall := wallClock(t.In(s.Zone))
	for range 1000 {
		n := s.wallSpec.Next(wall)
		if n.IsZero() {
			return n
		}
		if r := s.instant(n); r.After(t) {
			return r
		}
		wall = n
	}
	return time.Time{}
}

// wallClock is t's local reading as a UTC time.
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}

// instant is the first moment at which the zone's clock reads w (a wall
// time as UTC) or, when the clock jumps over w, the moment of the jump.
func (s *Schedule) instant(w time.Time) time.Time {
	var first time.Time
	for _, probe := range []time.Time{w.Add(-26 * time.Hour), w.Add(26 * time.Hour)} {
		_, off := probe.In(s.Zone).Zone()
		c := w.Add(-time.Duration(off) * time.Second)
		if wallClock(c.In(s.Zone)).Equal(w) && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	if !first.IsZero() {
		return first
	}
	// In a gap: read w with the offset from before the jump; that moment
	// is already past the jump, whose start is the zone's period start.
	_, off := w.Add(-26 * time.Hour).In(s.Zone).Zone()
	start, _ := w.Add(-time.Duration(off) * time.Second).In(s.Zone).ZoneBounds()
	return start
}

// Due decides a batch: given the time of the last send (the
// configuration's creation time before the first), the enqueue time of the
// oldest queued result and how many are queued, it says whether to send
// now and, if not, when to look again (zero: only when more results
// arrive). The caller records now as the last send when it sends, so a
// process that was down over several scheduled times sends one batch, not
// one per missed time.
func (s *Schedule) Due(lastSend, oldest time.Time, queued int, now time.Time) (send bool, wake time.Time) {
	if queued == 0 {
		return false, time.Time{}
	}
	if s.MaxItems > 0 && queued >= s.MaxItems {
		return true, time.Time{}
	}
	if s.MaxWait > 0 {
		at := oldest.Add(s.MaxWait)
		if !at.After(now) {
			return true, time.Time{}
		}
		wake = at
	}
	if s.spec != nil {
		if lastSend.IsZero() {
			lastSend = oldest
		}
		n := s.Next(lastSend)
		if !n.IsZero() && !n.After(now) {
			return true, time.Time{}
		}
		if !n.IsZero() && (wake.IsZero() || n.Before(wake)) {
			wake = n
		}
	}
	return false, wake
}

// SlotDue is the scheduled time that makes a batch due (Due): the
// latest time of the cron expression at or before now, when Due sends
// because of it; zero when Due does not send, or sends because so many
// items are queued or the oldest has waited so long. Processes that find
// the same batch due find the same time, and one of them sends it
// (forward.Slotted).
func (s *Schedule) SlotDue(lastSend, oldest time.Time, queued int, now time.Time) time.Time {
	if queued == 0 || s.spec == nil ||
		(s.MaxItems > 0 && queued >= s.MaxItems) || (s.MaxWait > 0 && !oldest.Add(s.MaxWait).After(now)) {
		return time.Time{}
	}
	if lastSend.IsZero() {
		lastSend = oldest
	}
	if n := s.Next(lastSend); n.IsZero() || n.After(now) {
		return time.Time{}
	}
	return s.Last(now)
}

// Limit is how many items one request (or file) carries.
func (s *Schedule) Limit() int {
	if s.MaxItems > 0 {
		return s.MaxItems
	}
	return DefaultMaxItems
}
