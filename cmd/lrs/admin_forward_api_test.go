package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/xapi"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// The forwarding objects of the admin API over the binary's destination
// types (the HTTP handlers of lrs/api over forward.Admin, over the embedded
// engine), with a real LRS downstream where a test connects to one.

// syncBuffer is a log that tests read while servers write it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// apiNode is an LRS in the test process: its HTTP handler over a store,
// with the admin API.
type apiNode struct {
	t     *testing.T
	srv   *httptest.Server
	audit *syncBuffer
}

func newAPINode(t *testing.T, db *pebbledb.DB, tune ...func(*api.Options)) *apiNode {
	t.Helper()
	authn := auth.NewAuthenticator(db, auth.AuthenticatorOptions{TTL: time.Minute})
	t.Cleanup(authn.Wait)
	audit := &syncBuffer{}
	opts := api.Options{
		Service:   lrs.NewService(db, lrs.ServiceOptions{MaxLimit: 50, Activities: db, Agents: db}),
		Documents: lrs.NewDocuments(db, nil),
		Auth:      authn,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Admin: &api.AdminOptions{
			Token: testAdminToken, Store: db, HomePage: "http://lrs.test",
			Audit:  slog.New(slog.NewJSONHandler(audit, nil)),
			Forget: authn.Forget,
		},
	}
	for _, f := range tune {
		f(&opts)
	}
	h, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &apiNode{t: t, srv: srv, audit: audit}
}

// admin sends an admin request and decodes a JSON answer into out.
func (n *apiNode) admin(method, path, body string, want int, out any) []byte {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+testAdminToken)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			n.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

type credOut struct {
	Key    string `json:"key"`
	Secret string `json:"secret"`
}

// newCred creates an organization and a credential in it.
func (n *apiNode) newCred(org string, scopes ...string) credOut {
	n.t.Helper()
	n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"`+org+`","name":"Org `+org+`"}`, 201, nil)
	sc, _ := json.Marshal(scopes)
	var c credOut
	n.admin("POST", api.AdminPrefix+"/orgs/"+org+"/credentials", `{"name":"test","scopes":`+string(sc)+`}`, 201, &c)
	return c
}

// deliveryOut and attemptOut are what the tests read of the admin API's
// deliveries and delivery log.
type deliveryOut struct {
	StatementID string `json:"statement_id"`
	State       string `json:"state"`
}

type attemptOut struct {
	Status int `json:"status"`
}

// invalidations counts Invalidate calls by organization.
type invalidations struct {
	mu   chan struct{}
	orgs map[string]int
}

func (i *invalidations) Invalidate(org string) {
	i.mu <- struct{}{}
	i.orgs[org]++
	<-i.mu
}

func (i *invalidations) count(org string) int {
	i.mu <- struct{}{}
	defer func() { <-i.mu }()
	return i.orgs[org]
}

// fwdNode is an LRS with forwarding enabled in its admin API, its log
// captured.
type fwdNode struct {
	*apiNode
	db   *pebbledb.DB
	logs *syncBuffer
	inv  *invalidations
}

func newFwdNode(t *testing.T, sealed bool) *fwdNode {
	t.Helper()
	db := openPebble(t)
	logs := &syncBuffer{}
	inv := &invalidations{mu: make(chan struct{}, 1), orgs: map[string]int{}}
	var sealer *forward.Sealer
	if sealed {
		var err error
		if sealer, err = forward.NewSealer([]byte(strings.Repeat("k", forward.KeySize))); err != nil {
			t.Fatal(err)
		}
	}
	types := forwardtest.Registry(t, xapi.Type(xapi.Options{Egress: forwardtest.Loopback, Timeout: 5 * time.Second}))
	n := newAPINode(t, db, func(o *api.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Admin.Forward = forward.NewAdmin(db, types, forward.AdminOptions{Sealer: sealer, Invalidate: inv.Invalidate, TestTimeout: 10 * time.Second, Egress: forwardtest.Loopback})
	})
	for _, org := range []string{"org-a", "org-b"} {
		n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"`+org+`","name":"Org `+org+`"}`, 201, nil)
	}
	return &fwdNode{apiNode: n, db: db, logs: logs, inv: inv}
}

type cfgOut struct {
	ID           string            `json:"id"`
	Org          string            `json:"org"`
	Name         string            `json:"name"`
	ContactEmail string            `json:"contact_email"`
	Type         string            `json:"type"`
	Identifier   string            `json:"identifier"`
	Properties   map[string]string `json:"properties"`
	SecretsSet   bool              `json:"secrets_set"`
	Revision     int64             `json:"revision"`
}

type testOut struct {
	OK         bool   `json:"ok"`
	Status     string `json:"status"`
	Outcome    string `json:"outcome"`
	HTTPStatus int    `json:"http_status"`
	Message    string `json:"message"`
}

const downSecretValue = "Very-Secret-Downstream-Value-42"

func cfgBody(endpoint, key, secret string) string {
	return `{"name":"Moodle","contact_email":"ops@example.com","type":"xapi",
		"properties":{"endpoint":"` + endpoint + `","version":"1.0.3"},
		"secrets":{"key":"` + key + `","secret":"` + secret + `"}}`
}

func cfgPath(org string, rest ...string) string {
	return api.AdminPrefix + "/orgs/" + org + "/configurations" + strings.Join(rest, "")
}

func TestForwardAdminCRUDAndSecrets(t *testing.T) {
	n := newFwdNode(t, true)
	var cf cfgOut
	n.admin("POST", cfgPath("org-a"), cfgBody("https://lms.example/xapi/", "k1", downSecretValue), 201, &cf)
	if cf.ID == "" || cf.Org != "org-a" || cf.Identifier != "mbox" || !cf.SecretsSet || cf.Revision != 1 || cf.Properties["endpoint"] != "https://lms.example/xapi/" {
		t.Fatalf("created: %+v", cf)
	}
	if n.inv.count("org-a") == 0 {
		t.Error("create did not invalidate the obligations cache")
	}
	var bodies []string
	bodies = append(bodies, string(n.admin("GET", cfgPath("org-a", "/", cf.ID), "", 200, nil)))
	bodies = append(bodies, string(n.admin("GET", cfgPath("org-a"), "", 200, nil)))
	bodies = append(bodies, string(n.admin("GET", cfgPath("org-a", "/", cf.ID, "/status"), "", 200, nil)))
	bodies = append(bodies, string(n.admin("GET", cfgPath("org-a", "/", cf.ID, "/deliveries"), "", 200, nil)))
	bodies = append(bodies, string(n.admin("GET", cfgPath("org-a", "/", cf.ID, "/attempts"), "", 200, nil)))
	var upd cfgOut
	bodies = append(bodies, string(n.admin("PUT", cfgPath("org-a", "/", cf.ID),
		`{"name":"Moodle 2","contact_email":"ops@example.com","type":"xapi","identifier":"account","properties":{"endpoint":"https://lms.example/xapi/"}}`, 200, &upd)))
	if upd.Revision != 2 || upd.Name != "Moodle 2" || !upd.SecretsSet || upd.Identifier != "account" {
		t.Errorf("updated without secrets: %+v", upd)
	}
	for _, b := range bodies {
		if strings.Contains(b, downSecretValue) {
			t.Errorf("a response holds the secret: %s", b)
		}
	}
	if s := n.logs.String() + n.audit.String(); strings.Contains(s, downSecretValue) {
		t.Errorf("the logs hold the secret:\n%s", s)
	}
	// The stored secrets are sealed.
	stored, err := n.db.GetConfiguration(context.Background(), "org-a", cf.ID)
	if err != nil || len(stored.SealedSecret) == 0 || strings.Contains(string(stored.SealedSecret), downSecretValue) {
		t.Errorf("stored: %v %q", err, stored.SealedSecret)
	}

	// Objectives: attach, unknown configuration refused, list, update, delete.
	var obj struct {
		ID             string   `json:"id"`
		ActivityID     string   `json:"activity_id"`
		Verbs          []string `json:"verbs"`
		Configurations []string `json:"configurations"`
	}
	op := api.AdminPrefix + "/orgs/org-a/objectives"
	n.admin("POST", op, `{"name":"Quiz","activity_id":"http://example.com/quiz","verbs":["http://adlnet.gov/expapi/verbs/passed"],"configurations":["`+cf.ID+`"]}`, 201, &obj)
	if obj.ID == "" || len(obj.Configurations) != 1 || obj.Configurations[0] != cf.ID {
		t.Fatalf("objective: %+v", obj)
	}
	b := string(n.admin("POST", op, `{"name":"Quiz","activity_id":"quiz","verbs":["passed"],"configurations":["nope","`+cf.ID+`"]}`, 400, nil))
	for _, want := range []string{"activity_id", "verbs[0]", `configurations[0]: no configuration \"nope\"`} {
		if !strings.Contains(b, want) {
			t.Errorf("objective 400 lacks %q: %s", want, b)
		}
	}
	n.admin("PUT", op+"/"+obj.ID, `{"name":"Quiz 2","activity_id":"http://example.com/quiz","configurations":["`+cf.ID+`"]}`, 200, &obj)
	if len(obj.Verbs) != 0 {
		t.Errorf("updated objective: %+v", obj)
	}
	var objs struct{ Objectives []json.RawMessage }
	n.admin("GET", op, "", 200, &objs)
	if len(objs.Objectives) != 1 {
		t.Errorf("objectives: %d", len(objs.Objectives))
	}

	// Deleting the configuration detaches it.
	n.admin("DELETE", cfgPath("org-a", "/", cf.ID), "", 204, nil)
	n.admin("GET", cfgPath("org-a", "/", cf.ID), "", 404, nil)
	n.admin("GET", op+"/"+obj.ID, "", 200, &obj)
	if len(obj.Configurations) != 0 {
		t.Errorf("deleted configuration still attached: %+v", obj)
	}
	n.admin("DELETE", op+"/"+obj.ID, "", 204, nil)
	n.admin("GET", op+"/"+obj.ID, "", 404, nil)
	n.admin("GET", api.AdminPrefix+"/orgs/nowhere/configurations", "", 404, nil)
}

func TestForwardAdminValidation(t *testing.T) {
	n := newFwdNode(t, true)
	b := string(n.admin("POST", cfgPath("org-a"), `{"contact_email":"nope","type":"ftp","identifier":"phone","properties":{},"secrets":{}}`, 400, nil))
	for _, want := range []string{"name: is required", "contact_email:", "type:", "identifier:"} {
		if !strings.Contains(b, want) {
			t.Errorf("400 lacks %q: %s", want, b)
		}
	}
	// xapi rules together with the field rules, in one answer.
	b = string(n.admin("POST", cfgPath("org-a"), `{"name":"","contact_email":"ops@example.com","type":"xapi",
		"properties":{"endpoint":"ftp://x","version":"3","auth":"oauth2","secret":"x","colour":"red"},"secrets":{"client_id":"c"}}`, 400, nil))
	for _, want := range []string{"name: is required", "properties.endpoint", "properties.version", "properties.token_url", "secrets.client_secret",
		"properties.secret: is a secret", "properties.colour: unknown"} {
		if !strings.Contains(b, want) {
			t.Errorf("400 lacks %q: %s", want, b)
		}
	}
	b = string(n.admin("POST", cfgPath("org-a"), `{"name":"x","contact_email":"ops@example.com","type":"xapi","properties":{"endpoint":"https://lms.example"}}`, 400, nil))
	for _, want := range []string{"secrets.key", "secrets.secret"} {
		if !strings.Contains(b, want) {
			t.Errorf("400 lacks %q: %s", want, b)
		}
	}
	if !strings.Contains(b, `"code":"invalid"`) {
		t.Errorf("not an invalid error: %s", b)
	}
	n.admin("POST", cfgPath("org-a"), `{"name":"x","contact_email":"ops@example.com","type":"xapi","bogus":1}`, 400, nil)
}

func TestForwardAdminDisabledWithoutKey(t *testing.T) {
	n := newFwdNode(t, false)
	b := string(n.admin("POST", cfgPath("org-a"), cfgBody("https://lms.example/xapi/", "k", "s"), 503, nil))
	if !strings.Contains(b, "LRS_FORWARD_KEY") {
		t.Errorf("503 without the hint: %s", b)
	}
	n.admin("GET", cfgPath("org-a"), "", 200, nil)
}

func TestForwardAdminEditRedrivesAndStatus(t *testing.T) {
	n := newFwdNode(t, true)
	var cf cfgOut
	n.admin("POST", cfgPath("org-a"), cfgBody("https://lms.example/xapi/", "k1", downSecretValue), 201, &cf)
	ctx := context.Background()
	old := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	later := old.Add(3 * time.Hour) // a backoff slot two hours away
	mk := func(id, state string) forward.Delivery {
		d := forward.Delivery{Org: "org-a", ConfigurationID: cf.ID, StatementID: id, Participant: "ann@example.com",
			State: state, NextAttempt: old, CreatedAt: old, UpdatedAt: old}
		if state == forward.StatePending {
			d.Attempts, d.FirstFailure, d.NextAttempt = 6, old, later
		}
		return d
	}
	if err := n.db.EnsureDeliveries(ctx, []forward.Delivery{mk("s-pending", forward.StatePending), mk("s-parked", forward.StateParked),
		mk("s-rejected", forward.StateRejected), mk("s-done", forward.StateDelivered)}); err != nil {
		t.Fatal(err)
	}
	if err := n.db.PutStatus(ctx, forward.ConfigStatus{Org: "org-a", ConfigurationID: cf.ID, Status: forward.StatusServerError,
		LastError: "HTTP 500: boom " + downSecretValue, LastStatus: 500, FirstFailure: old, UpdatedAt: old}); err != nil {
		t.Fatal(err)
	}
	if err := n.db.AddAttempt(ctx, forward.Attempt{Org: "org-a", ConfigurationID: cf.ID, StatementIDs: []string{"s-parked"}, At: old,
		Outcome: forward.OutcomeTransient, Status: 500, Response: "HTTP 500: boom"}); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status    string  `json:"status"`
		LastError string  `json:"last_error"`
		Queued    int     `json:"queued"`
		Parked    int     `json:"parked"`
		Rejected  int     `json:"rejected"`
		Delivered int     `json:"delivered"`
		Age       float64 `json:"oldest_pending_age_seconds"`
		First     string  `json:"first_failure"`
	}
	n.admin("GET", cfgPath("org-a", "/", cf.ID, "/status"), "", 200, &st)
	if st.Status != forward.StatusServerError || st.Queued != 1 || st.Parked != 1 || st.Rejected != 1 || st.Delivered != 1 || st.Age < 3000 || st.First == "" {
		t.Errorf("status: %+v", st)
	}
	if strings.Contains(st.LastError, downSecretValue) || !strings.Contains(st.LastError, "[redacted]") {
		t.Errorf("last error not redacted: %q", st.LastError)
	}
	var dl struct{ Deliveries []deliveryOut }
	n.admin("GET", cfgPath("org-a", "/", cf.ID, "/deliveries?state=parked"), "", 200, &dl)
	if len(dl.Deliveries) != 1 || dl.Deliveries[0].StatementID != "s-parked" {
		t.Errorf("parked deliveries: %+v", dl.Deliveries)
	}
	n.admin("GET", cfgPath("org-a", "/", cf.ID, "/deliveries?state=lost"), "", 400, nil)
	var at struct{ Attempts []attemptOut }
	n.admin("GET", cfgPath("org-a", "/", cf.ID, "/attempts?limit=5"), "", 200, &at)
	if len(at.Attempts) != 1 || at.Attempts[0].Status != 500 {
		t.Errorf("attempts: %+v", at.Attempts)
	}
	n.admin("GET", api.AdminPrefix+"/orgs/org-a/statements/s-parked/deliveries", "", 200, &dl)
	if len(dl.Deliveries) != 1 || dl.Deliveries[0].State != forward.StateParked {
		t.Errorf("statement deliveries: %+v", dl.Deliveries)
	}

	// Moving the endpoint to another host without the secrets is refused:
	// they were entered for the first one.
	b := string(n.admin("PUT", cfgPath("org-a", "/", cf.ID), `{"name":"Moodle","contact_email":"ops@example.com","type":"xapi","properties":{"endpoint":"https://lms2.example/xapi/"}}`, 400, nil))
	if !strings.Contains(b, "properties.endpoint moves from https://lms.example:443 to https://lms2.example:443: enter the secrets again") {
		t.Errorf("host change without secrets: %s", b)
	}
	var got cfgOut
	n.admin("GET", cfgPath("org-a", "/", cf.ID), "", 200, &got)
	if got.Revision != 1 || got.Properties["endpoint"] != "https://lms.example/xapi/" {
		t.Errorf("the refused edit changed the configuration: %+v", got)
	}
	// A rename re-drives the parked and rejected deliveries; the pending
	// one keeps its slot.
	n.admin("PUT", cfgPath("org-a", "/", cf.ID), `{"name":"Moodle 2","contact_email":"ops@example.com","type":"xapi","properties":{"endpoint":"https://lms.example/xapi/","version":"1.0.3"}}`, 200, nil)
	for _, id := range []string{"s-parked", "s-rejected"} {
		d, err := n.db.GetDelivery(ctx, "org-a", cf.ID, id)
		if err != nil || d.State != forward.StatePending {
			t.Errorf("%s after the edit: %v %+v", id, err, d)
		}
	}
	if d, _ := n.db.GetDelivery(ctx, "org-a", cf.ID, "s-pending"); !d.NextAttempt.Equal(later) || d.Attempts != 6 {
		t.Errorf("a rename re-drove the pending delivery: %+v", d)
	}
	if d, _ := n.db.GetDelivery(ctx, "org-a", cf.ID, "s-done"); d.State != forward.StateDelivered {
		t.Errorf("delivered touched: %+v", d)
	}
	// A fix (the secrets, with the new host) re-drives the pending one too.
	before := time.Now().UTC().Add(-time.Second)
	n.admin("PUT", cfgPath("org-a", "/", cf.ID), cfgBody("https://lms2.example/xapi/", "k1", downSecretValue), 200, nil)
	if d, _ := n.db.GetDelivery(ctx, "org-a", cf.ID, "s-pending"); d.State != forward.StatePending || d.NextAttempt.Before(before) ||
		d.NextAttempt.After(time.Now()) || d.Attempts != 0 {
		t.Errorf("the pending delivery after the fix: %+v, want due now with a fresh schedule", d)
	}
	// POST …/redrive takes the states; by default pending, parked and
	// rejected.
	var rd struct{ Redriven int }
	n.admin("POST", cfgPath("org-a", "/", cf.ID, "/redrive"), `{"states":["delivered"]}`, 200, &rd)
	if rd.Redriven != 1 {
		t.Errorf("redrive of the delivered: %d, want 1", rd.Redriven)
	}
	// Everything is due now with a fresh schedule: nothing to re-drive;
	// then one waiting at a backoff slot, one parked and one rejected are.
	n.admin("POST", cfgPath("org-a", "/", cf.ID, "/redrive"), "", 200, &rd)
	if rd.Redriven != 0 {
		t.Errorf("redrive of what is due already: %d, want 0", rd.Redriven)
	}
	if err := n.db.EnsureDeliveries(ctx, []forward.Delivery{mk("s-wait", forward.StatePending), mk("s-parked2", forward.StateParked),
		mk("s-rejected2", forward.StateRejected), mk("s-done2", forward.StateDelivered)}); err != nil {
		t.Fatal(err)
	}
	n.admin("POST", cfgPath("org-a", "/", cf.ID, "/redrive"), "", 200, &rd)
	if rd.Redriven != 3 {
		t.Errorf("redrive by default: %d, want 3 (pending, parked and rejected)", rd.Redriven)
	}
	b = string(n.admin("POST", cfgPath("org-a", "/", cf.ID, "/redrive"), `{"states":["lost"]}`, 400, nil))
	if !strings.Contains(b, `states[0]: \"lost\"`) {
		t.Errorf("redrive of an unknown state: %s", b)
	}
	n.admin("POST", cfgPath("org-a", "/", cf.ID, "/redrive"), `{"state":"pending"}`, 400, nil)
}

func TestForwardAdminOrgIsolation(t *testing.T) {
	n := newFwdNode(t, true)
	var cf cfgOut
	n.admin("POST", cfgPath("org-b"), cfgBody("https://lms.example/xapi/", "k", "s3cret"), 201, &cf)
	var l struct{ Configurations []cfgOut }
	n.admin("GET", cfgPath("org-a"), "", 200, &l)
	if len(l.Configurations) != 0 {
		t.Errorf("org a lists org b's configurations: %+v", l)
	}
	for _, p := range []string{"", "/status", "/deliveries", "/attempts"} {
		n.admin("GET", cfgPath("org-a", "/", cf.ID, p), "", 404, nil)
	}
	n.admin("PUT", cfgPath("org-a", "/", cf.ID), cfgBody("https://lms.example/xapi/", "k", "s"), 404, nil)
	n.admin("POST", cfgPath("org-a", "/", cf.ID, "/test"), "", 404, nil)
	n.admin("POST", cfgPath("org-a", "/", cf.ID, "/redrive"), "", 404, nil)
	n.admin("DELETE", cfgPath("org-a", "/", cf.ID), "", 404, nil)
	// Org a cannot attach org b's configuration.
	b := string(n.admin("POST", api.AdminPrefix+"/orgs/org-a/objectives", `{"name":"q","activity_id":"http://example.com/q","configurations":["`+cf.ID+`"]}`, 400, nil))
	if !strings.Contains(b, cf.ID) {
		t.Errorf("400 does not name the id: %s", b)
	}
	n.admin("GET", cfgPath("org-b", "/", cf.ID), "", 200, nil)
}

func TestForwardAdminTestConnection(t *testing.T) {
	// The downstream: a real LRS with a write-only credential.
	down := newAPINode(t, openPebble(t))
	cred := down.newCred("down", "statements/write")
	endpoint := down.srv.URL + "/xapi/"

	n := newFwdNode(t, true)
	test := func(body string) testOut {
		t.Helper()
		var cf cfgOut
		n.admin("POST", cfgPath("org-a"), body, 201, &cf)
		var out testOut
		b := n.admin("POST", cfgPath("org-a", "/", cf.ID, "/test"), "", 200, &out)
		if strings.Contains(string(b), cred.Secret) || strings.Contains(string(b), downSecretValue) {
			t.Errorf("the test answer holds the secret: %s", b)
		}
		return out
	}
	if r := test(cfgBody(endpoint, cred.Key, cred.Secret)); !r.OK || r.Status != forward.StatusOK {
		t.Errorf("right credentials: %+v", r)
	}
	if r := test(cfgBody(endpoint, cred.Key, downSecretValue)); r.OK || r.Status != forward.StatusServerError || r.HTTPStatus != 401 {
		t.Errorf("wrong credentials: %+v", r)
	}
	closed := httptest.NewServer(nil)
	closedURL := closed.URL
	closed.Close()
	if r := test(cfgBody(closedURL+"/xapi/", cred.Key, cred.Secret)); r.OK || r.Status != forward.StatusCantConnect {
		t.Errorf("closed port: %+v", r)
	}
	if s := n.logs.String() + n.audit.String(); strings.Contains(s, cred.Secret) || strings.Contains(s, downSecretValue) {
		t.Errorf("the logs hold a secret")
	}
}
