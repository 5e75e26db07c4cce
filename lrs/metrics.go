package lrs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the domain's Prometheus series.
type Metrics struct {
	statementsStored prometheus.Counter
	storeOps         *prometheus.HistogramVec
}

// NewMetrics registers the domain's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		statementsStored: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lrs",
			Name:      "statements_stored_total",
			Help:      "Statements newly stored (repeats of an already stored statement are not counted).",
		}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lrs",
			Subsystem: "store",
			Name:      "operation_duration_seconds",
			Help:      "Duration of storage operations, by operation and outcome.",
			Buckets:   []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation", "outcome"}),
	}
	reg.MustRegister(m.statementsStored, m.storeOps)
	for _, op := range []string{"insert_statements", "get_statements", "query_statements", "set_voided", "add_terms", "referrers", "ping", "add_statement_count"} {
		for _, outcome := range []string{"ok", "error"} {
			m.storeOps.WithLabelValues(op, outcome)
		}
	}
	return m
}

// InstrumentStore wraps store so that every operation is timed in m.
// With m nil it returns store unchanged.
func InstrumentStore(store Store, m *Metrics) Store {
	if m == nil {
		return store
	}
	return &instrumentedStore{Store: store, m: m}
}

type instrumentedStore struct {
	Store
	m *Metrics
}

func (s *instrumentedStore) observe(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		if c := ErrorCode(err); c == EINTERNAL || c == EUNAVAILABLE {
			outcome = "error"
		}
	}
	s.m.storeOps.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

func (s *instrumentedStore) InsertStatements(ctx context.Context, org string, recs []StatementRecord) (err error) {
	start := time.Now()
	defer func() { s.observe("insert_statements", start, err) }()
	return s.Store.InsertStatements(ctx, org, recs)
}

func (s *instrumentedStore) GetStatements(ctx context.Context, org string, ids []string) (_ map[string]StatementRecord, err error) {
	start := time.Now()
	defer func() { s.observe("get_statements", start, err) }()
	return s.Store.GetStatements(ctx, org, ids)
}

func (s *instrumentedStore) QueryStatements(ctx context.Context, org string, q StatementQuery) (_ []StatementRecord, err error) {
	start := time.Now()
	defer func() { s.observe("query_statements", start, err) }()
	return s.Store.QueryStatements(ctx, org, q)
}

func (s *instrumentedStore) SetVoided(ctx context.Context, org, id string) (err error) {
	start := time.Now()
	defer func() { s.observe("set_voided", start, err) }()
	return s.Store.SetVoided(ctx, org, id)
}

func (s *instrumentedStore) AddTerms(ctx context.Context, org, id string, terms []string) (err error) {
	start := time.Now()
	defer func() { s.observe("add_terms", start, err) }()
	return s.Store.AddTerms(ctx, org, id, terms)
}

func (s *instrumentedStore) Referrers(ctx context.Context, org, id string) (_ []string, err error) {
	start := time.Now()
	defer func() { s.observe("referrers", start, err) }()
	return s.Store.Referrers(ctx, org, id)
}

func (s *instrumentedStore) ReferrersOf(ctx context.Context, org string, ids []string) (_ map[string][]string, err error) {
	start := time.Now()
	defer func() { s.observe("referrers", start, err) }()
	return s.Store.ReferrersOf(ctx, org, ids)
}

func (s *instrumentedStore) Ping(ctx context.Context) (err error) {
	start := time.Now()
	defer func() { s.observe("ping", start, err) }()
	return s.Store.Ping(ctx)
}
