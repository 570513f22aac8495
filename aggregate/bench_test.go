package aggregate

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

const benchT0 = int64(1_700_000_000_000) // a window start for every interval used here

// benchBatch returns a batch of series vehicle_rpm{region, vehicle} with
// one sample each, spread over groups regions.
func benchBatch(series, groups int) *batch.Batch {
	b := &batch.Batch{}
	for i := range series {
		b.StartSeries()
		b.AddLabel(batch.MetricName, "vehicle_rpm")
		b.AddLabel("region", "region-"+strconv.Itoa(i%groups))
		b.AddLabel("vehicle", "vehicle-"+strconv.Itoa(i))
		b.AddLabel("engine", "ic")
		b.AddSample(benchT0, float64(i%5000))
		b.FinishSeries()
	}
	return b
}

// setTimestamps moves every sample to ts. With rising, values grow too
// (counters); otherwise they stay, so sets and sketches reach a steady
// state.
func setTimestamps(b *batch.Batch, ts int64, rising bool) {
	for i := range b.Series {
		b.Series[i].Samples[0].Timestamp = ts
		if rising {
			b.Series[i].Samples[0].Value++
		}
	}
}

// benchPushSteady measures Push of 1000 series into 100 existing groups of
// a, after two pushes that create groups, windows, baselines and rate
// slots. rising makes values grow (counters).
func benchPushSteady(b *testing.B, a *Aggregator, rising bool) {
	in := benchBatch(1000, 100)
	marks := make([]uint8, len(in.Series))
	ts := benchT0
	for range 2 {
		ts++
		setTimestamps(in, ts, rising)
		a.Push(in, marks, time.UnixMilli(ts))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ts++
		setTimestamps(in, ts, rising)
		a.Push(in, marks, time.UnixMilli(ts))
	}
	b.ReportMetric(float64(b.N*len(in.Series))/b.Elapsed().Seconds(), "samples/s")
}

func newBench(b *testing.B, cfg Config) *Aggregator {
	b.Helper()
	a, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkPush measures aggregating into existing groups and windows,
// one benchmark per output: 1000 series into 100 groups per Push.
func BenchmarkPush(b *testing.B) {
	outputs := []string{"sum_samples", "count_samples", "count_series", "min", "max", "avg", "last", "first",
		"stddev", "stdvar", "unique_samples", "quantiles(0.5, 0.99)", "total", "increase", "rate_sum", "rate_avg"}
	for _, out := range outputs {
		b.Run(out, func(b *testing.B) {
			a := newBench(b, Config{
				Name: "bench", Match: "vehicle_rpm", Interval: model.Duration(24 * time.Hour),
				By: []string{"region"}, Outputs: []string{out},
			})
			benchPushSteady(b, a, a.layout.counters)
		})
	}
}

// BenchmarkPushInputRelabel measures Push through input_relabel_configs:
// a labeldrop as in config.example.yaml, and a replace that builds a new
// label from a capture group (memoised by package rules).
func BenchmarkPushInputRelabel(b *testing.B) {
	for _, tc := range []struct{ name, yaml string }{
		{"labeldrop", `[{action: labeldrop, regex: engine}]`},
		{"replace_template", `[{source_labels: [region], regex: "region-(.*)", target_label: zone, replacement: "z$1"}]`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var cfg Config
			if err := yaml.Unmarshal([]byte("input_relabel_configs: "+tc.yaml), &cfg); err != nil {
				b.Fatal(err)
			}
			cfg.Name, cfg.Match, cfg.Interval = "bench", "vehicle_rpm", model.Duration(24*time.Hour)
			cfg.By, cfg.Outputs = []string{"region", "zone"}, []string{"avg"}
			a := newBench(b, cfg)
			benchPushSteady(b, a, false)
		})
	}
}

// BenchmarkPushParallel measures Push from all CPUs into shared state;
// each goroutine pushes its own vehicles, as separate clients would. With
// shared_groups every goroutine updates the same 100 groups (their state
// cache lines move between CPUs); with disjoint_groups they do not.
func BenchmarkPushParallel(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		name   string
		groups int
	}{{"shared_groups", 100}, {"disjoint_groups", 1000 * procs}} {
		b.Run(tc.name, func(b *testing.B) {
			a := newBench(b, Config{
				Name: "bench", Match: "vehicle_rpm", Interval: model.Duration(24 * time.Hour),
				By: []string{"region"}, Outputs: []string{"avg", "max"},
			})
			all := benchBatch(1000*procs, tc.groups)
			ins := make([]*batch.Batch, procs)
			for p := range ins { // disjoint vehicles, walking the groups from different offsets
				ins[p] = &batch.Batch{}
				part := all.Series[p*1000 : (p+1)*1000]
				for i := range part {
					s := part[(i+p*500)%len(part)]
					ins[p].AppendSeries(s.Labels, s.Samples)
				}
			}
			a.Push(all, make([]uint8, len(all.Series)), time.UnixMilli(benchT0))
			var next atomic.Int32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				in := ins[int(next.Add(1)-1)%procs]
				marks := make([]uint8, len(in.Series))
				for pb.Next() {
					a.Push(in, marks, time.UnixMilli(benchT0+1))
				}
			})
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkPushWindowTurnover pushes across window boundaries and flushes
// as windows close: state recycling keeps it allocation-free apart from
// the output batch's own growth.
func BenchmarkPushWindowTurnover(b *testing.B) {
	a := newBench(b, Config{
		Name: "bench", Match: "vehicle_rpm", Interval: model.Duration(time.Second),
		By: []string{"region"}, Outputs: []string{"avg", "count_series", "quantiles(0.5)", "rate_sum"},
		Lateness: dur(0),
	})
	in := benchBatch(1000, 100)
	marks := make([]uint8, len(in.Series))
	out := &batch.Batch{}
	ts := benchT0
	step := func() {
		ts += 100
		setTimestamps(in, ts, true)
		now := time.UnixMilli(ts)
		a.Push(in, marks, now)
		out.Reset()
		a.Flush(now, false, out)
	}
	for range 50 { // warm up free lists over several windows
		step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(b.N*len(in.Series))/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkFlush measures emitting one window of 100k and of 1M groups
// into one batch, and, as flush_each, of 1M groups handed over in parts
// of 10,000 series (FlushEach, as the pipeline would forward them).
func BenchmarkFlush(b *testing.B) {
	for _, groups := range []int{100_000, 1_000_000} {
		for _, outs := range [][]string{{"avg"}, {"sum_samples", "count_samples", "max"}, {"quantiles(0.5, 0.9, 0.99)"}, {"histogram"}} {
			name := outs[0]
			if len(outs) > 1 {
				name = strconv.Itoa(len(outs)) + "outputs"
			}
			b.Run(strconv.Itoa(groups/1000)+"k/"+name, func(b *testing.B) {
				benchFlush(b, groups, outs, 0)
			})
		}
	}
	b.Run("1000k/3outputs/flush_each", func(b *testing.B) {
		benchFlush(b, 1_000_000, []string{"sum_samples", "count_samples", "max"}, 10_000)
	})
}

func benchFlush(b *testing.B, groups int, outs []string, chunk int) {
	a := newBench(b, Config{
		Name: "bench", Match: "vehicle_rpm", Interval: model.Duration(time.Minute),
		By: []string{"region"}, Outputs: outs, Lateness: dur(0),
	})
	in := benchBatch(groups, groups)
	marks := make([]uint8, len(in.Series))
	out := &batch.Batch{}
	ts := benchT0
	emitted := 0
	flush := func() {
		if chunk == 0 {
			a.Flush(time.UnixMilli(ts), false, out)
			emitted = len(out.Series)
			return
		}
		emitted = 0
		var n atomic.Int64
		a.FlushEach(time.UnixMilli(ts), false, chunk, 0, func(part *batch.Batch) { n.Add(int64(len(part.Series))) })
		emitted = int(n.Load())
	}
	cycle := func() { // fill one window, then close it
		setTimestamps(in, ts, false)
		a.Push(in, marks, time.UnixMilli(ts))
		ts += 60_000
		out.Reset()
	}
	cycle()
	flush() // grow the output batch once
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		cycle()
		b.StartTimer()
		flush()
	}
	b.StopTimer()
	if want := groups * len(outs); emitted < want {
		b.Fatalf("flush emitted %d series, want >= %d", emitted, want)
	}
	b.ReportMetric(float64(b.N*groups)/b.Elapsed().Seconds(), "groups/s")
}

// BenchmarkGroupKey measures the first pass of Push over a part: the
// group key and group hash of every series, for the groupings of
// bench/bench.yaml; 2,000 series of 5 labels each per op.
func BenchmarkGroupKey(b *testing.B) {
	v := fleetValues()
	src := &batch.Batch{}
	for i := range 500 {
		for _, engine := range []string{"ic", "electric", "", ""} {
			src.StartSeries()
			src.AddLabel(batch.MetricName, "vehicle_rpm")
			if engine != "" {
				src.AddLabel("engine", engine)
			}
			src.AddLabel("model", v.model[i%len(v.model)])
			src.AddLabel("region", v.region[i%20])
			src.AddLabel("vehicle_id", v.vehicle[i])
			src.AddSample(benchT0, 1)
			src.FinishSeries()
		}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"by_region_model_engine", Config{By: []string{"region", "model", "engine"}}},
		{"without_vehicle_id", Config{Without: []string{"vehicle_id"}}},
		{"by_vehicle_id_engine", Config{By: []string{"vehicle_id", "engine"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := tc.cfg
			cfg.Name, cfg.Interval, cfg.Outputs = "k", model.Duration(10*time.Second), []string{"last"}
			a := newBench(b, cfg)
			var keys []batch.Label
			var buf []byte
			var sum uint64
			b.ReportAllocs()
			for b.Loop() {
				keys = keys[:0]
				for i := range src.Series {
					k0 := len(keys)
					keys = a.groupKey(src.Series[i].Labels, keys)
					var h ghash
					h, buf = a.groupHash(keys[k0:], buf)
					sum += h.h ^ h.check
				}
			}
			runtime.KeepAlive(sum)
		})
	}
}

// TestPushAndFlushZeroAllocs: with every output, pushing into existing
// groups and turning windows over (Push and Flush, sketches, sets and rate
// lists recycled) allocates nothing once the state has grown.
func TestPushAndFlushZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	a, err := New(Config{
		Name: "allocs", Match: "vehicle_rpm", Interval: model.Duration(time.Second), By: []string{"region"},
		Outputs: []string{"sum_samples", "count_samples", "count_series", "min", "max", "avg", "last", "first",
			"stddev", "stdvar", "unique_samples", "quantiles(0.5, 0.99)", "total", "increase", "rate_sum", "rate_avg"},
		Lateness: dur(0),
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := benchBatch(1000, 100)
	marks := make([]uint8, len(in.Series))
	out := &batch.Batch{}
	ts := benchT0
	emitted := 0
	step := func() {
		ts += 100
		setTimestamps(in, ts, true)
		now := time.UnixMilli(ts)
		a.Push(in, marks, now)
		out.Reset()
		a.Flush(now, false, out)
		emitted += len(out.Series)
	}
	for range 50 { // warm up free lists over several windows
		step()
	}
	emitted = 0
	if n := testing.AllocsPerRun(50, step); n != 0 {
		t.Errorf("Push and Flush allocate %.2f times per step, want 0", n)
	}
	if emitted == 0 { // a window closes every 10 steps
		t.Fatal("no window was emitted while allocations were counted")
	}
}
