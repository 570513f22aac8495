package fleet

import (
	"bytes"
	"encoding/csv"
	"math"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
)

func TestFleetIsDeterministic(t *testing.T) {
	a, b := New(Options{Vehicles: 200, Seed: 7}), New(Options{Vehicles: 200, Seed: 7})
	if !reflect.DeepEqual(a.Vehicles(), b.Vehicles()) {
		t.Fatal("same seed, different vehicles")
	}
	var ra, rb []Reading
	for tick := range 50 {
		ra = a.Tick(int64(tick)*1000, time.Second, ra)
		rb = b.Tick(int64(tick)*1000, time.Second, rb)
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("tick %d: same seed, different readings", tick)
		}
	}
	c := New(Options{Vehicles: 200, Seed: 8})
	if reflect.DeepEqual(a.Vehicles()[0].ID, c.Vehicles()[0].ID) {
		t.Error("different seeds, same first vehicle")
	}
}

func TestFleetVehicles(t *testing.T) {
	f := New(Options{Vehicles: 20000, Seed: 1})
	idRE := regexp.MustCompile(`^V\d{10}$`)
	ids := map[string]bool{}
	regions := map[string]int{}
	models := map[string]int{}
	for _, v := range f.Vehicles() {
		if !idRE.MatchString(v.ID) || ids[v.ID] {
			t.Fatalf("bad or duplicate vehicle id %q", v.ID)
		}
		ids[v.ID] = true
		regions[v.Region]++
		models[v.Model]++
		if v.Phase < 0 || v.Phase >= 1 {
			t.Fatalf("phase %v", v.Phase)
		}
	}
	if len(regions) != 20 || len(Regions()) != 20 {
		t.Errorf("%d regions used, %d defined", len(regions), len(Regions()))
	}
	if len(models) != 7 || len(Models()) != 7 {
		t.Errorf("%d models used, %d defined", len(models), len(Models()))
	}
	// Skew: US is the most common region, near its weight.
	for r, n := range regions {
		if r != "US" && n >= regions["US"] {
			t.Errorf("%s has %d vehicles, US only %d", r, n, regions["US"])
		}
		share := 100 * float64(n) / 20000
		if math.Abs(share-float64(RegionWeight(r))) > 1.5 {
			t.Errorf("%s: %.1f%% of vehicles, weight %d%%", r, share, RegionWeight(r))
		}
	}
}

func TestReadingsRangesAndMotion(t *testing.T) {
	const vehicles, ticks = 500, 400
	f := New(Options{Vehicles: vehicles, Seed: 3})
	before := slices.Clone(f.Vehicles())
	var rs []Reading
	stopped, icOff, total := 0, 0, 0
	changes := 0
	prevMoving := make([]bool, vehicles)
	for tick := range ticks {
		start := int64(1_700_000_000_000 + tick*1000)
		rs = f.Tick(start, time.Second, rs)
		if len(rs) != vehicles {
			t.Fatalf("%d readings", len(rs))
		}
		for i, r := range rs {
			if r.Vehicle != i || r.Timestamp < start || r.Timestamp >= start+1000 {
				t.Fatalf("reading %+v for tick at %d", r, start)
			}
			if r.ICRPM < 0 || r.ICRPM > MaxICRPM || r.ElectricRPM < -MaxElectricRPM || r.ElectricRPM > MaxElectricRPM ||
				r.Warnings < 0 || r.Warnings > MaxWarnings || r.Warnings != math.Trunc(r.Warnings) {
				t.Fatalf("out of range: %+v", r)
			}
			moving := r.Moving()
			if !moving {
				stopped++
			} else if r.ICRPM == 0 {
				icOff++
			}
			if tick > 0 && moving != prevMoving[i] {
				changes++
			}
			prevMoving[i] = moving
			total++
		}
	}
	frac := float64(stopped) / float64(total)
	if frac < 0.25 || frac > 0.35 {
		t.Errorf("stopped %.2f of the time, want about 0.3", frac)
	}
	if icOff == 0 {
		t.Error("the combustion engine is never off while moving")
	}
	// Persistence: with mean stops of 20 ticks, state changes are rare.
	if perTick := float64(changes) / float64(total); perTick > 0.05 {
		t.Errorf("motion state changes in %.3f of ticks; no persistence", perTick)
	}
	for i, v := range f.Vehicles() {
		if v.ID != before[i].ID || v.Region != before[i].Region || v.Model != before[i].Model {
			t.Fatalf("vehicle %d changed identity", i)
		}
	}
}

func TestEncoderRoundTrip(t *testing.T) {
	f := New(Options{Vehicles: 5, Seed: 2})
	rs := f.Tick(1_730_621_749_000, time.Second, nil)
	e := NewEncoder(f)
	for _, r := range rs {
		e.Add(r)
	}
	if e.Len() != 15 {
		t.Fatalf("%d series queued", e.Len())
	}
	first, n1, err := e.Encode(4)
	if err != nil || n1 != 4 || e.Len() != 11 {
		t.Fatalf("n=%d, left %d, err %v", n1, e.Len(), err)
	}
	rest, n2, err := e.Encode(0)
	if err != nil || n2 != 11 || e.Len() != 0 {
		t.Fatalf("n=%d, left %d, err %v", n2, e.Len(), err)
	}
	b := &batch.Batch{}
	var res outcome.Result
	for _, body := range [][]byte{first, rest} {
		if err := promrw.Decode(body, b, outcome.Limits{MaxLabelsPerSeries: 10}, &res); err != nil || res.RejectedItems != 0 {
			t.Fatalf("decode: %v, %+v", err, res)
		}
	}
	var got []string
	for _, s := range b.Series {
		got = append(got, batch.String(s.Labels))
		if len(s.Samples) != 1 {
			t.Fatalf("%d samples", len(s.Samples))
		}
	}
	v := f.Vehicles()[0]
	want := []string{
		`vehicle_rpm{engine="ic", model="` + v.Model + `", region="` + v.Region + `", vehicle_id="` + v.ID + `"}`,
		`vehicle_rpm{engine="electric", model="` + v.Model + `", region="` + v.Region + `", vehicle_id="` + v.ID + `"}`,
		`vehicle_warnings{model="` + v.Model + `", region="` + v.Region + `", vehicle_id="` + v.ID + `"}`,
	}
	if !reflect.DeepEqual(got[:3], want) {
		t.Errorf("series:\n%q\nwant\n%q", got[:3], want)
	}
	for i, r := range rs {
		for j, value := range []float64{r.ICRPM, r.ElectricRPM, r.Warnings} {
			s := b.Series[3*i+j]
			if s.Samples[0] != (batch.Sample{Timestamp: r.Timestamp, Value: value}) {
				t.Errorf("series %d: sample %+v, want %d %v", 3*i+j, s.Samples[0], r.Timestamp, value)
			}
		}
	}
	// Labels are sent sorted, as remote write requires.
	pb, _ := snappy.Decode(nil, first)
	var req prompb.WriteRequest
	if err := req.Unmarshal(pb); err != nil {
		t.Fatal(err)
	}
	for _, ts := range req.Timeseries {
		if !slices.IsSortedFunc(ts.Labels, func(a, b prompb.Label) int { return cmpString(a.Name, b.Name) }) {
			t.Errorf("labels not sorted: %v", ts.Labels)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestEncoderWithoutModelLabel(t *testing.T) {
	f := New(Options{Vehicles: 1, Seed: 2, NoModelLabel: true})
	e := NewEncoder(f)
	e.Add(f.Tick(0, time.Second, nil)[0])
	body, _, err := e.Encode(0)
	if err != nil {
		t.Fatal(err)
	}
	b := &batch.Batch{}
	var res outcome.Result
	if err := promrw.Decode(body, b, outcome.Limits{}, &res); err != nil {
		t.Fatal(err)
	}
	for _, s := range b.Series {
		if batch.Get(s.Labels, LabelModel) != "" {
			t.Errorf("model label present: %s", batch.String(s.Labels))
		}
	}
}

// setVehicle gives vehicle i of f a known model and region.
func setVehicle(f *Fleet, i, model, region int) {
	v := &f.vehicles[i]
	v.modelIdx, v.Model = model, modelNames[model]
	v.regionIdx, v.Region = region, regionWeights[region].name
}

func TestTruth(t *testing.T) {
	f := New(Options{Vehicles: 3, Seed: 1})
	setVehicle(f, 0, 0, 0) // Aurora, US
	setVehicle(f, 1, 0, 0) // Aurora, US
	setVehicle(f, 2, 1, 3) // Borealis, UK
	tr := NewTruth(f, 5*time.Second)
	tr.Cover(0, 10_000)
	tr.Observe([]Reading{
		{Vehicle: 0, Timestamp: 1000, Warnings: 2},
		{Vehicle: 1, Timestamp: 1000, ICRPM: 1200, Warnings: 0},
		{Vehicle: 2, Timestamp: 1500, Warnings: 0},
		{Vehicle: 0, Timestamp: 2000, ElectricRPM: -300, Warnings: 3}, // starts moving
		{Vehicle: 0, Timestamp: 3000, ElectricRPM: 200, Warnings: 1},  // counted once; latest warnings 1
		{Vehicle: 2, Timestamp: 6000, Warnings: 4},
		{Vehicle: 0, Timestamp: 9999, Warnings: 5},
		{Vehicle: 1, Timestamp: 10_000, ICRPM: 5},
	})
	got := tr.Windows()
	want := []Window{
		{
			StartMs: 0, EndMs: 5000, Complete: true, VehiclesReporting: 3,
			VehiclesInMotion:              2,
			VehiclesInMotionByRegion:      map[string]int{"US": 2},
			VehiclesInMotionByModel:       map[string]int{"Aurora": 2},
			VehiclesInMotionByModelRegion: map[string]map[string]int{"Aurora": {"US": 2}},
			Warnings:                      1,
			WarningsByRegion:              map[string]float64{"US": 1, "UK": 0},
			WarningsByModel:               map[string]float64{"Aurora": 1, "Borealis": 0},
			WarningsByModelRegion:         map[string]map[string]float64{"Aurora": {"US": 1}, "Borealis": {"UK": 0}},
		},
		{
			StartMs: 5000, EndMs: 10_000, Complete: true, VehiclesReporting: 2,
			VehiclesInMotionByRegion:      map[string]int{},
			VehiclesInMotionByModel:       map[string]int{},
			VehiclesInMotionByModelRegion: map[string]map[string]int{},
			Warnings:                      9,
			WarningsByRegion:              map[string]float64{"US": 5, "UK": 4},
			WarningsByModel:               map[string]float64{"Aurora": 5, "Borealis": 4},
			WarningsByModelRegion:         map[string]map[string]float64{"Aurora": {"US": 5}, "Borealis": {"UK": 4}},
		},
		{
			StartMs: 10_000, EndMs: 15_000, Complete: false, VehiclesReporting: 1,
			VehiclesInMotion:              1,
			VehiclesInMotionByRegion:      map[string]int{"US": 1},
			VehiclesInMotionByModel:       map[string]int{"Aurora": 1},
			VehiclesInMotionByModelRegion: map[string]map[string]int{"Aurora": {"US": 1}},
			WarningsByRegion:              map[string]float64{"US": 0},
			WarningsByModel:               map[string]float64{"Aurora": 0},
			WarningsByModelRegion:         map[string]map[string]float64{"Aurora": {"US": 0}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("windows:\n got %+v\nwant %+v", got, want)
	}
}

func TestWriteRegistry(t *testing.T) {
	f := New(Options{Vehicles: 4, Seed: 9})
	var buf bytes.Buffer
	if err := f.WriteRegistry(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || !reflect.DeepEqual(rows[0], []string{"vehicle_id", "model", "region"}) {
		t.Fatalf("rows %q", rows)
	}
	for i, v := range f.Vehicles() {
		if !reflect.DeepEqual(rows[i+1], []string{v.ID, v.Model, v.Region}) {
			t.Errorf("row %d: %q", i+1, rows[i+1])
		}
	}
}
