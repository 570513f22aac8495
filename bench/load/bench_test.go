package load

import (
	"testing"

	"github.com/golang/snappy"
)

// BenchmarkRender measures the generator's per-request cost before HTTP:
// copying a 1000-series template and rewriting its samples.
func BenchmarkRender(b *testing.B) {
	for _, tc := range []struct {
		name  string
		shape Shape
	}{
		{"fleet", Shape{Schema: SchemaFleet, Series: 100_000, FleetCounter: true, ExtraLabels: 2, LabelValueLen: 12, LabelValues: 50, ValueTicks: 8}},
		{"generic_churn", Shape{Schema: SchemaGeneric, Series: 100_000, MetricsPerDevice: 1, ExtraLabels: 4, LabelValueLen: 16, LabelValues: 100,
			Churn: 1, ChurnInterval: 1e9, ValueTicks: 8}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := NewPlan(tc.shape, 1000)
			if err != nil {
				b.Fatal(err)
			}
			ref := 0
			for j := range p.Bodies() {
				body, n := p.Render(nil, j, 0, 1_790_000_000_000, 0)
				raw, err := snappy.Decode(nil, body)
				if err != nil || n == 0 {
					b.Fatalf("body %d: %d samples, snappy: %v", j, n, err)
				}
				ref += len(snappy.Encode(nil, raw))
			}
			buf := make([]byte, 0, p.MaxBodyBytes())
			b.ReportAllocs()
			b.SetBytes(int64(len(p.bodies[0].data)))
			i := int64(0)
			for b.Loop() {
				j := int(i % int64(p.Bodies()))
				buf, _ = p.Render(buf, j, i/int64(p.Bodies()), 1_790_000_000_000+i, i)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sample")
			b.ReportMetric(p.CompressedBytesPerSample(), "body_bytes/sample")
			b.ReportMetric(float64(ref)/float64(p.Series()), "snappy_bytes/sample")
		})
	}
}

// BenchmarkRenderText is BenchmarkRender for the other protocols (JSON
// events, Influx and Prometheus text lines, OTLP data points) of the
// fleet: copying a 1000-sample body and rewriting its values and
// timestamps.
func BenchmarkRenderText(b *testing.B) {
	for _, protocol := range []string{ProtocolJSON, ProtocolInflux, ProtocolPrometheusText, ProtocolOTLP} {
		b.Run(protocol, func(b *testing.B) {
			p, err := NewPlan(Shape{Schema: SchemaFleet, Protocol: protocol, Series: 100_000, ValueTicks: 8}, 1000)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, p.MaxBodyBytes())
			b.ReportAllocs()
			b.SetBytes(int64(len(p.bodies[0].data)))
			i := int64(0)
			for b.Loop() {
				j := int(i % int64(p.Bodies()))
				buf, _ = p.Render(buf, j, i/int64(p.Bodies()), 1_790_000_000_000+i, 0)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sample")
			b.ReportMetric(p.CompressedBytesPerSample(), "body_bytes/sample")
		})
	}
}
