package derive

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/premetrics/premetrics/batch"
)

// promqlParser parses every expression of this package; the engine that
// evaluates them uses the same one, so what Validate accepts is what runs.
var promqlParser = parser.NewParser(parser.Options{})

// Validate reports every problem of c, joined with errors.Join, one per
// line, each starting with the field path relative to the entry
// (`expr: ...`); the caller prefixes `derive[i].`. Problems inside expr
// carry their position in the expression as line:column
// (`expr: 1:9: rate(...) is not supported: ...`).
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case c.Record == "":
		add("record: must not be empty")
	case !model.LegacyValidation.IsValidMetricName(c.Record):
		add("record: %q is not a valid metric name (want [a-zA-Z_:][a-zA-Z0-9_:]*: later records and alerting rules use it unquoted)", c.Record)
	}
	if c.Expr == "" {
		add("expr: must not be empty")
	} else {
		_, _, problems := checkExpr(c.Expr)
		for _, p := range problems {
			add("expr: %s", p)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(c.Labels)) {
		switch {
		case n == batch.MetricName:
			add("labels: %q must not be set: the record is the metric name", n)
		case !model.LegacyValidation.IsValidLabelName(n):
			add("labels: %q is not a valid label name (want [a-zA-Z_][a-zA-Z0-9_]*)", n)
		case !utf8.ValidString(c.Labels[n]):
			add("labels: the value of %q is not valid UTF-8", n)
		}
	}
	if a := c.Anomaly; a != nil {
		if a.Alpha != nil && !(*a.Alpha > 0 && *a.Alpha <= 1) { // NaN fails too
			add("anomaly.alpha: must be in (0, 1], got %v", *a.Alpha)
		}
		if a.MinHistory != nil && *a.MinHistory < 1 {
			add("anomaly.min_history: must be >= 1, got %d", *a.MinHistory)
		}
		if a.Forget != nil && time.Duration(*a.Forget) < time.Millisecond {
			add("anomaly.forget: must be > 0, got %s", *a.Forget)
		}
	}
	return errors.Join(errs...)
}

// Referenced returns the metric names expr reads, sorted and unique: the
// name every vector selector fixes by equality (name{...} or
// {__name__="name"}). It parses any PromQL expression (range functions,
// subqueries and offsets included, so alerting rules can be checked with
// it); selectors that do not fix a name contribute nothing. The error is a
// parse error.
func Referenced(expr string) ([]string, error) {
	node, err := promqlParser.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %q: %w", expr, err)
	}
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if name := selectorName(vs); name != "" {
				names = append(names, name)
			}
		}
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names), nil
}

// selectorName returns the metric name vs fixes by equality, or "".
func selectorName(vs *parser.VectorSelector) string {
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual && m.Value != "" {
			return m.Value
		}
	}
	return ""
}

// Functions and aggregations of the subset (see the package doc).
var (
	supportedFuncs = []string{"abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log2", "log10", "sgn", "clamp", "clamp_min", "clamp_max"}
	supportedAggrs = []parser.ItemType{parser.SUM, parser.AVG, parser.MIN, parser.MAX, parser.COUNT, parser.STDDEV, parser.STDVAR, parser.GROUP}
	timeFuncs      = []string{"time", "timestamp", "minute", "hour", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "month", "year"}
)

const (
	whyRange  = "a derive record sees one instant (the window's outputs), not a range"
	whyOffset = "a derive record sees only the outputs of the window being closed"
)

// checkExpr parses expr and checks it against the subset. It returns the
// parsed expression, the metric names it reads (sorted, unique) and its
// problems, each starting with its position (line:column) in expr.
func checkExpr(expr string) (parser.Expr, []string, []string) {
	node, err := promqlParser.ParseExpr(expr)
	if err != nil {
		var pes parser.ParseErrors
		if errors.As(err, &pes) && len(pes) > 0 {
			out := make([]string, 0, len(pes))
			for i := range pes {
				out = append(out, pes[i].Error())
			}
			return nil, nil, out
		}
		return nil, nil, []string{err.Error()}
	}
	c := checker{expr: expr}
	c.walk(node)
	slices.Sort(c.names)
	c.names = slices.Compact(c.names)
	if len(c.problems) == 0 && len(c.names) == 0 {
		c.problems = append(c.problems, "reads no metric: a derive record is evaluated over window outputs and must read at least one")
	}
	return node, c.names, c.problems
}

type checker struct {
	expr     string
	names    []string
	problems []string
}

func (c *checker) fail(n parser.Node, format string, args ...any) {
	pos := n.PositionRange().StartPosInput(c.expr, 0)
	c.problems = append(c.problems, pos+": "+fmt.Sprintf(format, args...))
}

// walk checks n and, when n itself is supported, its children.
func (c *checker) walk(n parser.Node) {
	switch n := n.(type) {
	case *parser.NumberLiteral, *parser.ParenExpr, *parser.UnaryExpr:
	case *parser.BinaryExpr:
		if vm := n.VectorMatching; vm != nil && (vm.FillValues.LHS != nil || vm.FillValues.RHS != nil) {
			c.fail(n, "fill modifiers are not supported: a derive record combines only the outputs that exist")
			return
		}
	case *parser.VectorSelector:
		c.selector(n)
		return
	case *parser.MatrixSelector:
		c.fail(n, "%s is not supported: %s", n, whyRange)
		return
	case *parser.SubqueryExpr:
		step := ""
		if n.Step != 0 {
			step = model.Duration(n.Step).String()
		}
		c.fail(n, "subquery [%s:%s] is not supported: %s", model.Duration(n.Range), step, whyRange)
		return
	case *parser.StringLiteral:
		c.fail(n, "string %s is not supported: a derive record computes numbers", n)
		return
	case *parser.Call:
		if !c.call(n) {
			return
		}
	case *parser.AggregateExpr:
		if !slices.Contains(supportedAggrs, n.Op) {
			c.fail(n, "%s(...) is not supported: derive supports only the aggregations without a parameter (sum, avg, min, max, count, stddev, stdvar, group)", n.Op)
			return
		}
	default:
		c.fail(n, "%T is not supported", n)
		return
	}
	for child := range parser.ChildrenIter(n) {
		c.walk(child)
	}
}

func (c *checker) selector(vs *parser.VectorSelector) {
	ok := true
	if vs.OriginalOffset != 0 || vs.OriginalOffsetExpr != nil {
		c.fail(vs, "offset is not supported: %s", whyOffset)
		ok = false
	}
	if vs.Timestamp != nil || vs.StartOrEnd != 0 {
		c.fail(vs, "@ is not supported: %s", whyOffset)
		ok = false
	}
	if vs.Anchored || vs.Smoothed {
		c.fail(vs, "anchored and smoothed are not supported: %s", whyRange)
		ok = false
	}
	name := selectorName(vs)
	if name == "" {
		c.fail(vs, "selector %s does not name its metric: write name{...} or {__name__=\"name\"}, so the deriver knows which outputs to collect", vs)
		ok = false
	}
	if ok {
		c.names = append(c.names, name)
	}
}

// call checks a function call and reports whether its arguments are
// worth checking.
func (c *checker) call(n *parser.Call) bool {
	name := n.Func.Name + "(...)"
	if len(n.Args) == 0 {
		name = n.Func.Name + "()"
	}
	switch {
	case slices.Contains(supportedFuncs, n.Func.Name):
		return true
	case slices.Contains(n.Func.ArgTypes, parser.ValueTypeMatrix):
		c.fail(n, "%s is not supported: %s", name, whyRange)
	case slices.Contains(timeFuncs, n.Func.Name):
		c.fail(n, "%s is not supported: a derive record computes over values, not times (every input is stamped with its window end)", name)
	case n.Func.Name == "label_replace" || n.Func.Name == "label_join":
		c.fail(n, "%s is not supported: set labels with the record's labels, or with output_relabel_configs of the aggregation", name)
	case strings.HasPrefix(n.Func.Name, "histogram_"):
		c.fail(n, "%s is not supported: derive evaluates float samples, not histograms", name)
	default:
		c.fail(n, "%s is not supported: derive supports only the functions %s", name, strings.Join(supportedFuncs, ", "))
	}
	return false
}
