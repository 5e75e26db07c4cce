package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/xapi"
	"github.com/lrs-project/lrs/lrs/api"
)

// forwardAdmin enables the forwarding objects of the admin API when the
// store keeps them; without LRS_FORWARD_KEY they can be read but not
// written (no sealer).
func (a *app) forwardAdmin(opts *api.AdminOptions, st any, ob *forward.Obligations) error {
	fs, ok := st.(forward.Store)
	if opts == nil || !ok {
		return nil
	}
	f := &api.ForwardAdmin{Store: fs, Factories: map[string]forward.Factory{forward.TypeXAPI: xapi.NewFactory(xapi.Options{})}}
	if ob != nil {
		f.Invalidator = ob
	}
	if a.cfg.Forward.Key != "" {
		key, err := forward.ParseKey(string(a.cfg.Forward.Key))
		if err != nil {
			return err
		}
		if f.Sealer, err = forward.NewSealer(key); err != nil {
			return err
		}
	}
	opts.Forward = f
	return nil
}

const adminForwardUsage = `Forwarding (LMS configurations and objectives; the server needs LRS_FORWARD_KEY):
  configuration create --org ID --name NAME --contact-email EMAIL --endpoint URL
                       [--type xapi] [--identifier mbox|account] [--version 1.0.3|2.0.0]
                       [--auth basic] --key KEY --secret SECRET
                       | --auth oauth2 --token-url URL --client-id ID --client-secret SECRET [--oauth-scope SCOPE]
                       [--property NAME=VALUE ...]
                                          create an LMS configuration (secrets are write-only)
  configuration list --org ID             list the LMS configurations of an organization
  configuration status --org ID --id ID   status, counts and last error of a configuration
  configuration test --org ID --id ID     test connection (sends no statement)
  objective create --org ID --name NAME --activity-id IRI [--verb IRI ...] [--configuration ID ...]
                                          create an objective attached to configurations
  objective list --org ID                 list the objectives of an organization
`

// forwardFlags are the flags of the forwarding commands.
type forwardFlags struct {
	contactEmail, typ, identifier, endpoint, auth, version string
	secret, tokenURL, clientID, clientSecret, oauthScope   string
	activityID                                             string
	props, verbs, configurations                           multiFlag

	// Shared with the other commands (set by runAdmin).
	name, id, org, key string
	asJSON             bool
}

func addForwardFlags(fs *flag.FlagSet) *forwardFlags {
	f := &forwardFlags{}
	fs.StringVar(&f.contactEmail, "contact-email", "", "")
	fs.StringVar(&f.typ, "type", forward.TypeXAPI, "")
	fs.StringVar(&f.identifier, "identifier", "", "")
	fs.StringVar(&f.endpoint, "endpoint", "", "")
	fs.StringVar(&f.auth, "auth", "", "")
	fs.StringVar(&f.version, "version", "", "")
	fs.StringVar(&f.secret, "secret", "", "")
	fs.StringVar(&f.tokenURL, "token-url", "", "")
	fs.StringVar(&f.clientID, "client-id", "", "")
	fs.StringVar(&f.clientSecret, "client-secret", "", "")
	fs.StringVar(&f.oauthScope, "oauth-scope", "", "")
	fs.StringVar(&f.activityID, "activity-id", "", "")
	fs.Var(&f.props, "property", "")
	fs.Var(&f.verbs, "verb", "")
	fs.Var(&f.configurations, "configuration", "")
	return f
}

// run runs a forwarding command; handled is false for other commands.
func (f *forwardFlags) run(ctx context.Context, c *adminClient, cmd string, need func(...string) error, stdout io.Writer) (handled bool, err error) {
	var out json.RawMessage
	org := url.PathEscape(f.org)
	switch cmd {
	case "configuration create":
		if err := need("org", f.org, "name", f.name, "contact-email", f.contactEmail, "endpoint", f.endpoint); err != nil {
			return true, err
		}
		props, secrets := map[string]string{}, map[string]string{}
		for _, p := range f.props {
			k, v, ok := strings.Cut(p, "=")
			if !ok {
				return true, &ConfigError{fmt.Errorf("lrs admin %s: --property %q: want NAME=VALUE", cmd, p)}
			}
			props[k] = v
		}
		for k, v := range map[string]string{xapi.PropEndpoint: f.endpoint, xapi.PropAuth: f.auth, xapi.PropVersion: f.version,
			xapi.PropTokenURL: f.tokenURL, xapi.PropScope: f.oauthScope} {
			if v != "" {
				props[k] = v
			}
		}
		for k, v := range map[string]string{xapi.SecretKey: f.key, xapi.SecretSecret: f.secret,
			xapi.SecretClientID: f.clientID, xapi.SecretClientSecret: f.clientSecret} {
			if v != "" {
				secrets[k] = v
			}
		}
		body := map[string]any{"name": f.name, "contact_email": f.contactEmail, "type": f.typ, "properties": props, "secrets": secrets}
		if f.identifier != "" {
			body["identifier"] = f.identifier
		}
		if err := c.do(ctx, "POST", "/orgs/"+org+"/configurations", body, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var cf configurationView
		_ = json.Unmarshal(out, &cf)
		fmt.Fprintf(stdout, "configuration created\nid:       %s\nname:     %s\ntype:     %s\nendpoint: %s\n", cf.ID, cf.Name, cf.Type, cf.Properties[xapi.PropEndpoint])
	case "configuration list":
		if err := need("org", f.org); err != nil {
			return true, err
		}
		if err := c.do(ctx, "GET", "/orgs/"+org+"/configurations", nil, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var l struct{ Configurations []configurationView }
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tENDPOINT\tCONTACT\tREVISION")
		for _, cf := range l.Configurations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", cf.ID, cf.Name, cf.Type, cf.Properties[xapi.PropEndpoint], cf.ContactEmail, cf.Revision)
		}
		return true, tw.Flush()
	case "configuration status", "configuration test":
		if err := need("org", f.org, "id", f.id); err != nil {
			return true, err
		}
		method, path := "GET", "/status"
		if cmd == "configuration test" {
			method, path = "POST", "/test"
		}
		if err := c.do(ctx, method, "/orgs/"+org+"/configurations/"+url.PathEscape(f.id)+path, nil, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		if cmd == "configuration test" {
			var r struct {
				OK         bool
				Status     string
				HTTPStatus int `json:"http_status"`
				Message    string
			}
			_ = json.Unmarshal(out, &r)
			fmt.Fprintf(stdout, "status:  %s\nok:      %t\n", r.Status, r.OK)
			if r.HTTPStatus != 0 {
				fmt.Fprintf(stdout, "http:    %d\n", r.HTTPStatus)
			}
			fmt.Fprintf(stdout, "message: %s\n", r.Message)
			return true, nil
		}
		var st struct {
			Status                  string
			LastError               string `json:"last_error"`
			Queued, Delivered       int
			Parked, Rejected        int
			Skipped                 int
			OldestPendingAgeSeconds float64 `json:"oldest_pending_age_seconds"`
		}
		_ = json.Unmarshal(out, &st)
		var raw map[string]any
		_ = json.Unmarshal(out, &raw)
		tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', 0)
		fmt.Fprintf(tw, "status:\t%s\n", st.Status)
		if st.LastError != "" {
			fmt.Fprintf(tw, "last error:\t%s\n", st.LastError)
		}
		fmt.Fprintf(tw, "first failure:\t%s\n", rawTime(raw, "first_failure"))
		fmt.Fprintf(tw, "last success:\t%s\n", rawTime(raw, "last_success"))
		fmt.Fprintf(tw, "queued:\t%d (oldest %s)\n", st.Queued, (time.Duration(st.OldestPendingAgeSeconds) * time.Second).String())
		fmt.Fprintf(tw, "delivered:\t%d\nparked:\t%d\nrejected:\t%d\nskipped:\t%d\n", st.Delivered, st.Parked, st.Rejected, st.Skipped)
		return true, tw.Flush()
	case "objective create":
		if err := need("org", f.org, "name", f.name, "activity-id", f.activityID); err != nil {
			return true, err
		}
		body := map[string]any{"name": f.name, "activity_id": f.activityID,
			"verbs": nonNilStrings(f.verbs), "configurations": nonNilStrings(f.configurations)}
		if err := c.do(ctx, "POST", "/orgs/"+org+"/objectives", body, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var o objectiveView
		_ = json.Unmarshal(out, &o)
		fmt.Fprintf(stdout, "objective created\nid:             %s\nname:           %s\nactivity:       %s\nverbs:          %s\nconfigurations: %s\n",
			o.ID, o.Name, o.ActivityID, orAll(o.Verbs), strings.Join(o.Configurations, " "))
	case "objective list":
		if err := need("org", f.org); err != nil {
			return true, err
		}
		if err := c.do(ctx, "GET", "/orgs/"+org+"/objectives", nil, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var l struct{ Objectives []objectiveView }
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tACTIVITY\tVERBS\tCONFIGURATIONS")
		for _, o := range l.Objectives {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.ID, o.Name, o.ActivityID, orAll(o.Verbs), strings.Join(o.Configurations, " "))
		}
		return true, tw.Flush()
	default:
		return false, nil
	}
	return true, nil
}

type configurationView struct {
	ID           string
	Name         string
	Type         string
	ContactEmail string `json:"contact_email"`
	Properties   map[string]string
	Revision     int64
}

type objectiveView struct {
	ID             string
	Name           string
	ActivityID     string `json:"activity_id"`
	Verbs          []string
	Configurations []string
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orAll(verbs []string) string {
	if len(verbs) == 0 {
		return "(all)"
	}
	return strings.Join(verbs, " ")
}

func rawTime(m map[string]any, k string) string {
	if s, _ := m[k].(string); s != "" {
		return s
	}
	return "never"
}
