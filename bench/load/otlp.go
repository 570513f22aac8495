package load

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/premetrics/premetrics/bench/fleet"
)

// OTLP bodies: one ExportMetricsServiceRequest per body, one resource
// (without attributes, so no job or instance label) with one scope
// (without name, so no otel_scope_* labels), and one Metric per metric
// name of the body with a data point per series:
//
//	ExportMetricsServiceRequest{1 ResourceMetrics{2 ScopeMetrics{2 Metric{
//	    1 name, 3 unit,
//	    5 Gauge{1 NumberDataPoint...}   or   7 Sum{1 NumberDataPoint..., 2 temporality=2 (cumulative), 3 is_monotonic=true}
//	}...}}}
//	NumberDataPoint{7 KeyValue{1 key, 2 AnyValue{1 string}}..., 3 time_unix_nano fixed64, 4 as_double fixed64}
//	                                               │                       │                    │
//	                              device id digits (churn)         ts hole (8 bytes)     value hole (8 bytes)
//
// Every hole has a fixed width, so no length prefix changes when Render
// rewrites it. Attributes are the labels of the series as they are; the
// metric names are OpenTelemetry's: the fleet's vehicle.rpm ({rpm}),
// vehicle.warnings ({warning}) and the Sum vehicle.distance (m), the
// generic bench_gauge_<i> and the Sum bench_counter_<i>. The decoder's
// Prometheus naming (units in braces add nothing, "m" adds _meters, a
// monotonic cumulative Sum ends in _total) gives back the names of the
// other protocols.

// Field numbers of the OTLP messages.
const (
	otlpResourceMetrics = 1 // ExportMetricsServiceRequest
	otlpScopeMetrics    = 2 // ResourceMetrics
	otlpMetrics         = 2 // ScopeMetrics
	otlpName            = 1 // Metric
	otlpUnit            = 3
	otlpGauge           = 5
	otlpSum             = 7
	otlpDataPoints      = 1 // Gauge, Sum
	otlpTemporality     = 2 // Sum
	otlpMonotonic       = 3
	otlpTime            = 3 // NumberDataPoint
	otlpAsDouble        = 4
	otlpAttributes      = 7
	otlpKey             = 1 // KeyValue
	otlpValue           = 2
	otlpStringValue     = 1 // AnyValue

	temporalityCumulative = 2
)

// otlpMetric returns the OTLP name and unit of a metric of the plan.
func otlpMetric(l *layout) (name, unit string) {
	switch l.name {
	case fleet.MetricRPM:
		return "vehicle.rpm", "{rpm}"
	case fleet.MetricWarnings:
		return "vehicle.warnings", "{warning}"
	case MetricDistance:
		return "vehicle.distance", "m"
	}
	return strings.TrimSuffix(l.name, "_total"), ""
}

// pointHoles are offsets of a data point's holes (-1: none).
type pointHoles struct{ id, ts, value int }

// otlpBody encodes series [first, first+n) as one request.
func (b *builder) otlpBody(first, n int) (body, error) {
	p := b.plan
	churn := p.shape.Churn > 0
	bd := body{first: first, sampleOff: make([]uint32, n), tsOff: make([]uint32, n)}
	if churn {
		bd.idOff = make([]uint32, n)
	}
	// The ScopeMetrics content, with the holes' offsets in it; the two
	// enclosing messages are a fixed prefix added at the end.
	var scope []byte
	holes := make([]pointHoles, n)
	for _, f := range p.families(first, n) {
		l := &p.layouts[(first+f.slots[0])%p.per]
		var points []byte // Gauge or Sum content
		rel := make([]pointHoles, len(f.slots))
		for k, i := range f.slots {
			dev := (first + i) / p.per
			b.ts = b.ts[:0]
			h := b.otlpPoint(&p.layouts[(first+i)%p.per], dev)
			points = protowire.AppendTag(points, otlpDataPoints, protowire.BytesType)
			points = protowire.AppendVarint(points, uint64(len(b.ts)))
			rel[k] = h.shift(len(points))
			points = append(points, b.ts...)
		}
		data := otlpGauge
		if f.kind == kindCounter {
			data = otlpSum
			points = protowire.AppendTag(points, otlpTemporality, protowire.VarintType)
			points = protowire.AppendVarint(points, temporalityCumulative)
			points = protowire.AppendTag(points, otlpMonotonic, protowire.VarintType)
			points = protowire.AppendVarint(points, 1)
		}
		name, unit := otlpMetric(l)
		var metric []byte
		metric = protowire.AppendTag(metric, otlpName, protowire.BytesType)
		metric = protowire.AppendString(metric, name)
		if unit != "" {
			metric = protowire.AppendTag(metric, otlpUnit, protowire.BytesType)
			metric = protowire.AppendString(metric, unit)
		}
		metric = protowire.AppendTag(metric, protowire.Number(data), protowire.BytesType)
		metric = protowire.AppendVarint(metric, uint64(len(points)))
		pointsAt := len(metric)
		metric = append(metric, points...)

		scope = protowire.AppendTag(scope, otlpMetrics, protowire.BytesType)
		scope = protowire.AppendVarint(scope, uint64(len(metric)))
		metricAt := len(scope)
		scope = append(scope, metric...)
		for k, i := range f.slots {
			holes[i] = rel[k].shift(metricAt + pointsAt)
		}
	}
	var rm []byte // ResourceMetrics content
	rm = protowire.AppendTag(rm, otlpScopeMetrics, protowire.BytesType)
	rm = protowire.AppendVarint(rm, uint64(len(scope)))
	scopeAt := len(rm)
	rm = append(rm, scope...)
	data := protowire.AppendTag(nil, otlpResourceMetrics, protowire.BytesType)
	data = protowire.AppendVarint(data, uint64(len(rm)))
	base := len(data) + scopeAt
	data = append(data, rm...)
	if len(data) > math.MaxUint32 {
		return body{}, fmt.Errorf("cannot encode body: %d bytes", len(data))
	}
	for i, h := range holes {
		h = h.shift(base)
		bd.sampleOff[i], bd.tsOff[i] = uint32(h.value), uint32(h.ts)
		if churn {
			if h.id < 0 {
				return body{}, errors.New("cannot encode body: a data point has no device id")
			}
			bd.idOff[i] = uint32(h.id)
		}
	}
	bd.data = data
	p.rawBytes += len(data)
	p.bodyBytes += len(data)
	return bd, nil
}

func (h pointHoles) shift(d int) pointHoles {
	if h.id >= 0 {
		h.id += d
	}
	h.ts += d
	h.value += d
	return h
}

// otlpPoint appends the NumberDataPoint of layout l of device dev to b.ts
// and returns its holes' offsets in it.
func (b *builder) otlpPoint(l *layout, dev int) pointHoles {
	h := pointHoles{id: -1}
	for _, ls := range l.labels {
		if ls.name == "__name__" {
			continue
		}
		value := b.labelValue(ls, dev)
		av := protowire.AppendTag(nil, otlpStringValue, protowire.BytesType)
		av = protowire.AppendString(av, value)
		var kv []byte
		kv = protowire.AppendTag(kv, otlpKey, protowire.BytesType)
		kv = protowire.AppendString(kv, ls.name)
		kv = protowire.AppendTag(kv, otlpValue, protowire.BytesType)
		kv = protowire.AppendBytes(kv, av)
		b.ts = protowire.AppendTag(b.ts, otlpAttributes, protowire.BytesType)
		b.ts = protowire.AppendBytes(b.ts, kv)
		if ls.src == srcID {
			h.id = len(b.ts) - idDigits // the value is the last field
		}
	}
	b.ts = protowire.AppendTag(b.ts, otlpTime, protowire.Fixed64Type)
	h.ts = len(b.ts)
	b.ts = protowire.AppendFixed64(b.ts, 0)
	b.ts = protowire.AppendTag(b.ts, otlpAsDouble, protowire.Fixed64Type)
	h.value = len(b.ts)
	b.ts = protowire.AppendFixed64(b.ts, 0)
	return h
}

// renderOTLP is Render for OTLP bodies.
func (p *Plan) renderOTLP(dst []byte, j int, tick int64, tsMs int64, churned int64) ([]byte, int) {
	b := &p.bodies[j]
	dst = append(dst[:0], b.data...)
	ns := uint64(tsMs) * 1e6
	dev, m := b.first/p.per, b.first%p.per
	for i, off := range b.sampleOff {
		v := p.values.value(p.layouts[m].kind, b.first+i, dev, tick)
		binary.LittleEndian.PutUint64(dst[off:off+8], math.Float64bits(v))
		binary.LittleEndian.PutUint64(dst[b.tsOff[i]:b.tsOff[i]+8], ns)
		if b.idOff != nil {
			putDigits(dst[b.idOff[i]:b.idOff[i]+idDigits], uint64(p.deviceID(dev, churned)))
		}
		if m++; m == p.per {
			m, dev = 0, dev+1
		}
	}
	return dst, len(b.sampleOff)
}

// maxOTLPTimestamp is the last Unix ms whose nanoseconds fit time_unix_nano.
const maxOTLPTimestamp = math.MaxUint64 / 1_000_000

func checkOTLPTimestamp(tsMs int64) error {
	// 0 is "no time": the receiver would stamp the receive time.
	if tsMs <= 0 || uint64(tsMs) > maxOTLPTimestamp {
		return fmt.Errorf("cannot stamp data points at %d ms: outside [1, %d]", tsMs, uint64(maxOTLPTimestamp))
	}
	return nil
}

// parseExportResponse reads the partial_success of an OTLP/HTTP protobuf
// ExportMetricsServiceResponse{1 partial_success
// ExportMetricsPartialSuccess{1 rejected_data_points int64,
// 2 error_message string}}: an empty body is a full success. The message
// is a copy only when rejected > 0.
func parseExportResponse(data []byte) (rejected int64, msg string, err error) {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return 0, "", fmt.Errorf("cannot parse ExportMetricsServiceResponse: %w", protowire.ParseError(n))
		}
		data = data[n:]
		if num != 1 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				return 0, "", fmt.Errorf("cannot parse ExportMetricsServiceResponse: %w", protowire.ParseError(n))
			}
			data = data[n:]
			continue
		}
		ps, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return 0, "", fmt.Errorf("cannot parse ExportMetricsServiceResponse: partial_success: %w", protowire.ParseError(n))
		}
		data = data[n:]
		var text []byte
		for len(ps) > 0 {
			num, typ, n := protowire.ConsumeTag(ps)
			if n < 0 {
				return 0, "", fmt.Errorf("cannot parse ExportMetricsServiceResponse: partial_success: %w", protowire.ParseError(n))
			}
			ps = ps[n:]
			switch {
			case num == 1 && typ == protowire.VarintType:
				var v uint64
				v, n = protowire.ConsumeVarint(ps)
				rejected = int64(v)
			case num == 2 && typ == protowire.BytesType:
				text, n = protowire.ConsumeBytes(ps)
			default:
				n = protowire.ConsumeFieldValue(num, typ, ps)
			}
			if n < 0 {
				return 0, "", fmt.Errorf("cannot parse ExportMetricsServiceResponse: partial_success: %w", protowire.ParseError(n))
			}
			ps = ps[n:]
		}
		if rejected > 0 {
			msg = string(text)
		}
	}
	return rejected, msg, nil
}
