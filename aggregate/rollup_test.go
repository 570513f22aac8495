package aggregate

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

// chain is a miniature of pipeline.Flush: every aggregation sees the raw
// input; flushing one hands its outputs (shifted to window end - 1 ms,
// with their Rollup) to the later ones, and what none of them consumed
// leaves.
type chain struct {
	aggs    []*Aggregator
	plain   []*Aggregator // pushed the first aggregation's outputs as plain samples (Push), flushed by the test
	workers int           // FlushRollup's; 0: GOMAXPROCS
	mu      sync.Mutex
}

func newChain(t testing.TB, cfgs []Config) *chain {
	t.Helper()
	c := &chain{}
	for _, cfg := range cfgs {
		a, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c.aggs = append(c.aggs, a)
	}
	return c
}

// push feeds raw input to every aggregation and returns the marks.
func (c *chain) push(b *batch.Batch, now time.Time) []uint8 {
	marks := make([]uint8, len(b.Series))
	for _, a := range c.aggs {
		a.Push(b, marks, now)
	}
	return marks
}

// flush flushes every aggregation in order and appends what leaves to out.
func (c *chain) flush(now time.Time, force bool, chunk int, out *batch.Batch) {
	for i := range c.aggs {
		c.flushOne(i, now, force, chunk, out)
	}
}

// flushEach is flush returning what leaves of each aggregation apart.
func (c *chain) flushEach(now time.Time, force bool, chunk int) []*batch.Batch {
	outs := make([]*batch.Batch, len(c.aggs))
	for i := range c.aggs {
		outs[i] = &batch.Batch{}
		c.flushOne(i, now, force, chunk, outs[i])
	}
	return outs
}

func (c *chain) flushOne(i int, now time.Time, force bool, chunk int, out *batch.Batch) {
	{
		a := c.aggs[i]
		a.FlushRollup(now, force, chunk, c.workers, func(part *batch.Batch, r *Rollup) {
			marks := make([]uint8, len(part.Series))
			due := time.UnixMilli(shiftAll(part, -1))
			for _, down := range c.aggs[i+1:] {
				down.PushRollup(part, r, marks, due)
			}
			if i == 0 {
				for _, p := range c.plain {
					p.Push(part, make([]uint8, len(part.Series)), due)
				}
			}
			shiftAll(part, 1)
			c.mu.Lock()
			defer c.mu.Unlock()
			for j := range part.Series {
				if m := marks[j]; m == 0 || m&MarkKept != 0 {
					if s := &part.Series[j]; s.Histograms != nil {
						out.AppendHistogramSeries(s.Labels, s.Samples[0].Timestamp, s.Samples[0].Value, &s.Histograms[0])
					} else {
						out.AppendSeries(s.Labels, s.Samples)
					}
				}
			}
		})
	}
}

func shiftAll(b *batch.Batch, d int64) int64 {
	earliest := int64(math.MaxInt64)
	for i := range b.Series {
		for j := range b.Series[i].Samples {
			earliest = min(earliest, b.Series[i].Samples[j].Timestamp)
			b.Series[i].Samples[j].Timestamp += d
		}
	}
	return earliest
}

// TestRollupGolden runs the chain scripts in testdata/rollup (the format
// of TestGolden): config takes a YAML list of aggregations, in chain
// order; push feeds them raw input; flush @<wall> [force] prints what
// leaves the chain.
func TestRollupGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/rollup/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/rollup/*.txt scripts (%v)", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			blocks, trailer := parseScript(t, path)
			var c *chain
			for _, b := range blocks {
				where := fmt.Sprintf("%s:%d", path, b.line)
				var got []string
				switch b.cmd {
				case "config":
					var cfgs []Config
					dec := yaml.NewDecoder(bytes.NewReader([]byte(strings.Join(b.input, "\n"))))
					dec.KnownFields(true)
					if err := dec.Decode(&cfgs); err != nil {
						t.Fatalf("%s: cannot decode config: %v", where, err)
					}
					c = newChain(t, cfgs)
					got = []string{"ok"}
				case "push":
					in := &batch.Batch{}
					for _, l := range b.input {
						if err := parseSeriesLine(in, l); err != nil {
							t.Fatalf("%s: %v", where, err)
						}
					}
					marks := c.push(in, chainWall(t, where, b))
					var sb strings.Builder
					sb.WriteString("marks:")
					for _, m := range marks {
						sb.WriteString(map[uint8]string{0: " -", MarkConsumed: " C", MarkKept: " K"}[m&3])
					}
					got = []string{sb.String()}
				case "flush":
					outs := c.flushEach(chainWall(t, where, b), slices.Contains(b.args, "force"), 4)
					got = []string{}
					for _, out := range outs {
						got = append(got, formatFlush(t, where, out)...)
					}
				default:
					t.Fatalf("%s: unknown command %q", where, b.cmd)
				}
				if *update {
					b.expected = got
					continue
				}
				if !slices.Equal(got, b.expected) {
					t.Errorf("%s: %s %s:\ngot:\n%s\nwant:\n%s", where, b.cmd, strings.Join(b.args, " "),
						strings.Join(got, "\n"), strings.Join(b.expected, "\n"))
				}
			}
			if *update {
				writeScript(t, path, blocks, trailer)
			}
		})
	}
}

func chainWall(t *testing.T, where string, b *ddBlock) time.Time {
	t.Helper()
	if len(b.args) == 0 {
		t.Fatalf("%s: %s needs @<wall time>", where, b.cmd)
	}
	ms, err := parseTime(b.args[0])
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return time.UnixMilli(ms)
}

// exactOutputs are the outputs a rollup can compute exactly, over the
// series of the right upstream output; quantiles included, since a merged
// sketch is the sketch of the union.
var exactOutputs = []string{"sum_samples", "count_samples", "min", "max", "avg", "first", "last",
	"stddev", "stdvar", "increase", "total", "quantiles(0, 0.25, 0.5, 0.9, 1)"}

// allOutputs adds those that always take the upstream value.
var allOutputs = append(slices.Clip(exactOutputs), "count_series", "unique_samples", "rate_sum", "rate_avg")

// Parts of the count unit, for rollupExact.
const (
	tCount = 1 << iota
	tSum
	tMoments
)

// rollupExact is the rule of the package doc ("Rollups"), written out
// independently of newRollupPlan: whether downstream output o, of an
// aggregation with outputs down, is exact over an upstream series of
// output kind k (output names without arguments).
func rollupExact(k, o string, down []string) bool {
	needs := map[string]int{"sum_samples": tSum, "count_samples": tCount, "avg": tCount | tSum,
		"stddev": tCount | tMoments, "stdvar": tCount | tMoments}
	provides := map[string]int{"sum_samples": tSum, "count_samples": tCount, "avg": tCount | tSum,
		"stddev": tCount | tSum | tMoments, "stdvar": tCount | tSum | tMoments}
	if _, ok := needs[o]; ok { // all or nothing over the downstream's count unit
		need := 0
		for _, d := range down {
			need |= needs[d]
		}
		return need&^provides[k] == 0
	}
	switch o {
	case "increase", "total":
		return k == "increase" || k == "total"
	case "min", "max", "first", "last", "quantiles":
		return k == o
	}
	return false // count_series, unique_samples, rate_sum, rate_avg
}

// TestRollupEqualsDirect pushes random raw samples (out of order within
// lateness, late ones, counter resets, several input series and 10 s
// groups per minute group) through a 10s -> 1m chain whose downstream
// matches every upstream output series, next to a direct 1m aggregation
// and a "valued" one that takes the upstream series as plain samples
// (Push). Every downstream output that rollupExact says is exact over the
// matched upstream kind must equal the direct one (floats within 1e-9
// relative, quantiles equal), every other must equal the valued one. The
// downstream output sets vary the count unit's needs (all of it; sum
// only; count only; count and sum). Parts hold 3 series, so one upstream
// window's series span parts; the quantile label is dropped downstream,
// so the φ series of one window are folded once (the valued aggregation
// sees only the first, φ = 0).
func TestRollupEqualsDirect(t *testing.T) {
	downs := map[string][]string{
		"all":   allOutputs,
		"sum":   {"sum_samples"},
		"count": {"count_samples"},
		"avg":   {"avg", "count_samples", "sum_samples", "min", "last", "increase", "quantiles(0.5)"},
	}
	for seed := range uint64(4) {
		for name, down := range downs {
			t.Run(fmt.Sprintf("%d/%s", seed, name), func(t *testing.T) { testRollupEqualsDirect(t, seed, down) })
		}
	}
}

func testRollupEqualsDirect(t *testing.T, seed uint64, downOuts []string) {
	const lateness = 5 * time.Second
	common := func(name, match, interval string, outs []string, by ...string) Config {
		var iv model.Duration
		iv, _ = model.ParseDuration(interval)
		return Config{Name: name, Match: match, Interval: iv, By: by, Outputs: outs,
			Lateness: dur(lateness), StalenessInterval: dur(time.Hour)}
	}
	const upSeries = `{__name__=~"x:10s_by_g_h_[a-z_]+"}`
	c := newChain(t, []Config{
		common("up", "x", "10s", allOutputs, "g", "h"),
		common("down", upSeries, "1m", downOuts, "g"),
		common("direct", "x", "1m", downOuts, "g"),
	})
	valued, err := New(common("valued", `{__name__=~"x:10s_by_g_h_[a-z_]+", quantile=~"|0"}`, "1m", downOuts, "g"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.plain = []*Aggregator{valued}
	c.workers = 1                 // down and valued see the parts in one order: first and last break ties by it
	kindOf := map[string]string{} // downstream output name -> its output, without arguments
	for _, o := range downOuts {
		o, _, _ = strings.Cut(o, "(")
		kindOf[o] = o
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	now := int64(1_700_000_040_000) // a minute start
	vals := map[string]float64{}
	used := map[string]bool{} // group/ts: no ties between upstream groups of a minute group
	out, vout := &batch.Batch{}, &batch.Batch{}
	b := &batch.Batch{}
	got, want, wantValued := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for step := range 300 {
		b.Reset()
		for range rng.IntN(10) {
			g, h, s := rng.IntN(2), rng.IntN(3), rng.IntN(2)
			key := fmt.Sprint(g, h, s)
			var ts int64
			if rng.IntN(15) == 0 { // late for both: its minute window was emitted
				ts = now - int64(lateness/time.Millisecond) - 60_000 - rng.Int64N(30_000)
			} else { // on time or in lateness for both
				ts = now - rng.Int64N(int64(lateness/time.Millisecond))
			}
			if used[fmt.Sprint(g, ts)] {
				continue
			}
			used[fmt.Sprint(g, ts)] = true
			v := vals[key] + float64(rng.IntN(50))/4
			if rng.IntN(12) == 0 {
				v = float64(rng.IntN(5)) // counter reset
			}
			vals[key] = v
			b.StartSeries()
			b.AddLabel(batch.MetricName, "x")
			b.AddLabel("g", strconv.Itoa(g))
			b.AddLabel("h", strconv.Itoa(h))
			b.AddLabel("s", strconv.Itoa(s))
			b.AddSample(ts, v)
			b.FinishSeries()
		}
		c.push(b, time.UnixMilli(now))
		now += int64(500 + rng.IntN(2500))
		if step == 299 {
			now += 2 * 60_000
		}
		out.Reset()
		c.flush(time.UnixMilli(now), false, 3, out)
		vout.Reset()
		valued.Flush(time.UnixMilli(now), false, vout)
		for _, o := range []*batch.Batch{out, vout} {
			for i := range o.Series {
				s := &o.Series[i]
				name := batch.Get(s.Labels, batch.MetricName)
				var dst map[string]float64
				switch {
				case o == vout:
					dst = wantValued
				case strings.HasPrefix(name, "x:10s_by_g_h_"):
					dst = got
				case strings.HasPrefix(name, "x:1m_by_g_"):
					dst = want
				default:
					continue
				}
				k := fmt.Sprintf("%s{g=%s,quantile=%s} %d", name, batch.Get(s.Labels, "g"), batch.Get(s.Labels, quantileLabel), s.Samples[0].Timestamp)
				if _, dup := dst[k]; dup {
					t.Errorf("%s emitted twice", k)
				}
				dst[k] = s.Samples[0].Value
			}
		}
	}
	if len(want) < 10*len(downOuts) {
		t.Fatalf("only %d direct outputs", len(want))
	}
	same := func(g, w float64) bool {
		return g == w || math.IsNaN(g) && math.IsNaN(w) || math.Abs(g-w) <= 1e-9*max(1, math.Abs(w))
	}
	exact, fellBack := map[string]bool{}, 0
	for k, g := range got {
		// x:10s_by_g_h_<upstream output>:1m_by_g_<downstream output>{...} ts
		name, rest, _ := strings.Cut(k, "{")
		up, down, _ := strings.Cut(strings.TrimPrefix(name, "x:10s_by_g_h_"), ":1m_by_g_")
		if rollupExact(up, kindOf[down], downOuts) {
			exact[up+" "+down] = true
			w, ok := want["x:1m_by_g_"+down+"{"+rest]
			switch {
			case !ok:
				t.Errorf("rollup emitted %s, the direct aggregation did not", k)
			case strings.HasPrefix(down, "quantiles") && g != w,
				!same(g, w):
				t.Errorf("%s (exact): rollup %g, direct %g", k, g, w)
			}
			continue
		}
		fellBack++
		if w, ok := wantValued[k]; !ok || !same(g, w) {
			t.Errorf("%s (value): rollup %g, valued %g (present %v)", k, g, w, ok)
		}
	}
	// Every downstream output has an exact upstream kind (its own, at
	// least when it is exact at all) and every such pair was compared.
	for _, up := range []string{"sum_samples", "count_samples", "min", "max", "avg", "first", "last",
		"stddev", "stdvar", "increase", "total", "quantiles"} {
		for _, d := range downOuts {
			d, _, _ = strings.Cut(d, "(")
			if rollupExact(up, d, downOuts) && !exact[up+" "+d] {
				t.Errorf("no %s output over the upstream %s series was compared", d, up)
			}
		}
	}
	if fellBack == 0 && len(downOuts) > 1 {
		t.Error("no fallback output was compared")
	}
	for k := range want {
		name, rest, _ := strings.Cut(k, "{")
		d := strings.TrimPrefix(name, "x:1m_by_g_")
		if _, ok := got["x:10s_by_g_h_"+d+":1m_by_g_"+d+"{"+rest]; !ok && rollupExact(d, d, downOuts) {
			t.Errorf("rollup lacks %s over its own kind (direct: %g)", k, want[k])
		}
	}
}

// rollupCase is one upstream -> downstream pair of TestRollupPerOutput.
type rollupCase struct {
	name  string
	up    []string // upstream outputs, by vehicle
	match string   // the upstream output the downstream folds
	down  string   // the downstream output
	want  float64
	other float64 // what the other treatment gives (the value as a sample, or the raw aggregate for a fallback); 0: not checked
}

// TestRollupPerOutput: a series carries the state of its own upstream
// output only. Per vehicle 10 s windows fold into one minute over all
// vehicles; each expectation is computed here from the raw samples, and
// differs from what the old rule (the state of the whole upstream window,
// whichever series) or the plain value would give.
func TestRollupPerOutput(t *testing.T) {
	type raw struct {
		v  string
		ts int64 // ms after the minute start
		x  float64
	}
	samples := []raw{{"a", 1000, 1}, {"a", 4000, 3}, {"a", 12000, 5}, {"a", 15000, 2},
		{"b", 2000, 10}, {"b", 8000, 20}, {"b", 13000, 30}}
	// Per vehicle and 10 s window: the samples, in time order.
	windows := map[string][]float64{}
	var all []float64
	for _, s := range samples {
		k := fmt.Sprint(s.v, s.ts/10_000)
		windows[k] = append(windows[k], s.x)
		all = append(all, s.x)
	}
	var sumLast, minAvg, sumOfSums, sumOfAvgs float64
	minAvg = math.Inf(1)
	for _, w := range windows {
		sumLast += w[len(w)-1]
		var s float64
		for _, x := range w {
			s += x
		}
		sumOfSums += s
		sumOfAvgs += s / float64(len(w))
		minAvg = min(minAvg, s/float64(len(w)))
	}
	var rawSum, rawMin float64
	rawMin = math.Inf(1)
	for _, x := range all {
		rawSum += x
		rawMin = min(rawMin, x)
	}
	n := float64(len(all))
	rawAvg := rawSum / n
	var m2 float64
	for _, x := range all {
		m2 += (x - rawAvg) * (x - rawAvg)
	}
	rawLast := 2.0 // a at 15 s: the latest raw sample
	nWindows := float64(len(windows))

	for _, tc := range []rollupCase{
		// The trap: last per vehicle -> sum per region. The upstream's
		// avg tracks a sum; the last series does not carry it.
		{"sum over last", []string{"last", "avg"}, "last", "sum_samples", sumLast, rawSum},
		{"count over count", []string{"count_samples", "sum_samples"}, "count_samples", "count_samples", n, nWindows},
		{"avg over avg", []string{"avg", "max"}, "avg", "avg", rawAvg, sumOfAvgs / nWindows},
		{"sum over avg", []string{"avg"}, "avg", "sum_samples", rawSum, sumOfAvgs},
		{"count over avg", []string{"avg"}, "avg", "count_samples", n, nWindows},
		{"stddev over stddev", []string{"stddev", "avg"}, "stddev", "stddev", math.Sqrt(m2 / n), 0},
		{"avg over stddev", []string{"stddev"}, "stddev", "avg", rawAvg, 0},
		{"last over last", []string{"last", "first"}, "last", "last", rawLast, 0},
		{"min over avg", []string{"avg", "min"}, "avg", "min", minAvg, rawMin},
		{"avg over sum", []string{"sum_samples", "avg"}, "sum_samples", "avg", sumOfSums / nWindows, rawAvg},
		{"count over sum", []string{"sum_samples", "count_samples"}, "sum_samples", "count_samples", nWindows, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.other != 0 && tc.other == tc.want {
				t.Fatalf("the case does not tell the rules apart: %g", tc.want)
			}
			c := newChain(t, []Config{
				{Name: "up", Match: "x", Interval: model.Duration(10 * time.Second), By: []string{"v"},
					Outputs: tc.up, Lateness: dur(0)},
				{Name: "down", Match: "x:10s_by_v_" + tc.match, Interval: model.Duration(time.Minute),
					Outputs: []string{tc.down}, Lateness: dur(0)},
			})
			t0 := int64(1_700_000_040_000) // a minute start
			b := &batch.Batch{}
			for _, s := range samples {
				b.StartSeries()
				b.AddLabel(batch.MetricName, "x")
				b.AddLabel("v", s.v)
				b.AddSample(t0+s.ts, s.x)
				b.FinishSeries()
			}
			c.push(b, time.UnixMilli(t0))
			out := &batch.Batch{}
			c.flush(time.UnixMilli(t0+60_000), false, 100, out)
			name := "x:10s_by_v_" + tc.match + ":1m_" + tc.down
			found := false
			for i := range out.Series {
				if batch.Get(out.Series[i].Labels, batch.MetricName) != name {
					continue
				}
				found = true
				if g := out.Series[i].Samples[0].Value; math.Abs(g-tc.want) > 1e-12*max(1, math.Abs(tc.want)) {
					t.Errorf("%s = %g, want %g", name, g, tc.want)
				}
			}
			if !found {
				t.Errorf("no %s", name)
			}
		})
	}
}

// TestRollupFallback: what the upstream did not track, the downstream
// takes as the value of the series, as for raw input; outputs that never
// roll up exactly (count_series, unique_samples, the rates) take it too.
func TestRollupFallback(t *testing.T) {
	c := newChain(t, []Config{
		{Name: "up", Match: "x", Interval: model.Duration(10 * time.Second), By: []string{"v"},
			Outputs: []string{"last"}, Lateness: dur(0)},
		{Name: "down", Match: "x:10s_by_v_last", Interval: model.Duration(time.Minute),
			Outputs: []string{"sum_samples", "count_samples", "avg", "max", "last", "count_series", "unique_samples"}, Lateness: dur(0)},
	})
	t0 := int64(1_700_000_040_000)
	b := &batch.Batch{}
	for i, v := range []float64{1, 2, 4} { // vehicle a: last 2 in the first 10 s, 4 in the second; b: 1
		b.StartSeries()
		b.AddLabel(batch.MetricName, "x")
		b.AddLabel("v", []string{"b", "a", "a"}[i])
		b.AddSample(t0+int64(i)*7000, v)
		b.FinishSeries()
	}
	c.push(b, time.UnixMilli(t0))
	out := &batch.Batch{}
	c.flush(time.UnixMilli(t0+60_000), false, 100, out)
	got := map[string]float64{}
	for i := range out.Series {
		got[batch.Get(out.Series[i].Labels, batch.MetricName)] = out.Series[i].Samples[0].Value
	}
	// Windows: [0,10s): a=2, b=1; [10s,20s): a=4. A last series carries
	// only its last value and timestamp: last is exact (a's 4 at 14 s,
	// the latest raw sample), every other output takes the values.
	for name, want := range map[string]float64{
		"x:10s_by_v_last:1m_sum_samples":    7,
		"x:10s_by_v_last:1m_count_samples":  3,
		"x:10s_by_v_last:1m_avg":            7.0 / 3,
		"x:10s_by_v_last:1m_max":            4,
		"x:10s_by_v_last:1m_last":           4,
		"x:10s_by_v_last:1m_count_series":   2,
		"x:10s_by_v_last:1m_unique_samples": 3,
	} {
		if g, ok := got[name]; !ok || math.Abs(g-want) > 1e-12 {
			t.Errorf("%s = %g (present %v), want %g", name, g, ok, want)
		}
	}
}

// rollupBench is an upstream aggregation of every exact output over 1000
// series in 100 groups, feeding a downstream one of the same outputs over
// its quantiles and stddev series, grouped by region: a plan per upstream
// output, the φ series folded once. (Not the series whose values keep
// rising with the rising input, such as total or last: sketches taking
// them as values grow buckets.)
func rollupBench(t testing.TB) (up, down *Aggregator, in *batch.Batch) {
	outs := exactOutputs
	var err error
	up, err = New(Config{Name: "up", Match: "vehicle_rpm", Interval: model.Duration(time.Second),
		By: []string{"region"}, Outputs: outs, Lateness: dur(0)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	down, err = New(Config{Name: "down", Match: `{__name__=~"vehicle_rpm:1s_by_region_(quantiles|stddev)"}`, Interval: model.Duration(24 * time.Hour),
		By: []string{"region"}, Outputs: outs, Lateness: dur(0)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return up, down, benchBatch(1000, 100)
}

// TestPushRollupZeroAllocs: once the state has grown, flushing an
// upstream window with its Rollup and folding it into a downstream
// aggregation allocates nothing.
func TestPushRollupZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	up, down, in := rollupBench(t)
	marks := make([]uint8, len(in.Series))
	var dmarks []uint8
	ts := benchT0
	folded := 0
	fn := func(part *batch.Batch, r *Rollup) {
		dmarks = slices.Grow(dmarks[:0], len(part.Series))[:len(part.Series)]
		clear(dmarks)
		down.PushRollup(part, r, dmarks, time.UnixMilli(ts))
		folded += len(part.Series)
	}
	step := func() {
		ts += 100
		setTimestamps(in, ts, true)
		up.Push(in, marks, time.UnixMilli(ts))
		up.FlushRollup(time.UnixMilli(ts), false, 64, 1, fn)
	}
	for range 50 {
		step()
	}
	folded = 0
	if n := testing.AllocsPerRun(50, step); n != 0 {
		t.Errorf("FlushRollup and PushRollup allocate %.2f times per step, want 0", n)
	}
	if folded == 0 {
		t.Fatal("no rollup was pushed while allocations were counted")
	}
}

// BenchmarkPushRollup measures PushRollup of one flushed upstream window
// (100 groups × every exact output: 1,600 series, 100 partials) into a
// downstream aggregation with the same outputs over the quantiles and
// stddev series.
func BenchmarkPushRollup(b *testing.B) {
	up, down, in := rollupBench(b)
	marks := make([]uint8, len(in.Series))
	part := &batch.Batch{}
	var r *Rollup
	setTimestamps(in, benchT0, false)
	up.Push(in, marks, time.UnixMilli(benchT0))
	// Keep the one part and its Rollup: push it from inside the callback.
	up.FlushRollup(time.UnixMilli(benchT0+1000), false, 1<<20, 1, func(p *batch.Batch, rr *Rollup) {
		part, r = p, rr
		dmarks := make([]uint8, len(part.Series))
		now := time.UnixMilli(benchT0 + 999)
		down.PushRollup(part, r, dmarks, now)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			down.PushRollup(part, r, dmarks, now)
		}
		b.ReportMetric(float64(b.N*len(part.Series))/b.Elapsed().Seconds(), "series/s")
	})
}
