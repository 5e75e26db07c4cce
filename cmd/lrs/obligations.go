package main

import (
	"context"
	"log/slog"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// newObligations makes forwarding obligations the service's statement
// observer (deliveries are durable before a POST is answered), when the
// engine keeps the forwarding queue. Obligations are ensured even while
// the delivery engine is off: they wait in the queue.
func newObligations(st any, logger *slog.Logger, opts *lrs.ServiceOptions) *forward.Obligations {
	fs, ok := st.(forward.Store)
	if !ok {
		return nil
	}
	ob := forward.NewObligations(fs, logger.With("component", "forward"), nil)
	opts.Observer = observer{ob}
	return ob
}

// reconciling is the running forwarding reconciler.
type reconciling struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startReconciler runs the reconciler of ob until stop; nil without
// obligations or an engine that lists the organizations with objectives.
func startReconciler(st any, svc *lrs.Service, ob *forward.Obligations, logger *slog.Logger) *reconciling {
	rs, ok := st.(forward.Store)
	if ob == nil || !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reconciling{cancel: cancel, done: make(chan struct{})}
	rec := &forward.Reconciler{Store: rs, Statements: lrsStatements{svc}, Obligations: ob, Logger: logger.With("component", "forward")}
	go func() {
		defer close(r.done)
		rec.Run(ctx)
	}()
	return r
}

// stop ends the reconciler and waits for its pass in flight. Nil-safe.
func (r *reconciling) stop() {
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
}
