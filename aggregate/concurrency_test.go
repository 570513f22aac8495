package aggregate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/value"

	"github.com/premetrics/premetrics/batch"
)

// TestConcurrentPushFlush runs pushers and a timer-driven flush loop
// against one aggregator on a fake clock, with samples spread around the
// lateness boundary, and checks the exactly-once contract: no group
// window is emitted twice, and every pushed sample is either aggregated
// into an emitted window or counted late.
func TestConcurrentPushFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{
			Name: "conc", Match: "m", Interval: model.Duration(time.Second),
			By: []string{"g"}, Outputs: []string{"count_samples", "sum_samples", "increase"},
			Lateness: dur(300 * time.Millisecond),
		}
		m := NewMetrics(nil)
		a, err := New(cfg, Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}

		type key struct {
			series string
			ts     int64
		}
		emitted := map[key]float64{}
		lastTs := map[string]int64{} // per output series, markers included
		ended := map[string]bool{}   // per output series: its last sample was a stale marker
		markers := 0
		var mu sync.Mutex // guards emitted, lastTs, ended, markers
		collect := func(b *batch.Batch) {
			mu.Lock()
			defer mu.Unlock()
			for i := range b.Series {
				s := &b.Series[i]
				k := key{batch.String(s.Labels), s.Samples[0].Timestamp}
				if last, ok := lastTs[k.series]; ok && k.ts <= last {
					t.Errorf("%s: sample @%d not after the previous one @%d", k.series, k.ts, last)
				}
				lastTs[k.series] = k.ts
				ended[k.series] = value.IsStaleNaN(s.Samples[0].Value)
				if ended[k.series] { // a forgotten group
					markers++
					continue
				}
				if _, dup := emitted[k]; dup {
					t.Errorf("window emitted twice: %s @%d", k.series, k.ts)
				}
				emitted[k] = s.Samples[0].Value
			}
		}

		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { // the pipeline's flush loop
			out := &batch.Batch{}
			timer := time.NewTimer(time.Until(a.NextFlush(time.Now())))
			defer timer.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
				now := time.Now()
				out.Reset()
				a.Flush(now, false, out)
				collect(out)
				timer.Reset(time.Until(a.NextFlush(now)))
			}
		})

		const pushers, rounds, groups = 4, 200, 8
		var pushed [pushers]int
		for p := range pushers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(p), 7))
				b := &batch.Batch{}
				marks := make([]uint8, groups)
				for range rounds {
					b.Reset()
					now := time.Now()
					for g := range groups {
						b.StartSeries()
						b.AddLabel(batch.MetricName, "m")
						b.AddLabel("g", fmt.Sprint(g))
						b.AddLabel("p", fmt.Sprint(p))
						// Event times from 1.5s ago (late) to now, in order per series.
						ts := now.UnixMilli() - 1500 + int64(rng.IntN(1500))
						b.AddSample(ts, 1)
						b.AddSample(ts+1, 1)
						b.FinishSeries()
					}
					clear(marks)
					a.Push(b, marks, now)
					for i, mk := range marks {
						if mk != MarkConsumed {
							t.Errorf("marks[%d] = %d, want MarkConsumed", i, mk)
						}
					}
					pushed[p] += b.SampleCount()
					// Wake on 100ms ticks, so pushes often share the instant of a
					// flush (NextFlush is a multiple of 100ms too), in either order.
					time.Sleep(time.Duration(1+rng.IntN(3)) * 100 * time.Millisecond)
				}
			})
		}

		time.Sleep(rounds * 400 * time.Millisecond) // past the last push
		cancel()
		wg.Wait()
		out := &batch.Batch{}
		a.Flush(time.Now().Add(time.Hour), true, out)
		collect(out)
		out.Reset()
		a.Flush(time.Now().Add(2*time.Hour), true, out)
		if len(out.Series) != 0 {
			t.Errorf("second force flush emitted %d series, want 0", len(out.Series))
		}
		// The flush loop ran long after the last push: every group was
		// forgotten, each output series ended by a stale marker.
		for series, stale := range ended {
			if !stale {
				t.Errorf("%s: last sample is not a stale marker", series)
			}
		}

		total := 0
		for p := range pushers {
			total += pushed[p]
		}
		var count, sum float64
		for k, v := range emitted {
			switch {
			case strings.Contains(k.series, "_count_samples"):
				count += v
			case strings.Contains(k.series, "_sum_samples"):
				sum += v
			}
		}
		aggregated := metricValue(t, m.input.WithLabelValues("conc"))
		late := metricValue(t, m.late.WithLabelValues("conc"))
		if count != aggregated || sum != aggregated {
			t.Errorf("emitted count_samples %v, sum_samples %v; want both = aggregated %v", count, sum, aggregated)
		}
		if aggregated+late != float64(total) {
			t.Errorf("aggregated %v + late %v != pushed %d", aggregated, late, total)
		}
		if late == 0 || aggregated == 0 {
			t.Errorf("test does not exercise both paths: aggregated %v, late %v", aggregated, late)
		}
		if out := metricValue(t, m.output.WithLabelValues("conc")); out != float64(len(emitted)) {
			t.Errorf("output_samples_total %v, emitted %d", out, len(emitted))
		}
		if got := metricValue(t, m.markers.WithLabelValues("conc")); got != float64(markers) {
			t.Errorf("staleness_markers_total %v, emitted %d", got, markers)
		}
	})
}

// metricValue returns the value of a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// FlushEach calls fn without holding shard locks: a Push into the groups
// being emitted completes while fn blocks (as it does on a full queue).
// Under synctest a held lock would show as a deadlock of the bubble.
func TestFlushEachDoesNotBlockPush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := mustNew(t, Config{Name: "nb", Match: "m", Interval: model.Duration(time.Second), By: []string{"g"},
			Outputs: []string{"sum_samples", "quantiles(0.5)"}, Lateness: dur(0)}, Options{})
		push := func(ts int64) {
			b := &batch.Batch{}
			for g := range 1000 {
				b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "g", Value: fmt.Sprint(g)}},
					[]batch.Sample{{Timestamp: ts, Value: 1}})
			}
			a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(ts))
		}
		push(500)
		pushed := make(chan struct{})
		var calls atomic.Int32
		a.FlushEach(time.UnixMilli(1000), false, 100, 2, func(*batch.Batch) {
			if calls.Add(1) == 1 {
				go func() { push(1500); close(pushed) }()
				<-pushed
			}
		})
		if calls := calls.Load(); calls < 10 {
			t.Errorf("fn called %d times, want >= 10", calls)
		}
		out := &batch.Batch{}
		a.Flush(time.UnixMilli(2000), false, out)
		if len(out.Series) != 2000 {
			t.Errorf("the window pushed during FlushEach emitted %d series, want 2000", len(out.Series))
		}
	})
}
