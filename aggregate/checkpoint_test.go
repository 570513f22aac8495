package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/checkpoint"
)

// checkpointConfigs cover every kind of state a checkpoint holds: window
// accumulators, sketches, unique sets, count_series memberships, dedup
// buckets, counter baselines, rate lists, totals, extra slots (samples
// ahead of the inline windows) and overflow groups.
func checkpointConfigs() []Config {
	d := func(x time.Duration) *model.Duration { m := model.Duration(x); return &m }
	maxOut := 6
	return []Config{{
		Name: "gauges", Match: "g", Interval: model.Duration(time.Second), By: []string{"region"},
		Outputs:       []string{"sum_samples", "count_samples", "count_series", "min", "max", "avg", "last", "first", "stddev", "unique_samples", "quantiles(0.5, 0.9)", "histogram(1)"},
		Lateness:      d(2 * time.Second),
		DedupInterval: d(100 * time.Millisecond),
	}, {
		Name: "counters", Match: "c", Interval: model.Duration(time.Second), Without: []string{"host"},
		Outputs:         []string{"total", "increase", "rate_sum", "rate_avg"},
		Lateness:        d(time.Second),
		MaxOutputSeries: &maxOut,
	}}
}

type event struct {
	labels []batch.Label
	ts     int64
	v      float64
}

// checkpointEvents returns a random stream over [0, 20s): gauges from 8
// hosts in 3 regions, counters with resets, duplicates, late and early
// samples, grouped in pushes of a few events at wall times 0, 100 ms, ...
func checkpointEvents(seed uint64) [][]event {
	r := rand.New(rand.NewPCG(seed, 1))
	var pushes [][]event
	counters := map[string]float64{}
	for wall := int64(0); wall < 20_000; wall += 100 {
		var p []event
		for range 1 + r.IntN(6) {
			host := fmt.Sprintf("h%d", r.IntN(8))
			region := []string{"eu", "us", "ap"}[r.IntN(3)]
			ts := wall - r.Int64N(300)
			switch r.IntN(10) {
			case 0:
				ts -= 2500 // late for some windows
			case 1:
				ts += 3500 // ahead: beyond the inline slots
			}
			if r.IntN(2) == 0 {
				v := math.Round(r.NormFloat64()*100) / 4
				ev := event{labels: []batch.Label{{Name: "__name__", Value: "g"}, {Name: "host", Value: host}, {Name: "region", Value: region}}, ts: ts, v: v}
				p = append(p, ev)
				if r.IntN(4) == 0 {
					p = append(p, ev) // an HA twin
				}
				continue
			}
			job := fmt.Sprintf("j%d", r.IntN(10)) // more groups than max_output_series: overflow
			key := host + job
			c := counters[key] + float64(r.IntN(50))
			if r.IntN(20) == 0 {
				c = float64(r.IntN(5)) // reset
			}
			counters[key] = c
			p = append(p, event{labels: []batch.Label{{Name: "__name__", Value: "c"}, {Name: "host", Value: host}, {Name: "job", Value: job}}, ts: ts, v: c})
		}
		pushes = append(pushes, p)
	}
	return pushes
}

func pushEvents(a *Aggregator, evs []event, now time.Time) {
	b := &batch.Batch{}
	for _, e := range evs {
		b.AppendSeries(e.labels, []batch.Sample{{Timestamp: e.ts, Value: e.v}})
	}
	a.Push(b, make([]uint8, len(b.Series)), now)
}

// formatOutputs returns b's samples, one line each, sorted.
func formatOutputs(b *batch.Batch) []string {
	var lines []string
	for _, s := range b.Series {
		for i, smp := range s.Samples {
			v := strconv.FormatFloat(smp.Value, 'g', -1, 64)
			if math.Float64bits(smp.Value) == math.Float64bits(staleNaN) {
				v = "stale"
			}
			if s.Histograms != nil {
				v = fmt.Sprintf("%+v", s.Histograms[i])
			}
			lines = append(lines, fmt.Sprintf("%s %d %s", batch.String(s.Labels), smp.Timestamp, v))
		}
	}
	slices.Sort(lines)
	return lines
}

// run pushes pushes[from:to] into a, flushing every 500 ms of wall time,
// and returns the outputs.
func runEvents(a *Aggregator, pushes [][]event, from, to int) []string {
	out := &batch.Batch{}
	for i := from; i < to; i++ {
		now := time.UnixMilli(int64(i) * 100)
		pushEvents(a, pushes[i], now)
		if i%5 == 4 {
			a.Flush(now, false, out)
		}
	}
	return formatOutputs(out)
}

func saveRestore(t *testing.T, a *Aggregator, cfg Config, emitted int64, now time.Time) *Aggregator {
	t.Helper()
	dir := t.TempDir()
	w, err := checkpoint.Create(dir, checkpoint.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Checkpoint(w, now); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Read(dir, checkpoint.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sections) != 1 || c.Sections[0].Name != cfg.Name {
		t.Fatalf("checkpoint sections %+v", c.Sections)
	}
	b := mustNew(t, cfg, Options{})
	if err := b.Restore(c.Sections[0], emitted, now); err != nil {
		t.Fatal(err)
	}
	return b
}

// A restored aggregation continues exactly where the checkpointed one
// was: fed the same samples from then on, both emit the same windows,
// stale markers and counter outputs.
func TestCheckpointRestoreContinuesExactly(t *testing.T) {
	for _, cfg := range checkpointConfigs() {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/%d", cfg.Name, seed), func(t *testing.T) {
				pushes := checkpointEvents(seed)
				cut := 40 + int(seed)*37 // not on a flush boundary for every seed
				orig := mustNew(t, cfg, Options{})
				runEvents(orig, pushes, 0, cut)
				restored := saveRestore(t, orig, cfg, math.MinInt64, time.UnixMilli(int64(cut)*100))
				want := runEvents(orig, pushes, cut, len(pushes))
				got := runEvents(restored, pushes, cut, len(pushes))
				if len(want) == 0 {
					t.Fatal("no outputs after the cut: the test proves nothing")
				}
				if d := diffLines(want, got); d != "" {
					t.Errorf("restored aggregation differs from the original (- original, + restored):\n%s", d)
				}
			})
		}
	}
}

// Windows announced as emitted (the emitted file's watermark) are not
// restored, even though the checkpoint predates their emission.
func TestCheckpointRestoreSkipsEmittedWindows(t *testing.T) {
	cfg := checkpointConfigs()[0]
	a := mustNew(t, cfg, Options{})
	ts := func(s float64) int64 { return int64(s * 1000) }
	for _, x := range []float64{0.5, 1.5, 2.5} {
		pushEvents(a, []event{{labels: []batch.Label{{Name: "__name__", Value: "g"}, {Name: "region", Value: "eu"}}, ts: ts(x), v: x}}, time.UnixMilli(ts(2.6)))
	}
	// Windows [0,1s) and [1s,2s) left before the crash (watermark 2s).
	b := saveRestore(t, a, cfg, 2000, time.UnixMilli(ts(2.6)))
	out := &batch.Batch{}
	b.Flush(time.UnixMilli(ts(10)), false, out)
	for _, l := range formatOutputs(out) {
		if !strings.Contains(l, " 3000 ") {
			t.Errorf("restored a window that was emitted: %s", l)
		}
	}
	if len(out.Series) == 0 {
		t.Error("the open window [2s,3s) was not restored")
	}
	// A sample for an emitted window is late.
	before := a.metrics.late
	_ = before
	pushEvents(b, []event{{labels: []batch.Label{{Name: "__name__", Value: "g"}, {Name: "region", Value: "eu"}}, ts: ts(1.7), v: 1}}, time.UnixMilli(ts(2.7)))
	out.Reset()
	b.Flush(time.UnixMilli(ts(20)), true, out)
	if len(out.Series) != 0 {
		t.Errorf("a sample for an emitted window was aggregated: %v", formatOutputs(out))
	}
}

func TestCheckpointRestoreRefusesChangedDefinition(t *testing.T) {
	cfg := checkpointConfigs()[0]
	a := mustNew(t, cfg, Options{})
	runEvents(a, checkpointEvents(1), 0, 30)
	dir := t.TempDir()
	w, _ := checkpoint.Create(dir, checkpoint.StateFile)
	if err := a.Checkpoint(w, time.UnixMilli(3000)); err != nil {
		t.Fatal(err)
	}
	w.Commit()
	c, err := checkpoint.Read(dir, checkpoint.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	changed := cfg
	changed.By = []string{"host"}
	b := mustNew(t, changed, Options{})
	if err := b.Restore(c.Sections[0], math.MinInt64, time.UnixMilli(3000)); err == nil {
		t.Fatal("restored a checkpoint of another definition")
	}
	// A damaged data frame (CRC intact, contents cut) leaves it empty.
	sec := c.Sections[0]
	sec.Data = slices.Clone(sec.Data)
	for i := 1; i < len(sec.Data); i++ {
		if len(sec.Data[i]) > 20 {
			sec.Data[i] = sec.Data[i][:len(sec.Data[i])-7]
			break
		}
	}
	b = mustNew(t, cfg, Options{})
	if err := b.Restore(sec, math.MinInt64, time.UnixMilli(3000)); err == nil {
		t.Fatal("restored a cut frame")
	}
	out := &batch.Batch{}
	b.Flush(time.UnixMilli(100_000), true, out)
	if len(out.Series) != 0 {
		t.Errorf("a failed restore left state: %v", formatOutputs(out))
	}
	if err := os.WriteFile(filepath.Join(dir, checkpoint.StateFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Read(dir, checkpoint.StateFile); err == nil {
		t.Error("read a junk checkpoint")
	}
}

// diffLines returns the lines only in want (-) and only in got (+).
func diffLines(want, got []string) string {
	var sb strings.Builder
	w, g := 0, 0
	for w < len(want) || g < len(got) {
		switch {
		case g == len(got) || (w < len(want) && want[w] < got[g]):
			fmt.Fprintf(&sb, "- %s\n", want[w])
			w++
		case w == len(want) || got[g] < want[w]:
			fmt.Fprintf(&sb, "+ %s\n", got[g])
			g++
		default:
			w++
			g++
		}
	}
	return sb.String()
}

// BenchmarkCheckpoint measures writing and restoring the checkpoint of
// bench/bench.yaml's state at 1M active input series (as
// BenchmarkStateMemoryBenchYAML builds it). Run with -benchtime 1x.
func BenchmarkCheckpoint(b *testing.B) {
	fleetValues()
	aggs := benchYAMLAggregations(b)
	for round := range 2 {
		ts := benchT0 + int64(round)*10_000 + 1_000
		pushBenchFleet(aggs, ts, round)
	}
	now := time.UnixMilli(benchT0 + 12_000)
	dir := b.TempDir()
	var size int64
	var write, restore time.Duration
	b.ReportAllocs()
	for b.Loop() {
		began := time.Now()
		w, err := checkpoint.Create(dir, checkpoint.StateFile)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range aggs {
			if err := a.Checkpoint(w, now); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		write = time.Since(began)
		fi, _ := os.Stat(w.Path())
		size = fi.Size()

		began = time.Now()
		c, err := checkpoint.Read(dir, checkpoint.StateFile)
		if err != nil {
			b.Fatal(err)
		}
		cfgs := benchYAMLConfigs(b)
		for i, sec := range c.Sections {
			a := newBench(b, cfgs[i])
			if err := a.Restore(sec, math.MinInt64, now); err != nil {
				b.Fatal(err)
			}
		}
		restore = time.Since(began)
	}
	b.ReportMetric(float64(size)/memSeries, "B/series")
	b.ReportMetric(write.Seconds(), "write-s")
	b.ReportMetric(restore.Seconds(), "restore-s")
}
