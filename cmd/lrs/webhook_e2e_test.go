package main

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

const whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// AMS writeback webhooks through the booted binary, on both engines: a
// configuration from the generic preset with per-objective credits; the
// signed test event; a session sends nothing until the result is
// completed (the trigger), then its values, signed, which the receiver
// checks and dedupes (a re-drive of the same value is a duplicate); an
// override is forwarded; an outage (connections reset) mails the contact
// over SMTP and, once the receiver is back, delivers the newest of three
// changes once; a 410 stops sending (Server Error, no request) until the
// configuration is edited, and the edit sends the current value.
func TestWebhookEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Key: "data.reference", Fields: []webhooktest.Check{
			{Field: "type", Type: "oneof:result.passed|result.failed|result.completed", Required: true},
			{Field: "data.member_email", Type: "email", Required: true},
			{Field: "data.activity_id", Type: "string", Required: true},
			{Field: "data.completed_on", Type: "date:YYYY-MM-DD", Required: true},
			{Field: "data.passed", Type: "boolean"},
			{Field: "data.score_percent", Type: "number"},
			{Field: "data.ce_hours", Type: "number", Required: true},
			{Field: "data.reference", Type: "uuid", Required: true},
		}})
		smtpd := forwardtest.NewSMTPServer(t)
		up := startLRS(t, append(upstreamEnv(storeEnv), "LRS_SMTP_HOST="+smtpd.Host, "LRS_SMTP_PORT="+strconv.Itoa(smtpd.Port),
			"LRS_SMTP_FROM=lrs@example.com", "LRS_FORWARD_PROBE_INTERVAL=1s")...)
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		a := fwdAdmin(t, up)
		bearer := adminBearer()

		// A mapping error of every kind is listed in one 400.
		r := a.expect(http.StatusBadRequest, http.MethodPost, "/configurations", map[string]any{
			"name": "AMS", "contact_email": "ops@example.com", "type": "webhook",
			"properties": map[string]string{"url": recv.URL + "/hook/{{result.nope}}", "zone": "Mars/Base",
				"fields": `[{"target":"a","source":"participant.shoe_size"},{"target":"b","source":"result.completed_at","format":"date:QQ"},{"target":"c","required":true}]`},
			"secrets": map[string]string{"signing_secret": whSecret},
		}, bearer...)
		for _, want := range []string{"properties.url", "properties.zone", "properties.fields[0].source", "properties.fields[1].format", "properties.fields[2]"} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("the 400 does not name %s: %s", want, r.body)
			}
		}

		props := map[string]string{"url": recv.URL + "/hook", "preset": "generic"}
		cfgBody := func() map[string]any {
			return map[string]any{"name": "Chapter AMS", "contact_email": "ops@example.com", "type": "webhook", "properties": props}
		}
		create := cfgBody()
		create["secrets"] = map[string]string{"signing_secret": whSecret}
		r = a.expect(http.StatusCreated, http.MethodPost, "/configurations", create, bearer...)
		var cfg struct{ ID string }
		if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
			t.Fatalf("configuration create answered %s (%v)", r.body, err)
		}
		r = a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
			"name": "Fire safety", "activity_id": resAct, "configurations": []string{cfg.ID},
		}, bearer...)
		var obj struct{ ID string }
		if err := json.Unmarshal(r.body, &obj); err != nil || obj.ID == "" {
			t.Fatalf("objective create answered %s (%v)", r.body, err)
		}
		// The objective's credits, an edit of the configuration (secrets kept).
		props["objectives"] = fmt.Sprintf(`{%q:{"credits":1.5,"credit_type":"CE"}}`, obj.ID)
		a.expect(http.StatusOK, http.MethodPut, "/configurations/"+cfg.ID, cfgBody(), bearer...)

		// The preview: the exact request for the sample result, signed,
		// without the secret; nothing is sent.
		r = a.expect(http.StatusOK, http.MethodPost, "/configurations/"+cfg.ID+"/preview", cfgBody(), bearer...)
		var pv struct {
			Method, URL, Body string
			Headers           map[string][]string
		}
		if err := json.Unmarshal(r.body, &pv); err != nil || pv.Method != http.MethodPost || pv.URL != recv.URL+"/hook" ||
			!strings.Contains(pv.Body, `"member_email":"ada@example.com"`) || len(pv.Headers["Webhook-Signature"]) != 1 {
			t.Errorf("preview answered %s (%v)", r.body, err)
		}
		if strings.Contains(string(r.body), strings.TrimPrefix(whSecret, "whsec_")) || len(recv.Requests()) != 0 {
			t.Errorf("the preview holds the secret or sent a request (%d): %s", len(recv.Requests()), r.body)
		}

		// The test event: signed, the sample result.
		r = a.expect(http.StatusOK, http.MethodPost, "/configurations/"+cfg.ID+"/test", nil, bearer...)
		if !strings.Contains(string(r.body), `"ok":true`) {
			t.Fatalf("test event answered %s", r.body)
		}
		recv.WaitAccepted(t, 1, 10*time.Second)

		ref := webhook.Key(cfg.ID, forward.ResultKey{Org: "default", ObjectiveID: obj.ID, Participant: resAda, Registration: resReg}.ID())
		var lastItem map[string]any
		latest := func() map[string]any {
			var last map[string]any
			for _, it := range recv.Items() {
				if d, ok := it["data"].(map[string]any); ok && d["reference"] == ref {
					last, lastItem = d, it
				}
			}
			return last
		}
		// idle waits until nothing of the configuration is queued.
		idle := func() {
			t.Helper()
			forwardtest.Eventually(t, 20*time.Second, func() error {
				var st struct{ Queued int }
				_ = json.Unmarshal(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, bearer...).body, &st)
				if st.Queued != 0 {
					return fmt.Errorf("%d deliveries queued", st.Queued)
				}
				return nil
			})
		}
		settled := func(what string, ok func(d map[string]any) bool) {
			t.Helper()
			forwardtest.Eventually(t, 20*time.Second, func() error {
				if d := latest(); d == nil || !ok(d) {
					return fmt.Errorf("%s: the receiver holds %v (%d requests)", what, d, len(recv.Requests()))
				}
				return nil
			})
		}
		deliveries := func() string {
			return string(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/deliveries", nil, bearer...).body)
		}

		// Launched, initialized, answered: not completed, nothing owed.
		session := resSession("wh-a", 0, 0.92, true)
		for _, raw := range session[:3] {
			x.expect(http.StatusOK, http.MethodPost, "/statements", raw)
		}
		if d := deliveries(); strings.Contains(d, `"state"`) {
			t.Fatalf("an incomplete result owes a delivery under the completion trigger: %s", d)
		}
		for _, raw := range session[3:] {
			x.expect(http.StatusOK, http.MethodPost, "/statements", raw)
		}
		settled("after the session", func(d map[string]any) bool {
			return d["score_percent"] == json.Number("92") && d["passed"] == true && d["ce_hours"] == json.Number("1.5") &&
				d["member_email"] == "ada@example.com" && d["completed_on"] == "2026-09-02" && d["credit_type"] == "CE" &&
				lastItem["timestamp"] == "2026-09-02T08:05:00Z" // the session's last statement
		})
		idle()
		for _, it := range recv.Items() {
			if it["type"] == "result.updated" {
				t.Errorf("an incomplete result was sent: %v", it)
			}
		}

		// A re-drive of what was delivered sends the same message: the
		// receiver dedupes it by webhook-id.
		n := len(recv.Requests())
		a.expect(http.StatusOK, http.MethodPost, "/configurations/"+cfg.ID+"/redrive", `{"states":["delivered"]}`, bearer...)
		forwardtest.Eventually(t, 10*time.Second, func() error {
			for _, q := range recv.Requests()[n:] {
				if q.Duplicate && len(q.Problems) == 0 {
					return nil
				}
			}
			var seen []string
			for _, q := range recv.Requests() {
				seen = append(seen, fmt.Sprintf("%s dup=%v status=%d problems=%v %s", q.ID(), q.Duplicate, q.Status, q.Problems, q.Body))
			}
			return fmt.Errorf("no duplicate among %d requests after the re-drive:\n%s", len(recv.Requests())-n, strings.Join(seen, "\n"))
		})

		// An override is forwarded.
		override := "/objectives/" + obj.ID + "/progress/override?participant=ada@example.com&registration=" + resReg
		a.expect(http.StatusOK, http.MethodPost, override, `{"set":{"success":false,"score":{"scaled":0.4}},"reason":"taken by someone else"}`, bearer...)
		settled("after the override", func(d map[string]any) bool { return d["passed"] == false && d["score_percent"] == json.Number("40") })

		// An outage: every connection reset. Three changes; the contact is
		// mailed; back, the receiver gets the newest once.
		resets := make([]webhooktest.Answer, 200)
		for i := range resets {
			resets[i] = webhooktest.Answer{Reset: true}
		}
		recv.Then(resets...)
		before := len(recv.Accepted())
		for i, score := range []string{"0.41", "0.42", "0.43"} {
			a.expect(http.StatusOK, http.MethodPost, override, `{"set":{"score":{"scaled":`+score+`}},"reason":"regrade `+strconv.Itoa(i)+`"}`, bearer...)
		}
		m := smtpd.Wait(t, 30*time.Second)
		body, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "Can't Connect") || !strings.Contains(string(body), "Chapter AMS") || len(m.To) != 1 || m.To[0] != "ops@example.com" {
			t.Errorf("the alert mail to %v:\n%s", m.To, body)
		}
		if strings.Contains(string(body), strings.TrimPrefix(whSecret, "whsec_")) {
			t.Error("the alert mail holds the signing secret")
		}
		recv.Heal()
		settled("after the outage", func(d map[string]any) bool { return d["score_percent"] == json.Number("43") })
		if got := recv.Accepted()[before:]; len(got) != 1 {
			t.Errorf("%d requests accepted after the outage, want the newest value once", len(got))
		}

		// 410: Server Error, and nothing is sent until the configuration is edited.
		recv.Then(webhooktest.Answer{Status: http.StatusGone})
		n = len(recv.Requests())
		a.expect(http.StatusOK, http.MethodPost, override, `{"set":{"score":{"scaled":0.5}},"reason":"regrade 4"}`, bearer...)
		var st struct {
			Status     string
			LastStatus int    `json:"last_status"`
			LastError  string `json:"last_error"`
		}
		forwardtest.Eventually(t, 10*time.Second, func() error {
			st.Status = ""
			_ = json.Unmarshal(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, bearer...).body, &st)
			if st.Status != forward.StatusServerError || st.LastStatus != http.StatusGone {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
		a.expect(http.StatusOK, http.MethodPost, override, `{"set":{"score":{"scaled":0.55}},"reason":"regrade 5"}`, bearer...)
		time.Sleep(2500 * time.Millisecond) // probes every second: they would have sent by now
		if got := len(recv.Requests()) - n; got != 1 {
			t.Errorf("%d requests after the 410, want only the one answered 410", got)
		}
		_ = json.Unmarshal(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/status", nil, bearer...).body, &st)
		if !strings.Contains(st.LastError, "edited") {
			t.Errorf("the status after a 410 does not say how to resume: %+v", st)
		}
		before = len(recv.Accepted())
		a.expect(http.StatusOK, http.MethodPut, "/configurations/"+cfg.ID, cfgBody(), bearer...)
		settled("after the edit", func(d map[string]any) bool { return d["score_percent"] == json.Number("55") })
		if got := recv.Accepted()[before:]; len(got) != 1 {
			t.Errorf("%d requests accepted after the edit, want the current value once", len(got))
		}
		for _, q := range recv.Requests() {
			if len(q.Problems) > 0 {
				t.Errorf("the receiver refused a request: %v", q.Problems)
			}
		}
		for _, path := range []string{"", "/status", "/attempts", "/deliveries"} {
			if b := a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+path, nil, bearer...).body; strings.Contains(string(b), strings.TrimPrefix(whSecret, "whsec_")) {
				t.Errorf("GET …%s holds the signing secret", path)
			}
		}
	})
}

// A batch-mode configuration through the booted binary, on both engines:
// at most two items a request, else daily at 02:00 in Berlin. One
// completed result is held in the store (due at the next 02:00 Berlin,
// nothing sent); the second makes the batch, sent as one signed request
// with both items in an envelope whose batch_id is the webhook-id.
func TestWebhookBatchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Envelope: "items", MaxItems: 2, Key: "reference",
			Fields: []webhooktest.Check{{Field: "email", Type: "email", Required: true}, {Field: "completed_on", Type: "date:YYYY-MM-DD", Required: true}}})
		up := startLRS(t, append(upstreamEnv(storeEnv), "LRS_FORWARD_PROBE_INTERVAL=1s")...)
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		a := fwdAdmin(t, up)
		bearer := adminBearer()
		r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", map[string]any{
			"name": "Nightly AMS", "contact_email": "ops@example.com", "type": "webhook",
			"properties": map[string]string{"url": recv.URL + "/batch", "mode": "batch", "max_items": "2", "schedule": "0 2 * * *", "zone": "Europe/Berlin",
				"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true},
					{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`},
			"secrets": map[string]string{"signing_secret": whSecret},
		}, bearer...)
		var cfg struct{ ID string }
		if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
			t.Fatalf("configuration create answered %s (%v)", r.body, err)
		}
		a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
			"name": "Fire safety", "activity_id": resAct, "configurations": []string{cfg.ID},
		}, bearer...)

		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("whb-a", 0, 0.9, true), ",")+"]")
		forwardtest.Eventually(t, 10*time.Second, func() error {
			var out struct {
				Deliveries []struct {
					State       string
					NextAttempt time.Time `json:"next_attempt"`
				}
			}
			_ = json.Unmarshal(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+cfg.ID+"/deliveries", nil, bearer...).body, &out)
			if len(out.Deliveries) != 1 || out.Deliveries[0].State != forward.StatePending || !out.Deliveries[0].NextAttempt.After(time.Now()) {
				return fmt.Errorf("deliveries %+v: want one held", out.Deliveries)
			}
			if at := out.Deliveries[0].NextAttempt.In(berlin); at.Hour() != 2 || at.Minute() != 0 || at.Sub(time.Now()) > 24*time.Hour {
				return fmt.Errorf("held until %v, want the next 02:00 in Berlin", at)
			}
			return nil
		})
		if n := len(recv.Requests()); n != 0 {
			t.Fatalf("%d requests with one of two items queued", n)
		}

		bob := resSession("whb-b", 10, 0.8, true)
		for i, raw := range bob {
			bob[i] = strings.NewReplacer("mailto:ada@example.com", "mailto:bob@example.com", "Ada Lovelace", "Bob").Replace(raw)
		}
		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(bob, ",")+"]")
		got := recv.WaitAccepted(t, 1, 20*time.Second)
		var env struct {
			BatchID string `json:"batch_id"`
		}
		if err := json.Unmarshal(got[0].Body, &env); err != nil || len(got[0].Items) != 2 || env.BatchID != got[0].ID() {
			t.Fatalf("the batch: %s (%v)", got[0].Body, err)
		}
		emails := []any{got[0].Items[0]["email"], got[0].Items[1]["email"]}
		if !(emails[0] == "ada@example.com" && emails[1] == "bob@example.com") && !(emails[1] == "ada@example.com" && emails[0] == "bob@example.com") {
			t.Errorf("the batch's items: %v", emails)
		}
		if n := len(recv.Requests()); n != 1 {
			t.Errorf("%d requests, want the one batch", n)
		}
	})
}

// Every AMS preset through the booted binary, on both engines: one
// completed session reaches iMIS (an Activity keyed by the member id from
// the participant directory), YourMembership (a CEU journal entry) and
// Salesforce (a PATCH upsert by result.key in the URL, with an OAuth2
// client-credentials token), each in its own field names and formats.
func TestWebhookPresetsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ParseForm() != nil || r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_id") != "sf-app" || r.FormValue("client_secret") != "sf-secret-0123" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"sf-token-1","token_type":"Bearer","expires_in":3600}`)
		}))
		t.Cleanup(tokens.Close)
		imis := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Method: http.MethodPost, Key: "UF1", Fields: []webhooktest.Check{
			{Field: "Id", Type: "string", Required: true}, {Field: "ActivityType", Type: "oneof:CE", Required: true},
			{Field: "TransactionDate", Type: "date:YYYY-MM-DD", Required: true}, {Field: "Units", Type: "number", Required: true},
			{Field: "UF1", Type: "uuid", Required: true}}})
		ym := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Method: http.MethodPost, Fields: []webhooktest.Check{
			{Field: "PersonID", Type: "integer", Required: true}, {Field: "CEUsEarned", Type: "number", Required: true},
			{Field: "EntryDate", Type: "date:rfc3339", Required: true}, {Field: "ScorePercent", Type: "number", Required: true}}})
		sf := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Method: http.MethodPatch,
			Headers: map[string]string{"Authorization": "Bearer sf-token-1"}, Fields: []webhooktest.Check{
				{Field: "Member_Email__c", Type: "email", Required: true}, {Field: "Passed__c", Type: "boolean", Required: true},
				{Field: "Completion_Date__c", Type: "date:YYYY-MM-DD", Required: true}, {Field: "CE_Credits__c", Type: "number", Required: true}}})

		up := startLRS(t, upstreamEnv(storeEnv)...)
		x := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
		a := fwdAdmin(t, up)
		bearer := adminBearer()
		r := a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{"name": "Fire safety", "activity_id": resAct}, bearer...)
		var obj struct{ ID string }
		if err := json.Unmarshal(r.body, &obj); err != nil || obj.ID == "" {
			t.Fatalf("objective create answered %s (%v)", r.body, err)
		}
		common := map[string]string{
			"directory":  "email,member_id,name\nada@example.com,100042,Ada Lovelace\n",
			"objectives": fmt.Sprintf(`{%q:{"credits":1.5,"credit_type":"CE","external_id":"FS-101"}}`, obj.ID),
		}
		var ids []string
		for _, c := range []struct {
			preset string
			props  map[string]string
			sec    map[string]string
		}{
			{"imis", map[string]string{"url": imis.URL + "/api/Activity"}, nil},
			{"yourmembership", map[string]string{"url": ym.URL + "/Ams/123/CertificationsJournals"}, nil},
			{"salesforce", map[string]string{"url": sf.URL + "/services/data/v60.0/sobjects/LMS_Completion__c/External_Id__c/{{result.key}}",
				"token_url": tokens.URL + "/token", "client_id": "sf-app"}, map[string]string{"client_secret": "sf-secret-0123"}},
		} {
			props := map[string]string{"preset": c.preset}
			for k, v := range common {
				props[k] = v
			}
			for k, v := range c.props {
				props[k] = v
			}
			sec := map[string]string{"signing_secret": whSecret}
			for k, v := range c.sec {
				sec[k] = v
			}
			r := a.expect(http.StatusCreated, http.MethodPost, "/configurations", map[string]any{"name": c.preset, "contact_email": "ops@example.com",
				"type": "webhook", "properties": props, "secrets": sec}, bearer...)
			var cfg struct{ ID string }
			if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.ID == "" {
				t.Fatalf("configuration create answered %s (%v)", r.body, err)
			}
			ids = append(ids, cfg.ID)
		}
		a.expect(http.StatusOK, http.MethodPut, "/objectives/"+obj.ID, map[string]any{"name": "Fire safety", "activity_id": resAct, "configurations": ids}, bearer...)

		x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(resSession("whp-a", 0, 0.9, true), ",")+"]")
		key := forward.ResultKey{Org: "default", ObjectiveID: obj.ID, Participant: resAda, Registration: resReg}.ID()
		item := func(recv *webhooktest.Receiver) (webhooktest.Request, map[string]any) {
			t.Helper()
			q := recv.WaitAccepted(t, 1, 20*time.Second)
			return q[len(q)-1], q[len(q)-1].Items[0]
		}
		_, it := item(imis)
		if it["Id"] != "100042" || it["ProductCode"] != "FS-101" || it["Units"] != json.Number("1.50") || it["UF1"] != webhook.Key(ids[0], key) ||
			it["TransactionDate"] != "2026-09-02" || it["Description"] != "Fire safety" {
			t.Errorf("iMIS received %v", it)
		}
		_, it = item(ym)
		if it["PersonID"] != json.Number("100042") || it["CEUsEarned"] != json.Number("1.50") || it["ScorePercent"] != json.Number("90.00") ||
			it["CertificationName"] != "Fire safety" || it["CreditTypeCode"] != "CE" {
			t.Errorf("YourMembership received %v", it)
		}
		q, it := item(sf)
		if !strings.HasSuffix(q.Path, "/External_Id__c/"+webhook.Key(ids[2], key)) || it["Member_Email__c"] != "ada@example.com" ||
			it["Member_Id__c"] != "100042" || it["Passed__c"] != true || it["Score__c"] != json.Number("90.00") || it["Course_Id__c"] != "FS-101" {
			t.Errorf("Salesforce received %s %v", q.Path, it)
		}
		for _, recv := range []*webhooktest.Receiver{imis, ym, sf} {
			for _, q := range recv.Requests() {
				if len(q.Problems) > 0 {
					t.Errorf("a receiver refused a request: %v", q.Problems)
				}
			}
		}
	})
}
