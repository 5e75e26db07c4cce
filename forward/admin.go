package forward

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/schema"
)

// Errors of the administration, besides the storage's ErrNotFound. Every
// error Admin returns for one of them is an *AdminError, whose message is
// meant for the administrator (it names what is wrong, never a secret).
var (
	// ErrInvalid: the input breaks the rules; the message lists every
	// problem, each naming its field.
	ErrInvalid = errors.New("forward: invalid")
	// ErrConflict: the operation does not apply to this object (a type this
	// binary does not serve, or one that cannot be tested).
	ErrConflict = errors.New("forward: conflict")
	// ErrNoKey: destination secrets cannot be sealed: no sealing key was
	// given, so configurations can be read but not written nor tested.
	ErrNoKey = errors.New("forward: no sealing key")
)

// AdminError is an error of the administration: errors.Is it against
// ErrNotFound, ErrInvalid, ErrConflict or ErrNoKey.
type AdminError struct {
	Kind     error
	Message  string
	Problems []string // ErrInvalid: every problem, each naming its field
}

func (e *AdminError) Error() string { return e.Message }
func (e *AdminError) Unwrap() error { return e.Kind }

func adminError(kind error, format string, args ...any) error {
	return &AdminError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func invalid(problems []string) error {
	return &AdminError{Kind: ErrInvalid, Message: strings.Join(problems, "; "), Problems: problems}
}

// Limits of what an administrator writes.
const (
	maxName       = 200
	maxEmail      = 254
	maxProperties = 32
	maxSecrets    = 16
	maxObjectRefs = 64 // verbs and configurations of an objective
)

// Identifiers a configuration may send (Configuration.Identifier).
var Identifiers = []string{IdentifierMbox, IdentifierAccount}

// States are the delivery states, in the order they are listed.
var States = []string{StatePending, StateDelivered, StateParked, StateRejected, StateSkipped}

// AdminOptions tune an Admin.
type AdminOptions struct {
	// Sealer seals destination secrets; nil: configurations can be read but
	// not written nor tested (ErrNoKey).
	Sealer *Sealer
	// Invalidate is called with an organization whose configurations or
	// objectives changed (Obligations.Invalidate), so that its next
	// statements see the change; optional.
	Invalidate func(org string)
	// Results is the results read model (admin_results.go); nil: results
	// are not kept, and their operations answer ErrConflict.
	Results *Results
	// Redriven is called after deliveries of configuration (org, id) were
	// made due by an edit or a re-drive (Engine.Redriven: it probes the
	// destination again at once); optional.
	Redriven func(org, id string)
	// BackfillStarted is called after backfill jobs were started
	// (Backfiller.Wake); optional.
	BackfillStarted func()
	// Egress is the egress policy the URLs of configurations are checked
	// against when they are saved; nil: public unicast only.
	Egress *Egress
	// TestTimeout bounds a test connection; default 15s.
	TestTimeout time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Admin is the administration of forwarding: what the admin API (and,
// through it, the CLI and the console) does with an organization's
// configurations, objectives and deliveries, with the rules that hold for
// every caller: secrets are sealed and never answered, a configuration is
// checked by its type in the registry and its URLs by the egress policy,
// its secrets never follow a URL to another host, an edit re-drives what
// was parked or rejected (and what is pending, when it is a fix), and the
// obligations see every edit. Organizations
// themselves (whether one exists) are the caller's concern.
type Admin struct {
	store Store
	types *Registry
	opts  AdminOptions
}

// NewAdmin returns the administration of store's forwarding objects for the
// registered types.
func NewAdmin(store Store, types *Registry, opts AdminOptions) *Admin {
	if opts.TestTimeout <= 0 {
		opts.TestTimeout = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Admin{store: store, types: types, opts: opts}
}

// Types are the destination types configurations may have.
func (a *Admin) Types() *Registry { return a.types }

// CanWrite reports whether configurations can be written and tested (a
// sealing key was given).
func (a *Admin) CanWrite() bool { return a.opts.Sealer != nil }

func (a *Admin) now() time.Time { return a.opts.Now().UTC().Truncate(time.Millisecond) }

func (a *Admin) invalidate(org string) {
	if a.opts.Invalidate != nil {
		a.opts.Invalidate(org)
	}
}

// ---- configurations ----

// ConfigurationInput is a configuration as an administrator writes it.
type ConfigurationInput struct {
	Name         string
	ContactEmail string
	Type         string
	Identifier   string // IdentifierMbox (default) or IdentifierAccount
	Properties   map[string]string
	// Secrets are sealed before they are stored; nil when replacing a
	// configuration keeps the stored ones.
	Secrets map[string]string
}

// ListConfigurations returns org's configurations, ordered by ID.
func (a *Admin) ListConfigurations(ctx context.Context, org string) ([]Configuration, error) {
	return a.store.ListConfigurations(ctx, org)
}

// Configuration returns the configuration (org, id); ErrNotFound if it
// does not exist.
func (a *Admin) Configuration(ctx context.Context, org, id string) (Configuration, error) {
	c, err := a.store.GetConfiguration(ctx, org, id)
	if errors.Is(err, ErrNotFound) {
		return c, adminError(ErrNotFound, "no configuration %q in organization %q", id, org)
	}
	return c, err
}

// CheckConfiguration returns every problem of in (nil when it can be
// stored) as a replacement of old (nil when new), with kept the secrets a
// replace without secrets keeps: the fields' rules, the type's, the egress
// policy on every URL, and, when in brings no secrets, no URL of old whose
// origin (scheme, host, port) changes, as the kept secrets were entered for
// the old one.
func (a *Admin) CheckConfiguration(ctx context.Context, in ConfigurationInput, old *Configuration, kept map[string]string) []string {
	var errs []string
	errs = append(errs, checkText("name", in.Name, maxName)...)
	switch addr, err := mail.ParseAddress(in.ContactEmail); {
	case in.ContactEmail == "":
		errs = append(errs, "contact_email: is required")
	case err != nil || addr.Address != in.ContactEmail:
		errs = append(errs, fmt.Sprintf("contact_email: %q is not an email address", in.ContactEmail))
	case len(in.ContactEmail) > maxEmail:
		errs = append(errs, fmt.Sprintf("contact_email: must be at most %d characters long", maxEmail))
	}
	t, known := a.types.Lookup(in.Type)
	switch {
	case in.Type == "":
		errs = append(errs, "type: is required")
	case !known:
		errs = append(errs, fmt.Sprintf("type: %q: want one of %s", in.Type, strings.Join(a.types.Names(), ", ")))
	}
	if in.Identifier != "" && !slices.Contains(Identifiers, in.Identifier) {
		errs = append(errs, fmt.Sprintf("identifier: %q: want one of %s", in.Identifier, strings.Join(Identifiers, ", ")))
	}
	if len(in.Properties) > maxProperties {
		errs = append(errs, fmt.Sprintf("properties: must hold at most %d items", maxProperties))
	}
	if len(in.Secrets) > maxSecrets {
		errs = append(errs, fmt.Sprintf("secrets: must hold at most %d items", maxSecrets))
	}
	if known {
		secrets := in.Secrets
		if secrets == nil {
			secrets = kept
		}
		checked := t.Check(in.Properties, secrets)
		errs = append(errs, checked...)
		for _, f := range t.Properties {
			v := in.Properties[f.Name]
			if !(f.URL || f.Address) || v == "" || slices.ContainsFunc(checked, func(e string) bool { return strings.HasPrefix(e, "properties."+f.Name+":") }) {
				continue
			}
			check := a.opts.Egress.CheckURL
			if f.Address {
				check = a.opts.Egress.CheckAddress
			}
			if err := check(ctx, v); err != nil {
				errs = append(errs, fmt.Sprintf("properties.%s: %v", f.Name, err))
			}
		}
		if old != nil && in.Secrets == nil && len(old.SealedSecret) > 0 {
			for _, f := range t.Properties {
				was, now := Origin(old.Properties[f.Name]), Origin(in.Properties[f.Name])
				if f.Address {
					was, now = addressOrigin(old.Properties[f.Name]), addressOrigin(in.Properties[f.Name])
				}
				if (f.URL || f.Address) && was != now {
					errs = append(errs, fmt.Sprintf("secrets: properties.%s moves from %s to %s: enter the secrets again (they are never sent to a host they were not entered for)",
						f.Name, orNone(was), orNone(now)))
				}
			}
		}
	}
	return errs
}

// addressOrigin is an Address property's host and port, lower case, the
// unit its secrets are entered for ("" when empty; the port as written,
// none when it has none).
func addressOrigin(raw string) string {
	raw = strings.ToLower(strings.TrimSpace(raw))
	if h, p, err := net.SplitHostPort(raw); err == nil {
		return net.JoinHostPort(h, p)
	}
	return raw
}

func orNone(origin string) string {
	if origin == "" {
		return "none"
	}
	return origin
}

func checkText(field, v string, max int) []string {
	switch {
	case v == "":
		return []string{field + ": is required"}
	case utf8.RuneCountInString(v) > max:
		return []string{fmt.Sprintf("%s: must be at most %d characters long", field, max)}
	}
	return nil
}

// CreateConfiguration checks in, seals its secrets and stores it as a new
// configuration of org. ErrNoKey without a sealing key; ErrInvalid lists
// every problem.
func (a *Admin) CreateConfiguration(ctx context.Context, org string, in ConfigurationInput) (Configuration, error) {
	if !a.CanWrite() {
		return Configuration{}, adminError(ErrNoKey, "destination secrets cannot be sealed: no sealing key is configured")
	}
	if errs := a.CheckConfiguration(ctx, in, nil, nil); len(errs) > 0 {
		return Configuration{}, invalid(errs)
	}
	now := a.now()
	c := Configuration{ID: uuid.NewString(), Org: org, CreatedAt: now, Revision: 1}
	if err := a.putConfiguration(ctx, &c, in, now); err != nil {
		return Configuration{}, err
	}
	return c, nil
}

// UpdateConfiguration replaces the configuration (org, id) with in (nil
// Secrets keep the stored ones, unless a URL's origin changes), bumps its
// revision and re-drives its parked and rejected deliveries, and its
// pending ones too (due now) when what is sent or where changes (type,
// identifier, properties or secrets). ErrNoKey, ErrNotFound, ErrInvalid.
func (a *Admin) UpdateConfiguration(ctx context.Context, org, id string, in ConfigurationInput) (Configuration, error) {
	if !a.CanWrite() {
		return Configuration{}, adminError(ErrNoKey, "destination secrets cannot be sealed: no sealing key is configured")
	}
	c, err := a.Configuration(ctx, org, id)
	if err != nil {
		return Configuration{}, err
	}
	kept, err := a.opts.Sealer.Open(org, id, c.SealedSecret)
	if err != nil {
		kept = nil // unreadable (the key changed): the input must bring the secrets
	}
	old := c
	if errs := a.CheckConfiguration(ctx, in, &old, kept); len(errs) > 0 {
		return Configuration{}, invalid(errs)
	}
	now := a.now()
	c.Revision++
	if err := a.putConfiguration(ctx, &c, in, now); err != nil {
		return Configuration{}, err
	}
	states := []string{StateParked, StateRejected}
	if in.Secrets != nil || c.Type != old.Type || c.Identifier != old.Identifier || !maps.Equal(c.Properties, old.Properties) {
		states = append(states, StatePending) // a fix: try at once, not at the old schedule's slot
	}
	if _, err := a.redrive(ctx, org, id, states, now); err != nil {
		return Configuration{}, fmt.Errorf("re-drive after the edit: %w", err)
	}
	return c, nil
}

// putConfiguration applies in to c, seals the secrets and stores c.
func (a *Admin) putConfiguration(ctx context.Context, c *Configuration, in ConfigurationInput, now time.Time) error {
	c.Name, c.ContactEmail, c.Type, c.Identifier = in.Name, in.ContactEmail, in.Type, in.Identifier
	if c.Identifier == "" {
		c.Identifier = IdentifierMbox
	}
	c.Properties, c.UpdatedAt = in.Properties, now
	if in.Secrets != nil {
		sealed, err := a.opts.Sealer.Seal(c.Org, c.ID, in.Secrets)
		if err != nil {
			return err
		}
		c.SealedSecret = sealed
	}
	if err := a.store.PutConfiguration(ctx, *c); err != nil {
		return err
	}
	a.invalidate(c.Org)
	return nil
}

// DeleteConfiguration removes the configuration (org, id) and detaches it
// from the organization's objectives (its deliveries and log stay).
// ErrNotFound.
func (a *Admin) DeleteConfiguration(ctx context.Context, org, id string) error {
	if err := a.store.DeleteConfiguration(ctx, org, id); errors.Is(err, ErrNotFound) {
		return adminError(ErrNotFound, "no configuration %q in organization %q", id, org)
	} else if err != nil {
		return err
	}
	defer a.invalidate(org)
	objs, err := a.store.ListObjectives(ctx, org)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if i := slices.Index(o.Configurations, id); i >= 0 {
			o.Configurations = slices.Delete(o.Configurations, i, i+1)
			o.UpdatedAt = a.now()
			if err := a.store.PutObjective(ctx, o); err != nil {
				return err
			}
		}
	}
	// The ids of the remote assignments it created name nothing any other
	// configuration uses (ids are never reused); a failure here leaves
	// records no one reads.
	if err := a.store.DeleteAssignments(ctx, org, id); err != nil {
		return fmt.Errorf("delete the configuration's assignment records: %w", err)
	}
	if err := a.store.DeleteBackfills(ctx, org, id); err != nil {
		return fmt.Errorf("delete the configuration's backfill jobs: %w", err)
	}
	return nil
}

// redactor removes a configuration's secrets, in every form the kit
// knows, from text shown to the administrator. The engine stored the text
// redacted already; redacting again on the way out also scrubs what an
// earlier version stored with a weaker redaction.
func (a *Admin) redactor(c Configuration) *Redactor {
	if a.opts.Sealer == nil || len(c.SealedSecret) == 0 {
		return nil
	}
	secrets, err := a.opts.Sealer.OpenConfiguration(c)
	if err != nil {
		return nil
	}
	return ConfigRedactor(c.Properties, secrets)
}

// Status returns the status of the configuration (org, id), Not attempted
// before its first attempt, its last error redacted, and its deliveries'
// counts. ErrNotFound.
func (a *Admin) Status(ctx context.Context, org, id string) (ConfigStatus, Counts, error) {
	c, err := a.Configuration(ctx, org, id)
	if err != nil {
		return ConfigStatus{}, Counts{}, err
	}
	s, err := a.store.GetStatus(ctx, org, id)
	if errors.Is(err, ErrNotFound) {
		s, err = ConfigStatus{Org: org, ConfigurationID: id, Status: StatusNotAttempted}, nil
	}
	if err != nil {
		return ConfigStatus{}, Counts{}, err
	}
	n, err := a.store.CountDeliveries(ctx, org, id)
	if err != nil {
		return ConfigStatus{}, Counts{}, err
	}
	s.LastError = a.redactor(c).Redact(s.LastError)
	if s.StoppedRevision != c.Revision { // a stop of an earlier revision: the edit resumed
		s.StoppedRevision, s.StoppedAt, s.StopReason = 0, time.Time{}, ""
	}
	s.StopReason = a.redactor(c).Redact(s.StopReason)
	return s, n, nil
}

// Deliveries returns at most limit of the configuration's deliveries in
// state ("" for all), newest first, their errors redacted. ErrInvalid for
// an unknown state, ErrNotFound.
func (a *Admin) Deliveries(ctx context.Context, org, id, state string, limit int) ([]Delivery, error) {
	if state != "" && !slices.Contains(States, state) {
		return nil, invalid([]string{fmt.Sprintf("state: %q: want one of %s", state, strings.Join(States, ", "))})
	}
	c, err := a.Configuration(ctx, org, id)
	if err != nil {
		return nil, err
	}
	ds, err := a.store.ListDeliveries(ctx, org, id, state, limit)
	if err != nil {
		return nil, err
	}
	redact := a.redactor(c)
	for i := range ds {
		ds[i].LastError = redact.Redact(ds[i].LastError)
	}
	return ds, nil
}

// Attempts returns at most limit entries of the configuration's delivery
// log, newest first, redacted. ErrNotFound.
func (a *Admin) Attempts(ctx context.Context, org, id string, limit int) ([]Attempt, error) {
	c, err := a.Configuration(ctx, org, id)
	if err != nil {
		return nil, err
	}
	as, err := a.store.ListAttempts(ctx, org, id, limit)
	if err != nil {
		return nil, err
	}
	redact := a.redactor(c)
	for i := range as {
		as[i].Response = redact.Redact(as[i].Response)
	}
	return as, nil
}

// Tester is implemented by destinations that can check their settings
// without sending a result (the admin API's test connection).
type Tester interface {
	// Test returns a Result classified like an attempt's, with no secret.
	Test(ctx context.Context) Result
}

// TestConfiguration builds the configuration's destination and checks it
// without sending a result; the Result is classified like an attempt's and
// redacted. It does not change the configuration's status. ErrNoKey,
// ErrNotFound, ErrConflict (a type this binary does not serve, or that
// cannot be tested).
func (a *Admin) TestConfiguration(ctx context.Context, org, id string) (Result, error) {
	if !a.CanWrite() {
		return Result{}, adminError(ErrNoKey, "destination secrets cannot be opened: no sealing key is configured")
	}
	c, err := a.Configuration(ctx, org, id)
	if err != nil {
		return Result{}, err
	}
	t, ok := a.types.Lookup(c.Type)
	if !ok {
		return Result{}, adminError(ErrConflict, "this server cannot send to configurations of type %q", c.Type)
	}
	secrets, err := a.opts.Sealer.OpenConfiguration(c)
	if err != nil {
		return Result{Outcome: OutcomeDestination, Message: "the stored secrets cannot be opened (was the sealing key changed?): save the configuration with its secrets again"}, nil
	}
	dest, err := t.Factory(c, secrets)
	if err != nil {
		return Result{Outcome: OutcomeDestination, Message: ConfigRedactor(c.Properties, secrets).Redact("invalid configuration: " + err.Error())}, nil
	}
	tester, ok := dest.(Tester)
	if !ok {
		return Result{}, adminError(ErrConflict, "configurations of type %q cannot be tested", c.Type)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.TestTimeout)
	defer cancel()
	return redactorOf(c, secrets, dest).RedactResult(tester.Test(ctx)), nil
}

// RedriveStates are the states Redrive re-drives when none are given.
var RedriveStates = []string{StatePending, StateParked, StateRejected}

// Redrive makes the configuration's deliveries in states (default
// RedriveStates) pending again, due now, with a fresh retry schedule, and
// returns how many. Delivered ones re-driven are sent again. ErrInvalid
// for an unknown state, ErrNotFound.
func (a *Admin) Redrive(ctx context.Context, org, id string, states []string) (int, error) {
	if len(states) == 0 {
		states = RedriveStates
	}
	var errs []string
	for i, st := range states {
		if !slices.Contains(States, st) {
			errs = append(errs, fmt.Sprintf("states[%d]: %q: want one of %s", i, st, strings.Join(States, ", ")))
		}
	}
	if len(errs) > 0 {
		return 0, invalid(errs)
	}
	if _, err := a.Configuration(ctx, org, id); err != nil {
		return 0, err
	}
	return a.redrive(ctx, org, id, slices.Compact(slices.Sorted(slices.Values(states))), a.now())
}

func (a *Admin) redrive(ctx context.Context, org, id string, states []string, now time.Time) (int, error) {
	n, err := a.store.Redrive(ctx, org, id, states, now)
	if err == nil && a.opts.Redriven != nil {
		a.opts.Redriven(org, id)
	}
	return n, err
}

// ---- objectives ----

// ObjectiveInput is an objective as an administrator writes it.
type ObjectiveInput struct {
	Name           string
	ActivityID     string
	Verbs          []string // none: every verb counts
	Configurations []string // ids of the organization's configurations
	// LatestAttemptCounts: results follow the latest attempt, not the best.
	LatestAttemptCounts bool
	// Backfill: each configuration this attaches (not attached before)
	// is also sent what the objective matched before (a backfill job per
	// configuration, admin_backfill.go); without it, only what comes next.
	Backfill bool
}

// ListObjectives returns org's objectives, ordered by ID.
func (a *Admin) ListObjectives(ctx context.Context, org string) ([]Objective, error) {
	return a.store.ListObjectives(ctx, org)
}

// Objective returns the objective (org, id); ErrNotFound.
func (a *Admin) Objective(ctx context.Context, org, id string) (Objective, error) {
	o, err := a.store.GetObjective(ctx, org, id)
	if errors.Is(err, ErrNotFound) {
		return o, adminError(ErrNotFound, "no objective %q in organization %q", id, org)
	}
	return o, err
}

// CheckObjective returns every problem of in (nil when it can be stored):
// the activity and the verbs are IRIs by the rule statements follow
// (schema.ValidIRI), and the configurations are org's.
func (a *Admin) CheckObjective(ctx context.Context, org string, in ObjectiveInput) ([]string, error) {
	cfgs, err := a.store.ListConfigurations(ctx, org)
	if err != nil {
		return nil, err
	}
	errs := checkText("name", in.Name, maxName)
	switch {
	case in.ActivityID == "":
		errs = append(errs, "activity_id: is required")
	case !schema.ValidIRI(in.ActivityID):
		errs = append(errs, fmt.Sprintf("activity_id: %q is not an absolute IRI", in.ActivityID))
	}
	errs = append(errs, checkList("verbs", in.Verbs, func(i int, v string) string {
		if !schema.ValidIRI(v) {
			return fmt.Sprintf("verbs[%d]: %q is not an absolute IRI", i, v)
		}
		return ""
	})...)
	errs = append(errs, checkList("configurations", in.Configurations, func(i int, id string) string {
		switch {
		case id == "":
			return fmt.Sprintf("configurations[%d]: is required", i)
		case !slices.ContainsFunc(cfgs, func(c Configuration) bool { return c.ID == id }):
			return fmt.Sprintf("configurations[%d]: no configuration %q in this organization", i, id)
		}
		return ""
	})...)
	return errs, nil
}

// checkList checks a list of at most maxObjectRefs distinct values, then
// each value.
func checkList(field string, vs []string, each func(i int, v string) string) []string {
	switch {
	case len(vs) > maxObjectRefs:
		return []string{fmt.Sprintf("%s: must hold at most %d items", field, maxObjectRefs)}
	case len(slices.Compact(slices.Sorted(slices.Values(vs)))) != len(vs):
		return []string{field + ": must not repeat a value"}
	}
	var errs []string
	for i, v := range vs {
		if e := each(i, v); e != "" {
			errs = append(errs, e)
		}
	}
	return errs
}

// CreateObjective checks in and stores it as a new objective of org.
// ErrInvalid lists every problem.
func (a *Admin) CreateObjective(ctx context.Context, org string, in ObjectiveInput) (Objective, error) {
	o, _, err := a.CreateObjectiveBackfill(ctx, org, in)
	return o, err
}

// CreateObjectiveBackfill is CreateObjective that also returns the
// backfill jobs it started (in.Backfill).
func (a *Admin) CreateObjectiveBackfill(ctx context.Context, org string, in ObjectiveInput) (Objective, []BackfillJob, error) {
	now := a.now()
	o := Objective{ID: uuid.NewString(), Org: org, CreatedAt: now}
	if err := a.putObjective(ctx, &o, in, now); err != nil {
		return Objective{}, nil, err
	}
	jobs, err := a.startBackfills(ctx, o, nil, in.Backfill)
	return o, jobs, err
}

// UpdateObjective replaces the objective (org, id) with in. ErrNotFound,
// ErrInvalid.
func (a *Admin) UpdateObjective(ctx context.Context, org, id string, in ObjectiveInput) (Objective, error) {
	o, _, err := a.UpdateObjectiveBackfill(ctx, org, id, in)
	return o, err
}

// UpdateObjectiveBackfill is UpdateObjective that also returns the
// backfill jobs it started (in.Backfill: one per configuration it
// attaches).
func (a *Admin) UpdateObjectiveBackfill(ctx context.Context, org, id string, in ObjectiveInput) (Objective, []BackfillJob, error) {
	o, err := a.Objective(ctx, org, id)
	if err != nil {
		return Objective{}, nil, err
	}
	before := o
	if err := a.putObjective(ctx, &o, in, a.now()); err != nil {
		return Objective{}, nil, err
	}
	if err := a.recomputeIfRulesChanged(ctx, before, o); err != nil {
		return o, nil, err
	}
	jobs, err := a.startBackfills(ctx, o, before.Configurations, in.Backfill)
	return o, jobs, err
}

func (a *Admin) putObjective(ctx context.Context, o *Objective, in ObjectiveInput, now time.Time) error {
	errs, err := a.CheckObjective(ctx, o.Org, in)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return invalid(errs)
	}
	attached := map[string]time.Time{}
	for _, cid := range in.Configurations {
		if at, ok := o.Attached[cid]; ok {
			attached[cid] = at
		} else if !slices.Contains(o.Configurations, cid) {
			attached[cid] = now // attached now: what came before is the backfill's
		}
	}
	o.Name, o.ActivityID, o.Verbs, o.Configurations, o.UpdatedAt = in.Name, in.ActivityID, in.Verbs, in.Configurations, now
	o.LatestAttemptCounts, o.Attached = in.LatestAttemptCounts, attached
	if err := a.store.PutObjective(ctx, *o); err != nil {
		return err
	}
	a.invalidate(o.Org)
	return nil
}

// DeleteObjective removes the objective (org, id) and its results.
// ErrNotFound.
func (a *Admin) DeleteObjective(ctx context.Context, org, id string) error {
	if err := a.store.DeleteObjective(ctx, org, id); errors.Is(err, ErrNotFound) {
		return adminError(ErrNotFound, "no objective %q in organization %q", id, org)
	} else if err != nil {
		return err
	}
	a.invalidate(org)
	return a.deleteResults(ctx, org, id)
}

// StatementDeliveries returns the deliveries one statement of org owes.
func (a *Admin) StatementDeliveries(ctx context.Context, org, statementID string) ([]Delivery, error) {
	return a.store.DeliveriesOfStatement(ctx, org, statementID)
}
