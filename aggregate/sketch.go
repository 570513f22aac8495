package aggregate

import (
	"math"
	"slices"

	"github.com/premetrics/premetrics/batch"
)

// sketch is a mergeable quantile sketch with bounded relative error, after
// DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable
// quantile sketch with relative-error guarantees", VLDB 2019), whose
// buckets are those of a Prometheus native histogram of schema
// sketchSchema, so the histogram output is the sketch itself.
//
// A positive value v lands in bucket k = ⌈log_γ v⌉ with γ = 2^(2^−5)
// (computed exactly, from v's binary exponent and mantissa, as Prometheus
// does); bucket k covers (γ^(k−1), γ^k] and is represented by 2γ^k/(γ+1),
// which is within α = (γ−1)/(γ+1) ≈ 1.08% (sketchRelAcc) of every value
// in it. Negative values use a mirror store on |v|; 0 and subnormal
// values count as zero; ±Inf have their own counters; NaN is ignored.
//
// Quantile(φ) returns the value of rank ⌊φ·(n−1)⌋ (0-based, no
// interpolation) within relative error α, clamped to the exact [min, max];
// the lowest and highest ranks (φ=0, φ=1) return the exact min and max.
// Each store keeps at most sketchMaxBuckets buckets (collapsing the
// lowest |v|), which covers 19 decades at full accuracy; beyond that the
// smallest magnitudes lose accuracy first. Merging two sketches gives the
// sketch of the union of their inputs.
type sketch struct {
	pos, neg       sketchStore
	zero           uint64
	posInf, negInf uint64
	count          uint64 // all values except NaN
	min, max       float64
}

const (
	sketchSchema     = 5                 // native histogram schema of the buckets
	sketchBuckets    = 1 << sketchSchema // buckets per power of two
	sketchMinValue   = 0x1p-1022         // smallest normal float64; below counts as zero
	sketchMaxBuckets = 2048
)

var (
	sketchGamma   = math.Exp2(1.0 / sketchBuckets)
	sketchLnGamma = math.Log(sketchGamma)
	sketchRelAcc  = (sketchGamma - 1) / (sketchGamma + 1)
	// sketchBounds[i] = γ^i / 2, the upper bounds of the buckets of a
	// mantissa in [0.5, 1) (Prometheus' nativeHistogramBounds[5]).
	sketchBounds = func() (b [sketchBuckets]float64) {
		for i := range b {
			b[i] = math.Exp2(float64(i)/sketchBuckets) / 2
		}
		return b
	}()
)

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

// sketchIndex returns the bucket of v >= sketchMinValue (finite): with
// v = frac·2^exp, frac in [0.5, 1), the first bound >= frac, plus 32 per
// power of two. Exact at the bucket bounds, unlike a logarithm.
func sketchIndex(v float64) int {
	frac, exp := math.Frexp(v)
	lo, hi := 0, sketchBuckets // first i with sketchBounds[i] >= frac
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sketchBounds[m] < frac {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo + (exp-1)*sketchBuckets
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

// histogram writes s as a gauge native histogram of the given schema (at
// most sketchSchema) into h, reusing h's span and delta buffers; the
// caller sets Sum. A bucket of the sketch falls into the bucket of index
// ⌈k / 2^(sketchSchema−schema)⌉, which contains it exactly. ±Inf count
// in the bucket of ±MaxFloat64, the highest a histogram has, so the
// buckets add up to Count.
func (s *sketch) histogram(schema int32, h *batch.Histogram) {
	shift := uint(sketchSchema - schema)
	*h = batch.Histogram{
		Count:          s.count,
		Schema:         schema,
		ZeroThreshold:  sketchMinValue,
		ZeroCount:      s.zero,
		Gauge:          true,
		PositiveSpans:  h.PositiveSpans[:0],
		PositiveDeltas: h.PositiveDeltas[:0],
		NegativeSpans:  h.NegativeSpans[:0],
		NegativeDeltas: h.NegativeDeltas[:0],
	}
	h.PositiveSpans, h.PositiveDeltas = s.pos.buckets(shift, s.posInf, h.PositiveSpans, h.PositiveDeltas)
	h.NegativeSpans, h.NegativeDeltas = s.neg.buckets(shift, s.negInf, h.NegativeSpans, h.NegativeDeltas)
}

// sketchInfIndex is the bucket of MaxFloat64, where ±Inf are counted.
var sketchInfIndex = sketchIndex(math.MaxFloat64)

// buckets appends the store's non-empty buckets, coarsened by shift
// (index k → ⌈k/2^shift⌉), plus inf values in the bucket of MaxFloat64,
// as native histogram spans and delta-encoded counts.
func (st *sketchStore) buckets(shift uint, inf uint64, spans []batch.Span, deltas []int64) ([]batch.Span, []int64) {
	var (
		last, prev int64 // index and count of the last bucket appended
		cur        int64 // index of the bucket being summed
		sum        uint64
		started    bool
	)
	put := func(idx int64, c uint64) {
		switch {
		case len(spans) == 0:
			spans = append(spans, batch.Span{Offset: int32(idx), Length: 1})
		case idx == last+1:
			spans[len(spans)-1].Length++
		default:
			spans = append(spans, batch.Span{Offset: int32(idx - last - 1), Length: 1})
		}
		deltas = append(deltas, int64(c)-prev)
		last, prev = idx, int64(c)
	}
	add := func(k int, c uint64) {
		idx := (int64(k) + 1<<shift - 1) >> shift
		if started && idx != cur {
			put(cur, sum)
			sum = 0
		}
		cur, started = idx, true
		sum += c
	}
	for i, c := range st.counts {
		if c > 0 {
			add(st.offset+i, c)
		}
	}
	if inf > 0 {
		add(sketchInfIndex, inf)
	}
	if started {
		put(cur, sum)
	}
	return spans, deltas
}
