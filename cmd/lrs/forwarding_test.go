package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/xapi"
	"github.com/lrs-project/lrs/lrs/mongo"
)

// The forwarding engine and the xAPI destination over what the binary
// wires them to: each storage engine, and a real LRS downstream (forward's
// own tests use the test kit's in-memory store and fake LRS).

// forEachForwardStore runs f per storage engine on a fresh store.
func forEachForwardStore(t *testing.T, f func(t *testing.T, st forward.Store)) {
	t.Run("embedded", func(t *testing.T) { f(t, openPebble(t)) })
	t.Run("mongodb", func(t *testing.T) {
		uri, database := testMongoURI(t), uniqueDatabase()
		dropDatabaseAtCleanup(t, uri, database)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: database, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		f(t, db)
	})
}

func fwdStatementID(i int) string { return fmt.Sprintf("6fa459ea-ee8a-4ca4-894e-db77e16035%02d", i) }

// The engine over each storage engine delivers each statement once, in one
// batch, to a real LRS, which stores it with its own stored time and
// authority; the status, the metrics and the delivery log say so.
func TestEngineDeliversOverEachEngine(t *testing.T) {
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		const org = "org1"
		ctx := context.Background()
		down := newDownstream(t)
		clock := forwardtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
		up := &forwardtest.Statements{}
		sealer, err := forward.NewSealer([]byte(strings.Repeat("k", forward.KeySize)))
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		types := forwardtest.Registry(t, xapi.Type(xapi.Options{Egress: forwardtest.Loopback, Timeout: 5 * time.Second, Now: clock.Now}))
		engine, err := forward.New(st, up, types, sealer.OpenConfiguration, slog.New(slog.DiscardHandler),
			forward.NewMetrics(reg, xapi.TypeName), forward.Options{Now: clock.Now, Owner: "test", Rand: func() float64 { return 0.5 }})
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sealer.Seal(org, "c1", map[string]string{"key": forwardtest.DownKey, "secret": forwardtest.DownSecret})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutConfiguration(ctx, forward.Configuration{ID: "c1", Org: org, Name: "LMS", ContactEmail: "admin@example.com",
			Type: xapi.TypeName, Properties: map[string]string{"endpoint": down.Endpoint()}, SealedSecret: sealed,
			Revision: 1, UpdatedAt: clock.Now()}); err != nil {
			t.Fatal(err)
		}
		var ids []string
		var ds []forward.Delivery
		for i := range 7 {
			id := fwdStatementID(i)
			up.Put(org, id, forwardtest.Statement(id, fmt.Sprintf("learner%d@example.com", i)))
			ds = append(ds, forward.Delivery{Org: org, ConfigurationID: "c1", StatementID: id, State: forward.StatePending,
				NextAttempt: clock.Now(), CreatedAt: clock.Now(), UpdatedAt: clock.Now()})
			ids = append(ids, id)
		}
		if err := st.EnsureDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		if n, err := engine.Tick(ctx); err != nil || n != 7 {
			t.Fatalf("claimed %d (%v), want 7", n, err)
		}
		for _, id := range ids {
			if d, err := st.GetDelivery(ctx, org, "c1", id); err != nil || d.State != forward.StateDelivered {
				t.Errorf("%s: %+v %v, want delivered", id, d, err)
			}
			if n := down.Accepted(id); n != 1 {
				t.Errorf("%s accepted %d times downstream, want once", id, n)
			}
			got, err := down.Stored(id)
			if err != nil {
				t.Errorf("%s not stored downstream: %v", id, err)
				continue
			}
			if got["stored"] == forwardtest.UpstreamStored {
				t.Errorf("%s: the upstream stored time was forwarded", id)
			}
			if a, _ := got["authority"].(map[string]any); a == nil || !strings.Contains(fmt.Sprint(a), "forwarder") {
				t.Errorf("%s: authority %v, want the downstream's", id, got["authority"])
			}
		}
		if s, err := st.GetStatus(ctx, org, "c1"); err != nil || s.Status != forward.StatusOK {
			t.Fatalf("status %+v %v, want OK", s, err)
		}
		if down.Requests() != 1 {
			t.Fatalf("%d requests, want one batch", down.Requests())
		}
		if n, err := engine.Tick(ctx); err != nil || n != 0 {
			t.Fatalf("claimed %d (%v) after delivery, want 0", n, err)
		}
		if got := forwardCounter(t, reg, "lrs_forward_deliveries_total", "delivered"); got != 7 {
			t.Fatalf("delivered counter %v, want 7", got)
		}
		attempts, err := st.ListAttempts(ctx, org, "c1", 10)
		if err != nil || len(attempts) != 1 || attempts[0].Outcome != forward.OutcomeSuccess || len(attempts[0].StatementIDs) != 7 {
			t.Fatalf("attempt log %+v %v", attempts, err)
		}
	})
}

// forwardCounter is the value of an xapi series of a forwarding counter.
func forwardCounter(t *testing.T, reg *prometheus.Registry, name, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["type"] == xapi.TypeName && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{outcome=%q}", name, outcome)
	return 0
}

// The xAPI destination sends to this module's own LRS, at either form of
// its endpoint (the base URL or the statements URL).
func TestSendToRealLRS(t *testing.T) {
	down := newDownstream(t)
	items := make([]forward.Item, 3)
	for i := range items {
		id := fmt.Sprintf("7fa459ea-ee8a-4ca4-894e-db77e16035%02d", i)
		items[i] = forward.Item{Delivery: forward.Delivery{StatementID: id}, Statement: forwardtest.Statement(id, "a@example.com")}
	}
	for _, endpoint := range []string{down.Endpoint(), down.Srv.URL + "/xapi/statements"} {
		cfg := forward.Configuration{ID: "c", Org: "o", Type: xapi.TypeName, Properties: map[string]string{"endpoint": endpoint}}
		d, err := xapi.New(cfg, map[string]string{"key": forwardtest.DownKey, "secret": forwardtest.DownSecret}, xapi.Options{Egress: forwardtest.Loopback, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		r := d.Send(context.Background(), items)
		if r.Outcome != forward.OutcomeSuccess || r.Status != 200 {
			t.Fatalf("%s: %+v", endpoint, r)
		}
	}
	// The second endpoint form re-sent the same ids: 409 → PUT each (204/409).
	for _, it := range items {
		if n := down.Accepted(it.Delivery.StatementID); n < 1 {
			t.Fatalf("%s never accepted", it.Delivery.StatementID)
		}
	}
}
