package alerting

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// parse decodes an alerting section.
func parse(t *testing.T, y string) Config {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(y)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return c
}

func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "valid",
			yaml: `groups:
  - name: a
    interval: 30s
    limit: 10
    rules:
      - alert: High
        expr: sum by (x) (rate(m[5m])) > 1
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page, team: '{{ $labels.x }}'}
        annotations: {summary: '{{ $labels.x }} is {{ $value | humanize }}'}
      - record: job:m:rate5m
        expr: sum by (job) (rate(m[5m]))
        labels: {source: rules}
      - record: one
        expr: "1"
  - name: empty
    rules: []
`,
		},
		{
			name: "group names",
			yaml: `groups:
  - name: ""
    rules: []
  - name: a
    rules: []
  - name: a
    limit: -1
    rules: []
`,
			want: []string{
				`groups[0].name: must not be empty`,
				`groups[2].name: duplicate group name "a" (also groups[1]): Prometheus rejects a rule file that repeats a group name`,
				`groups[2].limit: must be >= 0, got -1`,
			},
		},
		{
			name: "kind of rule",
			yaml: `groups:
  - name: a
    rules:
      - {alert: A, record: b, expr: m}
      - {expr: m}
`,
			want: []string{
				`groups[0].rules[0]: set one of alert and record, not both: a rule is an alerting rule (alert) or a recording rule (record)`,
				`groups[0].rules[1]: set one of alert (an alerting rule) or record (a recording rule)`,
			},
		},
		{
			name: "names",
			yaml: `groups:
  - name: a
    rules:
      - {record: 'bad-name', expr: m}
      - {record: 'x{y="1"}', expr: m}
      - {alert: A, expr: m, labels: {Bad-Label: x, __name__: y}}
`,
			want: []string{
				`groups[0].rules[0].record: invalid recording rule name: bad-name`,
				`groups[0].rules[1].record: invalid recording rule name: x{y="1"}`,
				`groups[0].rules[1].record: braces present in the recording rule name; should it be in expr?: x{y="1"}`,
				`groups[0].rules[2].labels: invalid label name: Bad-Label`,
				`groups[0].rules[2].labels.__name__: invalid label name: __name__`,
			},
		},
		{
			name: "expressions",
			yaml: `groups:
  - name: a
    rules:
      - {alert: A, expr: ""}
      - {alert: B, expr: 'sum(m'}
      - {alert: C, expr: 'm[5m]'}
      - {record: d, expr: '"text"'}
`,
			want: []string{
				`groups[0].rules[0].expr: must not be empty`,
				`groups[0].rules[1].expr: could not parse expression: 1:6: parse error: unclosed left parenthesis`,
				`groups[0].rules[2].expr: must return an instant vector or a scalar, got a range vector`,
				`groups[0].rules[3].expr: must return an instant vector or a scalar, got a string`,
			},
		},
		{
			name: "recording rule fields",
			yaml: `groups:
  - name: a
    rules:
      - record: r
        expr: m
        for: 5m
        keep_firing_for: 1m
        annotations: {summary: x}
`,
			want: []string{
				`groups[0].rules[0].for: invalid field 'for' in recording rule`,
				`groups[0].rules[0].keep_firing_for: invalid field 'keep_firing_for' in recording rule`,
				`groups[0].rules[0].annotations: invalid field 'annotations' in recording rule`,
			},
		},
		{
			name: "templates",
			yaml: `groups:
  - name: a
    rules:
      - alert: A
        expr: m > 1
        labels: {severity: '{{ $labels.x'}
        annotations: {summary: '{{ .Nope }', description: '{{ $value | nosuchfunc }}'}
`,
			want: []string{
				`groups[0].rules[0].labels.severity: label "severity": template: __alert_A:1: unclosed action`,
				`groups[0].rules[0].annotations.description: annotation "description": template: __alert_A:1: function "nosuchfunc" not defined`,
				`groups[0].rules[0].annotations.summary: annotation "summary": template: __alert_A:1: unexpected "}" in operand`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, tc.yaml)
			if got := errLines(c.Validate()); !slices.Equal(got, tc.want) {
				t.Errorf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
