package rules

import (
	"fmt"
	"github.com/prometheus/common/model"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

// prometheusRelabel is the reference: Prometheus' own relabeling of a
// sorted label set (relabel.Process builds the same Builder over base
// labels). Empty values are absent, as in Prometheus.
func prometheusRelabel(in []batch.Label, cfgs []*relabel.Config) ([]batch.Label, bool) {
	sb := labels.NewScratchBuilder(len(in))
	for _, l := range in {
		if l.Value != "" {
			sb.Add(l.Name, l.Value)
		}
	}
	sb.Sort()
	lb := labels.NewBuilder(sb.Labels())
	if !relabel.ProcessBuilder(lb, cfgs...) {
		return nil, false
	}
	var out []batch.Label
	lb.Labels().Range(func(l labels.Label) { out = append(out, batch.Label{Name: l.Name, Value: l.Value}) })
	return out, true
}

// checkSame runs in through Apply and ApplyInPlace (twice each, so memoised
// results are checked too) and compares with Prometheus.
func checkSame(t *testing.T, name string, r *Relabeler, cfgs []*relabel.Config, in []batch.Label) {
	t.Helper()
	want, wantKeep := prometheusRelabel(in, cfgs)
	orig := slices.Clone(in)
	for pass := range 2 {
		got, keep := r.Apply(in, nil)
		if !slices.Equal(in, orig) {
			t.Fatalf("%s: Apply modified its input: %v, was %v", name, in, orig)
		}
		if keep != wantKeep || keep && !slices.Equal(got, want) {
			t.Fatalf("%s: pass %d: Apply(%v) = %v, %v; Prometheus: %v, %v", name, pass, in, got, keep, want, wantKeep)
		}
		// In place over a slice without spare capacity, like a batch's.
		ls := slices.Clip(slices.Clone(in))
		got, inBuf, keep := r.ApplyInPlace(ls, make([]batch.Label, 0, pass))
		if keep != wantKeep || keep && !slices.Equal(got, want) {
			t.Fatalf("%s: pass %d: ApplyInPlace(%v) = %v, %v; Prometheus: %v, %v", name, pass, in, got, keep, want, wantKeep)
		}
		if keep && !inBuf && len(got) > 0 && &got[0] != &ls[0] {
			t.Fatalf("%s: ApplyInPlace result neither in place nor in buf", name)
		}
	}
}

func parseRelabel(t testing.TB, y string) []*relabel.Config {
	t.Helper()
	var cfgs []*relabel.Config
	if err := yaml.Unmarshal([]byte(y), &cfgs); err != nil {
		t.Fatal(err)
	}
	return cfgs
}

// TestRelabelMatchesPrometheus runs every action, and the fast paths the
// compiled steps take, through Apply and through Prometheus.
func TestRelabelMatchesPrometheus(t *testing.T) {
	cases := map[string]string{
		"replace": `
- source_labels: [vehicle_id, region]
  separator: ";"
  regex: "V(\\d{3}).*;(.*)"
  target_label: short
  replacement: "$1-$2"`,
		"replace-copy":           `[{source_labels: [region], target_label: home}]`,
		"replace-copy-nonempty":  `[{source_labels: [missing], regex: "(.+)", target_label: region}]`,
		"replace-copy-empty":     `[{source_labels: [missing], target_label: region}]`,
		"replace-copy-joined":    `[{source_labels: [region, engine], separator: "/", target_label: both}]`,
		"replace-literal":        `[{source_labels: [region], regex: "UK|US", target_label: continent, replacement: "west"}]`,
		"replace-literal-delete": `[{source_labels: [region], regex: "UK", target_label: engine, replacement: ""}]`,
		"replace-no-source":      `[{target_label: added, replacement: "x"}]`,
		"replace-target-tmpl":    `[{source_labels: [region], regex: "(.*)", target_label: "home_${1}", replacement: "yes"}]`,
		"replace-invalid-target": `[{source_labels: [missing], regex: "(.*)", target_label: "${1}", replacement: "yes"}]`,
		"replace-name":           `[{source_labels: [__name__], regex: "vehicle_(.*)", target_label: __name__, replacement: "car_$1"}]`,
		"keep":                   `[{source_labels: [region], regex: "UK|US", action: keep}]`,
		"keep-joined":            `[{source_labels: [region, engine], regex: "UK;.*", action: keep}]`,
		"keep-prefix":            `[{source_labels: [__name__], regex: "vehicle_.*", action: keep}]`,
		"drop":                   `[{source_labels: [region], regex: "UK", action: drop}]`,
		"drop-missing":           `[{source_labels: [missing], regex: "", action: drop}]`,
		"keepequal":              `[{source_labels: [region], target_label: home, action: keepequal}]`,
		"dropequal":              `[{source_labels: [region], target_label: home, action: dropequal}]`,
		"hashmod":                `[{source_labels: [vehicle_id], modulus: 8, target_label: shard, action: hashmod}]`,
		"hashmod-large":          `[{source_labels: [vehicle_id, region], modulus: 1000000007, target_label: shard, action: hashmod}]`,
		"labelmap":               `[{regex: "meta_(.*)", replacement: "m_$1", action: labelmap}]`,
		"labelmap-collide":       `[{regex: "(home|region)", replacement: "place", action: labelmap}]`,
		"labelmap-after-set": `
- {source_labels: [home], target_label: region, replacement: "$1"}
- {regex: "(home|region)", replacement: "place", action: labelmap}`,
		"labelmap-twice": `
- {regex: "(.*)_x", replacement: "${1}", action: labelmap}
- {regex: "(.*)", replacement: "z_${1}", action: labelmap}`,
		"labeldrop":    `[{regex: "meta_.*|engine", action: labeldrop}]`,
		"labelkeep":    `[{regex: "__name__|region", action: labelkeep}]`,
		"lowercase":    `[{source_labels: [region], target_label: region_lc, action: lowercase}]`,
		"lower-joined": `[{source_labels: [region, engine], target_label: j, action: lowercase}]`,
		"uppercase":    `[{source_labels: [engine], target_label: engine, action: uppercase}]`,
		"chain": `
- {source_labels: [__name__], regex: "vehicle_(.*)", target_label: __name__, replacement: "car_$1"}
- {regex: "meta_.*", action: labeldrop}
- {source_labels: [engine], regex: "", action: drop}`,
		"empty-value-removes": `[{target_label: engine, replacement: ""}]`,
	}
	inputs := [][]batch.Label{
		lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "home", "UK", "engine", "ic", "meta_x", "1"),
		lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000099999", "region", "US", "home", "UK"),
		lbls("__name__", "vehicle_warnings", "vehicle_id", "V0000000001", "region", "Japan", "engine", "electric", "a_x", "1", "a", "2"),
		lbls("__name__", "vehicle_rpm", "region", "", "engine", "ic"),
		lbls("region", "UK"),
	}
	for name, y := range cases {
		cfgs := parseRelabel(t, y)
		r, err := CompileRelabel(cfgs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, in := range inputs {
			checkSame(t, name, r, cfgs, in)
		}
	}
}

// TestRelabelRandomChains compares random chains of every action with
// random parameters against Prometheus.
func TestRelabelRandomChains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"__name__", "a", "b", "region", "meta_x", "meta_y", "x_meta", "Zone", "c"}
	values := []string{"UK", "us", "Japan", "v1", "a;b", "é", "", "meta_x", "vehicle_rpm", "x", "\xff", "\ufffd"}
	regexes := []string{"(.*)", "(.+)", `\x{FFFD}|UK`, "UK|US", "u.*", ".*a.*", "(meta)_(.*)", "([a-z]+)", "", "(?i)uk", "v(\\d)", "(.*)_(.*)", "meta_.*|a", "[a-z]"}
	targets := []string{"a", "region", "new", "${1}", "$1_x", "x_${2}", "__name__"}
	repls := []string{"$1", "${1}", "", "lit", "$2-$1", "${1}x", "m_$1"}
	seps := []string{";", "", "-"}
	actions := []relabel.Action{relabel.Replace, relabel.Keep, relabel.Drop, relabel.KeepEqual, relabel.DropEqual,
		relabel.HashMod, relabel.LabelMap, relabel.LabelDrop, relabel.LabelKeep, relabel.Lowercase, relabel.Uppercase}
	pick := func(ss []string) string { return ss[rng.IntN(len(ss))] }

	inputs := make([][]batch.Label, 40)
	for i := range inputs {
		var in []batch.Label
		for _, n := range names {
			if rng.IntN(3) > 0 {
				in = append(in, batch.Label{Name: n, Value: pick(values)})
			}
		}
		inputs[i] = in
	}
	chains, want := 0, 3000
	if race.Enabled || testing.Short() {
		want = 300
	}
	for chains < want {
		var cfgs []*relabel.Config
		for range 1 + rng.IntN(4) {
			c := relabel.DefaultRelabelConfig
			c.Action = actions[rng.IntN(len(actions))]
			switch c.Action {
			case relabel.LabelDrop, relabel.LabelKeep:
				c.Regex = relabel.MustNewRegexp(pick(regexes))
			case relabel.LabelMap:
				c.Regex = relabel.MustNewRegexp(pick(regexes))
				c.Replacement = pick(repls)
			default:
				for range rng.IntN(3) {
					c.SourceLabels = append(c.SourceLabels, labelName(pick(names)))
				}
				c.Separator = pick(seps)
				c.TargetLabel = pick(targets)
				switch c.Action {
				case relabel.KeepEqual, relabel.DropEqual, relabel.Lowercase, relabel.Uppercase:
				case relabel.HashMod:
					c.Modulus = []uint64{1, 3, 5000}[rng.IntN(3)]
				default:
					c.Regex = relabel.MustNewRegexp(pick(regexes))
					c.Replacement = pick(repls)
				}
			}
			cfgs = append(cfgs, &c)
		}
		r, err := CompileRelabel(cfgs)
		if err != nil {
			continue // an invalid combination; Prometheus rejects it too
		}
		chains++
		for _, in := range inputs {
			checkSame(t, fmt.Sprintf("chain %d %s", chains, describe(cfgs)), r, cfgs, batch.Clone(sorted(in)))
		}
	}
}

func sorted(ls []batch.Label) []batch.Label {
	ls = slices.Clone(ls)
	batch.SortLabels(ls)
	return ls
}

func describe(cfgs []*relabel.Config) string {
	b, _ := yaml.Marshal(cfgs)
	return strings.ReplaceAll(string(b), "\n", " ")
}

func TestRelabelValidateNamesEntry(t *testing.T) {
	cfgs := parseRelabel(t, `[{action: keep, regex: a}, {action: hashmod, target_label: x}]`)
	_, err := CompileRelabel(cfgs)
	if err == nil || !strings.Contains(err.Error(), "[1]: relabel configuration for hashmod requires non-zero modulus") {
		t.Fatalf("error = %v", err)
	}
}

func TestRelabelRejectsMissingRegex(t *testing.T) {
	c := relabel.DefaultRelabelConfig
	c.Action = relabel.Keep
	c.Regex = relabel.Regexp{}
	c.SourceLabels = []labelName{"a"}
	_, err := CompileRelabel([]*relabel.Config{&c})
	if err == nil || !strings.Contains(err.Error(), "[0]: regex: missing") {
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
	out, inBuf, keep := r.ApplyInPlace(in, nil)
	if !keep || inBuf || &out[0] != &in[0] {
		t.Fatalf("nil relabeler changed the series in place")
	}
}

// TestApplyInPlace: removals stay in the input slice, additions beyond its
// capacity move to buf.
func TestApplyInPlace(t *testing.T) {
	drop := mustRelabel(t, `[{regex: "meta_.*", action: labeldrop}, {source_labels: [region], regex: "UK|US", action: keep}]`)
	in := slices.Clip(lbls("__name__", "rpm", "meta_x", "1", "region", "UK"))
	out, inBuf, keep := drop.ApplyInPlace(in, nil)
	if !keep || inBuf || &out[0] != &in[0] || batch.String(out) != `rpm{region="UK"}` {
		t.Fatalf("labeldrop in place: %v inBuf=%v keep=%v", out, inBuf, keep)
	}
	add := mustRelabel(t, `[{source_labels: [region], target_label: home}]`)
	in = slices.Clip(lbls("__name__", "rpm", "region", "UK"))
	buf := make([]batch.Label, 0, 8)
	out, inBuf, keep = add.ApplyInPlace(in, buf)
	if !keep || !inBuf || &out[0] != &buf[:1][0] || batch.String(out) != `rpm{home="UK", region="UK"}` {
		t.Fatalf("replace: %v inBuf=%v keep=%v", out, inBuf, keep)
	}
	// With spare capacity the label is inserted in place.
	in = append(make([]batch.Label, 0, 4), lbls("__name__", "rpm", "region", "UK")...)
	out, inBuf, _ = add.ApplyInPlace(in, nil)
	if inBuf || &out[0] != &in[0] || len(out) != 3 {
		t.Fatalf("replace with room: %v inBuf=%v", out, inBuf)
	}
}

func mustRelabel(t testing.TB, y string) *Relabeler {
	t.Helper()
	r, err := CompileRelabel(parseRelabel(t, y))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// relabelAllocCases are the actions whose steady state is allocation-free.
var relabelAllocCases = []struct{ name, cfg string }{
	{"labeldrop", `[{regex: "meta_.*|engine", action: labeldrop}]`},
	{"labelkeep", `[{regex: "__name__|region|vehicle_id", action: labelkeep}]`},
	{"keep", `[{source_labels: [region], regex: "UK|US|Japan", action: keep}]`},
	{"drop", `[{source_labels: [__name__], regex: "debug_.*", action: drop}]`},
	{"keep-joined", `[{source_labels: [region, engine], regex: "UK;.*", action: keep}]`},
	{"replace-copy", `[{source_labels: [region], target_label: home}]`},
	{"replace-literal", `[{source_labels: [region], regex: "UK|US", target_label: west, replacement: "yes"}]`},
	{"replace-template", `[{source_labels: [__name__], regex: "vehicle_(.*)", target_label: __name__, replacement: "car_$1"}]`},
	{"keepequal", `[{source_labels: [region], target_label: region, action: keepequal}]`},
	{"hashmod", `[{source_labels: [vehicle_id], modulus: 16, target_label: shard, action: hashmod}]`},
	{"labelmap", `[{regex: "meta_(.*)", replacement: "m_$1", action: labelmap}]`},
	{"lowercase", `[{source_labels: [engine], target_label: engine_lc, action: lowercase}]`},
}

func TestRelabelDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	in := lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic", "meta_x", "1")
	for _, c := range relabelAllocCases {
		r := mustRelabel(t, c.cfg)
		dst := make([]batch.Label, 0, 16)
		dst, _ = r.Apply(in, dst) // memoise
		if n := testing.AllocsPerRun(100, func() { dst, _ = r.Apply(in, dst) }); n != 0 {
			t.Errorf("%s: Apply: %v allocs per run", c.name, n)
		}
		ls := make([]batch.Label, len(in))
		buf := make([]batch.Label, 0, 16)
		if n := testing.AllocsPerRun(100, func() {
			copy(ls, in)
			_, _, _ = r.ApplyInPlace(ls, buf)
		}); n != 0 {
			t.Errorf("%s: ApplyInPlace: %v allocs per run", c.name, n)
		}
	}
}

func BenchmarkRelabel(b *testing.B) {
	r := mustRelabel(b, `[{regex: "meta_.*", action: labeldrop}, {source_labels: [region], regex: "UK|US|Japan", action: keep}]`)
	in := lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic", "meta_x", "1")
	dst := make([]batch.Label, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = r.Apply(in, dst)
	}
}

// BenchmarkRelabelActions measures one step of each common action, per
// series of 6 labels, through Apply.
func BenchmarkRelabelActions(b *testing.B) {
	in := lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic", "meta_x", "1")
	for _, c := range relabelAllocCases {
		b.Run(c.name, func(b *testing.B) {
			r := mustRelabel(b, c.cfg)
			dst := make([]batch.Label, 0, 16)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = r.Apply(in, dst)
			}
		})
	}
}

// BenchmarkRelabelPrometheus is the same work through Prometheus'
// labels.Builder, for comparison.
func BenchmarkRelabelPrometheus(b *testing.B) {
	in := lbls("__name__", "vehicle_rpm", "vehicle_id", "V0000012345", "region", "UK", "engine", "ic", "meta_x", "1")
	for _, c := range relabelAllocCases {
		b.Run(c.name, func(b *testing.B) {
			cfgs := parseRelabel(b, c.cfg)
			if err := ValidateRelabel(cfgs); err != nil {
				b.Fatal(err)
			}
			lb := labels.NewBuilder(labels.EmptyLabels())
			b.ReportAllocs()
			for b.Loop() {
				lb.Reset(labels.EmptyLabels())
				for _, l := range in {
					lb.Set(l.Name, l.Value)
				}
				relabel.ProcessBuilder(lb, cfgs...)
				lb.Range(func(labels.Label) {})
			}
		})
	}
}

type labelName = model.LabelName

// BenchmarkApplyInPlace is the global relabel of the pipeline benchmark:
// labeldrop of a label every series has, keep by metric name.
func BenchmarkApplyInPlace(b *testing.B) {
	r := mustRelabel(b, `[{regex: "build_.*", action: labeldrop}, {source_labels: [__name__], regex: "app_.*|node_.*", action: keep}]`)
	in := lbls("__name__", "app_latency_seconds", "build_id", "b000123", "env", "prod", "host", "host-000123",
		"region", "region-03", "service", "svc-23", "zone", "region-03a")
	ls := make([]batch.Label, len(in))
	b.ReportAllocs()
	for b.Loop() {
		copy(ls, in)
		_, _, _ = r.ApplyInPlace(ls, nil)
	}
}
