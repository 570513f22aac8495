package enrich

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/telemetry"
)

// ReasonMiss is the reason of premetrics_dropped_samples_total
// {stage="enrich"} for series dropped by on_miss: drop.
const ReasonMiss = "enrich_miss"

// Metrics are the self metrics of every enrichment table, labelled by its
// name. One Metrics is shared by all tables of a process and across
// config reloads; a table's series are deleted when the last Enricher of
// that name is closed.
type Metrics struct {
	rows        *prometheus.GaugeVec
	bytes       *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	lastOK      *prometheus.GaugeVec
	failures    *prometheus.CounterVec
	lookups     *prometheus.CounterVec
	refSeries   *prometheus.GaugeVec
	refSamples  *prometheus.CounterVec
	refInvalid  *prometheus.CounterVec

	mu      sync.Mutex
	refs    map[string]int            // table -> Enrichers
	withRef map[string]int            // table -> Enrichers with series
	refCols map[string]map[string]int // table -> reference column -> Enrichers reading it
}

// NewMetrics creates the enrichment metrics and registers them with reg
// when reg is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_enrich_rows",
			Help: "Rows of the enrichment table's snapshot in use (0 before the first load).",
		}, []string{"table"}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_enrich_bytes",
			Help: "Memory held by the enrichment table's snapshot in use.",
		}, []string{"table"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_enrich_last_success_timestamp_seconds",
			Help: "When the enrichment table's source was last read successfully (0: never).",
		}, []string{"table"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_enrich_last_refresh_successful",
			Help: "Whether the last refresh of the enrichment table succeeded (1) or failed and the last good snapshot is still in use (0).",
		}, []string{"table"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_enrich_refresh_failures_total",
			Help: "Refreshes of the enrichment table that failed; the last good snapshot stays in use.",
		}, []string{"table"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_enrich_lookups_total",
			Help: "Series looked up in the enrichment table, by result (hit or miss).",
		}, []string{"table", "result"}),
		refSeries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_enrich_reference_series",
			Help: "Reference series of the enrichment table's snapshot in use: per series entry, the rows with a number in its column.",
		}, []string{"table"}),
		refSamples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_enrich_reference_samples_total",
			Help: "Reference series samples of the enrichment table handed to the remote_write queues.",
		}, []string{"table"}),
		refInvalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_enrich_reference_invalid_values_total",
			Help: "Rows of loaded snapshots of the enrichment table whose series column held no number (empty, NULL, not a number, NaN): no reference series for them. Counted at each load.",
		}, []string{"table", "column"}),
		refs:    map[string]int{},
		withRef: map[string]int{},
		refCols: map[string]map[string]int{},
	}
	if reg != nil {
		reg.MustRegister(m.rows, m.bytes, m.lastSuccess, m.lastOK, m.failures, m.lookups,
			m.refSeries, m.refSamples, m.refInvalid)
	}
	return m
}

// tableMetrics are one table's children of Metrics. The reference
// metrics are unregistered ones for a table without series.
type tableMetrics struct {
	rows, bytes, lastSuccess, lastOK prometheus.Gauge
	failures, hits, misses, dropped  prometheus.Counter
	refSeries                        prometheus.Gauge
	refSamples                       prometheus.Counter
	refInvalid                       []prometheus.Counter // per reference column
}

// acquire returns the children of table, whose Enricher reads the
// reference columns refCols (none: no series).
func (m *Metrics) acquire(table string, dropped *prometheus.CounterVec, refCols []string) tableMetrics {
	m.mu.Lock()
	m.refs[table]++
	if len(refCols) > 0 {
		m.withRef[table]++
		if m.refCols[table] == nil {
			m.refCols[table] = map[string]int{}
		}
		for _, c := range refCols {
			m.refCols[table][c]++
		}
	}
	m.mu.Unlock()
	tm := tableMetrics{
		rows:        m.rows.WithLabelValues(table),
		bytes:       m.bytes.WithLabelValues(table),
		lastSuccess: m.lastSuccess.WithLabelValues(table),
		lastOK:      m.lastOK.WithLabelValues(table),
		failures:    m.failures.WithLabelValues(table),
		hits:        m.lookups.WithLabelValues(table, "hit"),
		misses:      m.lookups.WithLabelValues(table, "miss"),
		dropped:     dropped.WithLabelValues(telemetry.StageEnrich, ReasonMiss),
	}
	if len(refCols) == 0 {
		tm.refSeries = prometheus.NewGauge(prometheus.GaugeOpts{Name: "unused"})
		tm.refSamples = prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"})
		return tm
	}
	tm.refSeries = m.refSeries.WithLabelValues(table)
	tm.refSamples = m.refSamples.WithLabelValues(table)
	for _, c := range refCols {
		tm.refInvalid = append(tm.refInvalid, m.refInvalid.WithLabelValues(table, c))
	}
	return tm
}

// release deletes the table's series that no Enricher of that name uses
// any more: all of them when none is left (a reload that removed the
// table), the reference ones of series or columns a reload removed.
func (m *Metrics) release(table string, refCols []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(refCols) > 0 {
		cols := m.refCols[table]
		for _, c := range refCols {
			if cols[c]--; cols[c] <= 0 {
				delete(cols, c)
				m.refInvalid.DeleteLabelValues(table, c)
			}
		}
		if m.withRef[table]--; m.withRef[table] <= 0 {
			delete(m.withRef, table)
			delete(m.refCols, table)
			m.refSeries.DeleteLabelValues(table)
			m.refSamples.DeleteLabelValues(table)
		}
	}
	m.refs[table]--
	if m.refs[table] > 0 {
		return
	}
	delete(m.refs, table)
	m.rows.DeleteLabelValues(table)
	m.bytes.DeleteLabelValues(table)
	m.lastSuccess.DeleteLabelValues(table)
	m.lastOK.DeleteLabelValues(table)
	m.failures.DeleteLabelValues(table)
	m.lookups.DeleteLabelValues(table, "hit")
	m.lookups.DeleteLabelValues(table, "miss")
}
