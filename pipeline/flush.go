package pipeline

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/derive"
)

// Run flushes windows as they close until ctx is done. It arms one timer
// on the earliest next close over all aggregations, and re-arms it after
// a Swap. The enrichment tables' reference series are emitted meanwhile
// on a goroutine of Run's (reference.go).
func (p *Pipeline) Run(ctx context.Context) {
	ref := p.startReference(ctx)
	defer ref.wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var checkpoints <-chan time.Time
	if p.checkpointing() {
		t := time.NewTicker(p.opts.Checkpoints.Interval)
		defer t.Stop()
		checkpoints = t.C
	}
	var next time.Time     // the next window close, zero: none
	var took time.Duration // how long the last checkpoint took
	checkpointPending := false
	checkpoint := func() {
		began := time.Now()
		if err := p.Checkpoint(began); err != nil {
			p.log.Error("cannot checkpoint the aggregation state", "err", err)
		}
		took, checkpointPending = time.Since(began), false
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.swapped:
			ref.reschedule()
		case <-checkpoints:
			// A checkpoint holds the flush lock: one that would still run
			// when a window closes waits until after that flush, so it
			// never delays the delivery of a window.
			if next.IsZero() || time.Until(next) > 2*took+100*time.Millisecond {
				checkpoint()
			} else {
				checkpointPending = true
			}
			continue
		case <-timer.C:
		}
		now := time.Now()
		p.Flush(ctx, now, false)
		if checkpointPending {
			checkpoint()
		}
		timer.Stop()
		next = time.Time{}
		if n, ok := p.nextFlush(now); ok {
			next = n
			timer.Reset(time.Until(next))
		}
	}
}

// nextFlush returns the earliest next window close; false without
// aggregations.
func (p *Pipeline) nextFlush(now time.Time) (time.Time, bool) {
	var next time.Time
	for _, a := range p.cur.Load().Aggregations {
		t := a.NextFlush(now)
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next, !next.IsZero()
}

// flushChunk is how many output series Flush hands downstream at a time:
// a window of a million groups then needs a batch of this many series,
// not of every output, and delivery starts while the window is still
// being emitted.
const flushChunk = 8192

// Flush emits the windows that are due at now (force: every window whose
// end has passed, ignoring lateness — used at shutdown), feeding each
// aggregation's output to the later aggregations and then to the sinks,
// in parts of flushChunk series built by GOMAXPROCS goroutines
// (aggregate.Aggregator.FlushEach). It blocks while sinks are full, until
// ctx is done.
func (p *Pipeline) Flush(ctx context.Context, now time.Time, force bool) {
	p.flush.Lock()
	defer p.flush.Unlock()
	p.journalEmitted(now, force)
	st := p.cur.Load()
	p.flushAggs(ctx, now, force, st.Aggregations, func(int) bool { return true }, st.Derive, st.Sinks)
	p.derive(ctx, st.Derive, st.Sinks)
}

// derive evaluates the derived records over the outputs the flush just
// emitted (each window's instant at once, after every aggregation
// emitted it) and sends the results. The caller holds p.flush.
func (p *Pipeline) derive(ctx context.Context, d *derive.Deriver, sinks []Sink) {
	if d == nil {
		return
	}
	if err := d.Evaluate(ctx, func(b *batch.Batch) error { return send(ctx, sinks, b) }); err != nil {
		p.log.Warn("derived records not delivered to every remote_write queue", "err", err)
	}
}

// flushAggs flushes the aggregations aggs[i] for which which(i) holds, in
// order, routing each output to aggs[i+1:], showing it to the deriver d
// (nil: none) and then sending it to sinks. The caller holds p.flush.
// Outputs that later aggregations may consume are flushed with their
// window state (FlushRollup), so those roll them up exactly.
func (p *Pipeline) flushAggs(ctx context.Context, now time.Time, force bool, aggs []*aggregate.Aggregator, which func(int) bool, d *derive.Deriver, sinks []Sink) {
	for i, a := range aggs {
		if !which(i) {
			continue
		}
		undelivered := 0
		var lastErr error
		var mu sync.Mutex // fn runs on several flush goroutines
		fn := func(part *batch.Batch, r *aggregate.Rollup) {
			sc := p.scratch.Get().(*scratch)
			defer p.scratch.Put(sc)
			if d != nil {
				d.Observe(part)
			}
			if err := p.route(ctx, part, r, aggs[i+1:], sinks, sc); err != nil {
				mu.Lock()
				undelivered += len(part.Series)
				lastErr = err
				mu.Unlock()
			}
		}
		if i+1 < len(aggs) {
			a.FlushRollup(now, force, flushChunk, 0, fn)
		} else {
			a.FlushEach(now, force, flushChunk, 0, func(part *batch.Batch) { fn(part, nil) })
		}
		if lastErr != nil { // once per aggregation and flush, not per part
			p.log.Warn("aggregation output not delivered to every remote_write queue", "aggregation", a.Name(), "series", undelivered, "err", lastErr)
		}
	}
}

// route hands one part of an aggregation's output, with its window state
// r (nil: none), to the aggregations after it, then sends what none of
// them consumed.
func (p *Pipeline) route(ctx context.Context, out *batch.Batch, r *aggregate.Rollup, downstream []*aggregate.Aggregator, sinks []Sink, sc *scratch) error {
	sc.marks = resetMarks(sc.marks, len(out.Series))
	if len(downstream) > 0 {
		// Downstream, an output stamped with its window end belongs to
		// the window that contains end-1ms: shift in place (Push does
		// not modify or keep the batch) and shift back for the sinks.
		// Judge lateness downstream as of the upstream window end, not
		// the flush time: a downstream window is late for an upstream
		// output only if it was emitted already (see the package doc).
		due := time.UnixMilli(shiftTimestamps(out, -1))
		for _, down := range downstream {
			down.PushRollup(out, r, sc.marks, due)
		}
		shiftTimestamps(out, 1)
	}
	// Outputs leave unless a later aggregation consumed them.
	if p.forward(out, sc.marks, true) == 0 {
		return nil
	}
	return send(ctx, sinks, out)
}

// shiftTimestamps adds delta to every sample timestamp of b and returns
// the earliest timestamp before the shift.
func shiftTimestamps(b *batch.Batch, delta int64) (earliest int64) {
	earliest = math.MaxInt64
	for i := range b.Series {
		ss := b.Series[i].Samples
		for j := range ss {
			earliest = min(earliest, ss[j].Timestamp)
			ss[j].Timestamp += delta
		}
	}
	return earliest
}
