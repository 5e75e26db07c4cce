package forward_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lrs-project/lrs/forward"
)

func TestTruncateIsRuneSafe(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc…"},
		{"héllo", 2, "h…"}, // "é" is 2 bytes: not cut in half
		{"日本語", 4, "日…"},   // 3-byte runes
		{"日本語", 6, "日本…"},  // a boundary
		{"€", 0, "…"},
	} {
		got := forward.Truncate(tc.in, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestClassifyStatus(t *testing.T) {
	for status, want := range map[int]string{
		408: forward.OutcomeTransient, 429: forward.OutcomeTransient, 500: forward.OutcomeTransient,
		502: forward.OutcomeTransient, 503: forward.OutcomeTransient, 504: forward.OutcomeTransient,
		200: forward.OutcomeDestination, 302: forward.OutcomeDestination, 401: forward.OutcomeDestination,
		403: forward.OutcomeDestination, 404: forward.OutcomeDestination, 405: forward.OutcomeDestination, 410: forward.OutcomeDestination,
	} {
		if got := forward.ClassifyStatus(status); got != want {
			t.Errorf("ClassifyStatus(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":     0,
		"120":  2 * time.Minute,
		"-5":   0,
		" 7 ":  7 * time.Second,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := forward.RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRedactorAndDescribeResponse(t *testing.T) {
	r := forward.NewRedactor("hunter2", "")
	if got := r.Redact("pass hunter2 twice hunter2"); got != "pass [redacted] twice [redacted]" {
		t.Errorf("Redact = %q", got)
	}
	var none *forward.Redactor
	if got := none.Redact("hunter2"); got != "hunter2" {
		t.Errorf("nil Redactor changed the text: %q", got)
	}
	for body, want := range map[string]string{
		`{"message":"bad hunter2"}`:  "HTTP 400: bad [redacted]",
		`{"error":"invalid_client"}`: "HTTP 400: invalid_client",
		"  <html>no</html>\n":        "HTTP 400: <html>no</html>",
	} {
		if got := forward.DescribeResponse(400, []byte(body), r.Redact, 512); got != want {
			t.Errorf("DescribeResponse(%q) = %q, want %q", body, got, want)
		}
	}
	long := forward.DescribeResponse(500, []byte(strings.Repeat("é", 400)), nil, 11)
	if !utf8.ValidString(long) || !strings.HasSuffix(long, "…") || len(long) > len("HTTP 500: ")+11+len("…") {
		t.Errorf("long body described as %q", long)
	}
}
