package forward_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
)

// probe is a destination that answers Test with what it was configured
// with, secret included (which the administration must redact).
type probe struct{ secret string }

func (p probe) Send(context.Context, []forward.Item) forward.Result { return forward.Result{} }
func (p probe) MaxBatch() int                                       { return 1 }
func (p probe) Test(context.Context) forward.Result {
	return forward.Result{Outcome: forward.OutcomeDestination, Status: 401, Message: "refused token " + p.secret}
}

func probeType() forward.Type {
	return forward.Type{
		Name: "probe", Sink: forward.SinkAppend,
		Properties: []forward.Field{{Name: "url", Required: true, URL: true}, {Name: "token_url", URL: true}, {Name: "mode"}},
		Secrets:    []forward.Field{{Name: "token", Required: true}},
		Factory: func(_ forward.Configuration, secrets map[string]string) (forward.Destination, error) {
			return probe{secrets["token"]}, nil
		},
	}
}

type adminHarness struct {
	store       *forwardtest.Memory
	admin       *forward.Admin
	invalidated []string
}

func newAdmin(t *testing.T, sealed bool) *adminHarness {
	t.Helper()
	h := &adminHarness{store: forwardtest.NewMemory()}
	opts := forward.AdminOptions{Invalidate: func(org string) { h.invalidated = append(h.invalidated, org) },
		Now: func() time.Time { return t0 }}
	if sealed {
		s, err := forward.NewSealer([]byte(strings.Repeat("s", forward.KeySize)))
		if err != nil {
			t.Fatal(err)
		}
		opts.Sealer = s
	}
	h.admin = forward.NewAdmin(h.store, forwardtest.Registry(t, probeType()), opts)
	return h
}

var goodConfig = forward.ConfigurationInput{Name: "LMS", ContactEmail: "ops@example.com", Type: "probe",
	Properties: map[string]string{"url": "https://lms.example"}, Secrets: map[string]string{"token": "t0k3n-secret"}}

func TestAdminConfigurations(t *testing.T) {
	h := newAdmin(t, true)
	ctx := context.Background()
	_, err := h.admin.CreateConfiguration(ctx, org, forward.ConfigurationInput{ContactEmail: "nope", Type: "ftp", Identifier: "phone"})
	var ae *forward.AdminError
	if !errors.As(err, &ae) || !errors.Is(err, forward.ErrInvalid) ||
		!slices.Equal(ae.Problems, []string{"name: is required", `contact_email: "nope" is not an email address`, `type: "ftp": want one of probe`, `identifier: "phone": want one of mbox, account`}) {
		t.Fatalf("invalid input: %v (%+v)", err, ae)
	}
	c, err := h.admin.CreateConfiguration(ctx, org, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	if c.Revision != 1 || c.Identifier != forward.IdentifierMbox || len(c.SealedSecret) == 0 || strings.Contains(string(c.SealedSecret), "t0k3n") {
		t.Errorf("created %+v", c)
	}
	// Parked and rejected deliveries are re-driven by an edit, which keeps
	// the secrets when none are given.
	_ = h.store.EnsureDeliveries(ctx, []forward.Delivery{
		{Org: org, ConfigurationID: c.ID, StatementID: "s1", State: forward.StateParked, CreatedAt: t0},
		{Org: org, ConfigurationID: c.ID, StatementID: "s2", State: forward.StateDelivered, CreatedAt: t0},
	})
	in := goodConfig
	in.Secrets, in.Name = nil, "LMS 2"
	u, err := h.admin.UpdateConfiguration(ctx, org, c.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if u.Revision != 2 || u.Name != "LMS 2" || string(u.SealedSecret) != string(c.SealedSecret) {
		t.Errorf("updated %+v", u)
	}
	if d, _ := h.store.GetDelivery(ctx, org, c.ID, "s1"); d.State != forward.StatePending {
		t.Errorf("the parked delivery after the edit: %s", d.State)
	}
	if d, _ := h.store.GetDelivery(ctx, org, c.ID, "s2"); d.State != forward.StateDelivered {
		t.Errorf("the delivered one after the edit: %s", d.State)
	}
	if _, err := h.admin.UpdateConfiguration(ctx, "other-org", c.ID, in); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("update in another organization: %v", err)
	}
	// A test connection's answer is redacted.
	r, err := h.admin.TestConfiguration(ctx, org, c.ID)
	if err != nil || r.Status != 401 || strings.Contains(r.Message, "t0k3n-secret") || !strings.Contains(r.Message, "[redacted]") {
		t.Errorf("test: %+v, %v", r, err)
	}
	if !slices.Equal(h.invalidated, []string{org, org}) {
		t.Errorf("invalidated %v, want org after each write", h.invalidated)
	}
}

func TestAdminReadOnlyWithoutKey(t *testing.T) {
	h := newAdmin(t, false)
	ctx := context.Background()
	if _, err := h.admin.CreateConfiguration(ctx, org, goodConfig); !errors.Is(err, forward.ErrNoKey) {
		t.Errorf("create without a key: %v", err)
	}
	if _, err := h.admin.TestConfiguration(ctx, org, "c1"); !errors.Is(err, forward.ErrNoKey) {
		t.Errorf("test without a key: %v", err)
	}
	if l, err := h.admin.ListConfigurations(ctx, org); err != nil || len(l) != 0 {
		t.Errorf("list without a key: %v, %v", l, err)
	}
	if _, _, err := h.admin.Status(ctx, org, "c1"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("status of a missing configuration: %v", err)
	}
}

func TestAdminObjectives(t *testing.T) {
	h := newAdmin(t, true)
	ctx := context.Background()
	c, err := h.admin.CreateConfiguration(ctx, org, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	// IRIs follow the rule statements follow: schema's.
	_, err = h.admin.CreateObjective(ctx, org, forward.ObjectiveInput{Name: "q", ActivityID: "http://example.com/a b",
		Verbs: []string{"passed", "urn:x:passed"}, Configurations: []string{"nope", c.ID}})
	var ae *forward.AdminError
	if !errors.As(err, &ae) || !slices.Equal(ae.Problems, []string{`activity_id: "http://example.com/a b" is not an absolute IRI`,
		`verbs[0]: "passed" is not an absolute IRI`, `configurations[0]: no configuration "nope" in this organization`}) {
		t.Fatalf("invalid objective: %v", err)
	}
	if _, err := h.admin.CreateObjective(ctx, org, forward.ObjectiveInput{Name: "q", ActivityID: "urn:x:quiz",
		Verbs: []string{"urn:x:v", "urn:x:v"}}); err == nil || !strings.Contains(err.Error(), "verbs: must not repeat a value") {
		t.Errorf("repeated verbs: %v", err)
	}
	o, err := h.admin.CreateObjective(ctx, org, forward.ObjectiveInput{Name: "q", ActivityID: "urn:x:quiz", Configurations: []string{c.ID}})
	if err != nil {
		t.Fatal(err)
	}
	// The remote assignments' records go with the configuration.
	asg := forward.AssignmentKey{Org: org, Configuration: c.ID, Section: "s1", Objective: o.ID}
	if _, won, err := h.store.ReserveAssignment(ctx, forward.AssignmentRecord{Key: asg, Reservation: "r", ReservedAt: t0}); err != nil || !won {
		t.Fatalf("reserve: %v %v", won, err)
	}
	if err := h.admin.DeleteConfiguration(ctx, org, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := h.admin.Objective(ctx, org, o.ID); err != nil || len(got.Configurations) != 0 {
		t.Errorf("the deleted configuration is still attached: %+v, %v", got, err)
	}
	if _, err := h.store.GetAssignment(ctx, asg); !errors.Is(err, forward.ErrNoAssignment) {
		t.Errorf("the deleted configuration's assignment record: %v, want ErrNoAssignment", err)
	}
	if err := h.admin.DeleteObjective(ctx, org, o.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.admin.DeleteObjective(ctx, org, o.ID); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// URLs are checked against the egress policy when saved, and the stored
// secrets never follow a URL to another origin.
func TestAdminEgressAndSecretsFollowHosts(t *testing.T) {
	h := newAdmin(t, true)
	ctx := context.Background()
	for url, want := range map[string]string{
		"http://169.254.169.254/latest/meta-data/": "properties.url: 169.254.169.254 is a link-local address",
		"http://10.0.0.7/":                         "properties.url: 10.0.0.7 is a private address",
		"http://2130706433/":                       "properties.url: host \"2130706433\" is an address in a non-standard notation",
		"https://admin:hunter22@lms.example/":      "properties.url: must not carry a user name or password",
	} {
		in := goodConfig
		in.Properties = map[string]string{"url": url}
		_, err := h.admin.CreateConfiguration(ctx, org, in)
		if !errors.Is(err, forward.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("create with %s: %v, want %q", url, err, want)
		}
		if strings.Contains(fmt.Sprint(err), "hunter22") {
			t.Errorf("the error repeats the URL's password: %v", err)
		}
	}
	c, err := h.admin.CreateConfiguration(ctx, org, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, props := range []map[string]string{
		{"url": "https://evil.example"},                                        // another host
		{"url": "http://lms.example"},                                          // another scheme
		{"url": "https://lms.example:8443"},                                    // another port
		{"url": "https://lms.example", "token_url": "https://t.example/token"}, // a new URL the secrets would go to
	} {
		in := goodConfig
		in.Properties, in.Secrets = props, nil
		_, err := h.admin.UpdateConfiguration(ctx, org, c.ID, in)
		if !errors.Is(err, forward.ErrInvalid) || !strings.Contains(err.Error(), "enter the secrets again") {
			t.Errorf("edit to %v without secrets: %v, want a 400 asking for the secrets", props, err)
		}
	}
	// The same origin (another path, the default port written out) keeps
	// them; another origin with the secrets entered again is accepted.
	in := goodConfig
	in.Properties, in.Secrets = map[string]string{"url": "https://LMS.example:443/other/path", "mode": "x"}, nil
	if _, err := h.admin.UpdateConfiguration(ctx, org, c.ID, in); err != nil {
		t.Errorf("edit on the same origin: %v", err)
	}
	in.Properties, in.Secrets = map[string]string{"url": "https://lms2.example"}, map[string]string{"token": "n3w-secret"}
	if _, err := h.admin.UpdateConfiguration(ctx, org, c.ID, in); err != nil {
		t.Errorf("edit to another host with the secrets: %v", err)
	}
}
