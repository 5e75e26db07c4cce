package forward

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Delivery outcomes counted by lrs_forward_deliveries_total: the
// transitions a delivery makes.
const (
	CountDelivered = "delivered"
	CountRejected  = "rejected"
	CountParked    = "parked"
	CountSkipped   = "skipped"
	CountRetried   = "retried" // failed, another attempt scheduled
)

var (
	deliveryOutcomes = []string{CountDelivered, CountRejected, CountParked, CountSkipped, CountRetried}
	attemptOutcomes  = []string{OutcomeSuccess, OutcomeTransport, OutcomeDestination, OutcomeTransient, OutcomeItem, OutcomeSkipped}
)

// otherType is the type label of a configuration whose type is not one of
// the known types (labels come only from closed sets).
const otherType = "other"

// Metrics of the forwarding engine. A nil *Metrics records nothing.
type Metrics struct {
	types      []string
	deliveries *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	queue      *prometheus.GaugeVec
	parked     *prometheus.GaugeVec
	oldest     *prometheus.GaugeVec
}

// NewMetrics registers the engine's metrics with reg (nil: not registered)
// and pre-creates their series for the known configuration types.
func NewMetrics(reg prometheus.Registerer, types ...string) *Metrics {
	m := &Metrics{
		types: append(slices.Clone(types), otherType),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "deliveries_total",
			Help: "Delivery transitions by configuration type and outcome (delivered, rejected, parked, skipped, retried).",
		}, []string{"type", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "attempts_total",
			Help: "Send attempts (one per batch) by configuration type and outcome class.",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "attempt_duration_seconds",
			Help:    "Duration of send attempts by configuration type.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"type"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "queue_depth",
			Help: "Pending deliveries by configuration type (as of the last refresh).",
		}, []string{"type"}),
		parked: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "parked",
			Help: "Parked deliveries by configuration type (as of the last refresh).",
		}, []string{"type"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "lrs", Subsystem: "forward", Name: "oldest_pending_seconds",
			Help: "Age of the oldest pending delivery by configuration type (as of the last refresh).",
		}, []string{"type"}),
	}
	for _, t := range m.types {
		for _, o := range deliveryOutcomes {
			m.deliveries.WithLabelValues(t, o)
		}
		for _, o := range attemptOutcomes {
			m.attempts.WithLabelValues(t, o)
		}
		m.duration.WithLabelValues(t)
		m.queue.WithLabelValues(t)
		m.parked.WithLabelValues(t)
		m.oldest.WithLabelValues(t)
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.attempts, m.duration, m.queue, m.parked, m.oldest)
	}
	return m
}

func (m *Metrics) label(typ string) string {
	if slices.Contains(m.types, typ) {
		return typ
	}
	return otherType
}

func (m *Metrics) delivery(typ, outcome string, n int) {
	if m == nil || n == 0 || !slices.Contains(deliveryOutcomes, outcome) {
		return
	}
	m.deliveries.WithLabelValues(m.label(typ), outcome).Add(float64(n))
}

func (m *Metrics) attempt(typ, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	if !slices.Contains(attemptOutcomes, outcome) {
		outcome = OutcomeDestination
	}
	m.attempts.WithLabelValues(m.label(typ), outcome).Inc()
	m.duration.WithLabelValues(m.label(typ)).Observe(d.Seconds())
}

// queueStats is one type's aggregate of configuration counts.
type queueStats struct {
	pending, parked int
	oldest          time.Time
}

func (m *Metrics) setQueue(stats map[string]*queueStats, now time.Time) {
	if m == nil {
		return
	}
	for _, t := range m.types {
		s := stats[t]
		if s == nil {
			s = &queueStats{}
		}
		m.queue.WithLabelValues(t).Set(float64(s.pending))
		m.parked.WithLabelValues(t).Set(float64(s.parked))
		age := 0.0
		if !s.oldest.IsZero() {
			age = max(now.Sub(s.oldest).Seconds(), 0)
		}
		m.oldest.WithLabelValues(t).Set(age)
	}
}
