package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/schema"
)

// The wiring of the webhook as a destination type of the forwarding
// engine: the Type the registry serves, and the Sink that adapts an
// overwrite delivery's item to an Input.

// TypeName is the configuration type of this destination.
const TypeName = "webhook"

// TypeOptions are the process-wide settings of the type.
type TypeOptions struct {
	// Timeout bounds every request of the shared client (connect to the
	// last byte; LRS_FORWARD_ATTEMPT_TIMEOUT); default 2 minutes. A
	// configuration's own timeout bounds its requests further.
	Timeout time.Duration
	// Egress is the policy of the addresses connected to (nil: public
	// unicast only).
	Egress *forward.Egress
	// Now is the clock of signatures and of Retry-After; default time.Now.
	Now func() time.Time
	// UserAgent names the sender.
	UserAgent string
}

// enums are the closed sets of the settings, for the registry's fields.
var enums = map[string][]string{
	"method":         {http.MethodPost, http.MethodPut, http.MethodPatch},
	"content_type":   {ContentJSON, ContentForm},
	"trigger":        {TriggerCompletion, TriggerPass, TriggerChange},
	"mode":           {ModeImmediate, ModeBatch, ModeFile},
	"envelope":       {EnvelopeItems, EnvelopeArray},
	"auth":           {AuthNone, AuthBasic, AuthBearer, AuthAPIKey, AuthOAuth2},
	"credentials_in": {"body", "basic"},
}

// fieldUI is how the console asks for each setting (forward.Field's
// presentation): groups, labels, examples, and the settings that apply
// only to one mode or one kind of authentication.
var fieldUI = func() map[string]struct {
	label, group, example string
	when                  *forward.Condition
} {
	type ui = struct {
		label, group, example string
		when                  *forward.Condition
	}
	mode := func(ms ...string) *forward.Condition { return &forward.Condition{Property: "mode", Values: ms} }
	auth := func(as ...string) *forward.Condition { return &forward.Condition{Property: "auth", Values: as} }
	http := mode("", ModeImmediate, ModeBatch)
	return map[string]ui{
		"preset":           {"Preset", "Request", "", nil},
		"url":              {"URL", "Request", "https://ams.example.org/hooks/lrs", http},
		"method":           {"Method", "Request", "", http},
		"content_type":     {"Body", "Request", "", http},
		"timeout":          {"Timeout", "Request", "30s", nil},
		"zone":             {"Time zone", "Request", "America/Chicago", nil},
		"trigger":          {"Send", "Request", "", nil},
		"mode":             {"Mode", "Request", "", nil},
		"fields":           {"Field mapping", "Mapping", `[{"target":"member_email","source":"participant.email","required":true}]`, nil},
		"objectives":       {"Objective values", "Mapping", `{"<objective id>":{"credits":1.5,"credit_type":"CE"}}`, nil},
		"directory":        {"Participant directory (CSV)", "Mapping", "email,member_id,name", nil},
		"envelope":         {"Batch body", "Batches", "", mode(ModeBatch)},
		"max_items":        {"Max items", "Batches", "100", mode(ModeBatch)},
		"max_wait":         {"Max wait", "Batches", "1h", mode(ModeBatch)},
		"schedule":         {"Schedule (cron)", "Batches", "0 2 * * *", mode(ModeBatch, ModeFile)},
		"auth":             {"Authentication", "Authentication", "", http},
		"username":         {"User name", "Authentication", "", auth(AuthBasic)},
		"password":         {"Password", "Authentication", "", auth(AuthBasic)},
		"token":            {"Bearer token", "Authentication", "", auth(AuthBearer)},
		"api_key_header":   {"API key header", "Authentication", "X-API-Key", auth(AuthAPIKey)},
		"api_key":          {"API key", "Authentication", "", auth(AuthAPIKey)},
		"token_url":        {"Token URL", "Authentication", "https://login.example.org/oauth2/token", auth(AuthOAuth2)},
		"client_id":        {"Client id", "Authentication", "", auth(AuthOAuth2)},
		"client_secret":    {"Client secret", "Authentication", "", auth(AuthOAuth2)},
		"scope":            {"Scope", "Authentication", "", auth(AuthOAuth2)},
		"credentials_in":   {"Client credentials in", "Authentication", "", auth(AuthOAuth2)},
		"signing_secret":   {"Signing secret", "Authentication", "whsec_…", http},
		"sftp_address":     {"SFTP server", "File (SFTP)", "sftp.ams.example.org:22", mode(ModeFile)},
		"sftp_user":        {"SFTP user", "File (SFTP)", "", mode(ModeFile)},
		"sftp_dir":         {"Directory", "File (SFTP)", "inbox", mode(ModeFile)},
		"sftp_host_key":    {"Host key (pinned)", "File (SFTP)", "ssh-ed25519 AAAA…", mode(ModeFile)},
		"file_prefix":      {"File name prefix", "File (SFTP)", "lrs-results", mode(ModeFile)},
		"sftp_password":    {"SFTP password", "File (SFTP)", "", mode(ModeFile)},
		"sftp_private_key": {"SFTP private key (PEM)", "File (SFTP)", "", mode(ModeFile)},
	}
}()

// typeFields are Properties as the registry's fields.
func typeFields() (props, secrets []forward.Field) {
	for _, p := range Properties {
		f := forward.Field{Name: p.Name, Description: p.Description, Enum: enums[p.Name]}
		switch p.Name {
		case "url", "token_url":
			f.URL = true
		case "sftp_address":
			f.Address = true // egress-checked at save, like the URLs
		case "fields", "objectives":
			f.Kind = forward.KindJSON
		case "sftp_host_key", "directory":
			f.Kind = forward.KindMultiline
		case "max_items":
			f.Kind = forward.KindNumber
		case "preset":
			f.Enum = PresetNames()
		}
		if ui, ok := fieldUI[p.Name]; ok {
			f.Label, f.Group, f.Example, f.When = ui.label, ui.group, ui.example, ui.when
		}
		if p.Secret {
			if p.Name == "sftp_private_key" {
				f.Kind = forward.KindMultiline
			}
			secrets = append(secrets, f)
		} else {
			props = append(props, f)
		}
	}
	return props, secrets
}

// Type is the webhook destination type.
func Type(o TypeOptions) forward.Type {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	opts := Options{Client: forward.NewHTTPClient(forward.HTTPOptions{Timeout: o.Timeout, Egress: o.Egress}),
		Egress: o.Egress, Now: o.Now, UserAgent: o.UserAgent}
	props, secrets := typeFields()
	return forward.Type{
		Name:  TypeName,
		Label: "AMS webhook",
		Description: "AMS writeback: each result mapped field by field into the receiver's body " +
			"(presets: " + strings.Join(PresetNames(), ", ") + "), signed with Standard Webhooks, on completion, on pass or on every change; at once, in scheduled batches, or as a scheduled CSV file over SFTP",
		TestLabel:  "Send a signed test event",
		Sink:       forward.SinkOverwrite,
		Properties: props,
		Secrets:    secrets,
		Target:     "url",
		Validate:   crossCheck,
		Factory: func(c forward.Configuration, secrets map[string]string) (forward.Destination, error) {
			w, err := Compile(c, secrets, opts)
			if err != nil {
				return nil, err
			}
			switch w.Mode() {
			case ModeBatch:
				return BatchSink{NewSink(w)}, nil
			case ModeFile:
				return FileSink{NewSink(w)}, nil
			}
			return NewSink(w), nil
		},
		Preview: func(_ context.Context, _ forward.PreviewEnv, c forward.Configuration, secrets map[string]string, at time.Time) (forward.Preview, error) {
			w, err := Compile(c, secrets, opts)
			if err != nil {
				return forward.Preview{}, err
			}
			return w.samplePreview(c, at), nil
		},
		PreviewItem: func(_ context.Context, _ forward.PreviewEnv, c forward.Configuration, secrets map[string]string, it forward.Item, at time.Time) (forward.Preview, error) {
			w, err := Compile(c, secrets, opts)
			if err != nil {
				return forward.Preview{}, err
			}
			return w.itemPreview(it, at), nil
		},
		Wants: func(c forward.Configuration, r forward.ObjectiveResult) bool {
			v := r.Effective()
			return wants(c.Properties["trigger"], Result{Completed: v.Completion, Passed: v.Success})
		},
	}
}

// Compile builds the webhook of a stored configuration: its settings
// read from the properties, the preset's defaults applied.
func Compile(c forward.Configuration, secrets map[string]string, o Options) (*Webhook, error) {
	cfg, sec, err := FromProperties(c.Properties, secrets)
	if err != nil {
		return nil, err
	}
	if cfg, err = ApplyPreset(cfg); err != nil {
		return nil, err
	}
	return New(c.ID, c.Name, cfg, sec, o)
}

// crossCheck is the type's Validate: every problem of the mapping and the
// settings at once, each naming its field ("properties.fields[2].format:
// …"), except what the fields' own rules already said (an unknown name,
// a value outside an enum).
func crossCheck(props, secrets map[string]string) []string {
	// Names that are not the type's, or in the wrong place, are forward's
	// Check's to report.
	known := func(m map[string]string, secret bool) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if isSecretName(k) == secret && (secret || isPropertyName(k)) {
				out[k] = v
			}
		}
		return out
	}
	props, secrets = known(props, false), known(secrets, true)
	cfg, sec, err := FromProperties(props, secrets)
	if err == nil {
		if cfg, err = ApplyPreset(cfg); err == nil {
			err = Validate(cfg, sec)
		}
	}
	var ve *ValidationError
	if err == nil {
		return nil
	}
	if !errors.As(err, &ve) {
		return []string{"properties: " + err.Error()}
	}
	var out []string
	for _, p := range ve.Problems {
		root, rest, msg := p.Path, "", p.Message
		if i := strings.IndexFunc(root, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }); i >= 0 {
			root, rest = root[:i], root[i:]
		}
		if rest != "" && rest[0] != '.' && rest[0] != '[' {
			rest, msg = "", rest+": "+msg // url{{result.x}}: a part of the value
		}
		path := root + rest
		secret := isSecretName(root)
		values := props
		if secret {
			values = secrets
		}
		if e := enums[root]; len(e) > 0 && values[root] != "" && !slices.Contains(e, values[root]) {
			continue // the field's Enum said so
		}
		if secret {
			out = append(out, "secrets."+path+": "+msg)
		} else {
			out = append(out, "properties."+path+": "+msg)
		}
	}
	return out
}

func isPropertyName(k string) bool {
	for _, p := range Properties {
		if p.Name == k && !p.Secret {
			return true
		}
	}
	return false
}

// wants is the trigger's rule (Webhook.Wants).
func wants(trigger string, r Result) bool {
	passed := r.Passed != nil && *r.Passed
	switch trigger {
	case TriggerPass:
		return passed
	case TriggerChange:
		return true
	}
	return passed || (r.Completed != nil && *r.Completed)
}

// Sink is the engine's destination of a webhook configuration: it reads
// an overwrite delivery's item (the result as it is when sent, overrides
// applied, its objective and the participant) as an Input and sends it.
//
// After a 410 Gone the sink sends nothing more: every later attempt is a
// Server Error without a request, until the configuration is edited (the
// engine builds a new sink for a new revision). The stop is kept in the
// process: a restarted process (or another one) asks the receiver once
// more, and stops at its 410 too.
type Sink struct {
	*Webhook
	gone *goneState
}

type goneState struct {
	mu  sync.Mutex
	at  time.Time
	msg string
}

var (
	_ forward.Destination = Sink{}
	_ forward.Tester      = Sink{}
	_ forward.Redacting   = Sink{}
	_ forward.Stoppable   = Sink{}
)

// NewSink returns the sink of a compiled webhook.
func NewSink(w *Webhook) Sink { return Sink{Webhook: w, gone: &goneState{}} }

// BatchSink is the sink of a batch-mode configuration: the engine holds
// its deliveries until its Schedule says send (forward.Scheduled), then
// claims them together; Send carries them in requests of the schedule's
// Limit, each one envelope with its batch_id.
type BatchSink struct{ Sink }

var _ forward.Slotted = BatchSink{}

// BatchDue is the schedule's verdict (Schedule.Due).
func (s BatchSink) BatchDue(lastSend, oldest time.Time, queued int, now time.Time) (bool, time.Time) {
	return s.schedule.Due(lastSend, oldest, queued, now)
}

// BatchSlot is the scheduled time that makes the batch due
// (Schedule.SlotDue), claimed by the one process that sends it.
func (s BatchSink) BatchSlot(lastSend, oldest time.Time, queued int, now time.Time) time.Time {
	return s.schedule.SlotDue(lastSend, oldest, queued, now)
}

// MaxBatch is how many items one claim takes together: up to
// MaxBatchItems, sent in requests of the schedule's Limit.
func (s BatchSink) MaxBatch() int { return MaxBatchItems }

// Send sends the items (at most MaxBatch) and answers for each of them.
func (s Sink) Send(ctx context.Context, items []forward.Item) forward.Result {
	if msg, at := s.stopped(); !at.IsZero() {
		return forward.Result{Outcome: forward.OutcomeDestination, Status: http.StatusGone,
			Message: fmt.Sprintf("not sent: the receiver answered 410 Gone at %s (%s); sending resumes when the configuration is edited",
				at.UTC().Format(time.RFC3339), msg)}
	}
	ins, ids, rejected := s.inputs(items)
	if len(ins) == 0 {
		return forward.Result{Outcome: forward.OutcomeItem, Message: "no item is sendable", Rejected: rejected}
	}
	o := s.Webhook.Send(ctx, ins)
	if o.Stop {
		s.stop(o.Message)
	}
	res := forward.Result{Outcome: o.Class, Status: o.Status, Message: o.Message, RetryAfter: o.RetryAfter, Stop: o.Stop}
	for rid, why := range o.Rejected {
		if sid, ok := ids[rid]; ok {
			rejected[sid] = why
		}
	}
	if len(rejected) > 0 {
		res.Rejected = rejected
	}
	return res
}

// inputs are the items as inputs, with the delivery of each result id,
// and the items that are not sendable (by delivery).
func (s Sink) inputs(items []forward.Item) ([]Input, map[string]string, map[string]string) {
	ids := map[string]string{} // result id → delivery StatementID
	rejected := map[string]string{}
	ins := make([]Input, 0, len(items))
	for _, it := range items {
		in, ok := s.InputOf(it)
		switch {
		case !ok:
			rejected[it.Delivery.StatementID] = "not sendable: the delivery carries no result"
		case !s.Wants(in.Result):
			// Queued when the trigger wanted it; the result went back
			// since (an override, a voided statement).
			rejected[it.Delivery.StatementID] = fmt.Sprintf("not sent: the result (%s) no longer meets the trigger %q", in.Result.Status(), s.trigger)
		default:
			ids[in.Result.ID] = it.Delivery.StatementID
			ins = append(ins, in)
		}
	}
	return ins, ids, rejected
}

// MayStop says that a receiver's 410 Gone stops sending (Result.Stop):
// the engine keeps the stop in the configuration's status, so that no
// process sends to this revision of the configuration any more.
func (s Sink) MayStop() {}

func (s Sink) stopped() (string, time.Time) {
	s.gone.mu.Lock()
	defer s.gone.mu.Unlock()
	return s.gone.msg, s.gone.at
}

func (s Sink) stop(msg string) {
	s.gone.mu.Lock()
	defer s.gone.mu.Unlock()
	if s.gone.at.IsZero() {
		s.gone.at, s.gone.msg = s.opts.Now(), forward.Truncate(msg, 200)
	}
}

// Test is the admin API's test: one signed test event with the sample
// result, sent like a result (a batch configuration sends a batch of
// one). It neither stops nor resumes sending.
func (s Sink) Test(ctx context.Context) forward.Result {
	o := s.Webhook.Send(ctx, []Input{Sample(s.id, s.name)})
	if o.Class == ClassItem && len(o.Rejected) > 0 {
		for _, why := range o.Rejected {
			o.Message = "the sample result is not sendable with this mapping: " + why
		}
	}
	return forward.Result{Outcome: o.Class, Status: o.Status, Message: o.Message, RetryAfter: o.RetryAfter}
}

// InputOf is the Input of an overwrite delivery's item: the effective
// values (overrides applied) of its current result, its objective with
// the configuration's per-objective values, and the participant.
func (w *Webhook) InputOf(it forward.Item) (Input, bool) {
	r := it.Result
	if r == nil || it.Objective == nil {
		return Input{}, false
	}
	v := r.Effective()
	in := Input{
		ConfigurationID: w.id, ConfigurationName: w.name,
		Participant: Participant{ID: it.Delivery.Participant, Name: r.Actor.Name},
		Objective:   Objective{ID: it.Objective.ID, Name: it.Objective.Name, IRI: it.Objective.ActivityID},
		Result: Result{
			ID: r.ID(), Registration: r.Registration, Completed: v.Completion, Passed: v.Success,
			FirstActivityAt: v.FirstActivity, LastActivityAt: v.LastActivity, CompletedAt: v.CompletedAt,
			Attempts: v.Attempts, Revision: r.Revision, Overridden: len(r.OverriddenFields()) > 0,
		},
		StatementID: lastStatement(r.Sources),
	}
	in.Participant.Email, _ = strings.CutPrefix(r.Actor.Mbox, "mailto:")
	if m, ok := w.lookup(in.Participant.Email); ok {
		in.Participant.ExternalID = m.externalID
		if m.name != "" {
			in.Participant.Name = m.name
		}
	}
	if ov, ok := w.objectives[it.Objective.ID]; ok {
		in.Objective.Credits, in.Objective.CreditType, in.Objective.ExternalID = ov.Credits, ov.CreditType, ov.ExternalID
		in.Objective.Extra = ov.Extra
	}
	if v.Score != nil {
		in.Result.Score = Score{Scaled: v.Score.Scaled, Raw: v.Score.Raw, Min: v.Score.Min, Max: v.Score.Max}
	}
	if secs, ok := schema.DurationSeconds(v.Duration); ok && v.Duration != "" {
		d := time.Duration(secs * float64(time.Second))
		in.Result.Duration = &d
	}
	return in, true
}

// lastStatement is the statement that last set a value of the result:
// its latest activity's, else its completion's or success's.
func lastStatement(s forward.Sources) string {
	for _, id := range []string{s.LastActivity, s.CompletedAt, s.Success, s.Completion, s.Score} {
		if id != "" {
			return id
		}
	}
	return ""
}

// samplePreview is the exact request the configuration would send for the
// sample result (with the configuration's values of the sample's
// objective, id 42, when it has some), secrets redacted.
func (w *Webhook) samplePreview(c forward.Configuration, at time.Time) forward.Preview {
	in := Sample(c.ID, c.Name)
	if ov, ok := w.objectives[in.Objective.ID]; ok {
		in.Objective.Credits, in.Objective.CreditType, in.Objective.ExternalID, in.Objective.Extra = ov.Credits, ov.CreditType, ov.ExternalID, ov.Extra
	}
	p := w.Preview([]Input{in}, at)
	out := forward.Preview{Method: p.Method, URL: p.URL, Headers: p.Headers, Body: p.Body, FileName: p.FileName}
	for _, why := range p.Rejected {
		out.Notes = append(out.Notes, "the sample result would not be sent: "+why)
	}
	if w.trigger != TriggerChange {
		out.Notes = append(out.Notes, fmt.Sprintf("sent for results that meet the trigger %q", w.trigger))
	}
	return out
}

// itemPreview is the exact request the configuration would send for a
// real item now, secrets redacted, with a note when the trigger does not
// want the result (it would not be sent).
func (w *Webhook) itemPreview(it forward.Item, at time.Time) forward.Preview {
	in, ok := w.InputOf(it)
	if !ok {
		return forward.Preview{Notes: []string{"not sendable: the item carries no result"}}
	}
	p := w.Preview([]Input{in}, at)
	out := forward.Preview{Method: p.Method, URL: p.URL, Headers: p.Headers, Body: p.Body, FileName: p.FileName}
	if !w.Wants(in.Result) {
		out.Notes = append(out.Notes, fmt.Sprintf("this result (%s) does not meet the trigger %q: it would not be sent", in.Result.Status(), w.trigger))
	}
	for _, why := range p.Rejected {
		out.Notes = append(out.Notes, "this result would not be sent: "+why)
	}
	return out
}
