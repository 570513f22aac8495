package catalog

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/premetrics/premetrics/catalog/infer"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/enrich"
)

var promqlParser = parser.NewParser(parser.Options{})

// Kind is where the series of a family come from.
type Kind uint8

const (
	// KindAggregation: one output of an aggregation (aggregations[Index]).
	KindAggregation Kind = iota
	// KindReference: one reference series of an enrichment table
	// (enrich[Index].series).
	KindReference
	// KindRecord: a derive record (derive[Index]).
	KindRecord
	// KindPassThrough: raw input that leaves the pipeline unaggregated:
	// kept by aggregations[Index] (keep_input: true), or, with Index -1,
	// matched by no aggregation and forwarded (forward_unmatched: true).
	// Its names are only known as far as the aggregation's match says,
	// its labels not at all.
	KindPassThrough
)

func (k Kind) String() string {
	switch k {
	case KindAggregation:
		return "aggregation"
	case KindReference:
		return "reference"
	case KindRecord:
		return "record"
	case KindPassThrough:
		return "pass-through"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Family is a set of series the pipeline produces that share a metric
// name, or a pattern of names, and what is known of their labels.
type Family struct {
	Kind  Kind
	Index int // the entry of its config section (see Kind); -1 for forward_unmatched
	// Source is the name of the aggregation, enrichment table or derive
	// record; "" for forward_unmatched.
	Source string
	// Output is the aggregation output ("avg", "quantiles", "histogram",
	// ...); "" for the other kinds.
	Output string
	// Labels are the label names the series may carry (the metric name
	// aside): closed for by (by labels, plus quantile for quantiles) and
	// no grouping (none); open for without (any label but the removed
	// ones) and pass-through; as changed by input and output relabeling,
	// widened where a relabeling depends on values not known.
	Labels infer.Labels
	// Interval and Lateness say when the series are produced: the window
	// and its lateness for aggregation outputs and derive records (a
	// record's are those of its inputs; 0 when they disagree); for
	// reference series, Interval is series_interval. 0 otherwise.
	Interval, Lateness time.Duration
	// NativeHistogram: the series are Prometheus native histograms.
	NativeHistogram bool
	// Emitted is false when a later aggregation that does not keep its
	// input consumes every series of the family (a rollup): they are
	// never written to remote write. For a name pattern, a later
	// aggregation may consume some of the names only (see Emits).
	Emitted bool

	name       nameSpec
	consumedBy int        // with !Emitted: the consuming aggregation
	consumers  []consumer // later aggregations consuming some of a pattern's names
}

// consumer is a later aggregation that consumes the series of a family
// whose names its metric-name matchers match.
type consumer struct {
	index int
	name  []*labels.Matcher
}

// Name returns the family's metric name; ok is false when only a pattern
// of names is known (see String).
func (f *Family) Name() (name string, ok bool) { return f.name.exact, f.name.isExact() }

// String returns the name, or the pattern of names: `<name=~"cpu_.*">:30s_avg`,
// `<any name>:30s_avg`, `<any name>`.
func (f *Family) String() string { return f.name.String() }

// Matches reports whether metric is a name of the family.
func (f *Family) Matches(metric string) bool { return f.name.matches(metric) }

// Emits reports whether series of the family named metric leave the
// pipeline: metric is one of its names and no later aggregation consumes
// them.
func (f *Family) Emits(metric string) bool {
	return f.Matches(metric) && f.consumer(metric) < 0
}

// consumer returns the aggregation that consumes the family's series
// named metric, or -1.
func (f *Family) consumer(metric string) int {
	if !f.Emitted {
		return f.consumedBy
	}
	for _, c := range f.consumers {
		if (nameSpec{base: c.name}).matches(metric) {
			return c.index
		}
	}
	return -1
}

// Origin names the config entry of the family, for messages:
// `aggregations[0] "vehicles_in_motion"`, `enrich[0] "registry" series`,
// `derive[2]`, `forward_unmatched`, `aggregations[1] "x" keep_input`.
func (f *Family) Origin() string {
	switch f.Kind {
	case KindAggregation:
		return fmt.Sprintf("aggregations[%d] %q", f.Index, f.Source)
	case KindReference:
		return fmt.Sprintf("enrich[%d] %q series", f.Index, f.Source)
	case KindRecord:
		return fmt.Sprintf("derive[%d]", f.Index)
	case KindPassThrough:
		if f.Index < 0 {
			return "forward_unmatched"
		}
		return fmt.Sprintf("aggregations[%d] %q keep_input", f.Index, f.Source)
	}
	return ""
}

// Infer returns the family as package infer sees it.
func (f *Family) Infer() infer.Family {
	return infer.Family{Name: f.String(), Origin: f.Origin(), Labels: f.Labels}
}

// Catalog is what the pipeline of one config emits: every family of
// series, computed from the config without starting anything. It is
// immutable and safe for concurrent use.
//
// Raw input that leaves unaggregated (forward_unmatched: true, or an
// aggregation with keep_input: true) is pass-through: its names are not
// known, so a name the catalog has no aggregation output, reference
// series or record for may still reach remote write; Written accounts for
// that, and PassThrough reports it.
type Catalog struct {
	families []*Family // config order: aggregation outputs, reference series, records, pass-through
	// written are the families as remote write sends them, after each
	// endpoint's write_relabel_configs (one copy per endpoint that
	// relabels); nil: the same as families.
	written     []*Family
	passThrough bool
	forward     bool // forward_unmatched
	cfg         *config.Config
}

// New computes the catalog of cfg, a config that Load validated. It
// checks the derive records against the pipeline: each metric a record
// reads must be an aggregation output or an earlier record, all its
// inputs must close together (aggregations of the same interval and
// lateness), and every label its expr uses must be possible. The error
// is config.Errors located with cfg.ErrorAt (path `derive[i].expr`). On
// error the catalog is returned too, with what could be inferred (the
// labels of a record with problems may be open), so that callers can go
// on checking what reads it.
func New(cfg *config.Config) (*Catalog, error) {
	c := &Catalog{cfg: cfg, forward: cfg.ForwardUnmatched}
	c.aggregations()
	c.references()
	errs := c.records()
	c.passThroughs()
	c.writeRelabel()
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

// aggregations adds the families of every aggregation output, in config
// order, and marks those a later aggregation consumes.
func (c *Catalog) aggregations() {
	for i := range c.cfg.Aggregations {
		a := &c.cfg.Aggregations[i]
		sch, err := a.Schema()
		if err != nil {
			continue // Validate reported it
		}
		nameMs, otherMs, err := selectorMatchers(a.Match)
		if err != nil {
			continue
		}
		if !a.KeepInput {
			c.consume(i, nameMs, otherMs)
		}
		in := selectedName(nameMs)
		// Input from earlier outputs (a rollup): their labels. A name an
		// earlier aggregation emits is assumed to come only from there.
		inLabels := infer.Open()
		if in.isExact() {
			var ups []*Family
			for _, f := range c.families {
				if f.Kind == KindAggregation && f.Matches(in.exact) {
					ups = append(ups, f)
				}
			}
			for j, f := range ups {
				if j == 0 {
					inLabels = f.Labels
				} else {
					inLabels = infer.Union(inLabels, f.Labels)
				}
			}
		}
		in, inLabels, ok := relabelFamily(in, inLabels, a.InputRelabelConfigs)
		if !ok {
			continue // input_relabel_configs drop every series
		}
		var grouped infer.Labels
		switch {
		case len(sch.By) > 0:
			grouped = inLabels.Keep(sch.By...)
		case len(sch.Without) > 0:
			grouped = inLabels.Drop(sch.Without...)
		default:
			grouped = infer.Closed()
		}
		for _, o := range sch.Outputs {
			name, ls, ok := relabelFamily(in.withSuffix(o.Suffix), grouped.Add(o.Labels...), a.OutputRelabelConfigs)
			if !ok {
				continue
			}
			c.families = append(c.families, &Family{
				Kind: KindAggregation, Index: i, Source: a.Name, Output: o.Output,
				Labels: ls, Interval: sch.Interval, Lateness: sch.Lateness,
				NativeHistogram: o.NativeHistogram, Emitted: true, name: name,
			})
		}
	}
}

// consume marks the families of earlier aggregations that aggregation i
// (which does not keep its input), with the given match, consumes: all
// their series when its matchers other than the metric name cannot tell
// them apart.
func (c *Catalog) consume(i int, nameMs, otherMs []*labels.Matcher) {
	for _, f := range c.families {
		if f.Kind != KindAggregation || !f.Emitted {
			continue
		}
		if !c.selectsAll(f.Labels, otherMs) {
			continue
		}
		switch {
		case f.name.isExact():
			if (nameSpec{base: nameMs}).matches(f.name.exact) {
				f.Emitted, f.consumedBy = false, i
			}
		case len(nameMs) == 0:
			f.Emitted, f.consumedBy = false, i
		default:
			f.consumers = append(f.consumers, consumer{index: i, name: nameMs})
		}
	}
}

// selectsAll reports whether matchers select every series with labels
// ls (whatever their values): each matches any value, or is on a label
// the series never have and matches the empty value.
func (c *Catalog) selectsAll(ls infer.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if matchesAll(m) {
			continue
		}
		if ls.Has(m.Name) || !m.Matches("") {
			return false
		}
	}
	return true
}

// references adds the reference series of the enrichment tables.
func (c *Catalog) references() {
	for i := range c.cfg.Enrich {
		e := &c.cfg.Enrich[i]
		interval := enrich.DefaultSeriesInterval
		if e.SeriesInterval != nil {
			interval = time.Duration(*e.SeriesInterval)
		}
		for _, s := range e.Series {
			ls := infer.Closed(e.Key...)
			for n := range s.Labels {
				ls = ls.Add(n)
			}
			c.families = append(c.families, &Family{
				Kind: KindReference, Index: i, Source: e.Name, Labels: ls,
				Interval: interval, Emitted: true, name: exactName(cmp.Or(s.Name, s.Column)),
			})
		}
	}
}

// passThroughs adds the families of raw input that leaves unaggregated.
func (c *Catalog) passThroughs() {
	for i := range c.cfg.Aggregations {
		a := &c.cfg.Aggregations[i]
		if !a.KeepInput {
			continue
		}
		nameMs, _, err := selectorMatchers(a.Match)
		if err != nil {
			continue
		}
		c.passThrough = true
		c.families = append(c.families, &Family{
			Kind: KindPassThrough, Index: i, Source: a.Name, Labels: infer.Open(),
			Emitted: true, name: selectedName(nameMs),
		})
	}
	if !c.cfg.ForwardUnmatched {
		return
	}
	name, ls, ok := relabelFamily(anyName, infer.Open(), c.cfg.RelabelConfigs)
	if !ok {
		return
	}
	f := &Family{Kind: KindPassThrough, Index: -1, Labels: ls, Emitted: true, name: name}
	// Raw input an aggregation consumes is not forwarded.
	for i := range c.cfg.Aggregations {
		a := &c.cfg.Aggregations[i]
		nameMs, otherMs, err := selectorMatchers(a.Match)
		if err != nil || a.KeepInput || !c.selectsAll(ls, otherMs) {
			continue
		}
		if len(nameMs) == 0 {
			f.Emitted, f.consumedBy = false, i
			break
		}
		f.consumers = append(f.consumers, consumer{index: i, name: nameMs})
	}
	if f.Emitted {
		c.passThrough = true
		c.families = append(c.families, f)
	}
}

// writeRelabel computes the families as each remote_write endpoint with
// write_relabel_configs sends them.
func (c *Catalog) writeRelabel() {
	relabels := false
	for _, rw := range c.cfg.RemoteWrite {
		relabels = relabels || len(rw.WriteRelabelConfigs) > 0
	}
	if !relabels {
		return
	}
	c.written = []*Family{}
	for _, rw := range c.cfg.RemoteWrite {
		for _, f := range c.families {
			name, ls, ok := relabelFamily(f.name, f.Labels, rw.WriteRelabelConfigs)
			if !ok {
				continue
			}
			w := *f
			w.name, w.Labels = name, ls
			if name.String() != f.name.String() {
				if !f.Emitted {
					continue
				}
				w.consumers = nil
			}
			c.written = append(c.written, &w)
		}
	}
}

// Families returns every family in config order: aggregation outputs
// (consumed ones too, see Family.Emitted), reference series, derive
// records, pass-through input. The caller must not modify them.
func (c *Catalog) Families() []*Family { return slices.Clone(c.families) }

// PassThrough reports whether raw input leaves the pipeline unaggregated
// (forward_unmatched: true, or keep_input: true): then metrics of names
// the pipeline does not know may reach remote write.
func (c *Catalog) PassThrough() bool { return c.passThrough }

// Lookup returns the families of the pipeline that metric is a name of,
// emitted or consumed, before write relabeling: the aggregation outputs,
// reference series and records; pass-through families only when none of
// those has the name (a name the pipeline computes is assumed to come
// only from there).
func (c *Catalog) Lookup(metric string) []*Family {
	return lookup(c.families, metric, func(f *Family) bool { return f.Matches(metric) })
}

func lookup(fams []*Family, metric string, ok func(*Family) bool) []*Family {
	var out, pass []*Family
	for _, f := range fams {
		if !ok(f) {
			continue
		}
		if f.Kind == KindPassThrough {
			pass = append(pass, f)
		} else {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return pass
	}
	return out
}

// Written returns the families of series named metric that remote write
// sends, as it sends them (after write_relabel_configs), in the form
// package infer uses; one per family and endpoint when endpoints relabel
// differently. The error, when there are none, says why: no output,
// series or record has the name, a later aggregation consumes it (a
// rollup), or write relabeling drops it.
func (c *Catalog) Written(metric string) ([]infer.Family, error) {
	fams := c.written
	if fams == nil {
		fams = c.families
	}
	var out []infer.Family
	seen := map[string]bool{}
	for _, f := range lookup(fams, metric, func(f *Family) bool { return f.Emits(metric) }) {
		inf := f.Infer()
		if key := inf.Origin + " " + inf.Labels.String(); !seen[key] {
			seen[key] = true
			out = append(out, inf)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, c.whyNotWritten(metric)
}

// whyNotWritten explains why no family named metric is written.
func (c *Catalog) whyNotWritten(metric string) error {
	for _, f := range c.Lookup(metric) {
		if i := f.consumer(metric); i >= 0 {
			return fmt.Errorf("metric %q (%s) is consumed by aggregations[%d] %q, which aggregates it further, and is never written to remote write; set keep_input: true on aggregations[%d] to write both",
				metric, f.Origin(), i, c.cfg.Aggregations[i].Name, i)
		}
		if f.Emits(metric) {
			return fmt.Errorf("metric %q (%s) is dropped by the write_relabel_configs of remote_write", metric, f.Origin())
		}
	}
	var hint []string
	if !c.forward {
		hint = append(hint, "raw input is written only with forward_unmatched: true or an aggregation's keep_input: true")
	}
	msg := fmt.Sprintf("metric %q is not written by the pipeline: no aggregation output, enrich series or derive record has this name", metric)
	if len(hint) > 0 {
		msg += " (" + strings.Join(hint, "; ") + ")"
	}
	return fmt.Errorf("%s", msg)
}
