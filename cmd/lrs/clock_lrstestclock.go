//go:build lrstestclock

package main

import (
	"fmt"
	"strconv"
	"time"
)

func init() { testClock = envClock }

// envClock reads LRS_TEST_CLOCK_START, LRS_TEST_CLOCK_SPEED and
// LRS_TEST_CLOCK_AT (clock.go).
func envClock(getenv func(string) string, real func() time.Time) (func() time.Time, string, error) {
	startV, speedV, atV := getenv("LRS_TEST_CLOCK_START"), getenv("LRS_TEST_CLOCK_SPEED"), getenv("LRS_TEST_CLOCK_AT")
	if startV == "" {
		if speedV != "" || atV != "" {
			return nil, "", fmt.Errorf("LRS_TEST_CLOCK_SPEED and LRS_TEST_CLOCK_AT need LRS_TEST_CLOCK_START")
		}
		return nil, "", nil
	}
	start, err := time.Parse(time.RFC3339Nano, startV)
	if err != nil {
		return nil, "", fmt.Errorf("LRS_TEST_CLOCK_START %q: want an RFC 3339 time", startV)
	}
	speed := 1.0
	if speedV != "" {
		if speed, err = strconv.ParseFloat(speedV, 64); err != nil || !(speed > 0 && speed <= 1e6) {
			return nil, "", fmt.Errorf("LRS_TEST_CLOCK_SPEED %q: want a factor greater than 0, at most 1e6", speedV)
		}
	}
	at := real()
	if atV != "" {
		if at, err = time.Parse(time.RFC3339Nano, atV); err != nil {
			return nil, "", fmt.Errorf("LRS_TEST_CLOCK_AT %q: want an RFC 3339 time", atV)
		}
	}
	now := func() time.Time {
		return start.Add(time.Duration(float64(real().Sub(at)) * speed)).UTC()
	}
	return now, fmt.Sprintf("test clock: forwarding reads %s at %s, %g× real time",
		start.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339Nano), speed), nil
}
