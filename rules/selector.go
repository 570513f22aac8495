package rules

import (
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/premetrics/premetrics/batch"
)

// Selector matches series by PromQL label matchers and, optionally, samples
// by comparing their value with a constant.
type Selector struct {
	expr string
	// name is the metric name an equality matcher fixes ("" if none); it is
	// tested first, since most series of other metrics fail on it.
	name     string
	matchers []*labels.Matcher // the others, cheapest first
	cmp      parser.ItemType   // 0 when there is no comparison
	operand  float64
}

var promqlParser = parser.NewParser(parser.Options{})

// CompileSelector parses expr: a series selector, optionally followed by a
// comparison operator and a number ("vehicle_rpm != 0").
func CompileSelector(expr string) (*Selector, error) {
	if expr == "" {
		return nil, fmt.Errorf("cannot parse selector: empty")
	}
	node, err := promqlParser.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("cannot parse selector %q: %w", expr, err)
	}
	s := &Selector{expr: expr}
	switch n := node.(type) {
	case *parser.VectorSelector:
		s.matchers = n.LabelMatchers
	case *parser.BinaryExpr:
		vs, ok := n.LHS.(*parser.VectorSelector)
		num, ok2 := n.RHS.(*parser.NumberLiteral)
		if !ok || !ok2 || !n.Op.IsComparisonOperator() || n.ReturnBool || n.VectorMatching != nil && n.VectorMatching.On {
			return nil, fmt.Errorf("cannot parse selector %q: want a series selector, optionally compared with a number (e.g. `rpm != 0`)", expr)
		}
		if vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
			return nil, fmt.Errorf("cannot parse selector %q: offset and @ modifiers are not allowed", expr)
		}
		s.matchers = vs.LabelMatchers
		s.cmp = n.Op
		s.operand = num.Val
	default:
		return nil, fmt.Errorf("cannot parse selector %q: want a series selector, optionally compared with a number (e.g. `rpm != 0`), got an expression of type %s", expr, parser.DocumentedType(node.Type()))
	}
	if vs, ok := node.(*parser.VectorSelector); ok && (vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0) {
		return nil, fmt.Errorf("cannot parse selector %q: offset and @ modifiers are not allowed", expr)
	}
	s.orderMatchers()
	return s, nil
}

// orderMatchers takes out the metric name equality and sorts the other
// matchers cheapest first: all must match, so the order is free.
func (s *Selector) orderMatchers() {
	ms := make([]*labels.Matcher, 0, len(s.matchers))
	for _, m := range s.matchers {
		if s.name == "" && m.Name == batch.MetricName && m.Type == labels.MatchEqual && m.Value != "" {
			s.name = m.Value
			continue
		}
		ms = append(ms, m)
	}
	cost := map[labels.MatchType]int{labels.MatchEqual: 0, labels.MatchNotEqual: 1, labels.MatchRegexp: 2, labels.MatchNotRegexp: 3}
	slices.SortStableFunc(ms, func(a, b *labels.Matcher) int { return cost[a.Type] - cost[b.Type] })
	s.matchers = ms
}

// Matches reports whether the series with labels ls is selected. A matcher
// on a missing label sees the empty string, as in PromQL.
func (s *Selector) Matches(ls []batch.Label) bool {
	if s.name != "" {
		// __name__ sorts before lower-case names: usually the first label.
		if len(ls) > 0 && ls[0].Name == batch.MetricName {
			if ls[0].Value != s.name {
				return false
			}
		} else if batch.Get(ls, batch.MetricName) != s.name {
			return false
		}
	}
	for _, m := range s.matchers {
		if !m.Matches(batch.Get(ls, m.Name)) {
			return false
		}
	}
	return true
}

// Keep reports whether a sample with value v passes the comparison; it is
// always true for a selector without one.
func (s *Selector) Keep(v float64) bool {
	switch s.cmp {
	case 0:
		return true
	case parser.EQLC:
		return v == s.operand
	case parser.NEQ:
		return v != s.operand
	case parser.GTR:
		return v > s.operand
	case parser.LSS:
		return v < s.operand
	case parser.GTE:
		return v >= s.operand
	case parser.LTE:
		return v <= s.operand
	}
	return false
}

// HasComparison reports whether samples are filtered by value.
func (s *Selector) HasComparison() bool { return s.cmp != 0 }

// MetricName returns the metric name an equality matcher fixes, or "".
func (s *Selector) MetricName() string { return s.name }

// String returns the expression the selector was compiled from.
func (s *Selector) String() string { return s.expr }
