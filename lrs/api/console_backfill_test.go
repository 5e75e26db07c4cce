package api_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/api"
)

// TestConsoleBackfillAttach: the attach form's "also send what is already
// stored" starts a backfill as the admin API's "backfill": true does (and
// without it none starts); the job shows on the objective's page, in its
// live part and on the configuration's page and its live part, with the
// configuration's name escaped; org-b's administrator reaches none of it.
// The progress of a backfill that runs is tested against the booted
// binary on both engines (cmd/lrs TestConsoleBackfill).
func TestConsoleBackfillAttach(t *testing.T) {
	n, _ := consoleNode(t)
	b, csrf := n.consoleIn("a@example.com")
	var plain, filled, obj struct{ ID string }
	for i, dst := range []*struct{ ID string }{&plain, &filled} {
		name := []string{"Plain", `Hook <img src=x onerror=alert(1)>`}[i]
		n.admin("POST", api.AdminPrefix+"/orgs/org-a/configurations", `{"name":"`+strings.ReplaceAll(name, `"`, `\"`)+`","contact_email":"ops@example.com","type":"hook",
			"properties":{"url":"https://hooks.example/in","mapping":"[]"},"secrets":{"token":"t0ken-value"}}`, 201, dst)
	}
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/objectives", `{"name":"Quiz","activity_id":"https://courses.example/quiz"}`, 201, &obj)
	base := "/console/orgs/org-a/objectives/" + obj.ID
	page := b.page(200, base)
	for _, want := range []string{
		`<input type="checkbox" id="f-backfill" name="backfill" value="true" aria-describedby="f-backfill-help">`,
		`<label for="f-backfill">Also send what is already stored</label>`,
		`<p class="help" id="f-backfill-help">Without it, the configuration gets only the results that come from now on.`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the attach form lacks %s", want)
		}
	}
	if strings.Contains(page, `id="backfills"`) {
		t.Error("a backfill table before any backfill")
	}

	// Without the box: attached, no job.
	_, _ = b.post(303, base+"/attach", csrf, url.Values{"configuration": {plain.ID}})
	var st struct{ Backfills []struct{ State string } }
	n.admin("GET", api.AdminPrefix+"/orgs/org-a/configurations/"+plain.ID+"/status", "", 200, &st)
	if len(st.Backfills) != 0 {
		t.Fatalf("an attach without the box started %d backfills", len(st.Backfills))
	}
	// With it: the job of the admin API, shown on both pages.
	res, _ := b.post(303, base+"/attach", csrf, url.Values{"configuration": {filled.ID}, "backfill": {"true"}})
	if loc := res.Header.Get("Location"); loc != base+"?done=attached-backfill" {
		t.Fatalf("attach with a backfill: to %q", loc)
	}
	var bst struct {
		Backfills []struct {
			ObjectiveID string `json:"objective_id"`
			Kind, State string
		}
	}
	n.admin("GET", api.AdminPrefix+"/orgs/org-a/configurations/"+filled.ID+"/status", "", 200, &bst)
	if len(bst.Backfills) != 1 || bst.Backfills[0].ObjectiveID != obj.ID || bst.Backfills[0].Kind != "results" || bst.Backfills[0].State != "running" {
		t.Fatalf("the admin API's backfills after the attach: %+v", bst.Backfills)
	}
	row := "bf-" + filled.ID + "-" + obj.ID
	page = b.page(200, base+"?done=attached-backfill")
	for _, want := range []string{
		`its progress shows below.`,
		`<h2 id="backfills-title">Sending what was already stored</h2>`,
		`data-live="` + base + `/backfills"`,
		`<tr id="` + row + `" data-swap>`,
		`Hook &lt;img src=x onerror=alert(1)&gt; <span class="muted">(results)</span>`,
		`<span class="badge badge-none" id="` + row + `-state">running</span>`,
		`<span id="` + row + `-progress">Counting what to send: 0 so far</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the objective's page lacks %s", want)
		}
	}
	if strings.Contains(page, "<img src=x") || strings.Contains(page, "bf-"+plain.ID) {
		t.Errorf("the objective's page shows the name unescaped, or a job of the plain attach:\n%s", page)
	}
	part := b.page(200, base+"/backfills", "X-Console-Fragment", "1")
	if !strings.Contains(part, `<tr id="`+row+`" data-swap>`) || strings.Contains(part, "<html") {
		t.Errorf("the live part of the objective's backfills:\n%s", part)
	}
	cbase := "/console/orgs/org-a/configurations/" + filled.ID
	if page := b.page(200, cbase); !strings.Contains(page, `<tr id="`+row+`" data-swap>`) || !strings.Contains(page, `Quiz <span class="muted">(results)</span>`) {
		t.Errorf("the configuration's page lacks its backfill:\n%s", page)
	}
	if part := b.page(200, cbase+"/live", "X-Console-Fragment", "1"); !strings.Contains(part, `<tr id="`+row+`" data-swap>`) {
		t.Errorf("the configuration's live part lacks its backfill:\n%s", part)
	}
	if page := b.page(200, "/console/orgs/org-a/configurations/"+plain.ID); strings.Contains(page, `id="backfills"`) {
		t.Error("the plain configuration's page shows a backfill")
	}
	// Attaching again is not a second backfill.
	if res, _ := b.post(303, base+"/attach", csrf, url.Values{"configuration": {filled.ID}, "backfill": {"true"}}); res.Header.Get("Location") != base+"?done=already-there" {
		t.Errorf("attach again: to %q", res.Header.Get("Location"))
	}

	other, otherCSRF := n.consoleIn("b@example.com")
	if res, body := other.do("GET", base+"/backfills", "", "X-Console-Fragment", "1"); res.StatusCode != 403 || strings.Contains(string(body), "Hook") {
		t.Errorf("org-b's administrator GET the backfills: %d", res.StatusCode)
	}
	other.post(403, base+"/attach", otherCSRF, url.Values{"configuration": {plain.ID}, "backfill": {"true"}})
}

// TestConsoleBackfillCreate: the new objective's form attaches a first
// configuration and, with the box, starts its backfill as the admin API's
// create with "backfill": true does; an unknown configuration is an error
// beside the field and nothing is created.
func TestConsoleBackfillCreate(t *testing.T) {
	n, _ := consoleNode(t)
	b, csrf := n.consoleIn("a@example.com")
	var cfg struct{ ID string }
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/configurations", `{"name":"Hook <b>x</b>","contact_email":"ops@example.com","type":"hook",
		"properties":{"url":"https://hooks.example/in","mapping":"[]"},"secrets":{"token":"t0ken-value"}}`, 201, &cfg)
	list := "/console/orgs/org-a/objectives"
	page := b.page(200, list)
	for _, want := range []string{
		`<select id="f-configuration" name="configuration" aria-describedby="f-configuration-help">`,
		`<option value="" selected>None for now</option>`,
		`<option value="` + cfg.ID + `">Hook &lt;b&gt;x&lt;/b&gt; (Test hook)</option>`,
		`<input type="checkbox" id="f-backfill" name="backfill" value="true" aria-describedby="f-backfill-help">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the new objective's form lacks %s", want)
		}
	}
	// An unknown configuration: the error beside the drop-down, nothing created.
	_, body := b.post(400, list, csrf, url.Values{"name": {"Ghost"}, "activity_id": {"https://courses.example/ghost"}, "configuration": {"no-such"}, "backfill": {"true"}})
	if !strings.Contains(body, `id="f-configuration-error"`) || !strings.Contains(body, `value="Ghost"`) {
		t.Errorf("an unknown configuration on create:\n%s", body)
	}
	var objs struct{ Objectives []struct{ ID, Name string } }
	n.admin("GET", api.AdminPrefix+"/orgs/org-a/objectives", "", 200, &objs)
	if len(objs.Objectives) != 0 {
		t.Fatalf("a refused create stored %+v", objs)
	}
	// Created with the configuration and the box: attached, one job.
	res, _ := b.post(303, list, csrf, url.Values{"name": {"Quiz"}, "activity_id": {"https://courses.example/quiz"}, "configuration": {cfg.ID}, "backfill": {"true"}})
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, list+"/") || !strings.HasSuffix(loc, "?done=created-backfill") {
		t.Fatalf("create with a backfill: to %q", loc)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(loc, list+"/"), "?done=created-backfill")
	var st struct {
		Backfills []struct {
			ObjectiveID string `json:"objective_id"`
			State       string
		}
	}
	n.admin("GET", api.AdminPrefix+"/orgs/org-a/configurations/"+cfg.ID+"/status", "", 200, &st)
	if len(st.Backfills) != 1 || st.Backfills[0].ObjectiveID != id || st.Backfills[0].State != "running" {
		t.Fatalf("the backfills after the create: %+v", st.Backfills)
	}
	if page := b.page(200, loc); !strings.Contains(page, `<tr id="bf-`+cfg.ID+`-`+id+`" data-swap>`) || !strings.Contains(page, "its progress shows below") {
		t.Errorf("the new objective's page lacks its backfill:\n%s", page)
	}
	// Created with the box but no configuration: no job.
	res, _ = b.post(303, list, csrf, url.Values{"name": {"Plain"}, "activity_id": {"https://courses.example/plain"}, "backfill": {"true"}})
	if loc := res.Header.Get("Location"); !strings.HasSuffix(loc, "?done=created") {
		t.Fatalf("create without a configuration: to %q", loc)
	}
	n.admin("GET", api.AdminPrefix+"/orgs/org-a/configurations/"+cfg.ID+"/status", "", 200, &st)
	if len(st.Backfills) != 1 {
		t.Fatalf("a create without a configuration started a backfill: %+v", st.Backfills)
	}
}

// TestConsoleBackfillRestart: a failed backfill has a restart button on
// the objective's and the configuration's page; it starts a new run from
// the beginning as the admin API's restart does, which refuses a job that
// is not failed (409) and an unknown one (404); org-b's administrator can
// do neither. (A backfill that really fails and is restarted to its end:
// cmd/lrs TestBackfillRestartE2E on both engines.)
func TestConsoleBackfillRestart(t *testing.T) {
	n, db := consoleNode(t)
	b, csrf := n.consoleIn("a@example.com")
	var cfg, obj struct{ ID string }
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/configurations", `{"name":"Hook <i>y</i>","contact_email":"ops@example.com","type":"hook",
		"properties":{"url":"https://hooks.example/in","mapping":"[]"},"secrets":{"token":"t0ken-value"}}`, 201, &cfg)
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/objectives", `{"name":"Quiz","activity_id":"https://courses.example/quiz","configurations":["`+cfg.ID+`"],"backfill":true}`, 201, &obj)
	restart := api.AdminPrefix + "/orgs/org-a/objectives/" + obj.ID + "/backfills/" + cfg.ID + "/restart"
	if body := string(n.admin("POST", restart, "", 409, nil)); !strings.Contains(body, "not failed") {
		t.Errorf("restart of a running backfill: %s", body)
	}
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/objectives/"+obj.ID+"/backfills/no-such/restart", "", 404, nil)
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/objectives/no-such/backfills/"+cfg.ID+"/restart", "", 404, nil)
	// As a Backfiller ends a job that fails.
	ctx := t.Context()
	j, err := db.GetBackfill(ctx, "org-a", cfg.ID, obj.ID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if j, err = db.LeaseBackfill(ctx, "org-a", cfg.ID, obj.ID, j.ID, "w", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	j.State, j.Error, j.FinishedAt, j.LeaseOwner, j.LeaseUntil = forward.BackfillFailed, "the job's cursor does not read", now, "", time.Time{}
	if err := db.UpdateBackfill(ctx, j, "w"); err != nil {
		t.Fatal(err)
	}
	row := "bf-" + cfg.ID + "-" + obj.ID
	base := "/console/orgs/org-a/objectives/" + obj.ID
	action := base + "/backfills/" + cfg.ID + "/restart"
	button := `<button type="submit" id="` + row + `-restart">Restart from the beginning<span class="visually-hidden">: `
	for _, path := range []string{base, "/console/orgs/org-a/configurations/" + cfg.ID} {
		page := b.page(200, path)
		for _, want := range []string{`<span class="badge badge-error" id="` + row + `-state">failed</span>`,
			`<p class="last-error" id="` + row + `-error">the job&#39;s cursor does not read</p>`,
			`<form method="post" action="` + action + `" class="inline"><input type="hidden" name="csrf_token" value="` + csrf + `">` + button} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
	}
	if page := b.page(200, base); !strings.Contains(page, button+`Hook &lt;i&gt;y&lt;/i&gt;</span></button>`) {
		t.Errorf("the restart button's name (escaped):\n%s", page)
	}
	other, otherCSRF := n.consoleIn("b@example.com")
	other.post(403, action, otherCSRF, nil)
	b.post(403, action, "not-the-token", nil)
	if got, _ := db.GetBackfill(ctx, "org-a", cfg.ID, obj.ID); got.ID != j.ID || got.State != forward.BackfillFailed {
		t.Fatalf("a refused restart changed the job: %+v", got)
	}
	res, _ := b.post(303, action, csrf, nil)
	if loc := res.Header.Get("Location"); loc != base+"?done=restarted" {
		t.Fatalf("restart: to %q", loc)
	}
	got, err := db.GetBackfill(ctx, "org-a", cfg.ID, obj.ID)
	if err != nil || got.ID == j.ID || got.State != forward.BackfillRunning || got.Error != "" || got.Done != 0 || got.Counted {
		t.Fatalf("the restarted job: %+v, %v", got, err)
	}
	page := b.page(200, base+"?done=restarted")
	if !strings.Contains(page, "The backfill starts again from the beginning") || !strings.Contains(page, `id="`+row+`-state">running</span>`) || strings.Contains(page, button) {
		t.Errorf("the objective's page after the restart:\n%s", page)
	}
	// Restarted already: the console shows the refusal.
	if _, body := b.post(409, action, csrf, nil); !strings.Contains(body, "not failed") {
		t.Errorf("a second restart:\n%s", body)
	}
}
