package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Backfill on attach from the console, against the booted binary on both
// engines: the attach form with "also send what is already stored" sends
// every statement stored before to the new configuration, once, and the
// objective's page (as its live part is polled by console.js, and after a
// reload) and the configuration's page show the job running, then done
// with every statement counted.
func TestConsoleBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		const old = 40
		up := startLRS(t, append(upstreamEnv(storeEnv), "LRS_FORWARD_BACKFILL_CHUNK=10", "LRS_FORWARD_BACKFILL_PAUSE=5ms")...)
		adminJSON(t, up.base, "POST", "/accounts", `{"email":"ada@example.com","role":"org_admin","org":"default","password":"ada's long passphrase"}`, 201)
		activity := "http://example.com/e2e/console-backfill/" + uuid.NewString()
		before := postStatements(t, up, activity, old)
		down := newDownstream(t)
		cfg := createXAPIConfiguration(t, up, "Downstream <b>LRS</b>", down.Endpoint())
		var obj struct{ ID string }
		if err := json.Unmarshal(adminJSON(t, up.base, "POST", "/orgs/default/objectives", `{"name":"Drill","activity_id":"`+activity+`"}`, 201), &obj); err != nil {
			t.Fatal(err)
		}
		h := consoleSignIn(t, up.base, "ada@example.com", "ada's long passphrase")
		base := "/console/orgs/default/objectives/" + obj.ID
		_, loc := h.post(http.StatusSeeOther, base+"/attach", url.Values{"configuration": {cfg}, "backfill": {"true"}}, true)
		if loc != base+"?done=attached-backfill" {
			t.Fatalf("attach with a backfill: to %q", loc)
		}
		row := "bf-" + cfg + "-" + obj.ID
		// The live part, as console.js polls it, until the job is done.
		deadline := time.Now().Add(forwardWait)
		var part string
		for {
			part = h.getFragment(base + "/backfills")
			if strings.Contains(part, `id="`+row+`-state">done</span>`) {
				break
			}
			if !strings.Contains(part, `<tr id="`+row+`" data-swap>`) || time.Now().After(deadline) {
				t.Fatalf("the objective's backfills:\n%s", part)
			}
			time.Sleep(50 * time.Millisecond)
		}
		want := `<span id="` + row + `-progress">40 of 40 statements sent (100 %)</span>`
		if !strings.Contains(part, want) || !strings.Contains(part, `<progress value="40" max="40"`) {
			t.Errorf("the done backfill's progress:\n%s", part)
		}
		waitAccepted(t, down, before, forwardWait)
		for _, id := range before {
			if n := down.Accepted(id); n != 1 {
				t.Errorf("statement %s accepted %d times, want once", id, n)
			}
		}
		page := h.get(http.StatusOK, base)
		if !strings.Contains(page, want) || !strings.Contains(page, "Downstream &lt;b&gt;LRS&lt;/b&gt;") || strings.Contains(page, `data-live="`+base+`/backfills"`) {
			t.Errorf("the objective's page after the backfill (done: nothing left to follow):\n%s", page)
		}
		if page := h.get(http.StatusOK, "/console/orgs/default/configurations/"+cfg); !strings.Contains(page, want) || !strings.Contains(page, `Drill <span class="muted">(statements)</span>`) {
			t.Errorf("the configuration's page after the backfill:\n%s", page)
		}
	})
}

// getFragment GETs a live part as console.js does.
func (h *consoleHTTP) getFragment(path string) string {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("X-Console-Fragment", "1")
	res, err := h.c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: %d %v\n%s", path, res.StatusCode, err, b)
	}
	return string(b)
}

// createXAPIConfigurationIn is createXAPIConfiguration in the organization org.
func createXAPIConfigurationIn(t *testing.T, up *proc, org, name, endpoint string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"name": name, "contact_email": "ops@example.com", "type": "xapi",
		"properties": map[string]string{"endpoint": endpoint, "version": "1.0.3"},
		"secrets":    map[string]string{"key": fwdDownKey, "secret": fwdDownSecret},
	})
	var cfg struct{ ID string }
	if err := json.Unmarshal(adminJSON(t, up.base, "POST", "/orgs/"+org+"/configurations", string(body), 201), &cfg); err != nil || cfg.ID == "" {
		t.Fatalf("configuration create: %v", err)
	}
	return cfg.ID
}
