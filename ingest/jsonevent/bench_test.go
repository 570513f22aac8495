package jsonevent

import (
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/race"
)

var benchLimits = outcome.Limits{MaxLabelsPerSeries: 64, MaxLabelNameLength: 256, MaxLabelValueLength: 4096, MaxDecodedBytes: 64 << 20, MaxLineBytes: 64 << 10}

const benchEvents = 1000

func BenchmarkDecode(b *testing.B) {
	m := compileYAML(b, vehiclesYAML)
	for _, shape := range []struct {
		name  string
		array bool
	}{{"ndjson", false}, {"array", true}} {
		b.Run(shape.name, func(b *testing.B) {
			body := vehicleEvents(benchEvents, shape.array)
			dst := &batch.Batch{}
			var s Scratch
			var res outcome.Result
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				dst.Reset()
				if err := m.Decode(body, dst, benchLimits, now, &s, &res); err != nil {
					b.Fatal(err)
				}
			}
			if res.Series != benchEvents {
				b.Fatalf("%d series, want %d: %+v", res.Series, benchEvents, res.Rejected)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchEvents), "ns/event")
		})
	}
}

// In steady state (reused Batch, Scratch and Result) decoding valid
// events allocates nothing, for every body shape and field type.
func TestDecodeAllocatesNothingInSteadyState(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	vehicles := compileYAML(t, vehiclesYAML)
	sink := compileYAML(t, kitchenSinkYAML)
	rfc := compileYAML(t, "name: r\ntimestamp: {field: t, unit: rfc3339}\nlabels: {id: id}\nmetrics: [{name: m, value: v}]")
	for _, tc := range []struct {
		name string
		m    *Mapping
		body []byte
	}{
		{"ndjson", vehicles, vehicleEvents(100, false)},
		{"array", vehicles, vehicleEvents(100, true)},
		{"single", vehicles, vehicleEvents(1, false)},
		{"kitchen sink", sink, []byte(`[{"k": "x", "id": "i\u00e9", "meta": [1.5, "m"], "t": {"s": 1633956783.483}, "v": 1, "w": {"x": "2"}, "e": true},
			{"k": true, "id": 7, "meta": [false], "t": {"s": "1633956783"}, "v": false}]`)},
		{"rfc3339", rfc, []byte("{\"t\": \"2024-11-03T08:15:49.123Z\", \"id\": \"a\", \"v\": 1}\n{\"t\": \"2024-11-03T09:15:49+01:00\", \"id\": \"b\", \"v\": 2}\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := &batch.Batch{}
			var s Scratch
			var res outcome.Result
			run := func() {
				dst.Reset()
				if err := tc.m.Decode(tc.body, dst, benchLimits, now, &s, &res); err != nil {
					t.Fatal(err)
				}
				if res.RejectedItems != 0 || res.Series == 0 {
					t.Fatalf("result %+v", res)
				}
			}
			run() // grow the buffers
			if n := testing.AllocsPerRun(20, run); n != 0 {
				t.Errorf("%.1f allocations per Decode, want 0", n)
			}
		})
	}
}
