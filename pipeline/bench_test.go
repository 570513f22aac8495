package pipeline

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/bench/fleet"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
	"github.com/premetrics/premetrics/rules"
)

// BenchmarkPipelineExampleConfig measures the whole synchronous ingest
// path with config.example.yaml: remote-write decode, global relabel, the
// aggregations' Push, routing. It reports input samples per second of
// one core (samples/s) — the pipeline's samples per CPU-second.
func BenchmarkPipelineExampleConfig(b *testing.B) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load("config.example.yaml", data, func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	rl, aggs := compiledStages(b, cfg)
	p := New(Options{Relabel: rl, Aggregations: aggs, Sinks: []Sink{&sink{}}})

	// 10,000 vehicles; each request carries 1,000 series of one tick.
	f := fleet.New(fleet.Options{Vehicles: 10000, Seed: 1})
	enc := fleet.NewEncoder(f)
	var readings []fleet.Reading
	bodies := func(now time.Time) [][]byte {
		readings = f.Tick(now.UnixMilli(), time.Second, readings[:0])
		for _, r := range readings {
			enc.Add(r)
		}
		var out [][]byte
		for enc.Len() > 0 {
			body, _, err := enc.Encode(1000)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, body)
		}
		return out
	}
	reqs := bodies(time.Now())
	refreshed := time.Now()
	bt := &batch.Batch{}
	var res outcome.Result
	samples := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%len(reqs) == 0 && time.Since(refreshed) > time.Second {
			// Keep event time current so samples stay in open windows.
			b.StopTimer()
			reqs, refreshed = bodies(time.Now()), time.Now()
			b.StartTimer()
		}
		bt.Reset()
		if err := promrw.Decode(reqs[i%len(reqs)], bt, outcome.Limits{}, &res); err != nil {
			b.Fatal(err)
		}
		samples += res.Samples
		if err := p.Ingest(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkIngestBenchYAML measures decode and Ingest of bench/bench.yaml
// on one goroutine, for the 100k fleet series of the harness' scenario a
// in requests of 2000, with and without a route cache. One op is one
// request; samples/cpu-s is per core.
func BenchmarkIngestBenchYAML(b *testing.B) {
	data, err := os.ReadFile("../bench/bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"PREMETRICS_LISTEN": "127.0.0.1:0", "BENCH_SINK_URL": "http://127.0.0.1:9"}
	for _, lines := range []int{0, 1 << 18} {
		b.Run(fmt.Sprintf("route-lines=%d", lines), func(b *testing.B) {
			cfg, err := config.Load("bench.yaml", data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				b.Fatal(err)
			}
			rl, aggs := compiledStages(b, cfg)
			p := New(Options{Relabel: rl, Aggregations: aggs, Sinks: []Sink{&sink{}}, RouteCacheLines: lines})
			set := newBenchSeriesSet(fleetSeries(100_000))
			var reqs [][]byte
			var lastTs int64
			round := func() {
				lastTs = max(time.Now().UnixMilli(), lastTs+1)
				reqs = set.round(lastTs, 2000, reqs)
			}
			bt := &batch.Batch{}
			var res outcome.Result
			ingest := func(body []byte) {
				bt.Reset()
				if err := promrw.Decode(body, bt, outcome.Limits{}, &res); err != nil {
					b.Fatal(err)
				}
				if err := p.Ingest(context.Background(), bt); err != nil {
					b.Fatal(err)
				}
			}
			for range 3 { // create every group and baseline
				round()
				for _, r := range reqs {
					ingest(r)
				}
			}
			samples := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%len(reqs) == 0 {
					b.StopTimer()
					round()
					b.StartTimer()
				}
				ingest(reqs[i%len(reqs)])
				samples += res.Samples
			}
			b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/cpu-s")
		})
	}
}

// compiledStages compiles the global relabeling and the aggregations of
// cfg, for a benchmark.
func compiledStages(b *testing.B, cfg *config.Config) (*rules.Relabeler, []*aggregate.Aggregator) {
	b.Helper()
	rl, err := rules.CompileRelabel(cfg.RelabelConfigs)
	if err != nil {
		b.Fatal(err)
	}
	m := aggregate.NewMetrics(prometheus.NewRegistry())
	var aggs []*aggregate.Aggregator
	for _, ac := range cfg.Aggregations {
		a, err := aggregate.New(ac, aggregate.Options{Metrics: m})
		if err != nil {
			b.Fatal(err)
		}
		aggs = append(aggs, a)
	}
	return rl, aggs
}
