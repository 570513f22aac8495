package aggregate

import "math"

// layout places the numeric accumulators that the configured outputs need
// in one []float64 per group and window, so a window state holds only what
// its outputs read. An absent accumulator has offset -1. Timestamps are
// stored as float64, which is exact for Unix milliseconds below 2^53
// (year 287396).
type layout struct {
	size int
	init []float64 // initial value of each slot

	count, sum, sumC, min, max int
	firstTs, firstV            int
	lastTs, lastV              int
	mean, m2                   int
	increase                   int
	countSeries                int // count_series: input series counted in the window

	uniq      bool // unique_samples: set of value bits
	seriesSet bool // count_series: per input series, the windows it was counted in
	sketch    bool // quantiles, histogram
	rates     bool // rate_sum, rate_avg: per input series deltas
	counters  bool // any counter output: per input series baselines
	total     bool // total: a running sum per group

	onlyCounters bool // every output is a counter output
}

func newLayout(outs []output) layout {
	l := layout{
		count: -1, sum: -1, sumC: -1, min: -1, max: -1,
		firstTs: -1, firstV: -1, lastTs: -1, lastV: -1,
		mean: -1, m2: -1, increase: -1, countSeries: -1,
		onlyCounters: true,
	}
	slot := func(off *int, init float64) {
		if *off < 0 {
			*off = l.size
			l.size++
			l.init = append(l.init, init)
		}
	}
	for _, o := range outs {
		if o.kind.isCounter() {
			l.counters = true
		} else {
			l.onlyCounters = false
		}
		switch o.kind {
		case outSumSamples:
			slot(&l.sum, 0)
			slot(&l.sumC, 0)
		case outCountSamples:
			slot(&l.count, 0)
		case outAvg:
			slot(&l.count, 0)
			slot(&l.sum, 0)
			slot(&l.sumC, 0)
		case outMin:
			slot(&l.min, math.NaN())
		case outMax:
			slot(&l.max, math.NaN())
		case outFirst:
			slot(&l.firstTs, math.Inf(1))
			slot(&l.firstV, math.NaN())
		case outLast:
			slot(&l.lastTs, math.Inf(-1))
			slot(&l.lastV, math.NaN())
		case outStddev, outStdvar:
			slot(&l.count, 0)
			slot(&l.mean, 0)
			slot(&l.m2, 0)
		case outTotal, outIncrease:
			slot(&l.increase, 0)
			l.total = l.total || o.kind == outTotal
		case outRateSum, outRateAvg:
			l.rates = true
		case outUniqueSamples:
			l.uniq = true
		case outCountSeries:
			l.seriesSet = true
			slot(&l.countSeries, 0)
		case outQuantiles:
			l.sketch = true
		case outHistogram: // the buckets are the sketch's; count and sum beside
			l.sketch = true
			slot(&l.count, 0)
			slot(&l.sum, 0)
			slot(&l.sumC, 0)
		}
	}
	return l
}

// update folds the sample (ts, v) into the numeric slots f.
func (l *layout) update(f []float64, ts int64, v float64) {
	if l.count >= 0 {
		f[l.count]++
	}
	if l.sum >= 0 {
		f[l.sum], f[l.sumC] = kahanAdd(v, f[l.sum], f[l.sumC])
	}
	if l.min >= 0 && (v < f[l.min] || math.IsNaN(f[l.min])) {
		f[l.min] = v
	}
	if l.max >= 0 && (v > f[l.max] || math.IsNaN(f[l.max])) {
		f[l.max] = v
	}
	t := float64(ts)
	if l.firstTs >= 0 && t < f[l.firstTs] { // ties: the earlier arrival stays
		f[l.firstTs], f[l.firstV] = t, v
	}
	if l.lastTs >= 0 && t >= f[l.lastTs] { // ties: the later arrival wins
		f[l.lastTs], f[l.lastV] = t, v
	}
	if l.mean >= 0 { // Welford; count was incremented above
		d := v - f[l.mean]
		f[l.mean] += d / f[l.count]
		f[l.m2] += d * (v - f[l.mean])
	}
}

// kahanAdd adds inc to the compensated sum (sum, c), as Prometheus'
// sum_over_time does (Neumaier's variant).
func kahanAdd(inc, sum, c float64) (float64, float64) {
	t := sum + inc
	switch {
	case math.IsInf(t, 0):
		c = 0
	case math.Abs(sum) >= math.Abs(inc):
		c += (sum - t) + inc
	default:
		c += (inc - t) + sum
	}
	return t, c
}

// kahanSum returns the value of a compensated sum.
func kahanSum(sum, c float64) float64 {
	if math.IsInf(sum, 0) {
		return sum
	}
	return sum + c
}
