package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/clever"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
)

// A hostile destination echoes everything it receives (debugging proxies,
// WAF block pages and some LMS error pages do): the request line with its
// query, every header (Authorization included) and the body (a token
// request's form included), as JSON, HTML, raw text, a redirect's Location
// and a nested JSON document. The secrets of every destination type, in
// every form they take on the wire, must appear nowhere: not in the admin
// API's answers, the server's log, the alert mail, nor the store.

// Secrets with every character some encoding changes.
const (
	hostileKey          = "hostile-key"
	hostileSecret       = `pw/"<&>+=?% é🔑\x-basic`
	hostileClientID     = "hostile-client"
	hostileClientSecret = `cs/"<&>+=?% é🔑\x-oauth`
	hostileToken        = "tok+/=Z3JlYXQtdG9rZW4tZnJvbS10aGUtdG9rZW4tZW5kcG9pbnQ"
)

// echoServer is the hostile destination; it counts what it answered.
type echoServer struct {
	*httptest.Server
	api, token atomic.Int64
}

func newEchoServer(t *testing.T) *echoServer {
	e := &echoServer{}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

func dumpRequest(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\n", r.Method, r.RequestURI, r.Proto)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.Header[k], ", "))
	}
	b.WriteString("\n")
	b.Write(body)
	return b.String()
}

func (e *echoServer) serve(w http.ResponseWriter, r *http.Request) {
	dump := dumpRequest(r)
	jsonBody := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if strings.HasSuffix(r.URL.Path, "/token") || strings.HasSuffix(r.URL.Path, "/oauth/tokens") {
		if e.token.Add(1)%2 == 1 {
			jsonBody(http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "we got: " + dump})
			return
		}
		jsonBody(http.StatusOK, map[string]any{"access_token": hostileToken, "token_type": "Bearer", "expires_in": 3600,
			"data": []map[string]any{{"access_token": hostileToken}}})
		return
	}
	switch e.api.Add(1) % 6 {
	case 0:
		jsonBody(http.StatusInternalServerError, map[string]string{"message": "upstream said: " + dump})
	case 1:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<html><body><h1>Request blocked</h1><pre>%s</pre></body></html>", html.EscapeString(dump))
	case 2:
		w.Header().Set("Location", "https://evil.example/?req="+url.QueryEscape(dump))
		w.WriteHeader(http.StatusFound)
	case 3:
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, dump)
	case 4:
		w.Header().Set("Retry-After", "1")
		jsonBody(http.StatusServiceUnavailable, map[string]any{"error": dump})
	case 5:
		jsonBody(http.StatusInternalServerError, map[string]any{"detail": map[string]any{"request": dump}})
	}
}

// secretForms are the forms of the secrets to look for, made independently
// of the redactor.
func secretForms() map[string]string {
	forms := map[string]string{}
	for name, s := range map[string]string{"secret": hostileSecret, "client_secret": hostileClientSecret, "token": hostileToken} {
		forms[name] = s
		forms[name+" (query)"] = url.QueryEscape(s)
		forms[name+" (path)"] = url.PathEscape(s)
		j, _ := json.Marshal(s)
		forms[name+" (json)"] = string(j[1 : len(j)-1])
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		forms[name+" (json, no html escapes)"] = strings.TrimSpace(b.String())[1 : len(strings.TrimSpace(b.String()))-1]
		forms[name+" (html)"] = html.EscapeString(s)
		forms[name+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	forms["basic credentials"] = base64.StdEncoding.EncodeToString([]byte(hostileKey + ":" + hostileSecret))
	forms["client basic credentials"] = base64.StdEncoding.EncodeToString([]byte(hostileClientID + ":" + url.QueryEscape(hostileClientSecret)))
	forms["client basic credentials (raw)"] = base64.StdEncoding.EncodeToString([]byte(hostileClientID + ":" + hostileClientSecret))
	return forms
}

// noSecret fails the test for every form of a secret found in text.
func noSecret(t *testing.T, where, text string) {
	t.Helper()
	for name, f := range secretForms() {
		if i := strings.Index(text, f); i >= 0 {
			t.Errorf("%s holds the %s: …%s…", where, name, text[max(i-60, 0):min(i+len(f)+20, len(text))])
		}
	}
}

func TestForwardHostileEchoingDestination(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		echo := newEchoServer(t)
		smtpd := forwardtest.NewSMTPServer(t)
		env := append(upstreamEnv(storeEnv), "LRS_SMTP_HOST="+smtpd.Host, fmt.Sprintf("LRS_SMTP_PORT=%d", smtpd.Port),
			"LRS_SMTP_FROM=lrs@example.com", "LRS_FORWARD_PROBE_INTERVAL=1s", "LRS_LOG_LEVEL=debug")
		up := startLRS(t, env...)
		if isMongoEnv(env) {
			waitOutput(t, up, `store="mongodb`)
		}
		activity := "http://example.com/e2e/hostile/" + uuid.NewString()
		cfgs := []string{
			setupForwardingWith(t, up, activity, map[string]string{"endpoint": echo.URL + "/basic/xapi/"},
				map[string]string{"key": hostileKey, "secret": hostileSecret}),
			setupForwardingWith(t, up, activity, map[string]string{"endpoint": echo.URL + "/body/xapi/", "auth": "oauth2",
				"token_url": echo.URL + "/body/token", "scope": "xapi:write"},
				map[string]string{"client_id": hostileClientID, "client_secret": hostileClientSecret}),
			setupForwardingWith(t, up, activity, map[string]string{"endpoint": echo.URL + "/basic-client/xapi/", "auth": "oauth2",
				"token_url": echo.URL + "/basic-client/token", "client_auth": "basic"},
				map[string]string{"client_id": hostileClientID, "client_secret": hostileClientSecret}),
		}
		c := &client{t: t, base: up.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "2.0.0"}
		sts, _ := fwdBatch(4, activity)
		c.expect(http.StatusOK, http.MethodPost, "/statements", sts)

		// The destinations answer every kind of echo, probed every second.
		a := fwdAdmin(t, up)
		var answers []string
		forwardtest.Eventually(t, 60*time.Second, func() error {
			if n := echo.api.Load(); n < 12 {
				return fmt.Errorf("the echo server answered %d requests, want every kind for every configuration", n)
			}
			return nil
		})
		for _, id := range cfgs {
			for _, path := range []string{"/status", "/deliveries?limit=100", "/attempts?limit=100"} {
				answers = append(answers, string(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+id+path, nil, adminBearer()...).body))
			}
			answers = append(answers, string(a.expect(http.StatusOK, http.MethodPost, "/configurations/"+id+"/test", nil, adminBearer()...).body))
			answers = append(answers, string(a.expect(http.StatusOK, http.MethodGet, "/configurations/"+id, nil, adminBearer()...).body))
		}
		api := strings.Join(answers, "\n")
		if !strings.Contains(api, forward.Redacted) {
			t.Fatalf("nothing was redacted: the echoes did not reach the answers:\n%s", api)
		}
		for _, echoed := range []string{"Request blocked", "redirected to https://evil.example/", "upstream said", "invalid_client"} {
			if !strings.Contains(api, echoed) {
				t.Errorf("the answers do not show the echo %q (the test would prove nothing)", echoed)
			}
		}
		noSecret(t, "the admin API's answers", api)

		var mails []string
		forwardtest.Eventually(t, 30*time.Second, func() error {
			for {
				select {
				case m := <-smtpd.Mail:
					body, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Data)))
					if err != nil {
						return err
					}
					mails = append(mails, string(body))
					continue
				default:
				}
				break
			}
			if len(mails) < len(cfgs) {
				return fmt.Errorf("%d alert mails, want one per configuration", len(mails))
			}
			return nil
		})
		noSecret(t, "the alert mail", strings.Join(mails, "\n"))

		up.stop()
		noSecret(t, "the server's log", up.out())
		if isMongoEnv(env) {
			noSecret(t, "the MongoDB database", dumpMongo(t, env))
		} else {
			noSecret(t, "the embedded store", dumpPebble(t, env))
		}
	})
}

func envValue(env []string, name string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}

// dumpPebble is every key and value of the embedded store (read through
// Pebble, as its files are compressed), and the raw bytes of its files.
func dumpPebble(t *testing.T, env []string) string {
	t.Helper()
	dir := envValue(env, "LRS_DATA_DIR")
	db, err := cpebble.Open(dir, &cpebble.Options{ReadOnly: true, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		b.Write(it.Key())
		b.WriteByte(' ')
		b.Write(it.Value())
		b.WriteByte('\n')
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the embedded store is empty")
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			raw, _ := os.ReadFile(p)
			b.Write(raw)
		}
		return nil
	})
	return b.String()
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// dumpMongo is every document of every collection of the database, as
// relaxed extended JSON.
func dumpMongo(t *testing.T, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := mongo.Connect(options.Client().ApplyURI(envValue(env, "LRS_MONGODB_URI")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(ctx)
	db := cl.Database(envValue(env, "LRS_MONGODB_DATABASE"))
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "forward_deliveries") {
		t.Fatalf("collections %v: no forwarding collection", names)
	}
	var b strings.Builder
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctx) {
			j, err := bson.MarshalExtJSON(cur.Current, false, false)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(j)
			b.WriteByte('\n')
			// Strings as stored, not escaped by extended JSON.
			var doc bson.M
			if err := bson.Unmarshal(cur.Current, &doc); err == nil {
				fmt.Fprintf(&b, "%v\n", doc)
			}
		}
		if err := cur.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// The stand-alone destination types (not yet wired into the engine) driven
// directly against the same hostile destination: their outcomes, redacted
// with the kit, hold no secret in any form.
func TestHostileEchoingDestinationStandAloneTypes(t *testing.T) {
	echo := newEchoServer(t)
	ctx := context.Background()
	var texts []string
	for _, auth := range []string{webhook.AuthBasic, webhook.AuthBearer, webhook.AuthAPIKey, webhook.AuthOAuth2} {
		c := webhook.Config{URL: echo.URL + "/hook/" + auth + "?k={{result.key}}", Auth: auth, Username: hostileKey,
			APIKeyHeader: "X-Api-Key", TokenURL: echo.URL + "/hook/token", ClientID: hostileClientID,
			Fields: []webhook.Field{{Target: "data.email", Source: "participant.email", Required: true},
				{Target: "data.reference", Source: "result.key", Required: true}}}
		s := webhook.Secrets{SigningSecret: webhook.NewSigningSecret(), Password: hostileSecret, Token: hostileToken,
			APIKey: hostileSecret, ClientSecret: hostileClientSecret}
		w, err := webhook.New("cfg-"+auth, "AMS", c, s, webhook.Options{Egress: forwardtest.Loopback})
		if err != nil {
			t.Fatalf("%s: %v", auth, err)
		}
		for i := range 7 {
			o := w.Send(ctx, []webhook.Input{webhook.Sample("cfg-"+auth, "AMS")})
			texts = append(texts, fmt.Sprintf("webhook %s #%d: %s %v", auth, i, o.Message, o.Rejected))
		}
	}
	for _, secrets := range []map[string]string{
		{clever.SecretToken: hostileToken},
		{clever.SecretClientID: hostileClientID, clever.SecretClientSecret: hostileClientSecret},
	} {
		props := map[string]string{clever.PropBaseURL: echo.URL + "/clever", clever.PropTokenURL: echo.URL + "/clever/oauth/tokens",
			clever.PropDistrictID: "5b2ad81a709e300001e2cd7a", clever.PropSections: `{"*":["5fee004cca2e43cf27000007"]}`}
		d, err := clever.New(forward.Configuration{Org: "o", ID: "c", Type: clever.TypeClever, Properties: props}, secrets,
			clever.Options{Assignments: forwardtest.NewMemory(), Egress: forwardtest.Loopback, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 7 {
			o := d.Send(ctx, clever.Grade{Objective: "obj", ObjectiveName: "Quiz", Participant: "ann@example.com"})
			texts = append(texts, fmt.Sprintf("clever #%d: %s", i, o.Message))
		}
	}
	all := strings.Join(texts, "\n")
	if echo.api.Load() < 20 || !strings.Contains(all, forward.Redacted) {
		t.Fatalf("the echoes did not come back (%d requests):\n%s", echo.api.Load(), all)
	}
	noSecret(t, "the outcomes of the stand-alone types", all)
}
