package otlp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// A small model of an ExportMetricsServiceRequest that tests encode both
// as protobuf (with protowire) and as OTLP/JSON.

type kv struct {
	k string
	v any // nil (unset), string, bool, int64, float64, []byte, []any (array), []kv (kvlist)
}

type tReq struct{ rms []tRM }

type tRM struct {
	res []kv
	sms []tSM
}

type tSM struct {
	name, version string
	metrics       []tMetric
}

type tMetric struct {
	name, unit  string
	typ         string // gauge, sum, histogram, exphist, summary, or "" for no data
	temporality int
	monotonic   bool
	points      []tPoint
}

type tPoint struct {
	attrs     []kv
	time      uint64
	flags     uint32
	value     any // nil, float64 (as_double), int64 (as_int)
	count     uint64
	sum       *float64
	counts    []uint64
	bounds    []float64
	quantiles [][2]float64
}

func fp(f float64) *float64 { return &f }

// encOpts vary the protobuf encoding without changing the request.
type encOpts struct {
	unpacked bool // repeated fixed64/double one field each
	reorder  bool // fields in an unusual order: resource after scopes, attributes last, ...
}

func encodeProto(r tReq, o encOpts) []byte {
	var b []byte
	for _, rm := range r.rms {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, encRM(rm, o))
	}
	return b
}

func appendMsg(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendStr(b []byte, num protowire.Number, s string) []byte {
	return appendMsg(b, num, []byte(s))
}

func appendFixed(b []byte, num protowire.Number, u uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, u)
}

func appendVar(b []byte, num protowire.Number, u uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, u)
}

func encRM(rm tRM, o encOpts) []byte {
	var res []byte
	for _, a := range rm.res {
		res = appendMsg(res, 1, encKV(a))
	}
	var sms []byte
	for _, sm := range rm.sms {
		sms = appendMsg(sms, 2, encSM(sm, o))
	}
	var b []byte
	if rm.res != nil && !o.reorder {
		b = appendMsg(b, 1, res)
	}
	b = append(b, sms...)
	if rm.res != nil && o.reorder {
		b = appendMsg(b, 1, res)
		b = appendStr(b, 3, "https://opentelemetry.io/schemas/1.21.0") // schema_url, skipped
	}
	return b
}

func encSM(sm tSM, o encOpts) []byte {
	var scope []byte
	if sm.name != "" {
		scope = appendStr(scope, 1, sm.name)
	}
	if sm.version != "" {
		scope = appendStr(scope, 2, sm.version)
	}
	var ms []byte
	for _, m := range sm.metrics {
		ms = appendMsg(ms, 2, encMetric(m, o))
	}
	if o.reorder {
		return appendMsg(ms, 1, scope)
	}
	return append(appendMsg(nil, 1, scope), ms...)
}

func encMetric(m tMetric, o encOpts) []byte {
	var data []byte
	for _, p := range m.points {
		data = appendMsg(data, 1, encPoint(m.typ, p, o))
	}
	var extra []byte
	if m.typ == "sum" || m.typ == "histogram" || m.typ == "exphist" {
		extra = appendVar(extra, 2, uint64(m.temporality))
	}
	if m.typ == "sum" && m.monotonic {
		extra = appendVar(extra, 3, 1)
	}
	if o.reorder {
		data = append(extra, data...)
	} else {
		data = append(data, extra...)
	}
	var b []byte
	field := map[string]protowire.Number{"gauge": 5, "sum": 7, "histogram": 9, "exphist": 10, "summary": 11}[m.typ]
	if o.reorder && field != 0 {
		b = appendMsg(b, field, data)
	}
	b = appendStr(b, 1, m.name)
	b = appendStr(b, 2, "a description")
	if m.unit != "" {
		b = appendStr(b, 3, m.unit)
	}
	if !o.reorder && field != 0 {
		b = appendMsg(b, field, data)
	}
	return b
}

func encPoint(typ string, p tPoint, o encOpts) []byte {
	attrField := protowire.Number(7)
	switch typ {
	case "histogram":
		attrField = 9
	case "exphist":
		attrField = 1
	}
	var attrs []byte
	for _, a := range p.attrs {
		attrs = appendMsg(attrs, attrField, encKV(a))
	}
	var b []byte
	if !o.reorder {
		b = append(b, attrs...)
	}
	b = appendFixed(b, 2, p.time/2) // start_time_unix_nano, ignored
	if p.time != 0 {
		b = appendFixed(b, 3, p.time)
	}
	switch typ {
	case "gauge", "sum":
		switch v := p.value.(type) {
		case float64:
			b = appendFixed(b, 4, math.Float64bits(v))
		case int64:
			b = appendFixed(b, 6, uint64(v))
		}
		if p.flags != 0 {
			b = appendVar(b, 8, uint64(p.flags))
		}
	case "histogram":
		b = appendFixed(b, 4, p.count)
		if p.sum != nil {
			b = appendFixed(b, 5, math.Float64bits(*p.sum))
		}
		if o.unpacked {
			for _, c := range p.counts {
				b = appendFixed(b, 6, c)
			}
			for _, f := range p.bounds {
				b = appendFixed(b, 7, math.Float64bits(f))
			}
		} else {
			var packed []byte
			for _, c := range p.counts {
				packed = protowire.AppendFixed64(packed, c)
			}
			if len(packed) > 0 {
				b = appendMsg(b, 6, packed)
			}
			packed = nil
			for _, f := range p.bounds {
				packed = protowire.AppendFixed64(packed, math.Float64bits(f))
			}
			if len(packed) > 0 {
				b = appendMsg(b, 7, packed)
			}
		}
		if p.flags != 0 {
			b = appendVar(b, 10, uint64(p.flags))
		}
		b = appendFixed(b, 11, math.Float64bits(0)) // min, ignored
	case "summary":
		b = appendFixed(b, 4, p.count)
		if p.sum != nil {
			b = appendFixed(b, 5, math.Float64bits(*p.sum))
		}
		for _, q := range p.quantiles {
			var qb []byte
			qb = appendFixed(qb, 1, math.Float64bits(q[0]))
			qb = appendFixed(qb, 2, math.Float64bits(q[1]))
			b = appendMsg(b, 6, qb)
		}
		if p.flags != 0 {
			b = appendVar(b, 8, uint64(p.flags))
		}
	case "exphist":
		b = appendFixed(b, 4, p.count)
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(2)) // scale
	}
	if o.reorder {
		b = append(b, attrs...)
	}
	return b
}

func encKV(a kv) []byte {
	b := appendStr(nil, 1, a.k)
	if a.v != nil {
		b = appendMsg(b, 2, encAny(a.v))
	} else {
		b = appendMsg(b, 2, nil) // an AnyValue with no value set
	}
	return b
}

func encAny(v any) []byte {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return appendStr(nil, 1, v)
	case bool:
		u := uint64(0)
		if v {
			u = 1
		}
		return appendVar(nil, 2, u)
	case int64:
		return appendVar(nil, 3, uint64(v))
	case float64:
		return appendFixed(nil, 4, math.Float64bits(v))
	case []any:
		var arr []byte
		for _, e := range v {
			arr = appendMsg(arr, 1, encAny(e))
		}
		return appendMsg(nil, 5, arr)
	case []kv:
		var l []byte
		for _, e := range v {
			l = appendMsg(l, 1, encKV(e))
		}
		return appendMsg(nil, 6, l)
	case []byte:
		return appendMsg(nil, 7, v)
	}
	panic(fmt.Sprintf("bad value %T", v))
}

// encodeJSON renders r in OTLP/JSON, with 64-bit integers as strings
// (as the OpenTelemetry Collector writes them) or, with numbers, as JSON
// numbers; enums as integers or, with names, as names.
func encodeJSON(r tReq, numbers, names bool) []byte {
	u64 := func(u uint64) any {
		if numbers {
			return json.Number(strconv.FormatUint(u, 10))
		}
		return strconv.FormatUint(u, 10)
	}
	dbl := func(f float64) any {
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
		return f
	}
	var anyv func(v any) any
	kvs := func(l []kv) []any {
		out := []any{}
		for _, a := range l {
			m := map[string]any{"key": a.k}
			if a.v != nil {
				m["value"] = anyv(a.v)
			} else {
				m["value"] = map[string]any{}
			}
			out = append(out, m)
		}
		return out
	}
	anyv = func(v any) any {
		switch v := v.(type) {
		case nil:
			return map[string]any{}
		case string:
			return map[string]any{"stringValue": v}
		case bool:
			return map[string]any{"boolValue": v}
		case int64:
			if numbers {
				return map[string]any{"intValue": v}
			}
			return map[string]any{"intValue": strconv.FormatInt(v, 10)}
		case float64:
			return map[string]any{"doubleValue": dbl(v)}
		case []byte:
			return map[string]any{"bytesValue": base64.StdEncoding.EncodeToString(v)}
		case []any:
			vals := []any{}
			for _, e := range v {
				vals = append(vals, anyv(e))
			}
			return map[string]any{"arrayValue": map[string]any{"values": vals}}
		case []kv:
			return map[string]any{"kvlistValue": map[string]any{"values": kvs(v)}}
		}
		panic(fmt.Sprintf("bad value %T", v))
	}
	temporality := func(t int) any {
		if names {
			switch t {
			case 1:
				return "AGGREGATION_TEMPORALITY_DELTA"
			case 2:
				return "AGGREGATION_TEMPORALITY_CUMULATIVE"
			case 0:
				return "AGGREGATION_TEMPORALITY_UNSPECIFIED"
			}
		}
		return t
	}
	var rms []any
	for _, rm := range r.rms {
		var sms []any
		for _, sm := range rm.sms {
			var ms []any
			for _, m := range sm.metrics {
				var dps []any
				for _, p := range m.points {
					dp := map[string]any{"attributes": kvs(p.attrs), "startTimeUnixNano": u64(p.time / 2)}
					if p.time != 0 {
						dp["timeUnixNano"] = u64(p.time)
					}
					if p.flags != 0 {
						dp["flags"] = p.flags
					}
					switch m.typ {
					case "gauge", "sum":
						switch v := p.value.(type) {
						case float64:
							dp["asDouble"] = dbl(v)
						case int64:
							if numbers {
								dp["asInt"] = v
							} else {
								dp["asInt"] = strconv.FormatInt(v, 10)
							}
						}
					case "histogram", "summary", "exphist":
						dp["count"] = u64(p.count)
						if p.sum != nil {
							dp["sum"] = dbl(*p.sum)
						}
						if len(p.counts) > 0 {
							var cs []any
							for _, c := range p.counts {
								cs = append(cs, u64(c))
							}
							dp["bucketCounts"] = cs
						}
						if len(p.bounds) > 0 {
							var bs []any
							for _, b := range p.bounds {
								bs = append(bs, dbl(b))
							}
							dp["explicitBounds"] = bs
						}
						if len(p.quantiles) > 0 {
							var qs []any
							for _, q := range p.quantiles {
								qs = append(qs, map[string]any{"quantile": dbl(q[0]), "value": dbl(q[1])})
							}
							dp["quantileValues"] = qs
						}
						if m.typ == "exphist" {
							dp["scale"] = 2
						}
					}
					dps = append(dps, dp)
				}
				metric := map[string]any{"name": m.name, "description": "a description"}
				if m.unit != "" {
					metric["unit"] = m.unit
				}
				data := map[string]any{"dataPoints": dps}
				switch m.typ {
				case "sum":
					data["aggregationTemporality"] = temporality(m.temporality)
					data["isMonotonic"] = m.monotonic
				case "histogram", "exphist":
					data["aggregationTemporality"] = temporality(m.temporality)
				}
				if key := map[string]string{"gauge": "gauge", "sum": "sum", "histogram": "histogram",
					"exphist": "exponentialHistogram", "summary": "summary"}[m.typ]; key != "" {
					metric[key] = data
				}
				ms = append(ms, metric)
			}
			scope := map[string]any{}
			if sm.name != "" {
				scope["name"] = sm.name
			}
			if sm.version != "" {
				scope["version"] = sm.version
			}
			sms = append(sms, map[string]any{"scope": scope, "metrics": ms})
		}
		rmj := map[string]any{"scopeMetrics": sms}
		if rm.res != nil {
			rmj["resource"] = map[string]any{"attributes": kvs(rm.res)}
		}
		rms = append(rms, rmj)
	}
	b, err := json.Marshal(map[string]any{"resourceMetrics": rms})
	if err != nil {
		panic(err)
	}
	return b
}

// render renders the series of b one per line: labels as batch.String
// writes them, then timestamp@value for each sample. It fails t when a
// series' labels are not sorted and unique.
func render(t testing.TB, b *batch.Batch) []string {
	t.Helper()
	var out []string
	for _, s := range b.Series {
		for i := 1; i < len(s.Labels); i++ {
			if s.Labels[i-1].Name >= s.Labels[i].Name {
				t.Fatalf("labels not sorted and unique: %v", s.Labels)
			}
		}
		var sb strings.Builder
		sb.WriteString(batch.String(s.Labels))
		for _, smp := range s.Samples {
			fmt.Fprintf(&sb, " %d@%s", smp.Timestamp, fmtValue(smp.Value))
		}
		out = append(out, sb.String())
	}
	return out
}

func fmtValue(v float64) string {
	if math.Float64bits(v) == math.Float64bits(staleNaN) {
		return "stale"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// rejections renders res.Rejected one per line.
func rejections(res *outcome.Result) []string {
	var out []string
	for _, r := range res.Rejected {
		out = append(out, fmt.Sprintf("%s %d: %s: %s (%d samples): %s", r.ItemKind, r.Item, r.Series, r.Reason, r.Samples, r.Detail))
	}
	return out
}

var testLimits = outcome.Limits{MaxLabelsPerSeries: 12, MaxLabelNameLength: 64, MaxLabelValueLength: 64, MaxDecodedBytes: 1 << 20}
