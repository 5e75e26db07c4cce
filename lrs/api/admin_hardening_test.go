package api_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
)

// The admin API answers a body over its limit (1 MiB) with 413, whether
// Content-Length announces it or not.
func TestAdminBodyTooLarge(t *testing.T) {
	n := newNode(t, openPebble(t), time.Second)
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		r, err := http.NewRequest("POST", n.srv.URL+api.AdminPrefix+"/orgs", body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+adminToken)
		r.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got := resp{status: res.StatusCode, body: b}
		if got.status != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: %s, want 413", chunked, got)
			continue
		}
		if code, msg := errorCode(t, got); code != lrs.ETOOLARGE || !strings.Contains(msg, "1048576") {
			t.Errorf("chunked=%v: error %q %q, want %s naming the limit", chunked, code, msg, lrs.ETOOLARGE)
		}
	}
}

// Authentication schemes are case-insensitive (RFC 9110 §11.1).
func TestAuthSchemeAnyCase(t *testing.T) {
	n := newNode(t, openPebble(t), time.Second, func(o *api.Options) { o.Slowdown.Disabled = true })
	call := func(path, authorization string, header ...string) int {
		t.Helper()
		r, err := http.NewRequest("GET", n.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", authorization)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if got := call(api.AdminPrefix+"/orgs", scheme+" "+adminToken); got != http.StatusOK {
			t.Errorf("admin API with %q: %d, want 200", scheme, got)
		}
	}
	for _, h := range []string{"Basic " + adminToken, "Bearer" + adminToken, adminToken} {
		if got := call(api.AdminPrefix+"/orgs", h); got != http.StatusUnauthorized {
			t.Errorf("admin API with Authorization %.12q…: %d, want 401", h, got)
		}
	}
	cred := n.newCred("acme", "all")
	basic := base64.StdEncoding.EncodeToString([]byte(cred.Key + ":" + cred.Secret))
	for _, scheme := range []string{"Basic", "basic", "BASIC"} {
		if got := call("/xapi/statements", scheme+" "+basic, "X-Experience-API-Version", "2.0.0"); got != http.StatusOK {
			t.Errorf("xAPI with %q: %d, want 200", scheme, got)
		}
	}
}
