package otlp

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/premetrics/premetrics/ingest/outcome"
)

// The OTLP/JSON parser: the protobuf JSON mapping with OTLP's rules —
// lowerCamelCase keys only (the proto field names are not accepted),
// 64-bit integers as decimal strings or numbers, enums as integers or
// names, doubles as numbers or "NaN", "Infinity", "-Infinity", bytes
// values in base64 (standard or URL-safe, padded or not), unknown keys
// ignored, null the same as absent.
//
// A problem above the data points (a request that is not JSON, a
// resourceMetrics that is not an array, a metric name that is not a
// string) fails the request; a problem inside a data point (an attribute
// value, a time or a value of the wrong type) rejects that data point.

// maxKeptJSON is the largest body whose parser (holding a copy of the
// body and a tree of values) a pooled decoder keeps.
const maxKeptJSON = 4 << 20

// jsonState is the decoder's reusable JSON parser and scratch space.
type jsonState struct {
	p    fastjson.Parser
	num  []byte
	raw  []byte
	last int // size of the last body parsed
}

// release forgets the parser after a large body, so that a pooled
// decoder does not hold a copy of a big request.
func (j *jsonState) release() {
	if j.last > maxKeptJSON || cap(j.raw) > maxKeptScratch {
		*j = jsonState{}
	}
}

func (d *decoder) jsonRequest(body []byte) error {
	d.json.last = len(body)
	v, err := d.json.p.ParseBytes(body)
	if err != nil {
		return &outcome.Error{Kind: outcome.KindMalformed, Msg: "cannot parse ExportMetricsServiceRequest: " + err.Error()}
	}
	if v.Type() != fastjson.TypeObject {
		return d.jsonErrf("the request is a JSON %s, want an object", v.Type())
	}
	rms, err := d.jsonArray(v, "resourceMetrics")
	if err != nil {
		return err
	}
	for i, rm := range rms {
		d.at = position{rm: i, sm: -1, m: -1, dp: -1}
		if err := d.jsonResourceMetrics(rm); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) jsonErrf(format string, args ...any) error {
	return &outcome.Error{Kind: outcome.KindMalformed,
		Msg: "cannot parse ExportMetricsServiceRequest: " + d.at.path(true) + fmt.Sprintf(format, args...)}
}

// get returns the value of key in the object v, nil when absent or null.
func get(v *fastjson.Value, key string) *fastjson.Value {
	x := v.Get(key)
	if x == nil || x.Type() == fastjson.TypeNull {
		return nil
	}
	return x
}

// jsonArray returns the array at key in the object v (nil when absent).
func (d *decoder) jsonArray(v *fastjson.Value, key string) ([]*fastjson.Value, error) {
	x := get(v, key)
	if x == nil {
		return nil, nil
	}
	if x.Type() != fastjson.TypeArray {
		return nil, d.jsonErrf("field %s is a JSON %s, want an array", key, x.Type())
	}
	a, _ := x.Array()
	return a, nil
}

// jsonObject checks that v is an object.
func (d *decoder) jsonObject(v *fastjson.Value, what string) error {
	if v.Type() != fastjson.TypeObject {
		return d.jsonErrf("%s is a JSON %s, want an object", what, v.Type())
	}
	return nil
}

// jsonString returns the string at key in the object v ("" when absent).
func (d *decoder) jsonString(v *fastjson.Value, key string) ([]byte, error) {
	x := get(v, key)
	if x == nil {
		return nil, nil
	}
	if x.Type() != fastjson.TypeString {
		return nil, d.jsonErrf("field %s is a JSON %s, want a string", key, x.Type())
	}
	s, _ := x.StringBytes()
	return s, nil
}

func (d *decoder) jsonResourceMetrics(rm *fastjson.Value) error {
	if err := d.jsonObject(rm, "the element"); err != nil {
		return err
	}
	d.resetResource()
	if res := get(rm, "resource"); res != nil {
		if err := d.jsonObject(res, "resource"); err != nil {
			return err
		}
		attrs, err := d.jsonArray(res, "attributes")
		if err != nil {
			return err
		}
		for _, kv := range attrs {
			if err := d.jsonObject(kv, "a resource attribute"); err != nil {
				return err
			}
			key, err := d.jsonString(kv, "key")
			if err != nil {
				return err
			}
			if !d.wantResourceAttr(alias(key)) {
				continue
			}
			value, pr := d.jsonLabelValue(get(kv, "value"))
			if pr.reason != outcome.ReasonNone {
				pr.key = alias(key)
				return d.jsonErrf("resource %s", pr.detail())
			}
			d.addResourceAttr(alias(key), value)
		}
	}
	d.finishResource()
	sms, err := d.jsonArray(rm, "scopeMetrics")
	if err != nil {
		return err
	}
	for i, sm := range sms {
		d.at.sm, d.at.m, d.at.dp = i, -1, -1
		if err := d.jsonScopeMetrics(sm); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) jsonScopeMetrics(sm *fastjson.Value) error {
	if err := d.jsonObject(sm, "the element"); err != nil {
		return err
	}
	d.scopeName, d.scopeVersion = "", ""
	if scope := get(sm, "scope"); scope != nil {
		if err := d.jsonObject(scope, "scope"); err != nil {
			return err
		}
		name, err := d.jsonString(scope, "name")
		if err != nil {
			return err
		}
		version, err := d.jsonString(scope, "version")
		if err != nil {
			return err
		}
		d.scopeName, d.scopeVersion = d.str(name), d.str(version)
	}
	d.buildCtx()
	ms, err := d.jsonArray(sm, "metrics")
	if err != nil {
		return err
	}
	for i, m := range ms {
		d.at.m, d.at.dp, d.at.kind = i, -1, ""
		if err := d.jsonMetric(m); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) jsonMetric(m *fastjson.Value) error {
	if err := d.jsonObject(m, "the element"); err != nil {
		return err
	}
	name, err := d.jsonString(m, "name")
	if err != nil {
		return err
	}
	unit, err := d.jsonString(m, "unit")
	if err != nil {
		return err
	}
	d.res.Metadata++
	for _, field := range [...]string{"gauge", "sum", "histogram", "exponentialHistogram", "summary"} {
		v := get(m, field)
		if v == nil {
			continue
		}
		d.at.kind = field
		if err := d.jsonObject(v, field); err != nil {
			return err
		}
		switch field {
		case "gauge":
			d.setFamily(name, unit, kindGauge)
			return d.jsonPoints(v, dataNumber)
		case "sum":
			t, err := d.jsonTemporality(v)
			if err != nil {
				return err
			}
			monotonic := false
			if x := get(v, "isMonotonic"); x != nil {
				if x.Type() != fastjson.TypeTrue && x.Type() != fastjson.TypeFalse {
					return d.jsonErrf("field isMonotonic is a JSON %s, want true or false", x.Type())
				}
				monotonic = x.Type() == fastjson.TypeTrue
			}
			d.setTemporal(name, unit, t, monotonic)
			return d.jsonPoints(v, dataNumber)
		case "histogram":
			t, err := d.jsonTemporality(v)
			if err != nil {
				return err
			}
			d.setFamily(name, unit, kindOther)
			d.checkTemporality(t)
			return d.jsonPoints(v, dataHistogram)
		case "exponentialHistogram":
			d.setFamily(name, unit, kindOther)
			dps, err := d.jsonArray(v, "dataPoints")
			if err != nil {
				return err
			}
			for range dps {
				d.rejectUnsupported()
			}
			return nil
		default:
			d.setFamily(name, unit, kindOther)
			return d.jsonPoints(v, dataSummary)
		}
	}
	return nil
}

// jsonTemporality reads aggregationTemporality: an integer or an enum
// value name.
func (d *decoder) jsonTemporality(v *fastjson.Value) (uint64, error) {
	x := get(v, "aggregationTemporality")
	if x == nil {
		return temporalityUnspecified, nil
	}
	if x.Type() == fastjson.TypeString {
		s, _ := x.StringBytes()
		switch string(s) {
		case "AGGREGATION_TEMPORALITY_UNSPECIFIED":
			return temporalityUnspecified, nil
		case "AGGREGATION_TEMPORALITY_DELTA":
			return temporalityDelta, nil
		case "AGGREGATION_TEMPORALITY_CUMULATIVE":
			return temporalityCumulative, nil
		}
	}
	if x.Type() == fastjson.TypeNumber {
		if n, err := strconv.ParseUint(alias(d.jsonRaw(x)), 10, 32); err == nil {
			return n, nil
		}
	}
	return 0, d.jsonErrf("aggregationTemporality %s is not an AggregationTemporality", outcome.Quote(string(x.MarshalTo(nil))))
}

// jsonRaw returns the text of a JSON number (or the content of a string)
// in scratch space valid until the next call.
func (d *decoder) jsonRaw(x *fastjson.Value) []byte {
	if x.Type() == fastjson.TypeString {
		s, _ := x.StringBytes()
		return s
	}
	d.json.num = x.MarshalTo(d.json.num[:0])
	return d.json.num
}

func (d *decoder) jsonPoints(v *fastjson.Value, kind dataKind) error {
	dps, err := d.jsonArray(v, "dataPoints")
	if err != nil {
		return err
	}
	for i, dp := range dps {
		d.at.dp = i
		if err := d.jsonObject(dp, "the data point"); err != nil {
			return err
		}
		d.jsonPoint(dp, kind)
		d.finishPoint(kind)
	}
	return nil
}

// jsonPoint parses a NumberDataPoint, HistogramDataPoint or
// SummaryDataPoint into d.pt, recording its first problem.
func (d *decoder) jsonPoint(dp *fastjson.Value, kind dataKind) {
	p := d.beginPoint()
	if x := get(dp, "attributes"); x != nil {
		d.jsonAttrs(x)
	}
	if x := get(dp, "timeUnixNano"); x != nil {
		p.time = d.jsonUint(x, "timeUnixNano", outcome.ReasonBadTimestamp)
	}
	if x := get(dp, "flags"); x != nil {
		f := d.jsonUint(x, "flags", outcome.ReasonBadValue)
		if f > math.MaxUint32 {
			p.problem(problem{reason: outcome.ReasonBadValue, code: prJSONValue, s: "flags", s2: d.str(d.jsonRaw(x)), s3: "a uint32"})
		}
		p.flags = uint32(f)
	}
	switch kind {
	case dataNumber:
		if x := get(dp, "asInt"); x != nil {
			p.value, p.hasValue = float64(d.jsonInt(x, "asInt")), true
		}
		if x := get(dp, "asDouble"); x != nil {
			p.value, p.hasValue = d.jsonFloat(x, "asDouble"), true
		}
		return
	case dataHistogram:
		if x := get(dp, "bucketCounts"); x != nil {
			if a := d.jsonArrayField(x, "bucketCounts"); a != nil {
				for _, c := range a {
					p.counts = append(p.counts, d.jsonUint(c, "bucketCounts", outcome.ReasonBadValue))
				}
			}
		}
		if x := get(dp, "explicitBounds"); x != nil {
			if a := d.jsonArrayField(x, "explicitBounds"); a != nil {
				for _, b := range a {
					p.bounds = append(p.bounds, d.jsonFloat(b, "explicitBounds"))
				}
			}
		}
	case dataSummary:
		if x := get(dp, "quantileValues"); x != nil {
			if a := d.jsonArrayField(x, "quantileValues"); a != nil {
				for _, qv := range a {
					if qv.Type() != fastjson.TypeObject {
						p.problem(problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "quantileValues", s2: jsonType(qv), s3: "an object"})
						continue
					}
					var q quantile
					if x := get(qv, "quantile"); x != nil {
						q.q = d.jsonFloat(x, "quantile")
					}
					if x := get(qv, "value"); x != nil {
						q.v = d.jsonFloat(x, "value")
					}
					p.quantiles = append(p.quantiles, q)
				}
			}
		}
	}
	if x := get(dp, "count"); x != nil {
		p.count = d.jsonUint(x, "count", outcome.ReasonBadValue)
	}
	if x := get(dp, "sum"); x != nil {
		p.sum, p.hasSum = d.jsonFloat(x, "sum"), true
	}
}

// jsonType names the JSON type of v for a detail.
func jsonType(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeNumber:
		return "a number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	}
	return "null"
}

// jsonArrayField returns the array v, or records a problem and returns nil.
func (d *decoder) jsonArrayField(v *fastjson.Value, field string) []*fastjson.Value {
	if v.Type() != fastjson.TypeArray {
		d.pt.problem(problem{reason: outcome.ReasonWrongType, code: prJSONType, s: field, s2: jsonType(v), s3: "an array"})
		return nil
	}
	a, _ := v.Array()
	return a
}

// jsonAttrs adds the attributes array v to the data point.
func (d *decoder) jsonAttrs(v *fastjson.Value) {
	p := &d.pt
	a := d.jsonArrayField(v, "attributes")
	for _, kv := range a {
		if kv.Type() != fastjson.TypeObject {
			p.problem(problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "attributes", s2: jsonType(kv), s3: "an object"})
			continue
		}
		var key []byte
		if k := get(kv, "key"); k != nil {
			if k.Type() != fastjson.TypeString {
				p.problem(problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "attribute key", s2: jsonType(k), s3: "a string"})
				continue
			}
			key, _ = k.StringBytes()
		}
		value, pr := d.jsonLabelValue(get(kv, "value"))
		if pr.reason != outcome.ReasonNone {
			pr.key = alias(key)
			p.problem(pr)
			continue
		}
		d.addAttr(key, value)
	}
}

// jsonUint parses an unsigned 64-bit integer: a number or a decimal
// string. On failure it records a problem of reason and returns 0.
func (d *decoder) jsonUint(x *fastjson.Value, field string, reason outcome.Reason) uint64 {
	if t := x.Type(); t != fastjson.TypeNumber && t != fastjson.TypeString {
		d.pt.problem(problem{reason: outcome.ReasonWrongType, code: prJSONType, s: field, s2: jsonType(x), s3: "an integer"})
		return 0
	}
	raw := d.jsonRaw(x)
	if u, err := strconv.ParseUint(alias(raw), 10, 64); err == nil {
		return u
	}
	if f, err := strconv.ParseFloat(alias(raw), 64); err == nil && f >= 0 && f < 1<<64 && f == math.Trunc(f) {
		return uint64(f)
	}
	d.pt.problem(problem{reason: reason, code: prJSONValue, s: field, s2: d.str(raw), s3: "an unsigned integer"})
	return 0
}

// jsonInt parses a signed 64-bit integer like jsonUint.
func (d *decoder) jsonInt(x *fastjson.Value, field string) int64 {
	n, pr := d.jsonIntValue(x, field)
	d.pt.problem(pr)
	return n
}

func (d *decoder) jsonIntValue(x *fastjson.Value, field string) (int64, problem) {
	if t := x.Type(); t != fastjson.TypeNumber && t != fastjson.TypeString {
		return 0, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: field, s2: jsonType(x), s3: "an integer"}
	}
	raw := d.jsonRaw(x)
	if n, err := strconv.ParseInt(alias(raw), 10, 64); err == nil {
		return n, problem{}
	}
	if f, err := strconv.ParseFloat(alias(raw), 64); err == nil && f >= -(1<<63) && f < 1<<63 && f == math.Trunc(f) {
		return int64(f), problem{}
	}
	return 0, problem{reason: outcome.ReasonBadValue, code: prJSONValue, s: field, s2: d.str(raw), s3: "an integer"}
}

// jsonFloat parses a double: a number, "NaN", "Infinity", "-Infinity" or
// a number in a string.
func (d *decoder) jsonFloat(x *fastjson.Value, field string) float64 {
	f, pr := d.jsonFloatValue(x, field)
	d.pt.problem(pr)
	return f
}

func (d *decoder) jsonFloatValue(x *fastjson.Value, field string) (float64, problem) {
	if t := x.Type(); t != fastjson.TypeNumber && t != fastjson.TypeString {
		return 0, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: field, s2: jsonType(x), s3: "a number"}
	}
	raw := d.jsonRaw(x)
	switch string(raw) {
	case "NaN":
		return math.NaN(), problem{}
	case "Infinity":
		return math.Inf(1), problem{}
	case "-Infinity":
		return math.Inf(-1), problem{}
	}
	if f, err := strconv.ParseFloat(alias(raw), 64); err == nil {
		return f, problem{}
	}
	return 0, problem{reason: outcome.ReasonBadValue, code: prJSONValue, s: field, s2: d.str(raw), s3: "a number"}
}

// anyValueKeys are the value fields of an AnyValue in JSON.
var anyValueKeys = [...]string{"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"}

// jsonAnyField returns which value field the AnyValue object v sets
// (-1 for none) and its value.
func jsonAnyField(v *fastjson.Value) (int, *fastjson.Value) {
	for i, k := range anyValueKeys {
		if x := get(v, k); x != nil {
			return i, x
		}
	}
	return -1, nil
}

// jsonLabelValue renders the AnyValue v (nil: unset) as a label value in
// the batch arena, like protoLabelValue.
func (d *decoder) jsonLabelValue(v *fastjson.Value) (string, problem) {
	if v == nil {
		return "", problem{}
	}
	if v.Type() != fastjson.TypeObject {
		return "", problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "value", s2: jsonType(v), s3: "an AnyValue object"}
	}
	field, x := jsonAnyField(v)
	switch field {
	case -1:
		return "", problem{}
	case 0:
		if x.Type() != fastjson.TypeString {
			return "", problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "stringValue", s2: jsonType(x), s3: "a string"}
		}
		s, _ := x.StringBytes()
		return d.str(s), problem{}
	case 1:
		switch x.Type() {
		case fastjson.TypeTrue:
			return "true", problem{}
		case fastjson.TypeFalse:
			return "false", problem{}
		}
		return "", problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "boolValue", s2: jsonType(x), s3: "a boolean"}
	case 2:
		n, pr := d.jsonIntValue(x, "intValue")
		if pr.reason != outcome.ReasonNone {
			return "", pr
		}
		d.scratch = strconv.AppendInt(d.scratch[:0], n, 10)
	case 3:
		f, pr := d.jsonFloatValue(x, "doubleValue")
		if pr.reason != outcome.ReasonNone {
			return "", pr
		}
		d.scratch = appendDouble(d.scratch[:0], f)
	case 6:
		raw, pr := d.jsonBytes(x)
		if pr.reason != outcome.ReasonNone {
			return "", pr
		}
		return d.base64(raw), problem{}
	default:
		buf, ok, pr := d.appendJSONAny(d.scratch[:0], v, 1)
		d.scratch = buf
		if pr.reason != outcome.ReasonNone || !ok {
			return "", pr
		}
	}
	return d.str(d.scratch), problem{}
}

// jsonBytes decodes a base64 bytesValue into scratch space.
func (d *decoder) jsonBytes(x *fastjson.Value) ([]byte, problem) {
	if x.Type() != fastjson.TypeString {
		return nil, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "bytesValue", s2: jsonType(x), s3: "a base64 string"}
	}
	s, _ := x.StringBytes()
	enc := base64.StdEncoding
	if strings.ContainsAny(alias(s), "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
		if strings.ContainsAny(alias(s), "-_") {
			enc = base64.RawURLEncoding
		}
	}
	raw, err := enc.AppendDecode(d.json.raw[:0], s)
	d.json.raw = raw
	if err != nil {
		return nil, problem{reason: outcome.ReasonBadValue, code: prJSONValue, s: "bytesValue", s2: d.str(s), s3: "base64"}
	}
	return raw, problem{}
}

// appendJSONAny appends the AnyValue object v (nil: unset) as JSON, like
// appendProtoJSON.
func (d *decoder) appendJSONAny(buf []byte, v *fastjson.Value, depth int) (_ []byte, ok bool, pr problem) {
	if depth > maxNesting {
		return buf, false, problem{reason: outcome.ReasonBadValue, code: prNesting}
	}
	if v == nil {
		return append(buf, "null"...), true, problem{}
	}
	if v.Type() != fastjson.TypeObject {
		return buf, false, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "value", s2: jsonType(v), s3: "an AnyValue object"}
	}
	field, x := jsonAnyField(v)
	switch field {
	case -1:
		return append(buf, "null"...), true, problem{}
	case 0:
		if x.Type() != fastjson.TypeString {
			return buf, false, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "stringValue", s2: jsonType(x), s3: "a string"}
		}
		s, _ := x.StringBytes()
		return appendJSONString(buf, s), true, problem{}
	case 1:
		switch x.Type() {
		case fastjson.TypeTrue:
			return append(buf, "true"...), true, problem{}
		case fastjson.TypeFalse:
			return append(buf, "false"...), true, problem{}
		}
		return buf, false, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "boolValue", s2: jsonType(x), s3: "a boolean"}
	case 2:
		n, pr := d.jsonIntValue(x, "intValue")
		if pr.reason != outcome.ReasonNone {
			return buf, false, pr
		}
		return strconv.AppendInt(buf, n, 10), true, problem{}
	case 3:
		f, pr := d.jsonFloatValue(x, "doubleValue")
		if pr.reason != outcome.ReasonNone || math.IsNaN(f) || math.IsInf(f, 0) {
			return buf, false, pr
		}
		return appendES6Float(buf, f), true, problem{}
	case 6:
		raw, pr := d.jsonBytes(x)
		if pr.reason != outcome.ReasonNone {
			return buf, false, pr
		}
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, raw)
		return append(buf, '"'), true, problem{}
	}
	// 4 arrayValue {values: [AnyValue]}, 5 kvlistValue {values: [KeyValue]}
	what := "arrayValue"
	if field == 5 {
		what = "kvlistValue"
	}
	if x.Type() != fastjson.TypeObject {
		return buf, false, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: what, s2: jsonType(x), s3: "an object"}
	}
	var values []*fastjson.Value
	if vs := get(x, "values"); vs != nil {
		if vs.Type() != fastjson.TypeArray {
			return buf, false, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: what + ".values", s2: jsonType(vs), s3: "an array"}
		}
		values, _ = vs.Array()
	}
	if field == 4 {
		buf = append(buf, '[')
		for i, ev := range values {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, ok, pr = d.appendJSONAny(buf, ev, depth+1); !ok {
				return buf, false, pr
			}
		}
		return append(buf, ']'), true, problem{}
	}
	base := len(d.kvs)
	for _, kv := range values {
		if kv.Type() != fastjson.TypeObject {
			d.truncKVs(base)
			return buf, false, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "kvlistValue.values", s2: jsonType(kv), s3: "an object"}
		}
		var key []byte
		if k := get(kv, "key"); k != nil {
			if k.Type() != fastjson.TypeString {
				d.truncKVs(base)
				return buf, false, problem{reason: outcome.ReasonWrongType, code: prJSONType, s: "kvlistValue key", s2: jsonType(k), s3: "a string"}
			}
			key, _ = k.StringBytes()
		}
		d.kvs = append(d.kvs, kvRef{key: alias(key), jv: get(kv, "value")})
	}
	d.sortKVs(base)
	buf = append(buf, '{')
	for i := base; i < len(d.kvs); i++ {
		if i > base {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, bytesOf(d.kvs[i].key))
		buf = append(buf, ':')
		if buf, ok, pr = d.appendJSONAny(buf, d.kvs[i].jv, depth+1); !ok {
			d.truncKVs(base)
			return buf, false, pr
		}
	}
	d.truncKVs(base)
	return append(buf, '}'), true, problem{}
}

func (d *decoder) truncKVs(base int) {
	clear(d.kvs[base:])
	d.kvs = d.kvs[:base]
}
