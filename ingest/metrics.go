package ingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/ingest/outcome"
)

// Protocol label values.
const ProtocolRemoteWrite = "remote_write"

// Metrics are the self metrics of all ingest transports, labelled by
// protocol. One Metrics serves every handler.
type Metrics struct {
	requests *prometheus.CounterVec
	samples  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the ingest metrics and registers them with reg
// (when reg is not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_ingest_requests_total",
			Help: "Ingest requests by protocol and HTTP status code.",
		}, []string{"protocol", "code"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_ingest_samples_total",
			Help: "Samples accepted by the pipeline, by protocol.",
		}, []string{"protocol"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_ingest_rejected_samples_total",
			Help: "Samples rejected at ingest, by protocol and reason (see package ingest/outcome).",
		}, []string{"protocol", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "premetrics_ingest_request_duration_seconds",
			Help:    "Time to answer an ingest request, by protocol.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"protocol"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.samples, m.rejected, m.duration)
	}
	return m
}

// Status codes a remote write handler answers with, pre-resolved so the
// hot path does not look up label values.
var rwCodes = [...]int{204, 400, 405, 413, 415, 429, 499, 503}

// rwMetrics holds the children of Metrics for one protocol.
type rwMetrics struct {
	requests [len(rwCodes)]prometheus.Counter
	vec      *prometheus.CounterVec
	protocol string
	samples  prometheus.Counter
	rejected [outcome.NumReasons]prometheus.Counter // one per outcome.Reason, index 0 unused
	duration prometheus.Observer
}

func (m *Metrics) forProtocol(protocol string) *rwMetrics {
	r := &rwMetrics{
		vec:      m.requests,
		protocol: protocol,
		samples:  m.samples.WithLabelValues(protocol),
		duration: m.duration.WithLabelValues(protocol),
	}
	for i, code := range rwCodes {
		r.requests[i] = m.requests.WithLabelValues(protocol, strconv.Itoa(code))
	}
	for reason := outcome.Reason(1); reason < outcome.NumReasons; reason++ {
		r.rejected[reason] = m.rejected.WithLabelValues(protocol, reason.String())
	}
	return r
}

func (r *rwMetrics) request(code int) {
	for i, c := range rwCodes {
		if c == code {
			r.requests[i].Inc()
			return
		}
	}
	r.vec.WithLabelValues(r.protocol, strconv.Itoa(code)).Inc()
}
