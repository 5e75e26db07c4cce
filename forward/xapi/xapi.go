// Package xapi is the forwarding destination that sends statements to
// another LRS's xAPI statements endpoint (an LMS's LRS), authenticated with
// HTTP Basic or OAuth2 client credentials (sinks.md §2).
package xapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// Properties (non-secret settings) of an xAPI configuration.
const (
	PropEndpoint   = "endpoint"    // LRS base URL, or the full …/statements URL
	PropAuth       = "auth"        // AuthBasic (default) or AuthOAuth2
	PropVersion    = "version"     // "1.0.3" (default) or "2.0.0"
	PropTokenURL   = "token_url"   // OAuth2 token endpoint
	PropScope      = "scope"       // OAuth2 scope, e.g. xapi:write
	PropClientAuth = "client_auth" // OAuth2 client authentication: "body" (default) or "basic"
)

// Secret settings. Key and client id are accepted from the properties too.
const (
	SecretKey          = "key"
	SecretSecret       = "secret"
	SecretClientID     = "client_id"
	SecretClientSecret = "client_secret"
)

// Auth methods.
const (
	AuthBasic  = "basic"
	AuthOAuth2 = "oauth2"
)

// MaxBatch is the most statements one POST carries: this LRS's own
// LRS_MAX_BATCH default. The engine starts smaller and grows the batch
// while the LRS takes it; a 413 halves it (Result.TooLarge).
const MaxBatch = 1000

// Options are shared by every xAPI destination.
type Options struct {
	// Client sends every request; default forward.NewHTTPClient with
	// Timeout and Egress, one for every destination NewFactory builds.
	Client *http.Client
	// Timeout bounds each HTTP request (an attempt: connect, TLS, headers
	// and body); default 30s.
	Timeout time.Duration
	// Egress is the policy of the addresses the default Client connects
	// to; nil: public unicast only.
	Egress *forward.Egress
	// Now is the clock of token expiry; default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = forward.NewHTTPClient(forward.HTTPOptions{Timeout: o.Timeout, Egress: o.Egress})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// NewFactory returns the forward.Factory of xAPI configurations; every
// destination it builds shares one HTTP client.
func NewFactory(opts Options) forward.Factory {
	opts.defaults()
	return func(c forward.Configuration, secrets map[string]string) (forward.Destination, error) {
		return New(c, secrets, opts)
	}
}

// Destination sends statements to one xAPI endpoint.
type Destination struct {
	statements string // …/statements URL
	version    string
	auth       string
	key        string
	secret     string
	opts       Options
	token      *tokenSource
	redact     *forward.Redactor

	// The version actually sent, settled once by GET /about (sinks.md
	// §2.1, §2.6): the configured one when the LRS lists its major
	// version, else the other one it lists.
	negotiateMu sync.Mutex
	negotiated  bool
}

var _ forward.Destination = (*Destination)(nil)

// New returns the destination of configuration c with its secrets.
func New(c forward.Configuration, secrets map[string]string, opts Options) (*Destination, error) {
	opts.defaults()
	get := func(name string) string {
		if v := secrets[name]; v != "" {
			return v
		}
		return c.Properties[name]
	}
	endpoint, err := statementsURL(c.Properties[PropEndpoint])
	if err != nil {
		return nil, err
	}
	d := &Destination{statements: endpoint, version: c.Properties[PropVersion], auth: c.Properties[PropAuth], opts: opts}
	switch d.version {
	case "":
		d.version = "1.0.3"
	case "1.0.3", "2.0.0":
	default:
		return nil, fmt.Errorf("version %q: want 1.0.3 or 2.0.0", d.version)
	}
	switch d.auth {
	case "", AuthBasic:
		d.auth = AuthBasic
		d.key, d.secret = get(SecretKey), get(SecretSecret)
		if d.key == "" || d.secret == "" {
			return nil, errors.New("basic authentication needs a key and a secret")
		}
	case AuthOAuth2:
		t, err := newTokenSource(get(SecretClientID), get(SecretClientSecret), c.Properties, &d.opts)
		if err != nil {
			return nil, err
		}
		d.token = t
	default:
		return nil, fmt.Errorf("auth %q: want basic or oauth2", d.auth)
	}
	d.redact = forward.ConfigRedactor(c.Properties, secrets)
	d.redact.AddBasic(d.key, d.secret)
	if d.token != nil {
		d.token.redact = d.redact
	}
	return d, nil
}

func absoluteURL(s string) (*url.URL, error) {
	if _, err := forward.CheckURLSyntax(s); err != nil {
		return nil, err
	}
	return url.Parse(strings.TrimSpace(s))
}

// statementsURL accepts the LRS base URL or the full statements URL.
func statementsURL(endpoint string) (string, error) {
	u, err := absoluteURL(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint: %w", err)
	}
	u.RawQuery, u.Fragment = "", ""
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/statements") {
		p += "/statements"
	}
	u.Path = p
	return u.String(), nil
}

// MaxBatch is how many statements one Send carries.
func (d *Destination) MaxBatch() int { return MaxBatch }

// Redactor knows the destination's secrets in every form, and the tokens
// it obtained (forward.Redacting).
func (d *Destination) Redactor() *forward.Redactor { return d.redact }

var _ forward.Redacting = (*Destination)(nil)

// redactString removes secrets (and the tokens obtained) from s.
func (d *Destination) redactString(s string) string { return d.redact.Redact(s) }

// entry is one statement ready to send.
type entry struct {
	id   string
	body json.RawMessage
}

// Send posts the batch; see the package documentation for the outcomes.
func (d *Destination) Send(ctx context.Context, items []forward.Item) forward.Result {
	version := d.negotiate(ctx)
	rejected := make(map[string]string)
	// The statements go into one buffer, as the JSON array of the POST;
	// each entry's body is its element there (a half of a split batch, or
	// a PUT, is written again from them). A prepared statement is never
	// longer than the stored one, so the buffer never grows.
	n := 2
	for _, it := range items {
		n += len(it.Statement) + 1
	}
	buf := append(make([]byte, 0, n), '[')
	batch := make([]entry, 0, len(items))
	ends := make([][2]int, 0, len(items))
	for _, it := range items {
		mark := len(buf)
		if len(batch) > 0 {
			buf = append(buf, ',')
		}
		start := len(buf)
		var err error
		if buf, err = appendPrepared(buf, it.Statement, version); err != nil {
			buf = buf[:mark]
			rejected[it.Delivery.StatementID] = err.Error()
			continue
		}
		batch = append(batch, entry{id: it.Delivery.StatementID})
		ends = append(ends, [2]int{start, len(buf)})
	}
	if len(batch) == 0 {
		return forward.Result{Outcome: forward.OutcomeItem, Message: "no sendable statement", Rejected: rejected}
	}
	buf = append(buf, ']')
	for i, e := range ends {
		batch[i].body = buf[e[0]:e[1]:e[1]]
	}
	r := d.sendBody(ctx, batch, buf)
	if len(rejected) > 0 {
		r = merge(forward.Result{Outcome: forward.OutcomeItem, Rejected: rejected}, r)
	}
	return r
}

// negotiate settles the version to send with GET {base}/about, once; until
// the LRS answers it, the configured version is used.
func (d *Destination) negotiate(ctx context.Context) string {
	d.negotiateMu.Lock()
	defer d.negotiateMu.Unlock()
	if d.negotiated {
		return d.version
	}
	// With the configured authentication: About ignores it, and some
	// gateways in front of an LRS require it on every path.
	about := strings.TrimSuffix(d.statements, "/statements") + "/about"
	res := d.do(ctx, http.MethodGet, about, nil)
	if res.err != nil {
		return d.version // the send will report the failure
	}
	var a struct {
		Version []string `json:"version"`
	}
	if res.status != http.StatusOK || json.Unmarshal(res.body, &a) != nil {
		d.negotiated = true // no usable About: keep the configured version
		return d.version
	}
	d.negotiated = true
	has := func(major string) bool {
		for _, v := range a.Version {
			if strings.HasPrefix(v, major) {
				return true
			}
		}
		return false
	}
	switch {
	case has(d.version[:2]):
	case has("2."):
		d.version = "2.0.0"
	case has("1.0"):
		d.version = "1.0.3"
	}
	return d.version
}

// prepare drops the members the receiving LRS sets itself: stored,
// authority, and a version of another major version than the one sent (a
// 1.0.3 LRS rejects a statement marked 2.0.0; it sets its own). It copies
// the other members as they are, without decoding them (a statement is
// forwarded as stored; a scan of its top level costs a fraction of a
// decode and encode).
func prepare(raw []byte, version string) (json.RawMessage, error) {
	return appendPrepared(make([]byte, 0, len(raw)), raw, version)
}

// appendPrepared appends raw prepared (prepare) to out; on an error out
// may have grown.
func appendPrepared(out, raw []byte, version string) ([]byte, error) {
	out = append(out, '{')
	n := 0
	err := forward.ScanObject(raw, func(key, value []byte) error {
		switch k := memberName(key); k {
		case "stored", "authority":
			return nil
		case "version":
			var v string
			if json.Unmarshal(value, &v) == nil && len(v) >= 2 && len(version) >= 2 && v[:2] != version[:2] {
				return nil
			}
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(append(append(out, key...), ':'), value...)
		n++
		return nil
	})
	if err != nil {
		return out, errors.New("the stored statement is not a JSON object")
	}
	return append(out, '}'), nil
}

// memberName is the name a member's key (a JSON string as written)
// stands for, or "" when it names none of those prepare looks for; it
// allocates only for keys with escapes.
func memberName(key []byte) string {
	name := key[1 : len(key)-1]
	if bytes.IndexByte(name, '\\') < 0 {
		switch string(name) {
		case "stored":
			return "stored"
		case "authority":
			return "authority"
		case "version":
			return "version"
		}
		return ""
	}
	var s string
	if json.Unmarshal(key, &s) != nil {
		return ""
	}
	return s
}

// merge combines the results of two halves of a batch: the first failure
// at the destination level wins; otherwise successes and item rejections
// add up.
func merge(a, b forward.Result) forward.Result {
	for _, r := range []forward.Result{a, b} {
		if r.Outcome != forward.OutcomeSuccess && r.Outcome != forward.OutcomeItem {
			return r
		}
	}
	out := forward.Result{Outcome: forward.OutcomeItem, Rejected: map[string]string{}, TooLarge: a.TooLarge || b.TooLarge}
	for _, r := range []forward.Result{a, b} {
		if r.Outcome == forward.OutcomeSuccess {
			out.Outcome, out.Status, out.Message = forward.OutcomeSuccess, r.Status, r.Message
		}
		for id, why := range r.Rejected {
			out.Rejected[id] = why
		}
	}
	if out.Outcome == forward.OutcomeItem {
		out.Status, out.Message = b.Status, b.Message
		if out.Message == "" {
			out.Status, out.Message = a.Status, a.Message
		}
	}
	return out
}

func (d *Destination) sendBatch(ctx context.Context, batch []entry) forward.Result {
	return d.sendBody(ctx, batch, arrayOf(batch))
}

// sendBody posts body, the JSON array of batch's statements.
func (d *Destination) sendBody(ctx context.Context, batch []entry, body []byte) forward.Result {
	res := d.do(ctx, http.MethodPost, d.statements, body)
	if res.err != nil {
		return res.result
	}
	switch status := res.status; {
	case status == http.StatusOK:
		var ids []string
		if err := json.Unmarshal(res.body, &ids); err != nil {
			return d.failure(forward.OutcomeDestination, res, "the statements endpoint did not answer a JSON array of ids")
		}
		return forward.Result{Outcome: forward.OutcomeSuccess, Status: status}
	case status == http.StatusConflict:
		// Some ids exist already: PUT one by one (204 and 409 both mean the
		// destination has the statement).
		return d.putEach(ctx, batch)
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge:
		if len(batch) == 1 {
			return forward.Result{Outcome: forward.OutcomeItem, Status: status, Message: d.describe(res),
				Rejected: map[string]string{batch[0].id: d.describe(res)}}
		}
		half := len(batch) / 2
		left := d.sendBatch(ctx, batch[:half])
		r := left
		if left.Outcome == forward.OutcomeSuccess || left.Outcome == forward.OutcomeItem {
			r = merge(left, d.sendBatch(ctx, batch[half:]))
		}
		r.TooLarge = r.TooLarge || status == http.StatusRequestEntityTooLarge
		return r
	default:
		return d.classify(res)
	}
}

// arrayOf is the JSON array of the batch's statements.
func arrayOf(batch []entry) []byte {
	n := 2
	for _, e := range batch {
		n += len(e.body) + 1
	}
	out := append(make([]byte, 0, n), '[')
	for i, e := range batch {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e.body...)
	}
	return append(out, ']')
}

func (d *Destination) putEach(ctx context.Context, batch []entry) forward.Result {
	out := forward.Result{Outcome: forward.OutcomeItem, Rejected: map[string]string{}}
	for _, e := range batch {
		u := d.statements + "?statementId=" + url.QueryEscape(e.id)
		res := d.do(ctx, http.MethodPut, u, e.body)
		if res.err != nil {
			return res.result
		}
		switch res.status {
		case http.StatusNoContent, http.StatusConflict, http.StatusOK:
			out.Outcome, out.Status = forward.OutcomeSuccess, res.status
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			out.Rejected[e.id] = d.describe(res)
			if out.Status == 0 {
				out.Status, out.Message = res.status, d.describe(res)
			}
		default:
			return d.classify(res)
		}
	}
	return out
}

// classify maps a response that is neither success nor an item rejection
// (forward.ClassifyStatus).
func (d *Destination) classify(res response) forward.Result {
	outcome := forward.ClassifyStatus(res.status)
	switch {
	case outcome == forward.OutcomeTransient:
		r := d.failure(outcome, res, "")
		r.RetryAfter = forward.RetryAfter(res.header.Get("Retry-After"), d.opts.Now())
		return r
	case res.status >= 300 && res.status < 400:
		return d.failure(outcome, res, d.redactString("redirected to "+res.header.Get("Location")))
	default: // 401, 403, 404, 405, other 4xx, unexpected 2xx
		return d.failure(outcome, res, "")
	}
}

func (d *Destination) failure(outcome string, res response, note string) forward.Result {
	msg := d.describe(res)
	if note != "" {
		msg = note + ": " + msg
	}
	return forward.Result{Outcome: outcome, Status: res.status, Message: msg}
}

// describe is "HTTP 400: <message>", with the xAPI error message when the
// body is a JSON error, else its first bytes; secrets redacted.
func (d *Destination) describe(res response) string {
	return forward.DescribeResponse(res.status, res.body, d.redactString, 512)
}

// response is one HTTP exchange: either err (with its result) or a status.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error
	result forward.Result // when err != nil
}

const maxBody = 64 << 10

// do sends one request with the configured authentication; with OAuth2 a
// 401 refreshes the token once and repeats the request.
func (d *Destination) do(ctx context.Context, method, u string, body []byte) response {
	res := d.doOnce(ctx, method, u, body, false)
	if res.err == nil && res.status == http.StatusUnauthorized && d.token != nil {
		res = d.doOnce(ctx, method, u, body, true)
	}
	return res
}

func (d *Destination) doOnce(ctx context.Context, method, u string, body []byte, refresh bool) response {
	var bearer string
	if d.token != nil {
		tok, r := d.token.get(ctx, refresh)
		if r != nil {
			return response{err: errors.New(r.Message), result: *r}
		}
		bearer = tok
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return response{err: err, result: forward.Result{Outcome: forward.OutcomeDestination, Message: "bad request: " + d.redactString(err.Error())}}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Experience-API-Version", d.version)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else {
		req.SetBasicAuth(d.key, d.secret)
	}
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return response{err: err, result: forward.Result{Outcome: forward.OutcomeTransport, Message: d.redactString(forward.TransportMessage(err))}}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return response{err: err, result: forward.Result{Outcome: forward.OutcomeTransport, Status: resp.StatusCode,
			Message: d.redactString("connection dropped mid-response: " + forward.TransportMessage(err))}}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}
