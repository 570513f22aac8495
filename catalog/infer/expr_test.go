package infer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// testParser enables the experimental functions (info, sort_by_label).
var testParser = parser.NewParser(parser.Options{EnableExperimentalFunctions: true})

// testFamilies are what testResolve knows: a and b closed, o open, m two
// families of one name.
var testFamilies = map[string][]Family{
	"a": {{Name: "a", Origin: `aggregations[0] "A"`, Labels: Closed("x", "y")}},
	"b": {{Name: "b", Origin: `aggregations[1] "B"`, Labels: Closed("x", "z")}},
	"o": {{Name: "o", Origin: `aggregations[2] "O"`, Labels: Open("w")}},
	"n": {{Name: "n", Origin: `aggregations[3] "N"`, Labels: Closed()}},
	"m": {
		{Name: "m", Origin: `aggregations[4] "M1"`, Labels: Closed("x")},
		{Name: "m", Origin: `aggregations[5] "M2"`, Labels: Closed("y")},
	},
}

func testResolve(vs *parser.VectorSelector) ([]Family, error) {
	name := ""
	for _, m := range vs.LabelMatchers {
		if m.Name == "__name__" && m.Type == labels.MatchEqual {
			name = m.Value
		}
	}
	if name == "" {
		return nil, nil
	}
	fams, ok := testFamilies[name]
	if !ok {
		return nil, fmt.Errorf("metric %q is unknown", name)
	}
	return fams, nil
}

func TestExprLabels(t *testing.T) {
	for _, tc := range []struct {
		expr, want string
	}{
		{`a`, `{x, y}`},
		{`a > 3`, `{x, y}`},
		{`2 * a`, `{x, y}`},
		{`-a`, `{x, y}`},
		{`(a)`, `{x, y}`},
		{`1 + 2`, `{}`},
		{`a + b`, `{x, y}`},                           // one-to-one: the left side's labels
		{`a * on (x) b`, `{x}`},                       // on keeps only its labels
		{`a / ignoring (y) b`, `{x}`},                 // ignoring drops them
		{`a * on (x) group_left (z) b`, `{x, y, z}`},  // many side + listed labels of the one side
		{`b * on (x) group_right (z) a`, `{x, y, z}`}, // group_right: the right side is the many side
		{`a and b`, `{x, y}`},                         // and, unless: the left side
		{`a unless b`, `{x, y}`},                      // and, unless: the left side
		{`a or b`, `{x, y, z}`},                       // or: both
		{`sum by (x) (a)`, `{x}`},                     // by
		{`sum without (y) (a)`, `{x}`},                // without
		{`sum(a)`, `{}`},                              // no grouping
		{`max by (x, v) (o)`, `{v, x}`},               // by over an open set
		{`sum without (v) (o)`, `any label but v, w`}, // without over an open set
		{`count_values by (x) ("value", a)`, `{value, x}`},
		{`topk(3, a)`, `{x, y}`},
		{`topk by (x) (3, a)`, `{x, y}`},
		{`quantile by (y) (0.9, a)`, `{y}`},
		{`rate(a[5m])`, `{x, y}`},
		{`avg_over_time(a[10m:1m])`, `{x, y}`},
		{`abs(a)`, `{x, y}`},
		{`clamp_min(a, 0)`, `{x, y}`},
		{`label_replace(a, "dst", "$1", "x", "(.*)")`, `{dst, x, y}`},
		{`label_join(a, "dst", "-", "x", "y")`, `{dst, x, y}`},
		{`histogram_quantile(0.9, sum by (le, x) (rate(o[5m])))`, `{x}`},
		{`absent(a{x="1", y=~"2.*"})`, `{x}`},
		{`absent_over_time(a{y="1"}[5m])`, `{y}`},
		{`vector(1)`, `{}`},
		{`scalar(a)`, `{}`},
		{`time() - a`, `{x, y}`},
		{`m`, `{x, y}`}, // two families: either's labels
		{`info(a)`, `any label`},
		{`o`, `any label but w`},
		{`{__name__="a"}`, `{x, y}`},
		{`{__name__=~"a|b"}`, `any label`}, // no exact name: nothing known
		{`sum by (x) (a) * on (x) group_left sum by (x) (b)`, `{x}`},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := testParser.ParseExpr(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, problems := Expr(e, testResolve)
			if got.String() != tc.want {
				t.Errorf("labels %s, want %s", got, tc.want)
			}
			if len(problems) > 0 {
				t.Errorf("unexpected problems: %v", problems)
			}
		})
	}
}

func TestExprProblems(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`a{z="1"}`, []string{`label "z" is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`a{z!="1"}`, []string{`label "z" is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`n{x="1"}`, []string{`label "x" is never on n (aggregations[3] "N" keeps no labels)`}},
		{`o{w="1"}`, []string{`label "w" is never on o (aggregations[2] "O" removes w)`}},
		{`m{z="1"}`, []string{`label "z" is never on m (aggregations[4] "M1" keeps only x); m (aggregations[5] "M2" keeps only y)`}},
		{`m{x="1"}`, nil}, // on one of the two families
		{`sum by (z) (a)`, []string{`label "z" of by (z) is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`sum without (z) (rate(a[5m]))`, []string{`label "z" of without (z) is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`a * on (y) b`, []string{`label "y" of on (y) is never on b (aggregations[1] "B" keeps only x, z)`}},
		{`a * ignoring (y) b`, nil}, // on one side
		{`a * ignoring (w) b`, []string{`label "w" of ignoring (w) is never on a (aggregations[0] "A" keeps only x, y); b (aggregations[1] "B" keeps only x, z)`}},
		{`a * on (x) group_left (q) b`, []string{`label "q" of group_left (q) is never on b (aggregations[1] "B" keeps only x, z)`}},
		{`b * on (x) group_right (q) a`, []string{`label "q" of group_right (q) is never on b (aggregations[1] "B" keeps only x, z)`}},
		{`sum by (x) (a) * on (y) b`, []string{
			`label "y" of on (y) is never on sum by (x) (a) (keeps only x)`,
			`label "y" of on (y) is never on b (aggregations[1] "B" keeps only x, z)`,
		}},
		{`label_replace(a, "dst", "$1", "q", "(.*)")`, []string{`label "q" of label_replace(...) is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`label_join(a, "dst", "-", "x", "q")`, []string{`label "q" of label_join(...) is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`a * on (x) group_left (y) n`, []string{`label "x" of on (x) is never on n (aggregations[3] "N" keeps no labels)`, `label "y" of group_left (y) is never on n (aggregations[3] "N" keeps no labels)`}},
		{`sort_by_label(a, "q")`, []string{`label "q" of sort_by_label(...) is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`nope + a{q="1"}`, []string{`metric "nope" is unknown`, `label "q" is never on a (aggregations[0] "A" keeps only x, y)`}},
		{`nope{q="1"}`, []string{`metric "nope" is unknown`}},                                               // unknown: its labels are not checked
		{`a{z="1"} or a{z="2"}`, []string{`label "z" is never on a (aggregations[0] "A" keeps only x, y)`}}, // once
	} {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := testParser.ParseExpr(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			_, problems := Expr(e, testResolve)
			var got []string
			for _, p := range problems {
				got = append(got, p.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  Labels
		want string
	}{
		{"closed sorted unique, no name", Closed("b", "a", "b", "__name__", ""), "{a, b}"},
		{"open", Open("w"), "any label but w"},
		{"add to open", Open("w", "v").Add("w"), "any label but v"},
		{"drop from open", Open().Drop("w"), "any label but w"},
		{"keep of open", Open("w").Keep("w", "x"), "{x}"},
		{"union closed", Union(Closed("a"), Closed("b")), "{a, b}"},
		{"union open closed", Union(Open("a", "b"), Closed("a")), "any label but b"},
		{"union open open", Union(Open("a", "b"), Open("b", "c")), "any label but b"},
		{"drop matching closed", Closed("ab", "b").DropMatching(func(s string) bool { return strings.HasPrefix(s, "a") }), "{b}"},
		{"drop matching open stays", Open("w").DropMatching(func(string) bool { return true }), "any label but w"},
		{"keep matching closed", Closed("ab", "b").KeepMatching(func(s string) bool { return strings.HasPrefix(s, "a") }), "{ab}"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	if !Open("w").Has("x") || Open("w").Has("w") || !Closed().Has("__name__") || Closed("a").Has("b") {
		t.Error("Has")
	}
}
