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

// mappingType is a destination type with a preview: it renders the body
// its template property describes, with the token it was given (which the
// administration must redact), and the remote assignment it finds for
// section "s" and objective "o" when it may read them.
func mappingType() forward.Type {
	t := probeType()
	t.Name = "mapping"
	t.Properties = append(t.Properties, forward.Field{Name: "template", Kind: forward.KindJSON, Required: true})
	t.Preview = func(ctx context.Context, env forward.PreviewEnv, c forward.Configuration, secrets map[string]string, at time.Time) (forward.Preview, error) {
		if !strings.HasPrefix(c.Properties["template"], "{") {
			return forward.Preview{}, errors.New("properties.template: not an object, token " + secrets["token"])
		}
		notes := []string{"sent at " + at.Format(time.RFC3339)}
		if env.Assignments != nil {
			rec, err := env.Assignments.GetAssignment(ctx, forward.AssignmentKey{Org: c.Org, Configuration: c.ID, Section: "s", Objective: "o"})
			notes = append(notes, fmt.Sprintf("assignment %q, %v", rec.AssignmentID, err))
		}
		return forward.Preview{Method: "POST", URL: c.Properties["url"], Body: c.Properties["template"] + " for " + c.ID,
			Headers: map[string][]string{"Authorization": {"Bearer " + secrets["token"]}}, Notes: notes}, nil
	}
	return t
}

func TestAdminPreview(t *testing.T) {
	h := newAdmin(t, true)
	h.admin = forward.NewAdmin(h.store, forwardtest.Registry(t, probeType(), mappingType()),
		forward.AdminOptions{Sealer: sealer(t), Now: func() time.Time { return t0 }})
	ctx := context.Background()
	in := goodConfig
	in.Type, in.Properties = "mapping", map[string]string{"url": "https://lms.example/in", "template": `{"score":1}`}

	p, err := h.admin.Preview(ctx, org, "", in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Method != "POST" || p.Body != `{"score":1} for preview` || !slices.Equal(p.Headers["Authorization"], []string{"Bearer [redacted]"}) ||
		!slices.Equal(p.Notes, []string{"sent at " + t0.Format(time.RFC3339)}) {
		t.Errorf("preview of a new configuration: %+v", p)
	}
	// The problems a save would have, and nothing rendered.
	bad := in
	bad.Properties = map[string]string{"url": "https://lms.example/in"}
	var ae *forward.AdminError
	if _, err := h.admin.Preview(ctx, org, "", bad); !errors.As(err, &ae) || !slices.Equal(ae.Problems, []string{"properties.template: is required"}) {
		t.Errorf("preview of an invalid configuration: %v", err)
	}
	// The preview's own refusal is a problem too, redacted.
	bad.Properties = map[string]string{"url": "https://lms.example/in", "template": "[]"}
	if _, err := h.admin.Preview(ctx, org, "", bad); !errors.As(err, &ae) || !errors.Is(err, forward.ErrInvalid) ||
		ae.Problems[0] != "properties.template: not an object, token [redacted]" {
		t.Errorf("preview refused by the type: %v", err)
	}
	// Editing a stored configuration: its secrets stand in for the missing ones.
	c, err := h.admin.CreateConfiguration(ctx, org, in)
	if err != nil {
		t.Fatal(err)
	}
	edit := in
	edit.Secrets, edit.Properties = nil, map[string]string{"url": "https://lms.example/in", "template": `{"score":2}`}
	if p, err := h.admin.Preview(ctx, org, c.ID, edit); err != nil || p.Body != `{"score":2} for `+c.ID || p.Headers["Authorization"][0] != "Bearer [redacted]" ||
		!slices.Contains(p.Notes, `assignment "", forward: no assignment record`) {
		t.Errorf("preview of an edit: %+v, %v", p, err)
	}
	// A saved configuration's preview reads the assignments its
	// destination recorded (a new one's reads none: above).
	key := forward.AssignmentKey{Org: org, Configuration: c.ID, Section: "s", Objective: "o"}
	if _, won, err := h.store.ReserveAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "r1", ReservedAt: t0}); err != nil || !won {
		t.Fatal(won, err)
	}
	if err := h.store.ResolveAssignment(ctx, key, "r1", "asg-1", t0); err != nil {
		t.Fatal(err)
	}
	if p, err := h.admin.Preview(ctx, org, c.ID, edit); err != nil || !slices.Contains(p.Notes, `assignment "asg-1", <nil>`) {
		t.Errorf("preview of a configuration whose destination recorded an assignment: %+v, %v", p, err)
	}
	if got, _ := h.admin.Configuration(ctx, org, c.ID); got.Properties["template"] != `{"score":1}` {
		t.Errorf("a preview changed the stored configuration: %v", got.Properties)
	}
	if _, err := h.admin.Preview(ctx, "other-org", c.ID, edit); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("preview of another organization's configuration: %v", err)
	}
	// A type without a preview.
	if _, err := h.admin.Preview(ctx, org, "", goodConfig); !errors.Is(err, forward.ErrConflict) {
		t.Errorf("preview of a type without one: %v", err)
	}
}

func sealer(t *testing.T) *forward.Sealer {
	s, err := forward.NewSealer([]byte(strings.Repeat("s", forward.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
