package aggregate

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/batch"
)

// Input cardinality estimates (doc.go, "Metrics"): which input label
// names of an aggregation have the most distinct values, so that a user
// whose aggregation hits max_output_series or max_input_series sees the
// label that explodes.
const (
	// cardSampleEvery: Push observes about one in this many matched
	// series (after input_relabel_configs), chosen by their position in
	// the batch plus an offset mixed from the push time, so about every
	// cardSampleEvery-th push of each series. The position is the
	// series' in the batch, not among the series matched, so that all
	// aggregations of a pipeline observe the same series of a batch: the
	// pipeline relabels a series it pushes unrelabeled (LabelSource) only
	// once for all of them. A power of two.
	cardSampleEvery = 16
	// cardPeriod: the estimates cover the series observed in the current
	// and the previous period of the push clock (10–20 min of data);
	// periods are aligned to the Unix epoch.
	cardPeriod = 10 * time.Minute
	// cardMaxNames bounds the label names tracked per aggregation; the
	// values of further names are counted together, as label="__other__"
	// (distinct name/value pairs).
	cardMaxNames = 64
	// cardTopN is how many label names are exported per aggregation.
	cardTopN = 10
	// cardOtherLabel is the label value under which the names beyond
	// cardMaxNames are counted.
	cardOtherLabel = "__other__"
)

// cardinality estimates, for one aggregation, the distinct input series
// and the distinct values of each input label name, with one HyperLogLog
// pair (two periods) per name. observe is lock-free and allocation-free
// once a name is known; it is safe for concurrent use with itself, with
// advance and with collect.
type cardinality struct {
	name  string
	owner *Metrics // exports the estimates of the aggregation name (claim)
	mask  uint64   // cardSampleEvery-1; tests set 0 to observe every series

	period int64 // ms
	// gen is the period (push time / period) whose registers observe
	// writes: regs[gen&1]; regs[(gen+1)&1] hold the period before.
	// math.MinInt64 before the first advance.
	gen    atomic.Int64
	names  atomic.Pointer[cardNames]
	series *cardSketch // distinct input series
	other  *cardSketch // name/value pairs of names beyond cardMaxNames

	mu sync.Mutex // serializes add, advance and collect
}

// cardNames is an immutable table of the tracked label names, replaced
// (copied) when a name is added. pos[i] is the name first seen at label
// position i: the series of an aggregation mostly share their label
// names, so comparing with it saves the map lookup.
type cardNames struct {
	m    map[string]*cardSketch
	list []*cardSketch
	pos  []*cardSketch
}

// cardMaxPos bounds cardNames.pos.
const cardMaxPos = 32

// cardSketch is the HyperLogLog pair of one label name.
type cardSketch struct {
	label string
	key   uint64 // mixed into the series hash: the label name's own hash
	regs  [2]hll
}

func newCardinality(name string, owner *Metrics) *cardinality {
	c := &cardinality{
		name:   name,
		owner:  owner,
		mask:   cardSampleEvery - 1,
		period: cardPeriod.Milliseconds(),
		series: &cardSketch{},
		other:  &cardSketch{label: cardOtherLabel},
	}
	c.gen.Store(math.MinInt64)
	c.names.Store(&cardNames{m: map[string]*cardSketch{}})
	return c
}

// sampled reports whether Push observes series n of a batch pushed at
// nowMs: one in cardSampleEvery, starting at an offset that is
// a multiplicative hash of nowMs, so that batches of the same series in
// the same order are sampled at different positions.
func (c *cardinality) sampled(n int, nowMs int64) bool {
	return (uint64(nowMs)*0x9e3779b97f4a7c15>>32+uint64(n))&c.mask == 0
}

// observe records the labels of one input series pushed at nowMs. ls is
// borrowed: names are copied when first tracked.
func (c *cardinality) observe(ls []batch.Label, nowMs int64) {
	g := c.gen.Load()
	if nowMs/c.period > g {
		c.advance(nowMs)
		g = c.gen.Load()
	}
	cur := g & 1
	t := c.names.Load()
	var sh uint64
	for i := range ls {
		l := &ls[i]
		if l.Value == "" {
			continue
		}
		h := xxhash.Sum64String(l.Value)
		var sk *cardSketch
		if i < len(t.pos) && t.pos[i] != nil && t.pos[i].label == l.Name {
			sk = t.pos[i]
		} else if sk = t.m[l.Name]; sk == nil {
			if sk = c.add(l.Name, i); sk == c.other {
				h = mix64(h ^ xxhash.Sum64String(l.Name))
			}
		}
		sk.regs[cur].add(h)
		sh += mix64(h ^ sk.key)
	}
	c.series.regs[cur].add(mix64(sh))
}

// add returns the sketch of label name, seen at label position i,
// creating it unless cardMaxNames names are tracked already; then it
// returns c.other.
func (c *cardinality) add(name string, i int) *cardSketch {
	if t := c.names.Load(); len(t.list) >= cardMaxNames {
		return c.other
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.names.Load()
	if sk := t.m[name]; sk != nil {
		return sk
	}
	if len(t.list) >= cardMaxNames {
		return c.other
	}
	name = strings.Clone(name)
	sk := &cardSketch{label: name, key: xxhash.Sum64String(name)}
	nt := &cardNames{
		m:    make(map[string]*cardSketch, len(t.list)+1),
		list: append(slices.Clip(t.list), sk),
		pos:  slices.Clone(t.pos),
	}
	for _, s := range nt.list {
		nt.m[s.label] = s
	}
	if i < cardMaxPos {
		if i >= len(nt.pos) {
			nt.pos = append(nt.pos, make([]*cardSketch, i+1-len(nt.pos))...)
		}
		if nt.pos[i] == nil {
			nt.pos[i] = sk
		}
	}
	c.names.Store(nt)
	return sk
}

// advance moves the estimates on to the period of nowMs, if it is later
// than the current one: the current registers become the previous ones
// (after one period) or both are cleared (after more). It also claims
// the aggregation's name in the exported metrics for c, so that of an
// old and a new Aggregator of the same name (a reload), the one that
// sees samples or flushes is exported. Called by observe and by Flush;
// nil-safe.
func (c *cardinality) advance(nowMs int64) {
	if c == nil || nowMs/c.period <= c.gen.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ng := c.gen.Load(), nowMs/c.period
	if ng <= g {
		return
	}
	reset := func(sk *cardSketch) {
		sk.regs[ng&1].reset()
		if g == math.MinInt64 || ng-g > 1 {
			sk.regs[(ng+1)&1].reset()
		}
	}
	for _, sk := range c.names.Load().list {
		reset(sk)
	}
	reset(c.series)
	reset(c.other)
	c.gen.Store(ng)
	if c.owner != nil {
		c.owner.claimCardinality(c)
	}
}

// cardEstimate is the estimated distinct values of one label name.
type cardEstimate struct {
	label string
	n     float64
}

// estimates returns the estimated distinct input series and the top
// cardTopN label names by estimated distinct values (largest first, ties
// by name; names estimated at less than one value are left out).
func (c *cardinality) estimates() (series float64, top []cardEstimate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sk := range append(slices.Clip(c.names.Load().list), c.other) {
		if n := math.Round(estimateUnion(&sk.regs[0], &sk.regs[1])); n >= 1 {
			top = append(top, cardEstimate{sk.label, n})
		}
	}
	slices.SortFunc(top, func(a, b cardEstimate) int {
		return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.label, b.label))
	})
	return math.Round(estimateUnion(&c.series.regs[0], &c.series.regs[1])), top[:min(len(top), cardTopN)]
}

// mix64 is the splitmix64 finalizer: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// cardCollector exports the estimates of the aggregations of a Metrics
// at collection time, as const metrics: a label name that left the top
// cardTopN, or an aggregation forgotten, is simply not exported again.
type cardCollector struct {
	m                  *Metrics
	labelDesc, serDesc *prometheus.Desc
}

func newCardCollector(m *Metrics) *cardCollector {
	return &cardCollector{
		m: m,
		labelDesc: prometheus.NewDesc("premetrics_aggregate_input_label_values",
			"Estimated distinct values of an input label name among the series the aggregation matched (after input_relabel_configs) in the last 10 to 20 minutes, for the 10 names with the most; sampled, HyperLogLog, ±2.3% (label=\"__other__\": name/value pairs of the names beyond the first 64).",
			[]string{"aggregation", "label"}, nil),
		serDesc: prometheus.NewDesc("premetrics_aggregate_input_series_estimate",
			"Estimated distinct input series the aggregation matched (after input_relabel_configs) in the last 10 to 20 minutes; sampled, HyperLogLog, ±2.3%.",
			[]string{"aggregation"}, nil),
	}
}

func (cc *cardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cc.labelDesc
	ch <- cc.serDesc
}

func (cc *cardCollector) Collect(ch chan<- prometheus.Metric) {
	cc.m.cardMu.Lock()
	cards := make([]*cardinality, 0, len(cc.m.cards))
	for _, c := range cc.m.cards {
		cards = append(cards, c)
	}
	cc.m.cardMu.Unlock()
	for _, c := range cards {
		series, top := c.estimates()
		ch <- prometheus.MustNewConstMetric(cc.serDesc, prometheus.GaugeValue, series, c.name)
		for _, e := range top {
			ch <- prometheus.MustNewConstMetric(cc.labelDesc, prometheus.GaugeValue, e.n, c.name, e.label)
		}
	}
}

// claimCardinality makes c the exported estimates of its aggregation.
func (m *Metrics) claimCardinality(c *cardinality) {
	m.cardMu.Lock()
	defer m.cardMu.Unlock()
	if m.cards == nil {
		m.cards = map[string]*cardinality{}
	}
	m.cards[c.name] = c
}
