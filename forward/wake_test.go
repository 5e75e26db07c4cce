package forward_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/xapi"
)

// A running engine that waits for its (here, hour-long) poll claims at once
// when woken: new results leave as soon as their obligations are stored.
func TestEngineWakesForNewDeliveries(t *testing.T) {
	h := newHarness(t, nil)
	h.configure("c1", forwardtest.DownSecret, 1)
	types := forwardtest.Registry(t, xapi.Type(xapi.Options{Egress: forwardtest.Loopback, Timeout: 5 * time.Second}))
	engine, err := forward.New(h.store, h.up, types, h.sealer.OpenConfiguration,
		slog.New(slog.DiscardHandler), forward.NewMetrics(prometheus.NewRegistry(), xapi.TypeName),
		forward.Options{Owner: "waker", Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- engine.Run(context.Background()) }()
	t.Cleanup(func() { engine.Stop(); <-done })

	// Let Run reach its poll wait with nothing due, then enqueue and wake.
	time.Sleep(50 * time.Millisecond)
	ids := h.enqueue("c1", statements(3))
	engine.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for h.delivery("c1", id).State != forward.StateDelivered {
			if time.Now().After(deadline) {
				t.Fatalf("%s not delivered 10s after Wake (the poll is an hour)", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
