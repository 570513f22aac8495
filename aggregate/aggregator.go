package aggregate

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/value"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/checkpoint"
	"github.com/premetrics/premetrics/rules"
)

// Marks ORed into Push's marks for every series an aggregation matched.
const (
	MarkConsumed uint8 = 1 // the aggregation consumed the series (keep_input: false)
	MarkKept     uint8 = 2 // the aggregation wants the raw series forwarded too (keep_input: true)
)

// Options are the shared collaborators of an Aggregator.
type Options struct {
	// Dropped is premetrics_dropped_samples_total{stage,reason}; samples
	// of consumed series rejected as late or too_far_in_future are added
	// with stage="aggregate". May be nil.
	Dropped *prometheus.CounterVec
	// Metrics are the aggregation metrics; nil creates an unregistered set.
	Metrics *Metrics
}

// grouping says how output labels derive from input labels.
type grouping uint8

const (
	groupName    grouping = iota // only __name__
	groupBy                      // __name__ + by
	groupWithout                 // all but without
)

// Aggregator is one compiled aggregation with its window state. Push and
// Flush may be called concurrently; NextFlush and Name are pure.
type Aggregator struct {
	name       string
	sel        *rules.Selector // nil: every series
	inRelabel  *rules.Relabeler
	outRelabel *rules.Relabeler
	mark       uint8
	keepInput  bool

	intervalMs, latenessMs, skewMs, stalenessMs int64
	dedupMs                                     int64 // dedup_interval; 0: no deduplication

	grouping grouping
	groupSet []string // by or without, sorted
	outputs  []output
	suffixes []string // per output: ":<interval>[_by_..|_without_..]_<output>"
	keepName bool
	layout   layout
	slotsK   int // window slots per group, see newSlotsK

	// hashSeed keys the placing half of groupHash; a restored checkpoint
	// sets it back to the seed its groups were placed with.
	hashSeed    [8]byte
	fingerprint checkpoint.Fingerprint
	syms        *symbols
	shards      []shard
	scratch     sync.Pool // *pushScratch
	budget

	flushMu sync.Mutex     // serializes Flush; guards the fields below and shard.totals
	due     []int64        // window numbers due in this Flush
	workers []*flushWorker // one per flush goroutine, kept across flushes
	stale   []emitRec      // groups forgotten by this Flush, whose stale markers it emits

	metrics aggMetrics
	card    *cardinality // input label cardinality estimates (cardinality.go)
}

// New validates cfg and compiles it into an Aggregator with empty state.
func New(cfg Config, opts Options) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Aggregator{
		name:        cfg.Name,
		keepInput:   cfg.KeepInput,
		mark:        MarkConsumed,
		keepName:    cfg.KeepMetricNames,
		intervalMs:  time.Duration(cfg.Interval).Milliseconds(),
		latenessMs:  duration(cfg.Lateness, DefaultLateness).Milliseconds(),
		skewMs:      duration(cfg.MaxFutureSkew, DefaultMaxFutureSkew).Milliseconds(),
		stalenessMs: duration(cfg.StalenessInterval, defaultStalenessIntervals*time.Duration(cfg.Interval)).Milliseconds(),
		dedupMs:     duration(cfg.DedupInterval, 0).Milliseconds(),
		syms:        newSymbols(),
		hashSeed:    processHashSeed,
		fingerprint: fingerprint(&cfg),
	}
	a.maxGroups = int64(limit(cfg.MaxOutputSeries, DefaultMaxOutputSeries))
	a.maxSeries = int64(limit(cfg.MaxInputSeries, DefaultMaxInputSeries))
	if cfg.KeepInput {
		a.mark = MarkKept
	}
	var err error
	if cfg.Match != "" {
		if a.sel, err = rules.CompileSelector(cfg.Match); err != nil {
			return nil, fmt.Errorf("cannot compile match: %w", err)
		}
	}
	if a.inRelabel, err = rules.CompileRelabel(cfg.InputRelabelConfigs); err != nil {
		return nil, fmt.Errorf("cannot compile input_relabel_configs: %w", err)
	}
	if a.outRelabel, err = rules.CompileRelabel(cfg.OutputRelabelConfigs); err != nil {
		return nil, fmt.Errorf("cannot compile output_relabel_configs: %w", err)
	}

	groupPart := ""
	switch {
	case len(cfg.By) > 0:
		a.grouping = groupBy
		a.groupSet = slices.Sorted(slices.Values(cfg.By))
		groupPart = "_by_" + strings.Join(a.groupSet, "_")
	case len(cfg.Without) > 0:
		a.grouping = groupWithout
		a.groupSet = slices.Sorted(slices.Values(cfg.Without))
		groupPart = "_without_" + strings.Join(a.groupSet, "_")
	}
	for _, s := range cfg.Outputs {
		o, err := parseOutput(s)
		if err != nil { // Validate parsed it already
			return nil, fmt.Errorf("cannot parse output %q: %w", s, err)
		}
		a.outputs = append(a.outputs, o)
		a.suffixes = append(a.suffixes, ":"+cfg.Interval.String()+groupPart+"_"+outputNames[o.kind])
	}
	a.layout = newLayout(a.outputs)
	a.slotsK = newSlotsK(a.intervalMs, a.latenessMs)

	m := opts.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	a.metrics = m.forAggregation(cfg.Name, opts.Dropped)
	a.card = newCardinality(cfg.Name, m)

	a.shards = make([]shard, numShards)
	for i := range a.shards {
		a.shards[i].init()
		a.shards[i].slots = newSlotStore(&a.layout)
		a.shards[i].extraSlots = newSlotStore(&a.layout)
	}
	a.scratch.New = func() any { return new(pushScratch) }
	return a, nil
}

// newSlotsK returns how many window slots each group carries inline: the
// windows a group with in-order samples has open at once (the current one
// and those still waiting out their lateness), between 2 and
// maxSlotsPerGroup. Further windows use extra slots.
func newSlotsK(intervalMs, latenessMs int64) int {
	k := 1 + (latenessMs+intervalMs-1)/intervalMs
	return int(min(max(k, 2), maxSlotsPerGroup))
}

// Name returns the aggregation's configured name.
func (a *Aggregator) Name() string { return a.name }

// pushSeries aggregates the samples of one input series; the caller holds
// sh.mu. gh is the group's hash, gid the id of the group (sh.lookup(gh))
// or -1 when it does not exist, key its labels (borrowed; only needed
// when it does not exist); overflow
// says key is an overflow group. ru is the series' upstream partial
// (PushRollup; nil for raw input): each sample then merges it, and
// updates as a value only what the partial cannot supply. It returns
// false, having done nothing, when the series has no group yet and
// max_output_series is reached, and the id of the group the samples went
// to (-1 when none was created).
func (a *Aggregator) pushSeries(sh *shard, gh ghash, gid int, key []batch.Label, seriesHash uint64, samples []batch.Sample, nowMs int64, overflow bool, ru *rollupIn, c *pushCounts) (bool, int) {
	l := &a.layout
	if ru != nil {
		l = &ru.plan.fallback
	}
	maxTs := nowMs + a.skewMs
	// Below minTs a sample's window end + lateness is certainly < now;
	// the early check also keeps the window arithmetic from overflowing.
	minTs := nowMs - a.latenessMs - a.intervalMs

	// A missing group is created on the first aggregated sample.
	reserved := false
	if gid < 0 {
		ok := a.reserveGroup(overflow)
		if ok && !sh.roomFor(key) { // the shard's label arena is full
			a.releaseGroup(overflow)
			ok = false
		}
		if !ok {
			if !overflow {
				return false, gid
			}
			c.groupLimitDropped += len(samples)
			return true, gid
		}
		reserved = true
	}

	// Per-input-series state, copied in and written back at the end.
	var cr counterRec
	crPos, crTracked, hasBase := -1, false, false
	crSeen, crTouched := false, false // a counter sample was looked at; the record changed
	if l.counters {
		if crPos = sh.counters.find(seriesHash); crPos >= 0 {
			cr, crTracked, hasBase = *sh.counters.at(crPos), true, true
		} else {
			crTracked = reserve(&a.nCounters, a.maxSeries)
		}
	}
	var cn countRec
	cnPos, cnTracked, cnTouched := -1, false, false
	if l.seriesSet {
		if cnPos = sh.counted.find(seriesHash); cnPos >= 0 {
			cn, cnTracked = *sh.counted.at(cnPos), true
		} else {
			cnTracked = reserve(&a.nCounted, a.maxSeries)
		}
	}

	var dr dedupRec
	drPos, drTracked, drTouched := -1, false, false // drTouched: a sample was looked at
	if a.dedupMs > 0 {
		if drPos = sh.dedup.find(seriesHash); drPos >= 0 {
			dr, drTracked = *sh.dedup.at(drPos), true
		} else {
			drTracked = reserve(&a.nDedup, a.maxSeries)
		}
	}

	var st *slotStore
	var si int
	var f []float64
	curWin := int64(math.MinInt64)
	aggregated := 0
	for _, smp := range samples {
		ts, v := smp.Timestamp, smp.Value
		if value.IsStaleNaN(v) {
			c.stale++
			continue
		}
		if a.sel != nil && !a.sel.Keep(v) {
			continue
		}
		if ts > maxTs {
			c.future++
			continue
		}
		if ts < minTs {
			c.late++
			continue
		}
		start := windowStart(ts, a.intervalMs)
		end := start + a.intervalMs
		if end+a.latenessMs < nowMs || end <= sh.watermark {
			c.late++
			continue
		}

		limited := false // per-series state was needed but the series is untracked
		if a.dedupMs > 0 {
			if drTracked {
				b := windowStart(ts, a.dedupMs) / a.dedupMs
				if (drPos >= 0 || drTouched) && b <= dr.bucket {
					drTouched = true
					c.deduplicated++
					continue
				}
				dr.bucket, drTouched = b, true
			} else {
				limited = true
			}
		}
		counted, delta := false, 0.0
		if l.counters {
			crSeen = crSeen || crTracked
			switch {
			case !crTracked:
				limited = true
				if l.onlyCounters {
					c.inputLimited++
					continue
				}
			case math.IsNaN(v): // not a counter value; keep the baseline
				if l.onlyCounters {
					continue
				}
			case !hasBase: // first sight: baseline only, no spike
				cr = counterRec{prevTs: ts, prevV: v}
				hasBase, crTouched = true, true
			case ts <= cr.prevTs:
				c.outOfOrder++
				if l.onlyCounters {
					continue
				}
			default:
				delta = v - cr.prevV
				if v < cr.prevV { // reset
					delta = v
				}
				counted = true
			}
		}

		w := start / a.intervalMs
		if w != curWin {
			if gid < 0 {
				gid = a.newGroup(sh, gh, key, overflow)
				reserved = false
			}
			st, si = sh.slotFor(uint32(gid), w, a.slotsK, &a.layout)
			f = st.f(si)
			curWin = w
		}
		l.update(f, ts, v)
		if ru != nil {
			a.layout.merge(f, st, si, ru)
		}
		if l.uniq {
			m := st.uniq[si]
			if m == nil {
				m = make(map[uint64]struct{})
				st.uniq[si] = m
			}
			m[uniqKey(v)] = struct{}{}
		}
		if l.sketch {
			sk := st.sk[si]
			if sk == nil {
				sk = &sketch{}
				st.sk[si] = sk
			}
			sk.add(v)
		}
		if l.seriesSet {
			if cnTracked {
				if cnPos < 0 && !cnTouched {
					cn = countRec{win: w, bits: 1}
					cnTouched = true
					f[l.countSeries]++
				} else if sh.countIn(&cn, seriesHash, w, a.intervalMs) {
					cnTouched = true
					f[l.countSeries]++
				}
			} else {
				limited = true
			}
		}
		if counted {
			if l.increase >= 0 {
				f[l.increase] += delta
			}
			if l.rates {
				rs := st.rates[si]
				if j := int(cr.rateIdx); j < len(rs) && rs[j].series == seriesHash {
					rs[j].delta += delta
					rs[j].lastTs = ts
				} else {
					cr.rateIdx = uint32(len(rs))
					st.rates[si] = append(rs, rateAcc{series: seriesHash, delta: delta, baseTs: cr.prevTs, lastTs: ts})
				}
			}
			cr.prevTs, cr.prevV = ts, v
			crTouched = true
		}
		if limited {
			c.inputLimited++
		}
		aggregated++
	}
	if aggregated > 0 {
		sh.groups[gid].lastSeen = sh.seconds(nowMs)
		c.aggregated += aggregated
		if overflow {
			c.groupLimited += aggregated
		}
	}
	if reserved { // no sample created the group
		a.releaseGroup(overflow)
	}
	if l.counters && crTracked {
		switch {
		case crPos >= 0:
			if crSeen {
				cr.lastSeen = sh.seconds(nowMs)
			}
			*sh.counters.at(crPos) = cr
		case crTouched:
			cr.lastSeen = sh.seconds(nowMs)
			sh.counters.insert(seriesHash, cr)
		default:
			a.nCounters.Add(-1)
		}
	}
	if a.dedupMs > 0 && drTracked {
		switch {
		case !drTouched:
			if drPos < 0 {
				a.nDedup.Add(-1)
			}
		case drPos >= 0:
			dr.lastSeen = sh.seconds(nowMs)
			*sh.dedup.at(drPos) = dr
		default:
			dr.lastSeen = sh.seconds(nowMs)
			sh.dedup.insert(seriesHash, dr)
		}
	}
	if l.seriesSet && cnTracked {
		switch {
		case cnPos >= 0:
			*sh.counted.at(cnPos) = cn
		case cnTouched:
			sh.counted.insert(seriesHash, cn)
		default:
			a.nCounted.Add(-1)
		}
	}
	return true, gid
}

// newGroup creates the group for key and returns its id.
func (a *Aggregator) newGroup(sh *shard, gh ghash, key []batch.Label, overflow bool) int {
	ref, ok := a.syms.pack(key, a.outputNamesFor, &sh.labels)
	if !ok { // pushSeries made room for key (shard.roomFor)
		panic("aggregate: no room for a new group's labels")
	}
	g := groupRec{check: gh.check, hashHi: uint32(gh.h >> 32), lref: ref}
	if overflow {
		g.meta = metaOverflow
	}
	return int(sh.addGroup(g, a.slotsK, &a.layout))
}

// outputNamesFor returns the output metric names for input metric name,
// one per output. The symbol table keeps them with the interned metric.
func (a *Aggregator) outputNamesFor(metric string) []string {
	names := make([]string, len(a.outputs))
	for i := range names {
		if a.keepName {
			names[i] = metric
		} else {
			names[i] = metric + a.suffixes[i]
		}
	}
	return names
}

// checkSeed seeds the check half of groupHash. One per process, not per
// Aggregator: the check never leaves the process (a checkpoint stores
// group labels, not hashes).
var checkSeed = maphash.MakeSeed()

// processHashSeed is every new Aggregator's hashSeed, so aggregations
// fed the same input emit in the same order.
var processHashSeed = newHashSeed()

// newHashSeed returns a random seed for the placing half of groupHash.
func newHashSeed() [8]byte {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], maphash.Comparable(maphash.MakeSeed(), 0))
	return s
}

// ghash identifies a group key: h places the group in a shard and in its
// index, check is an independent second hash of the same bytes. A group is
// found by comparing check and the upper half of h (the part groupRec
// keeps) instead of its labels (see doc.go, "Group identity").
type ghash struct{ h, check uint64 }

// groupHash returns the hashes of group key and buf for reuse. h is
// xxhash of the aggregation's seed and the key, stable across processes,
// so a restored checkpoint (which keeps the seed) puts every group in the
// shard it was in, with the per-input-series state saved there. check is
// the runtime's AES-based hash, keyed per process: cheaper than comparing
// labels, and nobody can construct a pair of keys colliding in both.
func (a *Aggregator) groupHash(key []batch.Label, buf []byte) (ghash, []byte) {
	buf = batch.AppendHashInput(append(buf[:0], a.hashSeed[:]...), key)
	return ghash{xxhash.Sum64(buf), maphash.Bytes(checkSeed, buf[len(a.hashSeed):])}, buf
}

// groupHashOf returns groupHash(groupKey(ls)) without building the key:
// it appends the selected labels' bytes to the hash input directly.
func (a *Aggregator) groupHashOf(ls []batch.Label, buf []byte) (ghash, []byte) {
	buf = append(buf[:0], a.hashSeed[:]...)
	by := a.grouping == groupBy
	named := false // __name__ is in the input, or was put in as absent
	for i := range ls {
		l := &ls[i]
		if l.Value == "" {
			continue
		}
		if l.Name == batch.MetricName {
			named = true
		} else if a.grouping == groupName || a.inGroupSet(l.Name) != by {
			continue
		} else if !named && l.Name > batch.MetricName {
			buf = append(buf, batch.MetricName+"\xff\xff"...)
			named = true
		}
		buf = append(buf, l.Name...)
		buf = append(buf, 0xff)
		buf = append(buf, l.Value...)
		buf = append(buf, 0xff)
	}
	if !named {
		buf = append(buf, batch.MetricName+"\xff\xff"...)
	}
	return ghash{xxhash.Sum64(buf), maphash.Bytes(checkSeed, buf[len(a.hashSeed):])}, buf
}

// groupKey appends to dst the grouping labels of ls (sorted like ls): the
// metric name plus the by labels, all labels but the without ones, or
// only the metric name. Empty values count as absent. The result always
// has a __name__ label (empty for a nameless series).
func (a *Aggregator) groupKey(ls, dst []batch.Label) []batch.Label {
	start := len(dst)
	hasName := false
	by := a.grouping == groupBy
	for _, l := range ls {
		if l.Value == "" {
			continue
		}
		if l.Name == batch.MetricName {
			dst = append(dst, l)
			hasName = true
			continue
		}
		if a.grouping == groupName {
			continue
		}
		if a.inGroupSet(l.Name) == by {
			dst = append(dst, l)
		}
	}
	if !hasName {
		i := start
		for i < len(dst) && dst[i].Name < batch.MetricName {
			i++
		}
		dst = slices.Insert(dst, i, batch.Label{Name: batch.MetricName})
	}
	return dst
}

// inGroupSet reports whether name is one of the by or without labels. A
// linear scan that compares lengths and first bytes inline before calling
// memequal: cheaper than ordered string comparisons for the few names of
// a grouping.
func (a *Aggregator) inGroupSet(name string) bool {
	if name == "" {
		return false
	}
	for _, s := range a.groupSet {
		if len(s) == len(name) && s[0] == name[0] && s == name {
			return true
		}
	}
	return false
}

// NextFlush returns the earliest time after now at which a window closes:
// the next window end e with e + lateness > now, plus lateness. Flush at
// that time emits every window that is due; when nothing was pushed it
// emits nothing.
func (a *Aggregator) NextFlush(now time.Time) time.Time {
	x := now.UnixMilli() - a.latenessMs
	end := windowStart(x, a.intervalMs) + a.intervalMs
	return time.UnixMilli(end + a.latenessMs)
}

// windowStart returns floor(ts/interval)*interval.
func windowStart(ts, intervalMs int64) int64 {
	m := ts % intervalMs
	if m < 0 {
		m += intervalMs
	}
	return ts - m
}

// uniqKey returns the identity of v for unique_samples: its bits, with
// every zero and every NaN folded into one.
func uniqKey(v float64) uint64 {
	switch {
	case v == 0:
		return 0
	case math.IsNaN(v):
		return 0x7ff8000000000001
	}
	return math.Float64bits(v)
}
