// Package email sends the forwarding engine's alerts to a configuration's
// contact email over SMTP (PLAIN authentication when a username is set,
// STARTTLS when the server offers it, implicit TLS on port 465).
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// Settings of the SMTP server.
type Settings struct {
	Host     string
	Port     int // default 587
	From     string
	Username string // PLAIN authentication when set
	Password string
	// Timeout bounds one message (dial to QUIT); default 30s.
	Timeout time.Duration
	// TLS configures STARTTLS and implicit TLS; default verifies Host.
	TLS *tls.Config
	// Now stamps the Date header; default time.Now.
	Now func() time.Time
}

// Sender is a forward.Alerter that mails the configuration's contact.
type Sender struct {
	s    Settings
	from *mail.Address
	log  *slog.Logger
}

var _ forward.Alerter = (*Sender)(nil)

// New validates the settings and returns a Sender.
func New(s Settings, logger *slog.Logger) (*Sender, error) {
	var errs []error
	if s.Host == "" {
		errs = append(errs, errors.New("email: host is required"))
	}
	if s.Port == 0 {
		s.Port = 587
	}
	if s.Port < 0 || s.Port > 65535 {
		errs = append(errs, fmt.Errorf("email: port %d out of range", s.Port))
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("email: from %q is not an address", s.From))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.Timeout <= 0 {
		s.Timeout = 30 * time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{s: s, from: from, log: logger}, nil
}

// Alert mails a to the configuration's contact email.
func (m *Sender) Alert(ctx context.Context, a forward.Alert) error {
	to, err := mail.ParseAddress(a.Configuration.ContactEmail)
	if err != nil {
		return fmt.Errorf("email: contact %q is not an address", a.Configuration.ContactEmail)
	}
	subject, text, html, err := Render(a)
	if err != nil {
		return err
	}
	msg, err := m.compose(to, subject, text, html)
	if err != nil {
		return err
	}
	return m.Send(ctx, to.Address, msg)
}

// Render returns the subject and the text and HTML bodies of an alert.
func Render(a forward.Alert) (subject, text, html string, err error) {
	name := a.Configuration.Name
	if name == "" {
		name = a.Configuration.ID
	}
	switch a.Kind {
	case forward.AlertStatus:
		subject = fmt.Sprintf("LMS configuration %q: %s", name, a.Status.Status)
	case forward.AlertRecovery:
		subject = fmt.Sprintf("LMS configuration %q is OK again", name)
	case forward.AlertRejected:
		subject = fmt.Sprintf("LMS configuration %q: %d results rejected", name, len(a.Rejected))
	default:
		return "", "", "", fmt.Errorf("email: unknown alert kind %q", a.Kind)
	}
	data := struct {
		forward.Alert
		Name  string
		Error string
	}{a, name, forward.Truncate(a.Status.LastError, forward.MaxText)}
	var tb, hb bytes.Buffer
	if err := textTmpl.Execute(&tb, data); err != nil {
		return "", "", "", fmt.Errorf("email: %w", err)
	}
	if err := htmlTmpl.Execute(&hb, data); err != nil {
		return "", "", "", fmt.Errorf("email: %w", err)
	}
	return subject, tb.String(), hb.String(), nil
}

var funcs = map[string]any{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}

var textTmpl = template.Must(template.New("text").Funcs(funcs).Parse(`
{{- if eq .Kind "status" -}}
We cannot deliver results to your LMS configuration "{{.Name}}".

Status:          {{.Status.Status}} (was {{.Previous}})
Last error:      {{.Error}}
First failure:   {{when .Status.FirstFailure}}
Next attempt:    {{when .NextAttempt}}
Queued results:  {{.Counts.Pending}}
Parked results:  {{.Counts.Parked}}

{{if eq .Status.Status "Can't Connect"}}We could not reach the configured URL: check the address and that the server is up.{{else}}Your LMS answered with an error: check the URL and the credentials of the configuration.{{end}}
Queued results are retried for 24 hours, then kept and sent again when the configuration is edited or the LMS recovers.
This address gets at most one such mail an hour for this configuration.
{{- else if eq .Kind "recovery" -}}
Results are reaching your LMS configuration "{{.Name}}" again (status OK, was {{.Previous}}).

Queued results:  {{.Counts.Pending}}
Parked results:  {{.Counts.Parked}}
{{- else -}}
Your LMS configuration "{{.Name}}" rejected {{len .Rejected}} result(s):
{{range .Rejected}}
- statement {{.StatementID}} ({{when .At}}): {{.Reason}}
{{- end}}

Rejected results are not retried until the configuration is edited.
{{- end}}
`))

var htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><body>
{{- if eq .Kind "status"}}
<p>We cannot deliver results to your LMS configuration <b>{{.Name}}</b>.</p>
<table>
<tr><td>Status</td><td><b>{{.Status.Status}}</b> (was {{.Previous}})</td></tr>
<tr><td>Last error</td><td><code>{{.Error}}</code></td></tr>
<tr><td>First failure</td><td>{{when .Status.FirstFailure}}</td></tr>
<tr><td>Next attempt</td><td>{{when .NextAttempt}}</td></tr>
<tr><td>Queued results</td><td>{{.Counts.Pending}}</td></tr>
<tr><td>Parked results</td><td>{{.Counts.Parked}}</td></tr>
</table>
<p>Queued results are retried for 24 hours, then kept and sent again when the configuration is edited or the LMS recovers.</p>
{{- else if eq .Kind "recovery"}}
<p>Results are reaching your LMS configuration <b>{{.Name}}</b> again (status OK, was {{.Previous}}).</p>
<p>Queued results: {{.Counts.Pending}}; parked results: {{.Counts.Parked}}.</p>
{{- else}}
<p>Your LMS configuration <b>{{.Name}}</b> rejected {{len .Rejected}} result(s):</p>
<ul>{{range .Rejected}}<li>statement <code>{{.StatementID}}</code> ({{when .At}}): {{.Reason}}</li>{{end}}</ul>
<p>Rejected results are not retried until the configuration is edited.</p>
{{- end}}
</body></html>
`))

// compose builds a multipart/alternative message.
func (m *Sender) compose(to *mail.Address, subject, text, html string) ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, content string }{{"text/plain", text}, {"text/html", html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(w)
		if _, err := qw.Write([]byte(part.content)); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := m.from.Address[strings.LastIndexByte(m.from.Address, '@')+1:]
	var msg bytes.Buffer
	header := [][2]string{
		{"From", m.from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", m.s.Now().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id[:]) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "multipart/alternative; boundary=" + strconv.Quote(mw.Boundary())},
		{"Auto-Submitted", "auto-generated"},
	}
	for _, h := range header {
		fmt.Fprintf(&msg, "%s: %s\r\n", h[0], h[1])
	}
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}

// Send delivers one message to one recipient.
func (m *Sender) Send(ctx context.Context, to string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, m.s.Timeout)
	defer cancel()
	addr := net.JoinHostPort(m.s.Host, strconv.Itoa(m.s.Port))
	tlsConfig := m.s.TLS
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: m.s.Host, MinVersion: tls.VersionTLS12}
	}
	var (
		conn net.Conn
		err  error
	)
	if m.s.Port == 465 {
		conn, err = (&tls.Dialer{Config: tlsConfig}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("email: dial %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, m.s.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("email: %w", err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return fmt.Errorf("email: EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && m.s.Port != 465 {
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("email: STARTTLS: %w", err)
		}
	}
	if m.s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.s.Username, m.s.Password, m.s.Host)); err != nil {
			return fmt.Errorf("email: authentication: %w", err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return fmt.Errorf("email: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("email: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	return c.Quit()
}

func helloName() string {
	return "localhost"
}
