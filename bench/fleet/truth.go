package fleet

import (
	"slices"
	"time"
)

// Truth computes, from readings, the outputs the reference pipeline
// (SCENARIOS.md 1) must produce per window: vehicles in motion (distinct
// vehicles with any non-zero rpm in the window) and warnings (per vehicle
// its latest warning count in the window, summed), in total and per
// region, per model and per model and region. The model is the vehicle's
// in the registry (Fleet.WriteRegistry): the series carry it as a label
// (Fleet.ModelLabel), or the pipeline joins it from the registry (JSON
// events, remote write with NoModelLabel). Readings of one vehicle must
// be observed in time order.
type Truth struct {
	fleet    *Fleet
	windowMs int64
	windows  map[int64]*windowAcc
	first    int64 // earliest covered time, Unix ms (inclusive)
	last     int64 // latest covered time, Unix ms (exclusive)
	perVeh   []vehicleWindow
}

type vehicleWindow struct {
	motionWindow int64 // last window the vehicle counted as moving in, or -1
	warnWindow   int64 // window of warnValue, or -1
	warnValue    float64
}

type windowAcc struct {
	motion    [len(modelNames)][len(regionWeights)]int
	reporting [len(modelNames)][len(regionWeights)]int
	warnings  [len(modelNames)][len(regionWeights)]float64
}

// NewTruth returns an empty Truth for f with the given window length.
func NewTruth(f *Fleet, window time.Duration) *Truth {
	t := &Truth{fleet: f, windowMs: window.Milliseconds(), windows: map[int64]*windowAcc{}, first: -1}
	t.perVeh = make([]vehicleWindow, len(f.vehicles))
	for i := range t.perVeh {
		t.perVeh[i] = vehicleWindow{motionWindow: -1, warnWindow: -1}
	}
	return t
}

// Cover records that readings were generated for [start, end) (Unix ms),
// so windows inside it are complete.
func (t *Truth) Cover(start, end int64) {
	if t.first < 0 || start < t.first {
		t.first = start
	}
	t.last = max(t.last, end)
}

// Observe adds readings.
func (t *Truth) Observe(rs []Reading) {
	for _, r := range rs {
		w := r.Timestamp / t.windowMs
		acc := t.windows[w]
		if acc == nil {
			acc = &windowAcc{}
			t.windows[w] = acc
		}
		v := &t.fleet.vehicles[r.Vehicle]
		mi, ri := v.modelIdx, v.regionIdx
		pv := &t.perVeh[r.Vehicle]
		if r.Moving() && pv.motionWindow != w {
			pv.motionWindow = w
			acc.motion[mi][ri]++
		}
		if pv.warnWindow == w {
			acc.warnings[mi][ri] += r.Warnings - pv.warnValue
		} else {
			acc.warnings[mi][ri] += r.Warnings
			acc.reporting[mi][ri]++
			pv.warnWindow = w
		}
		pv.warnValue = r.Warnings
	}
}

// Window is the expected output of one window.
type Window struct {
	StartMs  int64 `json:"start_ms"`
	EndMs    int64 `json:"end_ms"` // the output samples' timestamp
	Complete bool  `json:"complete"`
	// VehiclesReporting counts vehicles with a reading in the window.
	VehiclesReporting int `json:"vehicles_reporting"`

	VehiclesInMotion              int                       `json:"vehicles_in_motion"`
	VehiclesInMotionByRegion      map[string]int            `json:"vehicles_in_motion_by_region"`
	VehiclesInMotionByModel       map[string]int            `json:"vehicles_in_motion_by_model,omitempty"`
	VehiclesInMotionByModelRegion map[string]map[string]int `json:"vehicles_in_motion_by_model_region,omitempty"`

	Warnings              float64                       `json:"warnings"`
	WarningsByRegion      map[string]float64            `json:"warnings_by_region"`
	WarningsByModel       map[string]float64            `json:"warnings_by_model,omitempty"`
	WarningsByModelRegion map[string]map[string]float64 `json:"warnings_by_model_region,omitempty"`
}

// Windows returns the windows seen, in time order. A window is Complete
// when readings were generated for all of it (see Cover). As in the
// pipeline's output, a group is in the vehicles-in-motion maps when at
// least one of its vehicles moved, and in the warnings maps when at least
// one of its vehicles reported (its sum may be 0).
func (t *Truth) Windows() []Window {
	keys := make([]int64, 0, len(t.windows))
	for k := range t.windows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Window, 0, len(keys))
	for _, k := range keys {
		acc := t.windows[k]
		w := Window{
			StartMs:                  k * t.windowMs,
			EndMs:                    (k + 1) * t.windowMs,
			VehiclesInMotionByRegion: map[string]int{},
			WarningsByRegion:         map[string]float64{},
		}
		w.VehiclesInMotionByModel = map[string]int{}
		w.VehiclesInMotionByModelRegion = map[string]map[string]int{}
		w.WarningsByModel = map[string]float64{}
		w.WarningsByModelRegion = map[string]map[string]float64{}
		w.Complete = t.first >= 0 && w.StartMs >= t.first && w.EndMs <= t.last
		for mi, model := range modelNames {
			for ri, r := range regionWeights {
				if n := acc.motion[mi][ri]; n > 0 {
					w.VehiclesInMotion += n
					w.VehiclesInMotionByRegion[r.name] += n
					w.VehiclesInMotionByModel[model] += n
					if w.VehiclesInMotionByModelRegion[model] == nil {
						w.VehiclesInMotionByModelRegion[model] = map[string]int{}
					}
					w.VehiclesInMotionByModelRegion[model][r.name] = n
				}
				w.VehiclesReporting += acc.reporting[mi][ri]
				if acc.reporting[mi][ri] > 0 {
					n := acc.warnings[mi][ri]
					w.Warnings += n
					w.WarningsByRegion[r.name] += n
					w.WarningsByModel[model] += n
					if w.WarningsByModelRegion[model] == nil {
						w.WarningsByModelRegion[model] = map[string]float64{}
					}
					w.WarningsByModelRegion[model][r.name] = n
				}
			}
		}
		out = append(out, w)
	}
	return out
}
