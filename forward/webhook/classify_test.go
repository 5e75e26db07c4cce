package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lrs-project/lrs/forward/webhook"
)

func TestClassifyResponse(t *testing.T) {
	now := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		status int
		header http.Header
		class  string
		retry  time.Duration
		stop   bool
	}{
		{200, nil, webhook.ClassSuccess, 0, false},
		{201, nil, webhook.ClassSuccess, 0, false},
		{202, nil, webhook.ClassSuccess, 0, false},
		{204, nil, webhook.ClassSuccess, 0, false},
		{299, nil, webhook.ClassSuccess, 0, false},
		{300, nil, webhook.ClassDestination, 0, false},
		{301, http.Header{"Location": {"https://new.example"}}, webhook.ClassDestination, 0, false},
		{302, nil, webhook.ClassDestination, 0, false},
		{307, nil, webhook.ClassDestination, 0, false},
		{308, nil, webhook.ClassDestination, 0, false},
		{400, nil, webhook.ClassItem, 0, false},
		{401, nil, webhook.ClassDestination, 0, false},
		{403, nil, webhook.ClassDestination, 0, false},
		{404, nil, webhook.ClassDestination, 0, false},
		{405, nil, webhook.ClassDestination, 0, false},
		{408, nil, webhook.ClassTransient, 0, false},
		{409, nil, webhook.ClassItem, 0, false},
		{410, nil, webhook.ClassDestination, 0, true},
		{413, nil, webhook.ClassItem, 0, false},
		{415, nil, webhook.ClassDestination, 0, false},
		{422, nil, webhook.ClassItem, 0, false},
		{429, http.Header{"Retry-After": {"30"}}, webhook.ClassTransient, 30 * time.Second, false},
		{429, nil, webhook.ClassTransient, 0, false},
		{500, nil, webhook.ClassTransient, 0, false},
		{502, nil, webhook.ClassTransient, 0, false},
		{503, http.Header{"Retry-After": {now.Add(2 * time.Hour).Format(http.TimeFormat)}}, webhook.ClassTransient, 2 * time.Hour, false},
		{504, nil, webhook.ClassTransient, 0, false},
		{500, http.Header{"Retry-After": {"30"}}, webhook.ClassTransient, 0, false}, // only 429 and 503 carry one
	}
	for _, tc := range cases {
		o := webhook.ClassifyResponse(tc.status, tc.header, nil, now, nil)
		if o.Class != tc.class || o.RetryAfter != tc.retry || o.Stop != tc.stop || o.Status != tc.status {
			t.Errorf("%d: %+v, want %s retry %v stop %v", tc.status, o, tc.class, tc.retry, tc.stop)
		}
	}
}

func TestClassifyResponseMessage(t *testing.T) {
	// Long, with invalid UTF-8: cut at a rune boundary, kept valid, redacted.
	body := []byte("\xff token=abc " + strings.Repeat("é", 400))
	o := webhook.ClassifyResponse(500, nil, body, time.Now(), func(s string) string { return strings.ReplaceAll(s, "abc", "[redacted]") })
	if !strings.HasPrefix(o.Message, "HTTP 500: \uFFFD token=[redacted] éé") || !utf8.ValidString(o.Message) ||
		!strings.HasSuffix(o.Message, "é…") || len(o.Message) > len("HTTP 500: ")+512+len("…") {
		t.Errorf("message %q (%d bytes)", o.Message, len(o.Message))
	}
	if o := webhook.ClassifyResponse(502, nil, nil, time.Now(), nil); o.Message != "HTTP 502" {
		t.Errorf("empty body: %q", o.Message)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		"90":                            90 * time.Second,
		" 7 ":                           7 * time.Second,
		"99999999999":                   7 * 24 * time.Hour,
		"soon":                          0,
		"Wed, 02 Sep 2026 10:05:00 GMT": 5 * time.Minute,
		"Wed, 02 Sep 2026 09:00:00 GMT": 0, // in the past
	}
	for v, want := range cases {
		if got := webhook.RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestClassifyError(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&url.Error{Op: "Post", URL: "https://x/secret-path", Err: context.DeadlineExceeded}, "timeout"},
		{&url.Error{Op: "Post", URL: "https://x", Err: &net.DNSError{Err: "no such host", Name: "ams.invalid", IsNotFound: true}}, "dns: lookup ams.invalid"},
		{&url.Error{Op: "Post", URL: "https://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, "connection refused"},
		{&url.Error{Op: "Post", URL: "https://x", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, "connection reset"},
		{&url.Error{Op: "Post", URL: "https://x", Err: fmt.Errorf("wrapped: %w", errors.New("EOF"))}, "wrapped: EOF"},
	}
	for _, tc := range cases {
		o := webhook.ClassifyError(tc.err)
		if o.Class != webhook.ClassTransport || !strings.Contains(o.Message, tc.want) || strings.Contains(o.Message, "secret-path") {
			t.Errorf("ClassifyError(%v) = %+v, want …%s…", tc.err, o, tc.want)
		}
	}
}
