package load

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/premetrics/premetrics/bench/fleet"
)

// Text bodies (JSON events, Influx and Prometheus text lines): one line
// per series slot, with holes at fixed offsets for the parts that change
// between sends:
//
//	{"eventType":"ELECTRIC_RPM","vehicleId":"V0000012345","region":"UK","timestamp":1790000000000,"measurement":-512  }
//	                                         └ id (churn)                              └ ts, 13 chars              └ value, 6 chars
//	vehicle,engine=ic,model=Aurora,region=New\ Zealand,vehicle_id=V0000012345 rpm=800  1790000000000000000
//	                                                              └ id (churn)    └ value └ ts, 19 chars (ns)
//	vehicle_rpm{engine="ic",model="Aurora",region="New Zealand",vehicle_id="V0000012345"} 800   1790000000000
//	                                                                         └ id (churn)  └ value └ ts, 13 chars
//
// A value is written left-aligned in its hole and padded with spaces,
// which JSON allows before '}', and line protocol and the text format
// between the value and the timestamp; the hole is as wide as the
// longest value of its kind. A timestamp is right-aligned in its hole,
// padded with spaces on the left (JSON allows them after ':', the line
// formats between tokens): 13 characters of Unix ms, or 19 of ns for
// Influx, for times up to maxTextTs (2255). Prometheus text bodies group
// the lines by metric name, each group after its "# TYPE name gauge" (or
// counter) line, as an exposition does.
const (
	jsonTsWidth   = 13
	influxTsWidth = 19 // nanoseconds: ms and "000000"
	maxTextTs     = 9_000_000_000_000
)

// Field names of the generic JSON events.
const (
	jsonFieldMetric    = "metric"
	jsonFieldTimestamp = "timestamp"
	jsonFieldValue     = "value"
)

func checkTextTimestamp(tsMs int64) error {
	if tsMs < 0 || tsMs > maxTextTs {
		return fmt.Errorf("cannot stamp events at %d ms: outside [0, %d], the 13-character timestamps of text bodies", tsMs, int64(maxTextTs))
	}
	return nil
}

// putTimestamp writes tsMs (ns for Influx) right-aligned into hole.
func putTimestamp(hole []byte, tsMs int64, influx bool) {
	var d [24]byte
	digits := strconv.AppendInt(d[:0], tsMs, 10)
	if influx {
		digits = append(digits, "000000"...)
	}
	pad := len(hole) - len(digits)
	for i := range pad {
		hole[i] = ' '
	}
	copy(hole[pad:], digits)
}

// setWidths sizes the value holes of the layouts.
func (p *Plan) setWidths() {
	for i := range p.layouts {
		p.layouts[i].width = p.values.maxTextLen(p.layouts[i].kind)
	}
}

// lineHoles are the offsets, within one line, of its holes (-1: none).
type lineHoles struct{ id, ts, value int }

// textBody encodes the lines of series [first, first+n) with line: in
// slot order, or with typeLines grouped by metric name, each group after
// its Prometheus "# TYPE" line.
func (b *builder) textBody(first, n int, line func(*builder, *layout, int) lineHoles, typeLines bool) (body, error) {
	p := b.plan
	churn := p.shape.Churn > 0
	b.raw = b.raw[:0]
	bd := body{first: first, sampleOff: make([]uint32, n), tsOff: make([]uint32, n)}
	if churn {
		bd.idOff = make([]uint32, n)
	}
	add := func(i int) error {
		slot := first + i
		dev, m := slot/p.per, slot%p.per
		b.ts = b.ts[:0]
		h := line(b, &p.layouts[m], dev)
		base := len(b.raw)
		b.raw = append(b.raw, b.ts...)
		bd.sampleOff[i] = uint32(base + h.value)
		bd.tsOff[i] = uint32(base + h.ts)
		if churn {
			if h.id < 0 {
				return fmt.Errorf("cannot encode body: no device id in line %q", b.ts)
			}
			bd.idOff[i] = uint32(base + h.id)
		}
		return nil
	}
	if typeLines {
		for _, f := range p.families(first, n) {
			typ := "gauge"
			if f.kind == kindCounter {
				typ = "counter"
			}
			b.raw = append(b.raw, "# TYPE "+f.name+" "+typ+"\n"...)
			for _, i := range f.slots {
				if err := add(i); err != nil {
					return body{}, err
				}
			}
		}
	} else {
		for i := range n {
			if err := add(i); err != nil {
				return body{}, err
			}
		}
	}
	if len(b.raw) > math.MaxUint32 {
		return body{}, fmt.Errorf("cannot encode body: %d bytes", len(b.raw))
	}
	bd.data = bytes.Clone(b.raw)
	p.rawBytes += len(bd.data)
	p.bodyBytes += len(bd.data)
	return bd, nil
}

// family is the series of one metric name among the slots of a body.
type family struct {
	name  string
	kind  uint8 // kindCounter or a gauge kind
	slots []int // indexes i of slots first+i, increasing
}

// families groups the series [first, first+n) by metric name, in the
// order the names first appear.
func (p *Plan) families(first, n int) []family {
	var out []family
	at := map[string]int{}
	for i := range n {
		l := &p.layouts[(first+i)%p.per]
		k, ok := at[l.name]
		if !ok {
			k = len(out)
			at[l.name] = k
			out = append(out, family{name: l.name, kind: l.kind})
		}
		out[k].slots = append(out[k].slots, i)
	}
	return out
}

// eventType is the SCENARIOS.md event type of a fleet series kind.
func eventType(kind uint8) string {
	switch kind {
	case kindICRPM:
		return fleet.EventICRPM
	case kindElectricRPM:
		return fleet.EventElectricRPM
	}
	return fleet.EventWarnings
}

// jsonLine appends the JSON event of layout l of device dev to b.ts:
// a vehicle event of SCENARIOS.md (fleet), or one generic event.
func (b *builder) jsonLine(l *layout, dev int) lineHoles {
	p := b.plan
	h := lineHoles{id: -1}
	if p.shape.Schema == SchemaFleet {
		id := b.labelValue(labelSpec{src: srcID}, dev)
		b.ts = fleet.AppendEventHead(b.ts, eventType(l.kind), id, b.vehicles[dev].Region)
		key := `"` + fleet.FieldVehicleID + `":"`
		h.id = bytes.Index(b.ts, []byte(key)) + len(key) + len(id) - idDigits
	} else {
		b.ts = append(b.ts, '{')
		name := ""
		for _, ls := range l.labels {
			if ls.name == "__name__" {
				name = ls.value
				continue
			}
			b.ts = fleet.AppendJSONString(b.ts, ls.name)
			b.ts = append(b.ts, ':')
			b.ts = fleet.AppendJSONString(b.ts, b.labelValue(ls, dev))
			if ls.src == srcID {
				h.id = len(b.ts) - 1 - idDigits
			}
			b.ts = append(b.ts, ',')
		}
		b.ts = append(b.ts, `"`+jsonFieldMetric+`":`...)
		b.ts = fleet.AppendJSONString(b.ts, name)
		b.ts = append(b.ts, `,"`+jsonFieldTimestamp+`":`...)
	}
	h.ts = len(b.ts)
	b.ts = appendHole(b.ts, jsonTsWidth)
	if p.shape.Schema == SchemaFleet {
		b.ts = append(b.ts, fleet.EventMeasurement...)
	} else {
		b.ts = append(b.ts, `,"`+jsonFieldValue+`":`...)
	}
	h.value = len(b.ts)
	b.ts = appendHole(b.ts, l.width)
	b.ts = append(b.ts, fleet.EventEnd...)
	return h
}

// influxLine appends the Influx line of layout l of device dev to b.ts:
// the metric name split at its first '_' into measurement and field (so
// that the decoder's measurement_field gives it back), the other labels
// as tags.
func (b *builder) influxLine(l *layout, dev int) lineHoles {
	h := lineHoles{id: -1}
	name := ""
	for _, ls := range l.labels {
		if ls.name == "__name__" {
			name = ls.value
		}
	}
	measurement, field, _ := strings.Cut(name, "_")
	b.ts = appendInfluxEscaped(b.ts, measurement)
	for _, ls := range l.labels {
		if ls.name == "__name__" {
			continue
		}
		b.ts = append(b.ts, ',')
		b.ts = appendInfluxEscaped(b.ts, ls.name)
		b.ts = append(b.ts, '=')
		b.ts = appendInfluxEscaped(b.ts, b.labelValue(ls, dev))
		if ls.src == srcID {
			h.id = len(b.ts) - idDigits
		}
	}
	b.ts = append(b.ts, ' ')
	b.ts = appendInfluxEscaped(b.ts, field)
	b.ts = append(b.ts, '=')
	h.value = len(b.ts)
	b.ts = appendHole(b.ts, l.width)
	b.ts = append(b.ts, ' ')
	h.ts = len(b.ts)
	b.ts = appendHole(b.ts, influxTsWidth)
	b.ts = append(b.ts, '\n')
	return h
}

// promLine appends the Prometheus text line of layout l of device dev to
// b.ts: name{labels} value timestamp, the labels sorted by name.
func (b *builder) promLine(l *layout, dev int) lineHoles {
	h := lineHoles{id: -1}
	b.ts = append(b.ts, l.name...)
	sep := byte('{')
	for _, ls := range l.labels {
		if ls.name == "__name__" {
			continue
		}
		b.ts = append(b.ts, sep)
		sep = ','
		b.ts = append(b.ts, ls.name...)
		b.ts = append(b.ts, '=', '"')
		b.ts = appendPromEscaped(b.ts, b.labelValue(ls, dev))
		if ls.src == srcID {
			h.id = len(b.ts) - idDigits
		}
		b.ts = append(b.ts, '"')
	}
	if sep == ',' {
		b.ts = append(b.ts, '}')
	}
	b.ts = append(b.ts, ' ')
	h.value = len(b.ts)
	b.ts = appendHole(b.ts, l.width)
	b.ts = append(b.ts, ' ')
	h.ts = len(b.ts)
	b.ts = appendHole(b.ts, jsonTsWidth)
	b.ts = append(b.ts, '\n')
	return h
}

// appendPromEscaped appends s with the escapes of a label value in the
// text format: \\, \" and \n.
func appendPromEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendInfluxEscaped appends s with the line protocol escapes of tag
// keys, tag values and field keys (also enough for a measurement).
func appendInfluxEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '=', ' ', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendHole(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, ' ')
	}
	return dst
}

// renderText is Render for text bodies.
func (p *Plan) renderText(dst []byte, j int, tick int64, tsMs int64, churned int64) ([]byte, int) {
	b := &p.bodies[j]
	dst = append(dst[:0], b.data...)
	var ts [influxTsWidth]byte
	n := jsonTsWidth
	if p.shape.protocol() == ProtocolInflux {
		n = influxTsWidth
	}
	putTimestamp(ts[:n], tsMs, n == influxTsWidth)
	var text [32]byte
	dev, m := b.first/p.per, b.first%p.per
	for i, off := range b.sampleOff {
		l := &p.layouts[m]
		v := p.values.appendText(text[:0], l.kind, b.first+i, dev, tick)
		hole := dst[off : int(off)+l.width]
		if len(v) > len(hole) {
			panic(fmt.Sprintf("load: a value of %d bytes is longer than its %d-byte hole", len(v), len(hole)))
		}
		k := copy(hole, v)
		for ; k < len(hole); k++ {
			hole[k] = ' '
		}
		copy(dst[b.tsOff[i]:b.tsOff[i]+uint32(n)], ts[:n])
		if b.idOff != nil {
			putDigits(dst[b.idOff[i]:b.idOff[i]+idDigits], uint64(p.deviceID(dev, churned)))
		}
		if m++; m == p.per {
			m, dev = 0, dev+1
		}
	}
	return dst, len(b.sampleOff)
}

// JSONInput returns the `inputs: json:` entry (YAML) that maps the JSON
// events of s to its series, and its name: for the fleet schema the
// vehicles input of config.example.yaml, for the generic schema an input
// "bench" with one metric per metric name, chosen by the event's "metric"
// field.
func (s *Shape) JSONInput() (name, yaml string) {
	var sb strings.Builder
	if s.Schema == SchemaFleet {
		fmt.Fprintf(&sb, "- name: %s\n", JSONInputFleet)
		fmt.Fprintf(&sb, "  timestamp: {field: %s, unit: ms}\n", fleet.FieldTimestamp)
		fmt.Fprintf(&sb, "  labels: {%s: %s, %s: %s}\n", fleet.LabelVehicleID, fleet.FieldVehicleID, fleet.LabelRegion, fleet.FieldRegion)
		sb.WriteString("  metrics:\n")
		for _, m := range []struct{ name, engine, event string }{
			{fleet.MetricRPM, fleet.EngineIC, fleet.EventICRPM},
			{fleet.MetricRPM, fleet.EngineElectric, fleet.EventElectricRPM},
			{fleet.MetricWarnings, "", fleet.EventWarnings},
		} {
			labels := ""
			if m.engine != "" {
				labels = fmt.Sprintf(" labels: {%s: %s},", fleet.LabelEngine, m.engine)
			}
			fmt.Fprintf(&sb, "    - {name: %s, value: %s,%s when: {%s: %s}}\n", m.name, fleet.FieldMeasurement, labels, fleet.FieldEventType, m.event)
		}
		return JSONInputFleet, sb.String()
	}
	fmt.Fprintf(&sb, "- name: %s\n", JSONInputGeneric)
	fmt.Fprintf(&sb, "  timestamp: {field: %s, unit: ms}\n", jsonFieldTimestamp)
	labels := []string{LabelDevice + ": " + LabelDevice}
	for j := range s.ExtraLabels {
		l := fmt.Sprintf("%s%d", LabelExtraPrefix, j)
		labels = append(labels, l+": "+l)
	}
	fmt.Fprintf(&sb, "  labels: {%s}\n", strings.Join(labels, ", "))
	sb.WriteString("  metrics:\n")
	for _, l := range genericLayouts(s) {
		for _, ls := range l.labels {
			if ls.name == "__name__" {
				fmt.Fprintf(&sb, "    - {name: %s, value: %s, when: {%s: %s}}\n", ls.value, jsonFieldValue, jsonFieldMetric, ls.value)
			}
		}
	}
	return JSONInputGeneric, sb.String()
}
