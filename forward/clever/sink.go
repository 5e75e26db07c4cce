package clever

import (
	"context"
	"fmt"
	"sync"

	"github.com/lrs-project/lrs/forward"
)

// Sink is the engine's destination of a Clever configuration: it reads an
// overwrite delivery's item (the result as it is when sent, overrides
// applied, its objective and the participant's email) as a Grade, sends
// it, and gives the engine the Outcome as a forward.Result.
type Sink struct{ *Destination }

var (
	_ forward.Destination = Sink{}
	_ forward.Tester      = Sink{}
	_ forward.Redacting   = Sink{}
)

// NewSink returns the Sink of configuration c with its decrypted secrets:
// the Factory the wiring registers (with the process's Options).
func NewSink(c forward.Configuration, secrets map[string]string, opts Options) (forward.Destination, error) {
	d, err := New(c, secrets, opts)
	if err != nil {
		return nil, err
	}
	return Sink{Destination: d}, nil
}

// SinkBatch is how many grades one Send carries: each is one student's,
// written on its own (Clever has no batch write), all of a batch at once
// under the token's rate limiter. Batches spare the engine a claim, a log
// entry and a status write per grade.
const SinkBatch = 10

// MaxBatch is SinkBatch.
func (Sink) MaxBatch() int { return SinkBatch }

// Send writes the grade of every item of the batch, concurrently (the
// token's limiter paces the requests), and answers for each: graded items
// are delivered, refused ones rejected (Result.Rejected), the ones not
// for Clever skipped (Result.Skipped), each with its reason. When a grade
// fails for the destination as a whole (no answer, the token refused, a
// 5xx or a 429), the batch's verdict is that failure and every item goes
// again on the engine's schedule (writing a grade again writes the same
// value).
func (s Sink) Send(ctx context.Context, items []forward.Item) forward.Result {
	if len(items) == 0 || len(items) > SinkBatch {
		return forward.Result{Outcome: forward.OutcomeDestination, Message: fmt.Sprintf("clever: %d items in one send, want 1 to %d", len(items), SinkBatch)}
	}
	outs := make([]Outcome, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		g, ok := GradeOfItem(it)
		if !ok {
			outs[i] = Outcome{Class: forward.OutcomeItem, Message: "not sendable: the delivery carries no result"}
			continue
		}
		wg.Go(func() { outs[i] = s.Destination.Send(ctx, g) })
	}
	wg.Wait()
	if len(items) == 1 {
		return outs[0].Result()
	}
	return combine(items, outs)
}

// combine is the verdict on a batch of its items' outcomes.
func combine(items []forward.Item, outs []Outcome) forward.Result {
	var failed *Outcome
	res := forward.Result{Outcome: forward.OutcomeSkipped}
	graded, rejected := 0, 0
	for i, o := range outs {
		id := items[i].Delivery.StatementID
		switch o.Class {
		case forward.OutcomeSuccess:
			graded++
			res.Status = o.Status
		case forward.OutcomeItem:
			rejected++
			if res.Rejected == nil {
				res.Rejected = map[string]string{}
			}
			res.Rejected[id] = o.Message
		case OutcomeSkipped:
			if res.Skipped == nil {
				res.Skipped = map[string]string{}
			}
			res.Skipped[id] = o.Message
		default:
			// The first failure decides; the latest stop Clever asked for
			// holds for all.
			if failed == nil {
				failed = &outs[i]
			}
			failed.RetryAfter = max(failed.RetryAfter, o.RetryAfter)
		}
	}
	switch {
	case failed != nil:
		return failed.Result()
	case graded > 0:
		res.Outcome = forward.OutcomeSuccess
		res.Message = fmt.Sprintf("%d graded, %d rejected, %d skipped", graded, rejected, len(res.Skipped))
	case rejected > 0:
		res.Outcome = forward.OutcomeItem
		res.Message = fmt.Sprintf("%d rejected, %d skipped", rejected, len(res.Skipped))
	default:
		res.Message = fmt.Sprintf("%d skipped", len(res.Skipped))
	}
	return res
}

// Test is "test connection": the readiness check, which writes nothing.
func (s Sink) Test(ctx context.Context) forward.Result { return s.Destination.Test(ctx).Result() }

// GradeOfItem is the Grade of an overwrite delivery's item: the effective
// values of its current result, its objective (whose name titles the
// assignment) and the participant the delivery sends (its email; the
// result's mbox when the delivery names none). False when the item
// carries no result or objective (a statement's delivery).
func GradeOfItem(it forward.Item) (Grade, bool) {
	if it.Result == nil || it.Objective == nil {
		return Grade{}, false
	}
	g := GradeOf(it.Objective.Name, *it.Result)
	g.Objective = it.Objective.ID
	if it.Delivery.Participant != "" {
		g.Participant = it.Delivery.Participant
	}
	return g, true
}

// Result is the Outcome as the engine records it: the class (a skip is
// the engine's skipped outcome, its message the delivery's reason), the
// HTTP status, the message and the delay Clever asked for.
func (o Outcome) Result() forward.Result {
	return forward.Result{Outcome: o.Class, Status: o.Status, Message: o.Message, RetryAfter: o.RetryAfter}
}
