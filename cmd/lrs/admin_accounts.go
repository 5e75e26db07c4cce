package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const adminAccountsUsage = `Accounts (operators, and organization administrators; see README, Accounts and sign-in):
  account create --email EMAIL --role operator|org_admin [--org ID] [--name NAME] [--password-file FILE]
                                          create an account (without a password, it signs in through
                                          single sign-on, or after a password reset)
  account list                            list the accounts
  account disable --id ID                 disable an account (its sessions end)
  account enable --id ID                  enable it again
  account sign-out --id ID                end every session of an account
  account delete --id ID                  delete an account
  invitation create --email EMAIL --role operator|org_admin [--org ID] [--name NAME]
                                          mail an invitation (prints its link when no mail can be sent)
  invitation list                         list pending invitations
  invitation withdraw --id ID             withdraw an invitation
`

// accountFlags are the flags of the account commands.
type accountFlags struct {
	email, role, passwordFile string

	// Shared with the other commands (set by runAdmin).
	name, id, org string
	asJSON        bool
}

func addAccountFlags(fs *flag.FlagSet) *accountFlags {
	f := &accountFlags{}
	fs.StringVar(&f.email, "email", "", "")
	fs.StringVar(&f.role, "role", "", "")
	fs.StringVar(&f.passwordFile, "password-file", "", "")
	return f
}

type accountView struct {
	ID, Email, Name, Role, Org string
	Disabled                   bool
	HasPassword                bool `json:"has_password"`
}

// run runs an account command; handled is false for other commands.
func (f *accountFlags) run(ctx context.Context, c *adminClient, cmd string, need func(...string) error, stdout io.Writer) (handled bool, err error) {
	var out json.RawMessage
	id := url.PathEscape(f.id)
	print := func(format string, args ...any) (bool, error) {
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		fmt.Fprintf(stdout, format, args...)
		return true, nil
	}
	switch cmd {
	case "account create", "invitation create":
		if err := need("email", f.email, "role", f.role); err != nil {
			return true, err
		}
		body := map[string]string{"email": f.email, "role": f.role, "name": f.name}
		if f.org != "" {
			body["org"] = f.org
		}
		path := "/accounts"
		if cmd == "invitation create" {
			path = "/invitations"
		} else if f.passwordFile != "" {
			b, err := os.ReadFile(f.passwordFile)
			if err != nil {
				return true, &ConfigError{fmt.Errorf("lrs admin %s: --password-file: %w", cmd, err)}
			}
			body["password"] = strings.TrimRight(string(b), "\r\n")
		}
		if err := c.do(ctx, "POST", path, body, &out); err != nil {
			return true, err
		}
		if cmd == "invitation create" {
			var inv struct {
				ID, Email string
				MailSent  bool   `json:"mail_sent"`
				AcceptURL string `json:"accept_url"`
				ExpiresAt time.Time
			}
			_ = json.Unmarshal(out, &inv)
			if inv.MailSent {
				return print("invitation mailed to %s\nid: %s\n", inv.Email, inv.ID)
			}
			return print("invitation created for %s (no mail was sent: give them this link, which works once)\nid:   %s\nlink: %s\n", inv.Email, inv.ID, inv.AcceptURL)
		}
		var a accountView
		_ = json.Unmarshal(out, &a)
		return print("account created\nid:    %s\nemail: %s\nrole:  %s%s\n", a.ID, a.Email, a.Role, orgSuffix(a.Org))
	case "account list":
		if err := c.do(ctx, "GET", "/accounts", nil, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var l struct{ Accounts []accountView }
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tORG\tSTATUS\tPASSWORD")
		for _, a := range l.Accounts {
			status := "active"
			if a.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\n", a.ID, a.Email, a.Role, a.Org, status, a.HasPassword)
		}
		return true, tw.Flush()
	case "account disable", "account enable":
		if err := need("id", f.id); err != nil {
			return true, err
		}
		disabled := cmd == "account disable"
		if err := c.do(ctx, "PATCH", "/accounts/"+id, map[string]bool{"disabled": disabled}, &out); err != nil {
			return true, err
		}
		return print("account %s %sd\n", f.id, strings.TrimPrefix(cmd, "account "))
	case "account sign-out":
		if err := need("id", f.id); err != nil {
			return true, err
		}
		if err := c.do(ctx, "DELETE", "/accounts/"+id+"/sessions", nil, &out); err != nil {
			return true, err
		}
		var n struct {
			SignedOut int `json:"signed_out"`
		}
		_ = json.Unmarshal(out, &n)
		return print("%d session(s) of account %s ended\n", n.SignedOut, f.id)
	case "account delete", "invitation withdraw":
		if err := need("id", f.id); err != nil {
			return true, err
		}
		path := "/accounts/" + id
		if cmd == "invitation withdraw" {
			path = "/invitations/" + id
		}
		if err := c.do(ctx, "DELETE", path, nil, &out); err != nil {
			return true, err
		}
		out = json.RawMessage(`{}`)
		return print("%s: %s done\n", f.id, cmd)
	case "invitation list":
		if err := c.do(ctx, "GET", "/invitations", nil, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var l struct {
			Invitations []struct {
				ID, Email, Role, Org string
				ExpiresAt            time.Time `json:"expires_at"`
			}
		}
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tORG\tEXPIRES")
		for _, i := range l.Invitations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", i.ID, i.Email, i.Role, i.Org, i.ExpiresAt.Format(time.RFC3339))
		}
		return true, tw.Flush()
	}
	return false, nil
}

func orgSuffix(org string) string {
	if org == "" {
		return ""
	}
	return "\norg:   " + org
}
