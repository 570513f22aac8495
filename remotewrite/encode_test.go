package remotewrite

import (
	"fmt"
	"math"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/testenv"
)

// decodeRequest decodes a compressed request with the reference (gogo) decoder.
func decodeRequest(t testing.TB, compressed []byte) prompb.WriteRequest {
	t.Helper()
	wr, err := decodeWriteRequest(compressed)
	if err != nil {
		t.Fatal(err)
	}
	return wr
}

func decodeWriteRequest(compressed []byte) (prompb.WriteRequest, error) {
	var wr prompb.WriteRequest
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		return wr, fmt.Errorf("snappy: %w", err)
	}
	if err := wr.Unmarshal(raw); err != nil {
		return wr, fmt.Errorf("unmarshal: %w", err)
	}
	return wr, nil
}

// grouped builds the encoder's input from series.
func grouped(series []batch.Series) ([][]batch.Label, []int32, []batch.Sample) {
	var ls [][]batch.Label
	offsets := []int32{0}
	var samples []batch.Sample
	for _, s := range series {
		ls = append(ls, s.Labels)
		samples = append(samples, s.Samples...)
		offsets = append(offsets, int32(len(samples)))
	}
	return ls, offsets, samples
}

// encode builds the compressed WriteRequest of series[lo:hi] the way a
// block is sent: one record per series, concatenated, compressed.
func (e *encoder) encode(series [][]batch.Label, offsets []int32, samples []batch.Sample, lo, hi int) []byte {
	return e.compress(marshal(nil, series, offsets, samples, lo, hi))
}

// marshal appends the uncompressed WriteRequest of series[lo:hi] to dst.
func marshal(dst []byte, series [][]batch.Label, offsets []int32, samples []batch.Sample, lo, hi int) []byte {
	for i := lo; i < hi; i++ {
		dst = appendTimeSeries(dst, series[i], samples[offsets[i]:offsets[i+1]], nil)
	}
	return dst
}

func TestEncodeMatchesPrompb(t *testing.T) {
	series := []batch.Series{
		{
			Labels:  []batch.Label{{Name: "__name__", Value: "cpu"}, {Name: "host", Value: "a"}},
			Samples: []batch.Sample{{Timestamp: 1000, Value: 1.5}, {Timestamp: 2000, Value: 0}, {Timestamp: 0, Value: math.Copysign(0, -1)}},
		},
		{
			Labels:  []batch.Label{{Name: "__name__", Value: "neg"}, {Name: "empty", Value: ""}, {Name: "long", Value: string(make([]byte, 300))}},
			Samples: []batch.Sample{{Timestamp: -5, Value: math.Inf(-1)}, {Timestamp: math.MaxInt64, Value: math.NaN()}},
		},
		{Labels: []batch.Label{{Name: "__name__", Value: "no_samples"}}},
	}
	ls, offsets, samples := grouped(series)
	var e encoder
	for lo := range len(series) {
		for hi := lo; hi <= len(series); hi++ {
			wr := decodeRequest(t, e.encode(ls, offsets, samples, lo, hi))
			if len(wr.Timeseries) != hi-lo {
				t.Fatalf("[%d,%d): %d timeseries", lo, hi, len(wr.Timeseries))
			}
			for i, ts := range wr.Timeseries {
				want := series[lo+i]
				if len(ts.Labels) != len(want.Labels) || len(ts.Samples) != len(want.Samples) {
					t.Fatalf("series %d: got %v", lo+i, ts)
				}
				for j, l := range ts.Labels {
					if l.Name != want.Labels[j].Name || l.Value != want.Labels[j].Value {
						t.Errorf("series %d label %d = %v, want %v", lo+i, j, l, want.Labels[j])
					}
				}
				for j, s := range ts.Samples {
					w := want.Samples[j]
					if s.Timestamp != w.Timestamp || math.Float64bits(s.Value) != math.Float64bits(w.Value) {
						t.Errorf("series %d sample %d = %v, want %v", lo+i, j, s, w)
					}
				}
			}
		}
	}
	// The bytes equal gogo's marshalling (zero fields omitted), except that
	// we keep -0, which gogo drops; compare a request without it.
	ls2, off2, smp2 := grouped(series[1:])
	wantBytes, err := testenv.WriteRequestOf(series[1:]).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := marshal(nil, ls2, off2, smp2, 0, 2); string(got) != string(wantBytes) {
		t.Errorf("marshal differs from prompb:\n got %x\nwant %x", got, wantBytes)
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("cpu", "host", "a", int64(1000), 1.5, uint8(3))
	f.Add("", "", "", int64(-1), math.Inf(1), uint8(0))
	f.Fuzz(func(t *testing.T, name, ln, lv string, ts int64, v float64, n uint8) {
		s := batch.Series{Labels: []batch.Label{{Name: "__name__", Value: name}, {Name: "l" + ln, Value: lv}}}
		for i := range int(n % 16) {
			s.Samples = append(s.Samples, batch.Sample{Timestamp: ts + int64(i), Value: v * float64(i)})
		}
		ls, offsets, samples := grouped([]batch.Series{s, s})
		var e encoder
		wr := decodeRequest(t, e.encode(ls, offsets, samples, 0, 2))
		if len(wr.Timeseries) != 2 {
			t.Fatalf("%d timeseries", len(wr.Timeseries))
		}
		for _, got := range wr.Timeseries {
			if got.Labels[0].Value != name || got.Labels[1].Name != "l"+ln || got.Labels[1].Value != lv {
				t.Fatalf("labels %v", got.Labels)
			}
			if len(got.Samples) != len(s.Samples) {
				t.Fatalf("%d samples, want %d", len(got.Samples), len(s.Samples))
			}
			for i, x := range got.Samples {
				if x.Timestamp != s.Samples[i].Timestamp || math.Float64bits(x.Value) != math.Float64bits(s.Samples[i].Value) {
					t.Fatalf("sample %d = %v, want %v", i, x, s.Samples[i])
				}
			}
		}
	})
}

// benchSeries returns n series of 8 labels with k samples each, like an
// aggregation output.
func benchSeries(n, k int) []batch.Series {
	series := make([]batch.Series, n)
	for i := range series {
		series[i].Labels = []batch.Label{
			{Name: "__name__", Value: "vehicle_rpm:1m_by_region_avg"},
			{Name: "cluster", Value: "prod-eu-1"},
			{Name: "instance", Value: fmt.Sprintf("10.0.%d.%d:9100", i/250, i%250)},
			{Name: "job", Value: "premetrics"},
			{Name: "model", Value: fmt.Sprintf("model-%d", i%17)},
			{Name: "region", Value: fmt.Sprintf("region-%d", i%5)},
			{Name: "series", Value: fmt.Sprint(i)},
			{Name: "zone", Value: "a"},
		}
		for j := range k {
			series[i].Samples = append(series[i].Samples, batch.Sample{Timestamp: 1_700_000_000_000 + int64(j)*60_000, Value: float64(i*j) + 0.25})
		}
	}
	return series
}

func BenchmarkEncode(b *testing.B) {
	ls, offsets, samples := grouped(benchSeries(1000, 2)) // 2000 samples: one max_samples_per_send batch
	var e encoder
	pb := marshal(nil, ls, offsets, samples, 0, len(ls))
	e.compress(pb)
	b.SetBytes(int64(len(pb)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		pb = marshal(pb[:0], ls, offsets, samples, 0, len(ls))
		e.compress(pb)
	}
	b.ReportMetric(float64(len(samples)), "samples/op")
}

// A histogram series is sent as prompb histograms, which Prometheus'
// decoder turns back into the same valid native histogram.
func TestEncodeHistogramMatchesPrompb(t *testing.T) {
	hs := []batch.Histogram{
		{
			Count: 11, Sum: 12.5, Schema: 3, ZeroThreshold: 0x1p-1022, ZeroCount: 1, Gauge: true,
			PositiveSpans: []batch.Span{{Offset: -2, Length: 2}, {Offset: 3, Length: 1}}, PositiveDeltas: []int64{2, 1, -1},
			NegativeSpans: []batch.Span{{Offset: 0, Length: 1}}, NegativeDeltas: []int64{3},
		},
		{Count: 0, Schema: -4}, // empty: count_int and zero_count_int still say "integer"
	}
	ls := []batch.Label{{Name: "__name__", Value: "lat_histogram"}, {Name: "g", Value: "a"}}
	samples := []batch.Sample{{Timestamp: 60_000, Value: 12.5 / 11}, {Timestamp: 120_000, Value: math.NaN()}}
	var e encoder
	wr := decodeRequest(t, e.compress(appendTimeSeries(nil, ls, samples, hs)))
	if len(wr.Timeseries) != 1 || len(wr.Timeseries[0].Samples) != 0 || len(wr.Timeseries[0].Histograms) != 2 {
		t.Fatalf("decoded %+v, want one series with two histograms and no float samples", wr.Timeseries)
	}
	for i, ph := range wr.Timeseries[0].Histograms {
		if ph.IsFloatHistogram() {
			t.Fatalf("histogram %d decodes as a float histogram", i)
		}
		h := ph.ToIntHistogram()
		if err := h.Validate(); err != nil {
			t.Errorf("histogram %d is not valid: %v", i, err)
		}
		want := hs[i]
		if ph.Timestamp != samples[i].Timestamp || h.Count != want.Count || h.Sum != want.Sum || h.Schema != want.Schema ||
			h.ZeroThreshold != want.ZeroThreshold || h.ZeroCount != want.ZeroCount || (ph.ResetHint == prompb.Histogram_GAUGE) != want.Gauge {
			t.Errorf("histogram %d: decoded %+v at %d, want %+v at %d", i, h, ph.Timestamp, want, samples[i].Timestamp)
		}
		if fmt.Sprintf("%v %v %v %v", h.PositiveSpans, h.PositiveBuckets, h.NegativeSpans, h.NegativeBuckets) !=
			fmt.Sprintf("%v %v %v %v", spansOf(want.PositiveSpans), want.PositiveDeltas, spansOf(want.NegativeSpans), want.NegativeDeltas) {
			t.Errorf("histogram %d buckets: decoded %v %v %v %v, want %v", i, h.PositiveSpans, h.PositiveBuckets, h.NegativeSpans, h.NegativeBuckets, want)
		}
	}
}

func spansOf(s []batch.Span) string {
	out := "["
	for i, sp := range s {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("{%d %d}", sp.Offset, sp.Length)
	}
	return out + "]"
}
