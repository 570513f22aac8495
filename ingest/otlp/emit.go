package otlp

import (
	"fmt"
	"math"
	"strconv"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// staleNaN is Prometheus' staleness marker (value.StaleNaN).
var staleNaN = math.Float64frombits(0x7ff0000000000002)

// flagNoRecordedValue is DataPointFlags.FLAG_NO_RECORDED_VALUE.
const flagNoRecordedValue = 1

// dataKind is the data field of a Metric.
type dataKind uint8

const (
	dataNumber    dataKind = iota // Gauge or Sum
	dataHistogram                 // Histogram
	dataSummary                   // Summary
)

// problemCode says which detail a problem renders.
type problemCode uint8

const (
	prNone         problemCode = iota
	prMetricName               // s: the metric name as sent
	prLabelName                // s: the attribute key
	prNoValue                  // a NumberDataPoint without a value
	prBucketCounts             // n1 bucket counts, n2 bounds
	prBoundsOrder              // n1: index of the bound, f: the bound
	prTemporality              // n1: the temporality
	prExpHistogram             // an exponential histogram data point
	prNesting                  // key: the attribute key
	prJSONType                 // s: the field, s2: the JSON type found, s3: what is wanted, key
	prJSONValue                // s: the field, s2: the text, s3: what is wanted, key
	prCheck                    // s2: the detail from Limits.CheckSeries
)

// problem is why a data point is rejected, kept without allocating;
// detail renders it only when the rejection is kept in detail. Its
// strings may alias the request: detail is called during Decode.
type problem struct {
	reason outcome.Reason
	code   problemCode
	s      string
	s2, s3 string
	key    string // the attribute concerned, or ""
	n1, n2 int
	f      float64
}

func (pr *problem) detail() string {
	switch pr.code {
	case prMetricName:
		return "metric name " + outcome.Quote(pr.s) + " has no character valid in a Prometheus metric name"
	case prLabelName:
		if pr.s == "" {
			return "attribute with an empty key"
		}
		return "attribute " + outcome.Quote(pr.s) + " has no character valid in a Prometheus label name"
	case prNoValue:
		return "number data point without as_double or as_int"
	case prBucketCounts:
		return fmt.Sprintf("histogram data point with %d bucket_counts for %d explicit_bounds; want %d", pr.n1, pr.n2, pr.n2+1)
	case prBoundsOrder:
		return fmt.Sprintf("histogram explicit_bounds[%d] = %v is not greater than the bound before it", pr.n1, pr.f)
	case prTemporality:
		if pr.n1 == 0 {
			return "aggregation_temporality is unspecified; want 1 (delta) or 2 (cumulative)"
		}
		return fmt.Sprintf("aggregation_temporality %d is unknown; want 1 (delta) or 2 (cumulative)", pr.n1)
	case prExpHistogram:
		return "exponential histograms are not supported yet; configure the sender to export explicit-bucket histograms"
	case prNesting:
		return fmt.Sprintf("value of attribute %s is nested more than %d levels deep", outcome.Quote(pr.key), maxNesting)
	case prJSONType:
		return fmt.Sprintf("%s%s: want %s, got %s", pr.attrPrefix(), pr.s, pr.s3, pr.s2)
	case prJSONValue:
		return fmt.Sprintf("%s%s: want %s, got %s", pr.attrPrefix(), pr.s, pr.s3, outcome.Quote(pr.s2))
	case prCheck:
		return pr.s2
	}
	return pr.reason.String()
}

func (pr *problem) attrPrefix() string {
	if pr.key == "" {
		return ""
	}
	return "attribute " + outcome.Quote(pr.key) + ": "
}

// samples is how many samples the data point maps to.
func (p *point) samples(kind dataKind) int {
	switch kind {
	case dataHistogram:
		n := 2 // le="+Inf" and _count
		if p.hasSum {
			n++
		}
		if len(p.counts) > 0 {
			for _, b := range p.bounds {
				if !math.IsInf(b, 1) {
					n++
				}
			}
		}
		return n
	case dataSummary:
		return 2 + len(p.quantiles)
	}
	return 1
}

// validate checks what the parser could not: a value for a number data
// point, consistent histogram buckets.
func (p *point) validate(kind dataKind) problem {
	switch kind {
	case dataNumber:
		if !p.hasValue && p.flags&flagNoRecordedValue == 0 {
			return problem{reason: outcome.ReasonMissingField, code: prNoValue}
		}
	case dataHistogram:
		if len(p.counts) == 0 && len(p.bounds) == 0 {
			return problem{}
		}
		if len(p.counts) != len(p.bounds)+1 {
			return problem{reason: outcome.ReasonMalformed, code: prBucketCounts, n1: len(p.counts), n2: len(p.bounds)}
		}
		for i, b := range p.bounds {
			if math.IsNaN(b) || i > 0 && !(b > p.bounds[i-1]) {
				return problem{reason: outcome.ReasonMalformed, code: prBoundsOrder, n1: i, f: b}
			}
		}
	}
	return problem{}
}

// emit appends the series of the current data point; d.base holds its
// labels. It returns false, with d.fail set, when a series breaks the
// limits; the caller then removes the point's series.
func (d *decoder) emit(kind dataKind) bool {
	p := &d.pt
	f := &d.fam
	ts := d.timestamp(p.time)
	stale := p.flags&flagNoRecordedValue != 0
	val := func(v float64) float64 {
		if stale {
			return staleNaN
		}
		return v
	}
	switch kind {
	case dataNumber:
		return d.addSeries(f.name, "", "", ts, val(p.value))
	case dataHistogram:
		// Prometheus' order: _sum, _count, the buckets, le="+Inf".
		if p.hasSum && !d.addSeries(f.sum, "", "", ts, val(p.sum)) {
			return false
		}
		if !d.addSeries(f.count, "", "", ts, val(float64(p.count))) {
			return false
		}
		var cum uint64
		for i, bound := range p.bounds {
			cum += p.counts[i]
			if math.IsInf(bound, 1) {
				continue // le="+Inf" is the count, as in Prometheus
			}
			le := d.format(&d.leCache, i, bound)
			if !d.addSeries(f.bucket, "le", le, ts, val(float64(cum))) {
				return false
			}
		}
		return d.addSeries(f.bucket, "le", "+Inf", ts, val(float64(p.count)))
	case dataSummary:
		if !d.addSeries(f.sum, "", "", ts, val(p.sum)) || !d.addSeries(f.count, "", "", ts, val(float64(p.count))) {
			return false
		}
		for i, q := range p.quantiles {
			if !d.addSeries(f.name, "quantile", d.format(&d.qCache, i, q.q), ts, val(q.v)) {
				return false
			}
		}
	}
	return true
}

// format returns v formatted like Prometheus (strconv 'f', -1, and
// "+Inf"), reusing the string of the same value at index i from an
// earlier data point of the request.
func (d *decoder) format(cache *[]formatted, i int, v float64) string {
	bits := math.Float64bits(v)
	c := *cache
	if i < len(c) && c[i].bits == bits && c[i].s != "" {
		return c[i].s
	}
	var s string
	switch {
	case math.IsInf(v, 1):
		s = "+Inf"
	case math.IsInf(v, -1):
		s = "-Inf"
	case math.IsNaN(v):
		s = "NaN"
	default:
		d.scratch = strconv.AppendFloat(d.scratch[:0], v, 'f', -1, 64)
		s = d.str(d.scratch)
	}
	for len(c) <= i {
		c = append(c, formatted{})
	}
	c[i] = formatted{bits: bits, s: s}
	*cache = c
	return s
}

// addSeries appends one series of one sample: d.base with __name__ =
// name and, unless extraName is "", extraName = extraValue (both replace
// base labels of those names). It returns false, with d.fail set, when
// the series does not pass Limits.CheckSeries.
func (d *decoder) addSeries(name, extraName, extraValue string, ts int64, v float64) bool {
	b := d.b
	b.StartSeries()
	nameDone, extraDone := false, extraName == ""
	for _, l := range d.base {
		if !nameDone && l.Name >= batch.MetricName {
			b.AddLabel(batch.MetricName, name)
			nameDone = true
		}
		if !extraDone && l.Name >= extraName {
			b.AddLabel(extraName, extraValue)
			extraDone = true
		}
		if l.Name == batch.MetricName || l.Name == extraName {
			continue
		}
		b.AddLabel(l.Name, l.Value)
	}
	if !nameDone {
		b.AddLabel(batch.MetricName, name)
	}
	if !extraDone {
		b.AddLabel(extraName, extraValue)
	}
	b.AddSample(ts, v)
	if !b.FinishSeries() { // cannot happen: the labels are unique
		d.fail = problem{reason: outcome.ReasonDuplicateLabel, code: prCheck, s2: "duplicate label names"}
		return false
	}
	ls := b.Series[len(b.Series)-1].Labels
	if d.baseOK && d.quickCheck(len(ls), name, extraName, extraValue) {
		return true
	}
	if reason, at := d.lim.Check(ls); reason != outcome.ReasonNone {
		d.fail = problem{reason: reason, code: prCheck}
		if d.res.WantDetail() {
			d.fail.s, d.fail.s2 = outcome.RenderSeries(ls), d.lim.SeriesDetail(reason, ls, at)
		}
		return false
	}
	return true
}

// quickCheck is Limits.CheckSeries for a series of n labels made of
// d.base (when d.baseOK: its labels pass CheckLabel), __name__ = name
// and extraName = extraValue. The labels are unique and non-empty by
// construction, and metric names, le and quantile values are ASCII, so
// only the count and the lengths of the added labels remain to check.
func (d *decoder) quickCheck(n int, name, extraName, extraValue string) bool {
	lim := &d.lim
	if lim.MaxLabelsPerSeries > 0 && n > lim.MaxLabelsPerSeries {
		return false
	}
	if lim.MaxLabelNameLength > 0 && (len(batch.MetricName) > lim.MaxLabelNameLength || len(extraName) > lim.MaxLabelNameLength) {
		return false
	}
	return lim.MaxLabelValueLength <= 0 || len(name) <= lim.MaxLabelValueLength && len(extraValue) <= lim.MaxLabelValueLength
}

// appendES6Float appends f formatted as encoding/json (and OpenTelemetry's
// AnyValue.AsString) formats a double: like %g with ES6 exponent
// cutoffs.
func appendES6Float(b []byte, f float64) []byte {
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	b = strconv.AppendFloat(b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendDouble appends a double attribute value: ES6 formatting, and
// NaN, +Inf, -Inf as Prometheus writes them.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return appendES6Float(b, f)
}
