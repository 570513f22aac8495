package infer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Family is a set of series a selector can read: what it is called and
// what is known of its labels.
type Family struct {
	Name string // the metric name, or a pattern of names, for messages
	// Origin says where the series come from, for messages
	// (`aggregations[0] "fleet_rpm"`); "" for the result of an expression,
	// whose Name is then the expression.
	Origin string
	Labels Labels
}

// describe formats f for a message about a label it lacks:
// `name (origin keeps only a, b)`.
func (f Family) describe() string {
	if f.Origin == "" {
		return fmt.Sprintf("%s (%s)", f.Name, f.Labels.why())
	}
	return fmt.Sprintf("%s (%s %s)", f.Name, f.Origin, f.Labels.why())
}

// Resolver returns the families of series that a vector selector reads
// (its metric name is the __name__ matchers of vs.LabelMatchers). A nil
// slice with a nil error means nothing is known: the selector's series
// may have any label. An error says why the selector reads nothing that
// exists (an unknown metric); Expr reports it as a problem of the
// expression and treats the selector as unknown.
type Resolver func(vs *parser.VectorSelector) ([]Family, error)

// Expr returns what is known of the labels of the series of e's result,
// following PromQL: selectors carry the labels of the families the
// resolver returns; arithmetic and functions keep labels (the metric
// name aside); one-to-one vector matching with on(...) keeps only those
// labels, with ignoring(...) drops them; group_left and group_right keep
// the labels of the "many" side plus the listed labels of the "one" side;
// and/unless keep the left side's labels, or unites both sides';
// aggregations keep their by labels or drop their without labels (topk,
// bottomk, limitk and limit_ratio keep every label, count_values adds
// its label); label_replace and label_join add their destination label,
// histogram_quantile and histogram_fraction drop le, absent keeps the
// labels of its selector's equality matchers, info may add any label. A
// scalar or string result has no labels.
//
// The problems are the resolver's errors and every label e uses that the
// series it applies to never have: in a label matcher, by or without, on
// or ignoring (on: missing on either side; ignoring: missing on both),
// group_left or group_right (missing on the "one" side), and the source
// labels of label_replace, label_join and sort_by_label. Each is reported
// once, in the order of e.
func Expr(e parser.Expr, resolve Resolver) (Labels, []error) {
	w := walker{resolve: resolve}
	v := w.eval(e)
	return v.labels, w.problems
}

// value is what is known of an expression's result: its labels, and the
// families they come from, to explain a missing label.
type value struct {
	labels Labels
	from   []Family // nil: nothing to explain with (unknown or scalar)
}

type walker struct {
	resolve  Resolver
	problems []error
	seen     map[string]bool
}

func (w *walker) fail(msg string) {
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if w.seen[msg] {
		return
	}
	w.seen[msg] = true
	w.problems = append(w.problems, fmt.Errorf("%s", msg))
}

// need reports a problem when label (used as what, e.g. "of by (x)") is
// never on v's series.
func (w *walker) need(v value, label, what string) {
	if label == "" || label == metricName || v.labels.Has(label) {
		return
	}
	w.fail(fmt.Sprintf("label %q%s is never on %s", label, what, v.explain(label)))
}

// explain names the families of v that lack label.
func (v value) explain(label string) string {
	var parts []string
	for _, f := range v.from {
		if !f.Labels.Has(label) {
			parts = append(parts, f.describe())
		}
	}
	return strings.Join(parts, "; ")
}

var (
	scalar  = value{}
	unknown = value{labels: Open()}
)

// derived is the value of expression e with labels ls, which differ from
// those of its operands.
func derived(e parser.Expr, ls Labels) value {
	return value{labels: ls, from: []Family{{Name: exprString(e), Labels: ls}}}
}

// exprString is e as Prometheus prints it, shortened for messages.
func exprString(e parser.Expr) string {
	const maxLen = 80
	s := e.String()
	if len(s) > maxLen {
		s = s[:maxLen-3] + "..."
	}
	return s
}

// with returns v with labels ls: v's families when ls is what they
// explain, else a value derived from e.
func (v value) with(e parser.Expr, ls Labels) value {
	if ls.Equal(v.labels) {
		return v
	}
	return derived(e, ls)
}

func (w *walker) eval(e parser.Expr) value {
	switch n := e.(type) {
	case nil:
		return unknown
	case *parser.VectorSelector:
		return w.selector(n)
	case *parser.MatrixSelector:
		return w.eval(n.VectorSelector)
	case *parser.SubqueryExpr:
		return w.eval(n.Expr)
	case *parser.ParenExpr:
		return w.eval(n.Expr)
	case *parser.StepInvariantExpr:
		return w.eval(n.Expr)
	case *parser.UnaryExpr:
		return w.eval(n.Expr)
	case *parser.NumberLiteral, *parser.StringLiteral, *parser.DurationExpr:
		return scalar
	case *parser.BinaryExpr:
		return w.binary(n)
	case *parser.AggregateExpr:
		return w.aggregate(n)
	case *parser.Call:
		return w.call(n)
	}
	return unknown
}

func (w *walker) selector(vs *parser.VectorSelector) value {
	fams, err := w.resolve(vs)
	if err != nil {
		w.fail(err.Error())
		return unknown
	}
	if fams == nil {
		return unknown
	}
	v := value{from: fams}
	for i, f := range fams {
		if i == 0 {
			v.labels = f.Labels
		} else {
			v.labels = Union(v.labels, f.Labels)
		}
	}
	for _, m := range vs.LabelMatchers {
		w.need(v, m.Name, "")
	}
	return v
}

func isVector(e parser.Expr) bool {
	t := e.Type()
	return t == parser.ValueTypeVector || t == parser.ValueTypeMatrix
}

func (w *walker) binary(n *parser.BinaryExpr) value {
	lhs, rhs := w.eval(n.LHS), w.eval(n.RHS)
	lv, rv := isVector(n.LHS), isVector(n.RHS)
	switch {
	case !lv && !rv:
		return scalar
	case !rv:
		return lhs
	case !lv:
		return rhs
	}
	vm := n.VectorMatching
	if vm == nil {
		vm = &parser.VectorMatching{Card: parser.CardOneToOne}
	}
	if vm.On {
		clause := fmt.Sprintf(" of on (%s)", strings.Join(vm.MatchingLabels, ", "))
		for _, l := range vm.MatchingLabels {
			w.need(lhs, l, clause)
			w.need(rhs, l, clause)
		}
	} else {
		for _, l := range vm.MatchingLabels {
			if !lhs.labels.Has(l) && !rhs.labels.Has(l) {
				both := value{labels: Union(lhs.labels, rhs.labels), from: append(slices.Clip(lhs.from), rhs.from...)}
				w.need(both, l, fmt.Sprintf(" of ignoring (%s)", strings.Join(vm.MatchingLabels, ", ")))
			}
		}
	}
	switch {
	case n.Op == parser.LOR:
		return value{labels: Union(lhs.labels, rhs.labels), from: append(slices.Clip(lhs.from), rhs.from...)}
	case n.Op.IsSetOperator(): // and, unless
		return lhs
	}
	switch vm.Card {
	case parser.CardManyToOne:
		return lhs.with(n, w.include(lhs.labels, rhs, vm.Include, "group_left"))
	case parser.CardOneToMany:
		return rhs.with(n, w.include(rhs.labels, lhs, vm.Include, "group_right"))
	}
	if vm.On {
		return lhs.with(n, lhs.labels.Keep(vm.MatchingLabels...))
	}
	return lhs.with(n, lhs.labels.Drop(vm.MatchingLabels...))
}

// include returns many with the group_left/group_right labels taken from
// the one side: set where the one side has them, removed where not.
func (w *walker) include(many Labels, one value, include []string, modifier string) Labels {
	clause := fmt.Sprintf(" of %s (%s)", modifier, strings.Join(include, ", "))
	for _, l := range include {
		w.need(one, l, clause)
		if one.labels.Has(l) {
			many = many.Add(l)
		} else {
			many = many.Drop(l)
		}
	}
	return many
}

func (w *walker) aggregate(n *parser.AggregateExpr) value {
	if n.Param != nil {
		w.eval(n.Param)
	}
	inner := w.eval(n.Expr)
	kw := "by"
	if n.Without {
		kw = "without"
	}
	clause := fmt.Sprintf(" of %s (%s)", kw, strings.Join(n.Grouping, ", "))
	for _, l := range n.Grouping {
		w.need(inner, l, clause)
	}
	switch n.Op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
		return inner
	}
	var ls Labels
	if n.Without {
		ls = inner.labels.Drop(n.Grouping...)
	} else {
		ls = inner.labels.Keep(n.Grouping...)
	}
	if n.Op == parser.COUNT_VALUES {
		if s, ok := unwrap(n.Param).(*parser.StringLiteral); ok {
			ls = ls.Add(s.Val)
		}
	}
	return inner.with(n, ls)
}

// unwrap returns e without enclosing parentheses.
func unwrap(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// stringArg returns the value of argument i of n when it is a string
// literal.
func stringArg(n *parser.Call, i int) (string, bool) {
	if i >= len(n.Args) {
		return "", false
	}
	s, ok := unwrap(n.Args[i]).(*parser.StringLiteral)
	if !ok {
		return "", false
	}
	return s.Val, true
}

func (w *walker) call(n *parser.Call) value {
	args := make([]value, len(n.Args))
	first := -1 // the first vector or matrix argument
	for i, a := range n.Args {
		args[i] = w.eval(a)
		if first < 0 && a != nil && isVector(a) {
			first = i
		}
	}
	name := n.Func.Name
	clause := fmt.Sprintf(" of %s(...)", name)
	switch name {
	case "label_replace":
		if len(args) == 0 {
			return unknown
		}
		if src, ok := stringArg(n, 3); ok {
			w.need(args[0], src, clause)
		}
		if dst, ok := stringArg(n, 1); ok {
			return args[0].with(n, args[0].labels.Add(dst))
		}
		return unknown
	case "label_join":
		if len(args) == 0 {
			return unknown
		}
		for i := 3; i < len(n.Args); i++ {
			if src, ok := stringArg(n, i); ok {
				w.need(args[0], src, clause)
			}
		}
		if dst, ok := stringArg(n, 1); ok {
			return args[0].with(n, args[0].labels.Add(dst))
		}
		return unknown
	case "sort_by_label", "sort_by_label_desc":
		for i := 1; i < len(n.Args); i++ {
			if l, ok := stringArg(n, i); ok && len(args) > 0 {
				w.need(args[0], l, clause)
			}
		}
	case "histogram_quantile", "histogram_fraction":
		if first >= 0 {
			return args[first].with(n, args[first].labels.Drop("le"))
		}
	case "absent", "absent_over_time":
		return derived(n, absentLabels(n))
	case "info":
		return derived(n, Open())
	}
	if t := n.Func.ReturnType; t != parser.ValueTypeVector && t != parser.ValueTypeMatrix {
		return scalar
	}
	if first < 0 { // vector(s), time-less functions
		return derived(n, Closed())
	}
	return args[first]
}

// absentLabels returns the labels of absent's result: those of the
// equality matchers of its selector.
func absentLabels(n *parser.Call) Labels {
	if len(n.Args) == 0 {
		return Closed()
	}
	e := unwrap(n.Args[0])
	if ms, ok := e.(*parser.MatrixSelector); ok {
		e = ms.VectorSelector
	}
	vs, ok := e.(*parser.VectorSelector)
	if !ok {
		return Closed()
	}
	var names []string
	for _, m := range vs.LabelMatchers {
		if m.Type == labels.MatchEqual {
			names = append(names, m.Name)
		}
	}
	return Closed(names...)
}
