package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

func typeOf(t *testing.T) forward.Type {
	t.Helper()
	typ := webhook.Type(webhook.TypeOptions{Egress: forwardtest.Loopback})
	if _, err := forward.NewRegistry(typ); err != nil {
		t.Fatalf("the webhook type does not register: %v", err)
	}
	return typ
}

// Every problem of a configuration is listed at once, each under its
// field, and none twice.
func TestTypeCheckListsEveryProblem(t *testing.T) {
	typ := typeOf(t)
	errs := typ.Check(map[string]string{
		"url":      "https://ams.example.org/x/{{result.nope}}",
		"method":   "GET",
		"zone":     "Mars/Olympus",
		"schedule": "99 * * * *",
		"fields": `[{"target":"a","source":"result.unknown"},{"target":"b","source":"result.completed_at","format":"date:QQ"},
			{"target":"c","required":true}]`,
		"objectives": `{"42":{"credits":-1,"extra":{"bad name":"x"}}}`,
		"colour":     "blue",
		"token":      "in the wrong place",
	}, map[string]string{"signing_secret": "whsec_short", "nope": "x"})
	want := []string{
		"properties.method:", "properties.zone:", "properties.url:",
		"properties.fields[0]", "properties.fields[1]", "properties.fields[2]",
		`properties.objectives["42"].credits`, `properties.objectives["42"].extra`, "secrets.signing_secret:",
		"properties.colour:", "properties.token:", "secrets.nope:",
	}
	all := strings.Join(errs, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no problem under %s in:\n%s", w, all)
		}
	}
	seen := map[string]bool{}
	for _, e := range errs {
		if seen[e] {
			t.Errorf("reported twice: %s", e)
		}
		seen[e] = true
	}
	if errs := typ.Check(map[string]string{"url": "https://ams.example.org/hook", "preset": "generic"},
		map[string]string{"signing_secret": secret}); len(errs) != 0 {
		t.Errorf("a preset with its URL and secret: %v", errs)
	}
	errs = typ.Check(map[string]string{"preset": "generic", "mode": "file", "schedule": "0 2 * * *"}, nil)
	all = strings.Join(errs, "\n")
	for _, w := range []string{"properties.sftp_address:", "properties.sftp_user:", "properties.sftp_host_key:", "secrets.sftp_password:"} {
		if !strings.Contains(all, w) {
			t.Errorf("file mode without its SFTP settings: no %s in\n%s", w, all)
		}
	}
}

func completedItem(cfgID string, completed bool) forward.Item {
	yes := completed
	scaled := 0.5
	r := forward.ObjectiveResult{
		ResultKey: forward.ResultKey{Org: "default", ObjectiveID: "42", Participant: "mbox:mailto:ada@example.com", Registration: "r1"},
		Actor:     forward.Actor{Name: "Ada Lovelace", Mbox: "mailto:ada@example.com"},
		Computed:  forward.Values{Completion: &yes, Score: &forward.Score{Scaled: &scaled}, CompletedAt: time.Date(2026, 9, 2, 8, 0, 0, 0, time.UTC)},
		Revision:  3,
	}
	// An administrator's override of the score: the effective value is sent.
	over := 0.9
	r.Override.Set = map[forward.ResultField]forward.OverrideEntry{forward.FieldScore: {}}
	r.Override.Values.Score = &forward.Score{Scaled: &over}
	k := r.ResultKey
	return forward.Item{
		Delivery:  forward.Delivery{Org: k.Org, ConfigurationID: cfgID, StatementID: forward.ResultDeliveryID(k), ObjectiveID: k.ObjectiveID, Participant: "ada@example.com"},
		Result:    &r,
		Objective: &forward.Objective{ID: "42", Name: "Fire safety", ActivityID: "https://courses.example.com/fire"},
	}
}

// The sink sends the effective (overridden) values with the
// configuration's per-objective values, answers for its items by
// delivery, filters by the trigger, and stops after a 410 until it is
// built again.
func TestSinkSendsItems(t *testing.T) {
	typ := typeOf(t)
	recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Key: "data.reference", Fields: []webhooktest.Check{
		{Field: "data.member_email", Type: "email", Required: true},
		{Field: "data.score_percent", Type: "number", Required: true},
		{Field: "data.ce_hours", Type: "number", Required: true},
		{Field: "data.completed_on", Type: "date:YYYY-MM-DD", Required: true},
	}})
	cfg := forward.Configuration{ID: "cfg-1", Org: "default", Name: "AMS", Type: webhook.TypeName, Properties: map[string]string{
		"url": recv.URL + "/hook", "preset": "generic", "objectives": `{"42":{"credits":1.5,"credit_type":"CE"}}`,
	}}
	secrets := map[string]string{"signing_secret": secret}
	if errs := typ.Check(cfg.Properties, secrets); len(errs) != 0 {
		t.Fatal(errs)
	}
	build := func() forward.Destination {
		d, err := typ.Factory(cfg, secrets)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	dest := build()
	it := completedItem(cfg.ID, true)
	if res := dest.Send(context.Background(), []forward.Item{it}); res.Outcome != forward.OutcomeSuccess {
		t.Fatalf("send: %+v", res)
	}
	got := recv.WaitAccepted(t, 1, 5*time.Second)[0]
	item := got.Items[0]
	data := item["data"].(map[string]any)
	if data["score_percent"] != json.Number("90") || data["ce_hours"] != json.Number("1.5") || data["credit_type"] != "CE" ||
		data["reference"] != webhook.Key(cfg.ID, it.Result.ID()) {
		t.Errorf("sent %s", got.Body)
	}

	// Not completed any more (an override, say): not sent, answered for.
	if !typ.Wants(cfg, *completedItem(cfg.ID, true).Result) || typ.Wants(cfg, *completedItem(cfg.ID, false).Result) {
		t.Error("the completion trigger wants completed results only")
	}
	back := completedItem(cfg.ID, false)
	res := dest.Send(context.Background(), []forward.Item{back})
	if res.Outcome != forward.OutcomeItem || !strings.Contains(res.Rejected[back.Delivery.StatementID], "trigger") {
		t.Errorf("an item the trigger no longer wants: %+v", res)
	}

	// 410: Server Error, and nothing more is sent until the sink is built again.
	recv.Then(webhooktest.Answer{Status: http.StatusGone})
	it.Result.Revision++
	it.Result.Computed.Attempts = 2
	n := len(recv.Requests())
	if res := dest.Send(context.Background(), []forward.Item{it}); res.Outcome != forward.OutcomeDestination || res.Status != http.StatusGone {
		t.Fatalf("410: %+v", res)
	}
	if res := dest.Send(context.Background(), []forward.Item{it}); res.Outcome != forward.OutcomeDestination || !strings.Contains(res.Message, "edited") {
		t.Fatalf("after 410: %+v", res)
	}
	if len(recv.Requests()) != n+1 {
		t.Errorf("%d requests after a 410, want the one answered 410", len(recv.Requests())-n)
	}
	if res := build().Send(context.Background(), []forward.Item{it}); res.Outcome != forward.OutcomeSuccess {
		t.Errorf("a new build (an edit) sends again: %+v", res)
	}

	// The test event and the preview.
	if res := dest.(forward.Tester).Test(context.Background()); res.Outcome != forward.OutcomeSuccess {
		t.Errorf("test event: %+v", res)
	}
	p, err := typ.Preview(context.Background(), forward.PreviewEnv{}, cfg, secrets, time.Now())
	if err != nil || p.Method != http.MethodPost || !strings.Contains(p.Body, `"member_email":"ada@example.com"`) ||
		strings.Contains(strings.Join(p.Headers["Webhook-Signature"], ""), secret) {
		t.Errorf("preview: %+v, %v", p, err)
	}
	for k, vs := range p.Headers {
		for _, v := range vs {
			if strings.Contains(v, strings.TrimPrefix(secret, "whsec_")) {
				t.Errorf("preview header %s holds the secret", k)
			}
		}
	}
}

// The participant directory gives the AMS's member id (and name) by
// email, case-insensitively; its problems are listed with their lines.
func TestSinkParticipantDirectory(t *testing.T) {
	typ := typeOf(t)
	errs := typ.Check(map[string]string{"url": "https://ams.example.org/hook", "preset": "generic",
		"directory": "email,member_id,shoe\nnot-an-email,1\nada@example.com,2\nADA@example.com,3\n"}, map[string]string{"signing_secret": secret})
	all := strings.Join(errs, "\n")
	for _, want := range []string{`properties.directory: header column 3 "shoe"`, "properties.directory[line 2]: \"not-an-email\"",
		"properties.directory[line 4]: ADA@example.com is listed twice"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}

	recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Fields: []webhooktest.Check{
		{Field: "PersonID", Type: "integer", Required: true}, {Field: "CEUsEarned", Type: "number", Required: true},
		{Field: "EntryDate", Type: "date:rfc3339", Required: true}, {Field: "CertificationName", Type: "string", Required: true},
	}})
	cfg := forward.Configuration{ID: "cfg-ym", Org: "default", Name: "YM", Type: webhook.TypeName, Properties: map[string]string{
		"url": recv.URL + "/Ams/123/CertificationsJournals", "preset": "yourmembership",
		"directory":  "Email,Name,Member_ID\nADA@Example.com,\"Lovelace, Ada\",100042\n",
		"objectives": `{"42":{"credits":2}}`,
	}}
	secrets := map[string]string{"signing_secret": secret}
	if errs := typ.Check(cfg.Properties, secrets); len(errs) != 0 {
		t.Fatal(errs)
	}
	dest, err := typ.Factory(cfg, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if res := dest.Send(context.Background(), []forward.Item{completedItem(cfg.ID, true)}); res.Outcome != forward.OutcomeSuccess {
		t.Fatalf("send: %+v", res)
	}
	item := recv.WaitAccepted(t, 1, 5*time.Second)[0].Items[0]
	if item["PersonID"] != json.Number("100042") || item["CEUsEarned"] != json.Number("2.00") {
		t.Errorf("sent %v", item)
	}
	// Not in the directory: the required member id is missing, the item is not sendable.
	other := completedItem(cfg.ID, true)
	other.Result.Actor.Mbox = "mailto:zed@example.com"
	if res := dest.Send(context.Background(), []forward.Item{other}); res.Outcome != forward.OutcomeItem ||
		!strings.Contains(res.Rejected[other.Delivery.StatementID], "PersonID") {
		t.Errorf("a participant outside the directory: %+v", res)
	}
}
