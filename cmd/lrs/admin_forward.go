package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// adminForwardUsage is the help of the forwarding commands, with the
// flags of every destination type this binary serves.
func adminForwardUsage(types *forward.Registry) string {
	var b strings.Builder
	b.WriteString(`Forwarding (LMS configurations and objectives; the server needs LRS_FORWARD_KEY):
  configuration create --org ID --name NAME --contact-email EMAIL [--type TYPE] [--identifier mbox|account]
                       [--property NAME=VALUE ...] and the flags of the type below
                                          create an LMS configuration (secrets are write-only)
  configuration list --org ID             list the LMS configurations of an organization
  configuration status --org ID --id ID   status, counts and last error of a configuration
  configuration test --org ID --id ID     test connection (sends no statement; a postback configuration gets a test postback with a sample learner, a clever one the readiness check)
  configuration preview --org ID ID [--objective ID --participant P [--registration UUID]]
                                          the exact request (or file) the configuration sends for a sample
                                          result, or for that stored result; secrets left out, nothing sent
                                          (webhook, postback; Clever: every request, lookups first)
  configuration files --org ID ID         the files a file-mode configuration uploaded, kept 28 days
  configuration file --org ID ID NAME [-o PATH]
                                          download one kept file, byte for byte (stdout, or PATH)
  objective create --org ID --name NAME --activity-id IRI [--verb IRI ...] [--configuration ID ...]
                   [--latest-attempt-counts] [--backfill]
                                          create an objective attached to configurations
                                          (--backfill: also send them what it matched before)
  objective attach --org ID --id OBJECTIVE --configuration ID [--configuration ID ...] [--backfill]
                                          attach configurations to an objective; --backfill also sends
                                          them the stored matching statements (xAPI) or the current
                                          results (postback), progress in configuration status
  objective list --org ID                 list the objectives of an organization
  objective backfill-restart --org ID --id OBJECTIVE --configuration ID
                                          start a failed backfill again from the beginning (refused
                                          when it is not failed or the configuration is detached)
` + resultsUsage + `
Types (--type; the first is the default):
`)
	for _, t := range types.Types() {
		fmt.Fprintf(&b, "  %s: %s\n", t.Name, t.Description)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, f := range t.Properties {
			fmt.Fprintf(tw, "    --%s %s\t%s%s\n", f.FlagName(), flagValue(f), f.Description, when(f.Required, " (required)"))
		}
		for _, f := range t.Secrets {
			fmt.Fprintf(tw, "    --%s %s\t%s (secret)\n", f.FlagName(), flagValue(f), f.Description)
		}
		_ = tw.Flush()
	}
	return b.String()
}

func flagValue(f forward.Field) string {
	if len(f.Enum) > 0 {
		return strings.Join(f.Enum, "|")
	}
	return "VALUE"
}

func when(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// forwardFlags are the flags of the forwarding commands: their own, and
// one per field of every destination type.
type forwardFlags struct {
	fs                            *flag.FlagSet
	types                         *forward.Registry
	contactEmail, typ, identifier string
	activityID                    string
	backfill                      bool // objective create, objective attach
	props, verbs, configurations  multiFlag
	fields                        map[string]*string // by flag name, the type fields' flags this adds

	results *resultFlags // admin_results.go
	output  string       // configuration file: -o

	// Shared with the other commands (set by runAdmin).
	name, id, org string
	asJSON        bool
}

func addForwardFlags(fs *flag.FlagSet, types *forward.Registry) *forwardFlags {
	f := &forwardFlags{fs: fs, types: types, fields: map[string]*string{}}
	fs.StringVar(&f.contactEmail, "contact-email", "", "")
	def := ""
	if names := types.Names(); len(names) > 0 {
		def = names[0]
	}
	fs.StringVar(&f.typ, "type", def, "")
	fs.StringVar(&f.identifier, "identifier", "", "")
	fs.StringVar(&f.activityID, "activity-id", "", "")
	fs.Var(&f.props, "property", "")
	fs.Var(&f.verbs, "verb", "")
	fs.Var(&f.configurations, "configuration", "")
	fs.BoolVar(&f.backfill, "backfill", false, "")
	fs.StringVar(&f.output, "o", "", "")
	fs.StringVar(&f.output, "output", "", "")
	f.results = addResultFlags(fs)
	for _, t := range types.Types() {
		for _, fd := range slices.Concat(t.Properties, t.Secrets) {
			name := fd.FlagName()
			if fs.Lookup(name) == nil { // a flag of another command (--key) or type is shared
				f.fields[name] = fs.String(name, "", "")
			}
		}
	}
	return f
}

// field is the value of a type field's flag.
func (f *forwardFlags) field(fd forward.Field) string {
	if fl := f.fs.Lookup(fd.FlagName()); fl != nil {
		return fl.Value.String()
	}
	return ""
}

// run runs a forwarding command; handled is false for other commands.
func (f *forwardFlags) run(ctx context.Context, c *adminClient, cmd string, need func(...string) error, stdout io.Writer) (handled bool, err error) {
	var out json.RawMessage
	org := url.PathEscape(f.org)
	// configuration preview|files|file take the id (and the file's name)
	// as words, or the id as --id.
	var args []string
	if w := strings.Fields(cmd); len(w) > 2 && w[0] == "configuration" && slices.Contains([]string{"preview", "files", "file"}, w[1]) {
		cmd, args = w[0]+" "+w[1], w[2:]
	}
	if len(args) > 0 && f.id == "" {
		f.id, args = args[0], args[1:]
	}
	switch cmd {
	case "configuration preview", "configuration files", "configuration file":
		return true, f.runFiles(ctx, c, cmd, args, need, stdout)
	case "configuration create":
		t, ok := f.types.Lookup(f.typ)
		if !ok {
			return true, &ConfigError{fmt.Errorf("lrs admin %s: --type %q: want one of %s", cmd, f.typ, strings.Join(f.types.Names(), ", "))}
		}
		required := []string{"org", f.org, "name", f.name, "contact-email", f.contactEmail}
		for _, fd := range t.Properties {
			if fd.Required {
				required = append(required, fd.FlagName(), f.field(fd))
			}
		}
		if err := need(required...); err != nil {
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
		for _, fd := range t.Properties {
			if v := f.field(fd); v != "" {
				props[fd.Name] = v
			}
		}
		for _, fd := range t.Secrets {
			if v := f.field(fd); v != "" {
				secrets[fd.Name] = v
			}
		}
		body := map[string]any{"name": f.name, "contact_email": f.contactEmail, "type": t.Name, "properties": props, "secrets": secrets}
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
		fmt.Fprintf(stdout, "configuration created\nid:       %s\nname:     %s\ntype:     %s\n", cf.ID, cf.Name, cf.Type)
		if t.Target != "" {
			fmt.Fprintf(stdout, "%-9s %s\n", t.Target+":", cf.Properties[t.Target])
		}
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
			target := ""
			if t, ok := f.types.Lookup(cf.Type); ok && t.Target != "" {
				target = cf.Properties[t.Target]
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", cf.ID, cf.Name, cf.Type, target, cf.ContactEmail, cf.Revision)
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
		var fills struct{ Backfills []backfillView }
		_ = json.Unmarshal(out, &fills)
		for _, b := range fills.Backfills {
			fmt.Fprintf(tw, "backfill:\t%s\n", b.line())
		}
		return true, tw.Flush()
	case "objective create":
		if err := need("org", f.org, "name", f.name, "activity-id", f.activityID); err != nil {
			return true, err
		}
		body := map[string]any{"name": f.name, "activity_id": f.activityID,
			"verbs": nonNilStrings(f.verbs), "configurations": nonNilStrings(f.configurations),
			"latest_attempt_counts": f.results.latestAttemptCounts, "backfill": f.backfill}
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
		printStarted(stdout, o.Backfills)
	case "objective attach":
		if err := need("org", f.org, "id", f.id, "configuration", strings.Join(f.configurations, " ")); err != nil {
			return true, err
		}
		path := "/orgs/" + org + "/objectives/" + url.PathEscape(f.id)
		var cur struct {
			Name                string   `json:"name"`
			ActivityID          string   `json:"activity_id"`
			Verbs               []string `json:"verbs"`
			Configurations      []string `json:"configurations"`
			LatestAttemptCounts bool     `json:"latest_attempt_counts"`
		}
		if err := c.do(ctx, "GET", path, nil, &out); err != nil {
			return true, err
		}
		if err := json.Unmarshal(out, &cur); err != nil {
			return true, fmt.Errorf("lrs admin %s: the objective does not read: %w", cmd, err)
		}
		cfgs := nonNilStrings(cur.Configurations)
		for _, id := range f.configurations {
			if !slices.Contains(cfgs, id) {
				cfgs = append(cfgs, id)
			}
		}
		body := map[string]any{"name": cur.Name, "activity_id": cur.ActivityID, "verbs": nonNilStrings(cur.Verbs),
			"configurations": cfgs, "latest_attempt_counts": cur.LatestAttemptCounts, "backfill": f.backfill}
		if err := c.do(ctx, "PUT", path, body, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var o objectiveView
		_ = json.Unmarshal(out, &o)
		fmt.Fprintf(stdout, "objective updated\nid:             %s\nconfigurations: %s\n", o.ID, strings.Join(o.Configurations, " "))
		printStarted(stdout, o.Backfills)
	case "objective backfill-restart":
		if err := need("org", f.org, "id", f.id, "configuration", strings.Join(f.configurations, " ")); err != nil {
			return true, err
		}
		if len(f.configurations) != 1 {
			return true, &ConfigError{fmt.Errorf("lrs admin %s: one --configuration, whose backfill it is", cmd)}
		}
		path := "/orgs/" + org + "/objectives/" + url.PathEscape(f.id) + "/backfills/" + url.PathEscape(f.configurations[0]) + "/restart"
		if err := c.do(ctx, "POST", path, nil, &out); err != nil {
			return true, err
		}
		if f.asJSON {
			return true, printJSON(stdout, out)
		}
		var b backfillView
		_ = json.Unmarshal(out, &b)
		fmt.Fprintf(stdout, "backfill restarted\nconfiguration:  %s\n%s\n", b.ConfigurationID, b.line())
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
		return f.results.run(ctx, c, cmd, f.org, f.asJSON, need, stdout) // admin_results.go
	}
	return true, nil
}

// runFiles runs configuration preview, files and file.
func (f *forwardFlags) runFiles(ctx context.Context, c *adminClient, cmd string, args []string, need func(...string) error, stdout io.Writer) error {
	if err := need("org", f.org, "id", f.id); err != nil {
		return err
	}
	name := ""
	switch {
	case cmd == "configuration file" && len(args) == 1:
		name = args[0]
	case cmd == "configuration file":
		return &ConfigError{fmt.Errorf("lrs admin %s: want the id and the file's name (configuration files lists them)", cmd)}
	case len(args) > 0:
		return &ConfigError{fmt.Errorf("lrs admin %s: unexpected %q", cmd, strings.Join(args, " "))}
	}
	path := "/orgs/" + url.PathEscape(f.org) + "/configurations/" + url.PathEscape(f.id)
	var out json.RawMessage
	switch cmd {
	case "configuration preview":
		// The stored configuration as it is (its stored secrets stand in).
		if err := c.do(ctx, "GET", path, nil, &out); err != nil {
			return err
		}
		var cf struct {
			Name         string            `json:"name"`
			ContactEmail string            `json:"contact_email"`
			Type         string            `json:"type"`
			Identifier   string            `json:"identifier"`
			Properties   map[string]string `json:"properties"`
		}
		if err := json.Unmarshal(out, &cf); err != nil {
			return fmt.Errorf("lrs admin %s: the configuration does not read: %w", cmd, err)
		}
		preview := path + "/preview"
		if r := f.results; r.objective != "" || r.participant != "" {
			// A real result instead of the sample.
			if err := need("objective", r.objective, "participant", r.participant); err != nil {
				return err
			}
			q := url.Values{"objective": {r.objective}, "participant": {r.participant}}
			if r.registration != "" {
				q.Set("registration", r.registration)
			}
			preview += "?" + q.Encode()
		}
		if err := c.do(ctx, "POST", preview, cf, &out); err != nil {
			return err
		}
		if f.asJSON {
			return printJSON(stdout, out)
		}
		type request struct {
			Purpose, Method, URL string
			Headers              map[string][]string
			Body                 string
		}
		var p struct {
			Method, URL string
			Headers     map[string][]string
			Body        string
			FileName    string `json:"file_name"`
			Notes       []string
			Requests    []request
		}
		_ = json.Unmarshal(out, &p)
		printRequest := func(r request) {
			fmt.Fprintf(stdout, "%s %s\n", r.Method, r.URL)
			for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
				for _, v := range r.Headers[k] {
					fmt.Fprintf(stdout, "%s: %s\n", k, v)
				}
			}
			if r.Body != "" {
				fmt.Fprintf(stdout, "\n%s\n", strings.TrimRight(r.Body, "\r\n"))
			}
		}
		if len(p.Requests) > 0 { // several requests (Clever): each with its purpose
			for i, r := range p.Requests {
				if i > 0 {
					fmt.Fprintln(stdout)
				}
				fmt.Fprintf(stdout, "# %d. %s\n", i+1, r.Purpose)
				printRequest(r)
			}
			for _, n := range p.Notes {
				fmt.Fprintf(stdout, "note: %s\n", n)
			}
			return nil
		}
		if p.FileName != "" {
			fmt.Fprintf(stdout, "file: %s\n", p.FileName)
		} else {
			fmt.Fprintf(stdout, "%s %s\n", p.Method, p.URL)
			for _, k := range slices.Sorted(maps.Keys(p.Headers)) {
				for _, v := range p.Headers[k] {
					fmt.Fprintf(stdout, "%s: %s\n", k, v)
				}
			}
		}
		fmt.Fprintf(stdout, "\n%s\n", strings.TrimRight(p.Body, "\r\n"))
		for _, n := range p.Notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
		return nil
	case "configuration files":
		if err := c.do(ctx, "GET", path+"/files", nil, &out); err != nil {
			return err
		}
		if f.asJSON {
			return printJSON(stdout, out)
		}
		var l struct {
			Files []struct {
				Name      string
				Size      int
				Rows      int
				CreatedAt string `json:"created_at"`
			}
		}
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROWS\tBYTES\tUPLOADED")
		for _, fl := range l.Files {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", fl.Name, fl.Rows, fl.Size, fl.CreatedAt)
		}
		return tw.Flush()
	}
	if err := c.do(ctx, "GET", path+"/files/"+url.PathEscape(name), nil, &out); err != nil {
		return err
	}
	if f.output == "" || f.output == "-" {
		_, err := stdout.Write(out)
		return err
	}
	// Member data: readable by the user only.
	if err := os.WriteFile(f.output, out, 0o600); err != nil {
		return fmt.Errorf("lrs admin %s: %w", cmd, err)
	}
	fmt.Fprintf(stdout, "%s: %d bytes written to %s\n", name, len(out), f.output)
	return nil
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
	Backfills      []backfillView // started by this create or attach
}

// backfillView is a backfill job as the admin API answers it.
type backfillView struct {
	ConfigurationID string `json:"configuration_id"`
	ObjectiveID     string `json:"objective_id"`
	Kind, State     string
	Counted         bool
	Done, Total     int
	Error           string
	StartedAt       string `json:"started_at"`
	FinishedAt      string `json:"finished_at"`
}

// line is the job in one line: "objective O: running, 1200/10000 statements (started …)".
func (b backfillView) line() string {
	progress := fmt.Sprintf("%d/%d %s", b.Done, b.Total, b.Kind)
	if !b.Counted && b.State == "running" {
		progress = fmt.Sprintf("counting %s (%d so far)", b.Kind, b.Total)
	}
	s := fmt.Sprintf("objective %s: %s, %s (started %s", b.ObjectiveID, b.State, progress, b.StartedAt)
	if b.FinishedAt != "" {
		s += ", finished " + b.FinishedAt
	}
	s += ")"
	if b.Error != "" {
		s += ": " + b.Error
	}
	return s
}

func printStarted(w io.Writer, bs []backfillView) {
	for _, b := range bs {
		fmt.Fprintf(w, "backfill:       configuration %s, %s, started %s\n", b.ConfigurationID, b.Kind, b.StartedAt)
	}
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
