package fleet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The 20 regions and their weights (percent of vehicles).
var regionWeights = [...]struct {
	name   string
	weight int
}{
	{"US", 22}, {"Canada", 6}, {"Mexico", 5}, {"UK", 8}, {"Germany", 8},
	{"France", 6}, {"Italy", 4}, {"Spain", 4}, {"Poland", 3}, {"Sweden", 2},
	{"Norway", 2}, {"Australia", 5}, {"New Zealand", 1}, {"Japan", 7}, {"Thailand", 2},
	{"Malaysia", 2}, {"South Africa", 2}, {"Brazil", 5}, {"Argentina", 2}, {"UAE", 4},
}

// The 7 vehicle models.
var modelNames = [...]string{"Aurora", "Borealis", "Cirrus", "Delta", "Equinox", "Fjord", "Glacier"}

// Regions returns the 20 region names.
func Regions() []string {
	out := make([]string, len(regionWeights))
	for i, r := range regionWeights {
		out[i] = r.name
	}
	return out
}

// RegionWeight returns the percentage of vehicles in region (0 if unknown).
func RegionWeight(region string) int {
	for _, r := range regionWeights {
		if r.name == region {
			return r.weight
		}
	}
	return 0
}

// Models returns the 7 model names.
func Models() []string { return append([]string(nil), modelNames[:]...) }

// Value ranges of the readings.
const (
	MaxICRPM       = 3000
	MaxElectricRPM = 10000
	MaxWarnings    = 5
)

// Options configure a Fleet.
type Options struct {
	Vehicles int
	Seed     uint64
	// StoppedFraction is the long-run fraction of ticks a vehicle is
	// stopped; default 0.3.
	StoppedFraction float64
	// MeanStopTicks is the mean length of a stop in ticks; default 20.
	MeanStopTicks float64
	// NoModelLabel leaves the model label off the series, for when the
	// vehicle-registry enrichment adds it (see Registry).
	NoModelLabel bool
}

func (o *Options) defaults() {
	if o.StoppedFraction <= 0 || o.StoppedFraction >= 1 {
		o.StoppedFraction = 0.3
	}
	if o.MeanStopTicks < 1 {
		o.MeanStopTicks = 20
	}
}

// Vehicle is one simulated vehicle. Its identity is fixed; its drive state
// changes each tick.
type Vehicle struct {
	ID     string
	Region string
	Model  string
	// Phase is when, within each interval, the vehicle reports, as a
	// fraction of the interval in [0, 1).
	Phase float64

	modelIdx  int // index in modelNames
	regionIdx int // index in regionWeights
	moving    bool
	icOn      bool
	ic        float64
	electric  float64
	warnings  float64
}

// Reading is one tick of one vehicle: the three events it reports.
type Reading struct {
	Vehicle     int   // index in Fleet.Vehicles
	Timestamp   int64 // event time, Unix ms
	ICRPM       float64
	ElectricRPM float64
	Warnings    float64
}

// Moving reports whether any rpm is non-zero.
func (r Reading) Moving() bool { return r.ICRPM != 0 || r.ElectricRPM != 0 }

// Fleet is a deterministic set of vehicles. Not safe for concurrent use.
type Fleet struct {
	opts     Options
	vehicles []Vehicle
	rng      *rand.Rand
	pStop    float64 // moving -> stopped, per tick
	pStart   float64 // stopped -> moving, per tick
}

// New creates the fleet described by opts.
func New(opts Options) *Fleet {
	opts.defaults()
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	f := &Fleet{opts: opts, vehicles: make([]Vehicle, opts.Vehicles), rng: rng}
	// Stationary stopped fraction s = pStop / (pStop + pStart).
	f.pStart = 1 / opts.MeanStopTicks
	f.pStop = opts.StoppedFraction * f.pStart / (1 - opts.StoppedFraction)

	total := 0
	for _, r := range regionWeights {
		total += r.weight
	}
	ids := make(map[uint64]struct{}, opts.Vehicles)
	for i := range f.vehicles {
		v := &f.vehicles[i]
		var n uint64
		for {
			n = rng.Uint64N(10_000_000_000)
			if _, dup := ids[n]; !dup {
				ids[n] = struct{}{}
				break
			}
		}
		v.ID = fmt.Sprintf("V%010d", n)
		pick := rng.IntN(total)
		for ri, r := range regionWeights {
			if pick < r.weight {
				v.Region, v.regionIdx = r.name, ri
				break
			}
			pick -= r.weight
		}
		v.modelIdx = rng.IntN(len(modelNames))
		v.Model = modelNames[v.modelIdx]
		v.Phase = rng.Float64()
		v.moving = rng.Float64() >= opts.StoppedFraction
		v.icOn = rng.IntN(4) != 0
		v.ic = 800 + rng.Float64()*1500
		v.electric = (rng.Float64()*2 - 1) * 6000
		if rng.IntN(10) >= 7 {
			v.warnings = float64(1 + rng.IntN(MaxWarnings))
		}
	}
	return f
}

// Vehicles returns the vehicles; callers must not modify them.
func (f *Fleet) Vehicles() []Vehicle { return f.vehicles }

// ModelLabel reports whether series carry the model label.
func (f *Fleet) ModelLabel() bool { return !f.opts.NoModelLabel }

// Tick advances every vehicle by one reading for the interval that starts
// at start (Unix ms) and appends the readings to dst[:0], in vehicle
// order. Vehicle i reports at start + Phase*interval.
func (f *Fleet) Tick(start int64, interval time.Duration, dst []Reading) []Reading {
	dst = dst[:0]
	ms := float64(interval.Milliseconds())
	rng := f.rng
	for i := range f.vehicles {
		v := &f.vehicles[i]
		if v.moving {
			v.moving = rng.Float64() >= f.pStop
		} else {
			v.moving = rng.Float64() < f.pStart
		}
		r := Reading{Vehicle: i, Timestamp: start + int64(v.Phase*ms)}
		if v.moving {
			if rng.Float64() < 0.1 {
				v.icOn = !v.icOn
			}
			v.ic = clamp(v.ic+rng.NormFloat64()*200, 600, MaxICRPM)
			v.electric = clamp(v.electric+rng.NormFloat64()*800, -MaxElectricRPM, MaxElectricRPM)
			if math.Round(v.electric) == 0 {
				v.electric = 1
			}
			if v.icOn {
				r.ICRPM = math.Round(v.ic)
			}
			r.ElectricRPM = math.Round(v.electric)
		}
		if rng.Float64() < 0.05 {
			if rng.IntN(2) == 0 {
				v.warnings--
			} else {
				v.warnings++
			}
			v.warnings = clamp(v.warnings, 0, MaxWarnings)
		}
		r.Warnings = v.warnings
		dst = append(dst, r)
	}
	return dst
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }
