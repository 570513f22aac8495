package load

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Series returns the number of active series (whole devices).
func (p *Plan) Series() int { return p.series }

// Devices returns the number of devices.
func (p *Plan) Devices() int { return p.devices }

// SeriesPerDevice returns the number of series of each device.
func (p *Plan) SeriesPerDevice() int { return p.per }

// LabelsPerSeries returns the number of labels of each series, the metric
// name included (the most of any metric of a device).
func (p *Plan) LabelsPerSeries() int {
	n := 0
	for _, l := range p.layouts {
		n = max(n, len(l.labels))
	}
	return n
}

// Bodies returns the number of request templates, the requests of a tick.
func (p *Plan) Bodies() int { return len(p.bodies) }

// BodySamples returns the number of samples of body j.
func (p *Plan) BodySamples(j int) int { return len(p.bodies[j].sampleOff) }

// MaxBodyBytes returns the size of the largest body.
func (p *Plan) MaxBodyBytes() int {
	n := 0
	for i := range p.bodies {
		n = max(n, len(p.bodies[i].data))
	}
	return n
}

// CompressedBytesPerSample returns the average body bytes per sample.
func (p *Plan) CompressedBytesPerSample() float64 {
	return float64(p.bodyBytes) / float64(p.series)
}

// CompressionRatio returns uncompressed / compressed body bytes (1 for
// text bodies, which are not compressed).
func (p *Plan) CompressionRatio() float64 { return float64(p.rawBytes) / float64(p.bodyBytes) }

// Churned returns the number of device replacements that happened by time
// elapsed (in ticks of the shape's churn): ⌊elapsed/ChurnInterval ×
// Churn × Devices⌋.
func (p *Plan) Churned(elapsedSeconds float64) int64 {
	if p.shape.Churn == 0 {
		return 0
	}
	return int64(elapsedSeconds / p.shape.ChurnInterval.Seconds() * p.shape.Churn * float64(p.devices))
}

// DistinctSeries returns how many distinct series were active from the
// start until churned replacements had happened.
func (p *Plan) DistinctSeries(churned int64) int64 {
	return (int64(p.devices) + churned) * int64(p.per)
}

// CheckChurn reports whether churned replacements keep device ids within
// their 10 digits.
func (p *Plan) CheckChurn(churned int64) error {
	if int64(p.devices)+churned >= maxID {
		return fmt.Errorf("-churn: %d device replacements exceed the %d-digit device ids", churned, idDigits)
	}
	return nil
}

// Render appends to dst[:0] the body of template j for its send number
// tick: every sample stamped tsMs (Unix ms, see CheckTimestamp) with the
// value of that send, and, with churn, the ids of the devices as of
// churned replacements (see Churned). It returns the body and its number
// of samples, and allocates only when dst is too small.
//
// Device d has been replaced g times after c replacements, c > d:
// g = ⌊(c−1−d)/devices⌋+1 (replacements go round the devices in order),
// and its id is g×devices+d, so ids never repeat.
func (p *Plan) Render(dst []byte, j int, tick int64, tsMs int64, churned int64) ([]byte, int) {
	switch {
	case p.shape.text():
		return p.renderText(dst, j, tick, tsMs, churned)
	case p.shape.protocol() == ProtocolOTLP:
		return p.renderOTLP(dst, j, tick, tsMs, churned)
	}
	b := &p.bodies[j]
	dst = append(dst[:0], b.data...)
	var ts [tsVarintLen]byte
	putVarint6(ts[:], tsMs)
	dev, m := b.first/p.per, b.first%p.per
	for i, off := range b.sampleOff {
		v := p.values.value(p.layouts[m].kind, b.first+i, dev, tick)
		binary.LittleEndian.PutUint64(dst[off:off+8], math.Float64bits(v))
		if b.idOff != nil {
			putDigits(dst[b.idOff[i]:b.idOff[i]+idDigits], uint64(p.deviceID(dev, churned)))
		}
		if m++; m == p.per {
			m, dev = 0, dev+1
		}
	}
	for _, sp := range b.tsSpans {
		copy(dst[sp.dst:sp.dst+sp.n], ts[sp.off:sp.off+sp.n])
	}
	return dst, len(b.sampleOff)
}

func (p *Plan) deviceID(dev int, churned int64) int64 {
	d, n := int64(dev), int64(p.devices)
	if churned <= d {
		return d
	}
	g := (churned-1-d)/n + 1
	return g*n + d
}

// CheckTimestamp reports whether tsMs can be rendered in the plan's
// protocol.
func (p *Plan) CheckTimestamp(tsMs int64) error {
	switch {
	case p.shape.text():
		return checkTextTimestamp(tsMs)
	case p.shape.protocol() == ProtocolOTLP:
		return checkOTLPTimestamp(tsMs)
	}
	return CheckTimestamp(tsMs)
}

// Protocol returns the protocol of the bodies.
func (p *Plan) Protocol() string { return p.shape.protocol() }

// CheckTimestamp reports whether tsMs can be rendered in a remote write
// body.
func CheckTimestamp(tsMs int64) error {
	if tsMs < minTimestamp || tsMs > maxTimestamp {
		return fmt.Errorf("cannot stamp samples at %d ms: outside the 6-byte varint range [%d, %d]", tsMs, int64(minTimestamp), int64(maxTimestamp))
	}
	return nil
}
