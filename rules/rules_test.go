package rules

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

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

// TestRelabelMatchesPrometheus runs every action through Apply and through
// Prometheus' own path (a builder over sorted labels.Labels) and requires
// identical results.
func TestRelabelMatchesPrometheus(t *testing.T) {
	cases := map[string]string{
		"replace": `
- source_labels: [vehicle_id, region]
  separator: ";"
  regex: "V(\\d{3}).*;(.*)"
  target_label: short
  replacement: "$1-$2"`,
		"keep":      `[{source_labels: [region], regex: "UK|US", action: keep}]`,
		"drop":      `[{source_labels: [region], regex: "UK", action: drop}]`,
		"keepequal": `[{source_labels: [region], target_label: home, action: keepequal}]`,
		"dropequal": `[{source_labels: [region], target_label: home, action: dropequal}]`,
		"hashmod":   `[{source_labels: [vehicle_id], modulus: 8, target_label: shard, action: hashmod}]`,
		"labelmap":  `[{regex: "meta_(.*)", replacement: "m_$1", action: labelmap}]`,
		"labeldrop": `[{regex: "meta_.*|engine", action: labeldrop}]`,
		"labelkeep": `[{regex: "__name__|region", action: labelkeep}]`,
		"lowercase": `[{source_labels: [region], target_label: region_lc, action: lowercase}]`,
		"uppercase": `[{source_labels: [engine], target_label: engine, action: uppercase}]`,
		"chain": `
- {source_labels: [__name__], regex: "vehicle_(.*)", target_label: __name__, replacement: "car_$1"}
- {regex: "meta_.*", action: labeldrop}
- {source_labels: [engine], regex: "", action: drop}`,
		"empty-value-removes": `[{target_label: engine, replacement: ""}]`,
	}
	inputs := [][]batch.Label{
		lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "home", "UK", "engine", "ic", "meta_x", "1"),
		lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000099999", "region", "US", "home", "UK"),
		lbls("__name__", "vehicle_warnings", "vehicle_id", "V0000000001", "region", "Japan", "engine", "electric"),
	}
	for name, y := range cases {
		var cfgs []*relabel.Config
		if err := yaml.Unmarshal([]byte(y), &cfgs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, err := CompileRelabel(cfgs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, in := range inputs {
			pl := labels.NewScratchBuilder(len(in))
			for _, l := range in {
				pl.Add(l.Name, l.Value)
			}
			ref := labels.NewBuilder(pl.Labels())
			wantKeep := relabel.ProcessBuilder(ref, cfgs...)
			want := ref.Labels()
			got, gotKeep := r.Apply(in, nil)
			if gotKeep != wantKeep {
				t.Errorf("%s %s: keep = %v, want %v", name, batch.String(in), gotKeep, wantKeep)
				continue
			}
			if !gotKeep {
				continue
			}
			var wantLs []batch.Label
			want.Range(func(l labels.Label) { wantLs = append(wantLs, batch.Label{Name: l.Name, Value: l.Value}) })
			if batch.String(got) != batch.String(wantLs) || len(got) != len(wantLs) {
				t.Errorf("%s: got %s, want %s", name, batch.String(got), batch.String(wantLs))
			}
		}
	}
}

func TestRelabelValidateNamesEntry(t *testing.T) {
	var cfgs []*relabel.Config
	if err := yaml.Unmarshal([]byte(`[{action: keep, regex: a}, {action: hashmod, target_label: x}]`), &cfgs); err != nil {
		t.Fatal(err)
	}
	_, err := CompileRelabel(cfgs)
	if err == nil || !strings.Contains(err.Error(), "[1]: relabel configuration for hashmod requires non-zero modulus") {
		t.Fatalf("error = %v", err)
	}
}

func TestNilRelabelerKeepsSeries(t *testing.T) {
	r, err := CompileRelabel(nil)
	if err != nil || r != nil {
		t.Fatalf("CompileRelabel(nil) = %v, %v", r, err)
	}
	in := lbls("__name__", "a")
	out, keep := r.Apply(in, nil)
	if !keep || &out[0] != &in[0] {
		t.Fatalf("nil relabeler changed the series")
	}
}

func BenchmarkRelabel(b *testing.B) {
	var cfgs []*relabel.Config
	if err := yaml.Unmarshal([]byte(`[{regex: "meta_.*", action: labeldrop}, {source_labels: [region], regex: "UK|US|Japan", action: keep}]`), &cfgs); err != nil {
		b.Fatal(err)
	}
	r, err := CompileRelabel(cfgs)
	if err != nil {
		b.Fatal(err)
	}
	in := lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic", "meta_x", "1")
	dst := make([]batch.Label, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = r.Apply(in, dst)
	}
}

func BenchmarkSelector(b *testing.B) {
	s, err := CompileSelector(`vehicle_rpm{region=~"UK|US"} != 0`)
	if err != nil {
		b.Fatal(err)
	}
	in := lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic")
	b.ReportAllocs()
	for b.Loop() {
		if !s.Matches(in) || !s.Keep(1) {
			b.Fatal("no match")
		}
	}
}
