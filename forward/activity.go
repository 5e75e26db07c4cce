package forward

import (
	"context"
	"time"
)

// The activity of a configuration over time: what its attempts delivered
// and what failed, counted per hour as the attempts are logged, so that a
// chart of the last 24 hours or 30 days reads at most 720 small records,
// however many statements went through.

// HourCount is what a configuration's attempts of one hour did.
type HourCount struct {
	Hour      time.Time // the hour's start, UTC
	Attempts  int
	Delivered int // statements sent by successful attempts
	Failed    int // statements of attempts that failed (each attempt counts)
}

// CountAttempt is what a adds to the counts of its hour: its statements
// delivered when it succeeded, failed otherwise (an attempt without
// statements, a probe, counts its one attempt).
func CountAttempt(a Attempt) HourCount {
	n := HourCount{Hour: a.At.UTC().Truncate(time.Hour), Attempts: 1}
	if a.Outcome == OutcomeSuccess {
		n.Delivered = len(a.StatementIDs)
	} else {
		n.Failed = len(a.StatementIDs)
	}
	return n
}

// Activity returns the configuration's counts per hour from since to until
// (see AttemptLog.AttemptCounts), one entry per hour, zeros included.
// ErrNotFound.
func (a *Admin) Activity(ctx context.Context, org, id string, since, until time.Time) ([]HourCount, error) {
	if _, err := a.Configuration(ctx, org, id); err != nil {
		return nil, err
	}
	since, until = since.UTC().Truncate(time.Hour), until.UTC().Truncate(time.Hour)
	got, err := a.store.AttemptCounts(ctx, org, id, since, until)
	if err != nil {
		return nil, err
	}
	var out []HourCount
	i := 0
	for h := since; !h.After(until); h = h.Add(time.Hour) {
		for i < len(got) && got[i].Hour.Before(h) {
			i++
		}
		if i < len(got) && got[i].Hour.Equal(h) {
			out = append(out, got[i])
			continue
		}
		out = append(out, HourCount{Hour: h})
	}
	return out, nil
}
