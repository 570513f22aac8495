package fleet

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/race"
)

// exampleInput compiles the JSON input called name of config.example.yaml,
// the mapping `make demo` runs.
func exampleInput(t testing.TB, name string) *jsonevent.Mapping {
	t.Helper()
	cfg, err := config.LoadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Inputs.JSON {
		if c.Name == name {
			m, err := jsonevent.Compile(c)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("config.example.yaml has no JSON input %q", name)
	return nil
}

var decodeLimits = outcome.Limits{MaxLabelsPerSeries: 64, MaxLabelNameLength: 256, MaxLabelValueLength: 4096, MaxDecodedBytes: 64 << 20, MaxLineBytes: 1 << 20}

func TestAppendEventIsTheScenarioSchema(t *testing.T) {
	line := AppendEvent(nil, EventICRPM, "V0000012345", "UK", 1730621749123, 2356)
	want := `{"eventType":"IC_RPM","vehicleId":"V0000012345","region":"UK","timestamp":1730621749123,"measurement":2356}` + "\n"
	if string(line) != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
	// The same object as the example of SCENARIOS.md.
	var got, ref map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(`{"eventType": "IC_RPM", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621749123, "measurement": 2356}`), &ref)
	if !reflect.DeepEqual(got, ref) {
		t.Errorf("got %v, want %v", got, ref)
	}
	for v, want := range map[float64]string{0: "0", -10000: "-10000", 1.5: "1.5", 1e300: "1e+300", -0.25: "-0.25"} {
		if got := string(AppendNumber(nil, v)); got != want {
			t.Errorf("AppendNumber(%v) = %s, want %s", v, got, want)
		}
	}
	if got := string(AppendJSONString(nil, "a\"b\\c\nd\x01é")); got != `"a\"b\\c\nd\u0001é"` || !json.Valid([]byte(got)) {
		t.Errorf("AppendJSONString = %s", got)
	}
}

// decodeEvents decodes bodies with premetrics' JSON decoder and the
// vehicles input of config.example.yaml.
func decodeEvents(t *testing.T, bodies ...[]byte) *batch.Batch {
	t.Helper()
	m := exampleInput(t, "vehicles")
	b := &batch.Batch{}
	s := jsonevent.GetScratch()
	defer jsonevent.PutScratch(s)
	var res outcome.Result
	for _, body := range bodies {
		if err := m.Decode(body, b, decodeLimits, 1, s, &res); err != nil || res.RejectedItems != 0 {
			t.Fatalf("decode: %v, %s", err, res.Message("json"))
		}
	}
	return b
}

func TestEventEncoderRoundTrip(t *testing.T) {
	for _, gz := range []bool{false, true} {
		f := New(Options{Vehicles: 5, Seed: 2})
		rs := f.Tick(1_730_621_749_000, time.Second, nil)
		e := NewEventEncoder(f, EventOptions{Gzip: gz})
		for _, r := range rs {
			e.Add(r)
		}
		if e.Len() != 15 {
			t.Fatalf("%d events queued", e.Len())
		}
		first, n1, err := e.Encode(4)
		if err != nil || n1 != 4 || e.Len() != 11 {
			t.Fatalf("n=%d, left %d, err %v", n1, e.Len(), err)
		}
		// Events added after an Encode go behind the rest.
		e.Add(rs[0])
		rest, n2, err := e.Encode(0)
		if err != nil || n2 != 14 || e.Len() != 0 {
			t.Fatalf("n=%d, left %d, err %v", n2, e.Len(), err)
		}
		if _, n, _ := e.Encode(0); n != 0 {
			t.Fatalf("empty encoder encoded %d events", n)
		}
		if gz {
			for i, body := range [][]byte{first, rest} {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = plain
				} else {
					rest = plain
				}
			}
		}
		if lines := bytes.Count(first, []byte("\n")); lines != 4 || strings.Contains(string(first)+string(rest), "model") {
			t.Fatalf("first body has %d lines:\n%s%s", lines, first, rest)
		}
		b := decodeEvents(t, first, rest)
		if len(b.Series) != 18 {
			t.Fatalf("%d series", len(b.Series))
		}
		for i, r := range append(rs, rs[0]) {
			v := f.Vehicles()[r.Vehicle]
			want := []string{
				`vehicle_rpm{engine="ic", region="` + v.Region + `", vehicle_id="` + v.ID + `"}`,
				`vehicle_rpm{engine="electric", region="` + v.Region + `", vehicle_id="` + v.ID + `"}`,
				`vehicle_warnings{region="` + v.Region + `", vehicle_id="` + v.ID + `"}`,
			}
			for j, value := range []float64{r.ICRPM, r.ElectricRPM, r.Warnings} {
				s := b.Series[3*i+j]
				if got := batch.String(s.Labels); got != want[j] {
					t.Errorf("series %d: %s, want %s", 3*i+j, got, want[j])
				}
				if len(s.Samples) != 1 || s.Samples[0] != (batch.Sample{Timestamp: r.Timestamp, Value: value}) {
					t.Errorf("series %d: samples %+v, want %d %v", 3*i+j, s.Samples, r.Timestamp, value)
				}
			}
		}
	}
}

func TestEventEncoderAllocatesOnlyTheBody(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are not stable under the race detector")
	}
	f := New(Options{Vehicles: 1000, Seed: 1, NoModelLabel: true})
	e := NewEventEncoder(f, EventOptions{})
	rs := f.Tick(1_730_621_749_000, time.Second, nil)
	round := func() {
		for _, r := range rs {
			e.Add(r)
			for e.Len() >= 500 {
				if _, _, err := e.Encode(500); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	round() // grow the buffers
	if allocs := testing.AllocsPerRun(5, round); allocs > 6 {
		t.Errorf("%.0f allocations per 3000 events, want the 6 bodies", allocs)
	}
}

// Without the model label on the series the truth is still per model:
// the pipeline joins the model from the registry.
func TestTruthWithoutModelLabel(t *testing.T) {
	f := New(Options{Vehicles: 3, Seed: 1, NoModelLabel: true})
	setVehicle(f, 0, 0, 0) // Aurora, US
	setVehicle(f, 1, 1, 0) // Borealis, US
	setVehicle(f, 2, 1, 3) // Borealis, UK
	tr := NewTruth(f, 5*time.Second)
	tr.Cover(0, 5000)
	tr.Observe([]Reading{
		{Vehicle: 0, Timestamp: 1000, ICRPM: 900, Warnings: 2},
		{Vehicle: 1, Timestamp: 1000, ElectricRPM: -40, Warnings: 1},
		{Vehicle: 2, Timestamp: 1500, Warnings: 3},
		{Vehicle: 1, Timestamp: 2000, ElectricRPM: 20, Warnings: 0},
	})
	want := []Window{{
		StartMs: 0, EndMs: 5000, Complete: true, VehiclesReporting: 3,
		VehiclesInMotion:              2,
		VehiclesInMotionByRegion:      map[string]int{"US": 2},
		VehiclesInMotionByModel:       map[string]int{"Aurora": 1, "Borealis": 1},
		VehiclesInMotionByModelRegion: map[string]map[string]int{"Aurora": {"US": 1}, "Borealis": {"US": 1}},
		Warnings:                      5,
		WarningsByRegion:              map[string]float64{"US": 2, "UK": 3},
		WarningsByModel:               map[string]float64{"Aurora": 2, "Borealis": 3},
		WarningsByModelRegion:         map[string]map[string]float64{"Aurora": {"US": 2}, "Borealis": {"US": 0, "UK": 3}},
	}}
	if got := tr.Windows(); !reflect.DeepEqual(got, want) {
		t.Errorf("windows:\n got %+v\nwant %+v", got, want)
	}
}
