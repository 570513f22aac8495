package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/premetrics/premetrics/catalog/infer"
	"github.com/premetrics/premetrics/config"
)

// timing is when a window closes: its interval and lateness.
type timing struct{ interval, lateness time.Duration }

func (t timing) String() string {
	return fmt.Sprintf("interval %s, lateness %s", model.Duration(t.interval), model.Duration(t.lateness))
}

// records adds the families of the derive records, in config order,
// inferring their labels from their exprs over the families they read,
// and returns the problems of the records against the pipeline.
func (c *Catalog) records() config.Errors {
	var errs config.Errors
	for i := range c.cfg.Derive {
		d := &c.cfg.Derive[i]
		path := fmt.Sprintf("derive[%d].expr", i)
		fail := func(msg string) { errs = append(errs, c.cfg.ErrorAt(path, msg)) }
		f := &Family{Kind: KindRecord, Index: i, Source: d.Record, Labels: infer.Open(), Emitted: true, name: exactName(d.Record)}

		expr, err := promqlParser.ParseExpr(d.Expr)
		if err != nil {
			fail(fmt.Sprintf("cannot parse: %v", err))
			c.families = append(c.families, f)
			continue
		}
		var inputs []*Family
		resolve := func(vs *parser.VectorSelector) ([]infer.Family, error) {
			fams, err := c.recordInputs(i, vs)
			inputs = append(inputs, fams...)
			out := make([]infer.Family, len(fams))
			for j, g := range fams {
				out[j] = g.Infer()
			}
			if len(out) == 0 {
				out = nil
			}
			return out, err
		}
		ls, problems := infer.Expr(expr, resolve)
		for _, p := range problems {
			fail(p.Error())
		}
		if t, msg := commonTiming(inputs); msg != "" {
			fail(msg)
		} else {
			f.Interval, f.Lateness = t.interval, t.lateness
		}
		keys := make([]string, 0, len(d.Labels))
		for k := range d.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if d.Labels[k] == "" { // an empty value removes the label
				ls = ls.Drop(k)
			} else {
				ls = ls.Add(k)
			}
		}
		f.Labels = ls
		c.families = append(c.families, f)
	}
	return errs
}

// recordInputs returns the families that selector vs of derive[i] reads:
// aggregation outputs (consumed ones too) and records before it. A
// selector that does not name its metric reads nothing known (derive's
// Validate rejects it).
func (c *Catalog) recordInputs(i int, vs *parser.VectorSelector) ([]*Family, error) {
	name := vectorSelectorName(vs)
	if name == "" {
		return nil, nil
	}
	var fams []*Family
	var ref *Family
	for _, f := range c.families {
		if !f.Matches(name) {
			continue
		}
		switch f.Kind {
		case KindAggregation, KindRecord:
			fams = append(fams, f)
		case KindReference:
			ref = f
		}
	}
	if len(fams) > 0 {
		return fams, nil
	}
	for j := i; j < len(c.cfg.Derive); j++ {
		if c.cfg.Derive[j].Record != name {
			continue
		}
		if j == i {
			return nil, fmt.Errorf("metric %q is this record itself: a record reads aggregation outputs and the records before it", name)
		}
		return nil, fmt.Errorf("metric %q is the record of derive[%d], which comes after this one: a record reads aggregation outputs and the records before it; move derive[%d] up", name, j, j)
	}
	if ref != nil {
		return nil, fmt.Errorf("metric %q is a reference series (%s): a derive record reads only aggregation outputs and earlier records", name, ref.Origin())
	}
	return nil, fmt.Errorf("metric %q is not produced by the pipeline: no aggregation output or earlier derive record has this name", name)
}

// commonTiming returns the interval and lateness all inputs share, or a
// message naming inputs that close at different times. Inputs whose
// timing is not known (records with problems) are left out.
func commonTiming(inputs []*Family) (timing, string) {
	var ts []timing
	var by []*Family // the first input of each timing
	for _, f := range inputs {
		if f.Interval == 0 {
			continue
		}
		t := timing{f.Interval, f.Lateness}
		if !slices.Contains(ts, t) {
			ts = append(ts, t)
			by = append(by, f)
		}
	}
	switch len(ts) {
	case 0:
		return timing{}, ""
	case 1:
		return ts[0], ""
	}
	parts := make([]string, len(ts))
	for j, t := range ts {
		parts[j] = fmt.Sprintf("%s (%s: %s)", by[j], by[j].Origin(), t)
	}
	return timing{}, fmt.Sprintf("reads inputs that close at different times: %s; a record is evaluated when the windows of its inputs close, so all of them must come from aggregations with the same interval and lateness",
		strings.Join(parts, " and "))
}
