package main

import "time"

// The clock of forwarding: what its schedules (a webhook's daily batch or
// file, retries, leases, probes), its records and the results read model
// read as now. A release build always uses the real clock. A build with
// the tag lrstestclock (clock_lrstestclock.go, for the end-to-end tests of
// schedules) may run it from another time and faster:
//
//	LRS_TEST_CLOCK_START  RFC 3339 time the clock reads at LRS_TEST_CLOCK_AT
//	LRS_TEST_CLOCK_SPEED  how many seconds pass per real second (default 1)
//	LRS_TEST_CLOCK_AT     RFC 3339 real time at which it reads START
//	                      (default: when the process starts), so that
//	                      processes started apart share one clock
//
// A release build ignores these variables.

// testClock is set by the lrstestclock build: it returns the clock the
// environment asks for (nil when it asks for none).
var testClock func(getenv func(string) string, real func() time.Time) (func() time.Time, string, error)

// forwardClock is forwarding's clock and, when it is a test clock, a
// sentence saying so (for the log).
func forwardClock(getenv func(string) string) (func() time.Time, string, error) {
	if testClock == nil {
		return time.Now, "", nil
	}
	now, note, err := testClock(getenv, time.Now)
	if err != nil || now == nil {
		return time.Now, "", err
	}
	return now, note, nil
}
