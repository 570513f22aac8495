package fleet

import (
	"fmt"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// Metric and label names of the series.
const (
	MetricRPM      = "vehicle_rpm"
	MetricWarnings = "vehicle_warnings"
	LabelVehicleID = "vehicle_id"
	LabelRegion    = "region"
	LabelModel     = "model"
	LabelEngine    = "engine"
	EngineIC       = "ic"
	EngineElectric = "electric"
)

// SeriesPerReading is how many series one Reading becomes.
const SeriesPerReading = 3

// Encoder turns readings into snappy-compressed remote write 1.0 bodies.
// It reuses its buffers; not safe for concurrent use.
type Encoder struct {
	fleet   *Fleet
	pending []prompb.TimeSeries // series added and not yet encoded
	labels  []prompb.Label      // arena for pending labels
	samples []prompb.Sample     // arena for pending samples
	// Scratch space of consume.
	scratchLabels  []prompb.Label
	scratchSamples []prompb.Sample
	req            prompb.WriteRequest
	pb             []byte
}

// NewEncoder returns an Encoder for f's readings.
func NewEncoder(f *Fleet) *Encoder { return &Encoder{fleet: f} }

// Add queues the three series of r.
func (e *Encoder) Add(r Reading) {
	v := &e.fleet.vehicles[r.Vehicle]
	e.addSeries(v, MetricRPM, EngineIC, r.Timestamp, r.ICRPM)
	e.addSeries(v, MetricRPM, EngineElectric, r.Timestamp, r.ElectricRPM)
	e.addSeries(v, MetricWarnings, "", r.Timestamp, r.Warnings)
}

// addSeries appends a series with labels sorted by name, as remote write
// requires.
func (e *Encoder) addSeries(v *Vehicle, name, engine string, ts int64, value float64) {
	start := len(e.labels)
	e.labels = append(e.labels, prompb.Label{Name: "__name__", Value: name})
	if engine != "" {
		e.labels = append(e.labels, prompb.Label{Name: LabelEngine, Value: engine})
	}
	if e.fleet.ModelLabel() {
		e.labels = append(e.labels, prompb.Label{Name: LabelModel, Value: v.Model})
	}
	e.labels = append(e.labels,
		prompb.Label{Name: LabelRegion, Value: v.Region},
		prompb.Label{Name: LabelVehicleID, Value: v.ID})
	e.samples = append(e.samples, prompb.Sample{Timestamp: ts, Value: value})
	// When a later append moves an arena, this series keeps pointing at
	// the old array, which stays valid and unchanged until Encode.
	e.pending = append(e.pending, prompb.TimeSeries{
		Labels:  e.labels[start:len(e.labels):len(e.labels)],
		Samples: e.samples[len(e.samples)-1:],
	})
}

// Len returns the number of queued series.
func (e *Encoder) Len() int { return len(e.pending) }

// Encode encodes the first n queued series (all when n <= 0 or n > Len)
// into a new request body, removes them from the queue and returns the
// body and the number of series (one sample each) it holds.
func (e *Encoder) Encode(n int) ([]byte, int, error) {
	if n <= 0 || n > len(e.pending) {
		n = len(e.pending)
	}
	e.req.Timeseries = e.pending[:n]
	size := e.req.Size()
	if cap(e.pb) < size {
		e.pb = make([]byte, size)
	}
	m, err := e.req.MarshalToSizedBuffer(e.pb[:size])
	if err != nil {
		return nil, 0, fmt.Errorf("cannot marshal write request: %w", err)
	}
	body := snappy.Encode(nil, e.pb[size-m:size])
	e.req.Timeseries = nil
	e.consume(n)
	return body, n, nil
}

// consume drops the first n queued series and moves the rest to the front
// of the arenas, through scratch copies (the rest may live in an older
// array that overlaps the front of the current one).
func (e *Encoder) consume(n int) {
	rest := e.pending[n:]
	e.scratchLabels = e.scratchLabels[:0]
	e.scratchSamples = e.scratchSamples[:0]
	for i := range rest {
		e.scratchLabels = append(e.scratchLabels, rest[i].Labels...)
		e.scratchSamples = append(e.scratchSamples, rest[i].Samples...)
	}
	e.labels = append(e.labels[:0], e.scratchLabels...)
	e.samples = append(e.samples[:0], e.scratchSamples...)
	l, sm := 0, 0
	for i := range rest {
		nl, ns := len(rest[i].Labels), len(rest[i].Samples)
		rest[i].Labels = e.labels[l : l+nl : l+nl]
		rest[i].Samples = e.samples[sm : sm+ns : sm+ns]
		l, sm = l+nl, sm+ns
	}
	k := copy(e.pending, rest)
	clear(e.pending[k:])
	e.pending = e.pending[:k]
}
