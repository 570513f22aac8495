package rules

import (
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
)

func lbls(ss ...string) []batch.Label {
	var ls []batch.Label
	for i := 0; i < len(ss); i += 2 {
		ls = append(ls, batch.Label{Name: ss[i], Value: ss[i+1]})
	}
	batch.SortLabels(ls)
	return ls
}

func TestSelector(t *testing.T) {
	series := lbls("__name__", "vehicle_rpm", "region", "UK", "engine", "ic")
	cases := []struct {
		expr    string
		matches bool
		keep    map[float64]bool
	}{
		{expr: "vehicle_rpm", matches: true, keep: map[float64]bool{0: true, 5: true}},
		{expr: "other", matches: false},
		{expr: `{__name__=~"vehicle_.*", region!="US"}`, matches: true},
		{expr: `vehicle_rpm{region="US"}`, matches: false},
		{expr: `vehicle_rpm{missing=""}`, matches: true},
		{expr: `vehicle_rpm != 0`, matches: true, keep: map[float64]bool{0: false, -3: true, 2: true}},
		{expr: `vehicle_rpm > 10`, matches: true, keep: map[float64]bool{10: false, 11: true}},
		{expr: `vehicle_rpm >= 10`, matches: true, keep: map[float64]bool{10: true, 9: false}},
		{expr: `vehicle_rpm < 10`, matches: true, keep: map[float64]bool{10: false, 9: true}},
		{expr: `vehicle_rpm <= 10`, matches: true, keep: map[float64]bool{10: true, 11: false}},
		{expr: `vehicle_rpm == 3`, matches: true, keep: map[float64]bool{3: true, 4: false}},
	}
	// An upper-case label name sorts before __name__.
	upper := lbls("__name__", "vehicle_rpm", "Zone", "a", "region", "UK")
	for _, c := range []struct {
		expr    string
		matches bool
	}{
		{`vehicle_rpm{Zone="a"}`, true},
		{`vehicle_rpm{Zone="b"}`, false},
		{`other{Zone="a"}`, false},
		{`{__name__="vehicle_rpm", __name__=~"vehicle_.*", region=~"U.*"}`, true},
		{`{__name__="vehicle_rpm", __name__!="vehicle_rpm"}`, false},
		{`{__name__=~"vehicle_.*", Zone!="a"}`, false},
	} {
		s, err := CompileSelector(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := s.Matches(upper); got != c.matches {
			t.Errorf("%s on %s: Matches = %v, want %v", c.expr, batch.String(upper), got, c.matches)
		}
	}
	for _, c := range cases {
		s, err := CompileSelector(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := s.Matches(series); got != c.matches {
			t.Errorf("%s: Matches = %v, want %v", c.expr, got, c.matches)
		}
		for v, want := range c.keep {
			if got := s.Keep(v); got != want {
				t.Errorf("%s: Keep(%v) = %v, want %v", c.expr, v, got, want)
			}
		}
	}
}

func TestSelectorErrors(t *testing.T) {
	cases := map[string]string{
		"":                        "empty",
		"rate(x[5m])":             "want a series selector",
		"x != bool 0":             "want a series selector",
		"x + 1":                   "want a series selector",
		"x offset 5m":             "offset and @ modifiers are not allowed",
		`{a=~"("}`:                "cannot parse selector",
		"x > y":                   "want a series selector",
		"vehicle_rpm !=":          "cannot parse selector",
		`x{region="UK"} != 0 > 1`: "want a series selector",
	}
	for expr, want := range cases {
		_, err := CompileSelector(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CompileSelector(%q) error = %v, want it to contain %q", expr, err, want)
		}
	}
}

// BenchmarkSelector measures a selector on a series it matches and on a
// series of another metric (most series, for most aggregations).
func BenchmarkSelector(b *testing.B) {
	s, err := CompileSelector(`vehicle_rpm{region=~"UK|US"} != 0`)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   []batch.Label
		want bool
	}{
		{"match", lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic"), true},
		{"other_metric", lbls("__name__", "vehicle_speed", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic"), false},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.Matches(c.in) != c.want || !s.Keep(1) {
					b.Fatal("wrong result")
				}
			}
		})
	}
}
