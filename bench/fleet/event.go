package fleet

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"strconv"
)

// The JSON events of SCENARIOS.md 1: event types and field names.
const (
	EventICRPM       = "IC_RPM"
	EventElectricRPM = "ELECTRIC_RPM"
	EventWarnings    = "WARNINGS"

	FieldEventType   = "eventType"
	FieldVehicleID   = "vehicleId"
	FieldRegion      = "region"
	FieldTimestamp   = "timestamp"
	FieldMeasurement = "measurement"
)

// EventsPerReading is how many JSON events one Reading becomes.
const EventsPerReading = 3

// AppendEvent appends one event as a line of NDJSON, its fields in the
// order of SCENARIOS.md:
//
//	{"eventType":"IC_RPM","vehicleId":"V0000012345","region":"UK","timestamp":1730621749123,"measurement":2356}
//
// A whole-number measurement is written without a fraction; value must be
// finite.
func AppendEvent(dst []byte, eventType, vehicleID, region string, tsMs int64, value float64) []byte {
	dst = AppendEventHead(dst, eventType, vehicleID, region)
	dst = strconv.AppendInt(dst, tsMs, 10)
	dst = append(dst, EventMeasurement...)
	dst = AppendNumber(dst, value)
	return append(dst, EventEnd...)
}

// AppendEventHead appends the start of an event, up to the timestamp's
// value: {"eventType":"IC_RPM","vehicleId":"V0000012345","region":"UK","timestamp":
// The timestamp, EventMeasurement, the measurement and EventEnd complete
// it. Pre-encoders (bench/load) build templates from these parts.
func AppendEventHead(dst []byte, eventType, vehicleID, region string) []byte {
	dst = append(dst, `{"`+FieldEventType+`":`...)
	dst = AppendJSONString(dst, eventType)
	dst = append(dst, `,"`+FieldVehicleID+`":`...)
	dst = AppendJSONString(dst, vehicleID)
	dst = append(dst, `,"`+FieldRegion+`":`...)
	dst = AppendJSONString(dst, region)
	return append(dst, `,"`+FieldTimestamp+`":`...)
}

// Parts of an event after its head (see AppendEventHead).
const (
	EventMeasurement = `,"` + FieldMeasurement + `":`
	EventEnd         = "}\n"
)

// AppendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, other bytes as they are.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendNumber appends v as a JSON number (and Influx float): whole
// numbers below 2^53 without a fraction, others in the shortest form that
// parses back to v. v must be finite.
func AppendNumber(dst []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// EventOptions configure an EventEncoder.
type EventOptions struct {
	// Gzip compresses every body (Content-Encoding: gzip).
	Gzip bool
}

// EventEncoder turns readings into NDJSON request bodies for
// POST /api/v1/push/{name}: three events per reading (IC_RPM,
// ELECTRIC_RPM, WARNINGS), each with the vehicle's id and region and the
// reading's time. The vehicle model is never sent (it comes from the
// vehicle registry). It reuses its buffers; not safe for concurrent use.
type EventEncoder struct {
	fleet *Fleet
	opts  EventOptions
	buf   []byte // queued lines
	ends  []int  // ends[i]: end of line i in buf
	zbuf  bytes.Buffer
	zw    *gzip.Writer
}

// NewEventEncoder returns an EventEncoder for f's readings.
func NewEventEncoder(f *Fleet, opts EventOptions) *EventEncoder {
	return &EventEncoder{fleet: f, opts: opts}
}

// Add queues the three events of r.
func (e *EventEncoder) Add(r Reading) {
	v := &e.fleet.vehicles[r.Vehicle]
	e.add(EventICRPM, v, r.Timestamp, r.ICRPM)
	e.add(EventElectricRPM, v, r.Timestamp, r.ElectricRPM)
	e.add(EventWarnings, v, r.Timestamp, r.Warnings)
}

func (e *EventEncoder) add(eventType string, v *Vehicle, ts int64, value float64) {
	e.buf = AppendEvent(e.buf, eventType, v.ID, v.Region, ts, value)
	e.ends = append(e.ends, len(e.buf))
}

// Len returns the number of queued events.
func (e *EventEncoder) Len() int { return len(e.ends) }

// Encode encodes the first n queued events (all when n <= 0 or n > Len)
// into a new body, NDJSON or gzipped NDJSON, removes them from the queue
// and returns the body and the number of events (one sample each) it
// holds. The body is the caller's: the encoder does not touch it again.
func (e *EventEncoder) Encode(n int) ([]byte, int, error) {
	if n <= 0 || n > len(e.ends) {
		n = len(e.ends)
	}
	if n == 0 {
		return nil, 0, nil
	}
	end := e.ends[n-1]
	var body []byte
	if e.opts.Gzip {
		e.zbuf.Reset()
		if e.zw == nil {
			e.zw = gzip.NewWriter(&e.zbuf)
		} else {
			e.zw.Reset(&e.zbuf)
		}
		if _, err := e.zw.Write(e.buf[:end]); err != nil {
			return nil, 0, fmt.Errorf("cannot gzip events: %w", err)
		}
		if err := e.zw.Close(); err != nil {
			return nil, 0, fmt.Errorf("cannot gzip events: %w", err)
		}
		body = bytes.Clone(e.zbuf.Bytes())
	} else {
		body = bytes.Clone(e.buf[:end])
	}
	rest := copy(e.buf, e.buf[end:])
	e.buf = e.buf[:rest]
	k := copy(e.ends, e.ends[n:])
	e.ends = e.ends[:k]
	for i := range e.ends {
		e.ends[i] -= end
	}
	return body, n, nil
}
