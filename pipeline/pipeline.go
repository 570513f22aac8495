package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/derive"
	"github.com/premetrics/premetrics/enrich"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/rules"
	"github.com/premetrics/premetrics/telemetry"
)

// Sink receives what leaves the pipeline. *remotewrite.Queue implements it.
// Its methods are called concurrently (by ingest and by the flush workers).
type Sink interface {
	// Enqueue takes the samples of b, blocking while full until ctx is
	// done. The caller keeps b.
	Enqueue(ctx context.Context, b *batch.Batch) error
	// Full reports whether the sink wants ingest to back off.
	Full() bool
}

// Options configures a Pipeline.
type Options struct {
	Relabel          *rules.Relabeler   // nil: no global relabeling
	Enrich           []*enrich.Enricher // applied in order after relabeling
	Aggregations     []*aggregate.Aggregator
	Derive           *derive.Deriver // nil: no derived records
	ForwardUnmatched bool
	Sinks            []Sink
	Dropped          *prometheus.CounterVec // premetrics_dropped_samples_total
	Logger           *slog.Logger
	// RetryAfter is the hint given to clients while sinks are full.
	RetryAfter time.Duration
	// Now is the wall clock Ingest judges lateness by; nil: time.Now.
	// premetrics test drives it.
	Now func() time.Time
	// Checkpoints: where and how often aggregation state is saved; zero:
	// no checkpoints (state is lost on restart, Shutdown flushes open
	// windows instead).
	Checkpoints Checkpoints
	// RouteCacheLines sizes each generation's route cache (package
	// routecache; 64 bytes a line); 0: none, every series is matched and
	// grouped at every push.
	RouteCacheLines   int
	RouteCacheMetrics *RouteCacheMetrics // nil: not counted
}

// Stages are the parts of a Pipeline that a config reload replaces
// (Swap). A Stages value is immutable once handed to the Pipeline.
type Stages struct {
	Relabel          *rules.Relabeler   // nil: no global relabeling
	Enrich           []*enrich.Enricher // applied in order after relabeling
	Aggregations     []*aggregate.Aggregator
	Derive           *derive.Deriver // nil: no derived records
	ForwardUnmatched bool
	Sinks            []Sink
}

// stages is one generation of Stages. Ingest holds use for reading while
// it works on them, so Swap can wait until no ingest uses a retired
// generation before it flushes the aggregations that generation dropped.
type stages struct {
	Stages
	routing *routing // nil: no route cache
	use     sync.RWMutex
	retired bool // under use
}

// newStages returns a generation of s with its own route cache.
func (p *Pipeline) newStages(s Stages) *stages {
	st := &stages{Stages: s, routing: newRouting(s, p.opts.RouteCacheLines)}
	p.routeCacheSize(st.routing)
	return st
}

// Pipeline runs batches through the stages. Ingest, Admit, Flush and Swap
// are safe for concurrent use; Run is called once.
type Pipeline struct {
	opts    Options // Relabel, Enrich, Aggregations, ForwardUnmatched, Sinks: see cur
	log     *slog.Logger
	flush   sync.Mutex // serialises flushes (Run, Shutdown) and swaps
	cur     atomic.Pointer[stages]
	swapped chan struct{} // wakes Run after a Swap; buffered 1

	relabelDrops  prometheus.Counter
	unmatchedDrop prometheus.Counter
	scratch       sync.Pool // *scratch
}

type scratch struct {
	marks  []uint8
	labels []batch.Label
	routes routeScratch
}

// New returns a Pipeline over already compiled stages.
func New(opts Options) *Pipeline {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Dropped == nil {
		opts.Dropped = telemetry.NewDroppedSamples(nil)
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Pipeline{
		opts:          opts,
		log:           opts.Logger,
		swapped:       make(chan struct{}, 1),
		relabelDrops:  opts.Dropped.WithLabelValues(telemetry.StageRelabel, "relabel_drop"),
		unmatchedDrop: opts.Dropped.WithLabelValues(telemetry.StageRoute, "unmatched"),
	}
	p.cur.Store(p.newStages(Stages{
		Relabel:          opts.Relabel,
		Enrich:           opts.Enrich,
		Aggregations:     opts.Aggregations,
		Derive:           opts.Derive,
		ForwardUnmatched: opts.ForwardUnmatched,
		Sinks:            opts.Sinks,
	}))
	p.scratch.New = func() any { return &scratch{} }
	return p
}

// Stages returns the stages in use now.
func (p *Pipeline) Stages() Stages { return p.cur.Load().Stages }

// acquire returns the current generation, held for reading until release.
func (p *Pipeline) acquire() *stages {
	for {
		st := p.cur.Load()
		st.use.RLock()
		if !st.retired {
			return st
		}
		st.use.RUnlock() // swapped meanwhile: take the new one
	}
}

// Admit implements ingest.Pipeline: false while any sink is full.
func (p *Pipeline) Admit() (time.Duration, bool) {
	for _, s := range p.cur.Load().Sinks {
		if s.Full() {
			return p.opts.RetryAfter, false
		}
	}
	return 0, true
}

// Ingest implements ingest.Pipeline. It edits b in place.
func (p *Pipeline) Ingest(ctx context.Context, b *batch.Batch) error {
	// One generation for the whole request: a Swap meanwhile waits, so a
	// sample is in exactly one generation's aggregations.
	st := p.acquire()
	defer st.use.RUnlock()
	sc := p.scratch.Get().(*scratch)
	defer p.scratch.Put(sc)

	// With a route cache, every series' key is taken right after its
	// last change of labels, while they are in cache: in the relabel
	// pass, or after enrichment. Series with an Ident are looked up by it
	// before relabeling instead, where the stages allow (idents.go).
	now := p.opts.Now()
	var routes *routeScratch
	if st.routing != nil && st.routing.active(now) {
		routes = &sc.routes
		routes.begin(st.routing, len(b.Series), now)
	}
	byIdent := routes != nil && st.routing.byIdent && len(b.Series) > 0 && b.Series[0].Ident != (batch.Ident{})
	if !byIdent {
		b.LoadAllLabels() // those a decoder left undecoded (batch.IdentIndex)
	}
	if byIdent {
		routes.lookupIdents(b)
		pending := p.relabelByIdent(st.Relabel, b, sc)
		clear(sc.labels[:cap(sc.labels)]) // do not keep b's strings alive in the pool
		if len(b.Series) == 0 {
			p.routesDone(st.routing, routes, now)
			return nil
		}
		routes.layout()
		sc.marks = resetMarks(sc.marks, len(b.Series))
		p.pushRouted(st, b, sc.marks, routes, routes.lazy.source(st.Relabel, b, pending), now)
		routes.lazy.release()
		// Nothing is forwarded (identRoutable): unmatched input is dropped.
		p.forward(b, sc.marks, false)
		return nil
	}
	keyInRelabel := routes != nil && len(st.Enrich) == 0
	if st.Relabel != nil || keyInRelabel {
		var keys *routeScratch
		if keyInRelabel {
			keys = routes
		}
		p.relabel(st.Relabel, b, sc, keys)
	}
	for _, e := range st.Enrich {
		e.Apply(b) // counts its own drops
	}
	if routes != nil && !keyInRelabel {
		for i := range b.Series {
			routes.add(b.Series[i].Labels)
		}
	}
	if len(b.Series) == 0 {
		if routes != nil {
			routes.r = nil
		}
		return nil
	}
	sc.marks = resetMarks(sc.marks, len(b.Series))
	if routes != nil {
		routes.finish()
		p.pushRouted(st, b, sc.marks, routes, nil, now)
	} else {
		for _, a := range st.Aggregations {
			a.Push(b, sc.marks, now)
		}
	}
	if p.forward(b, sc.marks, st.ForwardUnmatched) == 0 {
		return nil
	}
	return send(ctx, st.Sinks, b)
}

// relabel applies the global relabel rules (r may be nil) to every series
// of b in place: labels are removed and replaced within the series' own
// labels, and only a series that gains a label is copied into b's arena.
// Series dropped are removed from b. With keys, each kept series' labels
// are added to it as soon as they are final.
func (p *Pipeline) relabel(r *rules.Relabeler, b *batch.Batch, sc *scratch, keys *routeScratch) {
	kept, dropped := 0, 0
	for i := range b.Series {
		s := &b.Series[i]
		out, inBuf, keep := r.ApplyInPlace(s.Labels, sc.labels)
		switch {
		case !keep:
			dropped += len(s.Samples)
			continue
		case inBuf:
			sc.labels = out[:0]
			b.SetLabels(i, out)
		default:
			s.Labels = out
		}
		if kept != i {
			b.Series[kept] = *s
		}
		if keys != nil {
			keys.add(b.Series[kept].Labels)
		}
		kept++
	}
	clear(b.Series[kept:])
	b.Series = b.Series[:kept]
	clear(sc.labels[:cap(sc.labels)]) // do not keep b's strings alive in the pool
	if dropped > 0 {
		p.relabelDrops.Add(float64(dropped))
	}
}

// forward keeps the series of b that leave the pipeline as they are:
// input an aggregation kept (keep_input), and unmatched input when
// forwardUnmatched. It returns how many series remain.
func (p *Pipeline) forward(b *batch.Batch, marks []uint8, forwardUnmatched bool) int {
	i := 0
	unmatched := 0
	b.Filter(func(s *batch.Series) bool {
		m := marks[i]
		i++
		switch {
		case m&aggregate.MarkKept != 0:
			return true
		case m == 0 && forwardUnmatched:
			return true
		case m == 0:
			unmatched += len(s.Samples)
		}
		return false
	})
	if unmatched > 0 {
		p.unmatchedDrop.Add(float64(unmatched))
	}
	return len(b.Series)
}

func send(ctx context.Context, sinks []Sink, b *batch.Batch) error {
	for _, s := range sinks {
		if err := s.Enqueue(ctx, b); err != nil {
			return fmt.Errorf("cannot enqueue for remote write: %w: %w", ingest.ErrBackoff, err)
		}
	}
	return nil
}

// resetMarks returns m with length n, all zero.
func resetMarks(m []uint8, n int) []uint8 {
	m = extend(m, n)
	clear(m)
	return m
}
