package load

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/premetrics/premetrics/bench/fleet"
)

// Kinds of series: how a sample's value is computed on each send.
const (
	kindGauge   uint8 = iota // generic gauge: a value of the gauge table
	kindCounter              // counter: base + sends × increment, never decreasing
	kindICRPM                // fleet readings, precomputed per vehicle and tick
	kindElectricRPM
	kindWarnings
)

// gaugeTableSize is the number of distinct generic gauge values (a power
// of two).
const gaugeTableSize = 4096

// values computes sample values. Everything is precomputed so that a value
// costs a table lookup or a multiplication on the hot path.
type values struct {
	ticks int // ValueTicks
	// gauges are log-normal values around 100, like latencies or sizes.
	gauges [gaugeTableSize]float64
	// gaugeText[i] is gauges[i] as a JSON number (text protocols only).
	gaugeText []string
	// readings[tick*vehicles+v] are vehicle v's readings of value tick
	// tick (fleet schema only); float32 holds the whole-number rpm and
	// warning counts exactly.
	readings []reading
	vehicles int
}

type reading struct{ ic, electric, warnings float32 }

func newValues(s *Shape, f *fleet.Fleet, text bool) *values {
	v := &values{ticks: s.ValueTicks}
	rng := rand.New(rand.NewPCG(s.Seed, 0x7a1e5))
	for i := range v.gauges {
		v.gauges[i] = math.Round(math.Exp(rng.NormFloat64())*100*1000) / 1000
	}
	if text {
		v.gaugeText = make([]string, gaugeTableSize)
		for i, g := range v.gauges {
			v.gaugeText[i] = string(fleet.AppendNumber(nil, g))
		}
	}
	if f != nil {
		v.vehicles = len(f.Vehicles())
		v.readings = make([]reading, 0, v.ticks*v.vehicles)
		var rs []fleet.Reading
		for k := range v.ticks {
			rs = f.Tick(int64(k)*1000, time.Second, rs)
			for _, r := range rs {
				v.readings = append(v.readings, reading{float32(r.ICRPM), float32(r.ElectricRPM), float32(r.Warnings)})
			}
		}
	}
	return v
}

// value returns the value of series slot (of device dev) on its send
// number tick.
func (v *values) value(kind uint8, slot, dev int, tick int64) float64 {
	switch kind {
	case kindCounter:
		// Each counter starts at its own base and grows by 1..10 per send.
		return float64(slot%1000)*1000 + float64(tick)*float64(1+slot%10)
	case kindICRPM, kindElectricRPM, kindWarnings:
		r := &v.readings[int(tick%int64(v.ticks))*v.vehicles+dev]
		switch kind {
		case kindICRPM:
			return float64(r.ic)
		case kindElectricRPM:
			return float64(r.electric)
		}
		return float64(r.warnings)
	}
	return v.gauges[gaugeIndex(slot, tick, v.ticks)]
}

func gaugeIndex(slot int, tick int64, ticks int) int {
	return (int(tick%int64(ticks))*7919 + slot) & (gaugeTableSize - 1)
}

// appendText appends the value of series slot (of device dev) on its send
// number tick as a JSON number / Influx float: gauges from their table,
// the other kinds, whole numbers, as integers. It does not allocate when
// dst has room.
func (v *values) appendText(dst []byte, kind uint8, slot, dev int, tick int64) []byte {
	if kind == kindGauge {
		return append(dst, v.gaugeText[gaugeIndex(slot, tick, v.ticks)]...)
	}
	return strconv.AppendInt(dst, int64(v.value(kind, slot, dev, tick)), 10)
}

// maxTextLen returns the length of the longest text of a value of kind.
func (v *values) maxTextLen(kind uint8) int {
	switch kind {
	case kindGauge:
		n := 0
		for _, t := range v.gaugeText {
			n = max(n, len(t))
		}
		return n
	case kindCounter:
		return counterWidth
	case kindICRPM:
		return len(strconv.Itoa(fleet.MaxICRPM))
	case kindElectricRPM:
		return len(strconv.Itoa(-fleet.MaxElectricRPM))
	}
	return len(strconv.Itoa(fleet.MaxWarnings))
}

// counterWidth is the hole of a counter in text bodies: counters stay below
// 10^15 for 10^14 sends.
const counterWidth = 15
