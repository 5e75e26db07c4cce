package forward_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The activity of a configuration lists every hour of the range, from the
// counts its attempts made.
func TestAdminActivity(t *testing.T) {
	h := newAdmin(t, true)
	ctx := context.Background()
	c, err := h.admin.CreateConfiguration(ctx, org, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	h0 := t0.Truncate(time.Hour)
	for _, a := range []forward.Attempt{
		{At: h0.Add(10 * time.Minute), Outcome: forward.OutcomeSuccess, StatementIDs: []string{"a", "b"}},
		{At: h0.Add(20 * time.Minute), Outcome: forward.OutcomeTransport, StatementIDs: []string{"c"}},
		{At: h0.Add(2*time.Hour + time.Minute), Outcome: forward.OutcomeSuccess, StatementIDs: []string{"c"}},
	} {
		a.Org, a.ConfigurationID = org, c.ID
		if err := h.store.AddAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.admin.Activity(ctx, org, c.ID, h0.Add(-time.Hour+time.Minute), h0.Add(2*time.Hour+30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []forward.HourCount{{Hour: h0.Add(-time.Hour)}, {Hour: h0, Attempts: 2, Delivered: 2, Failed: 1},
		{Hour: h0.Add(time.Hour)}, {Hour: h0.Add(2 * time.Hour), Attempts: 1, Delivered: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("activity = %+v,\nwant %+v", got, want)
	}
	if _, err := h.admin.Activity(ctx, org, "nope", h0, h0); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("activity of a missing configuration: %v", err)
	}
}
