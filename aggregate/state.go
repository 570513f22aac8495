package aggregate

import (
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
)

// numShards is the number of independently locked state shards; a group
// lives in shard hash(group labels) % numShards.
const numShards = 64

// Recycled window states drop sets and slices that grew beyond these, so
// one huge group does not inflate every state of the free list.
const (
	maxRecycledSetLen   = 1 << 10
	maxRecycledRatesLen = 1 << 10
	minFreeStates       = 64 // free states (and spare window lists) kept regardless of groups
)

// shard holds the state of the groups whose hash falls into it.
type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte // no false sharing between shards
}

type shardState struct {
	mu      sync.Mutex
	groups  map[uint64]*group      // by group hash; collisions chain through group.next
	nGroups int                    // groups in the map, chains included
	series  map[uint64]seriesState // counter baselines by input series hash
	windows []shardWindow          // open windows, ascending start
	// watermark: every window with end <= watermark has been emitted, so
	// samples for it are late. Only Flush raises it, under mu.
	watermark int64
	free      []*winState   // recycled window states
	spare     [][]*winState // recycled shardWindow.states slices
}

// shardWindow lists the states of one window in one shard, so Flush can
// take a closed window out with one slice move.
type shardWindow struct {
	start  int64
	states []*winState
}

// group is one output series family: the grouping labels of its inputs.
// labels, names and hash are immutable after creation and may be read
// without the shard lock; wins and lastSeen are guarded by the shard lock;
// total is touched only by Flush (under Aggregator.flushMu).
type group struct {
	labels  []batch.Label // owned, sorted, always with a __name__ (possibly "")
	nameIdx int           // index of __name__ in labels
	names   []string      // output metric name per configured output
	hash    uint64
	next    *group // hash collision chain

	wins     []winRef // this group's states; refs to emitted windows are dead and pruned lazily
	lastSeen int64    // wall ms of the last aggregated sample

	total float64 // `total` output: running sum of increases
}

// winRef points from a group to its state for the window starting at
// start. A ref whose window end <= the shard watermark is dead: its state
// was emitted and may already be recycled for another group.
type winRef struct {
	start int64
	st    *winState
}

// winState accumulates one group's samples of one window.
type winState struct {
	start     int64
	g         *group
	f         []float64           // numeric slots, see layout
	uniq      map[uint64]struct{} // unique_samples
	seriesSet map[uint64]struct{} // count_series
	sk        *sketch             // quantiles
	rates     []rateAcc           // rate_sum, rate_avg: one per input series with a delta
}

// rateAcc is one input series' counter progress within one window.
type rateAcc struct {
	delta          float64 // sum of the series' deltas in the window
	baseTs, lastTs int64   // baseline before the first delta; last sample
}

// seriesState is the counter baseline of one input series.
type seriesState struct {
	prevTs   int64
	prevV    float64
	lastSeen int64 // wall ms
	// rateWin/rateIdx locate this series' rateAcc in its group's state for
	// window rateWin. Counter samples only move forward in time, so one
	// slot suffices.
	rateWin int64
	rateIdx int32
}

func (sh *shard) init() {
	sh.groups = make(map[uint64]*group)
	sh.series = make(map[uint64]seriesState)
	sh.watermark = math.MinInt64
}

// lookup returns the group with labels key and hash h, or nil.
func (sh *shard) lookup(h uint64, key []batch.Label) *group {
	for g := sh.groups[h]; g != nil; g = g.next {
		if batch.Equal(g.labels, key) {
			return g
		}
	}
	return nil
}

func (sh *shard) insert(g *group) {
	g.next = sh.groups[g.hash]
	sh.groups[g.hash] = g
	sh.nGroups++
}

func (sh *shard) remove(g *group) {
	head := sh.groups[g.hash]
	if head == g {
		if g.next == nil {
			delete(sh.groups, g.hash)
		} else {
			sh.groups[g.hash] = g.next
		}
	} else {
		for p := head; p != nil; p = p.next {
			if p.next == g {
				p.next = g.next
				break
			}
		}
	}
	g.next = nil
	sh.nGroups--
}

// window returns g's state for the window starting at start, creating it
// (and pruning dead refs) when missing. The caller has checked that the
// window is not emitted yet.
func (sh *shard) window(l *layout, intervalMs int64, g *group, start int64) *winState {
	for i := range g.wins {
		if g.wins[i].start == start {
			return g.wins[i].st
		}
	}
	g.wins = slices.DeleteFunc(g.wins, func(w winRef) bool { return w.start+intervalMs <= sh.watermark })
	st := sh.newState(l, g, start)
	g.wins = append(g.wins, winRef{start: start, st: st})

	i := len(sh.windows)
	for i > 0 && sh.windows[i-1].start > start {
		i--
	}
	if i > 0 && sh.windows[i-1].start == start {
		sh.windows[i-1].states = append(sh.windows[i-1].states, st)
		return st
	}
	var states []*winState
	if n := len(sh.spare); n > 0 {
		states = sh.spare[n-1]
		sh.spare[n-1] = nil
		sh.spare = sh.spare[:n-1]
	}
	sh.windows = slices.Insert(sh.windows, i, shardWindow{start: start, states: append(states, st)})
	return st
}

// liveWindows reports whether g has a state for a window not yet emitted.
func (sh *shard) liveWindows(g *group, intervalMs int64) bool {
	for _, w := range g.wins {
		if w.start+intervalMs > sh.watermark {
			return true
		}
	}
	return false
}

func (sh *shard) newState(l *layout, g *group, start int64) *winState {
	var st *winState
	if n := len(sh.free); n > 0 {
		st = sh.free[n-1]
		sh.free[n-1] = nil
		sh.free = sh.free[:n-1]
	} else {
		st = &winState{f: make([]float64, l.size)}
	}
	st.start, st.g = start, g
	copy(st.f, l.init)
	if l.uniq && st.uniq == nil {
		st.uniq = make(map[uint64]struct{})
	}
	if l.seriesSet && st.seriesSet == nil {
		st.seriesSet = make(map[uint64]struct{})
	}
	if l.sketch && st.sk == nil {
		st.sk = &sketch{}
	}
	return st
}

// release recycles emitted states (and the slice that listed them).
func (sh *shard) release(states []*winState) {
	for i, st := range states {
		st.g = nil
		st.uniq = recycleSet(st.uniq)
		st.seriesSet = recycleSet(st.seriesSet)
		if st.sk != nil {
			st.sk.reset()
		}
		if cap(st.rates) > maxRecycledRatesLen {
			st.rates = nil
		}
		st.rates = st.rates[:0]
		sh.free = append(sh.free, st)
		states[i] = nil
	}
	sh.spare = append(sh.spare, states[:0])
	sh.trimFree()
}

// trimFree keeps enough free states for every group to open two windows;
// after a burst of groups has been forgotten, it lets the rest go.
func (sh *shard) trimFree() {
	if limit := 2*sh.nGroups + minFreeStates; len(sh.free) > limit {
		clear(sh.free[limit:])
		sh.free = sh.free[:limit]
	}
	if len(sh.spare) > minFreeStates {
		clear(sh.spare[minFreeStates:])
		sh.spare = sh.spare[:minFreeStates]
	}
}

func recycleSet(m map[uint64]struct{}) map[uint64]struct{} {
	if len(m) > maxRecycledSetLen {
		return nil
	}
	clear(m)
	return m
}

// sweep forgets groups without open windows and series baselines that
// have seen no sample for staleness ms.
func (sh *shard) sweep(nowMs, stalenessMs, intervalMs int64) {
	cutoff := nowMs - stalenessMs
	for _, head := range sh.groups {
		for g := head; g != nil; {
			next := g.next
			if g.lastSeen <= cutoff && !sh.liveWindows(g, intervalMs) {
				sh.remove(g)
			}
			g = next
		}
	}
	for h, s := range sh.series {
		if s.lastSeen <= cutoff {
			delete(sh.series, h)
		}
	}
	sh.trimFree()
}
