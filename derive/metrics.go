package derive

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of premetrics_derive_dropped_series_total.
const (
	// reasonSeriesLimit: Observe found max_observed_series series waiting
	// for the next Evaluate.
	reasonSeriesLimit = "series_limit"
	// reasonDuplicate: a second sample of one series at one instant (the
	// first observed is evaluated, as Prometheus keeps the first).
	reasonDuplicate = "duplicate"
	// reasonAnomalySeriesLimit: a new result series of an anomaly record
	// found the table of tracked series full; it is not scored.
	reasonAnomalySeriesLimit = "anomaly_series_limit"
	// reasonAnomalyOutOfOrder: a result of an anomaly record at or before
	// the last instant folded into that series' history.
	reasonAnomalyOutOfOrder = "anomaly_out_of_order"
)

// Metrics are the self metrics of derived records, labelled by record.
// One Metrics is shared by the Derivers of a process (across reloads).
// A nil *Metrics counts nothing.
type Metrics struct {
	evaluations *prometheus.CounterVec
	outputs     *prometheus.CounterVec
	errors      *prometheus.CounterVec
	duration    prometheus.Histogram
	dropped     *prometheus.CounterVec
	anomaly     *prometheus.GaugeVec
}

// NewMetrics creates the derive metrics and registers them with reg when
// reg is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_derive_evaluations_total",
			Help: "Evaluations of a derived record, one per record and instant (window end) evaluated.",
		}, []string{"record"}),
		outputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_derive_output_samples_total",
			Help: "Samples emitted by a derived record.",
		}, []string{"record"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_derive_errors_total",
			Help: "Evaluations of a derived record that failed (e.g. many-to-many matching, duplicate result series); they emit nothing.",
		}, []string{"record"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "premetrics_derive_evaluation_duration_seconds",
			Help:    "Duration of an Evaluate that evaluated at least one instant: every record at every instant observed since the one before.",
			Buckets: prometheus.ExponentialBuckets(100e-6, 4, 9),
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_derive_dropped_series_total",
			Help: "Series not evaluated or not scored, by reason: series_limit (observed series over the cap), duplicate (second sample of a series at one instant), anomaly_series_limit (tracked anomaly series at the cap), anomaly_out_of_order (result not after the series' history).",
		}, []string{"reason"}),
		anomaly: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_derive_anomaly_series",
			Help: "Result series whose history an anomaly record tracks, as of the last Evaluate.",
		}, []string{"record"}),
	}
	if reg != nil {
		reg.MustRegister(m.evaluations, m.outputs, m.errors, m.duration, m.dropped, m.anomaly)
	}
	return m
}

// Forget deletes the series of record, for a record a reload removed.
func (m *Metrics) Forget(record string) {
	if m == nil {
		return
	}
	m.evaluations.DeleteLabelValues(record)
	m.outputs.DeleteLabelValues(record)
	m.errors.DeleteLabelValues(record)
	m.anomaly.DeleteLabelValues(record)
}

// recordMetrics are the resolved series of one record; all nil when
// Metrics is nil.
type recordMetrics struct {
	evaluations, outputs, errors prometheus.Counter
	anomaly                      prometheus.Gauge
}

func (m *Metrics) record(name string, anomaly bool) recordMetrics {
	if m == nil {
		return recordMetrics{}
	}
	rm := recordMetrics{
		evaluations: m.evaluations.WithLabelValues(name),
		outputs:     m.outputs.WithLabelValues(name),
		errors:      m.errors.WithLabelValues(name),
	}
	if anomaly {
		rm.anomaly = m.anomaly.WithLabelValues(name)
	}
	return rm
}

func (m *Metrics) drop(reason string, n int) {
	if m != nil && n > 0 {
		m.dropped.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) observeDuration(seconds float64) {
	if m != nil {
		m.duration.Observe(seconds)
	}
}

func add(c prometheus.Counter, n int) {
	if c != nil && n > 0 {
		c.Add(float64(n))
	}
}
