package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// TestPresets sends the sample result with each preset to a receiver that
// checks the types the AMS wants, and compares the exact body.
func TestPresets(t *testing.T) {
	key := webhook.Key("cfg-1", "sample")
	cases := []struct {
		preset string
		path   string // appended to the receiver's URL
		method string
		checks []webhooktest.Check
		body   string
	}{
		{"generic", "/hooks/lrs", "POST", []webhooktest.Check{
			{Field: "type", Type: "oneof:result.passed|result.failed|result.completed|result.updated", Required: true},
			{Field: "timestamp", Type: "date:rfc3339", Required: true},
			{Field: "data.member_email", Type: "email", Required: true},
			{Field: "data.completed_on", Type: "date:YYYY-MM-DD", Required: true},
			{Field: "data.passed", Type: "boolean", Required: true},
			{Field: "data.score_percent", Type: "number", Required: true},
			{Field: "data.ce_hours", Type: "number", Required: true},
			{Field: "data.reference", Type: "uuid", Required: true},
		}, `{"type":"result.passed","timestamp":"2026-09-02T08:14:59Z","data":{"member_email":"ada@example.com","member_id":"100042","activity_id":"42","activity_title":"Fire safety drill","completed_on":"2026-09-02","passed":true,"score_percent":92,"ce_hours":1.5,"credit_type":"CE","reference":"` + key + `"}}`},
		{"imis", "/api/Activity", "POST", []webhooktest.Check{
			{Field: "Id", Type: "string", Required: true},
			{Field: "ActivityType", Type: "oneof:CE", Required: true},
			{Field: "TransactionDate", Type: "date:YYYY-MM-DD", Required: true},
			{Field: "Units", Type: "number", Required: true},
			{Field: "UF1", Type: "uuid", Required: true},
		}, `{"Id":"100042","ActivityType":"CE","TransactionDate":"2026-09-02","ProductCode":"FS-101","Description":"Fire safety drill","Units":1.50,"UF1":"` + key + `"}`},
		{"yourmembership", "/Ams/12345/CertificationsJournals", "POST", []webhooktest.Check{
			{Field: "PersonID", Type: "integer", Required: true},
			{Field: "CertificationName", Type: "string", Required: true},
			{Field: "CEUsEarned", Type: "number", Required: true},
			{Field: "EntryDate", Type: "date:rfc3339", Required: true},
			{Field: "ScorePercent", Type: "number", Required: true},
		}, `{"PersonID":100042,"CertificationName":"Fire safety drill","CEUsEarned":1.50,"EntryDate":"2026-09-02T08:14:59Z","ScorePercent":92.00,"CreditTypeCode":"CE","Description":"` + key + `"}`},
		{"salesforce", "/services/data/v60.0/sobjects/LMS_Completion__c/External_Id__c/{{result.key}}", "PATCH", []webhooktest.Check{
			{Field: "Course_Name__c", Type: "string", Required: true},
			{Field: "Completed__c", Type: "boolean", Required: true},
			{Field: "Passed__c", Type: "boolean", Required: true},
			{Field: "Score__c", Type: "number", Required: true},
			{Field: "Completion_Date__c", Type: "date:YYYY-MM-DD", Required: true},
		}, `{"Member_Email__c":"ada@example.com","Member_Id__c":"100042","Course_Id__c":"FS-101","Course_Name__c":"Fire safety drill","Completed__c":true,"Passed__c":true,"Score__c":92.00,"Completion_Date__c":"2026-09-02","CE_Credits__c":1.50,"Credit_Type__c":"CE"}`},
	}
	if names := strings.Join(webhook.PresetNames(), ","); names != "generic,imis,salesforce,yourmembership" {
		t.Fatalf("presets %s", names)
	}
	for _, tc := range cases {
		t.Run(tc.preset, func(t *testing.T) {
			p, ok := webhook.LookupPreset(tc.preset)
			if !ok || p.Title == "" || p.Description == "" || p.URLExample == "" {
				t.Fatalf("preset %+v", p)
			}
			rcv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: secret, Method: tc.method, Fields: tc.checks})
			c, err := webhook.ApplyPreset(webhook.Config{Preset: tc.preset, URL: rcv.URL + tc.path})
			if err != nil {
				t.Fatal(err)
			}
			var s webhook.Secrets
			if c.Auth == webhook.AuthOAuth2 {
				ts := newTokenServer(t, "connected-app", "app-secret")
				c.TokenURL, c.ClientID, s.ClientSecret = ts.URL, "connected-app", "app-secret"
			}
			w := newHook(t, c, s, webhook.Options{})
			o := w.Send(context.Background(), []webhook.Input{webhook.Sample("", "")})
			if o.Class != webhook.ClassSuccess {
				t.Fatalf("Send: %+v; %+v", o, rcv.Requests())
			}
			got := rcv.WaitAccepted(t, 1, 5*time.Second)[0]
			if string(got.Body) != tc.body {
				t.Errorf("body\n%s\nwant\n%s", got.Body, tc.body)
			}
			if tc.preset == "salesforce" {
				if !strings.HasSuffix(got.Path, "/External_Id__c/"+key) || got.Header.Get("Authorization") != "Bearer tok-1" {
					t.Errorf("path %s, auth %q", got.Path, got.Header.Get("Authorization"))
				}
			}
		})
	}
}

// TestPresetIsEditable: a configuration keeps its own settings over the
// preset's, and presets handed out are copies.
func TestPresetIsEditable(t *testing.T) {
	c, err := webhook.ApplyPreset(webhook.Config{Preset: "imis", Method: "PUT", ContentType: webhook.ContentForm,
		Fields: []webhook.Field{{Target: "ID", Source: "participant.external_id"}}})
	if err != nil || c.Method != "PUT" || c.ContentType != webhook.ContentForm || len(c.Fields) != 1 {
		t.Fatalf("ApplyPreset: %+v, %v", c, err)
	}
	p, _ := webhook.LookupPreset("imis")
	p.Config.Fields[0].Target = "changed"
	if q, _ := webhook.LookupPreset("imis"); q.Config.Fields[0].Target == "changed" {
		t.Error("a preset handed out shares its fields")
	}
	if _, err := webhook.ApplyPreset(webhook.Config{Preset: "nimble"}); err == nil || !strings.Contains(err.Error(), "unknown preset") {
		t.Errorf("unknown preset: %v", err)
	}
	for _, p := range webhook.Presets() {
		c, _ := webhook.ApplyPreset(webhook.Config{Preset: p.Name, URL: strings.ReplaceAll(p.URLExample, "{{result.key}}", "") + "x"})
		s := webhook.Secrets{SigningSecret: secret}
		if c.Auth == webhook.AuthOAuth2 {
			c.TokenURL, c.ClientID, s.ClientSecret = "https://login.example/token", "id", "sec"
		}
		if err := webhook.Validate(c, s); err != nil {
			t.Errorf("preset %s does not validate: %v", p.Name, err)
		}
	}
}
