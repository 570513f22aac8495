package aggregate

// sweep forgets, as of nowMs, the groups that have no window open and
// have seen no sample for staleness_interval (only with groups: when this
// Flush raised the watermark, so their stale markers, stamped with it,
// come after every window they emitted), the counter baselines and dedup
// buckets of input series idle as long, and the count_series memberships of input series
// whose latest window is closed. Forgotten groups go to a.stale.
// It compacts the shard's group storage when most ids are free, and its
// label arena when most of it belongs to forgotten groups. The caller
// holds sh.mu and flushMu.
func (a *Aggregator) sweep(sh *shard, nowMs int64, groups bool) {
	cutoff := nowMs - a.stalenessMs
	base := sh.clockBase
	stale := func(lastSeen int32) bool { return base+(int64(lastSeen)+1)*1000 <= cutoff }
	k := a.slotsK
	for gid := range sh.groups {
		if !groups {
			break
		}
		g := &sh.groups[gid]
		if g.lref == 0 || !stale(g.lastSeen) || sh.live(uint32(gid), k) {
			continue
		}
		r := emitRec{labels: sh.labels.get(g.lref), stale: true}
		if !g.ratesEmitted() {
			r.skip = a.rateOutputs()
		}
		a.stale = append(a.stale, r)
		a.releaseGroup(g.overflow())
		sh.removeGroup(uint32(gid))
	}
	if sh.counters.len() > 0 {
		removed := sh.counters.sweep(func(_ uint64, r *counterRec) bool { return stale(r.lastSeen) })
		a.nCounters.Add(-int64(removed))
	}
	if sh.dedup.len() > 0 {
		removed := sh.dedup.sweep(func(_ uint64, r *dedupRec) bool { return stale(r.lastSeen) })
		a.nDedup.Add(-int64(removed))
	}
	iv := a.intervalMs
	if sh.counted.len() > 0 {
		wm := sh.watermark
		removed := sh.counted.sweep(func(_ uint64, r *countRec) bool {
			return (r.win+1)*iv <= wm // its latest window is closed: nothing left to deduplicate
		})
		a.nCounted.Add(-int64(removed))
	}
	for w := range sh.countSpill {
		if (w+1)*iv <= sh.watermark {
			delete(sh.countSpill, w)
		}
	}
	if len(sh.groups) > compactMinGroups && sh.nGroups*4 < len(sh.groups) {
		a.compact(sh)
	}
	if sh.labels.wasteful() {
		sh.compactLabels()
	}
}

// rateOutputs returns the bits of the rate_sum and rate_avg outputs, the
// outputs that a group may never have emitted.
func (a *Aggregator) rateOutputs() uint32 {
	var m uint32
	for oi := range a.outputs {
		if k := a.outputs[oi].kind; k == outRateSum || k == outRateAvg {
			m |= 1 << oi
		}
	}
	return m
}

// compact renumbers the groups of sh densely, moving their slots, so the
// storage of a burst of forgotten groups is released.
func (a *Aggregator) compact(sh *shard) {
	k, l := a.slotsK, &a.layout
	n := sh.nGroups
	newID := make([]uint32, len(sh.groups))
	groups := make([]groupRec, 0, n+n/8)
	var totals []float64
	if l.total {
		totals = make([]float64, 0, n+n/8)
	}
	slots := newSlotStore(l)
	slots.grow(n*k, l)
	for gid := range sh.groups {
		g := &sh.groups[gid]
		if g.lref == 0 {
			continue
		}
		ng := len(groups)
		newID[gid] = uint32(ng)
		groups = append(groups, *g)
		for j := range k {
			slots.move(ng*k+j, &sh.slots, gid*k+j)
		}
		if l.total {
			totals = append(totals, sh.totals[gid])
		}
	}
	if len(sh.extra) > 0 {
		extra := make(map[extraKey]uint32, len(sh.extra))
		for key, i := range sh.extra {
			key.gid = newID[key.gid]
			extra[key] = i
		}
		sh.extra = extra
	}
	sh.groups, sh.slots, sh.totals, sh.freeGids = groups, slots, totals, nil
	sh.epoch++
	sh.index.reset()
	for gid := range groups {
		sh.index.insert(groups[gid].placing(), uint32(gid))
	}
}
