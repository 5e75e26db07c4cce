// Package webhook is the AMS writeback destination (sinks.md §3): it maps
// an objective result into the body an association management system
// wants, through an ordered field mapping over a fixed source vocabulary
// and value formats, and sends it as a signed webhook (Standard Webhooks
// 1.0) at once, in batches on a schedule, or as a daily CSV file over
// SFTP.
//
// The package stands on its own: Input is the view of a result it sends
// (the objective-results read model fills it), Outcome the verdict on an
// attempt in the classes of sinks.md §0.2 (the forward engine maps them),
// and Config/Secrets the settings, validated all at once by New.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// Options are shared by the webhooks of a process.
type Options struct {
	// Client sends every request; default NewClient(Egress). It must not
	// follow redirects (a 3xx is a failure, Standard Webhooks).
	Client *http.Client
	// Egress is the policy of the addresses the default Client and Dial
	// connect to (the forward kit's); nil: public unicast only.
	Egress *forward.Egress
	// Now is the clock of signatures, Retry-After and file names.
	Now func() time.Time
	// UserAgent names the sender, e.g. "lrs-forwarder/1.4.0".
	UserAgent string
	// Dial opens the SFTP connection; default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o *Options) defaults() {
	if o.Client == nil {
		o.Client = NewClient(o.Egress)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserAgent == "" {
		o.UserAgent = "lrs-forwarder"
	}
	if o.Dial == nil {
		o.Dial = o.Egress.Dialer(30 * time.Second).DialContext
	}
}

// NewClient returns the forward kit's HTTP client: it follows no
// redirect and connects only where egress allows; each request is bounded
// by the configuration's timeout (at most 2 minutes).
func NewClient(egress *forward.Egress) *http.Client {
	return forward.NewHTTPClient(forward.HTTPOptions{Timeout: 2 * time.Minute, Egress: egress})
}

// Webhook is one compiled webhook configuration.
type Webhook struct {
	id, name string
	mode     string
	method   string
	content  string
	envelope string
	trigger  string
	timeout  time.Duration
	url      *urlTemplate
	fields   []field
	schedule *Schedule
	signKey  []byte
	auth     *authorizer
	sftp     *sftpTarget
	prefix   string
	opts     Options
	red      *redactor
	// objectives are the per-objective values (Config.Objectives).
	objectives map[string]ObjectiveValues
	directory  map[string]member // lower-case email → member
}

// DefaultTimeout bounds one request when the configuration sets none
// (Standard Webhooks recommends 15–30 s).
const DefaultTimeout = 30 * time.Second

// New compiles configuration id (named name) with its secrets. Every
// problem is reported at once in a *ValidationError, whose paths are the
// settings' names ("fields[2].format").
func New(id, name string, c Config, s Secrets, opts Options) (*Webhook, error) {
	opts.defaults()
	var ps problems
	w := &Webhook{id: id, name: name, opts: opts}
	if c.Preset != "" {
		if _, ok := LookupPreset(c.Preset); !ok {
			ps.add("preset", "unknown preset %q: want %s", c.Preset, strings.Join(PresetNames(), ", "))
		}
	}
	checkObjectives(c.Objectives, &ps)
	w.directory = parseDirectory(c.Directory, &ps)
	w.objectives = c.Objectives
	w.mode = oneOf(c.Mode, ModeImmediate, "mode", &ps, ModeImmediate, ModeBatch, ModeFile)
	w.trigger = oneOf(c.Trigger, TriggerCompletion, "trigger", &ps, TriggerCompletion, TriggerPass, TriggerChange)
	loc, err := loadZone(c.Zone)
	if err != nil {
		ps.add("zone", "%v", err)
		loc = time.UTC
	}
	if w.mode != ModeImmediate {
		wait := parseDuration(c.MaxWait, "max_wait", 0, minWait, maxWait, &ps)
		switch {
		case w.mode == ModeFile && c.Schedule == "":
			ps.add("schedule", "required for file mode: when the file is written, e.g. 0 5 * * * for 05:00 daily")
		case c.MaxItems < 0 || c.MaxItems > MaxBatchItems:
			ps.add("max_items", "%d: want 1 to %d", c.MaxItems, MaxBatchItems)
		case w.mode == ModeBatch && c.MaxItems == 0 && wait == 0 && c.Schedule == "":
			ps.add("schedule", "a batch needs max_items, max_wait or a schedule")
		default:
			zone := c.Zone
			if loc == time.UTC {
				zone = "" // a bad zone is reported once, under zone
			}
			sched, err := ParseSchedule(c.MaxItems, wait, c.Schedule, zone)
			if err != nil {
				ps.add("schedule", "%v", err)
			}
			if w.mode == ModeFile && sched != nil {
				sched.MaxItems, sched.MaxWait = 0, 0 // a file per scheduled time
			}
			w.schedule = sched
		}
	}
	if w.mode == ModeFile {
		w.fields = compileFields(c.Fields, false, loc, &ps)
		w.sftp = compileSFTP(c, s, &ps)
		w.sftp.timeout = parseDuration(c.Timeout, "timeout", 2*time.Minute, time.Second, 30*time.Minute, &ps)
		w.prefix = c.FilePrefix
		if w.prefix == "" {
			w.prefix = "lrs-results"
		} else if !filePrefix.MatchString(w.prefix) {
			ps.add("file_prefix", "want letters, digits, '.', '_' or '-' (at most 64)")
		}
		w.red = newRedactor(s.values())
		return w.done(ps)
	}

	w.method = oneOf(c.Method, http.MethodPost, "method", &ps, http.MethodPost, http.MethodPut, http.MethodPatch)
	w.content = oneOf(c.ContentType, ContentJSON, "content_type", &ps, ContentJSON, ContentForm)
	w.timeout = parseDuration(c.Timeout, "timeout", DefaultTimeout, time.Second, 2*time.Minute, &ps)
	w.url = compileURL(c.URL, "url", loc, &ps)
	w.fields = compileFields(c.Fields, w.content == ContentJSON, loc, &ps)
	if w.mode == ModeBatch {
		w.envelope = oneOf(c.Envelope, EnvelopeItems, "envelope", &ps, EnvelopeItems, EnvelopeArray)
		if w.content != ContentJSON {
			ps.add("content_type", "a batch is a JSON body: use json")
		}
		if w.url != nil && hasPlaceholders(w.url) {
			ps.add("url", "a batch carries many results: its URL cannot name a result's values")
		}
		if !mapsSource(c.Fields, "result.key") {
			ps.add("fields", "a batch needs a field mapped from result.key, so the receiver can tell its items apart")
		}
	}
	if s.SigningSecret == "" {
		ps.add("signing_secret", "required: every request is signed (Standard Webhooks); NewSigningSecret makes one")
	} else if key, err := ParseSigningSecret(s.SigningSecret); err != nil {
		ps.add("signing_secret", "%v", err)
	} else {
		w.signKey = key
	}
	w.auth = compileAuth(c, s, &ps)
	w.red = newRedactor(s.values(), [2]string{c.Username, s.Password})
	return w.done(ps)
}

func (w *Webhook) done(ps problems) (*Webhook, error) {
	if len(ps) > 0 {
		return nil, &ValidationError{Problems: ps}
	}
	return w, nil
}

// Validate checks a configuration without building it for use; the
// error is a *ValidationError listing every problem.
func Validate(c Config, s Secrets) error {
	_, err := New("", "", c, s, Options{Client: http.DefaultClient})
	return err
}

func hasPlaceholders(t *urlTemplate) bool {
	for _, p := range t.parts {
		if p.src != nil {
			return true
		}
	}
	return false
}

func mapsSource(fs []Field, name string) bool {
	for _, f := range fs {
		if f.Source == name {
			return true
		}
	}
	return false
}

// Mode is the configuration's mode: ModeImmediate, ModeBatch or ModeFile.
func (w *Webhook) Mode() string { return w.mode }

// Schedule is the batch or file schedule (nil in immediate mode).
func (w *Webhook) Schedule() *Schedule { return w.schedule }

// MaxBatch is how many inputs one Send carries.
func (w *Webhook) MaxBatch() int {
	if w.schedule == nil {
		return 1
	}
	return w.schedule.Limit()
}

// Wants reports whether the configuration's trigger sends a result in its
// current state: completion sends completed (or passed) results, pass
// passed ones, change every result.
func (w *Webhook) Wants(r Result) bool { return wants(w.trigger, r) }

// Request is one HTTP request of the webhook.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// ID is the webhook-id (and Idempotency-Key): MessageID of the
	// result key and body, or the batch id.
	ID string
	// Results are the ids of the results it carries, in order.
	Results []string
}

// Build renders the request that carries ins, signed at time at (without
// its Authorization, which Send adds). Inputs that cannot be rendered are
// returned as rejected (result id → reason); with none left the request is
// nil. In immediate mode ins holds one input.
func (w *Webhook) Build(ins []Input, at time.Time) (*Request, map[string]string) {
	rejected := map[string]string{}
	if w.mode == ModeFile {
		for _, in := range ins {
			rejected[in.Result.ID] = "a file-mode configuration sends files, not requests"
		}
		return nil, rejected
	}
	if w.mode == ModeImmediate && len(ins) > 1 {
		for _, in := range ins[1:] {
			rejected[in.Result.ID] = "an immediate configuration sends one result per request"
		}
		ins = ins[:1]
	}
	var bodies [][]byte
	var ids []string
	var target string
	for i := range ins {
		in := ins[i] // a copy: the caller's input is left as it is
		in.ConfigurationID, in.ConfigurationName = w.id, w.name
		r, err := render(w.fields, &in)
		var u string
		if err == nil && w.mode == ModeImmediate {
			u, err = w.url.expand(&in)
		}
		if err != nil {
			rejected[in.Result.ID] = w.red.redact(err.Error())
			continue
		}
		target = u
		if w.content == ContentForm {
			bodies = append(bodies, r.form())
		} else {
			bodies = append(bodies, r.json())
		}
		ids = append(ids, in.Result.ID)
	}
	if len(bodies) == 0 {
		return nil, rejected
	}
	req := &Request{Method: w.method, Header: http.Header{}, Results: ids}
	if w.mode == ModeImmediate {
		req.URL = target
		req.Body = bodies[0]
		req.ID = MessageID(Key(w.id, ids[0]), req.Body)
	} else {
		req.URL, _ = w.url.expand(&Input{})
		req.ID = BatchID(w.id, bodies)
		req.Body = envelope(w.envelope, req.ID, bodies)
	}
	h := req.Header
	if w.content == ContentForm {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("User-Agent", w.opts.UserAgent)
	ts := at.Unix()
	h.Set(HeaderID, req.ID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(w.signKey, req.ID, ts, req.Body))
	h.Set(HeaderIdempotencyKey, req.ID)
	return req, rejected
}

// BatchID is the id of a batch: a version-5 UUID over the configuration
// and the exact items, so a retry of the same batch carries the same id and
// a batch with any newer value a new one.
func BatchID(configurationID string, items [][]byte) string {
	return MessageID(Key(configurationID, "\x00batch"), bytes.Join(items, []byte{'\n'}))
}

// envelope wraps a batch's items.
func envelope(kind, id string, items [][]byte) []byte {
	var b bytes.Buffer
	if kind == EnvelopeItems {
		b.WriteString(`{"batch_id":"`)
		b.WriteString(id) // a UUID: nothing to escape
		b.WriteString(`","items":`)
	}
	b.WriteByte('[')
	b.Write(bytes.Join(items, []byte{','}))
	b.WriteByte(']')
	if kind == EnvelopeItems {
		b.WriteByte('}')
	}
	return b.Bytes()
}

// maxResponse bounds the response body read.
const maxResponse = 64 << 10

// Send delivers ins (at most MaxBatch) and classifies the attempt. Items
// that cannot be rendered are rejected one by one; in batch mode a batch
// the receiver refuses as a whole (400, 409, 413, 422) is split in halves
// until the refused items are found. Send does not retry (the engine
// does), except one new OAuth2 token after a 401. It bounds each request
// by the configured timeout and never puts a secret in the outcome.
func (w *Webhook) Send(ctx context.Context, ins []Input) Outcome {
	if w.mode == ModeFile {
		return Outcome{Class: ClassDestination, Message: "a file-mode configuration is sent with WriteFile and Upload"}
	}
	if w.mode == ModeImmediate {
		return w.sendEach(ctx, ins)
	}
	var all Outcome
	for start := 0; start < len(ins); start += w.schedule.Limit() {
		chunk := ins[start:min(start+w.schedule.Limit(), len(ins))]
		o := w.sendBatch(ctx, chunk)
		all = merge(all, o)
		if o.Class != ClassSuccess && o.Class != ClassItem {
			return all
		}
	}
	return all
}

func (w *Webhook) sendEach(ctx context.Context, ins []Input) Outcome {
	var all Outcome
	for i := range ins {
		req, rejected := w.Build(ins[i:i+1], w.opts.Now())
		o := Outcome{Class: ClassItem, Rejected: rejected}
		if req != nil {
			o = w.do(ctx, req)
			if o.Class == ClassItem {
				o.Rejected = map[string]string{ins[i].Result.ID: o.Message}
			}
		} else {
			o.Message = "not sendable: " + rejected[ins[i].Result.ID]
		}
		all = merge(all, o)
		if o.Class != ClassSuccess && o.Class != ClassItem {
			return all
		}
	}
	return all
}

func (w *Webhook) sendBatch(ctx context.Context, ins []Input) Outcome {
	req, rejected := w.Build(ins, w.opts.Now())
	if req == nil {
		return Outcome{Class: ClassItem, Message: "no item of the batch is sendable", Rejected: rejected}
	}
	o := w.do(ctx, req)
	if o.Class == ClassItem {
		if len(req.Results) == 1 {
			o.Rejected = map[string]string{req.Results[0]: o.Message}
		} else {
			keep := make([]Input, 0, len(req.Results))
			for _, in := range ins {
				if _, bad := rejected[in.Result.ID]; !bad {
					keep = append(keep, in)
				}
			}
			half := len(keep) / 2
			left := w.sendBatch(ctx, keep[:half])
			if left.Class != ClassSuccess && left.Class != ClassItem {
				return left
			}
			o = merge(left, w.sendBatch(ctx, keep[half:]))
		}
	}
	if o.Class == ClassSuccess || o.Class == ClassItem {
		for id, why := range rejected {
			if o.Rejected == nil {
				o.Rejected = map[string]string{}
			}
			o.Rejected[id] = why
		}
	}
	return o
}

// merge combines two attempts' outcomes: a destination-level failure
// wins; otherwise delivered and rejected items add up.
func merge(a, b Outcome) Outcome {
	if a.Class == "" {
		return b
	}
	for _, o := range []Outcome{a, b} {
		if o.Class != ClassSuccess && o.Class != ClassItem {
			return o
		}
	}
	m := Outcome{Class: ClassItem, Status: a.Status, Message: a.Message}
	if a.Class == ClassSuccess || b.Class == ClassSuccess {
		m.Class = ClassSuccess
	}
	if b.Status != 0 {
		m.Status, m.Message = b.Status, b.Message
	}
	for _, o := range []Outcome{a, b} {
		for id, why := range o.Rejected {
			if m.Rejected == nil {
				m.Rejected = map[string]string{}
			}
			m.Rejected[id] = why
		}
	}
	return m
}

// do sends one request; with OAuth2 a 401 fetches a new token once and
// repeats the request, signed anew.
func (w *Webhook) do(ctx context.Context, req *Request) Outcome {
	o, status := w.doOnce(ctx, req, false)
	if status == http.StatusUnauthorized && w.auth.kind == AuthOAuth2 {
		o, _ = w.doOnce(ctx, req, true)
	}
	return o
}

func (w *Webhook) doOnce(ctx context.Context, r *Request, refresh bool) (Outcome, int) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Outcome{Class: ClassDestination, Message: "cannot build the request: " + w.redact(unwrapURL(err).Error())}, 0
	}
	hr.Header = r.Header.Clone()
	if refresh || r.Header.Get(HeaderTimestamp) == "" {
		ts := w.opts.Now().Unix()
		hr.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		hr.Header.Set(HeaderSignature, Sign(w.signKey, r.ID, ts, r.Body))
	}
	switch w.auth.kind {
	case AuthBasic, AuthBearer, AuthAPIKey:
		hr.Header.Set(w.auth.header, w.auth.value)
	case AuthOAuth2:
		tok, fail := w.auth.token(ctx, w.opts.Client, refresh)
		if fail != nil {
			fail.Message = w.redact(fail.Message)
			return *fail, 0
		}
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := w.opts.Client.Do(hr)
	if err != nil {
		o := ClassifyError(err)
		o.Message = w.redact(o.Message)
		return o, 0
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil && !errors.Is(err, io.EOF) {
		o := ClassifyError(err)
		o.Status = resp.StatusCode
		o.Message = w.redact("the connection dropped mid-response: " + o.Message)
		return o, resp.StatusCode
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return ClassifyResponse(resp.StatusCode, resp.Header, body, w.opts.Now(), w.redact), resp.StatusCode
}

func (w *Webhook) redact(s string) string { return w.red.redact(s, w.auth.current()) }

// Preview is the exact request a webhook would send, without sending it:
// secrets redacted, the OAuth2 token not fetched.
type Preview struct {
	Method  string              `json:"method,omitempty"`
	URL     string              `json:"url,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body"`
	// FileName is the file a file-mode configuration would upload.
	FileName string `json:"file_name,omitempty"`
	// Rejected are the inputs that cannot be sent, with the reason.
	Rejected map[string]string `json:"rejected,omitempty"`
}

// Preview renders the request (or, in file mode, the file) for ins at time
// at. Use Sample for a preview without a real result.
func (w *Webhook) Preview(ins []Input, at time.Time) Preview {
	if w.mode == ModeFile {
		f := w.WriteFile(ins, at)
		return Preview{FileName: f.Name, Body: w.red.redact(string(f.Data)), Rejected: f.Rejected}
	}
	req, rejected := w.Build(ins, at)
	p := Preview{Rejected: rejected}
	if len(p.Rejected) == 0 {
		p.Rejected = nil
	}
	if req == nil {
		return p
	}
	h := req.Header.Clone()
	switch w.auth.kind {
	case AuthBasic:
		h.Set("Authorization", "Basic "+redacted)
	case AuthBearer, AuthOAuth2:
		h.Set("Authorization", "Bearer "+redacted)
	case AuthAPIKey:
		h.Set(w.auth.header, redacted)
	}
	p.Method, p.URL, p.Body = req.Method, w.red.redact(req.URL), w.red.redact(string(req.Body))
	p.Headers = map[string][]string{}
	for k, vs := range h {
		for _, v := range vs {
			p.Headers[k] = append(p.Headers[k], w.red.redact(v))
		}
	}
	return p
}

// Key is result.key of a result of this configuration.
func (w *Webhook) Key(resultID string) string { return Key(w.id, resultID) }

// String names the webhook for logs, without secrets.
func (w *Webhook) String() string {
	return fmt.Sprintf("webhook %s (%s)", w.id, w.mode)
}
