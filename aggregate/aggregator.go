package aggregate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/value"

	"github.com/premetrics/premetrics/batch"
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

	grouping grouping
	groupSet []string // by or without, sorted
	outputs  []output
	suffixes []string // per output: ":<interval>[_by_..|_without_..]_<output>"
	keepName bool
	layout   layout

	shards  []shard
	scratch sync.Pool // *pushScratch

	namesMu sync.Mutex
	names   map[string][]string // input metric name -> output names (per output)

	flushMu sync.Mutex // serializes Flush; guards the fields below and group.total
	closed  []closedWindow
	lbuf    []batch.Label
	rbuf    []batch.Label
	sbuf    [1]batch.Sample

	metrics aggMetrics
}

// pushScratch holds Push's reusable buffers.
type pushScratch struct {
	relabeled []batch.Label
	key       []batch.Label
	hashBuf   []byte
}

// closedWindow is a window taken out of a shard by Flush.
type closedWindow struct {
	start  int64
	shard  int
	states []*winState
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
		names:       make(map[string][]string),
	}
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

	m := opts.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	a.metrics = m.forAggregation(cfg.Name, opts.Dropped)

	a.shards = make([]shard, numShards)
	for i := range a.shards {
		a.shards[i].init()
	}
	a.scratch.New = func() any { return new(pushScratch) }
	return a, nil
}

// Name returns the aggregation's configured name.
func (a *Aggregator) Name() string { return a.name }

// Push feeds the matching samples of b into their open windows.
//
// For every series the match selector selects, Push ORs MarkKept
// (keep_input) or MarkConsumed into marks[i]; len(marks) must be
// len(b.Series). A sample of a selected series is skipped when it fails
// the selector's comparison; skipped and counted when it is a stale
// marker, lies more than max_future_skew after now, or belongs to a window
// already emitted or closed (window end + lateness < now). now is the
// wall clock.
//
// Push does not modify b and keeps none of its memory: label strings are
// cloned when a new group is created. It is safe for concurrent use with
// Push and Flush. Aggregating into existing groups and windows does not
// allocate (input_relabel_configs may, as Prometheus' relabeling does).
func (a *Aggregator) Push(b *batch.Batch, marks []uint8, now time.Time) {
	nowMs := now.UnixMilli()
	sc := a.scratch.Get().(*pushScratch)
	var c pushCounts
	for i := range b.Series {
		s := &b.Series[i]
		if a.sel != nil && !a.sel.Matches(s.Labels) {
			continue
		}
		marks[i] |= a.mark
		if len(s.Samples) == 0 {
			continue
		}
		ls := s.Labels
		if a.inRelabel != nil {
			out, keep := a.inRelabel.Apply(ls, sc.relabeled)
			sc.relabeled = out[:0]
			if !keep {
				continue
			}
			ls = out
		}
		sc.key = a.groupKey(ls, sc.key[:0])
		var gh, seriesHash uint64
		gh, sc.hashBuf = batch.HashWithBuf(sc.key, sc.hashBuf)
		if a.layout.counters || a.layout.seriesSet {
			seriesHash, sc.hashBuf = batch.HashWithBuf(ls, sc.hashBuf)
		}
		a.pushSeries(&a.shards[gh%numShards], gh, sc.key, seriesHash, s.Samples, nowMs, &c)
	}
	clear(sc.relabeled[:cap(sc.relabeled)]) // do not keep b's strings alive in the pool
	clear(sc.key[:cap(sc.key)])
	a.scratch.Put(sc)
	a.metrics.add(&c, !a.keepInput)
}

// pushSeries aggregates the samples of one input series under its shard's
// lock. key is the group's labels (borrowed), gh their hash.
func (a *Aggregator) pushSeries(sh *shard, gh uint64, key []batch.Label, seriesHash uint64, samples []batch.Sample, nowMs int64, c *pushCounts) {
	l := &a.layout
	maxTs := nowMs + a.skewMs
	// Below minTs a sample's window end + lateness is certainly < now;
	// the early check also keeps the window arithmetic from overflowing.
	minTs := nowMs - a.latenessMs - a.intervalMs

	sh.mu.Lock()
	defer sh.mu.Unlock()
	g := sh.lookup(gh, key) // created on the first aggregated sample
	var ser seriesState
	hasBase, serTouched := false, false
	if l.counters {
		ser, hasBase = sh.series[seriesHash]
	}
	var cur, setFor *winState
	curStart := int64(math.MinInt64)
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

		counted, delta := false, 0.0
		if l.counters {
			serTouched = true
			switch {
			case math.IsNaN(v): // not a counter value; keep the baseline
				if l.onlyCounters {
					continue
				}
			case !hasBase: // first sight: baseline only, no spike
				ser = seriesState{prevTs: ts, prevV: v, rateWin: math.MinInt64}
				hasBase = true
			case ts <= ser.prevTs:
				c.outOfOrder++
				if l.onlyCounters {
					continue
				}
			default:
				delta = v - ser.prevV
				if v < ser.prevV { // reset
					delta = v
				}
				counted = true
			}
		}

		if start != curStart {
			if g == nil {
				g = a.newGroup(sh, gh, key)
			}
			cur = sh.window(l, a.intervalMs, g, start)
			curStart = start
		}
		l.update(cur.f, ts, v)
		if l.uniq {
			cur.uniq[uniqKey(v)] = struct{}{}
		}
		if l.sketch {
			cur.sk.add(v)
		}
		if l.seriesSet && setFor != cur {
			cur.seriesSet[seriesHash] = struct{}{}
			setFor = cur
		}
		if counted {
			if l.increase >= 0 {
				cur.f[l.increase] += delta
			}
			if l.rates {
				if ser.rateWin == start && int(ser.rateIdx) < len(cur.rates) {
					r := &cur.rates[ser.rateIdx]
					r.delta += delta
					r.lastTs = ts
				} else {
					ser.rateWin, ser.rateIdx = start, int32(len(cur.rates))
					cur.rates = append(cur.rates, rateAcc{delta: delta, baseTs: ser.prevTs, lastTs: ts})
				}
			}
			ser.prevTs, ser.prevV = ts, v
		}
		aggregated++
	}
	if aggregated > 0 {
		g.lastSeen = nowMs
		c.aggregated += aggregated
	}
	if serTouched {
		ser.lastSeen = nowMs
		sh.series[seriesHash] = ser
	}
}

// newGroup creates the group for key, cloning its labels.
func (a *Aggregator) newGroup(sh *shard, h uint64, key []batch.Label) *group {
	g := &group{labels: batch.Clone(key), hash: h}
	for i, l := range g.labels {
		if l.Name == batch.MetricName {
			g.nameIdx = i
		}
	}
	g.names = a.outputNamesFor(g.labels[g.nameIdx].Value)
	sh.insert(g)
	return g
}

// outputNamesFor returns the output metric names for input metric name
// (owned by the caller's group), shared by every group of that metric.
func (a *Aggregator) outputNamesFor(metric string) []string {
	a.namesMu.Lock()
	defer a.namesMu.Unlock()
	if names, ok := a.names[metric]; ok {
		return names
	}
	names := make([]string, len(a.outputs))
	for i := range names {
		if a.keepName {
			names[i] = metric
		} else {
			names[i] = metric + a.suffixes[i]
		}
	}
	a.names[metric] = names
	return names
}

// groupKey appends to dst the grouping labels of ls (sorted like ls): the
// metric name plus the by labels, all labels but the without ones, or
// only the metric name. Empty values count as absent. The result always
// has a __name__ label (empty for a nameless series).
func (a *Aggregator) groupKey(ls, dst []batch.Label) []batch.Label {
	hasName := false
	set := a.groupSet
	j := 0
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
		for j < len(set) && set[j] < l.Name {
			j++
		}
		inSet := j < len(set) && set[j] == l.Name
		if inSet == (a.grouping == groupBy) {
			dst = append(dst, l)
		}
	}
	if !hasName {
		i := 0
		for i < len(dst) && dst[i].Name < batch.MetricName {
			i++
		}
		dst = slices.Insert(dst, i, batch.Label{Name: batch.MetricName})
	}
	return dst
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
