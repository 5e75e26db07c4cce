package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Outcome classes of one attempt (sinks.md §0.2). The strings are those of
// the forward package's Outcome constants, so the engine maps them as they
// are.
const (
	ClassSuccess     = "success"
	ClassTransport   = "transport"   // no HTTP response: Can't Connect
	ClassDestination = "destination" // the destination refuses every request: Server Error
	ClassTransient   = "transient"   // 408, 429, 5xx: Server Error, retried
	ClassItem        = "item"        // this item is refused: Rejected
)

// Outcome is the verdict on one attempt.
type Outcome struct {
	Class string
	// Status is the HTTP status (0 without a response).
	Status int
	// Message is short and redacted: it may be shown, stored and mailed.
	Message string
	// RetryAfter is the delay a 429 or 503 asked for.
	RetryAfter time.Duration
	// Stop is set on 410 Gone: the receiver wants no more requests, so
	// the configuration stops sending until it is edited (Standard
	// Webhooks: disable the endpoint).
	Stop bool
	// Rejected maps result ids of items refused one by one (they failed
	// to render, or the receiver refused them alone) to the reason; the
	// other items of the attempt are delivered when Class is success or
	// item.
	Rejected map[string]string
}

// maxMessage bounds the response text kept in an outcome.
const maxMessage = 512

// ClassifyResponse classifies a received HTTP response (Standard Webhooks
// 1.0 and sinks.md §0.2): 2xx is success; 3xx a failure (redirects are not
// followed: the URL should be updated); 410 stops sending; 408, 429 and
// 5xx are transient, 429 and 503 with their Retry-After; 400, 409, 413 and
// 422 refuse the item; any other status refuses every request (bad
// credentials, wrong URL). body is the start of the response; redact
// removes secrets from it (nil: none).
func ClassifyResponse(status int, h http.Header, body []byte, now time.Time, redact func(string) string) Outcome {
	o := Outcome{Status: status}
	text := describe(status, body, redact)
	switch {
	case status >= 200 && status < 300:
		o.Class = ClassSuccess
		return o
	case status >= 300 && status < 400:
		o.Class = ClassDestination
		text = fmt.Sprintf("HTTP %d: redirected to %s (redirects are not followed; update the URL)", status, clip(redactOr(redact, h.Get("Location")), 200))
	case status == http.StatusGone:
		o.Class, o.Stop = ClassDestination, true
		text += " (the receiver asked to stop: sending resumes when the configuration is edited)"
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		o.Class = ClassTransient
		o.RetryAfter = RetryAfter(h.Get("Retry-After"), now)
	case status == http.StatusRequestTimeout || status >= 500:
		o.Class = ClassTransient
	case status == http.StatusBadRequest || status == http.StatusConflict ||
		status == http.StatusRequestEntityTooLarge || status == http.StatusUnprocessableEntity:
		o.Class = ClassItem
	default:
		o.Class = ClassDestination
	}
	o.Message = text
	return o
}

// ClassifyError classifies an attempt that got no response: Can't
// Connect, with a message that names the cause and never the URL (which
// may carry values of the learner).
func ClassifyError(err error) Outcome {
	return Outcome{Class: ClassTransport, Message: transportMessage(err)}
}

func redactOr(redact func(string) string, s string) string {
	if redact == nil {
		return s
	}
	return redact(s)
}

func describe(status int, body []byte, redact func(string) string) string {
	text := strings.TrimSpace(strings.ToValidUTF8(string(body), "\uFFFD"))
	if text == "" {
		return fmt.Sprintf("HTTP %d", status)
	}
	return fmt.Sprintf("HTTP %d: %s", status, clip(redactOr(redact, text), maxMessage))
}

// clip cuts s to at most n bytes at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// RetryAfter parses a Retry-After header: delay seconds or an HTTP date;
// 0 when absent or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(7*24*3600))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func transportMessage(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unkAuth x509.UnknownAuthorityError
		hostErr x509.HostnameError
		recErr  tls.RecordHeaderError
		opErr   *net.OpError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "timeout: no response in time"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dnsErr):
		return "dns: " + dnsErr.Error()
	case errors.As(err, &certErr), errors.As(err, &unkAuth), errors.As(err, &hostErr):
		return "tls certificate: " + unwrapURL(err).Error()
	case errors.As(err, &recErr):
		return "tls: the server does not speak TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection without answering"
	case errors.As(err, &opErr):
		return opErr.Op + ": " + opErr.Err.Error()
	}
	return unwrapURL(err).Error()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
