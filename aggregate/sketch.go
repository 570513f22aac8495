package aggregate

import (
	"math"
	"slices"
)

// sketch is a mergeable quantile sketch with bounded relative error, after
// DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable
// quantile sketch with relative-error guarantees", VLDB 2019).
//
// A positive value v lands in bucket k = ⌈log_γ v⌉ with
// γ = (1+α)/(1−α), α = sketchRelAcc = 1%; bucket k covers (γ^(k−1), γ^k]
// and is represented by 2γ^k/(γ+1), which is within α of every value in
// it. Negative values use a mirror store on |v|; 0 and subnormal values
// count as zero; ±Inf have their own counters; NaN is ignored.
//
// Quantile(φ) returns the value of rank ⌊φ·(n−1)⌋ (0-based, no
// interpolation) within relative error α, clamped to the exact [min, max];
// the lowest and highest ranks (φ=0, φ=1) return the exact min and max. Each store keeps at most sketchMaxBuckets
// buckets (collapsing the lowest |v|), which covers 19 decades at full
// accuracy; beyond that the smallest magnitudes lose accuracy first.
// Merging two sketches gives the sketch of the union of their inputs.
type sketch struct {
	pos, neg       sketchStore
	zero           uint64
	posInf, negInf uint64
	count          uint64 // all values except NaN
	min, max       float64
}

const (
	sketchRelAcc     = 0.01
	sketchGamma      = (1 + sketchRelAcc) / (1 - sketchRelAcc)
	sketchMinValue   = 0x1p-1022 // smallest normal float64; below counts as zero
	sketchMaxBuckets = 2048
)

// sketchLnGamma is ln(sketchGamma), computed once.
var sketchLnGamma = math.Log(sketchGamma)

func (s *sketch) reset() {
	s.pos.reset()
	s.neg.reset()
	*s = sketch{pos: s.pos, neg: s.neg}
}

// add inserts v.
func (s *sketch) add(v float64) {
	if math.IsNaN(v) {
		return
	}
	if s.count == 0 || v < s.min {
		s.min = v
	}
	if s.count == 0 || v > s.max {
		s.max = v
	}
	s.count++
	switch {
	case math.IsInf(v, 1):
		s.posInf++
	case math.IsInf(v, -1):
		s.negInf++
	case v >= sketchMinValue:
		s.pos.add(sketchIndex(v), 1)
	case v <= -sketchMinValue:
		s.neg.add(sketchIndex(-v), 1)
	default:
		s.zero++
	}
}

// merge adds every value of o to s.
func (s *sketch) merge(o *sketch) {
	if o.count == 0 {
		return
	}
	if s.count == 0 || o.min < s.min {
		s.min = o.min
	}
	if s.count == 0 || o.max > s.max {
		s.max = o.max
	}
	s.count += o.count
	s.zero += o.zero
	s.posInf += o.posInf
	s.negInf += o.negInf
	for i, c := range o.pos.counts {
		if c > 0 {
			s.pos.add(o.pos.offset+i, c)
		}
	}
	for i, c := range o.neg.counts {
		if c > 0 {
			s.neg.add(o.neg.offset+i, c)
		}
	}
}

// quantile returns the φ-quantile (see the type doc), NaN when empty.
func (s *sketch) quantile(phi float64) float64 {
	if s.count == 0 {
		return math.NaN()
	}
	rank := uint64(phi * float64(s.count-1)) // the element with this 0-based rank
	switch rank {
	case 0:
		return s.min
	case s.count - 1:
		return s.max
	}
	return max(s.min, min(s.max, s.valueAtRank(rank)))
}

func (s *sketch) valueAtRank(rank uint64) float64 {
	cum := s.negInf
	if rank < cum {
		return math.Inf(-1)
	}
	for i := len(s.neg.counts) - 1; i >= 0; i-- { // most negative first
		cum += s.neg.counts[i]
		if rank < cum {
			return -sketchValue(s.neg.offset + i)
		}
	}
	cum += s.zero
	if rank < cum {
		return 0
	}
	for i, c := range s.pos.counts {
		cum += c
		if rank < cum {
			return sketchValue(s.pos.offset + i)
		}
	}
	return math.Inf(1)
}

// sketchIndex returns the bucket of v >= sketchMinValue.
func sketchIndex(v float64) int {
	if v > math.MaxFloat64/2 { // keep the index finite for huge values
		v = math.MaxFloat64 / 2
	}
	return int(math.Ceil(math.Log(v) / sketchLnGamma))
}

// sketchValue returns the representative value of bucket k.
func sketchValue(k int) float64 {
	return 2 * math.Exp(float64(k)*sketchLnGamma) / (sketchGamma + 1)
}

// sketchStore is a dense run of bucket counts: counts[i] is bucket
// offset+i. It holds at most sketchMaxBuckets buckets; indices below the
// window fold into its lowest bucket.
type sketchStore struct {
	offset int
	counts []uint64
}

// reset empties the store, keeping its capacity. It does not clear the
// old counts: add clears every bucket it brings into the slice, so a
// reset costs nothing per bucket (a flush resets a million sketches).
func (st *sketchStore) reset() {
	st.counts = st.counts[:0]
	st.offset = 0
}

func (st *sketchStore) add(k int, n uint64) {
	if len(st.counts) == 0 {
		st.offset = k
		st.counts = append(st.counts, n)
		return
	}
	hi := st.offset + len(st.counts) - 1
	switch {
	case k < st.offset:
		lowest := hi - sketchMaxBuckets + 1
		if k < lowest {
			k = lowest
		}
		if k < st.offset {
			st.growLeft(st.offset - k)
		}
	case k > hi:
		if lowest := k - sketchMaxBuckets + 1; lowest > st.offset {
			st.collapseBelow(lowest)
		}
		if need := k - st.offset + 1; need > len(st.counts) {
			old := len(st.counts)
			st.counts = slices.Grow(st.counts, need-old)[:need]
			clear(st.counts[old:])
		}
	}
	st.counts[k-st.offset] += n
}

// growLeft prepends d empty buckets.
func (st *sketchStore) growLeft(d int) {
	old := len(st.counts)
	st.counts = slices.Grow(st.counts, d)[:old+d]
	copy(st.counts[d:], st.counts[:old])
	clear(st.counts[:d])
	st.offset -= d
}

// collapseBelow folds every bucket below index lowest into bucket lowest
// and makes lowest the first bucket.
func (st *sketchStore) collapseBelow(lowest int) {
	drop := lowest - st.offset
	if drop >= len(st.counts) {
		var total uint64
		for _, c := range st.counts {
			total += c
		}
		clear(st.counts)
		st.counts = append(st.counts[:0], total)
		st.offset = lowest
		return
	}
	var folded uint64
	for _, c := range st.counts[:drop] {
		folded += c
	}
	n := copy(st.counts, st.counts[drop:])
	clear(st.counts[n:])
	st.counts = st.counts[:n]
	st.counts[0] += folded
	st.offset = lowest
}
