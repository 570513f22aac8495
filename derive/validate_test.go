package derive

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func ptr[T any](v T) *T { return &v }

func TestValidateExpr(t *testing.T) {
	const (
		whyRangeMsg = "a derive record sees one instant (the window's outputs), not a range"
		funcsMsg    = "derive supports only the functions abs, ceil, floor, round, sqrt, exp, ln, log2, log10, sgn, clamp, clamp_min, clamp_max"
		aggrsMsg    = "derive supports only the aggregations without a parameter (sum, avg, min, max, count, stddev, stdvar, group)"
		timeMsg     = "a derive record computes over values, not times (every input is stamped with its window end)"
		offsetMsg   = "a derive record sees only the outputs of the window being closed"
	)
	cases := []struct {
		expr string
		want []string // nil: valid
	}{
		// The subset.
		{expr: `errors:1m_by_title_sum_samples / views:1m_by_title_sum_samples`},
		{expr: `a / on (title) b`},
		{expr: `a / ignoring (code) b`},
		{expr: `a * on (title) group_left (genre) info`},
		{expr: `info * on (title) group_right (genre) a`},
		{expr: `-a + +b - (c * 2) / 3 % 4 ^ 5`},
		{expr: `a atan2 b`},
		{expr: `a > 0.1`},
		{expr: `a > bool 0.1`},
		{expr: `1 < bool a`},
		{expr: `a == b or a != b`},
		{expr: `a >= b and a <= b unless c`},
		{expr: `sum by (region) (a)`},
		{expr: `avg without (title) (a)`},
		{expr: `min(a) + max(a) + count(a) + stddev(a) + stdvar(a) + group(a)`},
		{expr: `abs(a) + ceil(a) + floor(a) + round(a) + round(a, 0.5) + sqrt(a) + exp(a)`},
		{expr: `ln(a) + log2(a) + log10(a) + sgn(a) + clamp(a, -1, 1) + clamp_min(a, 0) + clamp_max(a, 1)`},
		{expr: `{__name__="a", job=~"x|y", env!="dev"}`},
		{expr: `a{job!~"x"}`},
		{expr: "a\n  / b"},

		// Parse errors, one line each.
		{expr: `a +`, want: []string{"expr: 1:4: parse error: unexpected end of input"}},
		{expr: `sum(`, want: []string{
			"expr: 1:5: parse error: unclosed left parenthesis",
			"expr: 1:1: parse error: no arguments for aggregate expression provided",
		}},
		{expr: `sum(a[5m])`, want: []string{"expr: 1:5: parse error: expected type instant vector in aggregation expression, got range vector"}},

		// Ranges.
		{expr: `rate(a[5m])`, want: []string{"expr: 1:1: rate(...) is not supported: " + whyRangeMsg}},
		{expr: `increase(a[1h]) / b`, want: []string{"expr: 1:1: increase(...) is not supported: " + whyRangeMsg}},
		{expr: `avg_over_time(a[5m])`, want: []string{"expr: 1:1: avg_over_time(...) is not supported: " + whyRangeMsg}},
		{expr: `a[5m]`, want: []string{"expr: 1:1: a[5m] is not supported: " + whyRangeMsg}},
		{expr: `max_over_time((a + b)[10m:1m])`, want: []string{"expr: 1:1: max_over_time(...) is not supported: " + whyRangeMsg}},
		{expr: `(a)[5m:]`, want: []string{"expr: 1:1: subquery [5m:] is not supported: " + whyRangeMsg}},
		{expr: `(a)[5m:1m]`, want: []string{"expr: 1:1: subquery [5m:1m] is not supported: " + whyRangeMsg}},

		// Other times.
		{expr: `b / a offset 5m`, want: []string{"expr: 1:5: offset is not supported: " + offsetMsg}},
		{expr: `a offset -1m`, want: []string{"expr: 1:1: offset is not supported: " + offsetMsg}},
		{expr: `a @ 100`, want: []string{"expr: 1:1: @ is not supported: " + offsetMsg}},
		{expr: `a @ end()`, want: []string{"expr: 1:1: @ is not supported: " + offsetMsg}},
		{expr: `time() - a`, want: []string{"expr: 1:1: time() is not supported: " + timeMsg}},
		{expr: `timestamp(a)`, want: []string{"expr: 1:1: timestamp(...) is not supported: " + timeMsg}},
		{expr: `hour(a)`, want: []string{"expr: 1:1: hour(...) is not supported: " + timeMsg}},

		// Other functions and aggregations.
		{expr: `label_replace(a, "x", "$1", "y", "(.*)")`, want: []string{"expr: 1:1: label_replace(...) is not supported: set labels with the record's labels, or with output_relabel_configs of the aggregation"}},
		{expr: `histogram_quantile(0.9, a)`, want: []string{"expr: 1:1: histogram_quantile(...) is not supported: derive evaluates float samples, not histograms"}},
		{expr: `absent(a)`, want: []string{"expr: 1:1: absent(...) is not supported: " + funcsMsg}},
		{expr: `a * scalar(b)`, want: []string{"expr: 1:5: scalar(...) is not supported: " + funcsMsg}},
		{expr: `sort_desc(a)`, want: []string{"expr: 1:1: sort_desc(...) is not supported: " + funcsMsg}},
		{expr: `a * pi()`, want: []string{"expr: 1:5: pi() is not supported: " + funcsMsg}},
		{expr: `topk(3, a)`, want: []string{"expr: 1:1: topk(...) is not supported: " + aggrsMsg}},
		{expr: `quantile by (x) (0.9, a)`, want: []string{"expr: 1:1: quantile(...) is not supported: " + aggrsMsg}},
		{expr: `count_values("v", a)`, want: []string{"expr: 1:1: count_values(...) is not supported: " + aggrsMsg}},
		{expr: `"text"`, want: []string{`expr: 1:1: string "text" is not supported: a derive record computes numbers`}},
		{expr: `limitk(1, a)`, want: []string{"expr: 1:1: parse error: limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions"}},

		// Selectors must name their metric; an expression must read one.
		{expr: `{job="a"}`, want: []string{`expr: 1:1: selector {job="a"} does not name its metric: write name{...} or {__name__="name"}, so the deriver knows which outputs to collect`}},
		{expr: `a / {__name__=~"b.*"}`, want: []string{`expr: 1:5: selector {__name__=~"b.*"} does not name its metric: write name{...} or {__name__="name"}, so the deriver knows which outputs to collect`}},
		{expr: `1 + 2`, want: []string{"expr: reads no metric: a derive record is evaluated over window outputs and must read at least one"}},

		// Every problem, with its line:column.
		{expr: "abs(a)\n  + rate(b[1m])\n  + c offset 1m", want: []string{
			"expr: 2:5: rate(...) is not supported: " + whyRangeMsg,
			"expr: 3:5: offset is not supported: " + offsetMsg,
		}},
	}
	for _, tc := range cases {
		c := Config{Record: "r", Expr: tc.expr}
		checkLines(t, tc.expr, c.Validate(), tc.want)
	}
}

func TestValidateFields(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "valid", cfg: Config{Record: "video_errors:1m_by_title_ratio", Expr: "a / b", Labels: map[string]string{"team": "video", "drop": ""}, Anomaly: &Anomaly{Alpha: ptr(1.0), MinHistory: ptr(1), Forget: ptr(model.Duration(time.Millisecond))}}},
		{name: "anomaly defaults", cfg: Config{Record: "r", Expr: "a", Anomaly: &Anomaly{}}},
		{name: "empty", cfg: Config{}, want: []string{"record: must not be empty", "expr: must not be empty"}},
		{name: "bad record", cfg: Config{Record: "error ratio", Expr: "a"}, want: []string{`record: "error ratio" is not a valid metric name (want [a-zA-Z_:][a-zA-Z0-9_:]*: later records and alerting rules use it unquoted)`}},
		{name: "record with a dot", cfg: Config{Record: "a.b", Expr: "a"}, want: []string{`record: "a.b" is not a valid metric name (want [a-zA-Z_:][a-zA-Z0-9_:]*: later records and alerting rules use it unquoted)`}},
		{name: "labels", cfg: Config{Record: "r", Expr: "a", Labels: map[string]string{"__name__": "x", "a-b": "1", "1a": "2", "bad": "\xff", "ok": "v"}}, want: []string{
			`labels: "1a" is not a valid label name (want [a-zA-Z_][a-zA-Z0-9_]*)`,
			`labels: "__name__" must not be set: the record is the metric name`,
			`labels: "a-b" is not a valid label name (want [a-zA-Z_][a-zA-Z0-9_]*)`,
			`labels: the value of "bad" is not valid UTF-8`,
		}},
		{name: "anomaly", cfg: Config{Record: "r", Expr: "a", Anomaly: &Anomaly{Alpha: ptr(0.0), MinHistory: ptr(0), Forget: ptr(model.Duration(0))}}, want: []string{
			"anomaly.alpha: must be in (0, 1], got 0",
			"anomaly.min_history: must be >= 1, got 0",
			"anomaly.forget: must be > 0, got 0s",
		}},
		{name: "alpha above 1", cfg: Config{Record: "r", Expr: "a", Anomaly: &Anomaly{Alpha: ptr(1.5)}}, want: []string{"anomaly.alpha: must be in (0, 1], got 1.5"}},
		{name: "alpha NaN", cfg: Config{Record: "r", Expr: "a", Anomaly: &Anomaly{Alpha: ptr(math.NaN())}}, want: []string{"anomaly.alpha: must be in (0, 1], got NaN"}},
		{name: "negative forget", cfg: Config{Record: "r", Expr: "a", Anomaly: &Anomaly{Forget: ptr(model.Duration(-time.Minute))}}, want: []string{"anomaly.forget: must be > 0, got -1m"}},
	}
	for _, tc := range cases {
		checkLines(t, tc.name, tc.cfg.Validate(), tc.want)
	}
}

func checkLines(t *testing.T, name string, err error, want []string) {
	t.Helper()
	var got []string
	if err != nil {
		got = strings.Split(err.Error(), "\n")
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", name, got, want)
	}
}

func TestReferenced(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{"b / a", []string{"a", "b"}},
		{`sum by (x) (a{job="j"}) / on (x) a`, []string{"a"}},
		{`{__name__="c"} + {job="x"} + {__name__=~"d.*"}`, []string{"c"}},
		// Not the derive subset: alerting expressions are parsed too.
		{`rate(http_requests_total[5m]) > 1 and absent(up offset 1h)`, []string{"http_requests_total", "up"}},
		{`max_over_time((x - y)[10m:1m])`, []string{"x", "y"}},
		{`vector(1)`, nil},
	}
	for _, tc := range cases {
		got, err := Referenced(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Referenced(%q) = %q, %v; want %q", tc.expr, got, err, tc.want)
		}
	}
	if _, err := Referenced("a +"); err == nil || err.Error() != `cannot parse "a +": 1:4: parse error: unexpected end of input` {
		t.Errorf("Referenced(a +): %v", err)
	}
}
