// Package postback is the SCORM-Cloud-style registration postback
// destination (sinks.md §4): whenever an objective result changes, it
// posts the result as SCORM Cloud's RegistrationSchema JSON to the
// receiver's URL, either as the form field data (with the fields userName
// and password) or as a JSON body with an HTTP Basic header.
//
// The package stands on its own until the results read model exists:
// Input is the view of one result it sends (the seam the send adapter
// fills), Render the JSON, Build and Preview the exact request, Send one
// attempt classified into forward's outcome classes (any status below 400
// is delivered, as SCORM Cloud counts it; redirects are never followed),
// TestPostback the "send test postback" action. Type declares it to
// forward's registry as an overwrite sink. It uses forward's kit for the
// HTTP client, the Retry-After parsing, the descriptions of responses and
// transport failures, truncation and redaction.
package postback

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// HeaderDeliveryID carries DeliveryID: the same on every retry of the same
// content, new for every change.
const HeaderDeliveryID = "X-LRS-Delivery-ID"

// Content types of the two auth types (sinks.md §4.2).
const (
	ContentTypeForm = "application/x-www-form-urlencoded; charset=UTF-8"
	ContentTypeJSON = "application/json; charset=UTF-8"
)

// Form field names of authType form (SCORM Cloud API v2; v1 spelled the
// user name "username").
const (
	FieldData     = "data"
	FieldUserName = "userName"
	FieldPassword = "password"
)

// DefaultTimeout bounds one request when Options set none.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds how much of a response is read.
const maxResponse = 64 << 10

// redacted stands for a secret in previews and outcomes.
const redacted = "[redacted]"

// Options are shared by the postbacks of a process.
type Options struct {
	// Client sends every request; default forward.NewHTTPClient with
	// Timeout and Egress. Its
	// redirects are never followed, whatever it says: a 3xx is the
	// answer (SCORM Cloud counts it as delivered), and following one
	// would post the credentials elsewhere.
	Client *http.Client
	// Timeout bounds each request; default DefaultTimeout.
	Timeout time.Duration
	// Egress is the policy of the addresses the default client connects
	// to; nil allows public unicast addresses only.
	Egress *forward.Egress
	// Now is the clock of Retry-After dates and of the test postback.
	Now func() time.Time
	// UserAgent names the sender; default "lrs-forwarder".
	UserAgent string
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = forward.NewHTTPClient(forward.HTTPOptions{Timeout: o.Timeout, Egress: o.Egress})
	}
	c := *o.Client // a copy: the caller's client is left as it is
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserAgent == "" {
		o.UserAgent = "lrs-forwarder"
	}
}

// Postback is one configured receiver.
type Postback struct {
	url      string
	auth     string
	format   string
	user     string
	password string
	opts     Options
	red      *forward.Redactor
}

// ValidationError lists every problem of a configuration, each naming its
// field as forward.Type.Check does.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "postback configuration: " + strings.Join(e.Problems, "; ")
}

// New builds the postback of a configuration's properties and (decrypted)
// secrets; an invalid configuration is a *ValidationError listing every
// problem.
func New(props, secrets map[string]string, opts Options) (*Postback, error) {
	if ps := Validate(props, secrets); len(ps) > 0 {
		return nil, &ValidationError{Problems: ps}
	}
	opts.defaults()
	u, _ := receiverURL(props[PropURL]) // validated
	p := &Postback{
		url: u.String(), auth: props[PropAuthType], format: props[PropResultsFormat],
		user: userName(props, secrets), password: secrets[SecretPassword], opts: opts,
	}
	if p.auth == "" {
		p.auth = AuthForm
	}
	if p.format == "" {
		p.format = FormatCourse
	}
	p.red = newRedactor(p.user, p.password)
	return p, nil
}

// newRedactor hides the password in each form it takes on the wire or in
// an echo of it: as written, form/query and path escaped, JSON escaped,
// base64, and the Basic credentials; longest first, so that a longer form
// is replaced whole.
func newRedactor(user, password string) *forward.Redactor {
	if password == "" {
		return nil
	}
	forms := []string{
		password, url.QueryEscape(password), url.PathEscape(password),
		jsonString(password, true), jsonString(password, false),
		base64.StdEncoding.EncodeToString([]byte(password)),
		base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return forward.NewRedactor(slices.Compact(forms)...)
}

// jsonString is s as the inside of a JSON string, with or without
// encoding/json's HTML escapes (& as \u0026).
func jsonString(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s)
	q := bytes.TrimSpace(b.Bytes())
	return string(q[1 : len(q)-1])
}

// MaxBatch is how many results one Send carries: one registration per
// request.
func (p *Postback) MaxBatch() int { return 1 }

// Request is one postback request, ready to send.
type Request struct {
	Method string
	URL    string
	Header http.Header // without Authorization, which Send adds
	Body   []byte
	// JSON is the registration: the body (httpbasic) or the value of the
	// data field (form).
	JSON         []byte
	Registration *Registration
	DeliveryID   string
}

// Build renders the request that posts in. An input that lacks what the
// RegistrationSchema requires is an error wrapping ErrNotSendable.
func (p *Postback) Build(in Input) (*Request, error) {
	return p.build(in, p.password)
}

func (p *Postback) build(in Input, password string) (*Request, error) {
	reg, err := Render(in, p.format)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(reg)
	if err != nil {
		return nil, fmt.Errorf("postback: encoding the registration: %w", err)
	}
	req := &Request{Method: http.MethodPost, URL: p.url, Header: http.Header{}, JSON: data, Registration: reg,
		DeliveryID: DeliveryID(reg.ID, data)}
	if p.auth == AuthHTTPBasic {
		req.Header.Set("Content-Type", ContentTypeJSON)
		req.Body = data
	} else {
		form := url.Values{FieldData: {string(data)}}
		if p.user != "" {
			form.Set(FieldUserName, p.user)
		}
		if password != "" {
			form.Set(FieldPassword, password)
		}
		req.Header.Set("Content-Type", ContentTypeForm)
		req.Body = []byte(form.Encode())
	}
	req.Header.Set("User-Agent", p.opts.UserAgent)
	req.Header.Set(HeaderDeliveryID, req.DeliveryID)
	return req, nil
}

// Send posts the current result once and classifies the attempt (see
// Classify). It does not retry: the engine schedules retries. An input
// that cannot be rendered is an item-level rejection (forward.OutcomeItem)
// with the reason. The outcome never carries a secret.
func (p *Postback) Send(ctx context.Context, in Input) forward.Result {
	req, err := p.Build(in)
	if err != nil {
		return forward.Result{Outcome: forward.OutcomeItem, Message: p.red.Redact(err.Error())}
	}
	return p.Do(ctx, req)
}

// TestPostback is the "send test postback" action: it posts Sample (as of
// now) once, with the configured URL, auth type, credentials and results
// format, and returns the outcome. It is never retried and never queued
// (SCORM Cloud's postBackTest is not retried either); the receiver gets a
// sample learner, so say so where the action is offered.
func (p *Postback) TestPostback(ctx context.Context) forward.Result {
	return p.Send(ctx, Sample(p.opts.Now()))
}

// Do sends a built request once and classifies the outcome.
func (p *Postback) Do(ctx context.Context, req *Request) forward.Result {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return forward.Result{Outcome: forward.OutcomeDestination, Message: "cannot build the request: " + p.red.Redact(err.Error())}
	}
	hr.Header = req.Header.Clone()
	if p.auth == AuthHTTPBasic && p.user != "" {
		hr.SetBasicAuth(p.user, p.password)
	}
	resp, err := p.opts.Client.Do(hr)
	if err != nil {
		return ClassifyError(err, p.red.Redact)
	}
	defer resp.Body.Close()
	// A body cut short still leaves the status, which is the verdict.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return Classify(resp.StatusCode, resp.Header, body, p.opts.Now(), p.red.Redact)
}

// Classify is the outcome of a postback answered with status (sinks.md
// §4.4 and §0.2):
//   - below 400 the receiver has it (forward.OutcomeSuccess): 2xx, and
//     3xx as SCORM Cloud counts it (redirects are not followed; the
//     message says where it pointed, since a receiver that redirects has
//     likely not processed the data);
//   - 400, 409, 413 and 422 refuse this registration's body
//     (forward.OutcomeItem: Rejected with the response, sent again when
//     the result changes or the configuration is edited), so one
//     registration the receiver cannot take does not stop the others;
//   - 408, 429 and 5xx are transient (retried on the schedule, not before
//     Retry-After);
//   - every other 4xx (401, 403, 404, 405, 410…) refuses every request:
//     a destination-wide Server Error, retried on the schedule and when
//     the configuration is edited.
//
// The message is "HTTP <status>: <the response's message or first
// bytes>", redacted by redact (nil: nothing hidden).
func Classify(status int, h http.Header, body []byte, now time.Time, redact func(string) string) forward.Result {
	r := forward.Result{Status: status}
	switch {
	case status < 300:
		r.Outcome = forward.OutcomeSuccess
		return r
	case status < 400:
		r.Outcome = forward.OutcomeSuccess
		loc := forward.Truncate(h.Get("Location"), 200)
		if redact != nil {
			loc = redact(loc)
		}
		r.Message = fmt.Sprintf("HTTP %d: counted as delivered, redirects are not followed; the receiver pointed to %q: update the URL if it moved", status, loc)
		return r
	case status == http.StatusBadRequest || status == http.StatusConflict ||
		status == http.StatusRequestEntityTooLarge || status == http.StatusUnprocessableEntity:
		r.Outcome = forward.OutcomeItem
	default:
		r.Outcome = forward.ClassifyStatus(status)
		if r.Outcome == forward.OutcomeTransient {
			r.RetryAfter = forward.RetryAfter(h.Get("Retry-After"), now)
		}
	}
	r.Message = forward.DescribeResponse(status, body, redact, 512)
	return r
}

// ClassifyError is the outcome of a postback that got no answer (refused,
// reset, DNS, TLS, timeout): Can't Connect, retried on the schedule; the
// message names the cause, never the URL.
func ClassifyError(err error, redact func(string) string) forward.Result {
	msg := forward.TransportMessage(err)
	if redact != nil {
		msg = redact(msg)
	}
	return forward.Result{Outcome: forward.OutcomeTransport, Message: msg}
}

// Preview is the exact request a postback would send, secrets redacted.
type Preview struct {
	Method  string              `json:"method,omitempty"`
	URL     string              `json:"url,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body,omitempty"`
	// Registration is the RegistrationSchema JSON the body carries.
	Registration json.RawMessage `json:"registration,omitempty"`
	// Overridden says whether an administrator's override set a value
	// (the JSON cannot say it).
	Overridden bool `json:"overridden,omitempty"`
	// NotSendable is why the input cannot be sent, when it cannot.
	NotSendable string `json:"not_sendable,omitempty"`
}

// Preview renders the request for in without sending it: the body as it
// would be sent with the password replaced by "[redacted]", and an
// Authorization header of "Basic [redacted]". Use Sample(now) for a
// preview without a real result.
func (p *Postback) Preview(in Input) Preview {
	pw := ""
	if p.password != "" {
		pw = redacted
	}
	req, err := p.build(in, pw)
	if err != nil {
		return Preview{NotSendable: p.red.Redact(err.Error()), Overridden: in.Result.Overridden}
	}
	h := req.Header.Clone()
	if p.auth == AuthHTTPBasic && p.user != "" {
		h.Set("Authorization", "Basic "+redacted)
	}
	reg := p.red.Redact(string(req.JSON))
	if !json.Valid([]byte(reg)) { // a password that is a piece of JSON syntax
		q, _ := json.Marshal(reg)
		reg = string(q)
	}
	out := Preview{
		Method: req.Method, URL: p.red.Redact(req.URL), Headers: map[string][]string{},
		Body: p.red.Redact(string(req.Body)), Registration: json.RawMessage(reg),
		Overridden: in.Result.Overridden,
	}
	for k, vs := range h {
		for _, v := range vs {
			out.Headers[k] = append(out.Headers[k], p.red.Redact(v))
		}
	}
	return out
}

// String names the postback for logs, without secrets.
func (p *Postback) String() string {
	return fmt.Sprintf("postback (%s, %s)", p.auth, p.format)
}
