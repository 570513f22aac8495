package aggregate

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/telemetry"
)

// Reasons of premetrics_aggregate_rejected_samples_total and of
// premetrics_dropped_samples_total{stage="aggregate"}.
const (
	reasonTooFarInFuture     = "too_far_in_future"
	reasonStaleMarker        = "stale_marker"
	reasonCounterOutOfOrder  = "counter_out_of_order"
	reasonOutputSeriesLimit  = "output_series_limit"
	reasonInputSeriesLimit   = "input_series_limit"
	reasonDeduplicated       = "deduplicated" // rejected_samples_total only: a duplicate is not data lost
	reasonLate               = "late"         // dropped_samples_total only; late samples have their own counter
	dropStage                = telemetry.StageAggregate
	flushDurationBucketStart = 100e-6 // 100µs
)

// Metrics are the self metrics of every aggregation, labelled by its name.
// One Metrics is shared by all aggregators of a process (and across config
// reloads).
type Metrics struct {
	input    *prometheus.CounterVec
	late     *prometheus.CounterVec
	output   *prometheus.CounterVec
	markers  *prometheus.CounterVec
	series   *prometheus.GaugeVec
	flush    *prometheus.HistogramVec
	rejected *prometheus.CounterVec

	// Input cardinality estimates (cardinality.go), exported by a
	// collector at collection time.
	cardMu sync.Mutex
	cards  map[string]*cardinality // by aggregation name; guarded by cardMu
}

// NewMetrics creates the aggregation metrics and registers them with reg
// when reg is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		input: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_aggregate_input_samples_total",
			Help: "Samples aggregated into a window (after the match comparison, lateness and future checks).",
		}, []string{"aggregation"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_aggregate_late_samples_total",
			Help: "Samples dropped because their window was already emitted or closed (end + lateness passed).",
		}, []string{"aggregation"}),
		output: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_aggregate_output_samples_total",
			Help: "Samples emitted by window flushes.",
		}, []string{"aggregation"}),
		markers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_aggregate_staleness_markers_total",
			Help: "Stale markers emitted for the output series of groups forgotten after staleness_interval without samples.",
		}, []string{"aggregation"}),
		series: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_aggregate_series",
			Help: "Tracked state entries: groups (output series families, overflow groups included) plus per-input-series entries (counter baselines, count_series memberships, dedup buckets), as of the last flush.",
		}, []string{"aggregation"}),
		flush: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "premetrics_aggregate_flush_duration_seconds",
			Help:    "Duration of flushes that emitted at least one window.",
			Buckets: prometheus.ExponentialBuckets(flushDurationBucketStart, 4, 9),
		}, []string{"aggregation"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_aggregate_rejected_samples_total",
			Help: "Samples of matched series not aggregated as they would be without the reason: not at all (e.g. deduplicated), only for some outputs (counter_out_of_order, input_series_limit), or into an overflow group (output_series_limit).",
		}, []string{"aggregation", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.input, m.late, m.output, m.markers, m.series, m.flush, m.rejected, newCardCollector(m))
	}
	return m
}

// Forget deletes the series of the aggregation called name, for a config
// reload that removed it.
func (m *Metrics) Forget(name string) {
	m.input.DeleteLabelValues(name)
	m.late.DeleteLabelValues(name)
	m.output.DeleteLabelValues(name)
	m.markers.DeleteLabelValues(name)
	m.series.DeleteLabelValues(name)
	m.flush.DeleteLabelValues(name)
	m.rejected.DeletePartialMatch(prometheus.Labels{"aggregation": name})
	m.cardMu.Lock()
	delete(m.cards, name)
	m.cardMu.Unlock()
}

// aggMetrics are the children of Metrics (and of the shared dropped
// counter) for one aggregation, resolved once so the hot path does no
// label lookups.
type aggMetrics struct {
	input, late, output, markers       prometheus.Counter
	series                             prometheus.Gauge
	flush                              prometheus.Observer
	rejFuture, rejStale, rejOutOfOrder prometheus.Counter
	rejOutputLimit, rejInputLimit      prometheus.Counter
	rejDedup                           prometheus.Counter
	dropLate, dropFuture, dropLimit    prometheus.Counter // nil without Options.Dropped
}

func (m *Metrics) forAggregation(name string, dropped *prometheus.CounterVec) aggMetrics {
	am := aggMetrics{
		input:         m.input.WithLabelValues(name),
		late:          m.late.WithLabelValues(name),
		output:        m.output.WithLabelValues(name),
		markers:       m.markers.WithLabelValues(name),
		series:        m.series.WithLabelValues(name),
		flush:         m.flush.WithLabelValues(name),
		rejFuture:     m.rejected.WithLabelValues(name, reasonTooFarInFuture),
		rejStale:      m.rejected.WithLabelValues(name, reasonStaleMarker),
		rejOutOfOrder: m.rejected.WithLabelValues(name, reasonCounterOutOfOrder),

		rejOutputLimit: m.rejected.WithLabelValues(name, reasonOutputSeriesLimit),
		rejInputLimit:  m.rejected.WithLabelValues(name, reasonInputSeriesLimit),
		rejDedup:       m.rejected.WithLabelValues(name, reasonDeduplicated),
	}
	if dropped != nil {
		am.dropLate = dropped.WithLabelValues(dropStage, reasonLate)
		am.dropFuture = dropped.WithLabelValues(dropStage, reasonTooFarInFuture)
		am.dropLimit = dropped.WithLabelValues(dropStage, reasonOutputSeriesLimit)
	}
	return am
}

// pushCounts are the per-Push tallies, added to the metrics once per call.
type pushCounts struct {
	aggregated, late, future, stale, outOfOrder int
	groupLimited                                int // aggregated into an overflow group
	groupLimitDropped                           int // dropped: no group and no overflow group
	inputLimited                                int // aggregated without per-input-series state
	deduplicated                                int // dropped by dedup_interval
}

func (am *aggMetrics) add(c *pushCounts, consumes bool) {
	if c.aggregated > 0 {
		am.input.Add(float64(c.aggregated))
	}
	if c.late > 0 {
		am.late.Add(float64(c.late))
		if consumes && am.dropLate != nil {
			am.dropLate.Add(float64(c.late))
		}
	}
	if c.future > 0 {
		am.rejFuture.Add(float64(c.future))
		if consumes && am.dropFuture != nil {
			am.dropFuture.Add(float64(c.future))
		}
	}
	if c.stale > 0 {
		am.rejStale.Add(float64(c.stale))
	}
	if c.outOfOrder > 0 {
		am.rejOutOfOrder.Add(float64(c.outOfOrder))
	}
	if n := c.groupLimited + c.groupLimitDropped; n > 0 {
		am.rejOutputLimit.Add(float64(n))
		if c.groupLimitDropped > 0 && consumes && am.dropLimit != nil {
			am.dropLimit.Add(float64(c.groupLimitDropped))
		}
	}
	if c.inputLimited > 0 {
		am.rejInputLimit.Add(float64(c.inputLimited))
	}
	if c.deduplicated > 0 {
		am.rejDedup.Add(float64(c.deduplicated))
	}
}
