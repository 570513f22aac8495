package alerting

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/premetrics/premetrics/catalog/infer"
)

// Pipeline is what the pipeline writes to remote write, for Check.
// *catalog.Catalog implements it.
type Pipeline interface {
	// Written returns the families of series named metric that remote
	// write sends, with what is known of their labels; when there are
	// none, an error saying why (a message naming metric).
	Written(metric string) ([]infer.Family, error)
}

// prometheusSeries are the series Prometheus makes itself: those of its
// alerting rules, and those of every scrape target (premetrics, which
// Prometheus scrapes for its self metrics, is one).
var prometheusSeries = []string{
	"ALERTS", "ALERTS_FOR_STATE",
	"up", "scrape_duration_seconds", "scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling", "scrape_series_added",
}

// Check reports the problems of c's expressions against what Prometheus
// will hold, joined with errors.Join, one per line, with paths as
// Validate's (`groups[0].rules[2].expr: ...`; the caller prefixes
// `alerting.`). Every metric an expr reads by name must be one that p
// writes, a recording rule of c, a self metric of premetrics (selfMetric
// reports which names are; nil: none), or a series Prometheus makes
// (ALERTS, ALERTS_FOR_STATE, and up and scrape_* of scrape targets).
// Every label an expr uses (matchers, by/without, on/ignoring,
// group_left/group_right) must be possible on the series it applies to
// (see infer.Expr): an alert on a label an aggregation removed is an
// error. Selectors that do not fix a metric name are not checked, nor are
// the labels of self metrics and Prometheus' series. Exprs that do not
// parse are left to Validate.
func (c *Config) Check(p Pipeline, selfMetric func(name string) bool) error {
	k := &checker{cfg: c, p: p, self: selfMetric, records: map[string][]ruleRef{}, memo: map[ruleRef]infer.Labels{}, busy: map[ruleRef]bool{}}
	if k.self == nil {
		k.self = func(string) bool { return false }
	}
	for i, g := range c.Groups {
		for j, r := range g.Rules {
			if r.Record != "" && r.Alert == "" {
				k.records[r.Record] = append(k.records[r.Record], ruleRef{i, j})
			}
		}
	}
	var errs []error
	for i, g := range c.Groups {
		for j, r := range g.Rules {
			e, err := promqlParser.ParseExpr(r.Expr)
			if err != nil {
				continue
			}
			_, problems := infer.Expr(e, k.resolve)
			for _, p := range problems {
				errs = append(errs, fmt.Errorf("groups[%d].rules[%d].expr: %w", i, j, p))
			}
		}
	}
	return errors.Join(errs...)
}

// ruleRef is groups[group].rules[rule].
type ruleRef struct{ group, rule int }

type checker struct {
	cfg     *Config
	p       Pipeline
	self    func(string) bool
	records map[string][]ruleRef     // recording rules by name
	memo    map[ruleRef]infer.Labels // inferred labels of recording rules
	busy    map[ruleRef]bool         // recording rules being inferred (a cycle reads them as unknown)
}

func (k *checker) resolve(vs *parser.VectorSelector) ([]infer.Family, error) {
	name := ""
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual && m.Value != "" {
			name = m.Value
			break
		}
	}
	if name == "" {
		return nil, nil
	}
	var fams []infer.Family
	for _, ref := range k.records[name] {
		fams = append(fams, infer.Family{
			Name:   name,
			Origin: fmt.Sprintf("recording rule groups[%d].rules[%d]", ref.group, ref.rule),
			Labels: k.recordLabels(ref),
		})
	}
	written, werr := k.p.Written(name)
	fams = append(fams, written...)
	if k.self(name) || slices.Contains(prometheusSeries, name) {
		fams = append(fams, infer.Family{Name: name, Origin: "premetrics self metric", Labels: infer.Open()})
	}
	if len(fams) > 0 {
		return fams, nil
	}
	if werr == nil {
		werr = fmt.Errorf("metric %q is not written by the pipeline", name)
	}
	return nil, fmt.Errorf("%v; it is not a recording rule of alerting nor a premetrics self metric either", werr)
}

// recordLabels infers the labels of a recording rule's series: those of
// its expr's result, with the rule's labels set (an empty value removes
// a label, as Prometheus does).
func (k *checker) recordLabels(ref ruleRef) infer.Labels {
	if ls, ok := k.memo[ref]; ok {
		return ls
	}
	if k.busy[ref] {
		return infer.Open()
	}
	k.busy[ref] = true
	defer delete(k.busy, ref)
	r := k.cfg.Groups[ref.group].Rules[ref.rule]
	ls := infer.Open()
	if e, err := promqlParser.ParseExpr(r.Expr); err == nil {
		ls, _ = infer.Expr(e, k.resolve) // its problems are reported with the rule itself
	}
	for _, n := range slices.Sorted(maps.Keys(r.Labels)) {
		if r.Labels[n] == "" {
			ls = ls.Drop(n)
		} else {
			ls = ls.Add(n)
		}
	}
	k.memo[ref] = ls
	return ls
}
