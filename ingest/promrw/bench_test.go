package promrw

import (
	"fmt"
	"testing"

	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

var testLimitsLarge = outcome.Limits{MaxLabelsPerSeries: 64, MaxLabelNameLength: 256, MaxLabelValueLength: 4096, MaxDecodedBytes: 64 << 20}

var regions = []string{"US", "Canada", "Mexico", "UK", "Germany", "France", "Italy", "Spain", "Poland", "Sweden"}

// realisticRequest builds a request like the vehicle fleet sends: series
// of 6 labels with samples per series, timestamps in milliseconds.
func realisticRequest(series, samples int, seed int) *prompb.WriteRequest {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, series)}
	for i := range series {
		engine := "ic"
		if i%2 == 1 {
			engine = "electric"
		}
		ts := &req.Timeseries[i]
		ts.Labels = lbls(
			"__name__", "vehicle_rpm",
			"engine", engine,
			"instance", "gateway-3:9100",
			"model", fmt.Sprintf("model-%d", (i+seed)%7),
			"region", regions[(i+seed)%len(regions)],
			"vehicle_id", fmt.Sprintf("V%010d", i/2+seed),
		)
		ts.Samples = make([]prompb.Sample, samples)
		for j := range samples {
			ts.Samples[j] = prompb.Sample{Timestamp: 1730621749123 + int64(j)*1000, Value: float64((i*31 + j*17) % 3000)}
		}
	}
	return req
}

func BenchmarkDecode(b *testing.B) {
	for _, shape := range []struct{ series, samples int }{{1000, 1}, {500, 10}} {
		b.Run(fmt.Sprintf("%dx%d", shape.series, shape.samples), func(b *testing.B) {
			body := encode(b, realisticRequest(shape.series, shape.samples, 0))
			dst := &batch.Batch{}
			var res outcome.Result
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				dst.Reset()
				if err := Decode(body, dst, testLimitsLarge, &res); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(shape.series*shape.samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkDecodeV2 decodes the requests of BenchmarkDecode sent as
// remote write 2.0 (one symbol table, label references).
func BenchmarkDecodeV2(b *testing.B) {
	for _, shape := range []struct{ series, samples int }{{1000, 1}, {500, 10}} {
		b.Run(fmt.Sprintf("%dx%d", shape.series, shape.samples), func(b *testing.B) {
			body := encodeV2(b, toV2(realisticRequest(shape.series, shape.samples, 0)))
			dst := &batch.Batch{}
			var res outcome.Result
			var w Written
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				dst.Reset()
				if err := DecodeV2(body, dst, testLimitsLarge, &res, &w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(shape.series*shape.samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
