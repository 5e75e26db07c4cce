// Package mail writes the mail of accounts (invitations and password
// resets) and hands it to a Sender (the binary wires forward/email's SMTP
// sender). Plain text only: the link is the message.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"text/template"
	"time"

	"github.com/lrs-project/lrs/auth"
)

// Sender delivers one message to one recipient.
type Sender interface {
	Send(ctx context.Context, to string, msg []byte) error
}

// Mailer writes account mail. It implements the admin API's AccountMailer.
type Mailer struct {
	from *mail.Address
	send Sender
	site string // the LRS's public URL, named in the mail
	now  func() time.Time
}

// New returns a Mailer sending from the address from through s; site is
// the LRS's public URL.
func New(from, site string, s Sender) (*Mailer, error) {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: from %q is not an address", from)
	}
	return &Mailer{from: a, send: s, site: site, now: time.Now}, nil
}

var invitationTmpl = template.Must(template.New("invitation").Parse(`Hello{{if .Name}} {{.Name}}{{end}},

{{.By}} invites you to administer {{if .Org}}the organization "{{.Org}}"{{else}}every organization (as an operator){{end}} on the learning record store at {{.Site}}.

To create your account, open this link and choose a password:

{{.Link}}

The link works once, until {{.Until}}. If you did not expect this mail, ignore it.
`))

var resetTmpl = template.Must(template.New("reset").Parse(`Hello{{if .Name}} {{.Name}}{{end}},

Someone (you, we hope) asked to reset the password of your account {{.Email}} on the learning record store at {{.Site}}.

To choose a new password, open this link:

{{.Link}}

The link works once, until {{.Until}}. Choosing a new password signs you out everywhere.
If you did not ask for this, ignore this mail: your password stays as it is.
`))

type data struct {
	Name, Email, Org, By, Site, Link, Until string
}

func until(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// SendInvitation mails the link that accepts an invitation.
func (m *Mailer) SendInvitation(ctx context.Context, to, link string, t auth.AccountToken) error {
	by := strings.TrimPrefix(t.CreatedBy, "account:")
	if by == "" || by == "admin-token" {
		by = "An operator"
	}
	return m.mail(ctx, to, "Your invitation to "+m.site, invitationTmpl,
		data{Name: t.Name, Org: t.Org, By: by, Site: m.site, Link: link, Until: until(t.ExpiresAt)})
}

// SendPasswordReset mails the link that sets a new password.
func (m *Mailer) SendPasswordReset(ctx context.Context, to, link string, a auth.Account, expires time.Time) error {
	return m.mail(ctx, to, "Reset your password on "+m.site, resetTmpl,
		data{Name: a.Name, Email: a.Email, Site: m.site, Link: link, Until: until(expires)})
}

func (m *Mailer) mail(ctx context.Context, to, subject string, tmpl *template.Template, d data) error {
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("mail: %q is not an address", to)
	}
	var body bytes.Buffer
	if err := tmpl.Execute(&body, d); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := m.from.Address[strings.LastIndexByte(m.from.Address, '@')+1:]
	var msg bytes.Buffer
	for _, h := range [][2]string{
		{"From", m.from.String()},
		{"To", rcpt.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", m.now().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id[:]) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
		{"Auto-Submitted", "auto-generated"},
	} {
		fmt.Fprintf(&msg, "%s: %s\r\n", h[0], h[1])
	}
	msg.WriteString("\r\n")
	qw := quotedprintable.NewWriter(&msg)
	if _, err := qw.Write(bytes.ReplaceAll(body.Bytes(), []byte("\n"), []byte("\r\n"))); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := qw.Close(); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := m.send.Send(ctx, rcpt.Address, msg.Bytes()); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	return nil
}
