package load

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/premetrics/premetrics/bench/fleet"
)

// Schema names of Shape.Schema.
const (
	SchemaGeneric = "generic"
	SchemaFleet   = "fleet"
)

// Protocols of Shape.Protocol: how the series are encoded.
const (
	// ProtocolRemoteWrite is Prometheus remote write 1.0 (snappy protobuf)
	// for POST /api/v1/write.
	ProtocolRemoteWrite = "remote_write"
	// ProtocolJSON is NDJSON events for POST /api/v1/push/{name}: with the
	// fleet schema the vehicle events of SCENARIOS.md, mapped by the
	// vehicles input of config.example.yaml; with the generic schema one
	// event per sample, mapped by the input of Shape.JSONInput.
	ProtocolJSON = "json"
	// ProtocolInflux is Influx line protocol for POST /write, one line per
	// sample, with nanosecond timestamps.
	ProtocolInflux = "influx"
	// ProtocolOTLP is OTLP/HTTP protobuf for POST /v1/metrics: gauges, and
	// counters as monotonic cumulative Sums (whose names the decoder ends
	// in _total), one data point per sample.
	ProtocolOTLP = "otlp"
	// ProtocolPrometheusText is the Prometheus text exposition format for
	// POST /api/v1/import/prometheus, one line per sample with a
	// millisecond timestamp, the lines of a metric after its # TYPE line.
	ProtocolPrometheusText = "prometheus_text"
	// ProtocolMQTT is the NDJSON events of ProtocolJSON published to an
	// MQTT broker with QoS 1, one body per message (Options.MQTT).
	ProtocolMQTT = "mqtt"
)

// Protocols lists every protocol, for messages and flag help.
var Protocols = []string{ProtocolRemoteWrite, ProtocolJSON, ProtocolInflux, ProtocolOTLP, ProtocolPrometheusText, ProtocolMQTT}

// Names of the JSON inputs the JSON events are meant for, the {name} of
// POST /api/v1/push/{name}.
const (
	JSONInputFleet   = "vehicles"
	JSONInputGeneric = "bench"
)

// Names of the series the schemas generate.
const (
	// LabelDevice is the identity label of a generic device.
	LabelDevice = "device"
	// LabelExtraPrefix prefixes the extra labels: label_0, label_1, ...
	LabelExtraPrefix = "label_"
	// MetricDistance is the counter the fleet schema adds with FleetCounter.
	MetricDistance = "vehicle_distance_meters_total"
	// Generic metric names: GenericCounterPrefix + i + "_total" for
	// counters, GenericGaugePrefix + i for gauges.
	GenericCounterPrefix = "bench_counter_"
	GenericGaugePrefix   = "bench_gauge_"
)

// idDigits is the width of the number in a device identity. With churn the
// number (generation × devices + device) is rewritten in place, so its
// width is fixed: 10 digits, like the fleet's vehicle ids.
const (
	idDigits = 10
	maxID    = 10_000_000_000
)

// Shape describes the series a load generator sends, and how.
type Shape struct {
	// Schema is SchemaGeneric or SchemaFleet.
	Schema string
	// Protocol is one of Protocols (ProtocolRemoteWrite when empty). The
	// series are the same whatever the protocol: a JSON event, an Influx
	// or text line, an OTLP data point is one sample of one of them.
	Protocol string
	// Series is the number of active series; it is rounded up to whole
	// devices (see Plan.Series).
	Series int
	// MetricsPerDevice (generic) is the number of series per device, one
	// per metric name.
	MetricsPerDevice int
	// CounterFraction (generic) is the fraction of a device's metrics that
	// are counters; the others are gauges.
	CounterFraction float64
	// FleetCounter (fleet) adds a fourth series per vehicle, the counter
	// vehicle_distance_meters_total.
	FleetCounter bool
	// ExtraLabels adds label_0 .. label_<n-1> to every series, each with
	// LabelValues distinct values of LabelValueLen bytes, fixed per device.
	ExtraLabels   int
	LabelValueLen int
	LabelValues   int
	// Churn is the fraction of devices replaced by new ones (new identity,
	// so new series) every ChurnInterval. 0: the same series all along.
	Churn         float64
	ChurnInterval time.Duration
	// ValueTicks is how many sends of a series have distinct gauge values
	// before the values repeat (the readings are computed before the run).
	ValueTicks int
	Seed       uint64
}

// protocol returns s.Protocol, ProtocolRemoteWrite when empty.
func (s *Shape) protocol() string {
	if s.Protocol == "" {
		return ProtocolRemoteWrite
	}
	return s.Protocol
}

// events reports whether the protocol's bodies are JSON events.
func (s *Shape) events() bool {
	p := s.protocol()
	return p == ProtocolJSON || p == ProtocolMQTT
}

// text reports whether the protocol's bodies are text with fixed-width
// holes (text.go); remote write and OTLP are protobuf.
func (s *Shape) text() bool {
	p := s.protocol()
	return p != ProtocolRemoteWrite && p != ProtocolOTLP
}

// quoteList renders names as "a", "b" or "c".
func quoteList(names []string) string {
	var sb strings.Builder
	for i, n := range names {
		switch {
		case i == len(names)-1 && i > 0:
			sb.WriteString(" or ")
		case i > 0:
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%q", n)
	}
	return sb.String()
}

// SeriesPerDevice returns how many series each device has.
func (s *Shape) SeriesPerDevice() int {
	if s.Schema == SchemaFleet {
		if s.FleetCounter {
			return fleet.SeriesPerReading + 1
		}
		return fleet.SeriesPerReading
	}
	return s.MetricsPerDevice
}

// Devices returns the number of devices: Series rounded up to whole devices.
func (s *Shape) Devices() int {
	per := s.SeriesPerDevice()
	if per <= 0 {
		return 0
	}
	return (s.Series + per - 1) / per
}

// Validate reports every invalid field, naming the flag it comes from.
func (s *Shape) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch s.Schema {
	case SchemaGeneric:
		if s.MetricsPerDevice < 1 || s.MetricsPerDevice > 1000 {
			add("-metrics-per-device: must be in [1, 1000], got %d", s.MetricsPerDevice)
		}
		if s.CounterFraction < 0 || s.CounterFraction > 1 {
			add("-counter-fraction: must be in [0, 1], got %v", s.CounterFraction)
		}
	case SchemaFleet:
	default:
		add("-schema: must be %q or %q, got %q", SchemaGeneric, SchemaFleet, s.Schema)
	}
	switch s.Protocol {
	case "", ProtocolRemoteWrite, ProtocolInflux, ProtocolOTLP, ProtocolPrometheusText:
	case ProtocolJSON, ProtocolMQTT:
		// The vehicle events have the fields of SCENARIOS.md and no others.
		if s.Schema == SchemaFleet && s.FleetCounter {
			add("-fleet-counter: the vehicle events of SCENARIOS.md have no distance counter: use -fleet-counter=false with -protocol %s", s.Protocol)
		}
		if s.Schema == SchemaFleet && s.ExtraLabels != 0 {
			add("-extra-labels: the vehicle events of SCENARIOS.md have no extra fields: must be 0 with -protocol %s, got %d", s.Protocol, s.ExtraLabels)
		}
	default:
		add("-protocol: must be one of %s, got %q", quoteList(Protocols), s.Protocol)
	}
	if s.Series < 1 {
		add("-series: must be > 0, got %d", s.Series)
	} else if s.Series >= maxID {
		add("-series: must be < %d, got %d", maxID, s.Series)
	}
	if s.ExtraLabels < 0 || s.ExtraLabels > 50 {
		add("-extra-labels: must be in [0, 50], got %d", s.ExtraLabels)
	}
	if s.ExtraLabels > 0 {
		if s.LabelValues < 1 {
			add("-label-values: must be > 0, got %d", s.LabelValues)
		}
		if w := len(fmt.Sprint(max(s.LabelValues-1, 0))); s.LabelValueLen < w || s.LabelValueLen > 1024 {
			add("-label-value-len: must be in [%d, 1024] (digits of -label-values %d), got %d", w, s.LabelValues, s.LabelValueLen)
		}
	}
	if s.Churn < 0 || s.Churn > 1 {
		add("-churn: must be in [0, 1], got %v", s.Churn)
	}
	if s.Churn > 0 && s.ChurnInterval <= 0 {
		add("-churn-interval: must be > 0 with -churn, got %s", s.ChurnInterval)
	}
	if s.ValueTicks < 1 || s.ValueTicks > 1024 {
		add("-value-ticks: must be in [1, 1024], got %d", s.ValueTicks)
	}
	return errors.Join(errs...)
}
