package mqtt

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/ingest/outcome"
)

// Protocol is the protocol label value of the shared ingest metrics.
const Protocol = "mqtt"

// Results of premetrics_mqtt_messages_total.
const (
	// ResultAccepted: the message entered the pipeline and was
	// acknowledged.
	ResultAccepted = "accepted"
	// ResultRejected: some or all of the message's items were rejected by
	// the decoder; the valid rest entered the pipeline; acknowledged.
	ResultRejected = "rejected"
	// ResultMalformed: the payload could not be decoded at all;
	// acknowledged and dropped.
	ResultMalformed = "malformed"
	// ResultRetried: once per wait for the pipeline (Admit said no or
	// Ingest failed); the message is held, unacknowledged, and tried again.
	ResultRetried = "retried"
	// ResultAbandoned: a held message given up without acknowledgement, at
	// shutdown or because its connection was lost. The broker redelivers
	// it when it was received with QoS 1 or 2 in a persistent session;
	// otherwise it is lost.
	ResultAbandoned = "abandoned"
	// ResultUnmatched: a message on a topic that no configured filter
	// matches (a subscription left in the persistent session by an earlier
	// config); acknowledged and dropped.
	ResultUnmatched = "unmatched"
)

// SharedMetrics are the counters MQTT shares with the HTTP ingest
// transports; this package does not register them. Nil fields get
// private, unregistered counters.
type SharedMetrics struct {
	// Samples is premetrics_ingest_samples_total{protocol}: samples the
	// pipeline accepted.
	Samples *prometheus.CounterVec
	// Rejected is premetrics_ingest_rejected_samples_total{protocol,reason}:
	// samples the decoder rejected, by outcome.Reason.
	Rejected *prometheus.CounterVec
}

// Metrics are the self metrics of every MQTT input. Create one and pass it
// to each New.
type Metrics struct {
	messages   *prometheus.CounterVec
	connected  *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	shared     SharedMetrics
}

// NewMetrics creates the MQTT metrics and registers the premetrics_mqtt_*
// ones with reg (when reg is not nil):
//
//	premetrics_mqtt_messages_total{input,result}   see the Result constants
//	premetrics_mqtt_connected{input,broker}         1 while connected to broker
//	premetrics_mqtt_reconnects_total{input}         connections re-established after a loss
//
// and counts samples in shared with protocol="mqtt".
func NewMetrics(reg prometheus.Registerer, shared SharedMetrics) *Metrics {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_mqtt_messages_total",
			Help: "MQTT messages by input and result (accepted, rejected, malformed, unmatched, abandoned; retried counts waits for the pipeline).",
		}, []string{"input", "result"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "premetrics_mqtt_connected",
			Help: "1 while the MQTT input is connected to the broker, 0 otherwise.",
		}, []string{"input", "broker"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_mqtt_reconnects_total",
			Help: "MQTT connections re-established after the previous one was lost.",
		}, []string{"input"}),
		shared: shared,
	}
	if m.shared.Samples == nil {
		m.shared.Samples = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_ingest_samples_total",
			Help: "Samples accepted by the pipeline, by protocol.",
		}, []string{"protocol"})
	}
	if m.shared.Rejected == nil {
		m.shared.Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_ingest_rejected_samples_total",
			Help: "Samples rejected at ingest, by protocol and reason.",
		}, []string{"protocol", "reason"})
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.connected, m.reconnects)
	}
	return m
}

// inputMetrics are the children of Metrics for one input, resolved once.
type inputMetrics struct {
	accepted, rejected, malformed, retried, abandoned, unmatched prometheus.Counter

	reconnects prometheus.Counter
	connected  map[string]prometheus.Gauge // by normalized broker URL
	samples    prometheus.Counter
	reasons    [outcome.NumReasons]prometheus.Counter
}

func (m *Metrics) forInput(input string, brokers []string) *inputMetrics {
	im := &inputMetrics{
		accepted:   m.messages.WithLabelValues(input, ResultAccepted),
		rejected:   m.messages.WithLabelValues(input, ResultRejected),
		malformed:  m.messages.WithLabelValues(input, ResultMalformed),
		retried:    m.messages.WithLabelValues(input, ResultRetried),
		abandoned:  m.messages.WithLabelValues(input, ResultAbandoned),
		unmatched:  m.messages.WithLabelValues(input, ResultUnmatched),
		reconnects: m.reconnects.WithLabelValues(input),
		connected:  make(map[string]prometheus.Gauge, len(brokers)),
		samples:    m.shared.Samples.WithLabelValues(Protocol),
	}
	for _, b := range brokers {
		g := m.connected.WithLabelValues(input, b)
		g.Set(0)
		im.connected[b] = g
	}
	for r := outcome.Reason(1); r < outcome.NumReasons; r++ {
		im.reasons[r] = m.shared.Rejected.WithLabelValues(Protocol, r.String())
	}
	return im
}

// setConnected sets the gauge of broker to 1 and the others to 0; an
// empty broker means not connected.
func (im *inputMetrics) setConnected(broker string) {
	for b, g := range im.connected {
		if b == broker {
			g.Set(1)
		} else {
			g.Set(0)
		}
	}
}
