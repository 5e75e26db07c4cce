package forward

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The kit every destination shares (sinks.md §0.2): the classification of
// HTTP outcomes, descriptions of responses and transport failures that
// carry no secret, rune-safe truncation, and the bounds of what is kept.

// MaxText is the longest text kept of an outcome: a delivery's last error
// and reason, a status's last error, a delivery log entry's response.
const MaxText = 1024

// AttemptLogCap is how many delivery log entries each engine keeps per
// configuration (the oldest go first).
const AttemptLogCap = 1000

// Truncate returns s cut to at most n bytes, at a rune boundary, with "…"
// appended when it was cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ClassifyStatus is the outcome class of an HTTP response that is neither
// the destination's success nor its item-level rejection: 408, 429 and 5xx
// are transient (retried on schedule, not before Retry-After); anything
// else (3xx, 401, 403, 404, 405, other 4xx, an unexpected 2xx) is a
// destination-wide rejection.
func ClassifyStatus(status int) string {
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		return OutcomeTransient
	}
	return OutcomeDestination
}

// RetryAfter parses a Retry-After header, delay seconds or an HTTP date,
// into a delay from now (0 when absent or unreadable).
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// DescribeResponse is "HTTP 400: <message>": the message of a JSON error
// body ({"message": …} or {"error": …}), else the body's first bytes, with
// secrets redacted by redact (nil: none), at most n bytes of it.
func DescribeResponse(status int, body []byte, redact func(string) string, n int) string {
	text := strings.TrimSpace(string(body))
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		switch {
		case e.Message != "":
			text = e.Message
		case e.Error != "":
			text = e.Error
		}
	}
	if redact != nil {
		text = redact(text)
	}
	return fmt.Sprintf("HTTP %d: %s", status, Truncate(text, n))
}

// TransportMessage describes an error that left no HTTP response (Can't
// Connect), without the URL, which could carry credentials.
func TransportMessage(err error) string {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		unkAuth x509.UnknownAuthorityError
		hostErr x509.HostnameError
		recErr  tls.RecordHeaderError
		egress  *EgressError
	)
	switch {
	case errors.As(err, &egress):
		return egress.Error()
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
	case errors.As(err, &opErr):
		return opErr.Error()
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
