package pipeline

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
)

// Run flushes windows as they close until ctx is done. It arms one timer
// on the earliest next close over all aggregations.
func (p *Pipeline) Run(ctx context.Context) {
	if len(p.opts.Aggregations) == 0 {
		<-ctx.Done()
		return
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		p.Flush(ctx, now, false)
		next := p.nextFlush(now)
		timer.Reset(time.Until(next))
	}
}

func (p *Pipeline) nextFlush(now time.Time) time.Time {
	var next time.Time
	for _, a := range p.opts.Aggregations {
		t := a.NextFlush(now)
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
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
	aggs := p.opts.Aggregations
	for i, a := range aggs {
		undelivered := 0
		var lastErr error
		var mu sync.Mutex // fn runs on several flush goroutines
		a.FlushEach(now, force, flushChunk, 0, func(part *batch.Batch) {
			sc := p.scratch.Get().(*scratch)
			defer p.scratch.Put(sc)
			if err := p.route(ctx, part, aggs[i+1:], sc); err != nil {
				mu.Lock()
				undelivered += len(part.Series)
				lastErr = err
				mu.Unlock()
			}
		})
		if lastErr != nil { // once per aggregation and flush, not per part
			p.log.Warn("aggregation output not delivered to every remote_write queue", "aggregation", a.Name(), "series", undelivered, "err", lastErr)
		}
	}
}

// route hands one part of an aggregation's output to the aggregations
// after it, then sends what none of them consumed.
func (p *Pipeline) route(ctx context.Context, out *batch.Batch, downstream []*aggregate.Aggregator, sc *scratch) error {
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
			down.Push(out, sc.marks, due)
		}
		shiftTimestamps(out, 1)
	}
	// Outputs leave unless a later aggregation consumed them.
	if p.forward(out, sc.marks, true) == 0 {
		return nil
	}
	return p.send(ctx, out)
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
