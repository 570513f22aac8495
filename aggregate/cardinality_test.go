package aggregate

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

// TestHLLError checks the estimator against exact counts of 1 to 1M
// distinct values: every estimate within 4 standard errors (9.2%); over
// the value sets of one size, the root mean square error within 1.5
// standard errors and the mean (bias) within 3 standard errors of the
// mean.
func TestHLLError(t *testing.T) {
	for _, tc := range []struct{ n, sets int }{
		{1, 5}, {10, 5}, {100, 8}, {1_000, 8}, {5_000, 8}, {100_000, 8}, {1_000_000, 3},
	} {
		t.Run(strconv.Itoa(tc.n), func(t *testing.T) {
			if race.Enabled && tc.n > 100_000 {
				t.Skip("slow under the race detector")
			}
			var sum, sq float64
			for s := range tc.sets {
				var r hll
				prefix := fmt.Sprintf("set%d-", s)
				for i := range tc.n {
					r.add(xxhash.Sum64String(prefix + strconv.Itoa(i)))
				}
				var empty hll
				est := estimateUnion(&r, &empty)
				rel := (est - float64(tc.n)) / float64(tc.n)
				if math.Abs(rel) > 4*hllError {
					t.Errorf("set %d: estimate %.0f of %d distinct values, error %.2f%% > %.2f%%", s, est, tc.n, 100*rel, 400*hllError)
				}
				sum += rel
				sq += rel * rel
			}
			sets := float64(tc.sets)
			if rms := math.Sqrt(sq / sets); rms > 1.5*hllError {
				t.Errorf("rms error %.2f%% over %d sets > %.2f%%", 100*rms, tc.sets, 150*hllError)
			}
			if mean := sum / sets; math.Abs(mean) > 3*hllError/math.Sqrt(sets) {
				t.Errorf("mean error %.2f%% over %d sets > %.2f%%", 100*mean, tc.sets, 300*hllError/math.Sqrt(sets))
			}
			t.Logf("%d distinct values: rms error %.2f%%, mean %.2f%% over %d sets", tc.n, 100*math.Sqrt(sq/sets), 100*sum/sets, tc.sets)
		})
	}
}

// TestHLLSmallExact: a handful of values is counted exactly (Ertl's
// estimator needs no linear-counting switch for that).
func TestHLLSmallExact(t *testing.T) {
	var r, empty hll
	if got := estimateUnion(&r, &empty); got != 0 {
		t.Errorf("empty sketch: %g, want 0", got)
	}
	for i := range 20 {
		r.add(xxhash.Sum64String("v" + strconv.Itoa(i)))
		r.add(xxhash.Sum64String("v" + strconv.Itoa(i))) // duplicates count once
		if got := math.Round(estimateUnion(&r, &empty)); got != float64(i+1) {
			t.Errorf("%d values: estimate %g", i+1, got)
		}
	}
}

// TestHLLUnion: the union of two sketches estimates the distinct values of
// both, overlap counted once.
func TestHLLUnion(t *testing.T) {
	var a, b hll
	for i := range 60_000 {
		h := xxhash.Sum64String(strconv.Itoa(i))
		if i < 40_000 {
			a.add(h)
		}
		if i >= 20_000 {
			b.add(h)
		}
	}
	if got := estimateUnion(&a, &b); math.Abs(got-60_000) > 3*hllError*60_000 {
		t.Errorf("union of 0..40k and 20k..60k: %.0f, want about 60000", got)
	}
}

// cardT0 starts a cardinality period.
const cardT0 = int64(1_700_000_400_000)

func newCardTest(t testing.TB, name string, m *Metrics) *Aggregator {
	t.Helper()
	a, err := New(Config{
		Name: name, Match: "vehicle_rpm", Interval: model.Duration(10 * time.Second),
		By: []string{"region"}, Outputs: []string{"avg"},
	}, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// fleetBatch returns vehicle_rpm{engine, region, vehicle_id} of vehicles
// vehicles in regions regions, one sample each at ts.
func fleetBatch(vehicles, regions int, ts int64) *batch.Batch {
	b := &batch.Batch{}
	for i := range vehicles {
		b.StartSeries()
		b.AddLabel(batch.MetricName, "vehicle_rpm")
		b.AddLabel("engine", []string{"ic", "electric"}[i%2])
		b.AddLabel("region", "region-"+strconv.Itoa(i%regions))
		b.AddLabel("vehicle_id", "v"+strconv.Itoa(i))
		b.AddSample(ts, float64(i))
		b.FinishSeries()
	}
	return b
}

// cardGauges returns the estimates reg exports for aggregation agg:
// "series" and one entry per label.
func cardGauges(t *testing.T, reg *prometheus.Registry, agg string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var a, label string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "aggregation":
					a = lp.GetValue()
				case "label":
					label = lp.GetValue()
				}
			}
			if a != agg {
				continue
			}
			switch mf.GetName() {
			case "premetrics_aggregate_input_series_estimate":
				out["series"] = m.GetGauge().GetValue()
			case "premetrics_aggregate_input_label_values":
				out[label] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*want }

// TestCardinalityRanksLabels pushes a fleet with a high-cardinality
// vehicle_id and a low-cardinality region, sampled as in production,
// often enough that each vehicle is observed with probability 99.4%.
func TestCardinalityRanksLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newCardTest(t, "fleet", NewMetrics(reg))
	const vehicles, rounds = 10_000, 80
	if race.Enabled {
		a.card.mask = 0 // every series: fewer rounds, same coverage
	}
	in := fleetBatch(vehicles, 8, cardT0)
	marks := make([]uint8, len(in.Series))
	for r := range rounds {
		if race.Enabled && r >= 2 {
			break
		}
		ts := cardT0 + int64(r)*5000
		setTimestamps(in, ts, false)
		a.Push(in, marks, time.UnixMilli(ts))
	}
	g := cardGauges(t, reg, "fleet")
	const tol = 3*hllError + 0.01 // estimator error + unobserved vehicles
	if !within(g["series"], vehicles, tol) {
		t.Errorf("input_series_estimate %g, want %d ± %.1f%%", g["series"], vehicles, 100*tol)
	}
	if !within(g["vehicle_id"], vehicles, tol) {
		t.Errorf("input_label_values{label=\"vehicle_id\"} %g, want %d ± %.1f%%", g["vehicle_id"], vehicles, 100*tol)
	}
	want := map[string]float64{"region": 8, "engine": 2, batch.MetricName: 1}
	for l, n := range want {
		if g[l] != n {
			t.Errorf("input_label_values{label=%q} %g, want %g", l, g[l], n)
		}
	}
	if len(g) != 5 {
		t.Errorf("exported %v, want series and 4 labels", g)
	}
	_, top := a.card.estimates()
	if top[0].label != "vehicle_id" || top[1].label != "region" {
		t.Errorf("ranking %v, want vehicle_id, region first", top)
	}
}

// TestCardinalityAfterInputRelabel: labels dropped by
// input_relabel_configs are not counted, labels they add are.
func TestCardinalityAfterInputRelabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	var cfg Config
	cfg.Name, cfg.Match, cfg.Interval, cfg.Outputs = "relabeled", "vehicle_rpm", model.Duration(10*time.Second), []string{"count_samples"}
	a := newCardTestCfg(t, cfg, `[{action: labeldrop, regex: vehicle_id}, {target_label: zone, replacement: z}]`, NewMetrics(reg))
	a.card.mask = 0
	in := fleetBatch(100, 4, cardT0)
	a.Push(in, make([]uint8, len(in.Series)), time.UnixMilli(cardT0))
	g := cardGauges(t, reg, "relabeled")
	if _, ok := g["vehicle_id"]; ok {
		t.Errorf("vehicle_id counted after labeldrop: %v", g)
	}
	if g["zone"] != 1 || g["region"] != 4 || g["series"] != 4 { // the (engine, region) pairs are the series left
		t.Errorf("got %v, want zone 1, region 4, series 4", g)
	}
}

func newCardTestCfg(t *testing.T, cfg Config, relabel string, m *Metrics) *Aggregator {
	t.Helper()
	if err := yaml.Unmarshal([]byte("input_relabel_configs: "+relabel), &cfg); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// labelsBatch returns one series per value index v < values of every
// label name in names: vehicle_rpm{name_1=..., name_2=...}.
func labelsBatch(names []string, values int) *batch.Batch {
	b := &batch.Batch{}
	for v := range values {
		b.StartSeries()
		b.AddLabel(batch.MetricName, "vehicle_rpm")
		for _, n := range names {
			b.AddLabel(n, strconv.Itoa(v))
		}
		b.AddSample(cardT0, 1)
		b.FinishSeries()
	}
	return b
}

// TestCardinalityTopN: only the top 10 names are exported; names that
// drop out of them, or out of the last two periods, are not exported
// any more.
func TestCardinalityTopN(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newCardTest(t, "topn", NewMetrics(reg))
	a.card.mask = 0
	period := cardPeriod.Milliseconds()
	push := func(b *batch.Batch, ts int64) {
		setTimestamps(b, ts, false)
		a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(ts))
	}
	// a00..a11, a_k with 20+k values
	for k := range 12 {
		push(labelsBatch([]string{fmt.Sprintf("a%02d", k)}, 20+k), cardT0)
	}
	g := cardGauges(t, reg, "topn")
	if len(g) != 11 {
		t.Fatalf("exported %v, want series and 10 labels", g)
	}
	for k := range 12 {
		l := fmt.Sprintf("a%02d", k)
		if _, ok := g[l]; ok != (k >= 2) {
			t.Errorf("%s exported: %v, want %v (top 10 of a00..a11)", l, ok, k >= 2)
		}
	}
	// The next period: b00..b09 with 100 values each push a00..a11 out.
	b := labelsBatch([]string{"b00", "b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08", "b09"}, 100)
	push(b, cardT0+period)
	g = cardGauges(t, reg, "topn")
	for k := range 10 {
		l := fmt.Sprintf("b%02d", k)
		if g[l] != 100 {
			t.Errorf("%s: %g, want 100", l, g[l])
		}
	}
	if len(g) != 11 {
		t.Errorf("exported %v, want series and b00..b09", g)
	}
	// Two periods later, with only a Flush: nothing is left.
	a.Flush(time.UnixMilli(cardT0+3*period), false, &batch.Batch{})
	g = cardGauges(t, reg, "topn")
	if len(g) != 1 || g["series"] != 0 {
		t.Errorf("after two empty periods: %v, want series 0 only", g)
	}
}

// TestCardinalityPeriods: the estimates cover the current and the
// previous period.
func TestCardinalityPeriods(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newCardTest(t, "periods", NewMetrics(reg))
	a.card.mask = 0
	period := cardPeriod.Milliseconds()
	for p, n := range []int{300, 200, 100} {
		ts := cardT0 + int64(p)*period + 1000
		b := labelsBatch([]string{fmt.Sprintf("p%d", p)}, n)
		setTimestamps(b, ts, false)
		a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(ts))
	}
	g := cardGauges(t, reg, "periods")
	const tol = 3 * hllError
	if _, ok := g["p0"]; ok || !within(g["p1"], 200, tol) || !within(g["p2"], 100, tol) {
		t.Errorf("got %v, want p1 200, p2 100 and no p0", g)
	}
	// the series of p1 and p2 are {__name__, p1=v} and {__name__, p2=v}
	if !within(g["series"], 300, tol) {
		t.Errorf("series estimate %g, want 300", g["series"])
	}
}

// TestCardinalityOther: label names beyond the first 64 are counted
// together as __other__.
func TestCardinalityOther(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newCardTest(t, "other", NewMetrics(reg))
	a.card.mask = 0
	var names []string
	for k := range 70 {
		names = append(names, fmt.Sprintf("n%02d", k))
	}
	in := labelsBatch(names, 3)
	a.Push(in, make([]uint8, len(in.Series)), time.UnixMilli(cardT0))
	// __name__ and n00..n62 are tracked; n63..n69, 3 values each, are not.
	if got := len(a.card.names.Load().list); got != cardMaxNames {
		t.Errorf("%d names tracked, want %d", got, cardMaxNames)
	}
	g := cardGauges(t, reg, "other")
	if g[cardOtherLabel] != 21 || g["series"] != 3 {
		t.Errorf("got %v, want __other__ 21 (7 names × 3 values), series 3", g)
	}
}

// TestCardinalityForget: Forget removes the estimates of the aggregation;
// of two Aggregators of one name (a reload), the one pushing is exported.
func TestCardinalityForget(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	old := newCardTest(t, "fleet", m)
	old.card.mask = 0
	in := fleetBatch(50, 5, cardT0)
	marks := make([]uint8, len(in.Series))
	old.Push(in, marks, time.UnixMilli(cardT0))
	if g := cardGauges(t, reg, "fleet"); g["region"] != 5 || g["vehicle_id"] < 45 {
		t.Fatalf("before the reload: %v", g)
	}
	next := newCardTest(t, "fleet", m) // a reload that changed the config
	next.card.mask = 0
	if g := cardGauges(t, reg, "fleet"); g["region"] != 5 || g["vehicle_id"] < 45 {
		t.Errorf("new Aggregator without samples took over: %v", g)
	}
	next.Push(fleetBatch(20, 5, cardT0), marks[:20], time.UnixMilli(cardT0))
	if g := cardGauges(t, reg, "fleet"); g["vehicle_id"] != 20 {
		t.Errorf("after the new Aggregator's push: %v, want vehicle_id 20", g)
	}
	m.Forget("fleet")
	if g := cardGauges(t, reg, "fleet"); len(g) != 0 {
		t.Errorf("after Forget: %v", g)
	}
}

// TestCardinalityConcurrent pushes disjoint vehicles from several
// goroutines while the metrics are collected (run with -race).
func TestCardinalityConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newCardTest(t, "conc", NewMetrics(reg))
	a.card.mask = 0
	const workers, per = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			b := &batch.Batch{}
			for i := range per {
				b.StartSeries()
				b.AddLabel(batch.MetricName, "vehicle_rpm")
				b.AddLabel("region", "r"+strconv.Itoa(w))
				b.AddLabel("vehicle_id", strconv.Itoa(w*per+i))
				b.AddSample(cardT0, 1)
				b.FinishSeries()
			}
			marks := make([]uint8, len(b.Series))
			for lo := 0; lo < per; lo += 100 {
				part := &batch.Batch{Series: b.Series[lo : lo+100]}
				a.Push(part, marks, time.UnixMilli(cardT0))
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	g := cardGauges(t, reg, "conc")
	if !within(g["vehicle_id"], workers*per, 3*hllError) || g["region"] != workers {
		t.Errorf("got %v, want vehicle_id about %d, region %d", g, workers*per, workers)
	}
}

// TestPushCardinalityZeroAllocs: observing series, sampled or all of
// them, adds no allocation to steady-state Push.
func TestPushCardinalityZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	for _, mask := range []uint64{cardSampleEvery - 1, 0} {
		a := newCardTest(t, "allocs", nil)
		a.card.mask = mask
		in := fleetBatch(1000, 8, cardT0)
		marks := make([]uint8, len(in.Series))
		ts := cardT0
		step := func() {
			ts++
			setTimestamps(in, ts, false)
			a.Push(in, marks, time.UnixMilli(ts))
		}
		for range 5 {
			step()
		}
		if n := testing.AllocsPerRun(50, step); n != 0 {
			t.Errorf("sampling mask %d: Push allocates %.2f times, want 0", mask, n)
		}
		if _, top := a.card.estimates(); len(top) != 4 {
			t.Errorf("sampling mask %d: %v, want 4 labels estimated", mask, top)
		}
	}
}

// BenchmarkPushCardinality measures Push (1000 series of 4 labels into
// 100 groups, avg) without the estimates, sampled as in production, and
// observing every series.
func BenchmarkPushCardinality(b *testing.B) {
	for _, tc := range []struct {
		name string
		mask uint64
		off  bool
	}{{"off", 0, true}, {"sampled", cardSampleEvery - 1, false}, {"every_series", 0, false}} {
		b.Run(tc.name, func(b *testing.B) {
			a := newBench(b, Config{
				Name: "bench", Match: "vehicle_rpm", Interval: model.Duration(24 * time.Hour),
				By: []string{"region"}, Outputs: []string{"avg"},
			})
			a.card.mask = tc.mask
			if tc.off {
				a.card = nil
			}
			benchPushSteady(b, a, false)
		})
	}
}

// BenchmarkCardinalityObserve measures observing one series of 6 labels.
func BenchmarkCardinalityObserve(b *testing.B) {
	c := newCardinality("bench", nil)
	in := &batch.Batch{}
	for i := range 1024 {
		in.StartSeries()
		in.AddLabel(batch.MetricName, "vehicle_rpm")
		in.AddLabel("engine", "ic")
		in.AddLabel("model", "m"+strconv.Itoa(i%30))
		in.AddLabel("region", "region-"+strconv.Itoa(i%8))
		in.AddLabel("vehicle_id", "v"+strconv.Itoa(i))
		in.AddLabel("zone", "z")
		in.AddSample(cardT0, 1)
		in.FinishSeries()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.observe(in.Series[i&1023].Labels, cardT0)
		i++
	}
}
