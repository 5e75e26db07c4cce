package forwardtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/schema"
)

// The downstream's credentials and the authority it writes.
const (
	DownKey    = "forwarder"
	DownSecret = "s3cret-forwarder-value"
	// DownAuthority is the authority the downstream sets on what it stores.
	DownAuthority = `{"objectType":"Agent","account":{"homePage":"http://downstream.example","name":"forwarder"}}`
)

// LRS is a fake downstream xAPI LRS on an httptest server, at /xapi/. It
// checks what a real LRS checks of a forwarder: HTTP Basic credentials
// (DownKey, DownSecret), the version header, and every statement with the
// xAPI validator (package schema) under that version; it stores statements
// as an LRS does (its own stored time and authority), answers a statement
// id it has with 200/204 when the statement is the same (schema.Equivalent)
// and 409 when it differs, and serves About and GET by statementId. It
// counts what it accepted (200 to a POST, 204 to a PUT) by id.
type LRS struct {
	Srv     *httptest.Server
	handler http.Handler

	mu       sync.Mutex
	stored   map[string][]byte
	accepted map[string]int
	requests int
}

// NewLRS starts a downstream LRS; wrap (optional) wraps its handler, e.g.
// to put OAuth2 in front of it.
func NewLRS(t testing.TB, wrap func(http.Handler) http.Handler) *LRS {
	t.Helper()
	d := &LRS{stored: map[string][]byte{}, accepted: map[string]int{}}
	d.handler = http.HandlerFunc(d.serve)
	if wrap != nil {
		d.handler = wrap(d.handler)
	}
	d.Srv = httptest.NewServer(d.handler)
	t.Cleanup(d.Srv.Close)
	return d
}

// Endpoint is the xAPI base URL.
func (d *LRS) Endpoint() string { return d.Srv.URL + "/xapi/" }

// Stop closes the server: its address refuses connections.
func (d *LRS) Stop() { d.Srv.Close() }

// Restart serves again on the same address.
func (d *LRS) Restart(t testing.TB) {
	t.Helper()
	addr := d.Srv.Listener.Addr().String()
	var ln net.Listener
	var err error
	for range 50 { // the port is free again as soon as the old listener closed
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(d.handler)
	srv.Listener = ln
	srv.Start()
	d.Srv = srv
	t.Cleanup(srv.Close)
}

// Accepted is how many times the downstream accepted the statement.
func (d *LRS) Accepted(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.accepted[id]
}

// Requests is how many statement requests reached the downstream.
func (d *LRS) Requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}

// Stored returns the statement as the downstream stored it.
func (d *LRS) Stored(id string) (map[string]any, error) {
	d.mu.Lock()
	raw, ok := d.stored[strings.ToLower(id)]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("the downstream has no statement %s", id)
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}

func (d *LRS) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/xapi/about" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"version":["1.0.3","2.0.0"],"extensions":{}}`)
		return
	case r.URL.Path != "/xapi/statements":
		lrsError(w, http.StatusNotFound, "not_found", "no resource at this path")
		return
	}
	d.mu.Lock()
	d.requests++
	d.mu.Unlock()
	if key, secret, ok := r.BasicAuth(); !ok || key != DownKey || secret != DownSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="xAPI"`)
		lrsError(w, http.StatusUnauthorized, "unauthorized", "the credentials are not valid")
		return
	}
	v, err := schema.ParseVersionHeader(r.Header.Get("X-Experience-API-Version"), schema.Versions)
	if err != nil {
		lrsError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	switch r.Method {
	case http.MethodGet:
		d.mu.Lock()
		raw, ok := d.stored[strings.ToLower(r.URL.Query().Get("statementId"))]
		d.mu.Unlock()
		if !ok {
			lrsError(w, http.StatusNotFound, "not_found", "no statement with this id")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	case http.MethodPost, http.MethodPut:
		d.write(w, r, v)
	default:
		lrsError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this resource")
	}
}

// write stores a POST's batch or a PUT's statement, all or nothing.
func (d *LRS) write(w http.ResponseWriter, r *http.Request, v schema.Version) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		lrsError(w, http.StatusBadRequest, "invalid", "the request body could not be read")
		return
	}
	var stmts []*schema.Statement
	put := r.Method == http.MethodPut
	if put {
		st, err := schema.ParseStatement(body, v)
		if err != nil {
			lrsError(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		id := strings.ToLower(r.URL.Query().Get("statementId"))
		if !schema.ValidUUID(id) || (st.ID() != "" && st.ID() != id) {
			lrsError(w, http.StatusBadRequest, "invalid", "statementId is missing, not a UUID, or not the statement's id")
			return
		}
		st.SetID(id)
		stmts = []*schema.Statement{st}
	} else if stmts, _, err = schema.ParseStatements(body, v, 0); err != nil {
		lrsError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, len(stmts))
	fresh := map[string][]byte{}
	for i, st := range stmts {
		if st.ID() == "" {
			st.SetID(uuid.NewString())
		}
		ids[i] = st.ID()
		if old, ok := d.stored[ids[i]]; ok {
			if same, err := schema.Equivalent(st, old); err != nil || !same {
				lrsError(w, http.StatusConflict, "conflict", "a different statement has the id "+ids[i])
				return
			}
			continue
		}
		st.SetStored(time.Now())
		if !st.HasTimestamp() {
			st.SetTimestamp(time.Now())
		}
		if !st.HasVersion() {
			st.SetVersion(string(v))
		}
		if err := st.SetAuthority([]byte(DownAuthority)); err != nil {
			lrsError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		raw, err := st.MarshalJSON()
		if err != nil {
			lrsError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		fresh[ids[i]] = raw
	}
	for id, raw := range fresh {
		d.stored[id] = raw
	}
	for _, id := range ids {
		d.accepted[id]++
	}
	if put {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ids)
}

// lrsError answers as the LRS does: {"error":{"code","message"}}.
func lrsError(w http.ResponseWriter, status int, code, message string) {
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b.Error.Code, b.Error.Message = code, message
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}
