package main

import (
	"context"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/pipeline"
)

// selfMetricsConfig is a config whose compilation creates the children of
// every metric vector that its constructors create (one aggregation, one
// remote_write endpoint, every input), so that the registry knows the
// type of each: its histograms then have _bucket, _sum and _count series.
const selfMetricsConfig = `
inputs:
  json:
    - name: x
      metrics: [{name: x, value: v}]
aggregations:
  - name: x
    match: x
    interval: 1m
    outputs: [sum_samples]
remote_write:
  - url: http://127.0.0.1:1/api/v1/write
`

// selfMetricNames returns the name of every metric premetrics exposes
// about itself on GET /metrics (which Prometheus scrapes): everything
// `premetrics run` registers — the components' metrics, reload and
// checkpoint metrics, the Go and process collectors, premetrics_build_info
// — whether or not it has series yet. A histogram also contributes its
// <name>_bucket, <name>_sum and <name>_count series, a summary its _sum
// and _count, when its type is known: always for those with a series once
// a config is compiled. The map is built once; callers must not modify it.
func selfMetricNames() map[string]bool {
	selfMetricsOnce.Do(func() { selfMetrics = collectSelfMetricNames() })
	return selfMetrics
}

// Built on first use, not as a package variable's initializer: building
// compiles a config and a mux, whose reload handler checks configs
// against these names.
var (
	selfMetricsOnce sync.Once
	selfMetrics     map[string]bool
)

func collectSelfMetricNames() map[string]bool {
	obs := newObservability(nil)
	// What run registers besides newObservability. Should the config not
	// compile (a bug TestSelfMetricNames reports), the names are still
	// all there, only histograms without series lack theirs.
	cfg, err := config.Load("selfmetrics.yaml", []byte(selfMetricsConfig), func(string) (string, bool) { return "", false })
	var c *components
	if err == nil {
		c, err = compile(cfg, obs)
	}
	rl := newReloader(runFlags{}, cfg, c, obs, obs.log)
	if err == nil {
		defer func() {
			for _, q := range c.queues {
				_ = q.Stop(context.Background()) // never started
			}
			obs.stopEnrich(c.enrich)
		}()
		newMux(cfg, c, obs, obs.log, new(atomic.Bool), rl, false)
	}
	pipeline.NewCheckpointMetrics(obs.reg)
	pipeline.NewRouteCacheMetrics(obs.reg)

	names := map[string]bool{}
	descs := make(chan *prometheus.Desc)
	go func() {
		obs.reg.Describe(descs)
		close(descs)
	}()
	for d := range descs {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	mfs, _ := obs.reg.Gather() // what it gathers despite an error is what counts
	for _, mf := range mfs {
		n := mf.GetName()
		names[n] = true
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n+"_sum"], names[n+"_count"] = true, true
		}
	}
	return names
}

// fqNameRE takes the metric name out of prometheus.Desc.String, which has
// no accessor for it.
var fqNameRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)
