package forward

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Overwrite deliveries (issue 18 item 4; sinks.md §0.4, DESIGN.md §3).
//
// A configuration whose type is an overwrite sink (Type.Sink ==
// SinkOverwrite: postback, webhook, Clever) owes one delivery per result
// (objective, participant, registration), not one per statement. Its
// Delivery is keyed like any other, (Org, ConfigurationID, StatementID),
// with StatementID = ResultDeliveryID(key) (ResultKeyOf reverses it) and
// ObjectiveID = the result's objective. A result change ensures it
// (Obligations.ResultChanged, the Results' OnChange hook). Sending reads
// the result as it is then (the engine fills Item.Result and
// Item.Objective; Item.Statement is nil), so a newer value supersedes a
// queued older one; a send that carried revision r while the result moved
// on goes again (the engine keeps it pending instead of delivered).
//
// An overwrite destination implements Destination like any other and
// reads Item.Result, Item.Objective and Item.Delivery.Participant (the
// identifier the configuration sends: email or account name); it answers
// for its items exactly as an append one does (Result.Rejected keyed by
// Delivery.StatementID).

// resultDeliveryPrefix starts the StatementID of an overwrite delivery;
// a statement id is a UUID, so the two never meet.
const resultDeliveryPrefix = "result:"

// ResultDeliveryID is the StatementID of the overwrite delivery of the
// result key (within its organization and objective, which the Delivery
// carries in Org and ObjectiveID): reversible, stable, without NUL.
func ResultDeliveryID(k ResultKey) string {
	return resultDeliveryPrefix + base64.RawURLEncoding.EncodeToString([]byte(k.Participant+"\x00"+k.Registration))
}

// IsResultDelivery reports whether d is an overwrite delivery.
func IsResultDelivery(d Delivery) bool { return strings.HasPrefix(d.StatementID, resultDeliveryPrefix) }

// ResultKeyOf returns the result key of an overwrite delivery (false for
// a statement's delivery).
func ResultKeyOf(d Delivery) (ResultKey, bool) {
	enc, ok := strings.CutPrefix(d.StatementID, resultDeliveryPrefix)
	if !ok {
		return ResultKey{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ResultKey{}, false
	}
	p, reg, ok := strings.Cut(string(raw), "\x00")
	if !ok {
		return ResultKey{}, false
	}
	return ResultKey{Org: d.Org, ObjectiveID: d.ObjectiveID, Participant: p, Registration: reg}, true
}

// SetSinks tells Obligations each destination type's sink kind (the
// Registry's); without it every configuration is an append sink.
func (o *Obligations) SetSinks(types *Registry) {
	o.mu.Lock()
	o.types = types
	o.mu.Unlock()
}

// overwrite reports whether cfg's type is an overwrite sink.
func (o *Obligations) overwrite(cfg Configuration) bool {
	o.mu.Lock()
	types := o.types
	o.mu.Unlock()
	return isOverwrite(types, cfg.Type)
}

// wants reports whether cfg's type wants the result of ch in its current
// state (Type.Wants), reading the result when ch does not carry it.
func (o *Obligations) wants(ctx context.Context, cfg Configuration, ch *ResultChange) (bool, error) {
	o.mu.Lock()
	types := o.types
	o.mu.Unlock()
	t, ok := types.Lookup(cfg.Type)
	if !ok || t.Wants == nil {
		return true, nil
	}
	if ch.Result == nil {
		got, err := o.store.GetResults(ctx, []ResultKey{ch.ResultKey})
		if err != nil {
			return false, fmt.Errorf("result deliveries: %w", err)
		}
		r, ok := got[ch.ResultKey]
		if !ok {
			return false, nil
		}
		ch.Result = &r
	}
	return t.Wants(cfg, *ch.Result), nil
}

func isOverwrite(types *Registry, name string) bool {
	if types == nil {
		return false
	}
	t, ok := types.Lookup(name)
	return ok && t.Sink == SinkOverwrite
}

// ResultChanged ensures the overwrite deliveries a result change owes:
// one per overwrite configuration attached to the result's objective. It
// is the Results' OnChange hook; idempotent (Changed false re-ensures
// what a crash may have lost, never a second delivery).
func (o *Obligations) ResultChanged(ctx context.Context, ch ResultChange) error {
	r, err := o.rules(ctx, ch.Org)
	if err != nil {
		return fmt.Errorf("result deliveries: %w", err)
	}
	var obj *Objective
	for _, objs := range r.byActivity {
		for i := range objs {
			if objs[i].ID == ch.ObjectiveID {
				obj = &objs[i]
			}
		}
	}
	if obj == nil {
		return nil // no configuration attached
	}
	now := o.now().UTC()
	var ds []Delivery
	var updated *time.Time // the result's last change, read when needed
	for _, cid := range obj.Configurations {
		cfg, ok := r.configs[cid]
		if !ok || !o.overwrite(cfg) {
			continue
		}
		if _, since := obj.Attached[cid]; since && !ch.Changed {
			// A result found current (the reconciler's re-reading) that
			// last changed before the attach is a backfill's, if asked for.
			if updated == nil {
				var t time.Time
				if ch.Result != nil {
					t = ch.Result.UpdatedAt
				} else {
					got, err := o.store.GetResults(ctx, []ResultKey{ch.ResultKey})
					if err != nil {
						return fmt.Errorf("result deliveries: %w", err)
					}
					t = got[ch.ResultKey].UpdatedAt
				}
				updated = &t
			}
			if !obj.AttachedBefore(cid, *updated) {
				continue
			}
		}
		if wants, err := o.wants(ctx, cfg, &ch); err != nil {
			return err
		} else if !wants {
			continue // not owed in this state: a later change may owe it
		}
		d := Delivery{Org: ch.Org, ConfigurationID: cid, StatementID: ResultDeliveryID(ch.ResultKey), ObjectiveID: ch.ObjectiveID,
			State: StatePending, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
		d.Participant, d.Reason = keyParticipant(cfg, ch.Participant)
		if d.Participant == "" {
			d.State = StateSkipped
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil
	}
	if err := o.store.EnsureDeliveries(ctx, ds); err != nil {
		return fmt.Errorf("result deliveries: ensure %d: %w", len(ds), err)
	}
	if err := o.reopen(ctx, ch, ds, now); err != nil {
		return err
	}
	o.announce(ds)
	return nil
}

// reopen re-opens the deliveries of ds a change owes again. A change
// re-opens each; a call that found the result already current (Changed
// false: a retry, or the reconciler after a crash between the result's
// write and this hook) re-opens only a delivery whose last attempt is
// older than the result's last change, which is what such a crash leaves
// (a clock skew between processes, or a result time a few milliseconds
// ahead of the clock after changes within one millisecond, revisionTime,
// costs at most one more send of the current value).
func (o *Obligations) reopen(ctx context.Context, ch ResultChange, ds []Delivery, now time.Time) error {
	var updated time.Time
	for _, d := range ds {
		if d.State != StatePending {
			continue
		}
		if !ch.Changed {
			cur, err := o.store.GetDelivery(ctx, d.Org, d.ConfigurationID, d.StatementID)
			if err != nil {
				return fmt.Errorf("result deliveries: %w", err)
			}
			if cur.State == StatePending || (cur.State == StateSkipped && cur.LastAttempt.IsZero()) {
				continue
			}
			if updated.IsZero() {
				got, err := o.store.GetResults(ctx, []ResultKey{ch.ResultKey})
				if err != nil {
					return fmt.Errorf("result deliveries: %w", err)
				}
				r, ok := got[ch.ResultKey]
				if !ok {
					return nil
				}
				updated = r.UpdatedAt
			}
			if !cur.LastAttempt.Before(updated) {
				continue
			}
		}
		if _, err := o.store.ReopenDelivery(ctx, d.Org, d.ConfigurationID, d.StatementID, now); err != nil {
			return fmt.Errorf("result deliveries: reopen: %w", err)
		}
	}
	return nil
}

// keyParticipant is the identifier cfg sends for a result's participant
// (an IFI key, schema.IFIKey), or "" and the reason it has none.
func keyParticipant(cfg Configuration, ifi string) (string, string) {
	if cfg.Identifier == IdentifierAccount {
		rest, ok := strings.CutPrefix(ifi, "account:")
		if !ok {
			return "", ReasonNoAccount
		}
		if _, name, ok := strings.Cut(rest, " "); ok {
			rest = name // a homePage is an IRI: the first space ends it
		}
		if rest == "" {
			return "", ReasonNoAccount
		}
		return rest, ""
	}
	email, ok := strings.CutPrefix(ifi, "mbox:mailto:")
	if !ok || email == "" {
		return "", ReasonNoMbox
	}
	return email, ""
}
