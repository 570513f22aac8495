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

	mu   sync.Mutex
	refs map[string]int
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
		refs: map[string]int{},
	}
	if reg != nil {
		reg.MustRegister(m.rows, m.bytes, m.lastSuccess, m.lastOK, m.failures, m.lookups)
	}
	return m
}

// tableMetrics are one table's children of Metrics.
type tableMetrics struct {
	rows, bytes, lastSuccess, lastOK prometheus.Gauge
	failures, hits, misses, dropped  prometheus.Counter
}

func (m *Metrics) acquire(table string, dropped *prometheus.CounterVec) tableMetrics {
	m.mu.Lock()
	m.refs[table]++
	m.mu.Unlock()
	return tableMetrics{
		rows:        m.rows.WithLabelValues(table),
		bytes:       m.bytes.WithLabelValues(table),
		lastSuccess: m.lastSuccess.WithLabelValues(table),
		lastOK:      m.lastOK.WithLabelValues(table),
		failures:    m.failures.WithLabelValues(table),
		hits:        m.lookups.WithLabelValues(table, "hit"),
		misses:      m.lookups.WithLabelValues(table, "miss"),
		dropped:     dropped.WithLabelValues(telemetry.StageEnrich, ReasonMiss),
	}
}

// release deletes the table's series when no Enricher of that name is
// left (a reload that removed the table).
func (m *Metrics) release(table string) {
	m.mu.Lock()
	defer m.mu.Unlock()
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
