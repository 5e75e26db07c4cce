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

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// The whole-LRS fixture of the forwarding tests: a real LRS (this module's
// HTTP API over the LRS service over the embedded engine) as the
// downstream of a forwarding destination, counting what it accepts.

// downOrg is the downstream's organization.
const downOrg = "down"

// downCredentials is the one credential of the downstream.
type downCredentials struct{}

func (downCredentials) Authenticate(_ context.Context, key, secret string) (auth.Principal, error) {
	if key != forwardtest.DownKey || secret != forwardtest.DownSecret {
		return auth.Principal{}, auth.ErrBadCredentials
	}
	return auth.Principal{
		Key: key, Org: downOrg, Name: key, Scopes: []string{auth.ScopeAll},
		Authority: []byte(forwardtest.DownAuthority),
	}, nil
}

// downstream is a real LRS: the api handler over lrs.Service over the
// embedded engine, on an httptest server. It counts the statements it
// accepted (200 to a POST, 204 to a PUT) by id.
type downstream struct {
	Service *lrs.Service
	Srv     *httptest.Server

	mu       sync.Mutex
	accepted map[string]int
	requests int
}

// newDownstream starts a downstream LRS until the test ends.
func newDownstream(t testing.TB) *downstream {
	t.Helper()
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	svc := lrs.NewService(db, lrs.ServiceOptions{})
	h, err := api.New(api.Options{
		Service:   svc,
		Documents: lrs.NewDocuments(db, nil),
		Auth:      downCredentials{},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &downstream{Service: svc, accepted: map[string]int{}}
	d.Srv = httptest.NewServer(d.count(h))
	t.Cleanup(func() {
		d.Srv.Close()
		_ = db.Close()
	})
	return d
}

// Endpoint is the xAPI base URL.
func (d *downstream) Endpoint() string { return d.Srv.URL + "/xapi/" }

// Accepted is how many times the downstream accepted the statement.
func (d *downstream) Accepted(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.accepted[id]
}

// Requests is how many statement requests reached the downstream.
func (d *downstream) Requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}

// Stored returns the statement as the downstream stored it.
func (d *downstream) Stored(id string) (map[string]any, error) {
	raw, _, err := d.Service.GetStatement(context.Background(), downOrg, id, false)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }

func (d *downstream) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/statements") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.requests++
		switch {
		case r.Method == http.MethodPost && rec.status == http.StatusOK:
			var list []struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(body, &list) != nil {
				var one struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(body, &one)
				list = append(list, one)
			}
			for _, s := range list {
				d.accepted[s.ID]++
			}
		case r.Method == http.MethodPut && rec.status == http.StatusNoContent:
			d.accepted[r.URL.Query().Get("statementId")]++
		}
	})
}
