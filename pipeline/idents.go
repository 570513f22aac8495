package pipeline

import (
	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/routecache"
	"github.com/premetrics/premetrics/rules"
)

// Series known by their labels as decoded (batch.Ident), when the stages
// allow it (routing.byIdent): the route cache is read before relabeling,
// under the Ident's key. A line that has a route for every aggregation
// also holds the series hash (column hashCol), so such a series is
// neither relabeled nor hashed: it goes to its groups as it came. Its
// labels are relabeled only if an aggregation asks for them (a stale
// route, a sample for the cardinality estimate: pendingLabels). A line
// with hash 0 says that relabeling drops the series.

// IdentIndex returns the route cache as a remote write decoder sees it
// (batch.IdentIndex): it prefetches the lines of a request's series, and
// a series whose line is known need not have its labels decoded, since
// relabelByIdent neither relabels nor hashes it. The remote write handler
// hands it to the decoder (ingest.IdentIndexer). Its answers are hints:
// Ingest reads the lines again under its own generation.
func (p *Pipeline) IdentIndex() batch.IdentIndex { return (*identIndex)(p) }

type identIndex Pipeline

// routing returns the routing of the current stages when it takes
// series by Ident, else nil. The stages may be retired meanwhile: the
// cache's memory stays mapped (routecache.Cache.Release).
func (x *identIndex) routing() *routing {
	if r := (*Pipeline)(x).cur.Load().routing; r != nil && r.byIdent && !r.off.Load() {
		return r
	}
	return nil
}

func (x *identIndex) Prefetch(id batch.Ident) {
	if r := x.routing(); r != nil {
		r.cache.Prefetch(routecache.IdentKey(id))
	}
}

func (x *identIndex) Known(id batch.Ident) bool {
	r := x.routing()
	if r == nil {
		return false
	}
	var rs routecache.Routes
	return r.cache.Peek(routecache.IdentKey(id), &rs) && known(&rs, r.used)
}

// droppedRoute fills the aggregations' columns of a line whose series
// relabeling drops: they are never handed to an aggregation.
const droppedRoute = ^aggregate.Route(0)

// lookupIdents keys every series of b by its Ident, and reads the lines
// of the keys (a series without an Ident misses).
func (sc *routeScratch) lookupIdents(b *batch.Batch) {
	n := len(b.Series)
	sc.hit = extend(sc.hit, n)
	for i := range n {
		k := routecache.IdentKey(b.Series[i].Ident)
		sc.keys[i] = k
		sc.r.cache.Prefetch(k)
		if j := i - routePrefetchDistance; j >= 0 {
			sc.hit[j] = sc.get(j)
		}
	}
	for j := max(0, n-routePrefetchDistance); j < n; j++ {
		sc.hit[j] = sc.get(j)
	}
	sc.n, sc.looked = n, n
}

// known reports whether line rs has a route for each of the used columns.
func known(rs *routecache.Routes, used int) bool {
	for c := range used {
		if rs[c] == 0 {
			return false
		}
	}
	return true
}

// relabelByIdent is relabel for a batch looked up by Ident: a series
// whose line is known is kept with its labels as they are (pending
// relabeling) or dropped, as the line says; the others are relabeled and
// hashed. Series dropped leave b and the scratch alike. It returns whether
// any series is pending.
func (p *Pipeline) relabelByIdent(r *rules.Relabeler, b *batch.Batch, sc *scratch) bool {
	rt := &sc.routes
	rt.lazy.pending = extend(rt.lazy.pending, len(b.Series))
	kept, dropped, pending := 0, 0, false
	for i := range b.Series {
		s := &b.Series[i]
		rs := rt.cached[i]
		h := uint64(rs[hashCol])
		isKnown := rt.hit[i] && known(&rs, rt.r.used)
		switch {
		case isKnown && h == 0:
			dropped += len(s.Samples)
			continue
		case isKnown:
			// Pending: not relabeled, or its labels not even decoded.
			lazy := r != nil || s.Wire != ""
			rt.lazy.pending[kept] = lazy
			pending = pending || lazy
		default:
			out, inBuf, keep := r.ApplyInPlace(b.LoadLabels(i), sc.labels)
			if !keep {
				dropped += len(s.Samples)
				rt.putDropped(rt.keys[i])
				continue
			}
			if inBuf {
				sc.labels = out[:0]
				b.SetLabels(i, out)
			} else {
				s.Labels = out
			}
			h, rt.hashBuf = batch.HashWithBuf(s.Labels, rt.hashBuf)
			rt.lazy.pending[kept] = false
		}
		if kept != i {
			b.Series[kept] = *s
			rt.keys[kept] = rt.keys[i]
			rt.cached[kept] = rs
		}
		rt.hashes[kept] = h
		kept++
	}
	clear(b.Series[kept:])
	b.Series = b.Series[:kept]
	rt.n = kept
	if dropped > 0 {
		p.relabelDrops.Add(float64(dropped))
	}
	return pending
}

// putDropped stores that relabeling drops the series of key k.
func (sc *routeScratch) putDropped(k routecache.Key) {
	var rs routecache.Routes
	for c := range sc.r.used {
		rs[c] = droppedRoute
	}
	sc.r.put(k, &rs, sc.now) // hash 0: dropped
}

// pendingLabels decodes (batch.Batch.LoadLabels) and relabels the series
// of a batch that relabelByIdent left pending, as an aggregation asks for
// their labels.
type pendingLabels struct {
	r       *rules.Relabeler
	b       *batch.Batch
	pending []bool // by series
	buf     []batch.Label
}

// FinalLabels implements aggregate.LabelSource.
func (pl *pendingLabels) FinalLabels(i int) []batch.Label {
	s := &pl.b.Series[i]
	if pl.pending[i] {
		pl.pending[i] = false
		ls := pl.b.LoadLabels(i)
		if pl.r != nil {
			out, inBuf, keep := pl.r.ApplyInPlace(ls, pl.buf)
			switch {
			case !keep: // cannot be: relabeling kept these labels when their line was written
			case inBuf:
				pl.buf = out[:0]
				pl.b.SetLabels(i, out)
			default:
				s.Labels = out
			}
		}
	}
	return pl.b.Series[i].Labels
}

// source returns pl as the LabelSource of a push of b, or nil when no
// series is pending.
func (pl *pendingLabels) source(r *rules.Relabeler, b *batch.Batch, pending bool) aggregate.LabelSource {
	if !pending {
		return nil
	}
	pl.r, pl.b = r, b
	return pl
}

// release drops what pl holds of a request.
func (pl *pendingLabels) release() {
	pl.r, pl.b = nil, nil
	clear(pl.buf[:cap(pl.buf)])
	pl.buf = pl.buf[:0]
}
