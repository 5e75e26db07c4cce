package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lrs-project/lrs/lrs/api"
)

// resultsUsage is the help of the results commands.
const resultsUsage = `  result list --org ID (--objective ID | --participant P) [--completed true|false] [--passed true|false]
              [--since RFC3339] [--limit N] [--cursor C]
                                          list an objective's (or a participant's) results
  result get --org ID --objective ID --participant P [--registration UUID]
                                          one participant's progress on an objective, with its overrides
  result export --org ID --objective ID [--participant P] [--completed ...] [--passed ...] [--since ...]
                                          the objective's results as CSV, on standard output
  result override --org ID --objective ID --participant P [--registration UUID]
                  [--set FIELD=VALUE ...] [--clear FIELD ...] --reason TEXT
                                          override values of a result (completion=true, success=false,
                                          score=0.8 or score='{"raw":8,"max":10}', duration=PT5M,
                                          attempts=1, completed_at=RFC3339, ...), or clear overrides
  result recompute --org ID --objective ID
                                          compute an objective's results again from its statements
  (P: an email, a mailto: IRI, or a participant key such as account:<homePage> <name>)
`

// resultFlags are the flags of the results commands.
type resultFlags struct {
	objective, participant, registration string
	completed, passed, since, cursor     string
	reason                               string
	limit                                int
	set, clear                           multiFlag
	latestAttemptCounts                  bool // objective create
}

func addResultFlags(fs *flag.FlagSet) *resultFlags {
	r := &resultFlags{}
	fs.StringVar(&r.objective, "objective", "", "")
	fs.StringVar(&r.participant, "participant", "", "")
	fs.StringVar(&r.registration, "registration", "", "")
	fs.StringVar(&r.completed, "completed", "", "")
	fs.StringVar(&r.passed, "passed", "", "")
	fs.StringVar(&r.since, "since", "", "")
	fs.StringVar(&r.cursor, "cursor", "", "")
	fs.StringVar(&r.reason, "reason", "", "")
	fs.IntVar(&r.limit, "limit", 0, "")
	fs.Var(&r.set, "set", "")
	fs.Var(&r.clear, "clear", "")
	fs.BoolVar(&r.latestAttemptCounts, "latest-attempt-counts", false, "")
	return r
}

// query is the query string of the flags that are set among names.
func (r *resultFlags) query(names ...string) string {
	v := url.Values{}
	for _, n := range names {
		val := map[string]string{"participant": r.participant, "registration": r.registration, "completed": r.completed,
			"passed": r.passed, "since": r.since, "cursor": r.cursor}[n]
		if n == "limit" && r.limit > 0 {
			val = strconv.Itoa(r.limit)
		}
		if val != "" {
			v.Set(n, val)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// setBody is the "set" object of an override: each FIELD=VALUE as the
// JSON the admin API wants for the field.
func (r *resultFlags) setBody() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, s := range r.set {
		f, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want FIELD=VALUE", s)
		}
		var raw json.RawMessage
		switch f {
		case "completion", "success":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("--set %s: %q: want true or false", f, v)
			}
			raw, _ = json.Marshal(b)
		case "attempts":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("--set attempts: %q: want a whole number", v)
			}
			raw, _ = json.Marshal(n)
		case "score":
			if strings.HasPrefix(strings.TrimSpace(v), "{") {
				if !json.Valid([]byte(v)) {
					return nil, fmt.Errorf("--set score: %q is not JSON", v)
				}
				raw = json.RawMessage(v)
			} else {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf(`--set score: %q: want a scaled score (-1 to 1) or JSON such as {"raw":8,"max":10}`, v)
				}
				raw, _ = json.Marshal(map[string]float64{"scaled": x})
			}
		default: // duration, times; unknown fields are the server's to name
			raw, _ = json.Marshal(v)
		}
		out[f] = raw
	}
	return out, nil
}

// run runs a results command; handled is false for other commands.
func (r *resultFlags) run(ctx context.Context, c *adminClient, cmd, org string, asJSON bool, need func(...string) error, stdout io.Writer) (bool, error) {
	var out json.RawMessage
	base := "/orgs/" + url.PathEscape(org)
	objective := base + "/objectives/" + url.PathEscape(r.objective)
	switch cmd {
	case "result list":
		if err := need("org", org); err != nil {
			return true, err
		}
		path := base + "/results"
		if r.objective != "" {
			path = objective + "/results"
		} else if err := need("objective or --participant", r.participant); err != nil {
			return true, err
		}
		if err := c.do(ctx, "GET", path+r.query("participant", "completed", "passed", "since", "limit", "cursor"), nil, &out); err != nil {
			return true, err
		}
		if asJSON {
			return true, printJSON(stdout, out)
		}
		var l struct {
			Results    []resultView
			NextCursor string `json:"next_cursor"`
		}
		_ = json.Unmarshal(out, &l)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "OBJECTIVE\tPARTICIPANT\tREGISTRATION\tCOMPLETION\tSUCCESS\tSCORE\tATTEMPTS\tOVERRIDDEN\tREVISION\tUPDATED")
		for _, res := range l.Results {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", res.ObjectiveID, res.Participant, orNone(res.Registration),
				tri(res.Completion, "completed", "incomplete"), tri(res.Success, "passed", "failed"), res.score(), res.Attempts,
				res.overridden(), res.Revision, res.UpdatedAt)
		}
		if err := tw.Flush(); err != nil {
			return true, err
		}
		if l.NextCursor != "" {
			fmt.Fprintf(stdout, "more: --cursor %s\n", l.NextCursor)
		}
	case "result get", "result override":
		if err := need("org", org, "objective", r.objective, "participant", r.participant); err != nil {
			return true, err
		}
		q := r.query("participant", "registration")
		if cmd == "result get" {
			if err := c.do(ctx, "GET", objective+"/progress"+q, nil, &out); err != nil {
				return true, err
			}
		} else {
			if err := need("reason", r.reason); err != nil {
				return true, err
			}
			set, err := r.setBody()
			if err != nil {
				return true, &ConfigError{fmt.Errorf("lrs admin %s: %w", cmd, err)}
			}
			body := map[string]any{"set": set, "clear": nonNilStrings(r.clear), "reason": r.reason}
			if err := c.do(ctx, "POST", objective+"/progress/override"+q, body, &out); err != nil {
				return true, err
			}
		}
		if asJSON {
			return true, printJSON(stdout, out)
		}
		var res resultView
		_ = json.Unmarshal(out, &res)
		res.print(stdout)
	case "result export":
		if err := need("org", org, "objective", r.objective); err != nil {
			return true, err
		}
		return true, c.stream(ctx, objective+"/results.csv"+r.query("participant", "completed", "passed", "since"), stdout)
	case "result recompute":
		if err := need("org", org, "objective", r.objective); err != nil {
			return true, err
		}
		if err := c.do(ctx, "POST", objective+"/results/recompute", nil, &out); err != nil {
			return true, err
		}
		if asJSON {
			return true, printJSON(stdout, out)
		}
		var n struct{ Recomputed int }
		_ = json.Unmarshal(out, &n)
		fmt.Fprintf(stdout, "%d results recomputed\n", n.Recomputed)
	default:
		return false, nil
	}
	return true, nil
}

// stream copies the answer of a GET to w (an error answer is an error, as
// with do).
func (c *adminClient) stream(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.server+api.AdminPrefix+path, nil)
	if err != nil {
		return fmt.Errorf("lrs admin: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := *c.http
	hc.Timeout = 0 // an export takes as long as it takes; ctx bounds it
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("lrs admin: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		var e struct {
			Error struct{ Message string }
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return fmt.Errorf("lrs admin: %s: %s", res.Status, msg)
	}
	if _, err := io.Copy(w, res.Body); err != nil {
		return fmt.Errorf("lrs admin: the export was cut short: %w", err)
	}
	return nil
}

// resultView is what the CLI shows of a result.
type resultView struct {
	ID           string
	ObjectiveID  string `json:"objective_id"`
	Participant  string
	Registration string
	Completion   *bool
	Success      *bool
	Score        *struct{ Scaled, Raw, Min, Max *float64 }
	Duration     *string
	Attempts     int
	FirstAct     *string `json:"first_activity"`
	LastAct      *string `json:"last_activity"`
	CompletedAt  *string `json:"completed_at"`
	Statements   int
	Revision     int64
	UpdatedAt    string `json:"updated_at"`
	Actor        struct{ Name string }
	Overrides    map[string]struct {
		Value  any
		By, At string
		Reason string
	}
	History []struct {
		At, By, Reason string
		Set            map[string]any
		Cleared        []string
		Revision       int64
	} `json:"override_history"`
}

func tri(b *bool, yes, no string) string {
	switch {
	case b == nil:
		return "unknown"
	case *b:
		return yes
	}
	return no
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func str(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

func (r resultView) score() string {
	s := r.Score
	if s == nil {
		return "-"
	}
	f := func(p *float64) string { return strconv.FormatFloat(*p, 'g', -1, 64) }
	switch {
	case s.Scaled != nil:
		return f(s.Scaled)
	case s.Raw != nil && s.Max != nil:
		return f(s.Raw) + "/" + f(s.Max)
	case s.Raw != nil:
		return f(s.Raw)
	}
	return "-"
}

func (r resultView) overridden() string {
	var fs []string
	for _, f := range []string{"completion", "success", "score", "duration", "attempts", "first_activity", "last_activity", "completed_at"} {
		if _, ok := r.Overrides[f]; ok {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return "-"
	}
	return strings.Join(fs, ",")
}

func (r resultView) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "result:\t%s\nobjective:\t%s\nparticipant:\t%s (%s)\nregistration:\t%s\n", r.ID, r.ObjectiveID, r.Participant, r.Actor.Name, orNone(r.Registration))
	fmt.Fprintf(tw, "completion:\t%s\nsuccess:\t%s\nscore:\t%s\nduration:\t%s\nattempts:\t%d\n",
		tri(r.Completion, "completed", "incomplete"), tri(r.Success, "passed", "failed"), r.score(), str(r.Duration), r.Attempts)
	fmt.Fprintf(tw, "first activity:\t%s\nlast activity:\t%s\ncompleted at:\t%s\nstatements:\t%d\nrevision:\t%d (updated %s)\n",
		str(r.FirstAct), str(r.LastAct), str(r.CompletedAt), r.Statements, r.Revision, r.UpdatedAt)
	_ = tw.Flush()
	for _, f := range []string{"completion", "success", "score", "duration", "attempts", "first_activity", "last_activity", "completed_at"} {
		if o, ok := r.Overrides[f]; ok {
			v, _ := json.Marshal(o.Value)
			fmt.Fprintf(w, "override:     %s = %s by %s at %s: %s\n", f, v, o.By, o.At, o.Reason)
		}
	}
	for _, h := range r.History {
		set, _ := json.Marshal(h.Set)
		fmt.Fprintf(w, "history:      revision %d at %s by %s: set %s, cleared %v: %s\n", h.Revision, h.At, h.By, set, h.Cleared, h.Reason)
	}
}
