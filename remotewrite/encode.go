package remotewrite

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/golang/snappy"

	"github.com/premetrics/premetrics/batch"
)

// Protobuf tags (field number << 3 | wire type) of prometheus/prompb.
const (
	tagWriteRequestTimeseries = 1<<3 | 2 // WriteRequest.timeseries, length-delimited
	tagTimeSeriesLabels       = 1<<3 | 2 // TimeSeries.labels
	tagTimeSeriesSamples      = 2<<3 | 2 // TimeSeries.samples
	tagLabelName              = 1<<3 | 2 // Label.name
	tagLabelValue             = 2<<3 | 2 // Label.value
	tagSampleValue            = 1<<3 | 1 // Sample.value, fixed64
	tagSampleTimestamp        = 2<<3 | 0 // Sample.timestamp, varint
	tagTimeSeriesHistograms   = 4<<3 | 2 // TimeSeries.histograms

	// Histogram (integer counts) and BucketSpan.
	tagHistCountInt      = 1<<3 | 0  // uint64
	tagHistSum           = 3<<3 | 1  // double
	tagHistSchema        = 4<<3 | 0  // sint32
	tagHistZeroThreshold = 5<<3 | 1  // double
	tagHistZeroCountInt  = 6<<3 | 0  // uint64
	tagHistNegSpans      = 8<<3 | 2  // repeated BucketSpan
	tagHistNegDeltas     = 9<<3 | 2  // packed sint64
	tagHistPosSpans      = 11<<3 | 2 // repeated BucketSpan
	tagHistPosDeltas     = 12<<3 | 2 // packed sint64
	tagHistResetHint     = 14<<3 | 0 // enum
	tagHistTimestamp     = 15<<3 | 0 // int64
	tagSpanOffset        = 1<<3 | 0  // sint32
	tagSpanLength        = 2<<3 | 0  // uint32

	resetHintGauge = 3 // Histogram.ResetHint GAUGE
)

// encoder compresses WriteRequests into a buffer it reuses, so sending
// does not allocate once the buffer has grown. Not safe for concurrent
// use; each shard's sender has one.
type encoder struct {
	snappy []byte
}

// compress returns pb snappy-compressed; the result is valid until the
// next call.
func (e *encoder) compress(pb []byte) []byte {
	if n := snappy.MaxEncodedLen(len(pb)); cap(e.snappy) < n {
		e.snappy = make([]byte, n)
	}
	e.snappy = snappy.Encode(e.snappy[:cap(e.snappy)], pb)
	return e.snappy
}

// appendTimeSeries appends one WriteRequest.timeseries field holding ls
// and samples to buf. Concatenated, such fields are a WriteRequest. With
// hists (parallel to samples, see batch.Series.Histograms) it holds the
// native histograms instead of the samples' float stand-ins.
func appendTimeSeries(buf []byte, ls []batch.Label, samples []batch.Sample, hists []batch.Histogram) []byte {
	n := timeSeriesSize(ls, samples, hists)
	buf = slices.Grow(buf, fieldSize(n))
	buf = append(buf, tagWriteRequestTimeseries)
	buf = binary.AppendUvarint(buf, uint64(n))
	for _, l := range ls {
		buf = append(buf, tagTimeSeriesLabels)
		buf = binary.AppendUvarint(buf, uint64(labelSize(l)))
		buf = appendString(buf, tagLabelName, l.Name)
		buf = appendString(buf, tagLabelValue, l.Value)
	}
	if hists != nil {
		for i := range hists {
			buf = append(buf, tagTimeSeriesHistograms)
			buf = binary.AppendUvarint(buf, uint64(histogramSize(&hists[i], samples[i].Timestamp)))
			buf = appendHistogram(buf, &hists[i], samples[i].Timestamp)
		}
		return buf
	}
	for _, s := range samples {
		buf = append(buf, tagTimeSeriesSamples)
		buf = binary.AppendUvarint(buf, uint64(sampleSize(s)))
		if v := math.Float64bits(s.Value); v != 0 {
			buf = append(buf, tagSampleValue)
			buf = binary.LittleEndian.AppendUint64(buf, v)
		}
		if s.Timestamp != 0 {
			buf = append(buf, tagSampleTimestamp)
			buf = binary.AppendUvarint(buf, uint64(s.Timestamp))
		}
	}
	return buf
}

// recordSeries returns the labels of the first record in pb, as text, for
// a log line. pb was written by appendTimeSeries, which puts the labels
// first and writes only one-byte tags.
func recordSeries(pb []byte) string {
	_, ts, _, ok := nextField(pb)
	if !ok {
		return "{?}"
	}
	var ls []batch.Label
	for {
		tag, lb, rest, ok := nextField(ts)
		if !ok || tag != tagTimeSeriesLabels {
			break
		}
		ts = rest
		var l batch.Label
		for len(lb) > 0 {
			tag, v, rest, ok := nextField(lb)
			if !ok {
				break
			}
			lb = rest
			switch tag {
			case tagLabelName:
				l.Name = string(v)
			case tagLabelValue:
				l.Value = string(v)
			}
		}
		ls = append(ls, l)
	}
	return batch.String(ls)
}

// nextField splits a length-delimited field with a one-byte tag off b.
func nextField(b []byte) (tag byte, payload, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || uint64(len(b)-1-k) < n {
		return 0, nil, nil, false
	}
	end := 1 + k + int(n)
	return b[0], b[1+k : end], b[end:], true
}

func appendString(buf []byte, tag byte, s string) []byte {
	if s == "" {
		return buf
	}
	buf = append(buf, tag)
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// fieldSize is the size of a length-delimited field with a one-byte tag
// and an n-byte payload.
func fieldSize(n int) int { return 1 + uvarintSize(uint64(n)) + n }

func uvarintSize(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func stringSize(s string) int {
	if s == "" {
		return 0
	}
	return fieldSize(len(s))
}

func labelSize(l batch.Label) int { return stringSize(l.Name) + stringSize(l.Value) }

func sampleSize(s batch.Sample) int {
	n := 0
	if math.Float64bits(s.Value) != 0 {
		n += 9
	}
	if s.Timestamp != 0 {
		n += 1 + uvarintSize(uint64(s.Timestamp))
	}
	return n
}

func timeSeriesSize(ls []batch.Label, ss []batch.Sample, hists []batch.Histogram) int {
	n := 0
	for _, l := range ls {
		n += fieldSize(labelSize(l))
	}
	if hists != nil {
		for i := range hists {
			n += fieldSize(histogramSize(&hists[i], ss[i].Timestamp))
		}
		return n
	}
	for _, s := range ss {
		n += fieldSize(sampleSize(s))
	}
	return n
}

// appendHistogram appends the fields of a prompb.Histogram with integer
// counts. count_int and zero_count_int are written even when 0: they are
// members of oneofs, which say that the counts are integers.
func appendHistogram(buf []byte, h *batch.Histogram, ts int64) []byte {
	buf = append(buf, tagHistCountInt)
	buf = binary.AppendUvarint(buf, h.Count)
	if v := math.Float64bits(h.Sum); v != 0 {
		buf = append(buf, tagHistSum)
		buf = binary.LittleEndian.AppendUint64(buf, v)
	}
	if h.Schema != 0 {
		buf = append(buf, tagHistSchema)
		buf = binary.AppendUvarint(buf, zigzag(int64(h.Schema)))
	}
	if v := math.Float64bits(h.ZeroThreshold); v != 0 {
		buf = append(buf, tagHistZeroThreshold)
		buf = binary.LittleEndian.AppendUint64(buf, v)
	}
	buf = append(buf, tagHistZeroCountInt)
	buf = binary.AppendUvarint(buf, h.ZeroCount)
	buf = appendSpans(buf, tagHistNegSpans, h.NegativeSpans)
	buf = appendDeltas(buf, tagHistNegDeltas, h.NegativeDeltas)
	buf = appendSpans(buf, tagHistPosSpans, h.PositiveSpans)
	buf = appendDeltas(buf, tagHistPosDeltas, h.PositiveDeltas)
	if h.Gauge {
		buf = append(buf, tagHistResetHint, resetHintGauge)
	}
	if ts != 0 {
		buf = append(buf, tagHistTimestamp)
		buf = binary.AppendUvarint(buf, uint64(ts))
	}
	return buf
}

func histogramSize(h *batch.Histogram, ts int64) int {
	n := 1 + uvarintSize(h.Count) + 1 + uvarintSize(h.ZeroCount)
	if math.Float64bits(h.Sum) != 0 {
		n += 9
	}
	if h.Schema != 0 {
		n += 1 + uvarintSize(zigzag(int64(h.Schema)))
	}
	if math.Float64bits(h.ZeroThreshold) != 0 {
		n += 9
	}
	n += spansSize(h.NegativeSpans) + deltasSize(h.NegativeDeltas)
	n += spansSize(h.PositiveSpans) + deltasSize(h.PositiveDeltas)
	if h.Gauge {
		n += 2
	}
	if ts != 0 {
		n += 1 + uvarintSize(uint64(ts))
	}
	return n
}

func appendSpans(buf []byte, tag byte, spans []batch.Span) []byte {
	for _, s := range spans {
		buf = append(buf, tag)
		buf = binary.AppendUvarint(buf, uint64(spanSize(s)))
		if s.Offset != 0 {
			buf = append(buf, tagSpanOffset)
			buf = binary.AppendUvarint(buf, zigzag(int64(s.Offset)))
		}
		if s.Length != 0 {
			buf = append(buf, tagSpanLength)
			buf = binary.AppendUvarint(buf, uint64(s.Length))
		}
	}
	return buf
}

func spanSize(s batch.Span) int {
	n := 0
	if s.Offset != 0 {
		n += 1 + uvarintSize(zigzag(int64(s.Offset)))
	}
	if s.Length != 0 {
		n += 1 + uvarintSize(uint64(s.Length))
	}
	return n
}

func spansSize(spans []batch.Span) int {
	n := 0
	for _, s := range spans {
		n += fieldSize(spanSize(s))
	}
	return n
}

// appendDeltas appends deltas as one packed field (nothing when empty).
func appendDeltas(buf []byte, tag byte, deltas []int64) []byte {
	if len(deltas) == 0 {
		return buf
	}
	buf = append(buf, tag)
	buf = binary.AppendUvarint(buf, uint64(packedSize(deltas)))
	for _, d := range deltas {
		buf = binary.AppendUvarint(buf, zigzag(d))
	}
	return buf
}

func packedSize(deltas []int64) int {
	n := 0
	for _, d := range deltas {
		n += uvarintSize(zigzag(d))
	}
	return n
}

func deltasSize(deltas []int64) int {
	if len(deltas) == 0 {
		return 0
	}
	return fieldSize(packedSize(deltas))
}

// zigzag is protobuf's sint encoding.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }
