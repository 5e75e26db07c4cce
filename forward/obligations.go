package forward

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Reasons of skipped deliveries.
const (
	ReasonNoMbox    = "the actor has no email (mbox); this configuration sends emails"
	ReasonNoAccount = "the actor has no account; this configuration sends account names"
)

// ObligationsTTL is how long Obligations trusts what it read of an
// organization's objectives and configurations.
const ObligationsTTL = 5 * time.Second

// Obligations derives the deliveries stored statements owe and ensures
// them (idempotently): it is the StatementObserver of the LRS service, and
// the reconciler re-runs it over statements stored since its watermark.
//
// A statement owes a delivery to every configuration attached to an
// objective whose activity is the statement's object and whose verbs
// include the statement's verb (all verbs when empty).
//
// The hot path costs one ListObjectives (and one ListConfigurations when
// there are objectives) per organization every ObligationsTTL; statements
// of an organization without objectives are not even parsed.
type Obligations struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
	ttl    time.Duration

	mu    sync.Mutex
	cache map[string]*orgRules

	wake func()                 // set by SetWake: tells a local engine that deliveries are due
	due  func(keys []ConfigKey) // set by SetDue: tells it which configurations' are

	types *Registry // set by SetSinks: overwrite configurations owe result deliveries (overwrite.go)
}

// SetWake registers f, called after new deliveries were ensured, so that
// an engine in the same process sends them without waiting for its poll.
func (o *Obligations) SetWake(f func()) {
	o.mu.Lock()
	o.wake = f
	o.mu.Unlock()
}

// SetDue registers f, called after new deliveries were ensured with the
// configurations they are due to (Engine.Due), instead of SetWake's.
func (o *Obligations) SetDue(f func(keys []ConfigKey)) {
	o.mu.Lock()
	o.due = f
	o.mu.Unlock()
}

// orgRules is what Obligations knows of an organization's objectives.
type orgRules struct {
	loaded     time.Time
	byActivity map[string][]Objective
	configs    map[string]Configuration
}

var _ StatementObserver = (*Obligations)(nil)

// NewObligations returns Obligations over store. now defaults to time.Now,
// logger to slog.Default().
func NewObligations(store Store, logger *slog.Logger, now func() time.Time) *Obligations {
	if logger == nil {
		logger = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Obligations{store: store, logger: logger, now: now, ttl: ObligationsTTL, cache: map[string]*orgRules{}}
}

// Invalidate forgets what was read of org's objectives and configurations
// (call it after editing them, so the next statement sees the edit).
func (o *Obligations) Invalidate(org string) {
	o.mu.Lock()
	delete(o.cache, org)
	o.mu.Unlock()
}

func (o *Obligations) rules(ctx context.Context, org string) (*orgRules, error) {
	now := o.now()
	o.mu.Lock()
	r, ok := o.cache[org]
	o.mu.Unlock()
	if ok && now.Sub(r.loaded) < o.ttl && !now.Before(r.loaded) {
		return r, nil
	}
	objs, err := o.store.ListObjectives(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("list objectives: %w", err)
	}
	r = &orgRules{loaded: now, byActivity: map[string][]Objective{}, configs: map[string]Configuration{}}
	for _, obj := range objs {
		if len(obj.Configurations) > 0 {
			r.byActivity[obj.ActivityID] = append(r.byActivity[obj.ActivityID], obj)
		}
	}
	if len(r.byActivity) > 0 {
		cfgs, err := o.store.ListConfigurations(ctx, org)
		if err != nil {
			return nil, fmt.Errorf("list configurations: %w", err)
		}
		for _, c := range cfgs {
			r.configs[c.ID] = c
		}
	}
	o.mu.Lock()
	o.cache[org] = r
	o.mu.Unlock()
	return r, nil
}

// stmtFields is what matching reads of a statement.
type stmtFields struct {
	Actor struct {
		Mbox    string `json:"mbox"`
		Account *struct {
			Name string `json:"name"`
		} `json:"account"`
	} `json:"actor"`
	Verb struct {
		ID string `json:"id"`
	} `json:"verb"`
	Object struct {
		ObjectType string `json:"objectType"`
		ID         string `json:"id"`
	} `json:"object"`
}

// StatementsStored ensures the deliveries stmts owe. An error means some
// may be missing; the call may be repeated.
func (o *Obligations) StatementsStored(ctx context.Context, org string, stmts []Statement) error {
	if len(stmts) == 0 {
		return nil
	}
	r, err := o.rules(ctx, org)
	if err != nil {
		return fmt.Errorf("forwarding obligations: %w", err)
	}
	if len(r.byActivity) == 0 {
		return nil
	}
	ds := o.derive(org, r, stmts)
	if len(ds) == 0 {
		return nil
	}
	if err := o.store.EnsureDeliveries(ctx, ds); err != nil {
		return fmt.Errorf("forwarding obligations: ensure %d deliveries: %w", len(ds), err)
	}
	o.mu.Lock()
	wake, due := o.wake, o.due
	o.mu.Unlock()
	switch {
	case due != nil:
		var keys []ConfigKey
		for _, d := range ds {
			if k := (ConfigKey{d.Org, d.ConfigurationID}); d.State == StatePending && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		due(keys)
	case wake != nil:
		wake()
	}
	return nil
}

// derive lists the deliveries stmts owe under r.
func (o *Obligations) derive(org string, r *orgRules, stmts []Statement) []Delivery {
	now := o.now().UTC()
	var ds []Delivery
	seen := map[string]bool{}
	for _, st := range stmts {
		var f stmtFields
		if err := readStmtFields(st.Raw, &f); err != nil {
			o.logger.Warn("forwarding: a stored statement does not parse; no obligations derived", "org", org, "statement", st.ID, "err", err)
			continue
		}
		if f.Object.ObjectType != "" && f.Object.ObjectType != "Activity" {
			continue
		}
		for _, obj := range r.byActivity[f.Object.ID] {
			if len(obj.Verbs) > 0 && !slices.Contains(obj.Verbs, f.Verb.ID) {
				continue
			}
			for _, cid := range obj.Configurations {
				cfg, ok := r.configs[cid]
				if !ok || o.overwrite(cfg) {
					continue // attached, but deleted; or owed per result (ResultChanged)
				}
				if !obj.AttachedBefore(cid, st.Stored) {
					continue // stored before the attach: a backfill's, if asked for (the reconciler re-reads it)
				}
				key := cid + "\x00" + st.ID
				if seen[key] {
					continue // two objectives of the activity share the configuration
				}
				seen[key] = true
				d := Delivery{
					Org: org, ConfigurationID: cid, StatementID: st.ID, ObjectiveID: obj.ID,
					State: StatePending, NextAttempt: now, CreatedAt: now, UpdatedAt: now,
				}
				d.Participant, d.Reason = participant(cfg, &f)
				if d.Participant == "" {
					d.State = StateSkipped
				}
				ds = append(ds, d)
			}
		}
	}
	return ds
}

// participant is the identifier cfg sends for the statement's actor, or ""
// and the reason it has none.
func participant(cfg Configuration, f *stmtFields) (string, string) {
	if cfg.Identifier == IdentifierAccount {
		if f.Actor.Account == nil || f.Actor.Account.Name == "" {
			return "", ReasonNoAccount
		}
		return f.Actor.Account.Name, ""
	}
	email, ok := strings.CutPrefix(f.Actor.Mbox, "mailto:")
	if !ok || email == "" {
		return "", ReasonNoMbox
	}
	return email, ""
}
