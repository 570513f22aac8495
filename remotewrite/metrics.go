package remotewrite

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the remote-write self metrics, shared by every Queue (each
// Queue's series carry its endpoint label). Create them once per process.
type Metrics struct {
	samplesSent    *prometheus.CounterVec   // {endpoint}
	samplesDropped *prometheus.CounterVec   // {endpoint, reason}
	retries        *prometheus.CounterVec   // {endpoint}
	requests       *prometheus.CounterVec   // {endpoint, code}
	sendDuration   *prometheus.HistogramVec // {endpoint}
	pending        *pendingCollector        // {endpoint}
}

// NewMetrics creates the metrics and registers them with reg when reg is
// not nil:
//
//	premetrics_remotewrite_samples_sent_total{endpoint}
//	premetrics_remotewrite_samples_dropped_total{endpoint,reason}
//	premetrics_remotewrite_pending_samples{endpoint}            (gauge, read at scrape)
//	premetrics_remotewrite_retries_total{endpoint}
//	premetrics_remotewrite_requests_total{endpoint,code}        (HTTP client only; code "error" = no response)
//	premetrics_remotewrite_send_duration_seconds{endpoint}      (histogram, per Client.Store call)
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		samplesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_remotewrite_samples_sent_total",
			Help: "Samples the remote-write receiver accepted (2xx).",
		}, []string{"endpoint"}),
		samplesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_remotewrite_samples_dropped_total",
			Help: "Samples remote write discarded, by reason (relabel, queue_full, shutdown, http_<code>, send_error).",
		}, []string{"endpoint", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_remotewrite_retries_total",
			Help: "Remote-write requests retried after a recoverable failure.",
		}, []string{"endpoint"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_remotewrite_requests_total",
			Help: "Remote-write HTTP requests by status code (\"error\" when no response arrived).",
		}, []string{"endpoint", "code"}),
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "premetrics_remotewrite_send_duration_seconds",
			Help:    "Duration of one remote-write request attempt.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		pending: &pendingCollector{
			desc: prometheus.NewDesc("premetrics_remotewrite_pending_samples",
				"Samples buffered in the remote-write queue, including those being sent.",
				[]string{"endpoint"}, nil),
			queues: map[*Queue]struct{}{},
		},
	}
	if reg != nil {
		reg.MustRegister(m.samplesSent, m.samplesDropped, m.retries, m.requests, m.sendDuration, m.pending)
	}
	return m
}

// pendingCollector reports Queue.Pending of every live queue at scrape
// time, so the gauge is always current and costs nothing on the hot path.
type pendingCollector struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	queues map[*Queue]struct{}
}

func (c *pendingCollector) add(q *Queue) {
	c.mu.Lock()
	c.queues[q] = struct{}{}
	c.mu.Unlock()
}

func (c *pendingCollector) remove(q *Queue) {
	c.mu.Lock()
	delete(c.queues, q)
	c.mu.Unlock()
}

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sums := map[string]int{} // two queues may share an endpoint during a reload
	for q := range c.queues {
		sums[q.endpoint] += q.Pending()
	}
	c.mu.Unlock()
	for ep, n := range sums {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), ep)
	}
}
