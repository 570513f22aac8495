package aggregate

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// quantileLabel is the label that tells the φ of a quantiles output.
const quantileLabel = "quantile"

// emitRec is one group's window taken out of a shard by Flush: all that
// building its outputs needs, so that happens without the shard lock.
type emitRec struct {
	labels string  // packed group labels
	vals   int     // offset of its output values in Aggregator.vals
	skip   uint32  // bit i: output i emits nothing (rates without a delta)
	sk     *sketch // quantiles: the window's sketch, swapped out of the slot
	pw     int     // FlushRollup: offset of the window's accumulators in flushWorker.pwords
	stale  bool    // a forgotten group: emit a stale marker per output series, vals unused
}

// staleNaN is the value of a Prometheus staleness marker
// (prometheus/model/value.StaleNaN).
var staleNaN = math.Float64frombits(0x7ff0000000000002)

// flushWorker is what building outputs needs, one per flush goroutine:
// groups' windows taken out of shards, their values, and scratch.
type flushWorker struct {
	emitBuf []emitRec
	vals    []float64 // output values of emitBuf
	skPool  []*sketch // emptied sketches, swapped into slots whose window was emitted
	lbuf    []batch.Label
	qbuf    []batch.Label
	rbuf    []batch.Label
	sbuf    [1]batch.Sample
	hist    batch.Histogram // emitHistogram's scratch: its spans and deltas are reused
	part    *batch.Batch    // FlushEach: this worker's part
	emitted int

	// FlushRollup: the accumulators of emitBuf's windows (layout words,
	// back to back), and the Rollup of part; rollup is nil in other
	// flushes.
	pwords []float64
	rollup *Rollup
	ru     Rollup
}

// Flush appends to dst one sample per output series for every window
// that is due and forgets those windows; samples for them are late from
// then on. A window is due when end + lateness <= now, or, with force
// (shutdown), when end <= now. Outputs are appended in window order and
// stamped with the window end; their label strings are owned by the
// aggregator and immutable, so dst may keep them.
//
// Flush also forgets groups and per-series state that have seen no
// sample for staleness_interval, and updates the series gauge. For every
// output series of a forgotten group it appends a stale marker after the
// outputs, stamped with the watermark of this Flush (now - lateness); a
// Flush with force forgets no group. See the package doc.
//
// Each shard is locked only to take the window's values out of its
// slots (the slots are free for Push again right away); outputs are
// built without holding shard locks. Concurrent Flush and FlushEach calls
// are serialized.
func (a *Aggregator) Flush(now time.Time, force bool, dst *batch.Batch) {
	a.flush(now, force, func(w int64, ts int64) {
		fw := a.worker(0)
		fw.rollup = nil
		for i := range a.shards {
			a.takeOutLocked(fw, &a.shards[i], w)
			a.emitAll(fw, ts, dst, 0, nil)
		}
	}, func(fw *flushWorker, ts int64) {
		fw.rollup = nil
		a.emitAll(fw, ts, dst, 0, nil)
	})
}

// FlushEach is Flush handing the outputs over in parts of at least max
// series (the last part of each window may be smaller), built by up to
// workers goroutines at once (0: GOMAXPROCS), each over its own shards.
// fn may thus run concurrently, each call with its own part; it must not
// keep the part or its slices (label strings may be kept), and must be
// safe for concurrent use. Every part of a window is handed over before
// any part of a later window, so each output series' samples come in
// time order; stale markers come last, in parts of their own, from one
// goroutine. Emitting a window of a million groups thus needs a few
// batches of max series, not one of every output, and on a busy machine
// it gets several goroutines' share of the CPU. fn runs without any shard
// lock held, so it may block (on a full queue) without stalling Push.
func (a *Aggregator) FlushEach(now time.Time, force bool, max, workers int, fn func(*batch.Batch)) {
	a.flushEach(now, force, max, workers, false, func(b *batch.Batch, _ *Rollup) { fn(b) })
}

// FlushRollup is FlushEach handing over, with every part, its Rollup: the
// window state behind each output series, for PushRollup of the
// aggregations that consume these outputs. The Rollup, like the part, is
// valid only during the call of fn. Collecting it costs a copy of each
// window's accumulators, and sketches are recycled only after fn
// returns.
func (a *Aggregator) FlushRollup(now time.Time, force bool, max, workers int, fn func(*batch.Batch, *Rollup)) {
	a.flushEach(now, force, max, workers, true, fn)
}

func (a *Aggregator) flushEach(now time.Time, force bool, max, workers int, rollup bool, fn func(*batch.Batch, *Rollup)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(a.shards))
	a.flush(now, force, func(w int64, ts int64) {
		var next atomic.Int64 // the next shard to take
		var wg sync.WaitGroup
		for wi := range workers {
			fw := a.worker(wi)
			a.prepare(fw, rollup)
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(a.shards) {
						break
					}
					a.takeOutLocked(fw, &a.shards[i], w)
					a.emitAll(fw, ts, fw.part, max, fn)
				}
				if len(fw.part.Series) > 0 {
					handOver(fw, fw.part, fn)
				}
			})
		}
		wg.Wait()
	}, func(fw *flushWorker, ts int64) {
		a.prepare(fw, rollup)
		a.emitAll(fw, ts, fw.part, max, fn)
		if len(fw.part.Series) > 0 {
			handOver(fw, fw.part, fn)
		}
	})
}

// prepare readies fw for a FlushEach (rollup false) or FlushRollup.
func (a *Aggregator) prepare(fw *flushWorker, rollup bool) {
	if fw.part == nil {
		fw.part = &batch.Batch{}
	}
	fw.rollup = nil
	if rollup {
		fw.ru.reset(&a.layout, a.outputs)
		fw.rollup = &fw.ru
	}
}

// handOver hands part (with its Rollup in a FlushRollup) to fn, then
// empties both.
func handOver(fw *flushWorker, part *batch.Batch, fn func(*batch.Batch, *Rollup)) {
	fn(part, fw.rollup)
	part.Reset()
	if fw.rollup != nil {
		fw.rollup.release(fw)
	}
}

// worker returns flush worker i, creating it on first use. Called with
// flushMu held.
func (a *Aggregator) worker(i int) *flushWorker {
	for len(a.workers) <= i {
		a.workers = append(a.workers, &flushWorker{})
	}
	return a.workers[i]
}

// flush raises the watermarks, sweeps, calls emitWindow for every due
// window in order, with the timestamp of its outputs, then emitMarkers
// with the stale markers of the groups it forgot in fw's emit buffer.
func (a *Aggregator) flush(now time.Time, force bool, emitWindow func(w, ts int64), emitMarkers func(fw *flushWorker, ts int64)) {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	began := time.Now()
	nowMs := now.UnixMilli()
	cutoff := nowMs - a.latenessMs
	if force {
		cutoff = nowMs
	}

	due := a.due[:0]
	tracked := 0
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		prev := sh.watermark
		sh.watermark = max(prev, cutoff)
		for _, o := range sh.open {
			if (o.win+1)*a.intervalMs > sh.watermark {
				break
			}
			due = append(due, o.win)
		}
		// Groups are forgotten only when the watermark moves on: every
		// window they emitted ends at or before prev < cutoff, the
		// timestamp of their stale markers. A forced Flush (shutdown, or
		// configtest's end of time) forgets none: its clock is no time
		// to stamp markers with.
		a.sweep(sh, nowMs, !force && sh.watermark > prev)
		tracked += sh.nGroups + sh.counters.len() + sh.counted.len() + sh.dedup.len()
		sh.mu.Unlock()
	}
	a.metrics.series.Set(float64(tracked))
	a.card.advance(nowMs) // rotates the input cardinality estimates without input too

	if len(due) > 0 {
		slices.Sort(due)
		due = slices.Compact(due)
		for _, w := range due {
			emitWindow(w, (w+1)*a.intervalMs)
		}
		emitted := 0
		for _, fw := range a.workers {
			emitted += fw.emitted
			fw.emitted = 0
		}
		if emitted > 0 {
			a.metrics.output.Add(float64(emitted))
		}
		a.metrics.flush.Observe(time.Since(began).Seconds())
	}
	a.due = due[:0]

	if len(a.stale) > 0 {
		fw := a.worker(0)
		fw.emitBuf = append(fw.emitBuf, a.stale...)
		clear(a.stale) // drop the label strings
		a.stale = a.stale[:0]
		emitMarkers(fw, cutoff)
		if fw.emitted > 0 {
			a.metrics.markers.Add(float64(fw.emitted))
		}
		fw.emitted = 0
	}
}

// takeOutLocked is takeOut under the shard's lock.
func (a *Aggregator) takeOutLocked(fw *flushWorker, sh *shard, w int64) {
	sh.mu.Lock()
	a.takeOut(fw, sh, w)
	sh.mu.Unlock()
}

// takeOut moves every slot of window w in sh into fw's emit buffer and
// frees it. The caller holds sh.mu.
func (a *Aggregator) takeOut(fw *flushWorker, sh *shard, w int64) {
	n, extra := sh.takeWindow(w)
	k := a.slotsK
	inline := n - extra
	for gid := 0; inline > 0 && gid < len(sh.groups); gid++ {
		for i := gid * k; i < gid*k+k; i++ {
			if sh.slots.win(i) == w {
				a.copyOut(fw, sh, &sh.slots, i, uint32(gid))
				inline--
			}
		}
	}
	if extra == 0 {
		return
	}
	for key, i := range sh.extra {
		if key.win != w {
			continue
		}
		a.copyOut(fw, sh, &sh.extraSlots, int(i), key.gid)
		delete(sh.extra, key)
		sh.groups[key.gid].addExtra(-1)
		sh.freeExtra = append(sh.freeExtra, i)
	}
}

// copyOut computes the output values of slot i of st, which belongs to
// group gid of sh, appends them to fw's emit buffer and frees the slot.
func (a *Aggregator) copyOut(fw *flushWorker, sh *shard, st *slotStore, i int, gid uint32) {
	l, f := &a.layout, st.f(i)
	r := emitRec{labels: sh.labels.get(sh.groups[gid].lref), vals: len(fw.vals)}
	if fw.rollup != nil {
		r.pw = len(fw.pwords)
		fw.pwords = append(fw.pwords, f...)
	}
	for oi := range a.outputs {
		var v float64
		switch a.outputs[oi].kind {
		case outSumSamples:
			v = kahanSum(f[l.sum], f[l.sumC])
		case outCountSamples:
			v = f[l.count]
		case outCountSeries:
			v = f[l.countSeries]
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
			v = float64(len(st.uniq[i]))
		case outQuantiles, outHistogram:
			if r.sk == nil { // both outputs read the one sketch
				r.sk = st.sk[i]
				st.sk[i] = fw.spareSketch()
			}
			if a.outputs[oi].kind == outHistogram {
				v = kahanSum(f[l.sum], f[l.sumC])
			}
		case outIncrease:
			v = f[l.increase]
		case outTotal:
			sh.totals[gid] += f[l.increase]
			v = sh.totals[gid]
		case outRateSum, outRateAvg:
			rs := st.rates[i]
			if len(rs) == 0 { // no series had a baseline before its delta
				r.skip |= 1 << oi
				break
			}
			sh.groups[gid].meta |= metaRates
			for _, ra := range rs {
				v += ra.delta / (float64(ra.lastTs-ra.baseTs) / 1000)
			}
			if a.outputs[oi].kind == outRateAvg {
				v /= float64(len(rs))
			}
		}
		fw.vals = append(fw.vals, v)
	}
	fw.emitBuf = append(fw.emitBuf, r)
	releaseSlot(st, i)
}

// spareSketch returns an empty sketch for a slot whose sketch is being
// emitted, reusing the buckets of sketches emitted before.
func (fw *flushWorker) spareSketch() *sketch {
	if n := len(fw.skPool); n > 0 {
		sk := fw.skPool[n-1]
		fw.skPool[n-1] = nil
		fw.skPool = fw.skPool[:n-1]
		return sk
	}
	return &sketch{}
}

// emitAll builds the outputs of fw's emit buffer, stamped ts, into dst
// and empties the buffer; with fn, it hands dst over whenever it holds
// chunk series. It counts the samples appended in fw.emitted. In a
// FlushRollup it records every output series' partial and output in
// fw.rollup (emit the series, add the partial), which takes the window's
// sketch until the part is handed over.
func (a *Aggregator) emitAll(fw *flushWorker, ts int64, dst *batch.Batch, chunk int, fn func(*batch.Batch, *Rollup)) {
	for j := range fw.emitBuf {
		r := &fw.emitBuf[j]
		n := a.emit(fw, r, ts, dst)
		fw.emitted += n
		if fw.rollup != nil {
			fw.rollup.add(fw, r, n)
		}
		if r.sk != nil {
			r.sk.reset()
			fw.skPool = append(fw.skPool, r.sk)
		}
		if fn != nil && len(dst.Series) >= chunk {
			handOver(fw, dst, fn)
		}
	}
	clear(fw.emitBuf) // drop the label strings
	fw.emitBuf = fw.emitBuf[:0]
	fw.vals = fw.vals[:0]
	fw.pwords = fw.pwords[:0]
}

// emit appends the outputs of one group's window and returns how many
// samples it appended.
func (a *Aggregator) emit(fw *flushWorker, r *emitRec, ts int64, dst *batch.Batch) int {
	ls, nameIdx, sym := a.syms.unpack(r.labels, fw.lbuf[:0])
	fw.lbuf = ls[:0]
	var names []string
	if sym != nil {
		names = sym.out
	} else { // the metric table was full: the name is inline
		names = a.outputNamesFor(ls[nameIdx].Value)
	}
	var vals []float64
	if !r.stale {
		vals = fw.vals[r.vals : r.vals+len(a.outputs)]
	}
	n := 0
	for oi := range a.outputs {
		o := &a.outputs[oi]
		if o.kind == outHistogram && !r.stale {
			ls[nameIdx].Value = names[oi]
			k := a.emitHistogram(fw, o, r, vals[oi], ls, ts, dst)
			n += k
			if fw.rollup != nil {
				fw.rollup.series(r, oi, k)
			}
			continue
		}
		if o.kind == outQuantiles {
			k := a.emitQuantiles(fw, o, r, ls, names[oi], ts, dst)
			n += k
			if fw.rollup != nil {
				fw.rollup.series(r, oi, k)
			}
			continue
		}
		if r.skip&(1<<oi) != 0 {
			continue
		}
		v := staleNaN
		if !r.stale {
			v = vals[oi]
		}
		ls[nameIdx].Value = names[oi]
		k := a.appendOutput(fw, dst, ls, ts, v)
		n += k
		if fw.rollup != nil {
			fw.rollup.series(r, oi, k)
		}
	}
	return n
}

// emitQuantiles appends one sample per φ of o, labelled quantile="φ": the
// φ-quantile of r's sketch, or a stale marker for a forgotten group.
func (a *Aggregator) emitQuantiles(fw *flushWorker, o *output, r *emitRec, ls []batch.Label, name string, ts int64, dst *batch.Batch) int {
	qls := append(fw.qbuf[:0], ls...)
	i, found := slices.BinarySearchFunc(qls, quantileLabel, func(l batch.Label, n string) int { return cmp.Compare(l.Name, n) })
	if !found {
		qls = slices.Insert(qls, i, batch.Label{Name: quantileLabel})
	}
	fw.qbuf = qls[:0]
	nameIdx, _ := slices.BinarySearchFunc(qls, batch.MetricName, func(l batch.Label, n string) int { return cmp.Compare(l.Name, n) })
	qls[nameIdx].Value = name
	n := 0
	for pi, phi := range o.phis {
		v := math.NaN()
		switch {
		case r.stale:
			v = staleNaN
		case r.sk != nil:
			v = r.sk.quantile(phi)
		}
		qls[i].Value = o.phiS[pi]
		n += a.appendOutput(fw, dst, qls, ts, v)
	}
	return n
}

// emitHistogram appends the native histogram of r's sketch at o's schema,
// with the window's sum, and returns 1 (0 when output relabeling dropped
// it). Its float stand-in is the mean.
func (a *Aggregator) emitHistogram(fw *flushWorker, o *output, r *emitRec, sum float64, ls []batch.Label, ts int64, dst *batch.Batch) int {
	ls, keep := a.relabelOutput(fw, ls)
	if !keep {
		return 0
	}
	h := &fw.hist
	sk := r.sk
	if sk == nil {
		sk = &sketch{}
	}
	sk.histogram(o.schema, h)
	h.Sum = sum
	dst.AppendHistogramSeries(ls, ts, sum/float64(h.Count), h)
	return 1
}

// appendOutput appends one output sample with labels ls after output
// relabeling. It returns 1, or 0 when output_relabel_configs dropped the
// series.
func (a *Aggregator) appendOutput(fw *flushWorker, dst *batch.Batch, ls []batch.Label, ts int64, v float64) int {
	ls, keep := a.relabelOutput(fw, ls)
	if !keep {
		return 0
	}
	fw.sbuf[0] = batch.Sample{Timestamp: ts, Value: v}
	dst.AppendSeries(ls, fw.sbuf[:])
	return 1
}

// relabelOutput applies output_relabel_configs to ls (into fw's buffer).
func (a *Aggregator) relabelOutput(fw *flushWorker, ls []batch.Label) ([]batch.Label, bool) {
	if a.outRelabel == nil {
		return ls, true
	}
	out, keep := a.outRelabel.Apply(ls, fw.rbuf)
	fw.rbuf = out[:0]
	return out, keep
}
