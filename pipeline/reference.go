package pipeline

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/enrich"
)

// referenceLoop emits the reference series of the enrichment tables
// (enrich: series) on a goroutine of its own, so that emitting a large
// table never delays the flush of a window. Run starts it and waits for
// it to end with its context.
type referenceLoop struct {
	wake chan struct{} // buffered 1: the stages changed (Swap)
	done chan struct{}
}

// startReference starts the reference loop; it ends when ctx is done.
func (p *Pipeline) startReference(ctx context.Context) *referenceLoop {
	r := &referenceLoop{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		p.runReference(ctx, r.wake)
	}()
	return r
}

// reschedule makes the loop re-read the tables of the current stages:
// Run calls it after a Swap.
func (r *referenceLoop) reschedule() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// wait returns when the loop has ended.
func (r *referenceLoop) wait() { <-r.done }

// runReference arms one timer on the earliest next emission over the
// tables of the current stages (enrich.Enricher.NextReference), emits
// what is due when it fires, and re-arms; a wake (Swap) re-reads the
// tables. The first emission of a table is due at once.
func (p *Pipeline) runReference(ctx context.Context, wake <-chan struct{}) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
		p.EmitReference(ctx, time.Now())
		timer.Stop()
		if next, ok := p.nextReference(); ok {
			timer.Reset(time.Until(next))
		}
	}
}

// nextReference returns the earliest next reference emission over the
// current tables; false when no table has series.
func (p *Pipeline) nextReference() (time.Time, bool) {
	var next time.Time
	found := false
	for _, e := range p.cur.Load().Enrich {
		t, ok := e.NextReference()
		if ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	return next, found
}

// errTableRetired stops the emission of a table that a Swap removed: the
// stages that replaced it emit their own tables.
var errTableRetired = errors.New("enrichment table no longer in use")

// EmitReference emits the reference series of the enrichment tables of
// the current stages that are due at now (enrich.Enricher.Reference) to
// the sinks, stamped with now, in parts of flushChunk series, and returns
// how many samples it handed to the sinks. Run's reference loop calls it;
// it is safe for concurrent use with everything (a table's emission is
// claimed once).
//
// Each part is sent under the stages in use at that moment, as an Ingest
// request is: it never takes the flush lock, a Swap waits for at most one
// part, the parts after a Swap go to the new sinks, and a table that the
// new stages no longer have stops emitting. A part waits for queue space
// at most until the table's next emission is due; then the rest of the
// emission is dropped (counted by the queues), since the next one
// replaces it.
func (p *Pipeline) EmitReference(ctx context.Context, now time.Time) int {
	total := 0
	for _, e := range p.cur.Load().Enrich {
		if r := e.Reference(now); r != nil {
			total += p.emitReference(ctx, e, r)
		}
	}
	return total
}

func (p *Pipeline) emitReference(ctx context.Context, e *enrich.Enricher, r *enrich.Reference) int {
	sendCtx := ctx
	if next, ok := e.NextReference(); ok {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithDeadline(ctx, next)
		defer cancel()
	}
	n, err := r.Emit(flushChunk, func(part *batch.Batch) error {
		st := p.acquire()
		defer st.use.RUnlock()
		if !slices.Contains(st.Enrich, e) {
			return errTableRetired
		}
		return send(sendCtx, st.Sinks, part)
	})
	if err != nil && !errors.Is(err, errTableRetired) && ctx.Err() == nil { // once per table and emission
		p.log.Warn("reference series not delivered to every remote_write queue", "table", e.Name(),
			"series", r.Series(), "delivered", n, "err", err)
	}
	return n
}
