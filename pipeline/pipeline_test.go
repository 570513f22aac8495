package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/rules"
	"github.com/premetrics/premetrics/telemetry"
)

// sink records what leaves the pipeline as `series value @ms` lines.
type sink struct {
	mu    sync.Mutex
	lines []string
	full  bool
}

func (s *sink) Enqueue(_ context.Context, b *batch.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ser := range b.Series {
		for _, smp := range ser.Samples {
			s.lines = append(s.lines, fmt.Sprintf("%s %g @%d", batch.String(ser.Labels), smp.Value, smp.Timestamp))
		}
	}
	return nil
}

func (s *sink) Full() bool { return s.full }

func (s *sink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.lines
	s.lines = nil
	sort.Strings(out)
	return out
}

func aggregations(t *testing.T, y string) []*aggregate.Aggregator {
	t.Helper()
	var cfgs []aggregate.Config
	if err := yaml.Unmarshal([]byte(y), &cfgs); err != nil {
		t.Fatal(err)
	}
	m := aggregate.NewMetrics(prometheus.NewRegistry())
	var out []*aggregate.Aggregator
	for _, c := range cfgs {
		a, err := aggregate.New(c, aggregate.Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func input(ts int64, series ...string) *batch.Batch {
	b := &batch.Batch{}
	for _, s := range series {
		name, rest, _ := strings.Cut(s, "{")
		b.StartSeries()
		b.AddLabel(batch.MetricName, name)
		for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				b.AddLabel(k, strings.Trim(v, `"`))
			}
		}
		b.AddSample(ts, 1)
		b.FinishSeries()
	}
	return b
}

func TestIngestRoutesConsumedKeptAndUnmatched(t *testing.T) {
	var cfgs []*relabel.Config
	if err := yaml.Unmarshal([]byte(`[{source_labels: [drop], regex: "yes", action: drop}]`), &cfgs); err != nil {
		t.Fatal(err)
	}
	rl, err := rules.CompileRelabel(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	aggs := aggregations(t, `
- {name: consume, match: x, interval: 1m, outputs: [count_samples]}
- {name: keep, match: y, interval: 1m, outputs: [count_samples], keep_input: true}
- {name: both, match: '{__name__=~"x|y"}', interval: 1m, outputs: [count_samples], keep_input: true}
`)
	for _, forward := range []bool{false, true} {
		t.Run(fmt.Sprintf("forward_unmatched=%v", forward), func(t *testing.T) {
			dropped := telemetry.NewDroppedSamples(prometheus.NewRegistry())
			s := &sink{}
			p := New(Options{Relabel: rl, Aggregations: aggs, ForwardUnmatched: forward, Sinks: []Sink{s}, Dropped: dropped})
			now := time.Now().UnixMilli()
			if err := p.Ingest(context.Background(), input(now, `x{a="1"}`, `y{a="2"}`, `z{a="3"}`, `z{drop="yes"}`)); err != nil {
				t.Fatal(err)
			}
			// x is consumed by one aggregation but kept by another: kept wins.
			want := []string{fmt.Sprintf(`x{a="1"} 1 @%d`, now), fmt.Sprintf(`y{a="2"} 1 @%d`, now)}
			unmatched := 1.0
			if forward {
				want = append(want, fmt.Sprintf(`z{a="3"} 1 @%d`, now))
				unmatched = 0
			}
			if got := s.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("forwarded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if got := testutil.ToFloat64(dropped.WithLabelValues("route", "unmatched")); got != unmatched {
				t.Errorf("unmatched drops = %g, want %g", got, unmatched)
			}
			if got := testutil.ToFloat64(dropped.WithLabelValues("relabel", "relabel_drop")); got != 1 {
				t.Errorf("relabel drops = %g, want 1", got)
			}
		})
	}
}

func TestAdmitFollowsSinks(t *testing.T) {
	s := &sink{}
	p := New(Options{Sinks: []Sink{s}, RetryAfter: 3 * time.Second})
	if _, ok := p.Admit(); !ok {
		t.Fatal("Admit refused with an empty sink")
	}
	s.full = true
	if ra, ok := p.Admit(); ok || ra != 3*time.Second {
		t.Fatalf("Admit = %v, %v; want false, 3s", ra, ok)
	}
}

// TestRunChainsRollupsAtWindowClose drives the flush loop with a fake
// clock: per-vehicle last values roll up into a per-region sum, emitted
// once at window end + lateness, and the intermediate series are consumed.
func TestRunChainsRollupsAtWindowClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		aggs := aggregations(t, `
- name: latest
  match: warnings
  interval: 10s
  by: [vehicle, region]
  outputs: [last]
  lateness: 2s
  output_relabel_configs: [{source_labels: [__name__], target_label: __name__, replacement: warnings_latest}]
- name: per_region
  match: warnings_latest
  interval: 10s
  by: [region]
  outputs: [sum_samples]
  lateness: 2s
`)
		s := &sink{}
		p := New(Options{Aggregations: aggs, Sinks: []Sink{s}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()

		start := time.Now().Truncate(10 * time.Second).Add(10 * time.Second)
		time.Sleep(time.Until(start))
		b := &batch.Batch{}
		for i, v := range []float64{3, 1, 4} {
			b.StartSeries()
			b.AddLabel(batch.MetricName, "warnings")
			b.AddLabel("vehicle", fmt.Sprint("v", i%2))
			b.AddLabel("region", "UK")
			b.AddSample(start.Add(time.Duration(i)*time.Second).UnixMilli(), v)
			b.FinishSeries()
		}
		if err := p.Ingest(ctx, b); err != nil {
			t.Fatal(err)
		}
		// Just before end + lateness nothing is out; just after, the sum is.
		time.Sleep(time.Until(start.Add(12*time.Second - time.Millisecond)))
		synctest.Wait()
		if got := s.take(); len(got) != 0 {
			t.Fatalf("emitted before end+lateness: %v", got)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		// v0's last is 4 (at +2s), v1's is 1: the region sums to 5.
		want := fmt.Sprintf(`warnings_latest:10s_by_region_sum_samples{region="UK"} 5 @%d`, start.Add(10*time.Second).UnixMilli())
		if got := s.take(); len(got) != 1 || got[0] != want {
			t.Fatalf("emitted %v, want [%s]", got, want)
		}
		cancel()
		<-done
	})
}

// TestLateFlushTickStillChains flushes well after end + lateness (a busy
// machine): the downstream window closes in the same flush, so the
// upstream outputs must still count there, not as late samples.
func TestLateFlushTickStillChains(t *testing.T) {
	aggs := aggregations(t, `
- {name: up, match: m, interval: 10s, outputs: [max], lateness: 2s, keep_metric_names: true,
   output_relabel_configs: [{source_labels: [__name__], target_label: __name__, replacement: m_max}]}
- {name: down, match: m_max, interval: 10s, outputs: [sum_samples], lateness: 2s}
`)
	s := &sink{}
	p := New(Options{Aggregations: aggs, Sinks: []Sink{s}})
	start := time.Now().Truncate(10 * time.Second)
	b := input(start.Add(time.Second).UnixMilli(), `m{a="1"}`)
	b.Series[0].Samples[0].Value = 7
	if err := p.Ingest(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	p.Flush(context.Background(), start.Add(10*time.Second+2*time.Second+3*time.Second), false)
	want := fmt.Sprintf(`m_max:10s_sum_samples{} 7 @%d`, start.Add(10*time.Second).UnixMilli())
	if got := s.take(); len(got) != 1 || got[0] != want {
		t.Fatalf("emitted %v, want [%s]", got, want)
	}
}

// TestFlushChainsWithoutChangingOutputs: a downstream aggregation sees an
// upstream output at window end - 1ms (inside the upstream window), while
// the output it keeps (keep_input) leaves stamped with the window end.
func TestFlushChainsWithoutChangingOutputs(t *testing.T) {
	aggs := aggregations(t, `
- {name: up, match: m, interval: 10s, outputs: [count_samples], lateness: 1s}
- {name: down, match: 'm:10s_count_samples', interval: 10s, outputs: [last], lateness: 1s, keep_input: true}
`)
	s := &sink{}
	p := New(Options{Aggregations: aggs, Sinks: []Sink{s}})
	start := time.Now().Truncate(10 * time.Second)
	if err := p.Ingest(context.Background(), input(start.UnixMilli(), `m{a="1"}`, `m{a="2"}`)); err != nil {
		t.Fatal(err)
	}
	end := start.Add(10 * time.Second)
	// One flush closes both windows, in config order: down got the output
	// in its window [start, end), not in the next one.
	p.Flush(context.Background(), end.Add(time.Second), false)
	want := []string{
		fmt.Sprintf(`m:10s_count_samples:10s_last{} 2 @%d`, end.UnixMilli()),
		fmt.Sprintf(`m:10s_count_samples{} 2 @%d`, end.UnixMilli()),
	}
	if got := s.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("flushed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFlushInPartsChainsEveryOutput: a window with more output series than
// one flush part reaches the downstream aggregation and the sinks whole,
// in parts of at most flushChunk series.
func TestFlushInPartsChainsEveryOutput(t *testing.T) {
	aggs := aggregations(t, `
- {name: per_device, match: m, interval: 10s, by: [device], outputs: [last], lateness: 1s}
- {name: fleet, match: 'm:10s_by_device_last', interval: 10s, outputs: [count_series, sum_samples], lateness: 1s, keep_input: true}
`)
	parts := &partSink{}
	p := New(Options{Aggregations: aggs, Sinks: []Sink{parts}})
	start := time.Now().Truncate(10 * time.Second)
	const devices = 2*flushChunk + 100
	b := &batch.Batch{}
	for d := range devices {
		b.StartSeries()
		b.AddLabel(batch.MetricName, "m")
		b.AddLabel("device", fmt.Sprintf("d%05d", d))
		b.AddSample(start.Add(time.Second).UnixMilli(), 2)
		b.FinishSeries()
	}
	if err := p.Ingest(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	p.Flush(context.Background(), start.Add(11*time.Second), false)
	if parts.largest > flushChunk {
		t.Errorf("largest part handed to the sink: %d series, want at most %d", parts.largest, flushChunk)
	}
	if parts.perDevice != devices {
		t.Errorf("per-device outputs sent: %d, want %d", parts.perDevice, devices)
	}
	want := map[string]float64{"m:10s_by_device_last:10s_count_series": devices, "m:10s_by_device_last:10s_sum_samples": 2 * devices}
	for name, v := range want {
		if parts.fleet[name] != v {
			t.Errorf("%s = %g, want %g", name, parts.fleet[name], v)
		}
	}
}

// partSink records the size of every part and the fleet-wide outputs.
type partSink struct {
	mu                 sync.Mutex
	largest, perDevice int
	fleet              map[string]float64
}

func (s *partSink) Enqueue(_ context.Context, b *batch.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.largest = max(s.largest, len(b.Series))
	for _, ser := range b.Series {
		name := batch.Get(ser.Labels, batch.MetricName)
		if name == "m:10s_by_device_last" {
			s.perDevice++
			continue
		}
		if s.fleet == nil {
			s.fleet = map[string]float64{}
		}
		s.fleet[name] = ser.Samples[0].Value
	}
	return nil
}

func (s *partSink) Full() bool { return false }

// Ingest judges lateness by Options.Now: the same sample is aggregated
// when the clock is inside its window's lateness and late after it.
func TestIngestUsesOptionsNow(t *testing.T) {
	const ts = 1_700_000_000_000 // the window [ts, ts+10s) with lateness 5s takes samples until now passes ts+15s
	for _, c := range []struct {
		clock int64
		late  float64
	}{{ts + 15_000, 0}, {ts + 15_001, 1}} {
		var cfg aggregate.Config
		if err := yaml.Unmarshal([]byte(`{name: w, match: x, interval: 10s, lateness: 5s, outputs: [count_samples]}`), &cfg); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		a, err := aggregate.New(cfg, aggregate.Options{Metrics: aggregate.NewMetrics(reg)})
		if err != nil {
			t.Fatal(err)
		}
		clock := time.UnixMilli(c.clock)
		p := New(Options{Aggregations: []*aggregate.Aggregator{a}, Sinks: []Sink{&sink{}}, Now: func() time.Time { return clock }})
		if err := p.Ingest(context.Background(), input(ts, `x{a="1"}`)); err != nil {
			t.Fatal(err)
		}
		if got := lateSamples(t, reg, "w"); got != c.late {
			t.Errorf("clock at window start + %d ms: %g late samples, want %g", c.clock-ts, got, c.late)
		}
	}
}

// lateSamples reads premetrics_aggregate_late_samples_total of aggregation
// name from reg (0 when absent).
func lateSamples(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "premetrics_aggregate_late_samples_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "aggregation" && l.GetValue() == name {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
