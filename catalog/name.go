package catalog

import (
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// nameSpec is what is known of the metric names of a family: one exact
// name, or the names <base><suffix> whose base all of base's matchers
// match (no matchers: any base).
type nameSpec struct {
	exact  string
	base   []*labels.Matcher // __name__ matchers on the base
	suffix string
}

func exactName(n string) nameSpec { return nameSpec{exact: n} }

// anyName is a name nothing is known of.
var anyName = nameSpec{}

func (s nameSpec) isExact() bool { return s.exact != "" }

// matches reports whether metric is one of the names.
func (s nameSpec) matches(metric string) bool {
	if s.exact != "" {
		return metric == s.exact
	}
	base, ok := strings.CutSuffix(metric, s.suffix)
	if !ok || base == "" {
		return false
	}
	for _, m := range s.base {
		if !m.Matches(base) {
			return false
		}
	}
	return true
}

// withSuffix returns the names of s followed by suffix.
func (s nameSpec) withSuffix(suffix string) nameSpec {
	if s.exact != "" {
		return exactName(s.exact + suffix)
	}
	return nameSpec{base: s.base, suffix: s.suffix + suffix}
}

// String formats s for messages: the exact name, or a pattern such as
// `<name=~"cpu_.*">:30s_avg` or `<any name>:30s_avg`.
func (s nameSpec) String() string {
	if s.exact != "" {
		return s.exact
	}
	if len(s.base) == 0 {
		return "<any name>" + s.suffix
	}
	parts := make([]string, len(s.base))
	for i, m := range s.base {
		parts[i] = fmt.Sprintf("name%s%q", m.Type, m.Value)
	}
	return "<" + strings.Join(parts, ",") + ">" + s.suffix
}

// selectorMatchers returns the label matchers of an aggregation's match
// (rules.CompileSelector syntax: a series selector, optionally compared
// with a number), split into those on the metric name and the others.
// An empty match has none: it matches every series.
func selectorMatchers(match string) (name, other []*labels.Matcher, err error) {
	if match == "" {
		return nil, nil, nil
	}
	node, err := promqlParser.ParseExpr(match)
	if err != nil {
		return nil, nil, err
	}
	var vs *parser.VectorSelector
	switch n := node.(type) {
	case *parser.VectorSelector:
		vs = n
	case *parser.BinaryExpr:
		vs, _ = n.LHS.(*parser.VectorSelector)
	}
	if vs == nil {
		return nil, nil, fmt.Errorf("not a series selector: %q", match)
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName {
			name = append(name, m)
		} else {
			other = append(other, m)
		}
	}
	return name, other, nil
}

// selectedName returns the names a selector's metric-name matchers
// select: the name an equality matcher fixes, or those all of them match.
func selectedName(ms []*labels.Matcher) nameSpec {
	for _, m := range ms {
		if m.Type == labels.MatchEqual && m.Value != "" {
			return exactName(m.Value)
		}
	}
	return nameSpec{base: ms}
}

// matchesAll reports whether m matches every value of its label: such a
// matcher does not narrow what a selector selects.
func matchesAll(m *labels.Matcher) bool {
	return m.Type == labels.MatchRegexp && (m.Value == ".*" || m.Value == "(.*)")
}

// vectorSelectorName returns the metric name a PromQL vector selector
// fixes by equality, or "".
func vectorSelectorName(vs *parser.VectorSelector) string {
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual && m.Value != "" {
			return m.Value
		}
	}
	return ""
}
