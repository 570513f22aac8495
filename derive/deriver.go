package derive

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/logthrottle"
)

// Options configure a Deriver. The zero value of a field is its default.
type Options struct {
	Metrics *Metrics     // nil: count nothing
	Logger  *slog.Logger // nil: log nothing
	// MaxObservedSeries caps the series Observe keeps for one Evaluate
	// (one entry per observed series per Observe call); beyond it series
	// are dropped and counted. Default DefaultMaxObservedSeries.
	MaxObservedSeries int
	// MaxAnomalySeries caps the result series whose history the anomaly
	// records of this Deriver track, together. Default
	// DefaultMaxAnomalySeries.
	MaxAnomalySeries int
}

const (
	// emitBatchSeries is how many result series Evaluate collects before
	// it hands a batch to emit.
	emitBatchSeries = 10_000
	// queryTimeout bounds the evaluation of one record at one instant.
	queryTimeout = time.Minute
	// maxQuerySamples is the engine's limit of samples in memory per
	// query (Prometheus' default); a query over it fails and is counted.
	maxQuerySamples = 50_000_000
)

// Deriver evaluates the derive records of a config at each instant (window
// end) of the outputs it observed. See the package doc.
type Deriver struct {
	records []*record
	wanted  map[string]struct{} // immutable after New
	engine  *promql.Engine
	qopts   promql.QueryOpts

	metrics     *Metrics
	logger      *slog.Logger
	throttle    *logthrottle.Throttle
	maxObserved int
	maxAnomaly  int

	mu    sync.Mutex // guards cur and spare
	cur   *observed  // what Observe appends to
	spare *observed  // the buffer of the last Evaluate, for reuse; nil during one

	// evalMu serializes Evaluate, AppendState and RestoreState, and guards
	// everything below and the anomaly state of the records.
	evalMu        sync.Mutex
	anomalySeries int // tracked anomaly series of all records
	entries       []entry
	lbls          []labels.Labels
	names         []string
	scratch       []memSeries
	order         []instEntry
	inst          instant
	lb            *labels.Builder
	keyBuf        []byte
	out           batch.Batch
}

// record is one compiled Config.
type record struct {
	name    string
	query   string         // the canonical expr (as Prometheus prints it)
	labels  []labels.Label // set on every result; an empty value removes the label
	read    bool           // a later record reads this record's results
	anomaly *anomalyState
	fp      [32]byte
	m       recordMetrics
	kind    int // throttle kind
}

// Throttle kinds besides one per record (0 to len(records)-1).
const (
	kindSeriesLimit = iota
	kindAnomalyLimit
	extraKinds
)

// New compiles cfgs, in config order, into a Deriver.
func New(cfgs []Config, opts Options) (*Deriver, error) {
	d := &Deriver{
		wanted:      map[string]struct{}{},
		metrics:     opts.Metrics,
		logger:      opts.Logger,
		maxObserved: cmp.Or(opts.MaxObservedSeries, DefaultMaxObservedSeries),
		maxAnomaly:  cmp.Or(opts.MaxAnomalySeries, DefaultMaxAnomalySeries),
		cur:         new(observed),
		spare:       new(observed),
		lb:          labels.NewBuilder(labels.EmptyLabels()),
		qopts:       promql.NewPrometheusQueryOpts(false, time.Millisecond, nil),
		inst:        instant{byName: map[string][]memSeries{}},
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	produced := map[string]int{}
	for i := range cfgs {
		c := &cfgs[i]
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("cannot compile derive[%d] (record %q): %w", i, c.Record, err)
		}
		if j, dup := produced[c.Record]; dup {
			return nil, fmt.Errorf("cannot compile derive[%d]: duplicate record %q (also derive[%d])", i, c.Record, j)
		}
		node, reads, _ := checkExpr(c.Expr)
		r := &record{name: c.Record, query: node.String(), kind: i}
		for _, n := range slices.Sorted(maps.Keys(c.Labels)) {
			r.labels = append(r.labels, labels.Label{Name: n, Value: c.Labels[n]})
		}
		for _, n := range reads {
			if _, internal := produced[n]; internal {
				d.records[produced[n]].read = true
			} else {
				d.wanted[n] = struct{}{}
			}
		}
		if c.Anomaly != nil {
			r.anomaly = &anomalyState{p: c.Anomaly.params(), series: map[string]*anomalyEntry{}}
		}
		r.fp = r.fingerprint()
		r.m = opts.Metrics.record(r.name, r.anomaly != nil)
		produced[c.Record] = i
		d.records = append(d.records, r)
	}
	d.throttle = logthrottle.New(len(d.records)+extraKinds, logthrottle.Every)
	d.engine = promql.NewEngine(promql.EngineOpts{
		MaxSamples:    maxQuerySamples,
		Timeout:       queryTimeout,
		LookbackDelta: time.Millisecond,
		Parser:        promqlParser,
	})
	return d, nil
}

// fingerprint is SHA-256 of what defines the values of a record's results
// and the meaning of its anomaly history: record, canonical expr, labels
// and alpha. min_history and forget only decide what is emitted or kept,
// so changing them keeps the history.
func (r *record) fingerprint() [32]byte {
	h := sha256.New()
	w := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	w("premetrics derive record v1")
	w(r.name)
	w(r.query)
	for _, l := range r.labels {
		w(l.Name)
		w(l.Value)
	}
	if r.anomaly != nil {
		var a [8]byte
		binary.LittleEndian.PutUint64(a[:], math.Float64bits(r.anomaly.p.alpha))
		h.Write(a[:])
	}
	var fp [32]byte
	h.Sum(fp[:0])
	return fp
}

// Records returns the record names, in config order.
func (d *Deriver) Records() []string {
	out := make([]string, len(d.records))
	for i, r := range d.records {
		out[i] = r.name
	}
	return out
}

// Wants reports whether some record reads metric from outside: names
// produced by an earlier record are fed internally and not wanted (unless
// a record before that one reads them too).
func (d *Deriver) Wants(metric string) bool {
	_, ok := d.wanted[metric]
	return ok
}

// observed holds copies of the wanted series Observe saw since the last
// Evaluate, in reused arenas: label names and values in bytes, lengths in
// labels, float samples (stale markers left out) in samples.
type observed struct {
	series  []obsSeries
	labels  []obsLabel
	bytes   []byte
	samples []batch.Sample
}

type obsSeries struct {
	bytesStart, bytesEnd, labelsStart, labelsEnd, samplesStart, samplesEnd int
}

type obsLabel struct{ nameLen, valueLen uint32 }

func (o *observed) reset() {
	o.series = o.series[:0]
	o.labels = o.labels[:0]
	o.bytes = o.bytes[:0]
	o.samples = o.samples[:0]
}

// Observe copies the series of b whose metric name is wanted (labels and
// float samples; stale markers are ignored). It is safe for concurrent
// use, does not modify b and keeps no reference to it. In steady state
// (arenas grown by earlier rounds) it does not allocate.
func (d *Deriver) Observe(b *batch.Batch) {
	first := -1
	for i := range b.Series {
		if d.Wants(b.Series[i].Get(batch.MetricName)) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	dropped := 0
	d.mu.Lock()
	o := d.cur
	for i := first; i < len(b.Series); i++ {
		s := &b.Series[i]
		if s.Histograms != nil || !d.Wants(s.Get(batch.MetricName)) {
			continue // a native histogram is no float (its samples are stand-ins)
		}
		samplesStart := len(o.samples)
		for _, smp := range s.Samples {
			if !value.IsStaleNaN(smp.Value) {
				o.samples = append(o.samples, smp)
			}
		}
		if len(o.samples) == samplesStart {
			continue
		}
		if len(o.series) >= d.maxObserved {
			o.samples = o.samples[:samplesStart]
			dropped++
			continue
		}
		rec := obsSeries{bytesStart: len(o.bytes), labelsStart: len(o.labels), samplesStart: samplesStart, samplesEnd: len(o.samples)}
		for _, l := range s.Labels {
			o.bytes = append(o.bytes, l.Name...)
			o.bytes = append(o.bytes, l.Value...)
			o.labels = append(o.labels, obsLabel{uint32(len(l.Name)), uint32(len(l.Value))})
		}
		rec.bytesEnd, rec.labelsEnd = len(o.bytes), len(o.labels)
		o.series = append(o.series, rec)
	}
	d.mu.Unlock()
	if dropped > 0 {
		d.metrics.drop(reasonSeriesLimit, dropped)
		if ok, n := d.throttle.Allow(len(d.records)+kindSeriesLimit, time.Now()); ok {
			d.logger.Warn("derive: too many observed series before the next evaluation; dropping series",
				"limit", d.maxObserved, "dropped", dropped, "suppressed", n)
		}
	}
}

// entry is one observed sample: series index into observed.series.
type entry struct {
	ts     int64
	v      float64
	series int
}

// Evaluate evaluates every record at every instant observed since the
// last Evaluate (the distinct sample timestamps), instants in ascending
// order, records in config order, and hands the results to emit in
// batches of up to 10,000 series (ordered by instant, then record). emit
// must not keep the batch or its slices after it returns; the label
// strings stay valid. The observed data are discarded when Evaluate
// returns, also on error.
//
// A record that fails at an instant (many-to-many matching, duplicate
// result series, too many samples) is counted, logged (throttled) and
// emits nothing there; the other records and instants go on. Evaluate
// returns an error only when ctx ends or emit fails, and then stops: the
// remaining instants are not evaluated (anomaly histories do not advance
// over them). Calls are serialized; Observe may run concurrently and then
// counts for the next Evaluate.
func (d *Deriver) Evaluate(ctx context.Context, emit func(*batch.Batch) error) error {
	d.evalMu.Lock()
	defer d.evalMu.Unlock()
	d.mu.Lock()
	o := d.cur
	d.cur, d.spare = d.spare, nil
	d.mu.Unlock()
	defer func() {
		o.reset()
		d.mu.Lock()
		d.spare = o
		d.mu.Unlock()
	}()
	if len(o.series) == 0 {
		return nil
	}
	start := time.Now()
	d.prepare(o)
	defer d.release()

	err := d.evaluateInstants(ctx, emit)
	if err == nil && d.out.Len() > 0 {
		err = d.flushOut(emit)
	}
	d.out.Reset()
	for _, r := range d.records {
		if r.anomaly != nil && r.m.anomaly != nil {
			r.m.anomaly.Set(float64(len(r.anomaly.series)))
		}
	}
	d.metrics.observeDuration(time.Since(start).Seconds())
	return err
}

// prepare builds the labels of every observed series (one allocation for
// its bytes and one for labels.Labels) and the entries, sorted by
// timestamp, then by observation order.
func (d *Deriver) prepare(o *observed) {
	var sb labels.ScratchBuilder
	for _, rec := range o.series {
		s := string(o.bytes[rec.bytesStart:rec.bytesEnd])
		sb.Reset()
		off := 0
		for _, l := range o.labels[rec.labelsStart:rec.labelsEnd] {
			n, v := int(l.nameLen), int(l.valueLen)
			sb.Add(s[off:off+n], s[off+n:off+n+v])
			off += n + v
		}
		ls := sb.Labels()
		d.lbls = append(d.lbls, ls)
		d.names = append(d.names, ls.Get(labels.MetricName))
	}
	for i, rec := range o.series {
		for _, smp := range o.samples[rec.samplesStart:rec.samplesEnd] {
			d.entries = append(d.entries, entry{ts: smp.Timestamp, v: smp.Value, series: i})
		}
	}
	slices.SortStableFunc(d.entries, func(a, b entry) int { return cmp.Compare(a.ts, b.ts) })
}

// release drops the references of the last Evaluate, keeping capacity.
func (d *Deriver) release() {
	clear(d.lbls)
	d.lbls = d.lbls[:0]
	clear(d.names)
	d.names = d.names[:0]
	d.entries = d.entries[:0]
	clear(d.scratch)
	d.scratch = d.scratch[:0]
	clear(d.order)
	d.order = d.order[:0]
	clear(d.inst.byName)
}

func (d *Deriver) evaluateInstants(ctx context.Context, emit func(*batch.Batch) error) error {
	for lo := 0; lo < len(d.entries); {
		ts := d.entries[lo].ts
		hi := lo + 1
		for hi < len(d.entries) && d.entries[hi].ts == ts {
			hi++
		}
		d.buildInstant(ts, d.entries[lo:hi])
		lo = hi
		for _, r := range d.records {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("cannot evaluate derived records: %w", err)
			}
			vec, err := d.evalRecord(ctx, r)
			add(r.m.evaluations, 1)
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					return fmt.Errorf("cannot evaluate derived records: %w", ctxErr)
				}
				add(r.m.errors, 1)
				if ok, n := d.throttle.Allow(r.kind, time.Now()); ok {
					d.logger.Warn("derive: cannot evaluate record", "record", r.name,
						"instant", time.UnixMilli(ts).UTC(), "err", err, "suppressed", n)
				}
				if r.read {
					delete(d.inst.byName, r.name)
				}
				continue
			}
			if r.anomaly != nil {
				vec = d.score(r, ts, vec)
			}
			if r.read {
				d.feed(r.name, ts, vec)
			}
			add(r.m.outputs, len(vec))
			for i := range vec {
				d.appendOut(&vec[i], ts)
				if d.out.Len() >= emitBatchSeries {
					if err := d.flushOut(emit); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func (d *Deriver) flushOut(emit func(*batch.Batch) error) error {
	err := emit(&d.out)
	d.out.Reset()
	if err != nil {
		return fmt.Errorf("cannot emit derived series: %w", err)
	}
	return nil
}

func (d *Deriver) appendOut(s *promql.Sample, ts int64) {
	d.out.StartSeries()
	s.Metric.Range(func(l labels.Label) { d.out.AddLabel(l.Name, l.Value) })
	d.out.AddSample(ts, s.F)
	if !d.out.FinishSeries() {
		panic("derive: labels.Labels with a duplicate name") // broken invariant
	}
}

// buildInstant loads the entries of one instant: by metric name, sorted
// by labels; of two samples of one series the first observed is kept (as
// Prometheus' TSDB rejects a second sample at one timestamp).
func (d *Deriver) buildInstant(ts int64, es []entry) {
	clear(d.inst.byName)
	d.inst.ts = ts
	d.scratch = d.scratch[:0]
	order := d.order[:0]
	for _, e := range es {
		order = append(order, instEntry{d.names[e.series], e})
	}
	d.order = order
	slices.SortStableFunc(order, func(a, b instEntry) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return labels.Compare(d.lbls[a.e.series], d.lbls[b.e.series])
	})
	dups := 0
	for i, x := range order {
		ls := d.lbls[x.e.series]
		if i > 0 && labels.Equal(d.scratch[len(d.scratch)-1].lbls, ls) {
			dups++
			continue
		}
		d.scratch = append(d.scratch, memSeries{lbls: ls, v: x.e.v, ts: ts})
	}
	d.metrics.drop(reasonDuplicate, dups)
	for lo := 0; lo < len(d.scratch); {
		name := d.scratch[lo].lbls.Get(labels.MetricName)
		hi := lo + 1
		for hi < len(d.scratch) && d.scratch[hi].lbls.Get(labels.MetricName) == name {
			hi++
		}
		d.inst.byName[name] = d.scratch[lo:hi:hi]
		lo = hi
	}
}

type instEntry struct {
	name string
	e    entry
}

// feed makes a record's results the series of its name at this instant
// for the records after it (replacing any observed series of that name).
func (d *Deriver) feed(name string, ts int64, vec promql.Vector) {
	if len(vec) == 0 {
		delete(d.inst.byName, name)
		return
	}
	ss := make([]memSeries, len(vec))
	for i := range vec {
		ss[i] = memSeries{lbls: vec[i].Metric, v: vec[i].F, ts: ts}
	}
	slices.SortFunc(ss, func(a, b memSeries) int { return labels.Compare(a.lbls, b.lbls) })
	d.inst.byName[name] = ss
}

var errDuplicateLabelset = errors.New("vector contains metrics with the same labelset after applying record labels")

// evalRecord evaluates r at the current instant with the Prometheus
// engine, then names the results like a Prometheus recording rule:
// __name__ = record, record labels set (an empty value removes a label).
func (d *Deriver) evalRecord(ctx context.Context, r *record) (promql.Vector, error) {
	q, err := d.engine.NewInstantQuery(ctx, &d.inst, d.qopts, r.query, time.UnixMilli(d.inst.ts))
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	var vec promql.Vector
	switch v := res.Value.(type) {
	case promql.Vector:
		vec = v
	case promql.Scalar:
		vec = promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}
	default:
		return nil, fmt.Errorf("result is a %s, not a vector", res.Value.Type())
	}
	n := 0
	for i := range vec {
		if vec[i].H != nil {
			continue // float samples only
		}
		d.lb.Reset(vec[i].Metric)
		d.lb.Set(labels.MetricName, r.name)
		for _, l := range r.labels {
			d.lb.Set(l.Name, l.Value)
		}
		vec[n] = promql.Sample{T: d.inst.ts, F: vec[i].F, Metric: d.lb.Labels()}
		n++
	}
	vec = vec[:n]
	if vec.ContainsSameLabelset() {
		return nil, errDuplicateLabelset
	}
	return vec, nil
}
