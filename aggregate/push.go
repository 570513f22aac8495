package aggregate

import (
	"time"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/prefetch"
)

// Push prefetches the state a series will need a few series ahead, so
// that the cache misses of several series overlap instead of following
// one another: the index and per-series table slots prefetchDistance
// series ahead; the group record and its window slots (found through the
// index slot, in cache by then) prefetchGroupDistance ahead.
const (
	prefetchDistance      = 8
	prefetchGroupDistance = 4
	// prefetchMinEntries: a shard's index or table with more entries than
	// this (64× as many per aggregation) is prefetched. 16k groups of
	// one aggregation are already beyond the L2 cache.
	prefetchMinEntries = 256
	// pushPartSize is how many series of a batch Push hashes before
	// aggregating them: their labels stay in the L2 cache in between
	// (512: −8%, 8192: −12% against 2048 in BenchmarkPushFleet).
	pushPartSize = 2048
)

// pushScratch holds Push's reusable buffers.
type pushScratch struct {
	relabeled []batch.Label
	keys      []batch.Label // group keys of the batch's series, back to back
	okey      []batch.Label
	hashBuf   []byte
	items     []pushItem
	order     []int32 // item indices by shard
	overflow  []int32 // items that go to an overflow group

	// PushRouted with a LabelSource: it, and the index in the batch of
	// the part's first series.
	src  LabelSource
	base int

	// PushRollup only: the Rollup being pushed, how this aggregation
	// folds its partials, and the groups the current partial went to.
	rollup     *Rollup
	plan       rollupPlan
	dupPartial int32
	dupGroups  []ghash
}

// pushItem is one matched input series with its hashes.
type pushItem struct {
	gh         ghash
	seriesHash uint64
	// samples of the series: the second pass, in shard order, reads them
	// from here rather than from the batch's series in a random order.
	samples []batch.Sample
	series  int32 // index in the batch
	k0, k1  int32 // group key: keys[k0:k1]; -1: not taken, the group exists
	gidHint int32 // prefetchGroup's guess at the group id, +1 (0: none)
	// route, when not 0, is the series' group route from an earlier push:
	// gh is not computed unless the route turns out stale.
	route Route
}

// shard returns the index of the item's shard.
func (it *pushItem) shard() int {
	if it.route != 0 {
		s, _, _ := it.route.group()
		return s
	}
	return int(it.gh.h % numShards)
}

// Push feeds the matching samples of b into their open windows.
//
// For every series the match selector selects, Push ORs MarkKept
// (keep_input) or MarkConsumed into marks[i]; len(marks) must be
// len(b.Series). A sample of a selected series is skipped when it fails
// the selector's comparison; skipped and counted when it is a stale
// marker, lies more than max_future_skew after now, or belongs to a window
// already emitted or closed (window end + lateness < now). now is the
// wall clock. Series beyond the cardinality budget are handled as doc.go
// describes.
//
// Push works through b in parts of pushPartSize series: it computes every
// matched series' group and hashes, then aggregates the part shard by
// shard, taking each shard's lock once per part. Series of one group keep
// their order.
//
// Push does not modify b and keeps none of its memory: label strings are
// copied when a new group is created. It is safe for concurrent use with
// Push and Flush. Aggregating into existing groups and windows does not
// allocate, also across window turnover; input_relabel_configs allocate
// only where package rules does (a templated value not memoised).
func (a *Aggregator) Push(b *batch.Batch, marks []uint8, now time.Time) {
	a.PushRouted(b, marks, now, nil, nil, nil)
}

// LabelSource gives series' labels as an aggregation is to see them, to
// a caller whose batch holds, for some series, labels not final yet: the
// pipeline does not relabel a series it recognises by its batch.Ident
// when every aggregation has a route for it (package routecache).
// PushRouted asks only where it reads labels: for a series whose route is
// 0 or stale, and for the few the cardinality estimate samples. A series
// with a valid route is pushed without its labels.
type LabelSource interface {
	// FinalLabels returns the labels of series i of the batch.
	FinalLabels(i int) []batch.Label
}

// labels returns the final labels of series i of the part.
func (sc *pushScratch) labels(series []batch.Series, i int) []batch.Label {
	if sc.src != nil {
		return sc.src.FinalLabels(sc.base + i)
	}
	return series[i].Labels
}

// PushRouted is Push with what the caller knows of b's series from earlier
// pushes. hashes[i], when hashes is not nil, must be batch.Hash of series
// i's labels. routes[i], when routes is not nil, is series i's Route from
// this Aggregator's earlier pushes, or 0; PushRouted updates it to the
// series' route now (left as it was when the series was not aggregated,
// went to an overflow group, or the aggregation is not Routable). A route
// given must have come from this Aggregator for a series with the same
// labels: any other is wrong, not merely stale.
//
// src, when not nil, gives the labels of series whose labels in b are
// not final yet (see LabelSource); PushRouted then reads b's labels only
// through it.
func (a *Aggregator) PushRouted(b *batch.Batch, marks []uint8, now time.Time, hashes []uint64, routes []Route, src LabelSource) {
	if a.inRelabel != nil {
		hashes, routes = nil, nil // neither describes the relabeled series
	}
	nowMs := now.UnixMilli()
	sc := a.scratch.Get().(*pushScratch)
	sc.src = src
	var c pushCounts
	for lo := 0; lo < len(b.Series); lo += pushPartSize {
		sc.base = lo
		hi := min(lo+pushPartSize, len(b.Series))
		var hs []uint64
		var rs []Route
		if hashes != nil {
			hs = hashes[lo:hi]
		}
		if routes != nil {
			rs = routes[lo:hi]
		}
		a.pushPart(b.Series[lo:hi], marks[lo:], nil, hs, rs, nowMs, sc, &c)
	}
	clear(sc.relabeled[:cap(sc.relabeled)]) // do not keep b's strings alive in the pool
	clear(sc.okey[:cap(sc.okey)])
	sc.src = nil
	a.scratch.Put(sc)
	a.metrics.add(&c, !a.keepInput)
}

// pushPart aggregates series, a part of a batch small enough that its
// memory is still in cache when the second pass reads it again. of holds
// the partial index of every series for PushRollup (sc.rollup), nil for
// raw input. hashes and routes, when not nil, are PushRouted's for these
// series (never with of or input_relabel_configs).
func (a *Aggregator) pushPart(series []batch.Series, marks []uint8, of []int32, hashes []uint64, routes []Route, nowMs int64, sc *pushScratch, c *pushCounts) {
	items, keys := sc.items[:0], sc.keys[:0]
	var counts [numShards + 1]int32
	for i := range series {
		s := &series[i]
		var route Route
		if routes != nil {
			if route = routes[i]; route == routeNotMatched {
				continue
			}
		}
		ls := s.Labels
		if route == 0 && sc.src != nil {
			ls = sc.labels(series, i)
		}
		if route == 0 && a.sel != nil && !a.sel.Matches(ls) {
			if routes != nil {
				routes[i] = routeNotMatched
			}
			continue
		}
		marks[i] |= a.mark
		if len(s.Samples) == 0 {
			continue
		}
		if a.inRelabel != nil {
			out, keep := a.inRelabel.Apply(ls, sc.relabeled)
			sc.relabeled = out[:0]
			if !keep {
				continue
			}
			ls = out
		}
		if a.card != nil && a.card.sampled(sc.base+i, nowMs) {
			if route != 0 && sc.src != nil {
				ls = sc.labels(series, i)
			}
			a.card.observe(ls, nowMs)
		}
		it := pushItem{samples: s.Samples, series: int32(i), k0: -1, k1: -1, route: route}
		switch {
		case route != 0: // the group is known; its hash is taken only if the route is stale
		case a.inRelabel != nil: // ls is scratch: keep the key
			k0 := len(keys)
			keys = a.groupKey(ls, keys)
			it.k0, it.k1 = int32(k0), int32(len(keys))
			it.gh, sc.hashBuf = a.groupHash(keys[k0:], sc.hashBuf)
		default: // the key, needed only for a new group, is taken then
			it.gh, sc.hashBuf = a.groupHashOf(ls, sc.hashBuf)
		}
		if of != nil && of[i] >= 0 && sc.rollupDup(of[i], it.gh) {
			if it.k0 >= 0 { // folded with an earlier series of its upstream window
				clear(keys[it.k0:])
				keys = keys[:it.k0]
			}
			continue
		}
		if a.layout.counters || a.layout.seriesSet || a.dedupMs > 0 {
			if hashes != nil {
				it.seriesHash = hashes[i]
			} else {
				it.seriesHash, sc.hashBuf = batch.HashWithBuf(ls, sc.hashBuf)
			}
		}
		items = append(items, it)
		counts[it.shard()+1]++
	}

	// Order the items by shard (stable), then aggregate shard by shard.
	for s := 1; s <= numShards; s++ {
		counts[s] += counts[s-1]
	}
	order := extend(sc.order[:0], len(items))
	next := counts
	for j := range items {
		s := items[j].shard()
		order[next[s]] = int32(j)
		next[s]++
	}
	overflow := sc.overflow[:0]
	// Concurrent Pushes start at different shards, so they do not queue
	// behind one another shard after shard.
	first := 0
	if len(items) > 0 {
		first = items[0].shard()
	}
	var rin rollupIn
	for k := range numShards {
		s := (first + k) % numShards
		its := order[counts[s]:counts[s+1]]
		if len(its) == 0 {
			continue
		}
		sh := &a.shards[s]
		sh.mu.Lock()
		pf := a.prefetchPlan(sh)
		for j, idx := range its {
			if j+prefetchDistance < len(its) {
				a.prefetch(sh, pf, &items[its[j+prefetchDistance]])
			}
			if pf&pfIndex != 0 && j+prefetchGroupDistance < len(its) {
				a.prefetchGroup(sh, &items[its[j+prefetchGroupDistance]])
			}
			it := &items[idx]
			var gid int
			if it.route != 0 {
				if gid = sh.routed(it.route); gid < 0 { // stale: find the group by its hash
					it.route = 0
					it.gh, sc.hashBuf = a.groupHashOf(sc.labels(series, int(it.series)), sc.hashBuf)
					gid = sh.lookup(it.gh)
				}
			} else {
				gid = sh.lookupHinted(it.gh, it.gidHint-1)
			}
			var key []batch.Label
			if gid < 0 { // a new group (or overflow) takes the key
				if it.k0 < 0 {
					k0 := len(keys)
					keys = a.groupKey(sc.labels(series, int(it.series)), keys)
					it.k0, it.k1 = int32(k0), int32(len(keys))
				}
				key = keys[it.k0:it.k1]
			}
			var ru *rollupIn
			if of != nil { // PushRollup; the check inline keeps raw Push's loop tight
				ru = sc.rollupInFor(of, it.series, &rin)
			}
			ok, gid := a.pushSeries(sh, it.gh, gid, key, it.seriesHash, it.samples, nowMs, false, ru, c)
			switch {
			case !ok:
				overflow = append(overflow, idx)
			case routes != nil && it.route == 0 && gid >= 0:
				routes[it.series] = groupRoute(s, gid, sh.epoch)
			}
		}
		sh.mu.Unlock()
	}
	// max_output_series reached: these series go to their metric's
	// overflow group, in another shard (locked one at a time, after the
	// loop above, so shard locks never nest).
	for _, idx := range overflow {
		it := &items[idx]
		sc.okey = overflowKey(keys[it.k0:it.k1], sc.okey[:0])
		var oh ghash
		oh, sc.hashBuf = a.groupHash(sc.okey, sc.hashBuf)
		sh := &a.shards[oh.h%numShards]
		sh.mu.Lock()
		_, _ = a.pushSeries(sh, oh, sh.lookup(oh), sc.okey, it.seriesHash, it.samples, nowMs, true, sc.rollupInFor(of, it.series, &rin), c)
		sh.mu.Unlock()
	}
	clear(keys)
	sc.items, sc.keys, sc.order, sc.overflow = items[:0], keys[:0], order[:0], overflow[:0]
}

// Which structures of a shard are big enough to miss the cache, so that
// prefetching them pays; small ones are in cache already.
const (
	pfIndex = 1 << iota
	pfCounters
	pfCounted
	pfDedup
)

func (a *Aggregator) prefetchPlan(sh *shard) int {
	pf := 0
	if sh.index.n > prefetchMinEntries {
		pf |= pfIndex
	}
	if sh.counters.n > prefetchMinEntries {
		pf |= pfCounters
	}
	if sh.counted.n > prefetchMinEntries {
		pf |= pfCounted
	}
	if sh.dedup.n > prefetchMinEntries {
		pf |= pfDedup
	}
	return pf
}

// prefetch asks for the index and table slots (those in plan pf) the
// item will probe first, and its first sample; for an item with a route,
// its group's record and window slots instead of the index slot. The
// caller holds sh.mu.
func (a *Aggregator) prefetch(sh *shard, pf int, it *pushItem) {
	prefetch.Line(unsafe.Pointer(unsafe.SliceData(it.samples)))
	if pf&pfIndex != 0 {
		if it.route != 0 {
			if _, gid, _ := it.route.group(); uint(gid) < uint(len(sh.groups)) {
				a.prefetchGid(sh, gid)
			}
		} else {
			x := &sh.index
			prefetch.Line(unsafe.Pointer(&x.slots[x.home(it.gh.h)]))
		}
	}
	if pf&pfCounters != 0 {
		t := &sh.counters
		prefetch.Line(unsafe.Pointer(&t.slots[t.home(tableKey(it.seriesHash))]))
	}
	if pf&pfCounted != 0 {
		t := &sh.counted
		prefetch.Line(unsafe.Pointer(&t.slots[t.home(tableKey(it.seriesHash))]))
	}
	if pf&pfDedup != 0 {
		t := &sh.dedup
		prefetch.Line(unsafe.Pointer(&t.slots[t.home(tableKey(it.seriesHash))]))
	}
}

// prefetchGroup asks for the record and the inline window slots of the
// item's group, if its index slot names one, and notes the group id as a
// hint for pushSeries' lookup.
func (a *Aggregator) prefetchGroup(sh *shard, it *pushItem) {
	if it.route != 0 { // prefetch did, with the route's group id
		return
	}
	x := &sh.index
	p := x.find(it.gh.h)
	if p < 0 {
		return
	}
	gid := int(x.gid(p))
	it.gidHint = int32(gid) + 1
	a.prefetchGid(sh, gid)
}

// prefetchGid asks for the record and the inline window slots of group
// gid.
func (a *Aggregator) prefetchGid(sh *shard, gid int) {
	prefetch.Line(unsafe.Pointer(&sh.groups[gid]))
	w := sh.slots.words[gid*a.slotsK*sh.slots.stride : (gid+1)*a.slotsK*sh.slots.stride]
	prefetch.Line(unsafe.Pointer(&w[0]))
	prefetch.Line(unsafe.Pointer(&w[len(w)-1])) // K slots may span two cache lines
}
