package configtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/derive"
	"github.com/premetrics/premetrics/pipeline"
	"github.com/premetrics/premetrics/rules"
	"github.com/premetrics/premetrics/telemetry"
)

// metricLate is what expect_late checks.
const metricLate = "premetrics_aggregate_late_samples_total"

// checkedMetrics are the self metrics expect_metrics may name: the
// counters of the stages a test runs. Ingest and remote write metrics
// belong to transports a test does not use, and the series gauge and
// flush durations say nothing about a config.
var checkedMetrics = []string{
	"premetrics_aggregate_input_samples_total",
	metricLate,
	"premetrics_aggregate_output_samples_total",
	"premetrics_aggregate_rejected_samples_total",
	"premetrics_dropped_samples_total",
}

// endOfTime is the clock of the final flush: every window has closed by
// then (Unix ms, about 36 million years from now; time.UnixMilli and back
// do not overflow).
const endOfTime = 1 << 60

// instance is the runtime of one test run: a fresh pipeline over the
// suite's config, whose remote_write endpoints are recorders.
type instance struct {
	pipeline *pipeline.Pipeline
	sinks    []*recorder
	reg      *prometheus.Registry
	now      time.Time // the simulated clock, read by the pipeline
}

// build compiles the suite's config into a new instance the way the
// daemon does (cmd/premetrics compile), except that each remote_write
// endpoint is a recorder that applies its write_relabel_configs.
func (s *Suite) build() (*instance, error) {
	cfg := s.cfg
	reg := prometheus.NewRegistry()
	dropped := telemetry.NewDroppedSamples(reg)
	metrics := aggregate.NewMetrics(reg)
	relabeler, err := rules.CompileRelabel(cfg.RelabelConfigs)
	if err != nil {
		return nil, fmt.Errorf("relabel_configs: %w", err)
	}
	in := &instance{reg: reg}
	var aggs []*aggregate.Aggregator
	for i, ac := range cfg.Aggregations {
		a, err := aggregate.New(ac, aggregate.Options{Dropped: dropped, Metrics: metrics})
		if err != nil {
			return nil, fmt.Errorf("aggregations[%d]: %w", i, err)
		}
		aggs = append(aggs, a)
	}
	var deriver *derive.Deriver
	if len(cfg.Derive) > 0 {
		deriver, err = derive.New(cfg.Derive, derive.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, fmt.Errorf("derive: %w", err)
		}
	}
	sinks := make([]pipeline.Sink, 0, len(cfg.RemoteWrite))
	for i, rc := range cfg.RemoteWrite {
		rl, err := rules.CompileRelabel(rc.WriteRelabelConfigs)
		if err != nil {
			return nil, fmt.Errorf("remote_write[%d].write_relabel_configs: %w", i, err)
		}
		r := &recorder{endpoint: rc.Endpoint(), relabel: rl}
		in.sinks = append(in.sinks, r)
		sinks = append(sinks, r)
	}
	in.pipeline = pipeline.New(pipeline.Options{
		Relabel:          relabeler,
		Enrich:           s.tables,
		Aggregations:     aggs,
		Derive:           deriver,
		ForwardUnmatched: cfg.ForwardUnmatched,
		Sinks:            sinks,
		Dropped:          dropped,
		Logger:           slog.New(slog.DiscardHandler),
		Now:              func() time.Time { return in.now },
	})
	return in, nil
}

// recorder is a remote_write endpoint that keeps every sample it is given,
// after the endpoint's write_relabel_configs, as remotewrite.Queue would
// send it.
type recorder struct {
	endpoint string
	relabel  *rules.Relabeler

	mu      sync.Mutex // Enqueue is called by concurrent flush workers
	samples []gotSample
}

// gotSample is a sample written to a remote_write endpoint.
type gotSample struct {
	series string
	labels []batch.Label
	ts     int64
	value  float64
}

func (r *recorder) Enqueue(_ context.Context, b *batch.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf []batch.Label
	for i := range b.Series {
		s := &b.Series[i]
		if len(s.Samples) == 0 {
			continue
		}
		ls := s.Labels
		if r.relabel != nil {
			out, keep := r.relabel.Apply(ls, buf[:0])
			buf = out[:0]
			if !keep || len(out) == 0 {
				continue
			}
			ls = out
		}
		if s.Histograms != nil {
			r.addHistograms(ls, s)
			continue
		}
		ls = batch.Clone(ls)
		key := formatSeries(ls)
		for _, smp := range s.Samples {
			r.samples = append(r.samples, gotSample{series: key, labels: ls, ts: smp.Timestamp, value: smp.Value})
		}
	}
	return nil
}

// addHistograms records a native histogram series as what a test can
// state in the text format: <name>_count and <name>_sum (as Prometheus'
// histogram_count and histogram_sum would return them).
func (r *recorder) addHistograms(ls []batch.Label, s *batch.Series) {
	for _, part := range []string{"_count", "_sum"} {
		pls := batch.Clone(ls)
		for j := range pls {
			if pls[j].Name == batch.MetricName {
				pls[j].Value += part
			}
		}
		key := formatSeries(pls)
		for i, smp := range s.Samples {
			v := float64(s.Histograms[i].Count)
			if part == "_sum" {
				v = s.Histograms[i].Sum
			}
			r.samples = append(r.samples, gotSample{series: key, labels: pls, ts: smp.Timestamp, value: v})
		}
	}
}

func (*recorder) Full() bool { return false }

// Run runs the tests that filter accepts (nil: all), each on a pipeline
// of its own, and returns their results in file order.
func (s *Suite) Run(ctx context.Context, filter func(name string) bool) []Result {
	var out []Result
	for _, t := range s.Tests {
		if filter != nil && !filter(t.Name) {
			continue
		}
		out = append(out, s.run(ctx, t))
	}
	return out
}

// run drives the simulated clock through one test: for each chunk, flush
// what is due at its arrival, then ingest it as the daemon would; at the
// end let every window close, then compare.
func (s *Suite) run(ctx context.Context, t *Test) Result {
	res := Result{Test: t, File: s.File, multiEndpoint: len(s.cfg.RemoteWrite) > 1}
	in, err := s.build()
	if err != nil {
		res.Err = err
		return res
	}
	b := &batch.Batch{}
	for i := range t.chunks {
		c := &t.chunks[i]
		now := time.UnixMilli(c.atMs)
		in.pipeline.Flush(ctx, now, false)
		b.Reset()
		if probs, err := s.decode(c, c.atMs, b); err != nil || len(probs) > 0 { // Load checked it
			res.Err = fmt.Errorf("input of line %d does not decode: %v %v", c.line, err, probs)
			return res
		}
		in.now = now
		if err := in.pipeline.Ingest(ctx, b); err != nil {
			res.Err = fmt.Errorf("input of line %d: %w", c.line, err)
			return res
		}
	}
	in.pipeline.Flush(ctx, time.UnixMilli(endOfTime), true)

	if t.hasExpect {
		for _, r := range in.sinks {
			if t.remoteWrite != "" && r.endpoint != t.remoteWrite {
				continue
			}
			got := r.samples[:0:0]
			for _, g := range r.samples {
				if t.selects(g.labels) {
					got = append(got, g)
				}
			}
			res.Mismatches = append(res.Mismatches, diffOutput(r.endpoint, t.expect, got)...)
		}
	}
	if len(t.late) > 0 || len(t.metrics) > 0 {
		values, err := gather(in.reg)
		if err != nil {
			res.Err = err
			return res
		}
		res.Mismatches = append(res.Mismatches, diffMetrics(append(t.late[:len(t.late):len(t.late)], t.metrics...), values)...)
	}
	return res
}

// selects reports whether an output is compared: it matches a compare
// selector, or the test has none.
func (t *Test) selects(ls []batch.Label) bool {
	if len(t.compare) == 0 {
		return true
	}
	for _, sel := range t.compare {
		if sel.Matches(ls) {
			return true
		}
	}
	return false
}

// gather reads the counters of checkedMetrics from reg, by formatSeries.
func gather(reg *prometheus.Registry) (map[string]float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("cannot read self metrics: %w", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ls := []batch.Label{{Name: batch.MetricName, Value: mf.GetName()}}
			for _, lp := range m.GetLabel() {
				ls = append(ls, batch.Label{Name: lp.GetName(), Value: lp.GetValue()})
			}
			batch.SortLabels(ls)
			out[formatSeries(ls)] = metricValue(m)
		}
	}
	return out, nil
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// formatSeries formats sorted labels as a series of the Prometheus text
// format: name{a="b",c="d"}, the name alone without other labels.
func formatSeries(ls []batch.Label) string {
	var sb strings.Builder
	sb.WriteString(batch.Get(ls, batch.MetricName))
	n := 0
	for _, l := range ls {
		if l.Name == batch.MetricName {
			continue
		}
		if n == 0 {
			sb.WriteByte('{')
		} else {
			sb.WriteByte(',')
		}
		n++
		sb.WriteString(l.Name)
		sb.WriteString(`="`)
		sb.WriteString(labelValueEscaper.Replace(l.Value))
		sb.WriteByte('"')
	}
	if n > 0 {
		sb.WriteByte('}')
	}
	return sb.String()
}

var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
