package clever

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lrs-project/lrs/forward"
)

// Clock is the time of the client: the rate limiter's waits, roster cache
// ages, due dates and reservation ages. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep blocks for d or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// APIError is an HTTP answer other than the one expected. Message is
// Clever's message ({"message": …}) or the body's first bytes, without
// secrets.
type APIError struct {
	Status     int
	Message    string
	RetryAfter time.Duration // when Clever stopped the token (429)
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// is reports whether the answer is status with exactly Clever's message.
func (e *APIError) is(status int, message string) bool {
	return e.Status == status && e.Message == message
}

// TransportError is a request that got no HTTP answer (Can't Connect).
type TransportError struct{ Message string }

func (e *TransportError) Error() string { return e.Message }

// Clever's documented messages the client acts on (sinks.md §1.7).
const (
	msgUserNotFound      = "User not found"
	msgNoAssignment      = "Assignment does not exist"
	msgSchoologyNoLaunch = "Error updating submission"
)

// maxAnswer bounds the body read of an answer (a roster page of 500
// users is about 150 KB).
const maxAnswer = 4 << 20

// client calls Clever's API for one configuration.
type client struct {
	cfg    *Config
	opts   *Options
	redact *forward.Redactor // the secrets in every form, and the tokens fetched

	fetchMu sync.Mutex // one token fetch at a time
	mu      sync.Mutex
	fetched string // the token fetched with client credentials
}

func newClient(cfg *Config, opts *Options) *client {
	red := forward.NewRedactor(cfg.Token, cfg.ClientSecret)
	red.AddBasic(cfg.ClientID, cfg.ClientSecret)
	return &client{cfg: cfg, opts: opts, redact: red}
}

// redactString removes the secrets and the fetched tokens from s (the
// forward kit's redaction).
func (c *client) redactString(s string) string { return c.redact.Redact(s) }

func (c *client) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetched
}

// bearer returns the token to send: the configured one, or one fetched
// with the client credentials; stale is a fetched token Clever refused,
// fetched again unless another request already replaced it.
func (c *client) bearer(ctx context.Context, stale string) (string, error) {
	if c.cfg.Token != "" {
		return c.cfg.Token, nil
	}
	if tok := c.current(); tok != "" && tok != stale {
		return tok, nil
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	if tok := c.current(); tok != "" && tok != stale {
		return tok, nil
	}
	tok, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	c.redact.Add(tok)
	c.mu.Lock()
	c.fetched = tok
	c.mu.Unlock()
	return tok, nil
}

// fetchToken asks the token endpoint for the district's token:
// GET {token_url}?owner_type=district&district=<id> with the client
// credentials in Basic authentication. The token endpoint is not the API
// and is not rate-limited with it.
func (c *client) fetchToken(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.tokenURL(), nil)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	req.Header.Set("Accept", "application/json")
	status, _, body, err := c.exchange(req)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		e := c.apiError(status, body)
		e.Message = "token endpoint: " + e.Message
		return "", e
	}
	var answer struct {
		Data []token `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return "", &APIError{Status: status, Message: "token endpoint: the answer is not the JSON of a token list"}
	}
	for _, t := range answer.Data {
		if t.Owner.Type == "district" && t.Owner.ID == c.cfg.DistrictID && t.AccessToken != "" {
			return t.AccessToken, nil
		}
	}
	return "", &APIError{Status: http.StatusNotFound,
		Message: fmt.Sprintf("token endpoint: the application holds no token for district %s (has the district connected the application?)", c.cfg.DistrictID)}
}

// tokenURL is the token endpoint's URL of the district's token.
func (c *client) tokenURL() string {
	u := *c.cfg.TokenURL
	u.RawQuery = url.Values{"owner_type": {"district"}, "district": {c.cfg.DistrictID}}.Encode()
	return u.String()
}

// exchange sends req and reads the answer; a request without an answer
// is a *TransportError.
func (c *client) exchange(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return 0, nil, nil, &TransportError{Message: c.redactString(transportMessage(err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, nil, &TransportError{Message: c.redactString("connection dropped mid-answer: " + transportMessage(err))}
	}
	return resp.StatusCode, resp.Header, body, nil
}

// apiError describes an unexpected answer.
func (c *client) apiError(status int, body []byte) *APIError {
	text := strings.TrimSpace(string(body))
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		text = e.Message
	}
	if text == "" {
		text = "(empty body)"
	}
	return &APIError{Status: status, Message: truncate(c.redactString(text), 512)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// call sends one API request (path under /v3.1, with its query) and
// decodes a 200 answer into out (nil: the body is ignored). It waits for
// the token's rate limiter first unless permitted (the caller already
// waited). With client credentials, a 401 or 403 fetches the token again
// and repeats the request once.
func (c *client) call(ctx context.Context, method, path string, in, out any, permitted bool) error {
	used, err := c.callOnce(ctx, method, path, in, out, permitted, "")
	var ae *APIError
	if c.cfg.Token == "" && used != "" && errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
		_, err = c.callOnce(ctx, method, path, in, out, false, used)
	}
	return err
}

// callOnce is one request; it returns the token it sent ("" when it sent
// none).
func (c *client) callOnce(ctx context.Context, method, path string, in, out any, permitted bool, stale string) (string, error) {
	tok, err := c.bearer(ctx, stale)
	if err != nil {
		return "", err
	}
	return tok, c.send(ctx, tok, method, path, in, out, permitted)
}

func (c *client) send(ctx context.Context, tok, method, path string, in, out any, permitted bool) error {
	lim := c.opts.Limiters.forToken(tok, c.cfg.RateLimit)
	if !permitted {
		if err := lim.wait(ctx); err != nil {
			return &TransportError{Message: "stopped while waiting for the rate limit: " + err.Error()}
		}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	status, header, answer, err := c.exchange(req)
	if err != nil {
		return err
	}
	stop := lim.observe(status, header)
	switch {
	case status == http.StatusTooManyRequests:
		return &APIError{Status: status, Message: "rate limit exceeded", RetryAfter: stop}
	case status != http.StatusOK:
		return c.apiError(status, answer)
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return &APIError{Status: status, Message: "the answer is not the JSON expected: " + truncate(c.redactString(string(answer)), 128)}
	}
	return nil
}

// url is the absolute URL of an API path (or of a pagination link, which
// Clever gives relative to the host, "/v3.1/…").
func (c *client) url(path string) string {
	u := *c.cfg.BaseURL
	p, q, _ := strings.Cut(path, "?")
	if !strings.HasPrefix(p, "/v3.1/") {
		p = "/v3.1" + p
	}
	u.Path = strings.TrimRight(u.Path, "/") + p
	u.RawPath = ""
	u.RawQuery = q
	return u.String()
}

// --- Typed endpoints ---

func sectionPath(section string) string { return "/sections/" + url.PathEscape(section) }

func assignmentPath(section, assignment string) string {
	return sectionPath(section) + "/assignments/" + url.PathEscape(assignment)
}

func submissionPath(section, assignment, user string) string {
	return assignmentPath(section, assignment) + "/submissions/" + url.PathEscape(user)
}

// studentsPath is the first page of a section's students.
func studentsPath(section string) string {
	return fmt.Sprintf("%s/users?role=student&limit=%d", sectionPath(section), rosterPage)
}

// courseSectionsPath is the first page of a course's sections.
func courseSectionsPath(course string) string {
	return fmt.Sprintf("/courses/%s/sections?limit=%d", url.PathEscape(course), rosterPage)
}

// createAssignment creates an assignment; the caller has waited for the
// rate limiter (it reserves the assignment in between).
func (c *client) createAssignment(ctx context.Context, section string, req AssignmentRequest) (Assignment, error) {
	var out dataOf[Assignment]
	err := c.call(ctx, http.MethodPost, sectionPath(section)+"/assignments", req, &out, true)
	if err == nil && out.Data.ID == "" {
		err = &APIError{Status: http.StatusOK, Message: "the created assignment has no id"}
	}
	return out.Data, err
}

func (c *client) deleteAssignment(ctx context.Context, section, assignment string) error {
	return c.call(ctx, http.MethodDelete, assignmentPath(section, assignment), nil, nil, false)
}

func (c *client) patchSubmission(ctx context.Context, section, assignment, user string, req SubmissionRequest) (Submission, error) {
	var out dataOf[Submission]
	err := c.call(ctx, http.MethodPatch, submissionPath(section, assignment, user), req, &out, false)
	return out.Data, err
}

func (c *client) getDistrict(ctx context.Context, id string) (District, error) {
	if id == "" {
		// A token belongs to one district, the only one listed.
		var out listOf[District]
		if err := c.call(ctx, http.MethodGet, "/districts", nil, &out, false); err != nil {
			return District{}, err
		}
		if len(out.Data) != 1 {
			return District{}, &APIError{Status: http.StatusOK, Message: fmt.Sprintf("the token sees %d districts, want 1", len(out.Data))}
		}
		return out.Data[0].Data, nil
	}
	var out dataOf[District]
	err := c.call(ctx, http.MethodGet, "/districts/"+url.PathEscape(id), nil, &out, false)
	return out.Data, err
}

func (c *client) getSection(ctx context.Context, id string) (Section, error) {
	var out dataOf[Section]
	err := c.call(ctx, http.MethodGet, sectionPath(id), nil, &out, false)
	return out.Data, err
}

// rosterPage is the page size of roster lists (the Data API allows up to
// 10,000; most sections fit one page).
const rosterPage = 500

// maxPages bounds a list walk (a loop of next links is an error).
const maxPages = 1000

// list walks a Data API list from path through its next links.
func list[T any](ctx context.Context, c *client, path string) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	for next := path; next != ""; {
		if seen[next] || len(seen) == maxPages {
			return nil, &APIError{Status: http.StatusOK, Message: "the list's next links do not end"}
		}
		seen[next] = true
		var page listOf[T]
		if err := c.call(ctx, http.MethodGet, next, nil, &page, false); err != nil {
			return nil, err
		}
		for _, d := range page.Data {
			out = append(out, d.Data)
		}
		next = ""
		for _, l := range page.Links {
			if l.Rel == "next" && len(page.Data) > 0 {
				if !strings.HasPrefix(l.URI, "/v3.1/") {
					return nil, &APIError{Status: http.StatusOK, Message: "a next link outside the API: " + truncate(l.URI, 128)}
				}
				next = l.URI
			}
		}
	}
	return out, nil
}

// sectionStudents lists a section's students.
func (c *client) sectionStudents(ctx context.Context, section string) ([]User, error) {
	return list[User](ctx, c, studentsPath(section))
}

// courseSections lists a course's sections in the token's district.
func (c *client) courseSections(ctx context.Context, course string) ([]Section, error) {
	return list[Section](ctx, c, courseSectionsPath(course))
}

// permit waits for the rate limiter of the token the next request sends.
func (c *client) permit(ctx context.Context) error {
	tok, err := c.bearer(ctx, "")
	if err != nil {
		return err
	}
	if err := c.opts.Limiters.forToken(tok, c.cfg.RateLimit).wait(ctx); err != nil {
		return &TransportError{Message: "stopped while waiting for the rate limit: " + err.Error()}
	}
	return nil
}

// transportMessage describes an error that left no HTTP answer, without
// the URL (which names the district's sections).
func transportMessage(err error) string {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		timeout interface{ Timeout() bool }
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout():
		return "timeout: no answer in time"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dnsErr):
		return "dns: " + dnsErr.Error()
	case errors.As(err, &certErr):
		return "tls certificate: " + certErr.Error()
	case errors.As(err, &opErr):
		return opErr.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
