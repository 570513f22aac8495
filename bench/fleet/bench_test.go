package fleet

import (
	"testing"
	"time"
)

// BenchmarkTickEncode measures the simulator's own cost per sample: one
// tick of 10k vehicles encoded in requests of 1000 series.
func BenchmarkTickEncode(b *testing.B) {
	f := New(Options{Vehicles: 10_000, Seed: 1})
	e := NewEncoder(f)
	var rs []Reading
	var bytes int64
	b.ReportAllocs()
	tick := int64(0)
	for b.Loop() {
		rs = f.Tick(tick*1000, time.Second, rs)
		tick++
		for _, r := range rs {
			e.Add(r)
			for e.Len() >= 1000 {
				body, _, err := e.Encode(1000)
				if err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(body))
			}
		}
	}
	b.ReportMetric(float64(b.N)*30_000/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(bytes)/float64(b.N)/30_000, "body_bytes/sample")
}

// BenchmarkTickEncodeEvents is BenchmarkTickEncode with JSON events:
// 30k events a tick in NDJSON bodies of 1000 events.
func BenchmarkTickEncodeEvents(b *testing.B) {
	for _, gz := range []bool{false, true} {
		name := "ndjson"
		if gz {
			name = "ndjson_gzip"
		}
		b.Run(name, func(b *testing.B) {
			f := New(Options{Vehicles: 10_000, Seed: 1, NoModelLabel: true})
			e := NewEventEncoder(f, EventOptions{Gzip: gz})
			var rs []Reading
			var bytes int64
			b.ReportAllocs()
			tick := int64(0)
			for b.Loop() {
				rs = f.Tick(1_730_621_749_000+tick*1000, time.Second, rs)
				tick++
				for _, r := range rs {
					e.Add(r)
					for e.Len() >= 1000 {
						body, _, err := e.Encode(1000)
						if err != nil {
							b.Fatal(err)
						}
						bytes += int64(len(body))
					}
				}
			}
			b.ReportMetric(float64(b.N)*30_000/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(bytes)/float64(b.N)/30_000, "body_bytes/event")
		})
	}
}
