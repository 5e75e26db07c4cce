package xapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/xapi"
)

func TestTestConnectionBasic(t *testing.T) {
	down := forwardtest.NewLRS(t, nil)
	if r := newBasic(t, down.Endpoint(), forwardtest.DownSecret).Test(context.Background()); r.Outcome != forward.OutcomeSuccess {
		t.Errorf("right credentials: %+v", r)
	}
	r := newBasic(t, down.Endpoint(), "wrong-secret-value").Test(context.Background())
	if r.Outcome != forward.OutcomeDestination || r.Status != http.StatusUnauthorized || strings.Contains(r.Message, "wrong-secret-value") {
		t.Errorf("wrong credentials: %+v", r)
	}
	if r := newBasic(t, down.Srv.URL+"/nowhere/", forwardtest.DownSecret).Test(context.Background()); r.Outcome != forward.OutcomeDestination || r.Status != 404 {
		t.Errorf("wrong endpoint: %+v", r)
	}
	if n := down.Requests(); n != 2 {
		t.Errorf("%d statement requests, want 2 (one probe per test reaching it)", n)
	}
	closed := httptest.NewServer(nil)
	closed.Close()
	if r := newBasic(t, closed.URL+"/xapi/", forwardtest.DownSecret).Test(context.Background()); r.Outcome != forward.OutcomeTransport {
		t.Errorf("closed port: %+v", r)
	}
}

func TestTestConnectionOAuth2(t *testing.T) {
	clock := forwardtest.NewClock(time.Now())
	o := &oauth{clock: clock, ttl: time.Hour, tokens: map[string]time.Time{}}
	tokenSrv := httptest.NewServer(http.HandlerFunc(o.token))
	defer tokenSrv.Close()
	down := forwardtest.NewLRS(t, o.gate)
	test := func(secret string) forward.Result {
		cfg := forward.Configuration{Properties: map[string]string{
			"endpoint": down.Endpoint(), "auth": "oauth2", "token_url": tokenSrv.URL, "scope": "xapi:write",
		}}
		d, err := xapi.New(cfg, map[string]string{"client_id": "lms", "client_secret": secret}, xapi.Options{Egress: forwardtest.Loopback, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return d.Test(context.Background())
	}
	if r := test("client-s3cret"); r.Outcome != forward.OutcomeSuccess {
		t.Errorf("right client: %+v", r)
	}
	if r := test("wrong-s3cret"); r.Outcome != forward.OutcomeDestination || !strings.Contains(r.Message, "invalid_client") || strings.Contains(r.Message, "wrong-s3cret") {
		t.Errorf("wrong client: %+v", r)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	if errs := xapi.Validate(map[string]string{"endpoint": "https://lms.example/xapi"}, map[string]string{"key": "k", "secret": "s"}); errs != nil {
		t.Errorf("valid basic: %q", errs)
	}
	if errs := xapi.Validate(map[string]string{"endpoint": "https://lms.example/xapi", "auth": "oauth2", "token_url": "https://lms.example/token", "client_id": "c"},
		map[string]string{"client_secret": "s"}); errs != nil {
		t.Errorf("valid oauth2: %q", errs)
	}
	errs := strings.Join(xapi.Validate(map[string]string{"endpoint": "lms", "version": "1.0", "auth": "digest", "client_secret": "x"}, map[string]string{"pin": "1"}), "\n")
	for _, want := range []string{"properties.endpoint", "properties.version", "properties.auth", "properties.client_secret: is a secret", "secrets.pin"} {
		if !strings.Contains(errs, want) {
			t.Errorf("lacks %q:\n%s", want, errs)
		}
	}
}
