package jsonevent

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestValidateMessages(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"valid vehicles", vehiclesYAML, nil},
		{"valid hosts", hostsYAML, nil},
		{"empty name", "metrics: [{name: m, value: v}]", []string{"name: must not be empty"}},
		{"bad name", "name: a/b\nmetrics: [{name: m, value: v}]", []string{`name: must match [a-zA-Z0-9_-]+, got "a/b"`}},
		{"no metrics", "name: a", []string{"metrics: at least one metric is required"}},
		{"timestamp without field", "name: a\ntimestamp: {unit: s}\nmetrics: [{name: m, value: v}]",
			[]string{"timestamp.field: field path must not be empty"}},
		{"timestamp bad path", "name: a\ntimestamp: {field: a..b}\nmetrics: [{name: m, value: v}]",
			[]string{`timestamp.field: invalid field path "a..b": empty segment (write a.b.c)`}},
		{"timestamp bad unit", "name: a\ntimestamp: {field: t, unit: sec}\nmetrics: [{name: m, value: v}]",
			[]string{`timestamp.unit: unknown unit "sec": want s, ms, us, ns or rfc3339`}},
		{"label name invalid", "name: a\nlabels: {1a: x, ok: y}\nmetrics: [{name: m, value: v}]",
			[]string{`labels: invalid label name "1a": want [a-zA-Z_][a-zA-Z0-9_]*`}},
		{"label name reserved", "name: a\nlabels: {__name__: x}\nmetrics: [{name: m, value: v}]",
			[]string{`labels: label name "__name__" is reserved: names starting with __ are internal`}},
		{"label path empty", "name: a\nlabels: {region: ''}\nmetrics: [{name: m, value: v}]",
			[]string{`labels: label "region": field path must not be empty`}},
		{"label path bad", "name: a\nlabels: {region: .region}\nmetrics: [{name: m, value: v}]",
			[]string{`labels: label "region": invalid field path ".region": empty segment (write a.b.c)`}},
		{"const label empty", "name: a\nconst_labels: {source: ''}\nmetrics: [{name: m, value: v}]",
			[]string{`const_labels: label "source": value must not be empty (an empty value is no label)`}},
		{"const label twice", "name: a\nlabels: {region: r}\nconst_labels: {region: UK}\nmetrics: [{name: m, value: v}]",
			[]string{`const_labels: label "region" is also set by labels`}},
		{"metric without name or value", "name: a\nmetrics: [{}]",
			[]string{"metrics[0].name: must not be empty", "metrics[0].value: field path must not be empty"}},
		{"metric name invalid", "name: a\nmetrics: [{name: m, value: v}, {name: vehicle-rpm, value: v}]",
			[]string{`metrics[1].name: invalid metric name "vehicle-rpm": want [a-zA-Z_:][a-zA-Z0-9_:]*`}},
		{"metric value path", "name: a\nmetrics: [{name: m, value: 'a.'}]",
			[]string{`metrics[0].value: invalid field path "a.": empty segment (write a.b.c)`}},
		{"metric label twice", "name: a\nlabels: {region: r}\nmetrics: [{name: m, value: v, labels: {region: UK}}]",
			[]string{`metrics[0].labels: label "region" is also set by labels`}},
		{"metric label set by const_labels", "name: a\nconst_labels: {src: x}\nmetrics: [{name: m, value: v, labels_from: {src: s}}]",
			[]string{`metrics[0].labels_from: label "src" is also set by const_labels`}},
		{"labels_from twice", "name: a\nmetrics: [{name: m, value: v, labels: {kind: k}, labels_from: {kind: k}}]",
			[]string{`metrics[0].labels_from: label "kind" is also set by metrics[0].labels`}},
		{"metric labels are per metric", "name: a\nmetrics: [{name: m, value: v, labels: {kind: a}}, {name: n, value: v, labels: {kind: b}}]", nil},
		{"metric label empty", "name: a\nmetrics: [{name: m, value: v, labels: {kind: ''}}]",
			[]string{`metrics[0].labels: label "kind": value must not be empty (an empty value is no label)`}},
		{"metric label reserved", "name: a\nmetrics: [{name: m, value: v, labels: {__x: y}}]",
			[]string{`metrics[0].labels: label name "__x" is reserved: names starting with __ are internal`}},
		{"labels_from bad path", "name: a\nmetrics: [{name: m, value: v, labels_from: {x: 'a..b'}}]",
			[]string{`metrics[0].labels_from: label "x": invalid field path "a..b": empty segment (write a.b.c)`}},
		{"when bad path", "name: a\nmetrics: [{name: m, value: v, when: {'a..b': x}}]",
			[]string{`metrics[0].when: field "a..b": invalid field path "a..b": empty segment (write a.b.c)`}},
		{"when null", "name: a\nmetrics: [{name: m, value: v, when: {kind: null}}]",
			[]string{`metrics[0].when: field "kind": no value to match (null or an empty list)`}},
		{"when empty list", "name: a\nmetrics: [{name: m, value: v, when: {kind: []}}]",
			[]string{`metrics[0].when: field "kind": no value to match (null or an empty list)`}},
		{"when null in a list", "name: a\nmetrics: [{name: m, value: v, when: {kind: [a, null]}}]",
			[]string{`metrics[0].when: field "kind": want a string, number or bool, got null`}},
		{"when mapping", "name: a\nmetrics: [{name: m, value: v, when: {kind: {a: b}}}]",
			[]string{`metrics[0].when: field "kind": want a string, number or bool (or a list of them), got a mapping`}},
		{"when nested list", "name: a\nmetrics: [{name: m, value: v, when: {kind: [[a]]}}]",
			[]string{`metrics[0].when: field "kind": want a string, number or bool (or a list of them), got a list`}},
		{"when NaN", "name: a\nmetrics: [{name: m, value: v, when: {level: .nan}}]",
			[]string{`metrics[0].when: field "level": number must be finite, got NaN`}},
		{"when infinite", "name: a\nmetrics: [{name: m, value: v, when: {level: -.inf}}]",
			[]string{`metrics[0].when: field "level": number must be finite, got -Inf`}},
		{"same series twice", "name: a\nmetrics: [{name: m, value: v}, {name: m, value: w}]",
			[]string{"metrics[1]: yields the same series as metrics[0] for an event both match (same name and labels, and their when can hold together): add a label or make the when exclusive"}},
		{"same series when one when is wider", "name: a\nmetrics:\n- {name: m, value: v, when: {k: [a, b]}}\n- {name: n, value: v}\n- {name: m, value: w, when: {k: b, j: 1}}",
			[]string{"metrics[2]: yields the same series as metrics[0] for an event both match (same name and labels, and their when can hold together): add a label or make the when exclusive"}},
		{"same series told apart by when", "name: a\nmetrics:\n- {name: m, value: v, when: {k: [a, 1]}}\n- {name: m, value: w, when: {k: [b, '1', true]}}", nil},
		{"same name told apart by a label", "name: a\nmetrics:\n- {name: m, value: v, labels: {e: a}}\n- {name: m, value: v, labels: {e: b}}", nil},
		{"same name told apart by labels_from", "name: a\nmetrics:\n- {name: m, value: v, labels_from: {e: a}}\n- {name: m, value: v}", nil},
		{"every problem at once", "name: ''\ntimestamp: {field: '', unit: h}\nmetrics: [{name: '1', value: ''}]", []string{
			"name: must not be empty",
			"timestamp.field: field path must not be empty",
			`timestamp.unit: unknown unit "h": want s, ms, us, ns or rfc3339`,
			`metrics[0].name: invalid metric name "1": want [a-zA-Z_:][a-zA-Z0-9_:]*`,
			"metrics[0].value: field path must not be empty",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseConfig(t, tc.yaml)
			err := c.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			diff(t, "errors", got, tc.want)
		})
	}
}

func TestValidateGoValues(t *testing.T) {
	c := Config{Name: "a", Metrics: []Metric{{Name: "m", Value: "v", When: map[string]Match{
		"a": {int8(1), uint64(2), float32(3), "x", true},
		"b": {[]string{"x"}},
		"c": {struct{}{}},
	}}}}
	err := c.Validate()
	want := `metrics[0].when: field "b": want a string, number or bool, got []string` + "\n" +
		`metrics[0].when: field "c": want a string, number or bool, got struct {}`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestValidateDefaultsUnit(t *testing.T) {
	c := parseConfig(t, "name: a\ntimestamp: {field: t}\nmetrics: [{name: m, value: v}]")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Timestamp.Unit != "ms" {
		t.Errorf("unit = %q, want ms", c.Timestamp.Unit)
	}
}

func TestValidateAll(t *testing.T) {
	cs := []Config{
		parseConfig(t, vehiclesYAML),
		parseConfig(t, "name: vehicles\nmetrics: [{name: m, value: ''}]"),
		parseConfig(t, hostsYAML),
		parseConfig(t, "name: hosts\nmetrics: [{name: m, value: v}]"),
	}
	err := ValidateAll(cs)
	want := "[1].metrics[0].value: field path must not be empty\n" +
		`[1].name: duplicate input name "vehicles" (also [0])` + "\n" +
		`[3].name: duplicate input name "hosts" (also [2])`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if err := ValidateAll(cs[:1]); err != nil {
		t.Errorf("valid list: %v", err)
	}
}

func TestStrictYAML(t *testing.T) {
	for _, text := range []string{
		"name: a\nmetrics: [{name: m, value: v, labelz: {a: b}}]",
		"name: a\ntimestamp: {field: t, units: s}\nmetrics: [{name: m, value: v}]",
		"name: a\nmetric: []",
	} {
		var c Config
		dec := yaml.NewDecoder(strings.NewReader(text))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err == nil || !strings.Contains(err.Error(), "not found in type") {
			t.Errorf("%q: err = %v, want an unknown-field error", text, err)
		}
	}
}

func TestMatchYAML(t *testing.T) {
	c := parseConfig(t, `
name: a
metrics:
  - name: m
    value: v
    when:
      s: IC_RPM
      quoted: "42"
      i: 42
      f: 1.5
      b: true
      date: 2024-11-03
      list: [a, 1, false]
      alias: &x [p, q]
      again: *x
`)
	want := map[string]Match{
		"s": {"IC_RPM"}, "quoted": {"42"}, "i": {42}, "f": {1.5}, "b": {true}, "date": {"2024-11-03"},
		"list": {"a", 1, false}, "alias": {"p", "q"}, "again": {"p", "q"},
	}
	if got := c.Metrics[0].When; !reflect.DeepEqual(got, want) {
		t.Errorf("when = %#v\nwant %#v", got, want)
	}
}

func TestCompile(t *testing.T) {
	c := parseConfig(t, "name: a\ntimestamp: {field: t}\nmetrics: [{name: m, value: v}]")
	m, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "a" {
		t.Errorf("Name = %q", m.Name())
	}
	if c.Timestamp.Unit != "" {
		t.Errorf("Compile changed the caller's config: unit %q", c.Timestamp.Unit)
	}
	_, err = Compile(parseConfig(t, "name: a\nmetrics: [{name: m, value: ''}, {name: '', value: v}]"))
	want := `cannot compile JSON input "a": metrics[0].value: field path must not be empty` + "\n" + "metrics[1].name: must not be empty"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestCompileScalarNumbers(t *testing.T) {
	for _, v := range []any{int(3), int16(3), int32(3), int64(3), uint(3), uint8(3), uint16(3), uint32(3), float64(3)} {
		sc, msg := compileScalar(v)
		if msg != "" || sc.kind != scalarNumber || sc.num != 3 {
			t.Errorf("%T: %+v %q", v, sc, msg)
		}
	}
	if _, msg := compileScalar(math.Inf(1)); msg != "number must be finite, got +Inf" {
		t.Errorf("msg %q", msg)
	}
}
