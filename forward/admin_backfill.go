package forward

import (
	"context"
	"errors"
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

// RestartBackfill starts the failed backfill of the configuration (org,
// configID) to the objective objectiveID again from the beginning, as a
// new run (as an attach with a backfill would: bounded by now), and
// returns it. ErrNotFound when the configuration or the job is unknown;
// ErrConflict when the job has not failed, the objective was deleted, or
// the configuration is no longer attached to it (attach it again, with a
// backfill, instead), or it changed meanwhile.
func (a *Admin) RestartBackfill(ctx context.Context, org, configID, objectiveID string) (BackfillJob, error) {
	cfg, err := a.Configuration(ctx, org, configID)
	if err != nil {
		return BackfillJob{}, err
	}
	cur, err := a.store.GetBackfill(ctx, org, configID, objectiveID)
	if errors.Is(err, ErrNotFound) {
		return BackfillJob{}, adminError(ErrNotFound, "no backfill of configuration %q to objective %q", configID, objectiveID)
	} else if err != nil {
		return BackfillJob{}, err
	}
	if cur.State != BackfillFailed {
		return BackfillJob{}, adminError(ErrConflict, "the backfill is %s, not failed: only a failed backfill is restarted", cur.State)
	}
	o, err := a.store.GetObjective(ctx, org, objectiveID)
	if errors.Is(err, ErrNotFound) {
		return BackfillJob{}, adminError(ErrConflict, "the objective %s was deleted: there is nothing to backfill", objectiveID)
	} else if err != nil {
		return BackfillJob{}, err
	}
	if !slices.Contains(o.Configurations, configID) {
		return BackfillJob{}, adminError(ErrConflict, "the configuration is no longer attached to the objective: attach it again, with a backfill")
	}
	now := a.now()
	j := BackfillJob{Org: org, ConfigurationID: configID, ObjectiveID: objectiveID, ID: uuid.NewString(),
		Kind: BackfillKind(a.types, cfg), State: BackfillRunning, Until: now, StartedAt: now, UpdatedAt: now}
	if err := a.store.RestartBackfill(ctx, j, cur.ID); errors.Is(err, ErrBackfillNotFailed) {
		return BackfillJob{}, adminError(ErrConflict, "the backfill changed meanwhile (restarted or started again): reload it")
	} else if err != nil {
		return BackfillJob{}, fmt.Errorf("restart the backfill of configuration %s: %w", configID, err)
	}
	if a.opts.BackfillStarted != nil {
		a.opts.BackfillStarted()
	}
	return j, nil
}
