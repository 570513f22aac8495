package load

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/premetrics/premetrics/bench/fleet"
)

// Plan is the pre-encoded load: every active series is in exactly one body
// template, and one round over the bodies (a tick) sends every series
// once. Render copies a template and rewrites its samples (value and
// timestamp) and, with churn, its device ids in place. A Plan is immutable
// after NewPlan and safe for concurrent Render calls.
type Plan struct {
	shape    Shape
	per      int // series per device
	devices  int
	series   int
	batch    int
	idPrefix string
	layouts  []layout // per metric index of a device
	values   *values
	bodies   []body
	// Totals of the templates, for the summary.
	rawBytes, bodyBytes int
}

// layout is the label set of one metric of a device, sorted by name, and
// how its value is computed.
type layout struct {
	kind   uint8
	name   string // the metric name, also the __name__ of labels
	labels []labelSpec
	// width is the size of the value's hole in text bodies (JSON, Influx):
	// the longest text of a value of this kind.
	width int
}

type labelSrc uint8

const (
	srcFixed  labelSrc = iota // labelSpec.value
	srcID                     // the device identity (a hole with churn)
	srcExtra                  // label_<extra>, a per-device value
	srcRegion                 // the vehicle's region
	srcModel                  // the vehicle's model
)

type labelSpec struct {
	name  string
	src   labelSrc
	value string
	extra int
}

// body is one request template.
type body struct {
	data  []byte // snappy block (remote write) or text (JSON, Influx)
	first int    // first series slot
	// sampleOff[i] is where series first+i's sample value is in data: 8
	// bytes, little endian, in a remote write block; a hole of the
	// layout's width, padded with spaces, in text.
	sampleOff []uint32
	// idOff[i] is where the 10 id digits of series first+i are (churn only).
	idOff []uint32
	// tsSpans are the parts of the block that hold timestamp bytes
	// verbatim; the other timestamps are copies of them (remote write).
	tsSpans []tsSpan
	// tsOff[i] is where the timestamp digits of series first+i are (text).
	tsOff []uint32
}

type tsSpan struct{ dst, off, n uint32 }

// Sample field layout: 0x09 <8-byte double> 0x10 <6-byte varint>.
const (
	sampleMsgLen = 1 + 8 + 1 + tsVarintLen
	tsAfterValue = 8 + 1 // the timestamp starts 9 bytes after the value
	tsVarintLen  = 6
	// Timestamps must have a 6-byte varint: [2^35, 2^42) ms is 1971-02
	// to 2109-05.
	minTimestamp = 1 << 35
	maxTimestamp = 1<<42 - 1
)

// NewPlan generates the series of shape and encodes them, in
// shape.Protocol, into request templates of at most seriesPerRequest
// series (one sample, event or line each).
func NewPlan(shape Shape, seriesPerRequest int) (*Plan, error) {
	if err := shape.Validate(); err != nil {
		return nil, err
	}
	if seriesPerRequest < 1 {
		return nil, fmt.Errorf("-batch: must be > 0, got %d", seriesPerRequest)
	}
	p := &Plan{shape: shape, per: shape.SeriesPerDevice(), devices: shape.Devices(), batch: seriesPerRequest}
	p.series = p.per * p.devices
	var f *fleet.Fleet
	switch shape.Schema {
	case SchemaFleet:
		f = fleet.New(fleet.Options{Vehicles: p.devices, Seed: shape.Seed})
		p.idPrefix = "V"
		p.layouts = fleetLayouts(&shape)
	default:
		p.idPrefix = "d"
		p.layouts = genericLayouts(&shape)
	}
	text := shape.text()
	p.values = newValues(&shape, f, text)
	if text {
		p.setWidths()
	}
	var vehicles []fleet.Vehicle
	if f != nil {
		vehicles = f.Vehicles()
	}
	b := builder{plan: p, vehicles: vehicles}
	for first := 0; first < p.series; first += seriesPerRequest {
		n := min(seriesPerRequest, p.series-first)
		var bd body
		var err error
		switch shape.protocol() {
		case ProtocolJSON, ProtocolMQTT:
			bd, err = b.textBody(first, n, (*builder).jsonLine, false)
		case ProtocolInflux:
			bd, err = b.textBody(first, n, (*builder).influxLine, false)
		case ProtocolPrometheusText:
			bd, err = b.textBody(first, n, (*builder).promLine, true)
		case ProtocolOTLP:
			bd, err = b.otlpBody(first, n)
		default:
			bd, err = b.body(first, n)
		}
		if err != nil {
			return nil, err
		}
		p.bodies = append(p.bodies, bd)
	}
	return p, nil
}

func sortLabels(ls []labelSpec) []labelSpec {
	slices.SortFunc(ls, func(a, b labelSpec) int { return strings.Compare(a.name, b.name) })
	return ls
}

func extraLabels(s *Shape) []labelSpec {
	var ls []labelSpec
	for j := range s.ExtraLabels {
		ls = append(ls, labelSpec{name: LabelExtraPrefix + strconv.Itoa(j), src: srcExtra, extra: j})
	}
	return ls
}

func genericLayouts(s *Shape) []layout {
	counters := int(math.Round(float64(s.MetricsPerDevice) * s.CounterFraction))
	out := make([]layout, s.MetricsPerDevice)
	for m := range out {
		name, kind := GenericGaugePrefix+strconv.Itoa(m), kindGauge
		if m < counters {
			name, kind = GenericCounterPrefix+strconv.Itoa(m)+"_total", kindCounter
		}
		ls := append(extraLabels(s),
			labelSpec{name: "__name__", value: name},
			labelSpec{name: LabelDevice, src: srcID})
		out[m] = layout{kind: kind, name: name, labels: sortLabels(ls)}
	}
	return out
}

func fleetLayouts(s *Shape) []layout {
	mk := func(kind uint8, name, engine string) layout {
		ls := append(extraLabels(s),
			labelSpec{name: "__name__", value: name},
			labelSpec{name: fleet.LabelVehicleID, src: srcID},
			labelSpec{name: fleet.LabelRegion, src: srcRegion})
		if !s.events() { // the vehicle events have no model
			ls = append(ls, labelSpec{name: fleet.LabelModel, src: srcModel})
		}
		if engine != "" {
			ls = append(ls, labelSpec{name: fleet.LabelEngine, value: engine})
		}
		return layout{kind: kind, name: name, labels: sortLabels(ls)}
	}
	out := []layout{
		mk(kindICRPM, fleet.MetricRPM, fleet.EngineIC),
		mk(kindElectricRPM, fleet.MetricRPM, fleet.EngineElectric),
		mk(kindWarnings, fleet.MetricWarnings, ""),
	}
	if s.FleetCounter {
		out = append(out, mk(kindCounter, MetricDistance, ""))
	}
	return out
}

// builder encodes body templates, reusing its buffers.
type builder struct {
	plan     *Plan
	vehicles []fleet.Vehicle
	raw      []byte // uncompressed WriteRequest
	ts       []byte // one TimeSeries message, or one text line
	holes    []hole
	// Per series: index in holes of its id hole (-1: none) and sample hole.
	idHole, sampleHole []int
}

func (b *builder) body(first, n int) (body, error) {
	p := b.plan
	churn := p.shape.Churn > 0
	b.raw, b.holes = b.raw[:0], b.holes[:0]
	b.idHole, b.sampleHole = b.idHole[:0], b.sampleHole[:0]
	for slot := first; slot < first+n; slot++ {
		dev, m := slot/p.per, slot%p.per
		b.ts = b.ts[:0]
		idAt := -1
		for _, l := range p.layouts[m].labels {
			value := b.labelValue(l, dev)
			b.ts = appendLabel(b.ts, l.name, value)
			if l.src == srcID && churn {
				idAt = len(b.ts) - idDigits
			}
		}
		b.ts = append(b.ts, 0x12, sampleMsgLen, 0x09)
		sampleAt := len(b.ts)
		b.ts = binary.LittleEndian.AppendUint64(b.ts, 0)
		b.ts = append(b.ts, 0x10)
		b.ts = appendVarint6(b.ts, minTimestamp)

		b.raw = append(b.raw, 0x0a)
		b.raw = binary.AppendUvarint(b.raw, uint64(len(b.ts)))
		base := len(b.raw)
		b.raw = append(b.raw, b.ts...)
		if idAt >= 0 {
			b.idHole = append(b.idHole, len(b.holes))
			b.holes = append(b.holes, hole{start: base + idAt, end: base + idAt + idDigits})
		}
		b.sampleHole = append(b.sampleHole, len(b.holes))
		b.holes = append(b.holes,
			hole{start: base + sampleAt, end: base + sampleAt + 8},
			hole{start: base + sampleAt + tsAfterValue, end: base + sampleAt + tsAfterValue + tsVarintLen, shared: true})
	}
	data, offs, spans, err := appendBlock(nil, b.raw, b.holes)
	if err != nil {
		return body{}, err
	}
	if len(data) > math.MaxUint32 {
		return body{}, fmt.Errorf("cannot encode body: %d bytes", len(data))
	}
	bd := body{data: data, first: first, sampleOff: make([]uint32, n)}
	for _, sp := range spans {
		bd.tsSpans = append(bd.tsSpans, tsSpan{uint32(sp.dst), uint32(sp.off), uint32(sp.n)})
	}
	for i, h := range b.sampleHole {
		bd.sampleOff[i] = uint32(offs[h])
	}
	if churn {
		bd.idOff = make([]uint32, n)
		for i, h := range b.idHole {
			bd.idOff[i] = uint32(offs[h])
		}
	}
	p.rawBytes += len(b.raw)
	p.bodyBytes += len(data)
	return bd, nil
}

// labelValue returns the value of label l of device dev in the template.
// It allocates; templates are built once, before the run.
func (b *builder) labelValue(l labelSpec, dev int) string {
	p := b.plan
	switch l.src {
	case srcID:
		if b.vehicles != nil && p.shape.Churn == 0 {
			return b.vehicles[dev].ID
		}
		return p.idPrefix + string(appendDigits(nil, uint64(dev), idDigits))
	case srcExtra:
		return extraValue(&p.shape, dev, l.extra)
	case srcRegion:
		return b.vehicles[dev].Region
	case srcModel:
		return b.vehicles[dev].Model
	}
	return l.value
}

// extraValue is the value of extra label j of device dev: a fixed prefix
// padded to LabelValueLen, ending in one of LabelValues numbers.
func extraValue(s *Shape, dev, j int) string {
	w := len(strconv.Itoa(max(s.LabelValues-1, 0)))
	h := uint64(dev)*0x9e3779b97f4a7c15 ^ uint64(j+1)*0xbf58476d1ce4e5b9 ^ s.Seed
	h ^= h >> 31
	h *= 0x94d049bb133111eb
	h ^= h >> 29
	idx := h % uint64(s.LabelValues)
	const filler = "value-abcdefghijklmnopqrstuvwxyz-"
	prefix := strings.Repeat(filler, s.LabelValueLen/len(filler)+1)[:s.LabelValueLen-w]
	return prefix + string(appendDigits(nil, idx, w))
}

// appendLabel appends a Label message as field 1 of a TimeSeries.
func appendLabel(dst []byte, name, value string) []byte {
	n := 1 + uvarintLen(len(name)) + len(name) + 1 + uvarintLen(len(value)) + len(value)
	dst = append(dst, 0x0a)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, 0x0a)
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = append(dst, 0x12)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

func uvarintLen(n int) int { return (bits.Len64(uint64(n)|1) + 6) / 7 }

// appendVarint6 appends v (in [minTimestamp, maxTimestamp]) as a 6-byte
// varint.
func appendVarint6(dst []byte, v int64) []byte {
	var b [tsVarintLen]byte
	putVarint6(b[:], v)
	return append(dst, b[:]...)
}

func putVarint6(b []byte, v int64) {
	u := uint64(v)
	_ = b[5]
	b[0] = byte(u) | 0x80
	b[1] = byte(u>>7) | 0x80
	b[2] = byte(u>>14) | 0x80
	b[3] = byte(u>>21) | 0x80
	b[4] = byte(u>>28) | 0x80
	b[5] = byte(u >> 35)
}

// appendDigits appends v as exactly width decimal digits (v < 10^width).
func appendDigits(dst []byte, v uint64, width int) []byte {
	start := len(dst)
	for range width {
		dst = append(dst, '0')
	}
	putDigits(dst[start:], v)
	return dst
}

func putDigits(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}
