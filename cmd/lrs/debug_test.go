package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDebugAddr(t *testing.T) {
	for in, want := range map[string]string{
		":6060":          "127.0.0.1:6060",
		"0.0.0.0:6060":   "0.0.0.0:6060",
		"[::1]:0":        "[::1]:0",
		"localhost:6061": "localhost:6061",
	} {
		if got, err := debugAddr(in); err != nil || got != want {
			t.Errorf("debugAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"6060", ":http", ":70000", ":-1"} {
		if got, err := debugAddr(bad); err == nil {
			t.Errorf("debugAddr(%q) = %q, want an error", bad, got)
		}
	}
	cfg, err := loadConfig(env("LRS_DEBUG_ADDR=:0"), nil)
	if err != nil || cfg.DebugAddr != "127.0.0.1:0" {
		t.Errorf("LRS_DEBUG_ADDR=:0: %q, %v", cfg.DebugAddr, err)
	}
	if cfg, err := loadConfig(env(), nil); err != nil || cfg.DebugAddr != "" {
		t.Errorf("unset LRS_DEBUG_ADDR: %q, %v; want off", cfg.DebugAddr, err)
	}
}

// With LRS_DEBUG_ADDR set, profiles and expvar are served on their own
// loopback listener, and never on the xAPI listener.
func TestAppDebugListener(t *testing.T) {
	get := func(url string) (int, []byte) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	for _, debug := range []string{"", ":0"} {
		cfg := defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 5 * time.Second
		if debug != "" {
			var err error
			if cfg.DebugAddr, err = debugAddr(debug); err != nil {
				t.Fatal(err)
			}
		}
		var stdout bytes.Buffer
		st := newFakeStore()
		a := &app{cfg: cfg, logger: discard, stdout: &stdout, open: func(Config, *slog.Logger) (store, error) { return st, nil }}
		if err := a.start(context.Background()); err != nil {
			t.Fatal(err)
		}
		main := regexp.MustCompile(`(?m)^listening on (\S+)$`).FindStringSubmatch(stdout.String())
		dbg := regexp.MustCompile(`(?m)^debug listening on (\S+)$`).FindStringSubmatch(stdout.String())
		if code, _ := get("http://" + main[1] + "/debug/pprof/"); code != http.StatusNotFound {
			t.Errorf("debug %q: the xAPI listener serves /debug/pprof/ (%d)", debug, code)
		}
		if debug == "" {
			if dbg != nil {
				t.Errorf("a debug listener without LRS_DEBUG_ADDR: %s", dbg[0])
			}
		} else {
			if dbg == nil {
				t.Fatalf("no debug listening line:\n%s", stdout.String())
			}
			host, _, _ := net.SplitHostPort(dbg[1])
			if host != "127.0.0.1" {
				t.Errorf("debug listener on %s, want loopback", dbg[1])
			}
			if code, body := get("http://" + dbg[1] + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(string(body), "goroutine") {
				t.Errorf("/debug/pprof/ = %d %.200s", code, body)
			}
			if code, body := get("http://" + dbg[1] + "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(string(body), "heap profile") {
				t.Errorf("/debug/pprof/heap = %d %.200s", code, body)
			}
			code, body := get("http://" + dbg[1] + "/debug/vars")
			var vars map[string]json.RawMessage
			if err := json.Unmarshal(body, &vars); code != http.StatusOK || err != nil || vars["memstats"] == nil || vars["cmdline"] == nil {
				t.Errorf("/debug/vars = %d %v %.200s", code, err, body)
			}
		}
		if err := a.stop(); err != nil {
			t.Fatal(err)
		}
		if dbg != nil {
			if _, err := http.Get("http://" + dbg[1] + "/debug/vars"); err == nil {
				t.Error("the debug listener still answers after stop")
			}
		}
	}
}
