package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
)

// buckets decodes spans and delta-encoded counts into index -> count.
func buckets(t *testing.T, spans []batch.Span, deltas []int64) map[int]uint64 {
	t.Helper()
	out := map[int]uint64{}
	idx, c, j := 0, int64(0), 0
	for si, s := range spans {
		if si == 0 {
			idx = int(s.Offset)
		} else {
			idx += int(s.Offset)
		}
		for range s.Length {
			if j >= len(deltas) {
				t.Fatalf("spans cover more buckets than the %d deltas", len(deltas))
			}
			c += deltas[j]
			j++
			if c < 0 {
				t.Fatalf("bucket %d: negative count %d", idx, c)
			}
			if c > 0 {
				out[idx] = uint64(c)
			}
			idx++
		}
	}
	if j != len(deltas) {
		t.Fatalf("%d deltas for %d buckets", len(deltas), j)
	}
	return out
}

// nativeIndex is the native histogram bucket of |v| > 0 at schema s,
// computed the slow way: ⌈log2|v| · 2^s⌉. ok is false when log2|v|·2^s is
// too close to an integer for float64 to tell the bucket.
func nativeIndex(v float64, s int32) (idx int, ok bool) {
	x := math.Log2(math.Abs(v)) * math.Exp2(float64(s))
	if math.Abs(x-math.Round(x)) < 1e-6 {
		return 0, false
	}
	return int(math.Ceil(x)), true
}

func histogramOf(t *testing.T, out *batch.Batch, name string) (*batch.Series, *batch.Histogram) {
	t.Helper()
	for i := range out.Series {
		s := &out.Series[i]
		if s.Get(batch.MetricName) == name {
			if len(s.Histograms) != 1 || len(s.Samples) != 1 {
				t.Fatalf("%s: %d histograms, %d samples; want one of each", name, len(s.Histograms), len(s.Samples))
			}
			return s, &s.Histograms[0]
		}
	}
	t.Fatalf("no series %s in the output", name)
	return nil, nil
}

// The histogram output counts every sample in the bucket Prometheus would
// put it in, at every schema, with count, sum and the zero bucket.
func TestHistogramBuckets(t *testing.T) {
	for _, schema := range []int32{5, 3, 0, -2, -4} {
		t.Run(fmt.Sprint(schema), func(t *testing.T) {
			out := fmt.Sprintf("histogram(%d)", schema)
			if schema == defaultHistogramSchema {
				out = "histogram"
			}
			a := mustNew(t, Config{Name: "h", Match: "lat", Interval: model.Duration(time.Minute), Outputs: []string{out, "count_samples"}}, Options{})
			rng := rand.New(rand.NewPCG(uint64(schema+10), 7))
			wantPos, wantNeg := map[int]uint64{}, map[int]uint64{}
			var zero, count uint64
			var sum float64
			in := &batch.Batch{}
			in.StartSeries()
			in.AddLabel(batch.MetricName, "lat")
			add := func(v float64) {
				in.AddSample(int64(1000+count), v)
				count++
				sum += v
				if v == 0 {
					zero++
					return
				}
				idx, ok := nativeIndex(v, schema)
				if !ok {
					t.Fatalf("value %g is on a bucket bound", v)
				}
				if v > 0 {
					wantPos[idx]++
				} else {
					wantNeg[idx]++
				}
			}
			for range 5000 {
				v := math.Exp(rng.NormFloat64() * 4) // 1e-7 .. 1e7
				if _, ok := nativeIndex(v, schema); !ok {
					continue
				}
				if rng.IntN(5) == 0 {
					v = -v
				}
				add(v)
			}
			add(0)
			add(0)
			// Powers of two are upper bounds, inclusive: 2^n is in bucket
			// n·2^schema (schema >= 0) or ⌈n / 2^-schema⌉.
			for _, n := range []int{-3, 0, 1, 7} {
				v := math.Ldexp(1, n)
				in.AddSample(int64(1000+count), v)
				count++
				sum += v
				idx := n << max(schema, 0)
				if schema < 0 {
					d := 1 << -schema
					idx = int(math.Ceil(float64(n) / float64(d)))
				}
				wantPos[idx]++
			}
			in.FinishSeries()
			a.Push(in, make([]uint8, 1), time.UnixMilli(2000))
			got := &batch.Batch{}
			a.Flush(time.UnixMilli(120_000), false, got)

			s, h := histogramOf(t, got, "lat:1m_histogram")
			if h.Schema != schema || !h.Gauge || h.Count != count || h.ZeroCount != zero || h.ZeroThreshold != 0x1p-1022 {
				t.Errorf("schema %d gauge %v count %d zero %d threshold %g; want %d true %d %d 2^-1022", h.Schema, h.Gauge, h.Count, h.ZeroCount, h.ZeroThreshold, schema, count, zero)
			}
			if math.Abs(h.Sum-sum) > 1e-9*math.Abs(sum) {
				t.Errorf("sum %g, want %g", h.Sum, sum)
			}
			if s.Samples[0].Timestamp != 60_000 || math.Abs(s.Samples[0].Value-sum/float64(count)) > 1e-9 {
				t.Errorf("stand-in sample %+v, want the mean %g at 60000", s.Samples[0], sum/float64(count))
			}
			for _, side := range []struct {
				name   string
				spans  []batch.Span
				deltas []int64
				want   map[int]uint64
			}{{"positive", h.PositiveSpans, h.PositiveDeltas, wantPos}, {"negative", h.NegativeSpans, h.NegativeDeltas, wantNeg}} {
				gotB := buckets(t, side.spans, side.deltas)
				if len(gotB) != len(side.want) {
					t.Errorf("%s: %d buckets, want %d", side.name, len(gotB), len(side.want))
				}
				for idx, c := range side.want {
					if gotB[idx] != c {
						t.Errorf("%s bucket %d: %d, want %d", side.name, idx, gotB[idx], c)
					}
				}
			}
			if _, c := histogramOf(t, got, "lat:1m_histogram"); c == nil {
				t.Fatal("no histogram")
			}
		})
	}
}

// ±Inf count in the outermost buckets, so the buckets add up to count;
// NaN is not counted.
func TestHistogramInfinities(t *testing.T) {
	a := mustNew(t, Config{Name: "h", Match: "x", Interval: model.Duration(time.Minute), Outputs: []string{"histogram(0)"}}, Options{})
	in := &batch.Batch{}
	in.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "x"}}, []batch.Sample{
		{Timestamp: 1, Value: math.Inf(1)}, {Timestamp: 2, Value: math.Inf(-1)}, {Timestamp: 3, Value: 3}, {Timestamp: 4, Value: math.NaN()}})
	a.Push(in, make([]uint8, 1), time.UnixMilli(5))
	got := &batch.Batch{}
	a.Flush(time.UnixMilli(120_000), false, got)
	_, h := histogramOf(t, got, "x:1m_histogram")
	pos, neg := buckets(t, h.PositiveSpans, h.PositiveDeltas), buckets(t, h.NegativeSpans, h.NegativeDeltas)
	if h.Count != 3 || pos[1024] != 1 || pos[2] != 1 || neg[1024] != 1 || len(pos) != 2 || len(neg) != 1 {
		t.Errorf("count %d, positive %v, negative %v; want 3, {2:1 1024:1}, {1024:1}", h.Count, pos, neg)
	}
}

// A histogram over 10 s histograms is the histogram of the raw samples,
// and a quantile over them is the quantile of the raw samples: the
// downstream merges the upstream's sketches and sums.
func TestHistogramRollup(t *testing.T) {
	cfg := func(name, match string, iv time.Duration, outs ...string) Config {
		return Config{Name: name, Match: match, Interval: model.Duration(iv), By: []string{"g"}, Outputs: outs, Lateness: dur(0)}
	}
	c := newChain(t, []Config{
		cfg("up", "lat", 10*time.Second, "histogram(5)"),
		cfg("down", "lat:10s_by_g_histogram", time.Minute, "histogram(2)", "quantiles(0.5, 0.9)", "avg", "count_samples"),
	})
	direct := mustNew(t, cfg("direct", "lat", time.Minute, "histogram(2)", "quantiles(0.5, 0.9)", "avg", "count_samples"), Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	in := &batch.Batch{}
	for g := range 3 {
		in.StartSeries()
		in.AddLabel(batch.MetricName, "lat")
		in.AddLabel("g", fmt.Sprint(g))
		for i := range 600 {
			in.AddSample(int64(i*100), rng.ExpFloat64()*100)
		}
		in.FinishSeries()
	}
	c.push(in, time.UnixMilli(0))
	direct.Push(in, make([]uint8, len(in.Series)), time.UnixMilli(0))
	var chained, want batch.Batch
	for now := int64(10_000); now <= 70_000; now += 10_000 {
		c.flush(time.UnixMilli(now), false, 0, &chained)
	}
	direct.Flush(time.UnixMilli(70_000), false, &want)
	if len(chained.Series) != len(want.Series) {
		t.Fatalf("chain emitted %d series, direct %d", len(chained.Series), len(want.Series))
	}
	byName := map[string]*batch.Series{}
	for i := range chained.Series {
		s := &chained.Series[i]
		ls := batch.Clone(s.Labels)
		for j := range ls {
			if ls[j].Name == batch.MetricName {
				ls[j].Value = strings.Replace(ls[j].Value, "lat:10s_by_g_histogram:", "lat:", 1)
			}
		}
		byName[batch.String(ls)] = s
	}
	for i := range want.Series {
		w := &want.Series[i]
		name := batch.String(w.Labels)
		g := byName[name]
		if g == nil {
			t.Fatalf("%s: not in the chain's output", name)
		}
		if math.Abs(g.Samples[0].Value-w.Samples[0].Value) > 1e-9*math.Abs(w.Samples[0].Value) {
			t.Errorf("%s = %g, want %g", name, g.Samples[0].Value, w.Samples[0].Value)
		}
		if w.Histograms == nil {
			continue
		}
		if g.Histograms == nil {
			t.Fatalf("%s: no histogram in the chain's output", name)
		}
		gh, wh := &g.Histograms[0], &w.Histograms[0]
		if gh.Count != wh.Count || gh.Count != 600 || gh.Schema != wh.Schema || math.Abs(gh.Sum-wh.Sum) > 1e-9*wh.Sum ||
			fmt.Sprint(buckets(t, gh.PositiveSpans, gh.PositiveDeltas)) != fmt.Sprint(buckets(t, wh.PositiveSpans, wh.PositiveDeltas)) {
			t.Errorf("%s: chained %+v, direct %+v", name, *gh, *wh)
		}
	}
}

// A forgotten group's histogram series ends with a float staleness
// marker, like every other output.
func TestHistogramStaleMarker(t *testing.T) {
	a := mustNew(t, Config{Name: "h", Match: "x", Interval: model.Duration(time.Second), Outputs: []string{"histogram"}, StalenessInterval: dur(2 * time.Second), Lateness: dur(0)}, Options{})
	in := &batch.Batch{}
	in.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "x"}}, []batch.Sample{{Timestamp: 500, Value: 1}})
	a.Push(in, make([]uint8, 1), time.UnixMilli(500))
	var out batch.Batch
	for now := int64(1000); now <= 6000; now += 1000 {
		a.Flush(time.UnixMilli(now), false, &out)
	}
	if len(out.Series) != 2 || out.Series[0].Histograms == nil || out.Series[1].Histograms != nil || !math.IsNaN(out.Series[1].Samples[0].Value) ||
		math.Float64bits(out.Series[1].Samples[0].Value) != math.Float64bits(staleNaN) {
		t.Fatalf("got %d series (%+v), want the histogram, then a float stale marker", len(out.Series), out.Series)
	}
}
