package aggregate

import (
	"math"
	"math/bits"
	"sync"
	"unsafe"
)

// numShards is the number of independently locked state shards; a group
// lives in shard hash(group labels) % numShards, with the per-series state
// of its input series.
const numShards = 64

const (
	// maxSlotsPerGroup caps the window slots every group carries inline;
	// a group with more open windows than that (lateness much longer than
	// the interval, or samples from the future) uses extra slots.
	maxSlotsPerGroup = 4
	// emptyWin marks a free slot.
	emptyWin = math.MinInt64
	// An emitted slot keeps its unique_samples set unless it grew beyond
	// this, and its rate list unless less than half of it was used, so
	// one spike does not pin its memory while steady windows reuse it.
	maxRecycledSetLen = 1 << 16
	// compactMinGroups: group storage of a shard is compacted once fewer
	// than a quarter of its group ids are in use, above this many ids.
	compactMinGroups = 256
)

// shard holds the state of the groups whose hash falls into it.
type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte // no false sharing between shards
}

type shardState struct {
	mu sync.Mutex
	// watermark: every window with end <= watermark is closed: emitted, or
	// being emitted by the running Flush. Only Flush raises it, under mu.
	watermark int64

	groups   []groupRec // by group id; lref == 0 marks a free id
	labels   labelArena // the groups' packed labels
	freeGids []uint32   // free group ids, reused first
	nGroups  int        // groups in use
	index    groupIndex // group hash -> group id
	totals   []float64  // by group id: `total` output, the running sum of increases (Flush only)

	slots      slotStore           // window slots of group id g: [g*K, g*K+K)
	extra      map[extraKey]uint32 // further slots of groups with more than K open windows
	extraSlots slotStore
	freeExtra  []uint32
	open       []openWindow // windows with at least one slot, ascending

	counters   table[counterRec]             // counter baselines by input series hash
	counted    table[countRec]               // count_series: windows each input series was counted in
	countSpill map[int64]map[uint64]struct{} // count_series memberships beyond countRec's 64 windows
	dedup      table[dedupRec]               // dedup_interval: last accepted bucket by input series hash

	clockBase int64 // wall ms that lastSeen fields count from
	clockSet  bool
	// epoch advances whenever a group id stops naming its group (a group
	// is forgotten, or the groups are renumbered), invalidating Routes.
	epoch uint32
}

// groupRec is one group: one output series per configured output. It
// holds no pointer, so a million groups cost the GC nothing to scan.
//
// Of the placing hash it keeps the upper half, which places the group in
// the index (whose entries hold it too); with the check that makes 96 bits
// of identity (see doc.go, "Group identity").
type groupRec struct {
	check    uint64 // ghash.check
	hashHi   uint32 // ghash.h >> 32
	lref     uint32 // packed labels in shard.labels (see labels.go); 0 for a free id
	lastSeen int32  // wall time of the last aggregated sample, see shard.seconds
	meta     uint32 // extra slots in use << metaExtraShift | metaRates | metaOverflow
}

// placing returns the part of the group's placing hash the index uses.
func (g *groupRec) placing() uint64 { return uint64(g.hashHi) << 32 }

// is reports whether the group has hashes gh.
func (g *groupRec) is(gh ghash) bool { return g.check == gh.check && g.hashHi == uint32(gh.h>>32) }

// Bits of groupRec.meta.
const (
	metaOverflow   = 1 // a metric's overflow group
	metaRates      = 2 // rate_sum / rate_avg were emitted at least once (they get stale markers)
	metaExtraShift = 2
)

func (g *groupRec) overflow() bool     { return g.meta&metaOverflow != 0 }
func (g *groupRec) ratesEmitted() bool { return g.meta&metaRates != 0 }
func (g *groupRec) nExtra() uint32     { return g.meta >> metaExtraShift }
func (g *groupRec) addExtra(d int32)   { g.meta = uint32(int32(g.meta) + d<<metaExtraShift) }

type extraKey struct {
	gid uint32
	win int64
}

// openWindow counts the slots (inline and extra) that hold window win.
type openWindow struct {
	win      int64 // window number: start / interval
	n, extra int
}

// counterRec is the counter baseline of one input series.
type counterRec struct {
	prevTs   int64
	prevV    float64
	lastSeen int32 // seconds since shard.clockBase, rounded down
	// rateIdx: this series' rateAcc in the slot of its latest delta,
	// checked against rateAcc.series before use.
	rateIdx uint32
}

// dedupRec is the dedup_interval state of one input series: the bucket
// (floor(ts / dedup_interval)) of the last sample it accepted.
type dedupRec struct {
	bucket   int64
	lastSeen int32 // seconds since shard.clockBase, rounded down
}

// countRec remembers the windows an input series was counted in for
// count_series: bit k of bits is window win-k. Older windows that are
// still open when they shift out go to shard.countSpill.
type countRec struct {
	win  int64
	bits uint64
}

// rateAcc is one input series' counter progress within one window.
type rateAcc struct {
	series         uint64  // input series hash
	delta          float64 // sum of the series' deltas in the window
	baseTs, lastTs int64   // baseline before the first delta; last sample
}

// slotStore holds window slots: per slot the window number and the
// layout's numeric accumulators in one run of words, and the structured
// state the outputs need in side slices (nil when not configured).
type slotStore struct {
	stride int       // 1 + layout.size
	words  []float64 // slot i: words[i*stride] = window number bits, then layout slots
	sk     []*sketch
	uniq   []map[uint64]struct{}
	rates  [][]rateAcc
}

func newSlotStore(l *layout) slotStore {
	return slotStore{stride: 1 + l.size}
}

func (s *slotStore) len() int { return len(s.words) / s.stride }

func (s *slotStore) win(i int) int64 { return int64(math.Float64bits(s.words[i*s.stride])) }

func (s *slotStore) setWin(i int, w int64) { s.words[i*s.stride] = math.Float64frombits(uint64(w)) }

// f returns the numeric accumulators of slot i.
func (s *slotStore) f(i int) []float64 { return s.words[i*s.stride+1 : (i+1)*s.stride] }

// grow makes room for n slots; new slots are free.
func (s *slotStore) grow(n int, l *layout) {
	old := s.len()
	if n <= old {
		return
	}
	s.words = extend(s.words, n*s.stride)
	for i := old; i < n; i++ {
		s.setWin(i, emptyWin)
	}
	if l.sketch {
		s.sk = extend(s.sk, n)
	}
	if l.uniq {
		s.uniq = extend(s.uniq, n)
	}
	if l.rates {
		s.rates = extend(s.rates, n)
	}
}

// open starts window w in free slot i.
func (s *slotStore) open(i int, w int64, l *layout) {
	s.setWin(i, w)
	copy(s.f(i), l.init)
}

// move copies slot from of src into slot to of s (compaction).
func (s *slotStore) move(to int, src *slotStore, from int) {
	copy(s.words[to*s.stride:(to+1)*s.stride], src.words[from*s.stride:(from+1)*s.stride])
	if s.sk != nil {
		s.sk[to] = src.sk[from]
	}
	if s.uniq != nil {
		s.uniq[to] = src.uniq[from]
	}
	if s.rates != nil {
		s.rates[to] = src.rates[from]
	}
}

// extend returns s with length n >= len(s), the new elements zero. It
// grows the capacity by an eighth, not by append's quarter or double: the
// big per-shard slices then waste at most 12.5% of their size.
func extend[T any](s []T, n int) []T {
	if n <= cap(s) {
		old := len(s)
		s = s[:n]
		clear(s[old:])
		return s
	}
	ns := make([]T, n, max(n, cap(s)+cap(s)/8, 64))
	copy(ns, s)
	return ns
}

func (sh *shard) init() {
	sh.watermark = math.MinInt64
}

// seconds returns nowMs as a lastSeen value: seconds since the shard's
// first use, rounded down. Staleness is thus judged to the second: state
// is forgotten between staleness_interval and staleness_interval + 1s
// after its last sample.
func (sh *shard) seconds(nowMs int64) int32 {
	if !sh.clockSet {
		sh.clockBase, sh.clockSet = nowMs, true
	}
	d := nowMs - sh.clockBase
	s := d / 1000
	if d < 0 && d%1000 != 0 {
		s--
	}
	return int32(max(math.MinInt32, min(math.MaxInt32, s)))
}

// lookup returns the id of the group with labels key and hash h, or -1.
func (sh *shard) lookup(gh ghash) int {
	for p := sh.index.find(gh.h); p >= 0; p = sh.index.next(gh.h, p) {
		gid := sh.index.gid(p)
		if sh.groups[gid].is(gh) {
			return int(gid)
		}
	}
	return -1
}

// lookupHinted is lookup that tries group id hint (-1: none) first.
func (sh *shard) lookupHinted(gh ghash, hint int32) int {
	if uint(hint) < uint(len(sh.groups)) {
		if sh.groups[hint].is(gh) {
			return int(hint)
		}
	}
	return sh.lookup(gh)
}

// addGroup stores a new group with K slots and returns its id.
func (sh *shard) addGroup(g groupRec, k int, l *layout) uint32 {
	var gid uint32
	if n := len(sh.freeGids); n > 0 {
		gid = sh.freeGids[n-1]
		sh.freeGids = sh.freeGids[:n-1]
		sh.groups[gid] = g
	} else {
		gid = uint32(len(sh.groups))
		sh.groups = extend(sh.groups, len(sh.groups)+1)
		sh.groups[gid] = g
		sh.slots.grow(len(sh.groups)*k, l)
		if l.total {
			sh.totals = extend(sh.totals, len(sh.groups))
		}
	}
	if l.total {
		sh.totals[gid] = 0
	}
	sh.index.insert(g.placing(), gid)
	sh.nGroups++
	return gid
}

// removeGroup forgets group gid, which has no slot in use.
func (sh *shard) removeGroup(gid uint32) {
	h := sh.groups[gid].placing()
	for p := sh.index.find(h); p >= 0; p = sh.index.next(h, p) {
		if sh.index.gid(p) == gid {
			sh.index.remove(p)
			break
		}
	}
	sh.labels.remove(sh.groups[gid].lref)
	sh.groups[gid] = groupRec{}
	sh.freeGids = append(sh.freeGids, gid)
	sh.nGroups--
	sh.epoch++
}

// live reports whether group gid has a slot in use.
func (sh *shard) live(gid uint32, k int) bool {
	if sh.groups[gid].nExtra() > 0 {
		return true
	}
	for i := int(gid) * k; i < int(gid+1)*k; i++ {
		if sh.slots.win(i) != emptyWin {
			return true
		}
	}
	return false
}

// slotFor returns the slot of group gid for window w, opening one when
// the group has none. The caller has checked that w is not closed.
func (sh *shard) slotFor(gid uint32, w int64, k int, l *layout) (*slotStore, int) {
	base := int(gid) * k
	free := -1
	for i := base; i < base+k; i++ {
		switch sh.slots.win(i) {
		case w:
			return &sh.slots, i
		case emptyWin:
			if free < 0 {
				free = i
			}
		}
	}
	g := &sh.groups[gid]
	if g.nExtra() > 0 {
		if i, ok := sh.extra[extraKey{gid, w}]; ok {
			return &sh.extraSlots, int(i)
		}
	}
	if free >= 0 {
		sh.slots.open(free, w, l)
		sh.openWindow(w, false)
		return &sh.slots, free
	}
	var i uint32
	if n := len(sh.freeExtra); n > 0 {
		i = sh.freeExtra[n-1]
		sh.freeExtra = sh.freeExtra[:n-1]
	} else {
		i = uint32(sh.extraSlots.len())
		sh.extraSlots.grow(int(i)+1, l)
	}
	if sh.extra == nil {
		sh.extra = make(map[extraKey]uint32)
	}
	sh.extra[extraKey{gid, w}] = i
	g.addExtra(1)
	sh.extraSlots.open(int(i), w, l)
	sh.openWindow(w, true)
	return &sh.extraSlots, int(i)
}

// openWindow counts one more slot for window w.
func (sh *shard) openWindow(w int64, extra bool) {
	i := len(sh.open)
	for i > 0 && sh.open[i-1].win > w {
		i--
	}
	if i == 0 || sh.open[i-1].win != w {
		sh.open = append(sh.open, openWindow{})
		copy(sh.open[i+1:], sh.open[i:])
		sh.open[i] = openWindow{win: w}
		i++
	}
	sh.open[i-1].n++
	if extra {
		sh.open[i-1].extra++
	}
}

// takeWindow removes window w from the open list and returns its slot
// counts.
func (sh *shard) takeWindow(w int64) (n, extra int) {
	for i, o := range sh.open {
		if o.win == w {
			copy(sh.open[i:], sh.open[i+1:])
			sh.open = sh.open[:len(sh.open)-1]
			return o.n, o.extra
		}
	}
	return 0, 0
}

// releaseSlot frees slot i of s after its window was emitted, keeping
// its side state for reuse unless it grew large.
func releaseSlot(s *slotStore, i int) {
	s.setWin(i, emptyWin)
	if s.uniq != nil {
		if m := s.uniq[i]; len(m) > maxRecycledSetLen {
			s.uniq[i] = nil
		} else {
			clear(m)
		}
	}
	if s.rates != nil {
		if r := s.rates[i]; cap(r) > 2*len(r)+64 {
			s.rates[i] = nil
		} else {
			s.rates[i] = r[:0]
		}
	}
}

// countIn records that the input series with hash h and count state cr
// has a sample in window w, and reports whether it is its first in w.
func (sh *shard) countIn(cr *countRec, h uint64, w, intervalMs int64) bool {
	switch {
	case w == cr.win:
		if cr.bits&1 != 0 {
			return false
		}
		cr.bits |= 1
		return true
	case w > cr.win:
		d := w - cr.win
		if d < 64 {
			// Memberships of windows that fall off the 64-window memory
			// but are still open move to the spill sets.
			for out := cr.bits >> (64 - d); out != 0; out &= out - 1 {
				k := int64(bits.TrailingZeros64(out)) + 64 - d
				sh.spill(cr.win-k, h, intervalMs)
			}
			cr.bits = cr.bits<<d | 1
		} else {
			for out := cr.bits; out != 0; out &= out - 1 {
				sh.spill(cr.win-int64(bits.TrailingZeros64(out)), h, intervalMs)
			}
			cr.bits = 1
		}
		cr.win = w
		return true
	default:
		if k := cr.win - w; k < 64 {
			bit := uint64(1) << k
			if cr.bits&bit != 0 {
				return false
			}
			cr.bits |= bit
			return true
		}
		set := sh.countSpill[w]
		if _, ok := set[h]; ok {
			return false
		}
		sh.spill(w, h, intervalMs)
		return true
	}
}

// spill adds h to the spill set of window w, if w is still open.
func (sh *shard) spill(w int64, h uint64, intervalMs int64) {
	if (w+1)*intervalMs <= sh.watermark {
		return
	}
	if sh.countSpill == nil {
		sh.countSpill = make(map[int64]map[uint64]struct{})
	}
	set := sh.countSpill[w]
	if set == nil {
		set = make(map[uint64]struct{})
		sh.countSpill[w] = set
	}
	set[h] = struct{}{}
}
