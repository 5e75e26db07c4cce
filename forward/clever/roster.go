package clever

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Participants are emails; Clever's paths need the student's Clever id,
// and Clever has no email filter (sinks.md §1.3). The mapper reads each
// section's students (GET /v3.1/sections/{id}/users?role=student, every
// page), matches emails without regard to case, and caches the roster:
//
//   - a roster older than Options.RosterTTL is read again;
//   - an email missing from every mapped section's roster reads again the
//     rosters older than Options.RosterMinAge before the student is
//     declared absent (a student enrolled since): at most one read per
//     section per RosterMinAge, and none for the usual case of an
//     objective mapped to many sections with each student in one;
//   - Clever answering "User not found" for a student the roster had
//     drops the roster, and the next lookup reads it again.
//
// One read per section at a time in the process: concurrent lookups wait
// for it (on the Clock, so a fake clock sees them asleep).

type roster struct {
	read    time.Time
	byEmail map[string]string // lower-case email → Clever user id
}

type courseSections struct {
	read     time.Time
	sections []Section
}

type rosters struct {
	c      *client
	clock  Clock
	ttl    time.Duration
	minAge time.Duration

	mu       sync.Mutex
	sections map[string]*roster
	courses  map[string]*courseSections

	readRoster flight[*roster]
	readCourse flight[*courseSections]
}

func newRosters(c *client, opts *Options) *rosters {
	return &rosters{c: c, clock: opts.Clock, ttl: opts.RosterTTL, minAge: opts.RosterMinAge,
		sections: map[string]*roster{}, courses: map[string]*courseSections{}}
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// lookup returns the Clever id of the student with email in section, ""
// when the section's roster has no such student. With recheck, a roster
// older than the minimum age that misses the email is read again.
func (r *rosters) lookup(ctx context.Context, section, email string, recheck bool) (string, error) {
	email = normalizeEmail(email)
	now := r.clock.Now()
	r.mu.Lock()
	cached := r.sections[section]
	r.mu.Unlock()
	if cached != nil && now.Sub(cached.read) < r.ttl {
		if id := cached.byEmail[email]; id != "" || !recheck || now.Sub(cached.read) < r.minAge {
			return id, nil
		}
	}
	fresh, err := r.readRoster.do(ctx, r.clock, section, func() (*roster, error) {
		users, err := r.c.sectionStudents(ctx, section)
		if err != nil {
			return nil, err
		}
		ro := &roster{read: r.clock.Now(), byEmail: make(map[string]string, len(users))}
		for _, u := range users {
			if e := normalizeEmail(u.Email); e != "" && ro.byEmail[e] == "" {
				ro.byEmail[e] = u.ID
			}
		}
		r.mu.Lock()
		r.sections[section] = ro
		r.mu.Unlock()
		return ro, nil
	})
	if err != nil {
		return "", err
	}
	return fresh.byEmail[email], nil
}

// forget drops a section's roster.
func (r *rosters) forget(section string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sections, section)
}

// course returns the sections of a course, cached for the roster TTL.
func (r *rosters) course(ctx context.Context, course string) ([]Section, error) {
	r.mu.Lock()
	cached := r.courses[course]
	r.mu.Unlock()
	if cached != nil && r.clock.Now().Sub(cached.read) < r.ttl {
		return cached.sections, nil
	}
	fresh, err := r.readCourse.do(ctx, r.clock, course, func() (*courseSections, error) {
		secs, err := r.c.courseSections(ctx, course)
		if err != nil {
			return nil, err
		}
		cs := &courseSections{read: r.clock.Now(), sections: secs}
		r.mu.Lock()
		r.courses[course] = cs
		r.mu.Unlock()
		return cs, nil
	})
	if err != nil {
		return nil, err
	}
	return fresh.sections, nil
}

// flight runs one call per key at a time; callers that arrive meanwhile
// wait for its result. They wait on the Clock (asleep until the call
// ends), so a fake clock that advances only when every worker sleeps
// does not stop while they wait.
type flight[V any] struct {
	mu sync.Mutex
	m  map[string]*flightCall[V]
}

type flightCall[V any] struct {
	done   context.Context // canceled when the call has ended
	finish context.CancelFunc
	v      V
	err    error
}

func (f *flight[V]) do(ctx context.Context, clock Clock, key string, fn func() (V, error)) (V, error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*flightCall[V]{}
	}
	if c := f.m[key]; c != nil {
		f.mu.Unlock()
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(c.done, cancel)
		defer stop()
		for c.done.Err() == nil {
			if err := clock.Sleep(wctx, time.Hour); err != nil && c.done.Err() == nil {
				var zero V
				return zero, &TransportError{Message: "stopped while waiting for another request: " + err.Error()}
			}
		}
		return c.v, c.err
	}
	c := &flightCall[V]{}
	c.done, c.finish = context.WithCancel(context.Background())
	f.m[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		c.finish()
	}()
	c.v, c.err = fn()
	return c.v, c.err
}
