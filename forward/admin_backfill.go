package forward

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// startBackfills starts, when backfill is set, a backfill job for each
// configuration of o that was not among attached before (the objective's
// configurations before the edit), and returns them.
func (a *Admin) startBackfills(ctx context.Context, o Objective, attached []string, backfill bool) ([]BackfillJob, error) {
	if !backfill {
		return nil, nil
	}
	jobs := []BackfillJob{}
	now := a.now()
	for _, cid := range o.Configurations {
		if slices.Contains(attached, cid) {
			continue
		}
		cfg, err := a.store.GetConfiguration(ctx, o.Org, cid)
		if err != nil {
			return jobs, fmt.Errorf("start the backfill of configuration %s: %w", cid, err)
		}
		// Until is after the objective's write: a statement stored later
		// in this process sees the attach, one stored before is in the
		// backfill (both: one delivery, ensured twice).
		j := BackfillJob{Org: o.Org, ConfigurationID: cid, ObjectiveID: o.ID, ID: uuid.NewString(),
			Kind: BackfillKind(a.types, cfg), State: BackfillRunning, Until: now, StartedAt: now, UpdatedAt: now}
		if err := a.store.StartBackfill(ctx, j); err != nil {
			return jobs, fmt.Errorf("start the backfill of configuration %s: %w", cid, err)
		}
		jobs = append(jobs, j)
	}
	if len(jobs) > 0 && a.opts.BackfillStarted != nil {
		a.opts.BackfillStarted()
	}
	return jobs, nil
}

// Backfills returns the backfill jobs of the configuration (org, id), one
// per objective it was attached to with a backfill, ordered by objective.
// ErrNotFound.
func (a *Admin) Backfills(ctx context.Context, org, id string) ([]BackfillJob, error) {
	if _, err := a.Configuration(ctx, org, id); err != nil {
		return nil, err
	}
	return a.store.ListBackfills(ctx, org, id)
}
