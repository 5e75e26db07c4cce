package main

import (
	"context"
	"log/slog"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// reconciling is the running forwarding reconciler.
type reconciling struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startReconciler runs the reconciler of ob (which finds the statements
// whose request died before their deliveries were ensured and their
// results brought up to date) until stop.
func startReconciler(st store, svc *lrs.Service, ob forward.StatementObserver, logger *slog.Logger) *reconciling {
	ctx, cancel := context.WithCancel(context.Background())
	r := &reconciling{cancel: cancel, done: make(chan struct{})}
	rec := &forward.Reconciler{Store: st, Statements: lrsStatements{svc}, Obligations: ob, Logger: logger.With("component", "forward")}
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
