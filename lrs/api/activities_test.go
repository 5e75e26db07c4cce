package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
)

// newActivitiesEnv is newEnv with a service that records activity
// definitions and agent names in the test's store.
func newActivitiesEnv(t *testing.T) *env {
	t.Helper()
	st := openStore(t)
	as, ok := st.(interface {
		lrs.ActivityStore
		lrs.AgentStore
	})
	if !ok {
		t.Fatalf("%T implements neither lrs.ActivityStore nor lrs.AgentStore", st)
	}
	svc := lrs.NewService(st, lrs.ServiceOptions{MaxLimit: 50, Activities: as, Agents: as})
	e := newEnv(t, func(o *api.Options) {
		o.Service = svc
		if o.Documents == nil {
			o.Documents = lrs.NewDocuments(nil, nil) // unused here
		}
	})
	e.svc = svc
	return e
}

// jsonEqual checks that got is the JSON value want.
func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %q: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

const actIRI = "http://example.com/act/merged"

func activitiesPath(id string) string { return "/xapi/activities?activityId=" + url.QueryEscape(id) }

func agentsPath(agent string) string { return "/xapi/agents?agent=" + url.QueryEscape(agent) }

func TestActivitiesResource(t *testing.T) {
	e := newActivitiesEnv(t)
	e.expect(http.StatusOK, req{method: "POST", path: "/xapi/statements", body: `{
		"actor": {"mbox": "mailto:alice@example.com", "name": "Alice"},
		"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
		"object": {"id": "` + actIRI + `", "definition": {"name": {"en-US": "Merged"}, "type": "http://example.com/types/course"}}
	}`})
	e.expect(http.StatusOK, req{method: "POST", path: "/xapi/statements", body: `[{
		"actor": {"mbox": "mailto:bob@example.com"},
		"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
		"object": {"id": "http://example.com/act/other"},
		"context": {"contextActivities": {"parent": [{"id": "` + actIRI + `", "definition": {"name": {"fr": "Fusionnée"}}}]}}
	}, {
		"actor": {"mbox": "mailto:bob@example.com"},
		"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
		"object": {"objectType": "SubStatement",
			"actor": {"mbox": "mailto:carol@example.com", "name": "Carol"},
			"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
			"object": {"id": "` + actIRI + `", "definition": {"description": {"en-US": "Two statements made me"}}}}
	}]`})

	r := e.expect(http.StatusOK, req{method: "GET", path: activitiesPath(actIRI)})
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	jsonEqual(t, "merged activity", r.body, `{"objectType":"Activity","id":"`+actIRI+`","definition":{
		"name":{"en-US":"Merged","fr":"Fusionnée"},
		"description":{"en-US":"Two statements made me"},
		"type":"http://example.com/types/course"}}`)

	// A later definition updates the canonical one.
	e.expect(http.StatusOK, req{method: "POST", path: "/xapi/statements", body: `{
		"actor": {"mbox": "mailto:alice@example.com"},
		"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
		"object": {"id": "` + actIRI + `", "definition": {"name": {"en-US": "Renamed"}}}
	}`})
	r = e.expect(http.StatusOK, req{method: "GET", path: activitiesPath(actIRI), version: "1.0.3"})
	jsonEqual(t, "updated activity", r.body, `{"objectType":"Activity","id":"`+actIRI+`","definition":{
		"name":{"en-US":"Renamed","fr":"Fusionnée"},
		"description":{"en-US":"Two statements made me"},
		"type":"http://example.com/types/course"}}`)

	// Another organization sees none of it.
	r = e.expect(http.StatusOK, req{method: "GET", path: activitiesPath(actIRI), key: "other"})
	jsonEqual(t, "activity in another org", r.body, `{"objectType":"Activity","id":"`+actIRI+`"}`)

	// Unknown: an Activity object with just the id.
	r = e.expect(http.StatusOK, req{method: "GET", path: activitiesPath("http://example.com/act/unknown")})
	jsonEqual(t, "unknown activity", r.body, `{"objectType":"Activity","id":"http://example.com/act/unknown"}`)

	// HEAD: the GET's headers, no body.
	get := e.expect(http.StatusOK, req{method: "GET", path: activitiesPath(actIRI)})
	head := e.expect(http.StatusOK, req{method: "HEAD", path: activitiesPath(actIRI)})
	if len(head.body) != 0 || head.header.Get("Content-Length") != get.header.Get("Content-Length") {
		t.Errorf("HEAD: body %q, Content-Length %q; GET Content-Length %q", head.body, head.header.Get("Content-Length"), get.header.Get("Content-Length"))
	}

	// Scopes.
	e.expect(http.StatusOK, req{method: "GET", path: activitiesPath(actIRI), key: "reader"})
	e.expect(http.StatusOK, req{method: "GET", path: activitiesPath(actIRI), key: "allrd"})
	e.expect(http.StatusForbidden, req{method: "GET", path: activitiesPath(actIRI), key: "wonly"})
	e.expect(http.StatusUnauthorized, req{method: "GET", path: activitiesPath(actIRI), key: "-"})

	// Bad requests.
	for _, path := range []string{
		"/xapi/activities",
		"/xapi/activities?activityId=",
		"/xapi/activities?activityId=not-an-iri",
		activitiesPath(actIRI) + "&foo=bar",
		activitiesPath(actIRI) + "&activityId=http://example.com/b",
	} {
		r := e.expect(http.StatusBadRequest, req{method: "GET", path: path})
		if code, _ := errorCode(t, r); code != lrs.EINVALID {
			t.Errorf("GET %s: error code %q", path, code)
		}
	}
	e.expect(http.StatusBadRequest, req{method: "HEAD", path: "/xapi/activities"})
	e.expect(http.StatusMethodNotAllowed, req{method: "POST", path: activitiesPath(actIRI), body: "{}"})
}

func TestAgentsResource(t *testing.T) {
	e := newActivitiesEnv(t)
	e.expect(http.StatusOK, req{method: "POST", path: "/xapi/statements", body: `[{
		"actor": {"mbox": "mailto:Alice@example.com", "name": "Alice"},
		"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
		"object": {"id": "http://example.com/act/1"}
	}, {
		"actor": {"objectType": "Group", "name": "Team", "member": [{"mbox": "mailto:alice@example.com", "name": "Alice Smith"}]},
		"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
		"object": {"id": "http://example.com/act/1"},
		"context": {"instructor": {"account": {"homePage": "http://example.com", "name": "t1"}, "name": "Teacher"}}
	}]`})

	r := e.expect(http.StatusOK, req{method: "GET", path: agentsPath(`{"mbox":"mailto:alice@example.com"}`)})
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	jsonEqual(t, "known agent", r.body, `{"objectType":"Person","name":["Alice","Alice Smith"],"mbox":["mailto:alice@example.com"]}`)

	r = e.expect(http.StatusOK, req{method: "GET", path: agentsPath(`{"objectType":"Agent","account":{"homePage":"http://example.com","name":"t1"}}`), key: "reader"})
	jsonEqual(t, "known instructor", r.body, `{"objectType":"Person","name":["Teacher"],"account":[{"homePage":"http://example.com","name":"t1"}]}`)

	// Unknown agents: a Person from the request alone.
	r = e.expect(http.StatusOK, req{method: "GET", path: agentsPath(`{"openid":"http://example.com/zed","name":"Zed"}`), version: "1.0.3"})
	jsonEqual(t, "unknown agent", r.body, `{"objectType":"Person","name":["Zed"],"openid":["http://example.com/zed"]}`)
	r = e.expect(http.StatusOK, req{method: "GET", path: agentsPath(`{"mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}`)})
	jsonEqual(t, "unknown agent without a name", r.body, `{"objectType":"Person","mbox_sha1sum":["ebd31e95054c018b10727ccffd2ef2ec3a016ee9"]}`)
	r = e.expect(http.StatusOK, req{method: "GET", path: agentsPath(`{"mbox":"mailto:alice@example.com"}`), key: "other"})
	jsonEqual(t, "agent in another org", r.body, `{"objectType":"Person","mbox":["mailto:alice@example.com"]}`)

	head := e.expect(http.StatusOK, req{method: "HEAD", path: agentsPath(`{"mbox":"mailto:alice@example.com"}`)})
	if len(head.body) != 0 || head.header.Get("Content-Length") == "" {
		t.Errorf("HEAD: body %q, Content-Length %q", head.body, head.header.Get("Content-Length"))
	}

	e.expect(http.StatusForbidden, req{method: "GET", path: agentsPath(`{"mbox":"mailto:alice@example.com"}`), key: "wonly"})
	for _, path := range []string{
		"/xapi/agents",
		agentsPath(`not json`),
		agentsPath(`{"mbox":"alice@example.com"}`),
		agentsPath(`{"name":"no identifier"}`),
		agentsPath(`{"mbox":"mailto:a@example.com","openid":"http://example.com/a"}`),
		agentsPath(`{"objectType":"Group","mbox":"mailto:team@example.com"}`),
		agentsPath(`["mailto:alice@example.com"]`),
		agentsPath(`{"mbox":"mailto:alice@example.com"}`) + "&x=1",
	} {
		r := e.expect(http.StatusBadRequest, req{method: "GET", path: path})
		if code, _ := errorCode(t, r); code != lrs.EINVALID {
			t.Errorf("GET %s: error code %q", path, code)
		}
	}
}
