// Package webhooktest is the test kit of the webhook destination: a
// receiver that checks what a real Standard Webhooks receiver checks
// (signature over the raw body in constant time, timestamp tolerance,
// dedupe by webhook-id, content type, mapped field types and date formats,
// the batch envelope, form decoding) and answers on demand with any status
// or a network fault; and an in-process SFTP server for the file mode.
//
// It verifies signatures with its own code, not the destination's, so a
// signing bug cannot hide behind the same bug in the check.
package webhooktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options say what the receiver expects.
type Options struct {
	// Secret is the Standard Webhooks secret ("whsec_" + base64); every
	// request must carry a valid v1 signature made with it.
	Secret string
	// Tolerance bounds |now − webhook-timestamp|; default 5 minutes.
	Tolerance time.Duration
	// Now is the receiver's clock; default time.Now.
	Now func() time.Time
	// ContentType is "json" (default) or "form".
	ContentType string
	// Method, when set, is the only method accepted (405 otherwise).
	Method string
	// Headers must be present with exactly these values (Authorization,
	// an API key header…); a missing or different one is answered 401.
	Headers map[string]string
	// Envelope is the body's shape: "" one object, "array" a JSON array
	// of objects, "items" {"batch_id": <webhook-id>, "items": [objects]}.
	Envelope string
	// MaxItems bounds a batch's items (0: no bound).
	MaxItems int
	// Key is the item field that identifies it (e.g. "data.reference"):
	// required in every item and unique within a batch.
	Key string
	// Fields are the checks every item must pass.
	Fields []Check
	// Success is the status of an accepted request; default 200.
	Success int
}

// Check is what one field of an item must be. Field is a dotted path or
// a JSON pointer for JSON bodies, a key for form bodies. Type is one of
// string, number, integer, boolean, email, uuid, date:rfc3339, date:unix,
// date:unix_ms, date:<layout of YYYY MM DD HH mm ss>, duration:iso8601,
// or oneof:a|b|c.
type Check struct {
	Field    string
	Type     string
	Required bool
}

// Answer is a programmed reply to one request.
type Answer struct {
	Status     int
	RetryAfter string // Retry-After header
	Location   string // Location header (redirects)
	Body       string
	// Hang sends no answer until the client gives up or the receiver
	// closes (a timeout at the sender).
	Hang bool
	// Reset closes the connection with a TCP reset, without an answer.
	Reset bool
}

// Request is one request the receiver got, with its verdict.
type Request struct {
	Method   string
	Path     string // escaped, as sent
	RawQuery string
	Header   http.Header
	Body     []byte
	// Problems are what the receiver found wrong; empty when valid.
	Problems []string
	// Status is what the receiver answered (0 after a hang or a reset).
	Status int
	// Duplicate is set for a valid request whose webhook-id was already
	// accepted: answered with success, counted once.
	Duplicate bool
	// Programmed is set when a queued Answer replied, not the receiver's
	// verdict; such a request is never accepted.
	Programmed bool
	// Items are the decoded items (JSON with numbers as json.Number, form
	// values as strings).
	Items []map[string]any
}

// ID is the request's webhook-id.
func (r Request) ID() string { return r.Header.Get("webhook-id") }

// Receiver is a local Standard Webhooks receiver.
type Receiver struct {
	URL string

	opts   Options
	key    []byte
	srv    *httptest.Server
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	answers  []Answer
	requests []Request
	accepted map[string]bool
}

// NewReceiver starts a receiver; it stops when the test ends.
func NewReceiver(t testing.TB, o Options) *Receiver {
	t.Helper()
	if o.Tolerance == 0 {
		o.Tolerance = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ContentType == "" {
		o.ContentType = "json"
	}
	if o.Success == 0 {
		o.Success = http.StatusOK
	}
	key, err := decodeSecret(o.Secret)
	if err != nil {
		t.Fatalf("webhooktest: %v", err)
	}
	r := &Receiver{opts: o, key: key, closed: make(chan struct{}), accepted: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.Close)
	return r
}

// Close stops the receiver, releasing hung requests first.
func (r *Receiver) Close() {
	r.once.Do(func() {
		close(r.closed)
		r.srv.Close()
	})
}

func decodeSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, fmt.Errorf("the secret must start with whsec_")
	}
	return base64.StdEncoding.DecodeString(rest)
}

// Then queues answers: each request takes the next one (after it was read
// and checked) instead of the receiver's own verdict; when none is left
// the receiver judges by its checks.
func (r *Receiver) Then(answers ...Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, answers...)
}

// Heal drops the answers still queued (an outage ends): the next
// requests are judged by the receiver's checks.
func (r *Receiver) Heal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = nil
}

// Requests are every request received, in order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Accepted are the requests accepted the first time (one per webhook-id),
// in order.
func (r *Receiver) Accepted() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Request
	for _, q := range r.requests {
		if q.Status == r.opts.Success && !q.Duplicate && !q.Programmed && len(q.Problems) == 0 {
			out = append(out, q)
		}
	}
	return out
}

// Items are the items of the accepted requests, in order.
func (r *Receiver) Items() []map[string]any {
	var out []map[string]any
	for _, q := range r.Accepted() {
		out = append(out, q.Items...)
	}
	return out
}

// WaitAccepted polls until n requests were accepted, failing the test
// after timeout.
func (r *Receiver) WaitAccepted(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := r.Accepted(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooktest: %d requests accepted after %v, want %d; requests: %s", len(r.Accepted()), timeout, n, r.summary())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Receiver) summary() string {
	var b strings.Builder
	for i, q := range r.Requests() {
		fmt.Fprintf(&b, "\n  #%d %s %s → %d %v", i, q.Method, q.Path, q.Status, q.Problems)
	}
	return b.String()
}

const maxBody = 4 << 20

func (r *Receiver) serve(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody))
	q := Request{Method: hr.Method, Path: hr.URL.EscapedPath(), RawQuery: hr.URL.RawQuery, Header: hr.Header.Clone(), Body: body}
	if err != nil {
		q.Problems = append(q.Problems, "body: "+err.Error())
	}
	status, authProblems := r.authenticate(hr, body)
	q.Problems = append(q.Problems, authProblems...)
	if status == 0 {
		status, q.Problems = r.inspect(hr, body, &q)
	}

	r.mu.Lock()
	var programmed *Answer
	if len(r.answers) > 0 {
		programmed = &r.answers[0]
		r.answers = r.answers[1:]
	}
	q.Programmed = programmed != nil
	if programmed == nil && status == r.opts.Success {
		if r.accepted[q.ID()] {
			q.Duplicate = true
		}
		r.accepted[q.ID()] = true
	}
	idx := len(r.requests)
	r.requests = append(r.requests, q)
	r.mu.Unlock()

	if programmed != nil {
		status = r.answer(w, hr, *programmed)
	} else {
		if status != r.opts.Success {
			http.Error(w, strings.Join(q.Problems, "; "), status)
		} else {
			w.WriteHeader(status)
		}
	}
	r.mu.Lock()
	r.requests[idx].Status = status
	r.mu.Unlock()
}

// answer replies as programmed; it returns the status sent (0 for none).
func (r *Receiver) answer(w http.ResponseWriter, hr *http.Request, a Answer) int {
	switch {
	case a.Reset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("webhooktest: the server cannot hijack connections")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close sends RST
			}
			conn.Close()
		}
		return 0
	case a.Hang:
		select {
		case <-hr.Context().Done():
		case <-r.closed:
		}
		return 0
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	if a.Location != "" {
		w.Header().Set("Location", a.Location)
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, a.Body)
	return status
}

// authenticate checks the Standard Webhooks headers, the signature and
// the required headers; it returns 401 (or 400 for malformed headers)
// with the problems, or 0.
func (r *Receiver) authenticate(hr *http.Request, body []byte) (int, []string) {
	var ps []string
	status := 0
	id := hr.Header.Get("webhook-id")
	tsText := hr.Header.Get("webhook-timestamp")
	sigs := hr.Header.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return http.StatusBadRequest, []string{"missing webhook-id, webhook-timestamp or webhook-signature"}
	}
	if strings.Contains(id, ".") {
		return http.StatusBadRequest, []string{"webhook-id contains '.'"}
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return http.StatusBadRequest, []string{"webhook-timestamp is not an integer"}
	}
	if skew := r.opts.Now().Sub(time.Unix(ts, 0)); skew > r.opts.Tolerance || skew < -r.opts.Tolerance {
		ps = append(ps, fmt.Sprintf("webhook-timestamp is %v off", skew.Round(time.Second)))
		status = http.StatusUnauthorized
	}
	m := hmac.New(sha256.New, r.key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	want := m.Sum(nil)
	valid := false
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) { // constant time
			valid = true
		}
	}
	if !valid {
		ps = append(ps, "no valid v1 signature over the raw body")
		status = http.StatusUnauthorized
	}
	for name, v := range r.opts.Headers {
		if hr.Header.Get(name) != v {
			ps = append(ps, fmt.Sprintf("header %s missing or wrong", name))
			status = http.StatusUnauthorized
		}
	}
	return status, ps
}

// inspect checks method, content type, idempotency key, envelope and
// fields; it returns the status to answer and the problems.
func (r *Receiver) inspect(hr *http.Request, body []byte, q *Request) (int, []string) {
	ps := q.Problems
	if r.opts.Method != "" && hr.Method != r.opts.Method {
		return http.StatusMethodNotAllowed, append(ps, "method "+hr.Method+", want "+r.opts.Method)
	}
	wantType := "application/json"
	if r.opts.ContentType == "form" {
		wantType = "application/x-www-form-urlencoded"
	}
	mt, _, err := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	if err != nil || mt != wantType {
		return http.StatusUnsupportedMediaType, append(ps, fmt.Sprintf("Content-Type %q, want %s", hr.Header.Get("Content-Type"), wantType))
	}
	if k := hr.Header.Get("Idempotency-Key"); k != hr.Header.Get("webhook-id") {
		ps = append(ps, fmt.Sprintf("Idempotency-Key %q differs from webhook-id", k))
	}
	var items []map[string]any
	if r.opts.ContentType == "form" {
		items, ps = decodeForm(body, ps)
	} else {
		items, ps = r.decodeJSON(body, hr.Header.Get("webhook-id"), ps)
	}
	q.Items = items
	if r.opts.MaxItems > 0 && len(items) > r.opts.MaxItems {
		ps = append(ps, fmt.Sprintf("%d items, more than %d", len(items), r.opts.MaxItems))
	}
	keys := map[string]int{}
	form := r.opts.ContentType == "form"
	for i, it := range items {
		for _, c := range r.opts.Fields {
			ps = append(ps, check(it, c, i, form)...)
		}
		if r.opts.Key == "" {
			continue
		}
		v, ok := lookup(it, r.opts.Key)
		s := fmt.Sprint(v)
		switch {
		case !ok || s == "":
			ps = append(ps, fmt.Sprintf("item %d: no key %s", i, r.opts.Key))
		case keys[s] > 0:
			ps = append(ps, fmt.Sprintf("item %d: key %s=%q repeats item %d", i, r.opts.Key, s, keys[s]-1))
		default:
			keys[s] = i + 1
		}
	}
	if len(ps) > 0 {
		return http.StatusUnprocessableEntity, ps
	}
	return r.opts.Success, nil
}

func decodeForm(body []byte, ps []string) ([]map[string]any, []string) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, append(ps, "form body: "+err.Error())
	}
	item := map[string]any{}
	for k, v := range vals {
		if len(v) > 1 {
			ps = append(ps, fmt.Sprintf("form key %q repeats", k))
		}
		item[k] = v[0]
	}
	return []map[string]any{item}, ps
}

func (r *Receiver) decodeJSON(body []byte, id string, ps []string) ([]map[string]any, []string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, append(ps, "the body is not one JSON value")
	}
	asItems := func(v any) ([]map[string]any, bool) {
		arr, ok := v.([]any)
		if !ok {
			return nil, false
		}
		out := make([]map[string]any, 0, len(arr))
		for _, e := range arr {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	switch r.opts.Envelope {
	case "":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, append(ps, "the body is not a JSON object")
		}
		return []map[string]any{m}, ps
	case "array":
		items, ok := asItems(v)
		if !ok || len(items) == 0 {
			return nil, append(ps, "the body is not a non-empty JSON array of objects")
		}
		return items, ps
	case "items":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, append(ps, `the body is not {"batch_id", "items"}`)
		}
		if b, _ := m["batch_id"].(string); b == "" || b != id {
			ps = append(ps, fmt.Sprintf("batch_id %v is not the webhook-id %s", m["batch_id"], id))
		}
		items, ok := asItems(m["items"])
		if !ok || len(items) == 0 {
			return nil, append(ps, "items is not a non-empty array of objects")
		}
		if len(m) != 2 {
			ps = append(ps, "the envelope has members besides batch_id and items")
		}
		return items, ps
	}
	return nil, append(ps, "unknown envelope "+r.opts.Envelope)
}

// lookup finds a dotted path or a JSON pointer in an item.
func lookup(item map[string]any, path string) (any, bool) {
	var segs []string
	if rest, ok := strings.CutPrefix(path, "/"); ok {
		for _, s := range strings.Split(rest, "/") {
			segs = append(segs, strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~"))
		}
	} else if _, ok := item[path]; ok { // a form key or CSV column with dots
		return item[path], true
	} else {
		segs = strings.Split(path, ".")
	}
	var cur any = item
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[s]; !ok {
			return nil, false
		}
	}
	return cur, true
}

var (
	emailSyntax = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	uuidSyntax  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	isoDuration = regexp.MustCompile(`^-?PT(\d+H)?(\d+M)?(\d+(\.\d+)?S)?$`)
	integerText = regexp.MustCompile(`^-?\d+$`)
	numberText  = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][+-]?\d+)?$`)
)

// check verifies one field of item i. In a form every value is text, so
// numbers and booleans are read from it; in JSON they must be JSON
// numbers and booleans.
func check(item map[string]any, c Check, i int, form bool) []string {
	v, ok := lookup(item, c.Field)
	if !ok {
		if c.Required {
			return []string{fmt.Sprintf("item %d: %s is missing", i, c.Field)}
		}
		return nil
	}
	bad := func(why string) []string {
		return []string{fmt.Sprintf("item %d: %s = %v: %s", i, c.Field, v, why)}
	}
	s, isString := v.(string)
	n, isNumber := v.(json.Number)
	if isNumber {
		s = n.String()
	}
	switch kind, arg, _ := strings.Cut(c.Type, ":"); kind {
	case "string":
		if !isString {
			return bad("not a string")
		}
	case "number":
		if !(isNumber || form && isString && numberText.MatchString(s)) {
			return bad("not a number")
		}
	case "integer":
		if !(isNumber || form && isString) || !integerText.MatchString(s) {
			return bad("not an integer")
		}
	case "boolean":
		if _, ok := v.(bool); !ok && !(form && isString && (s == "true" || s == "false")) {
			return bad("not a boolean")
		}
	case "email":
		if !isString || !emailSyntax.MatchString(s) {
			return bad("not an email address")
		}
	case "uuid":
		if !isString || !uuidSyntax.MatchString(s) {
			return bad("not a UUID")
		}
	case "oneof":
		if !isString || !contains(strings.Split(arg, "|"), s) {
			return bad("not one of " + arg)
		}
	case "duration":
		if !isString || !isoDuration.MatchString(s) || s == "PT" {
			return bad("not an ISO 8601 duration")
		}
	case "date":
		switch arg {
		case "unix", "unix_ms":
			if !(isNumber || form && isString) || !integerText.MatchString(s) {
				return bad("not a unix time")
			}
			if arg == "unix_ms" && len(strings.TrimPrefix(s, "-")) < 12 {
				return bad("not in milliseconds")
			}
		case "rfc3339":
			if _, err := time.Parse(time.RFC3339, s); !isString || err != nil {
				return bad("not an RFC 3339 date-time")
			}
		default:
			layout := layoutOf(arg)
			if t, err := time.Parse(layout, s); !isString || err != nil || t.Format(layout) != s {
				return bad("not a date as " + arg)
			}
		}
	default:
		return []string{fmt.Sprintf("webhooktest: unknown check type %q", c.Type)}
	}
	return nil
}

func layoutOf(tokens string) string {
	return strings.NewReplacer("YYYY", "2006", "MM", "01", "DD", "02", "HH", "15", "mm", "04", "ss", "05").Replace(tokens)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
