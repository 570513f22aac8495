package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
)

// refModel is a deliberately naive implementation of the aggregation
// semantics (DESIGN.md "Aggregation semantics"): it keeps every accepted
// sample and computes outputs from scratch at flush.
type refModel struct {
	intervalMs, latenessMs int64
	flushedTo              int64 // windows with end <= flushedTo were emitted
	windows                map[refKey][]refSample
	base                   map[string]refSample // counter baseline per input series
	total                  map[string]float64   // per group
}

type refKey struct {
	group string
	start int64
}

type refSample struct {
	series string
	ts     int64
	v      float64
	delta  float64 // counter delta, when hasDelta
	base   int64   // baseline ts before this delta
	hasD   bool
}

func (r *refModel) push(group, series string, ts int64, v float64, nowMs int64) {
	start := windowStart(ts, r.intervalMs)
	end := start + r.intervalMs
	if end <= r.flushedTo || end+r.latenessMs < nowMs || ts > nowMs+60000 {
		return
	}
	s := refSample{series: series, ts: ts, v: v}
	prev, ok := r.base[series]
	switch {
	case !ok:
		r.base[series] = s
	case ts <= prev.ts:
		// out of order for counters; still a sample for the others
	default:
		s.delta, s.base, s.hasD = v-prev.v, prev.ts, true
		if v < prev.v {
			s.delta = v
		}
		r.base[series] = s
	}
	k := refKey{group, start}
	r.windows[k] = append(r.windows[k], s)
}

// flush returns "name{group} ts value" lines of the windows due at now.
func (r *refModel) flush(nowMs int64) map[string]float64 {
	r.flushedTo = max(r.flushedTo, nowMs-r.latenessMs)
	keys := make([]refKey, 0)
	for k := range r.windows {
		if k.start+r.intervalMs <= r.flushedTo {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b refKey) int { return int(a.start - b.start) })
	out := map[string]float64{}
	for _, k := range keys {
		ss := r.windows[k]
		delete(r.windows, k)
		emit := func(name string, v float64) {
			out[fmt.Sprintf("m:1s_by_g_%s{g=%q} %d", name, k.group, k.start+r.intervalMs)] = v
		}
		var sum, minV, maxV, mean, m2, increase float64
		minV, maxV = math.Inf(1), math.Inf(-1)
		first, last := ss[0], ss[0]
		series, uniq := map[string]bool{}, map[float64]bool{}
		rates := map[string]*[3]float64{} // delta, base ts, last ts
		var order []string
		for i, s := range ss {
			sum += s.v
			minV, maxV = min(minV, s.v), max(maxV, s.v)
			d := s.v - mean
			mean += d / float64(i+1)
			m2 += d * (s.v - mean)
			if s.ts < first.ts {
				first = s
			}
			if s.ts >= last.ts {
				last = s
			}
			series[s.series], uniq[s.v] = true, true
			if s.hasD {
				increase += s.delta
				if rt, ok := rates[s.series]; ok {
					rt[0] += s.delta
					rt[2] = float64(s.ts)
				} else {
					rates[s.series] = &[3]float64{s.delta, float64(s.base), float64(s.ts)}
					order = append(order, s.series)
				}
			}
		}
		n := float64(len(ss))
		emit("sum_samples", sum)
		emit("count_samples", n)
		emit("count_series", float64(len(series)))
		emit("min", minV)
		emit("max", maxV)
		emit("avg", sum/n)
		emit("first", first.v)
		emit("last", last.v)
		emit("stdvar", m2/n)
		emit("unique_samples", float64(len(uniq)))
		emit("increase", increase)
		r.total[k.group] += increase
		emit("total", r.total[k.group])
		if len(rates) > 0 {
			var rs float64
			for _, s := range order {
				rt := rates[s]
				rs += rt[0] / ((rt[2] - rt[1]) / 1000)
			}
			emit("rate_sum", rs)
			emit("rate_avg", rs/float64(len(rates)))
		}
	}
	return out
}

// TestAgainstReference pushes random data, in and out of order, around
// the lateness boundary, and compares every flush with refModel. It
// exercises window slot reuse across groups and windows. With a lateness
// of 90 windows, groups have far more open windows than inline slots
// (extra slots), and count_series memberships fall off the 64 windows a
// series remembers (spill sets).
func TestAgainstReference(t *testing.T) {
	for _, tc := range []struct {
		name               string
		latenessMs, spread int64
		seeds              uint64
	}{
		{"lateness_0.5s", 500, 1800, 5},
		{"lateness_90s", 90_000, 95_000, 3},
	} {
		for seed := range tc.seeds {
			t.Run(tc.name+"/"+strconv.FormatUint(seed, 10), func(t *testing.T) {
				testAgainstReference(t, seed, tc.latenessMs, tc.spread)
			})
		}
	}
}

func testAgainstReference(t *testing.T, seed uint64, latenessMs, spread int64) {
	cfg := Config{
		Name: "ref", Match: "m", Interval: model.Duration(time.Second), By: []string{"g"},
		Outputs: []string{"sum_samples", "count_samples", "count_series", "min", "max", "avg", "first", "last",
			"stdvar", "unique_samples", "increase", "total", "rate_sum", "rate_avg"},
		Lateness:          dur(time.Duration(latenessMs) * time.Millisecond),
		StalenessInterval: dur(time.Hour),
	}
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := &refModel{intervalMs: 1000, latenessMs: latenessMs, flushedTo: math.MinInt64,
		windows: map[refKey][]refSample{}, base: map[string]refSample{}, total: map[string]float64{}}
	rng := rand.New(rand.NewPCG(seed, 99))
	b := &batch.Batch{}
	out := &batch.Batch{}
	now := int64(1_700_000_000_000)
	compared := 0
	for step := range 400 {
		b.Reset()
		for range rng.IntN(12) {
			s := rng.IntN(20)
			g := strconv.Itoa(s % 3)
			if step > 200 { // groups come and go
				g = strconv.Itoa(s%3 + 3*(step/100))
			}
			b.StartSeries()
			b.AddLabel(batch.MetricName, "m")
			b.AddLabel("g", g)
			b.AddLabel("s", strconv.Itoa(s))
			for range 1 + rng.IntN(3) {
				ts := now - rng.Int64N(spread) + int64(rng.IntN(100))
				v := float64(rng.IntN(8))
				b.AddSample(ts, v)
				ref.push(g, "m/"+g+"/"+strconv.Itoa(s), ts, v, now)
			}
			b.FinishSeries()
		}
		a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(now))
		now += int64(50 + rng.IntN(200))
		if rng.IntN(3) == 0 {
			continue
		}
		out.Reset()
		a.Flush(time.UnixMilli(now), false, out)
		want := ref.flush(now)
		got := map[string]float64{}
		for i := range out.Series {
			s := &out.Series[i]
			got[fmt.Sprintf("%s %d", formatSeries(s), s.Samples[0].Timestamp)] = s.Samples[0].Value
		}
		compared += len(want)
		for k, w := range want {
			g, ok := got[k]
			if !ok {
				t.Errorf("step %d: missing %s (want %g)", step, k, w)
				continue
			}
			if math.Abs(g-w) > 1e-9*max(1, math.Abs(w)) {
				t.Errorf("step %d: %s = %g, want %g", step, k, g, w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("step %d: unexpected %s = %g", step, k, g)
			}
		}
	}
	if compared < 1000 {
		t.Errorf("only %d outputs compared", compared)
	}
}
