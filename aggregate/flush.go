package aggregate

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// quantileLabel is the label that tells the φ of a quantiles output.
const quantileLabel = "quantile"

// Flush appends to dst one sample per output series for every window
// that is due and forgets those windows; samples for them are late from
// then on. A window is due when end + lateness <= now, or, with force
// (shutdown), when end <= now. Outputs are appended in window order and
// stamped with the window end; their label strings are owned by the
// aggregator and immutable, so dst may keep them.
//
// Flush also forgets groups and counter baselines that have seen no
// sample for staleness_interval, and updates the series gauge.
//
// Each shard is locked only to take its closed windows out; outputs are
// built without holding shard locks. Concurrent Flush calls are
// serialized.
func (a *Aggregator) Flush(now time.Time, force bool, dst *batch.Batch) {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	began := time.Now()
	nowMs := now.UnixMilli()
	cutoff := nowMs - a.latenessMs
	if force {
		cutoff = nowMs
	}

	closed := a.closed[:0]
	tracked := 0
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		sh.watermark = max(sh.watermark, cutoff)
		n := 0
		for n < len(sh.windows) && sh.windows[n].start+a.intervalMs <= sh.watermark {
			w := sh.windows[n]
			closed = append(closed, closedWindow{start: w.start, shard: i, states: w.states})
			n++
		}
		if n > 0 {
			m := copy(sh.windows, sh.windows[n:])
			clear(sh.windows[m:])
			sh.windows = sh.windows[:m]
		}
		sh.sweep(nowMs, a.stalenessMs, a.intervalMs)
		tracked += sh.nGroups + len(sh.series)
		sh.mu.Unlock()
	}
	a.metrics.series.Set(float64(tracked))
	if len(closed) == 0 {
		a.closed = closed
		return
	}

	slices.SortStableFunc(closed, func(x, y closedWindow) int { return cmp.Compare(x.start, y.start) })
	emitted := 0
	for _, cw := range closed {
		for _, st := range cw.states {
			emitted += a.emit(st, dst)
		}
	}
	for _, cw := range closed {
		sh := &a.shards[cw.shard]
		sh.mu.Lock()
		sh.release(cw.states)
		sh.mu.Unlock()
	}
	clear(closed)
	a.closed = closed[:0]

	if emitted > 0 {
		a.metrics.output.Add(float64(emitted))
	}
	a.metrics.flush.Observe(time.Since(began).Seconds())
}

// emit appends the outputs of one group's window and returns how many
// samples it appended.
func (a *Aggregator) emit(st *winState, dst *batch.Batch) int {
	g, l, f := st.g, &a.layout, st.f
	ts := st.start + a.intervalMs
	n := 0
	for oi := range a.outputs {
		o := &a.outputs[oi]
		var v float64
		switch o.kind {
		case outSumSamples:
			v = kahanSum(f[l.sum], f[l.sumC])
		case outCountSamples:
			v = f[l.count]
		case outCountSeries:
			v = float64(len(st.seriesSet))
		case outMin:
			v = f[l.min]
		case outMax:
			v = f[l.max]
		case outAvg:
			v = kahanSum(f[l.sum], f[l.sumC]) / f[l.count]
		case outLast:
			v = f[l.lastV]
		case outFirst:
			v = f[l.firstV]
		case outStdvar:
			v = f[l.m2] / f[l.count]
		case outStddev:
			v = math.Sqrt(f[l.m2] / f[l.count])
		case outUniqueSamples:
			v = float64(len(st.uniq))
		case outQuantiles:
			for i, phi := range o.phis {
				n += a.appendOutput(dst, g, g.names[oi], o.phiS[i], ts, st.sk.quantile(phi))
			}
			continue
		case outIncrease:
			v = f[l.increase]
		case outTotal:
			g.total += f[l.increase]
			v = g.total
		case outRateSum, outRateAvg:
			if len(st.rates) == 0 { // no series had a baseline before its delta
				continue
			}
			for _, r := range st.rates {
				v += r.delta / (float64(r.lastTs-r.baseTs) / 1000)
			}
			if o.kind == outRateAvg {
				v /= float64(len(st.rates))
			}
		}
		n += a.appendOutput(dst, g, g.names[oi], "", ts, v)
	}
	return n
}

// appendOutput appends one output sample named name with g's labels (and
// quantile="phi" when phi is set), after output relabeling. It returns 1,
// or 0 when output_relabel_configs dropped the series.
func (a *Aggregator) appendOutput(dst *batch.Batch, g *group, name, phi string, ts int64, v float64) int {
	ls := append(a.lbuf[:0], g.labels...)
	ls[g.nameIdx].Value = name
	if phi != "" {
		i, found := slices.BinarySearchFunc(ls, quantileLabel, func(l batch.Label, n string) int { return cmp.Compare(l.Name, n) })
		if found {
			ls[i].Value = phi
		} else {
			ls = slices.Insert(ls, i, batch.Label{Name: quantileLabel, Value: phi})
		}
	}
	a.lbuf = ls[:0]
	if a.outRelabel != nil {
		out, keep := a.outRelabel.Apply(ls, a.rbuf)
		a.rbuf = out[:0]
		if !keep {
			return 0
		}
		ls = out
	}
	a.sbuf[0] = batch.Sample{Timestamp: ts, Value: v}
	dst.AppendSeries(ls, a.sbuf[:])
	return 1
}
