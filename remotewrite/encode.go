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

// encoder builds snappy-compressed WriteRequests into buffers it reuses, so
// encoding does not allocate once the buffers have grown. Not safe for
// concurrent use; each shard has one.
type encoder struct {
	pb     []byte
	snappy []byte
	sizes  []int // encoded size of each TimeSeries message
}

// encode returns the compressed WriteRequest holding series[lo:hi]; the
// samples of series i are samples[offsets[i]:offsets[i+1]]. The result is
// valid until the next call.
func (e *encoder) encode(series [][]batch.Label, offsets []int32, samples []batch.Sample, lo, hi int) []byte {
	e.pb = e.marshal(series, offsets, samples, lo, hi)
	if n := snappy.MaxEncodedLen(len(e.pb)); cap(e.snappy) < n {
		e.snappy = make([]byte, n)
	}
	e.snappy = snappy.Encode(e.snappy[:cap(e.snappy)], e.pb)
	return e.snappy
}

// marshal writes the uncompressed WriteRequest into e.pb's storage.
func (e *encoder) marshal(series [][]batch.Label, offsets []int32, samples []batch.Sample, lo, hi int) []byte {
	e.sizes = e.sizes[:0]
	total := 0
	for i := lo; i < hi; i++ {
		n := timeSeriesSize(series[i], samples[offsets[i]:offsets[i+1]])
		e.sizes = append(e.sizes, n)
		total += fieldSize(n)
	}
	buf := slices.Grow(e.pb[:0], total)
	for i := lo; i < hi; i++ {
		buf = append(buf, tagWriteRequestTimeseries)
		buf = binary.AppendUvarint(buf, uint64(e.sizes[i-lo]))
		for _, l := range series[i] {
			buf = append(buf, tagTimeSeriesLabels)
			buf = binary.AppendUvarint(buf, uint64(labelSize(l)))
			buf = appendString(buf, tagLabelName, l.Name)
			buf = appendString(buf, tagLabelValue, l.Value)
		}
		for _, s := range samples[offsets[i]:offsets[i+1]] {
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
	}
	return buf
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
