package pipeline

import (
	"context"
	"math"
	"slices"
	"time"
)

// endOfTime is the flush time that makes every window due, open ones
// included.
var endOfTime = time.UnixMilli(math.MaxInt64 / 4)

// Swap replaces the stages atomically, for a config reload, and returns
// when no Ingest uses the old ones any more. Aggregations present in both
// (the same *aggregate.Aggregator) keep their state: a sample pushed
// before, during or after the swap is counted once. Every old aggregation
// not in next is flushed with force, every window including the open ones
// (emitted with what they hold, stamped with their end), through the old
// chain — into the aggregations after it in the
// old order, then the old sinks — and dropped. Aggregations new in next
// start empty. The old deriver evaluates what it observed (the forced
// windows included) and hands its anomaly history to next's, which keeps
// it for the records that did not change.
//
// The old sinks must keep accepting until Swap returns; the caller stops
// those not in next afterwards. Swap waits for running flushes and for
// ingests on the old stages (an Ingest blocked on a full sink holds it up
// until its context is done).
func (p *Pipeline) Swap(ctx context.Context, next Stages) {
	p.flush.Lock()
	defer p.flush.Unlock()
	old := p.cur.Swap(p.newStages(next))
	old.use.Lock() // waits for ingests that acquired old
	old.retired = true
	old.use.Unlock()
	old.routing.release()                  // no ingest uses it now
	p.routeCacheSize(p.cur.Load().routing) // nor can it change the gauges

	removed := func(i int) bool { return !slices.Contains(next.Aggregations, old.Aggregations[i]) }
	p.flushAggs(ctx, endOfTime, true, old.Aggregations, removed, old.Derive, old.Sinks)
	p.derive(ctx, old.Derive, old.Sinks)
	if old.Derive != nil && next.Derive != nil && old.Derive != next.Derive {
		if err := next.Derive.RestoreState(old.Derive.AppendState(nil)); err != nil {
			p.log.Error("anomaly history not carried over to the reloaded derive records: they start afresh", "err", err)
		}
	}

	select {
	case p.swapped <- struct{}{}:
	default:
	}
}
