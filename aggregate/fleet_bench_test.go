package aggregate

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
)

var heapProfile = flag.String("heapprofile", "", "BenchmarkStateMemory: write a heap profile of the state, while it is live, to this file (per sub-benchmark, last one wins)")

// memSeries is the number of active input series of BenchmarkStateMemory.
const memSeries = 1_000_000

// fleetValues are the label values of memSeries vehicles, built once:
// vehicle_rpm{engine, model, region, vehicle_id}.
var fleetValues = sync.OnceValue(func() (v struct{ vehicle, region, model []string }) {
	v.vehicle = make([]string, memSeries)
	for i := range v.vehicle {
		v.vehicle[i] = "vehicle-" + strconv.Itoa(1_000_000+i)
	}
	for i := range 100 {
		v.region = append(v.region, "region-"+strconv.Itoa(i))
	}
	for i := range 7 {
		v.model = append(v.model, "model-"+strconv.Itoa(i))
	}
	return v
})

// fleetConfigs are the aggregations of the fleet benchmarks: 100 groups
// with per-input-series state, and a million groups.
var fleetConfigs = []struct {
	name string
	cfg  Config
}{
	{"by_region/count_series", Config{By: []string{"region"}, Outputs: []string{"count_series"}}},
	{"by_region/increase", Config{By: []string{"region"}, Outputs: []string{"increase"}}},
	{"by_region/rate_avg", Config{By: []string{"region"}, Outputs: []string{"rate_avg"}}},
	{"by_region/quantiles", Config{By: []string{"region"}, Outputs: []string{"quantiles(0.5, 0.99)"}}},
	{"by_region/count_series+increase+quantiles", Config{By: []string{"region"}, Outputs: []string{"count_series", "increase", "quantiles(0.5, 0.99)"}}},
	{"by_vehicle/avg", Config{By: []string{"vehicle_id", "region", "model"}, Outputs: []string{"avg"}}},
	{"by_vehicle/last", Config{By: []string{"vehicle_id", "region", "model"}, Outputs: []string{"last"}}},
	{"by_vehicle/quantiles", Config{By: []string{"vehicle_id", "region", "model"}, Outputs: []string{"quantiles(0.5, 0.99)"}}},
	{"without_engine/avg+max+increase", Config{Without: []string{"engine"}, Outputs: []string{"avg", "max", "increase"}}},
}

// fleetRequests returns the fleet as requests of 10,000 series with one
// sample each, built once. Like a decoder's, each request's label strings
// alias one arena of the batch.
var fleetRequests = sync.OnceValue(func() []*batch.Batch {
	v := fleetValues()
	const chunk = 10_000
	var reqs []*batch.Batch
	for lo := 0; lo < memSeries; lo += chunk {
		b := &batch.Batch{}
		str := func(s string) string {
			buf := b.Bytes(len(s))
			copy(buf, s)
			return unsafe.String(unsafe.SliceData(buf), len(buf))
		}
		for i := lo; i < lo+chunk; i++ {
			b.StartSeries()
			b.AddLabel(str(batch.MetricName), str("vehicle_rpm"))
			b.AddLabel(str("engine"), str("ic"))
			b.AddLabel(str("model"), str(v.model[i%len(v.model)]))
			b.AddLabel(str("region"), str(v.region[i%len(v.region)]))
			b.AddLabel(str("vehicle_id"), str(v.vehicle[i]))
			b.AddSample(benchT0, float64(i%5000))
			b.FinishSeries()
		}
		reqs = append(reqs, b)
	}
	return reqs
})

// BenchmarkPushFleet measures Push in steady state with 1M active input
// series: each op is one request of 10,000 series (one sample each) of
// the fleet, which sends every 10 s into 10 s windows; groups, slots and
// per-series state exist (three untimed rounds first), so the cost is
// mostly cache misses on state.
// Windows are flushed, untimed, after every round of the fleet.
func BenchmarkPushFleet(b *testing.B) {
	for _, tc := range fleetConfigs {
		b.Run(tc.name, func(b *testing.B) { benchPushFleet(b, tc.cfg) })
	}
}

func benchPushFleet(b *testing.B, cfg Config) {
	reqs := fleetRequests()
	cfg.Name, cfg.Match, cfg.Interval = "fleet", "vehicle_rpm", model.Duration(10*time.Second)
	a := newBench(b, cfg)
	marks := make([]uint8, 10_000)
	round := 0
	ts := benchT0
	next := func() {
		ts = benchT0 + int64(round)*10_000 + 1_000
		a.Flush(time.UnixMilli(ts), false, &batch.Batch{})
		for _, r := range reqs {
			for i := range r.Series {
				r.Series[i].Samples[0] = batch.Sample{Timestamp: ts, Value: float64(i%5000 + round*10)}
			}
		}
		round++
	}
	for range 3 { // create groups, per-series state, and every slot's side state
		next()
		for _, r := range reqs {
			a.Push(r, marks, time.UnixMilli(ts))
		}
	}
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if i%len(reqs) == 0 {
			b.StopTimer()
			next()
			b.StartTimer()
		}
		a.Push(reqs[i%len(reqs)], marks, time.UnixMilli(ts))
		i++
	}
	b.ReportMetric(float64(b.N*10_000)/b.Elapsed().Seconds(), "samples/s")
}

// pushFleet pushes one sample (ts, value) of every vehicle, in requests
// of 10,000 series like a remote-write sender, at wall time ts.
func pushFleet(a *Aggregator, b *batch.Batch, marks []uint8, ts int64, round int) {
	v := fleetValues()
	const chunk = 10_000
	for lo := 0; lo < memSeries; lo += chunk {
		b.Reset()
		for i := lo; i < lo+chunk; i++ {
			b.StartSeries()
			b.AddLabel(batch.MetricName, "vehicle_rpm")
			b.AddLabel("engine", "ic")
			b.AddLabel("model", v.model[i%len(v.model)])
			b.AddLabel("region", v.region[i%len(v.region)])
			b.AddLabel("vehicle_id", v.vehicle[i])
			b.AddSample(ts, float64(i%5000+round*10))
			b.FinishSeries()
		}
		clear(marks)
		a.Push(b, marks[:len(b.Series)], time.UnixMilli(ts))
	}
}

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkStateMemory measures the live heap of an aggregation's state
// per active input series: 1M vehicles push one sample every 10 s into
// a 10 s window with the default 5 s lateness. It measures after the
// fourth round, so two windows are open (the one waiting out its
// lateness and the current one): the steady-state peak. Run with
// -benchtime 1x.
func BenchmarkStateMemory(b *testing.B) {
	for _, tc := range fleetConfigs {
		b.Run(tc.name, func(b *testing.B) {
			fleetValues()
			marks := make([]uint8, 10_000)
			cfg := tc.cfg
			cfg.Name, cfg.Match, cfg.Interval = "mem", "vehicle_rpm", model.Duration(10*time.Second)
			var perSeries, groups float64
			b.ReportAllocs()
			for b.Loop() {
				before := liveHeap()
				a := newBench(b, cfg)
				for round := range 4 {
					// The flush loop has emitted what is due before the
					// round's samples arrive; the input and output batches
					// are garbage before the measurement.
					ts := benchT0 + int64(round)*10_000 + 1_000
					a.Flush(time.UnixMilli(ts), false, &batch.Batch{})
					pushFleet(a, &batch.Batch{}, marks, ts, round)
				}
				perSeries = float64(liveHeap()-before) / memSeries
				if *heapProfile != "" {
					writeHeapProfile(b, *heapProfile)
				}
				groups = 0
				for i := range a.shards {
					groups += float64(a.shards[i].nGroups)
				}
				runtime.KeepAlive(a)
			}
			b.ReportMetric(perSeries, "heap-B/series")
			b.ReportMetric(groups, "groups")
		})
	}
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// benchYAMLAggregations are the aggregations of bench/bench.yaml (the
// harness's pipeline), with 10 s windows and 5 s lateness.
func benchYAMLAggregations(b *testing.B) []*Aggregator {
	var aggs []*Aggregator
	for _, cfg := range benchYAMLConfigs(b) {
		aggs = append(aggs, newBench(b, cfg))
	}
	return aggs
}

// benchYAMLConfigs returns the aggregations of bench/bench.yaml.
func benchYAMLConfigs(b *testing.B) []Config {
	iv, late := model.Duration(10*time.Second), dur(5*time.Second)
	var cfgs []Config
	for _, cfg := range []Config{
		{Name: "rpm", Match: "vehicle_rpm != 0", By: []string{"region", "model", "engine"},
			Outputs: []string{"avg", "max", "quantiles(0.5, 0.9, 0.99)"}},
		{Name: "distance", Match: "vehicle_distance_meters_total", Without: []string{"vehicle_id"},
			Outputs: []string{"increase", "rate_sum"}, MaxInputSeries: intp(600_000)},
		{Name: "latest", Match: `{__name__=~"vehicle_.+"}`, By: []string{"vehicle_id", "engine"},
			Outputs: []string{"last"}, MaxOutputSeries: intp(1_200_000)},
	} {
		cfg.Interval, cfg.Lateness = iv, late
		cfgs = append(cfgs, cfg)
	}
	return cfgs
}

// pushBenchFleet pushes one sample of each of the 1M series of 250k
// vehicles (engine and motor rpm, warnings, a distance counter) to every
// aggregation, in requests of 10,000 series.
func pushBenchFleet(aggs []*Aggregator, ts int64, round int) {
	v := fleetValues()
	const vehicles, chunk = memSeries / 4, 2_500
	b := &batch.Batch{}
	marks := make([]uint8, 4*chunk)
	for lo := 0; lo < vehicles; lo += chunk {
		b.Reset()
		for i := lo; i < lo+chunk; i++ {
			for _, s := range []struct{ name, engine string }{
				{"vehicle_rpm", "ic"}, {"vehicle_rpm", "electric"}, {"vehicle_warnings", ""}, {"vehicle_distance_meters_total", ""},
			} {
				b.StartSeries()
				b.AddLabel(batch.MetricName, s.name)
				if s.engine != "" {
					b.AddLabel("engine", s.engine)
				}
				b.AddLabel("model", v.model[i%len(v.model)])
				b.AddLabel("region", v.region[i%20])
				b.AddLabel("vehicle_id", v.vehicle[i])
				b.AddSample(ts, float64(i%5000+round*10))
				b.FinishSeries()
			}
		}
		for _, a := range aggs {
			clear(marks)
			a.Push(b, marks[:len(b.Series)], time.UnixMilli(ts))
		}
	}
}

// BenchmarkStateMemoryBenchYAML measures the live heap of the aggregation
// state of bench/bench.yaml per active input series, as
// BenchmarkStateMemory does. Run with -benchtime 1x.
func BenchmarkStateMemoryBenchYAML(b *testing.B) {
	fleetValues()
	var perSeries float64
	b.ReportAllocs()
	for b.Loop() {
		before := liveHeap()
		aggs := benchYAMLAggregations(b)
		for round := range 4 {
			ts := benchT0 + int64(round)*10_000 + 1_000
			for _, a := range aggs {
				a.Flush(time.UnixMilli(ts), false, &batch.Batch{})
			}
			pushBenchFleet(aggs, ts, round)
		}
		perSeries = float64(liveHeap()-before) / memSeries
		if *heapProfile != "" {
			writeHeapProfile(b, *heapProfile)
		}
		runtime.KeepAlive(aggs)
	}
	b.ReportMetric(perSeries, "heap-B/series")
}

// BenchmarkPushBenchYAML measures the aggregations of bench/bench.yaml in
// steady state at the size of the harness's scenario a: 25k vehicles, 100k
// input series, in requests of 2,000 series with one sample each. Every
// series sends ten times per 10 s window, so groups, slots and baselines
// exist and most Pushes only aggregate. Each op is one request pushed to
// the three aggregations (or, in the sub-benchmark named after one, to
// that one only); windows are flushed, untimed, as they close.
func BenchmarkPushBenchYAML(b *testing.B) {
	for _, only := range []string{"", "rpm", "distance", "latest"} {
		name := "all"
		if only != "" {
			name = only
		}
		b.Run(name, func(b *testing.B) { benchPushBenchYAML(b, only) })
	}
}

func benchPushBenchYAML(b *testing.B, only string) {
	const vehicles, chunk = 25_000, 2_000
	v := fleetValues()
	aggs := benchYAMLAggregations(b)
	var reqs []*batch.Batch
	cur := &batch.Batch{}
	str := func(s string) string {
		buf := cur.Bytes(len(s))
		copy(buf, s)
		return unsafe.String(unsafe.SliceData(buf), len(buf))
	}
	for i := range vehicles {
		for _, s := range []struct{ name, engine string }{
			{"vehicle_rpm", "ic"}, {"vehicle_rpm", "electric"}, {"vehicle_warnings", ""}, {"vehicle_distance_meters_total", ""},
		} {
			cur.StartSeries()
			cur.AddLabel(str(batch.MetricName), str(s.name))
			if s.engine != "" {
				cur.AddLabel(str("engine"), str(s.engine))
			}
			cur.AddLabel(str("model"), str(v.model[i%len(v.model)]))
			cur.AddLabel(str("region"), str(v.region[i%20]))
			cur.AddLabel(str("vehicle_id"), str(v.vehicle[i]))
			cur.AddSample(benchT0, float64(i%5000+1))
			cur.FinishSeries()
			if len(cur.Series) == chunk {
				reqs = append(reqs, cur)
				cur = &batch.Batch{}
			}
		}
	}
	marks := make([]uint8, chunk)
	round := 0
	ts := benchT0
	out := &batch.Batch{}
	next := func() { // one round: every series' next sample, 1 s later
		ts = benchT0 + int64(round)*1_000 + 500
		if round%10 == 0 {
			for _, a := range aggs {
				out.Reset()
				a.Flush(time.UnixMilli(ts), false, out)
			}
			runtime.GC() // no collection of Flush's garbage in the timed part
		}
		for _, r := range reqs {
			for i := range r.Series {
				r.Series[i].Samples[0] = batch.Sample{Timestamp: ts, Value: float64(i%5000 + round*10 + 1)}
			}
		}
		round++
	}
	for range 20 { // two windows: groups, baselines and every slot exist
		next()
		for _, r := range reqs {
			for _, a := range aggs {
				a.Push(r, marks, time.UnixMilli(ts))
			}
		}
	}
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if i%len(reqs) == 0 {
			b.StopTimer()
			next()
			b.StartTimer()
		}
		r := reqs[i%len(reqs)]
		for _, a := range aggs {
			if only == "" || a.Name() == only {
				a.Push(r, marks, time.UnixMilli(ts))
			}
		}
		i++
	}
	b.ReportMetric(float64(b.N*chunk)/b.Elapsed().Seconds(), "samples/s")
}
