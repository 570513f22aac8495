package aggregate

import (
	"math"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// Rollup is the window state behind the output series of one part that
// FlushRollup hands over: for each series, the group window it was
// computed from (the upstream layout's accumulators and the window's
// quantile sketch: a partial) and which upstream output it is. A series
// carries only the state of its own output: PushRollup folds it by
// merging the accumulators that output represents (the compensated sum
// for sum_samples, count and sum for avg, the min for min, ...), so that
// an aggregation over another's outputs computes its outputs over the raw
// samples where the matched output allows it (see the package doc,
// "Rollups").
//
// A Rollup is owned by the flushing Aggregator and valid only during the
// callback it is handed to; its receivers must not keep it.
type Rollup struct {
	up    *layout   // the upstream aggregation's layout
	outs  []output  // the upstream aggregation's outputs
	of    []int32   // by series of the part: j*len(outs)+oi for partial j and output oi; -1 for none (stale markers)
	words []float64 // partial j: words[j*up.size : (j+1)*up.size], in up's layout
	sks   []*sketch // partial j's sketch; nil without quantiles
}

// Len returns the number of series the Rollup describes: that of its part.
func (r *Rollup) Len() int { return len(r.of) }

// reset readies r for the flushes of an aggregation with layout up and
// outputs outs.
func (r *Rollup) reset(up *layout, outs []output) {
	r.up, r.outs = up, outs
}

// partial returns the accumulators and the sketch of partial j.
func (r *Rollup) partial(j int32) ([]float64, *sketch) {
	n := r.up.size
	return r.words[int(j)*n : int(j+1)*n], r.sks[j]
}

// series records the k series emit just appended for output oi of rec:
// they belong to the partial that add records next.
func (r *Rollup) series(rec *emitRec, oi, k int) {
	e := int32(-1)
	if !rec.stale {
		e = int32(len(r.sks)*len(r.outs) + oi)
	}
	for range k {
		r.of = append(r.of, e)
	}
}

// add records the partial of emitted record rec, whose outputs are the n
// series emit just appended (and series recorded), taking its sketch.
func (r *Rollup) add(fw *flushWorker, rec *emitRec, n int) {
	if rec.stale || n == 0 {
		return
	}
	r.words = append(r.words, fw.pwords[rec.pw:rec.pw+r.up.size]...)
	r.sks = append(r.sks, rec.sk)
	rec.sk = nil
}

// release empties r after its part was handed over, recycling its
// sketches into fw's pool.
func (r *Rollup) release(fw *flushWorker) {
	for i, sk := range r.sks {
		if sk != nil {
			sk.reset()
			fw.skPool = append(fw.skPool, sk)
			r.sks[i] = nil
		}
	}
	r.of, r.words, r.sks = r.of[:0], r.words[:0], r.sks[:0]
}

// Units of state a rollup merges, in foldPlan.merge.
const (
	mergeCounts   = 1 << iota // count, sum (+ compensation), Welford mean and m2: one unit, they share count
	mergeMin                  // min
	mergeMax                  // max
	mergeFirst                // first value and timestamp
	mergeLast                 // last value and timestamp
	mergeIncrease             // increase (increase, total)
	mergeSketch               // quantiles, histogram
)

// Parts of the count unit, in foldPlan.has and countParts.
const (
	hasCount   = 1 << iota // the sample count
	hasSum                 // the (compensated) sum
	hasMoments             // the Welford mean and m2 (with the count)
)

// countParts returns the parts of the count unit an upstream series of
// output kind k represents. stddev and stdvar represent the sum as count
// × mean: the upstream's sum accumulator, if any, belongs to another
// output.
func countParts(k outputKind) uint8 {
	switch k {
	case outSumSamples:
		return hasSum
	case outCountSamples:
		return hasCount
	case outAvg, outHistogram:
		return hasCount | hasSum
	case outStddev, outStdvar:
		return hasCount | hasSum | hasMoments
	}
	return 0
}

// countNeeds returns the parts of the count unit layout l tracks.
func countNeeds(l *layout) uint8 {
	var n uint8
	if l.count >= 0 {
		n |= hasCount
	}
	if l.sum >= 0 {
		n |= hasSum
	}
	if l.mean >= 0 {
		n |= hasMoments
	}
	return n
}

// foldPlan says how an aggregation folds the series of one upstream
// output: which units it merges from the partial, and what the series'
// value still updates as one sample (fallback: the layout with the
// merged accumulators disabled).
type foldPlan struct {
	up          *layout
	merge       uint32
	has         uint8 // countParts of the upstream output
	sumFromMean bool  // the sum is merged as count × mean (stddev, stdvar)
	fallback    layout
}

// newRollupPlan returns how an aggregation with layout l folds the series
// of an upstream output of kind k, whose partials have layout up. A unit
// is merged when l needs it and k represents it (see Rollup); otherwise
// the value is one sample for that unit, as for raw input. The count unit
// is all or nothing: count_samples, sum_samples, avg, stddev and stdvar
// share the count, so they either all see the upstream's samples (when k
// represents every part of the unit l tracks) or all see its values.
func newRollupPlan(l, up *layout, k outputKind) foldPlan {
	p := foldPlan{up: up, fallback: *l, has: countParts(k)}
	fb := &p.fallback
	if need := countNeeds(l); need != 0 && need&^p.has == 0 {
		p.merge |= mergeCounts
		p.sumFromMean = k == outStddev || k == outStdvar
		fb.count, fb.sum, fb.sumC, fb.mean, fb.m2 = -1, -1, -1, -1, -1
	}
	if l.min >= 0 && k == outMin && up.min >= 0 {
		p.merge |= mergeMin
		fb.min = -1
	}
	if l.max >= 0 && k == outMax && up.max >= 0 {
		p.merge |= mergeMax
		fb.max = -1
	}
	if l.firstTs >= 0 && k == outFirst && up.firstTs >= 0 {
		p.merge |= mergeFirst
		fb.firstTs, fb.firstV = -1, -1
	}
	if l.lastTs >= 0 && k == outLast && up.lastTs >= 0 {
		p.merge |= mergeLast
		fb.lastTs, fb.lastV = -1, -1
	}
	if l.increase >= 0 && (k == outIncrease || k == outTotal) && up.increase >= 0 {
		p.merge |= mergeIncrease
		fb.increase = -1
		fb.counters = l.rates // rate_sum / rate_avg still take the value as a counter sample
	}
	if l.sketch && (k == outQuantiles || k == outHistogram) && up.sketch {
		p.merge |= mergeSketch
		fb.sketch = false
	}
	// A series that merges anything is aggregated whatever its counter
	// fallback says (out of order, NaN, untracked).
	fb.onlyCounters = l.onlyCounters && p.merge == 0
	return p
}

// rollupPlan is how an aggregation folds the series of one Rollup: a
// foldPlan per upstream output, built when a series of that output is
// first met. Its buffer is reused across PushRollups (pushScratch).
type rollupPlan struct {
	down  *layout    // the folding aggregation's layout
	r     *Rollup    // the Rollup being pushed
	plans []foldPlan // by upstream output; up == nil: not built yet
}

// reset readies p for folding r into an aggregation with layout down.
func (p *rollupPlan) reset(down *layout, r *Rollup) {
	p.down, p.r = down, r
	if n := len(r.outs); cap(p.plans) < n {
		p.plans = make([]foldPlan, n)
	} else {
		p.plans = p.plans[:n]
		clear(p.plans)
	}
}

// release drops the layouts p refers to, keeping its buffer, so that
// the pool keeps neither aggregation alive.
func (p *rollupPlan) release() {
	clear(p.plans[:cap(p.plans)])
	p.down, p.r, p.plans = nil, nil, p.plans[:0]
}

// forOutput returns the plan for the series of upstream output oi.
func (p *rollupPlan) forOutput(oi int) *foldPlan {
	fp := &p.plans[oi]
	if fp.up == nil {
		*fp = newRollupPlan(p.down, p.r.up, p.r.outs[oi].kind)
	}
	return fp
}

// rollupIn is the partial of one series as pushSeries folds it.
type rollupIn struct {
	plan *foldPlan
	f    []float64 // upstream accumulators, in plan.up's layout
	sk   *sketch
}

// merge folds the partial ru into slot si of st, whose accumulators are
// f (layout l).
func (l *layout) merge(f []float64, st *slotStore, si int, ru *rollupIn) {
	p, up, u := ru.plan, ru.plan.up, ru.f
	if p.merge&mergeCounts != 0 {
		var n0, nb float64
		if p.has&hasCount != 0 {
			nb = u[up.count]
		}
		if l.count >= 0 {
			n0 = f[l.count]
			f[l.count] = n0 + nb
		}
		if l.sum >= 0 {
			if p.sumFromMean {
				if nb > 0 {
					f[l.sum], f[l.sumC] = kahanAdd(nb*u[up.mean], f[l.sum], f[l.sumC])
				}
			} else {
				f[l.sum], f[l.sumC] = kahanAdd(u[up.sum], f[l.sum], f[l.sumC])
				f[l.sumC] += u[up.sumC]
			}
		}
		if l.mean >= 0 && nb > 0 { // Chan et al.'s parallel Welford merge
			n := n0 + nb
			d := u[up.mean] - f[l.mean]
			f[l.mean] += d * nb / n
			f[l.m2] += u[up.m2] + d*d*n0*nb/n
		}
	}
	if p.merge&mergeMin != 0 {
		if v := u[up.min]; v < f[l.min] || math.IsNaN(f[l.min]) {
			f[l.min] = v
		}
	}
	if p.merge&mergeMax != 0 {
		if v := u[up.max]; v > f[l.max] || math.IsNaN(f[l.max]) {
			f[l.max] = v
		}
	}
	if p.merge&mergeFirst != 0 && u[up.firstTs] < f[l.firstTs] {
		f[l.firstTs], f[l.firstV] = u[up.firstTs], u[up.firstV]
	}
	if p.merge&mergeLast != 0 && u[up.lastTs] >= f[l.lastTs] {
		f[l.lastTs], f[l.lastV] = u[up.lastTs], u[up.lastV]
	}
	if p.merge&mergeIncrease != 0 {
		f[l.increase] += u[up.increase]
	}
	if p.merge&mergeSketch != 0 && ru.sk != nil && ru.sk.count > 0 {
		sk := st.sk[si]
		if sk == nil {
			sk = &sketch{}
			st.sk[si] = sk
		}
		sk.merge(ru.sk)
	}
}

// PushRollup is Push for the output of another aggregation: b is a part
// FlushRollup handed over (each series one sample) and r its Rollup, or
// nil for none (Push). A series with a partial in r is folded by merging
// the state its upstream output represents wherever this aggregation's
// outputs need it, and taken as one sample with its value for the rest;
// see the package doc, "Rollups". Several series of one upstream output,
// group and window that fall into one group here (the φ series of
// quantiles when the quantile label is dropped) are folded once: the
// later ones are matched and marked but add nothing.
//
// Like Push, PushRollup does not modify or keep b or r, and is safe for
// concurrent use with Push, PushRollup and Flush.
func (a *Aggregator) PushRollup(b *batch.Batch, r *Rollup, marks []uint8, now time.Time) {
	if r == nil {
		a.Push(b, marks, now)
		return
	}
	if len(r.of) != len(b.Series) {
		panic("aggregate: PushRollup: the Rollup does not describe the batch")
	}
	nowMs := now.UnixMilli()
	sc := a.scratch.Get().(*pushScratch)
	sc.plan.reset(&a.layout, r)
	sc.rollup = r
	sc.dupPartial = -1 // across pushParts: a partial's series may straddle two
	var c pushCounts
	for lo := 0; lo < len(b.Series); lo += pushPartSize {
		sc.base = lo
		a.pushPart(b.Series[lo:min(lo+pushPartSize, len(b.Series))], marks[lo:], r.of[lo:], nil, nil, nowMs, sc, &c)
	}
	sc.plan.release() // keep neither aggregation alive in the pool
	sc.rollup = nil
	clear(sc.relabeled[:cap(sc.relabeled)])
	clear(sc.okey[:cap(sc.okey)])
	a.scratch.Put(sc)
	a.metrics.add(&c, !a.keepInput)
}

// rollupDup reports whether the series with partial entry e (partial and
// upstream output, Rollup.of) and group hash gh adds nothing because an
// earlier series of the part with the same entry went to the same group.
// Series of one entry are contiguous in a part, so sc remembers only the
// groups of the current entry (across the pushParts of one PushRollup).
func (sc *pushScratch) rollupDup(e int32, gh ghash) bool {
	if e != sc.dupPartial {
		sc.dupPartial = e
		sc.dupGroups = append(sc.dupGroups[:0], gh)
		return false
	}
	for _, g := range sc.dupGroups {
		if g == gh {
			return true
		}
	}
	sc.dupGroups = append(sc.dupGroups, gh)
	return false
}

// rollupInFor returns the partial of series i of the part being pushed
// (of: the part's partial entries, Rollup.of; nil for raw input) in dst,
// or nil.
func (sc *pushScratch) rollupInFor(of []int32, i int32, dst *rollupIn) *rollupIn {
	if of == nil {
		return nil
	}
	e := of[i]
	if e < 0 {
		return nil
	}
	r := sc.rollup
	n := int32(len(r.outs))
	dst.plan = sc.plan.forOutput(int(e % n))
	dst.f, dst.sk = r.partial(e / n)
	return dst
}
