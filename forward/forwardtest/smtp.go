package forwardtest

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Mail is one message an SMTPServer received.
type Mail struct {
	From string
	To   []string
	Data string
	Auth string // the AUTH PLAIN credentials, decoded, if any
}

// SMTPServer is a minimal SMTP server: EHLO/HELO, AUTH PLAIN, MAIL, RCPT,
// DATA, RSET, NOOP, QUIT.
type SMTPServer struct {
	Host string
	Port int
	Mail chan Mail
	ln   net.Listener
}

// NewSMTPServer listens on a free local port until the test ends.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s := &SMTPServer{Host: "127.0.0.1", Port: addr.Port, Mail: make(chan Mail, 100), ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *SMTPServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	reply := func(lines ...string) {
		for _, l := range lines {
			_, _ = io.WriteString(c, l+"\r\n")
		}
	}
	reply("220 forwardtest ESMTP")
	var m Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO":
			reply("250-forwardtest", "250-AUTH PLAIN", "250 8BITMIME")
		case "HELO":
			reply("250 forwardtest")
		case "AUTH":
			f := strings.Fields(line)
			if len(f) == 3 && strings.EqualFold(f[1], "PLAIN") {
				m.Auth = decodePlain(f[2])
				reply("235 2.7.0 Authentication successful")
			} else {
				reply("504 unsupported")
			}
		case "MAIL":
			m.From = strings.Trim(strings.TrimPrefix(line[5:], "FROM:"), "<> ")
			reply("250 OK")
		case "RCPT":
			m.To = append(m.To, strings.Trim(strings.TrimPrefix(line[5:], "TO:"), "<> "))
			reply("250 OK")
		case "DATA":
			reply("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.Mail <- m
			m = Mail{Auth: m.Auth}
			reply("250 OK queued")
		case "RSET", "NOOP":
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func decodePlain(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(string(b), "\x00", "|")
}

// Wait returns the next mail, failing the test after timeout.
func (s *SMTPServer) Wait(t testing.TB, timeout time.Duration) Mail {
	t.Helper()
	select {
	case m := <-s.Mail:
		return m
	case <-time.After(timeout):
		t.Fatal("no mail arrived")
		return Mail{}
	}
}
