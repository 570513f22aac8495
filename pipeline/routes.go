package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/routecache"
)

// routing is one generation's route cache: its aggregations' Routes by
// series, so that a series seen again skips matching, grouping and the
// group lookup in every aggregation with a column.
type routing struct {
	cache *routecache.Cache
	cols  []int // column of each aggregation, by index; -1: not cached
	used  int   // columns in use
	// byIdent: series with a batch.Ident are looked up by it, before
	// relabeling (see ingestByIdent), and column hashCol of every line
	// holds the series hash.
	byIdent bool

	// The cache is off (dropped, not used) from a period in which fewer
	// than routeMinHitRatio of the lookups hit until offUntil (Unix s).
	off           atomic.Bool
	offUntil      atomic.Int64
	lookups, hits atomic.Int64 // in the current period
	period        int64        // lookups per period
	onChange      func(on bool)
}

// A period of lookups ends after routePeriodLines lookups per line: the
// first sight of as many series as the cache has lines costs at most a
// quarter of a period's hits. A cache that hits less than routeMinHitRatio
// of a period's lookups is dropped for routeOffFor: a lookup (key, line
// reads) costs roughly half to two thirds of what a hit saves in the
// profiles of BenchmarkIngestBenchYAML and of the harness' scenario a, so
// below 60% hits the cache costs more CPU than it saves, and keeps its
// memory for nothing.
const (
	routePeriodLines = 4
	routeMinHitRatio = 0.6
	routeOffFor      = 10 * time.Minute
)

// active reports whether the cache is to be used for a request at now,
// turning it on again once its time off is over.
func (r *routing) active(now time.Time) bool {
	if !r.off.Load() {
		return true
	}
	if now.Unix() < r.offUntil.Load() || !r.off.CompareAndSwap(true, false) {
		return false
	}
	r.lookups.Store(0)
	r.hits.Store(0)
	if r.onChange != nil {
		r.onChange(true)
	}
	return true
}

// account adds a request's lookups and hits; the request that ends a
// period judges it.
func (r *routing) account(lookups, hits int, now time.Time) {
	r.hits.Add(int64(hits))
	n := r.lookups.Add(int64(lookups))
	if n < r.period || n-int64(lookups) >= r.period {
		return
	}
	h := r.hits.Swap(0)
	r.lookups.Store(0)
	if float64(h) >= routeMinHitRatio*float64(n) {
		return
	}
	r.offUntil.Store(now.Add(routeOffFor).Unix())
	r.off.Store(true)
	r.cache.Drop()
	if r.onChange != nil {
		r.onChange(false)
	}
}

// put stores rs as k's routes, unless the cache is off: requests that
// were running when it was dropped would otherwise write lines all over
// it, and so have the OS give back nearly every page of it.
func (r *routing) put(k routecache.Key, rs *routecache.Routes, now uint32) {
	if !r.off.Load() {
		r.cache.Put(k, rs, now)
	}
}

// newRouting returns the routing for s with a cache of lines lines, or
// nil when lines is 0 or no aggregation takes routes.
func newRouting(s Stages, lines int) *routing {
	if lines <= 0 {
		return nil
	}
	aggs := s.Aggregations
	r := &routing{cols: make([]int, len(aggs))}
	for i, a := range aggs {
		r.cols[i] = -1
		if a.Routable() && r.used < routecache.Columns {
			r.cols[i] = r.used
			r.used++
		}
	}
	if r.used == 0 {
		return nil
	}
	r.byIdent = identRoutable(s)
	r.cache = routecache.New(lines)
	r.period = routePeriodLines * int64(r.cache.Lines())
	return r
}

// hashCol is the column that holds the series hash when routing.byIdent.
const hashCol = routecache.Columns - 1

// identRoutable reports whether s can take series by their batch.Ident:
// whether nothing but the aggregations' routes depends on a series'
// labels, so that a series all of them have a route for need not be
// relabeled. Not with enrichment (its tables change under a key),
// forwarded input (keep_input, forward_unmatched: sent with its labels),
// an aggregation without a column, or no column left for the hash.
func identRoutable(s Stages) bool {
	if len(s.Enrich) > 0 || s.ForwardUnmatched || len(s.Aggregations) > hashCol {
		return false
	}
	for _, a := range s.Aggregations {
		if !a.Routable() || a.KeepsInput() {
			return false
		}
	}
	return true
}

// RouteCacheMetrics count what the route caches are asked.
type RouteCacheMetrics struct {
	hits, misses prometheus.Counter
	bytes        prometheus.Gauge
	active       prometheus.Gauge
}

// NewRouteCacheMetrics registers the route cache metrics with reg (when
// not nil).
func NewRouteCacheMetrics(reg prometheus.Registerer) *RouteCacheMetrics {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "premetrics_route_cache_lookups_total",
		Help: "Input series looked up in the route cache (--route-cache.series), by result: hit (the aggregations skip matching, grouping and the group lookup) or miss.",
	}, []string{"result"})
	m := &RouteCacheMetrics{
		hits:   lookups.WithLabelValues("hit"),
		misses: lookups.WithLabelValues("miss"),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "premetrics_route_cache_bytes",
			Help: "Memory of the route cache (taken as series arrive); 0 while it is off.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "premetrics_route_cache_active",
			Help: "1 while the route cache is in use; 0 while it is off: disabled, or dropped for 10 minutes after fewer than 60% of its lookups hit (more series than it holds).",
		}),
	}
	if reg != nil {
		reg.MustRegister(lookups, m.bytes, m.active)
	}
	return m
}

// EnableRouteCache gives the current stages and every later generation a
// route cache of lines lines (as Options.RouteCacheLines; 0: none),
// counted in m (nil: not counted). It must be called before Run and any
// Ingest.
func (p *Pipeline) EnableRouteCache(lines int, m *RouteCacheMetrics) {
	p.opts.RouteCacheLines, p.opts.RouteCacheMetrics = lines, m
	st := p.cur.Load()
	st.routing.release()
	st.routing = newRouting(st.Stages, lines)
	p.routeCacheSize(st.routing)
}

// release returns the memory of r's cache (r may be nil). No Ingest may
// use r any more.
func (r *routing) release() {
	if r != nil {
		r.cache.Release()
	}
}

// routeCacheSize sets the gauges to the state of r (nil: none), and has
// r keep them up to date.
func (p *Pipeline) routeCacheSize(r *routing) {
	m := p.opts.RouteCacheMetrics
	if m == nil {
		return
	}
	set := func(on bool) {
		m.bytes.Set(0)
		m.active.Set(0)
		if on {
			m.bytes.Set(float64(r.cache.Bytes()))
			m.active.Set(1)
		}
	}
	if r != nil {
		r.onChange = set
	}
	set(r != nil)
}

// routePrefetchDistance is how many series ahead of its read of a cache
// line routeScratch asks for it, so that the misses of several series
// overlap.
const routePrefetchDistance = 8

// routeScratch is the routes of one batch: keys and cached routes by
// series. It is filled series by series (add, while the caller has the
// series' labels in cache anyway), then finished.
type routeScratch struct {
	r       *routing
	keys    []routecache.Key
	hashes  []uint64            // keys' Hash halves: the series hashes
	cached  []routecache.Routes // by series, as read from the cache
	cols    []aggregate.Route   // by column, then series: what PushRouted reads and updates
	hashBuf []byte
	n       int    // series added
	looked  int    // series looked up (more than n when relabeling dropped some)
	hits    int    // of the series looked up
	now     uint32 // the cache's clock: Unix seconds

	// By Ident (lookupIdents): whether a series' key was found, and
	// its labels as aggregations ask for them.
	hit  []bool
	lazy pendingLabels
}

// begin prepares for at most n series, ingested at now.
func (sc *routeScratch) begin(r *routing, n int, now time.Time) {
	sc.r, sc.n, sc.looked, sc.hits = r, 0, 0, 0
	sc.now = uint32(max(0, now.Unix()))
	sc.keys = extend(sc.keys, n)
	sc.hashes = extend(sc.hashes, n)
	sc.cached = extend(sc.cached, n)
}

// add takes the labels of the next series: it computes the key, asks for
// its cache lines, and reads those of the series routePrefetchDistance
// before.
func (sc *routeScratch) add(ls []batch.Label) {
	i := sc.n
	k := &sc.keys[i]
	*k, sc.hashBuf = routecache.KeyOf(ls, sc.hashBuf)
	sc.hashes[i] = k.Hash
	sc.r.cache.Prefetch(*k)
	if j := i - routePrefetchDistance; j >= 0 {
		sc.get(j)
	}
	sc.n++
	sc.looked++
}

// get reads the routes of series j and reports whether its key was found.
func (sc *routeScratch) get(j int) bool {
	if sc.r.cache.Get(sc.keys[j], &sc.cached[j], sc.now) {
		sc.hits++
		return true
	}
	return false
}

// finish reads the routes not read yet and lays them out by column.
func (sc *routeScratch) finish() {
	for j := max(0, sc.n-routePrefetchDistance); j < sc.n; j++ {
		sc.get(j)
	}
	sc.layout()
}

// layout lays the routes of the n series out by column.
func (sc *routeScratch) layout() {
	n, used := sc.n, sc.r.used
	sc.cols = extend(sc.cols, used*n)
	for i := range n {
		rs := &sc.cached[i]
		for c := range used {
			sc.cols[c*n+i] = rs[c]
		}
	}
}

// pushRouted pushes b, whose series routeScratch describes, into every
// aggregation with their routes (src: see aggregate.LabelSource), then
// stores the routes that changed and, with byIdent, the series hashes.
func (p *Pipeline) pushRouted(st *stages, b *batch.Batch, marks []uint8, sc *routeScratch, src aggregate.LabelSource, now time.Time) {
	r, n := st.routing, len(b.Series)
	for ai, a := range st.Aggregations {
		var routes []aggregate.Route
		if c := r.cols[ai]; c >= 0 {
			routes = sc.cols[c*n : (c+1)*n]
		}
		a.PushRouted(b, marks, now, sc.hashes[:n], routes, src)
	}
	for i := range n {
		rs := &sc.cached[i]
		changed := false
		for c := range r.used {
			if v := sc.cols[c*n+i]; v != rs[c] {
				rs[c], changed = v, true
			}
		}
		if h := aggregate.Route(sc.hashes[i]); r.byIdent && rs[hashCol] != h {
			rs[hashCol], changed = h, true
		}
		if changed {
			r.put(sc.keys[i], rs, sc.now)
		}
	}
	p.routesDone(r, sc, now)
}

// routesDone counts the lookups of sc and lets the cache judge them.
func (p *Pipeline) routesDone(r *routing, sc *routeScratch, now time.Time) {
	if m := p.opts.RouteCacheMetrics; m != nil {
		m.hits.Add(float64(sc.hits))
		m.misses.Add(float64(sc.looked - sc.hits))
	}
	r.account(sc.looked, sc.hits, now)
	sc.r = nil
}

// extend returns s with length n, reallocated only when too small; the
// contents are not kept.
func extend[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}
