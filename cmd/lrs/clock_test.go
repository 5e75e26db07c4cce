//go:build !lrstestclock

package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// A release build ignores the test clock's variables: forwarding runs on
// the real clock whatever they say, and a bad value is no error.
func TestReleaseBuildIgnoresTestClock(t *testing.T) {
	env := map[string]string{"LRS_TEST_CLOCK_START": "2031-01-14T07:20:00Z", "LRS_TEST_CLOCK_SPEED": "600"}
	now, note, err := forwardClock(func(k string) string { return env[k] })
	if err != nil || note != "" {
		t.Fatalf("forwardClock = %q, %v", note, err)
	}
	if d := time.Since(now()); d < -time.Second || d > time.Second {
		t.Errorf("the clock reads %v, %v off the real time", now(), d)
	}
	env["LRS_TEST_CLOCK_START"] = "not a time"
	if _, _, err := forwardClock(func(k string) string { return env[k] }); err != nil {
		t.Errorf("a bad value: %v", err)
	}
}

// The booted release binary too: a configuration created under a test
// clock of 2031 is created now.
func TestReleaseBinaryIgnoresTestClock(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	before := time.Now().Add(-time.Second)
	p := startLRS(t, append(upstreamEnv([]string{"LRS_DATA_DIR=" + t.TempDir()}),
		"LRS_TEST_CLOCK_START=2031-01-14T07:20:00Z", "LRS_TEST_CLOCK_SPEED=600")...)
	a := fwdAdmin(t, p)
	r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", map[string]any{
		"name": "AMS", "contact_email": "ops@example.com", "type": "webhook",
		"properties": map[string]string{"url": "http://127.0.0.1:9/ams", "mode": "batch", "schedule": "0 2 * * *",
			"fields": `[{"target":"reference","source":"result.key","required":true}]`},
		"secrets": map[string]string{"signing_secret": whSecret},
	}, adminBearer()...)
	var cfg struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal(r.body, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.CreatedAt.Before(before) || cfg.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("created at %v, want now (%v)", cfg.CreatedAt, before)
	}
}
