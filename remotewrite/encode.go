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
// and samples to buf. Concatenated, such fields are a WriteRequest.
func appendTimeSeries(buf []byte, ls []batch.Label, samples []batch.Sample) []byte {
	n := timeSeriesSize(ls, samples)
	buf = slices.Grow(buf, fieldSize(n))
	buf = append(buf, tagWriteRequestTimeseries)
	buf = binary.AppendUvarint(buf, uint64(n))
	for _, l := range ls {
		buf = append(buf, tagTimeSeriesLabels)
		buf = binary.AppendUvarint(buf, uint64(labelSize(l)))
		buf = appendString(buf, tagLabelName, l.Name)
		buf = appendString(buf, tagLabelValue, l.Value)
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

func timeSeriesSize(ls []batch.Label, ss []batch.Sample) int {
	n := 0
	for _, l := range ls {
		n += fieldSize(labelSize(l))
	}
	for _, s := range ss {
		n += fieldSize(sampleSize(s))
	}
	return n
}
