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
