package otlp

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/premetrics/premetrics/ingest/internal/protoscan"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// The protobuf parser. Field numbers are those of opentelemetry-proto
// (collector/metrics/v1/metrics_service.proto, metrics/v1/metrics.proto,
// common/v1/common.proto, resource/v1/resource.proto). A message whose
// fields come in any order decodes the same: where a field is needed
// before its siblings (the resource before the scopes, the scope before
// the metrics, temporality before the data points), the parser reads
// the message twice.

func (d *decoder) protoRequest(body []byte) error {
	d.data = body
	data := body
	rm := 0
	for i := 0; i < len(data); {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return d.wireErr(werr)
		}
		if num != 1 {
			if i, werr = protoscan.Skip(data, next, wt); werr != nil {
				return d.wireErr(werr)
			}
			continue
		}
		if werr := protoscan.WantType(i, "resource_metrics", wt, protoscan.BytesType); werr != nil {
			return d.wireErr(werr)
		}
		d.at = position{rm: rm, sm: -1, m: -1, dp: -1}
		s, e, werr := protoscan.BytesField(data, next)
		if werr != nil {
			return d.wireErr(werr)
		}
		if err := d.protoResourceMetrics(s, e); err != nil {
			return err
		}
		rm++
		i = e
	}
	return nil
}

// wireErr turns a wire error into the request's error.
func (d *decoder) wireErr(werr *protoscan.Error) error {
	return &outcome.Error{Kind: outcome.KindMalformed, Where: fmt.Sprintf("byte %d", werr.Off),
		Msg: "cannot parse ExportMetricsServiceRequest: " + d.at.path(false) + werr.Msg}
}

// path renders the position as "resource_metrics[0].scope_metrics[1]: ".
func (p *position) path(isJSON bool) string {
	if p.rm < 0 {
		return ""
	}
	names := [...]string{"resource_metrics", "scope_metrics", "metrics", "data_points"}
	if isJSON {
		names = [...]string{"resourceMetrics", "scopeMetrics", "metrics", "dataPoints"}
	}
	var sb strings.Builder
	for i, n := range [...]int{p.rm, p.sm, p.m, p.dp} {
		if n < 0 {
			break
		}
		if i > 0 {
			sb.WriteByte('.')
		}
		if i == 3 && p.kind != "" {
			sb.WriteString(p.kind)
			sb.WriteByte('.')
		}
		fmt.Fprintf(&sb, "%s[%d]", names[i], n)
	}
	sb.WriteString(": ")
	return sb.String()
}

// each calls f for every field num of wire type bytes in the message
// data[start:end], checking the wire type of that field, and skips the
// other fields.
func (d *decoder) each(start, end int, num uint64, field string, f func(s, e int) error) error {
	data := d.data[:end]
	for i := start; i < end; {
		n, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return d.wireErr(werr)
		}
		if n != num {
			if i, werr = protoscan.Skip(data, next, wt); werr != nil {
				return d.wireErr(werr)
			}
			continue
		}
		if werr := protoscan.WantType(i, field, wt, protoscan.BytesType); werr != nil {
			return d.wireErr(werr)
		}
		s, e, werr := protoscan.BytesField(data, next)
		if werr != nil {
			return d.wireErr(werr)
		}
		if err := f(s, e); err != nil {
			return err
		}
		i = e
	}
	return nil
}

// ResourceMetrics{1 resource Resource, 2 scope_metrics, 3 schema_url}.
func (d *decoder) protoResourceMetrics(start, end int) error {
	d.resetResource()
	// Resource{1 attributes KeyValue, 2 dropped_attributes_count}.
	err := d.each(start, end, 1, "resource", func(s, e int) error {
		return d.each(s, e, 1, "attributes", func(s, e int) error {
			key, v, werr := d.protoKeyValue(s, e)
			if werr != nil {
				return d.wireErr(werr)
			}
			if !d.wantResourceAttr(alias(key)) {
				return nil
			}
			value, deep, werr := d.protoLabelValue(v)
			if werr != nil {
				return d.wireErr(werr)
			}
			if deep {
				return d.nestingErr(key, false)
			}
			d.addResourceAttr(alias(key), value)
			return nil
		})
	})
	if err != nil {
		return err
	}
	d.finishResource()
	sm := 0
	return d.each(start, end, 2, "scope_metrics", func(s, e int) error {
		d.at.sm, d.at.m, d.at.dp = sm, -1, -1
		sm++
		return d.protoScopeMetrics(s, e)
	})
}

func (d *decoder) nestingErr(key []byte, isJSON bool) error {
	return &outcome.Error{Kind: outcome.KindMalformed,
		Msg: fmt.Sprintf("%sresource attribute %s: value nested more than %d levels deep", d.at.path(isJSON), outcome.Quote(string(key)), maxNesting)}
}

// ScopeMetrics{1 scope InstrumentationScope, 2 metrics, 3 schema_url}.
func (d *decoder) protoScopeMetrics(start, end int) error {
	d.scopeName, d.scopeVersion = "", ""
	// InstrumentationScope{1 name, 2 version, 3 attributes, 4 dropped}.
	err := d.each(start, end, 1, "scope", func(s, e int) error {
		data := d.data[:e]
		for i := s; i < e; {
			num, wt, next, werr := protoscan.Tag(data, i)
			if werr != nil {
				return d.wireErr(werr)
			}
			if num != 1 && num != 2 {
				if i, werr = protoscan.Skip(data, next, wt); werr != nil {
					return d.wireErr(werr)
				}
				continue
			}
			if werr := protoscan.WantType(i, "scope name or version", wt, protoscan.BytesType); werr != nil {
				return d.wireErr(werr)
			}
			vs, ve, werr := protoscan.BytesField(data, next)
			if werr != nil {
				return d.wireErr(werr)
			}
			if num == 1 {
				d.scopeName = d.str(data[vs:ve])
			} else {
				d.scopeVersion = d.str(data[vs:ve])
			}
			i = ve
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.buildCtx()
	m := 0
	return d.each(start, end, 2, "metrics", func(s, e int) error {
		d.at.m, d.at.dp, d.at.kind = m, -1, ""
		m++
		return d.protoMetric(s, e)
	})
}

// Metric{1 name, 2 description, 3 unit, oneof data {5 gauge, 7 sum,
// 9 histogram, 10 exponential_histogram, 11 summary}, 12 metadata}.
func (d *decoder) protoMetric(start, end int) error {
	data := d.data[:end]
	var name, unit []byte
	var dataNum uint64
	var ds, de int
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return d.wireErr(werr)
		}
		switch num {
		case 1, 3, 5, 7, 9, 10, 11:
		default:
			if i, werr = protoscan.Skip(data, next, wt); werr != nil {
				return d.wireErr(werr)
			}
			continue
		}
		if werr := protoscan.WantType(i, metricField(num), wt, protoscan.BytesType); werr != nil {
			return d.wireErr(werr)
		}
		s, e, werr := protoscan.BytesField(data, next)
		if werr != nil {
			return d.wireErr(werr)
		}
		switch num {
		case 1:
			name = data[s:e]
		case 3:
			unit = data[s:e]
		default: // the last data field wins, as for any oneof
			dataNum, ds, de = num, s, e
		}
		i = e
	}
	d.res.Metadata++
	d.at.kind = metricField(dataNum)
	switch dataNum {
	case 5: // Gauge{1 data_points}
		d.setFamily(name, unit, kindGauge)
		return d.protoPoints(ds, de, dataNumber)
	case 7: // Sum{1 data_points, 2 aggregation_temporality, 3 is_monotonic}
		temporality, monotonic, err := d.protoTemporality(ds, de, true)
		if err != nil {
			return err
		}
		d.setTemporal(name, unit, temporality, monotonic)
		return d.protoPoints(ds, de, dataNumber)
	case 9: // Histogram{1 data_points, 2 aggregation_temporality}
		temporality, _, err := d.protoTemporality(ds, de, false)
		if err != nil {
			return err
		}
		d.setFamily(name, unit, kindOther)
		d.checkTemporality(temporality)
		return d.protoPoints(ds, de, dataHistogram)
	case 10: // ExponentialHistogram{1 data_points, 2 aggregation_temporality}
		d.setFamily(name, unit, kindOther)
		return d.each(ds, de, 1, "data_points", func(int, int) error {
			d.rejectUnsupported()
			return nil
		})
	case 11: // Summary{1 data_points}
		d.setFamily(name, unit, kindOther)
		return d.protoPoints(ds, de, dataSummary)
	}
	return nil // no data: nothing to map
}

func metricField(num uint64) string {
	switch num {
	case 1:
		return "name"
	case 3:
		return "unit"
	case 5:
		return "gauge"
	case 7:
		return "sum"
	case 9:
		return "histogram"
	case 10:
		return "exponential_histogram"
	case 11:
		return "summary"
	}
	return ""
}

// setTemporal sets the family of a Sum.
func (d *decoder) setTemporal(name, unit []byte, temporality uint64, monotonic bool) {
	kind := kindOther
	if temporality == temporalityCumulative && monotonic {
		kind = kindCounter
	}
	d.setFamily(name, unit, kind)
	d.checkTemporality(temporality)
}

// AggregationTemporality values.
const (
	temporalityUnspecified = 0
	temporalityDelta       = 1
	temporalityCumulative  = 2
)

// checkTemporality rejects the metric's data points when the temporality
// is neither delta nor cumulative (and the name is fine).
func (d *decoder) checkTemporality(t uint64) {
	if d.famPr.reason != outcome.ReasonNone || t == temporalityDelta || t == temporalityCumulative {
		return
	}
	reason := outcome.ReasonUnsupported
	if t == temporalityUnspecified {
		reason = outcome.ReasonMissingField
	}
	d.famPr = problem{reason: reason, code: prTemporality, n1: int(min(t, math.MaxInt32))}
}

// protoTemporality reads fields 2 (aggregation_temporality) and, for a
// Sum, 3 (is_monotonic) of data[start:end].
func (d *decoder) protoTemporality(start, end int, isSum bool) (temporality uint64, monotonic bool, err error) {
	data := d.data[:end]
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return 0, false, d.wireErr(werr)
		}
		switch {
		case num == 2:
			if werr = protoscan.WantType(i, "aggregation_temporality", wt, protoscan.VarintType); werr == nil {
				temporality, i, werr = protoscan.Uvarint(data, next)
			}
		case num == 3 && isSum:
			if werr = protoscan.WantType(i, "is_monotonic", wt, protoscan.VarintType); werr == nil {
				var u uint64
				u, i, werr = protoscan.Uvarint(data, next)
				monotonic = u != 0
			}
		default:
			i, werr = protoscan.Skip(data, next, wt)
		}
		if werr != nil {
			return 0, false, d.wireErr(werr)
		}
	}
	return temporality, monotonic, nil
}

// protoPoints maps the data points (field 1) of a Gauge, Sum, Histogram
// or Summary message.
func (d *decoder) protoPoints(start, end int, kind dataKind) error {
	dp := 0
	return d.each(start, end, 1, "data_points", func(s, e int) error {
		d.at.dp = dp
		dp++
		var err error
		switch kind {
		case dataNumber:
			err = d.protoNumberPoint(s, e)
		case dataHistogram:
			err = d.protoHistogramPoint(s, e)
		default:
			err = d.protoSummaryPoint(s, e)
		}
		if err != nil {
			return err
		}
		d.finishPoint(kind)
		return nil
	})
}

// protoAttr adds the attribute KeyValue data[start:end] to the point.
func (d *decoder) protoAttr(start, end int) error {
	key, v, werr := d.protoKeyValue(start, end)
	if werr != nil {
		return d.wireErr(werr)
	}
	value, deep, werr := d.protoLabelValue(v)
	if werr != nil {
		return d.wireErr(werr)
	}
	if deep {
		d.pt.problem(problem{reason: outcome.ReasonBadValue, code: prNesting, key: alias(key)})
		return nil
	}
	d.addAttr(key, value)
	return nil
}

// protoAttrField reads the attributes field of a data point whose tag
// ends at next: the KeyValue's end, or a wire error, or the error of the
// attribute itself.
func (d *decoder) protoAttrField(data []byte, i, next, wt int) (int, *protoscan.Error, error) {
	if werr := protoscan.WantType(i, "attributes", wt, protoscan.BytesType); werr != nil {
		return i, werr, nil
	}
	s, e, werr := protoscan.BytesField(data, next)
	if werr != nil {
		return i, werr, nil
	}
	return e, nil, d.protoAttr(s, e)
}

// NumberDataPoint{7 attributes, 2 start_time_unix_nano, 3 time_unix_nano,
// oneof value {4 as_double, 6 as_int}, 5 exemplars, 8 flags}.
func (d *decoder) protoNumberPoint(start, end int) error {
	p := d.beginPoint()
	data := d.data[:end]
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return d.wireErr(werr)
		}
		switch num {
		case 7:
			var err error
			if i, werr, err = d.protoAttrField(data, i, next, wt); err != nil {
				return err
			}
		case 3:
			if werr = protoscan.WantType(i, "time_unix_nano", wt, protoscan.Fixed64Type); werr == nil {
				p.time, i, werr = protoscan.Fixed64(data, next)
			}
		case 4, 6:
			if werr = protoscan.WantType(i, "as_double or as_int", wt, protoscan.Fixed64Type); werr == nil {
				var u uint64
				u, i, werr = protoscan.Fixed64(data, next)
				p.hasValue = true
				if num == 4 {
					p.value = math.Float64frombits(u)
				} else {
					p.value = float64(int64(u))
				}
			}
		case 8:
			if werr = protoscan.WantType(i, "flags", wt, protoscan.VarintType); werr == nil {
				var u uint64
				u, i, werr = protoscan.Uvarint(data, next)
				p.flags = uint32(u)
			}
		default: // 2 start_time_unix_nano, 5 exemplars, unknown
			i, werr = protoscan.Skip(data, next, wt)
		}
		if werr != nil {
			return d.wireErr(werr)
		}
	}
	return nil
}

// HistogramDataPoint{9 attributes, 2 start_time_unix_nano,
// 3 time_unix_nano, 4 count, 5 sum, 6 bucket_counts (fixed64, packed or
// not), 7 explicit_bounds (double, packed or not), 8 exemplars, 10 flags,
// 11 min, 12 max}.
func (d *decoder) protoHistogramPoint(start, end int) error {
	p := d.beginPoint()
	data := d.data[:end]
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return d.wireErr(werr)
		}
		switch num {
		case 9:
			var err error
			if i, werr, err = d.protoAttrField(data, i, next, wt); err != nil {
				return err
			}
		case 3:
			if werr = protoscan.WantType(i, "time_unix_nano", wt, protoscan.Fixed64Type); werr == nil {
				p.time, i, werr = protoscan.Fixed64(data, next)
			}
		case 4:
			if werr = protoscan.WantType(i, "count", wt, protoscan.Fixed64Type); werr == nil {
				p.count, i, werr = protoscan.Fixed64(data, next)
			}
		case 5:
			if werr = protoscan.WantType(i, "sum", wt, protoscan.Fixed64Type); werr == nil {
				var u uint64
				u, i, werr = protoscan.Fixed64(data, next)
				p.sum, p.hasSum = math.Float64frombits(u), true
			}
		case 6, 7:
			i, werr = d.protoRepeatedFixed64(data, i, next, wt, num)
		case 10:
			if werr = protoscan.WantType(i, "flags", wt, protoscan.VarintType); werr == nil {
				var u uint64
				u, i, werr = protoscan.Uvarint(data, next)
				p.flags = uint32(u)
			}
		default:
			i, werr = protoscan.Skip(data, next, wt)
		}
		if werr != nil {
			return d.wireErr(werr)
		}
	}
	return nil
}

// protoRepeatedFixed64 reads bucket_counts (6) or explicit_bounds (7),
// packed (wire type bytes) or one value (wire type fixed64).
func (d *decoder) protoRepeatedFixed64(data []byte, i, next, wt int, num uint64) (int, *protoscan.Error) {
	p := &d.pt
	add := func(u uint64) {
		if num == 6 {
			p.counts = append(p.counts, u)
		} else {
			p.bounds = append(p.bounds, math.Float64frombits(u))
		}
	}
	switch wt {
	case protoscan.Fixed64Type:
		u, end, werr := protoscan.Fixed64(data, next)
		if werr == nil {
			add(u)
		}
		return end, werr
	case protoscan.BytesType:
		s, e, werr := protoscan.BytesField(data, next)
		if werr != nil {
			return i, werr
		}
		if (e-s)%8 != 0 {
			return i, protoscan.Errorf(s, "packed %s of %d bytes, not a multiple of 8", histogramField(num), e-s)
		}
		for j := s; j < e; j += 8 {
			add(binary.LittleEndian.Uint64(data[j:]))
		}
		return e, nil
	}
	return i, protoscan.WrongType(i, histogramField(num), wt, protoscan.BytesType)
}

func histogramField(num uint64) string {
	if num == 6 {
		return "bucket_counts"
	}
	return "explicit_bounds"
}

// SummaryDataPoint{7 attributes, 2 start_time_unix_nano, 3 time_unix_nano,
// 4 count, 5 sum, 6 quantile_values{1 quantile, 2 value}, 8 flags}.
func (d *decoder) protoSummaryPoint(start, end int) error {
	p := d.beginPoint()
	data := d.data[:end]
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return d.wireErr(werr)
		}
		switch num {
		case 7:
			var err error
			if i, werr, err = d.protoAttrField(data, i, next, wt); err != nil {
				return err
			}
		case 6:
			if werr = protoscan.WantType(i, "quantile_values", wt, protoscan.BytesType); werr != nil {
				break
			}
			var s, e int
			if s, e, werr = protoscan.BytesField(data, next); werr != nil {
				break
			}
			var q quantile
			if q, werr = protoQuantile(data, s, e); werr != nil {
				break
			}
			p.quantiles = append(p.quantiles, q)
			i = e
		case 3:
			if werr = protoscan.WantType(i, "time_unix_nano", wt, protoscan.Fixed64Type); werr == nil {
				p.time, i, werr = protoscan.Fixed64(data, next)
			}
		case 4:
			if werr = protoscan.WantType(i, "count", wt, protoscan.Fixed64Type); werr == nil {
				p.count, i, werr = protoscan.Fixed64(data, next)
			}
		case 5:
			if werr = protoscan.WantType(i, "sum", wt, protoscan.Fixed64Type); werr == nil {
				var u uint64
				u, i, werr = protoscan.Fixed64(data, next)
				p.sum = math.Float64frombits(u)
			}
		case 8:
			if werr = protoscan.WantType(i, "flags", wt, protoscan.VarintType); werr == nil {
				var u uint64
				u, i, werr = protoscan.Uvarint(data, next)
				p.flags = uint32(u)
			}
		default:
			i, werr = protoscan.Skip(data, next, wt)
		}
		if werr != nil {
			return d.wireErr(werr)
		}
	}
	return nil
}

// protoQuantile parses ValueAtQuantile{1 quantile, 2 value}.
func protoQuantile(data []byte, start, end int) (quantile, *protoscan.Error) {
	var q quantile
	data = data[:end]
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return q, werr
		}
		if num == 1 || num == 2 {
			if werr := protoscan.WantType(i, "quantile or value", wt, protoscan.Fixed64Type); werr != nil {
				return q, werr
			}
			var u uint64
			if u, i, werr = protoscan.Fixed64(data, next); werr != nil {
				return q, werr
			}
			if num == 1 {
				q.q = math.Float64frombits(u)
			} else {
				q.v = math.Float64frombits(u)
			}
			continue
		}
		if i, werr = protoscan.Skip(data, next, wt); werr != nil {
			return q, werr
		}
	}
	return q, nil
}
