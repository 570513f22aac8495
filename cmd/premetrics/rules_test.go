package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/alerting"
	"github.com/premetrics/premetrics/internal/testenv"
)

// rulesConfig is a pipeline with alerting rules that are all valid.
const rulesConfig = `enrich:
  - name: cpu_thresholds
    source: {file: thresholds.csv}
    key: [hostname]
    series: [{column: allowed_top, name: cpu_threshold}]
aggregations:
  - name: vehicles_in_motion
    match: 'vehicle_rpm != 0'
    interval: 5s
    by: [model, region]
    outputs: [count_series]
    lateness: 10s
  - name: host_cpu
    match: cpu_usage
    interval: 30s
    by: [hostname, cpu]
    outputs: [avg, max]
derive:
  - record: cpu_usage:30s_by_cpu_hostname_spread
    expr: cpu_usage:30s_by_cpu_hostname_max - cpu_usage:30s_by_cpu_hostname_avg
remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
    name: prom
    queue_config: {capacity: 5000, max_shards: 2}
alerting:
  groups:
    - name: vehicles
      rules:
        - record: region:vehicles_in_motion:sum
          expr: sum by (region) (vehicle_rpm:5s_by_model_region_count_series)
        - alert: RegionStalled
          expr: region:vehicles_in_motion:sum{region="eu"} == 0
          for: 1m
          labels: {severity: warning}
          annotations: {summary: 'no vehicle moves in {{ $labels.region }}'}
    - name: hosts
      rules:
        - alert: HostCPUAboveThreshold
          expr: |
            max by (hostname) (cpu_usage:30s_by_cpu_hostname_avg)
              > on (hostname) cpu_threshold
          labels: {severity: page}
        - alert: HostCPUSpread
          expr: cpu_usage:30s_by_cpu_hostname_spread > 50
        - alert: Dropping
          expr: rate(premetrics_dropped_samples_total[5m]) > 0
`

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = dispatch(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// promtoolCheckRules fails the test unless promtool accepts rules.
func promtoolCheckRules(t *testing.T, rules string) {
	t.Helper()
	promtool := testenv.RequireBinary(t, "promtool")
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s\nrules:\n%s", err, out, rules)
	}
}

func decodeRules(t *testing.T, rules string) alerting.Config {
	t.Helper()
	var c alerting.Config
	if err := yaml.Unmarshal([]byte(rules), &c); err != nil {
		t.Fatalf("rules do not decode: %v\n%s", err, rules)
	}
	return c
}

func groupNames(c alerting.Config) []string {
	var names []string
	for _, g := range c.Groups {
		names = append(names, g.Name)
	}
	return names
}

func TestRulesCommand(t *testing.T) {
	file := writeFile(t, rulesConfig)
	code, out, errOut := runMain("rules", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "# Prometheus rules of the premetrics config "+file) {
		t.Errorf("no header:\n%s", out)
	}
	rules := decodeRules(t, out)
	if got, want := groupNames(rules), []string{"vehicles", "hosts", alerting.SelfHealthGroupName}; !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	self := rules.Groups[2]
	var backlog string
	for _, r := range self.Rules {
		if !strings.Contains(r.Expr, `job="premetrics"`) {
			t.Errorf("%s does not select the default job: %s", r.Alert, r.Expr)
		}
		if r.Alert == "PremetricsRemoteWriteBacklogHigh" {
			backlog = r.Expr
		}
	}
	// 80% of capacity × max_shards of the endpoint.
	if want := `premetrics_remotewrite_pending_samples{job="premetrics", endpoint="prom"} > 8000`; backlog != want {
		t.Errorf("backlog alert %q, want %q", backlog, want)
	}
	promtoolCheckRules(t, out)

	code, out, errOut = runMain("rules", "--self-health=false", file)
	if code != 0 {
		t.Fatalf("--self-health=false: exit %d: %s", code, errOut)
	}
	if got := groupNames(decodeRules(t, out)); !slices.Equal(got, []string{"vehicles", "hosts"}) {
		t.Errorf("--self-health=false: groups %v", got)
	}

	code, out, errOut = runMain("rules", "--job=pm", file)
	if code != 0 {
		t.Fatalf("--job: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `up{job="pm"} == 0`) || strings.Contains(out, `job="premetrics"`) {
		t.Errorf("--job=pm:\n%s", out)
	}
}

func TestRulesExample(t *testing.T) {
	code, out, errOut := runMain("rules", "../../config.example.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	promtoolCheckRules(t, out)
}

func TestRulesUsage(t *testing.T) {
	for _, args := range [][]string{{"rules"}, {"rules", "a.yaml", "b.yaml"}, {"rules", "--nope", "a.yaml"}} {
		if code, _, errOut := runMain(args...); code != 2 || !strings.Contains(errOut, "usage: premetrics rules") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	if code, _, errOut := runMain("rules", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || !strings.Contains(errOut, "cannot read config") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
}

// TestSelfHealthRulesUseSelfMetrics: every metric the built-in rules
// read is one premetrics registers (or up, which Prometheus makes for
// every scrape target).
func TestSelfHealthRulesUseSelfMetrics(t *testing.T) {
	names := selfMetricNames()
	p := parser.NewParser(parser.Options{})
	g := alerting.SelfHealthGroup(alerting.SelfHealth{QueueCapacity: map[string]int{"x": 1}})
	for _, r := range g.Rules {
		e, err := p.ParseExpr(r.Expr)
		if err != nil {
			t.Fatalf("%s: %v", r.Alert, err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name := ""
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			if name == "" {
				t.Errorf("%s: selector %s names no metric", r.Alert, vs)
			} else if name != "up" && !names[name] {
				t.Errorf("%s reads %s, which premetrics does not register", r.Alert, name)
			}
			return nil
		})
	}
}

// TestPipelineProblems: check and rules report every problem of derive
// and alerting with file, line, field path and why; rules then writes
// nothing.
func TestPipelineProblems(t *testing.T) {
	file := writeFile(t, `aggregations:
  - name: vehicles_in_motion
    match: 'vehicle_rpm != 0'
    interval: 5s
    by: [model, region]
    outputs: [count_series]
  - name: latest
    match: vehicle_warnings
    interval: 5s
    by: [vehicle_id, region]
    outputs: [last]
  - name: warnings
    match: vehicle_warnings:5s_by_region_vehicle_id_last
    interval: 5s
    by: [region]
    outputs: [sum_samples]
  - name: minute
    match: vehicle_rpm
    interval: 1m
    by: [region]
    outputs: [avg]
derive:
  - record: mixed
    expr: vehicle_rpm:5s_by_model_region_count_series / on (region) vehicle_rpm:1m_by_region_avg
  - record: unknown
    expr: vehicle_speed:5s_avg * 2
remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
alerting:
  groups:
    - name: vehicles
      rules:
        - alert: Moving
          expr: vehicle_rpm:5s_by_model_region_count_series{vehicle_id="V1"} > 0
        - alert: PerVehicle
          expr: vehicle_warnings:5s_by_region_vehicle_id_last > 3
        - alert: Raw
          expr: vehicle_rpm > 0
        - alert: Typo
          expr: vehicle_rpm:5s_by_region_count_series > 0
        - alert: ByModel
          expr: sum by (model) (vehicle_warnings:5s_by_region_vehicle_id_last:5s_by_region_sum_samples) > 10
    - name: vehicles
      rules:
        - record: bad name
          expr: sum(
        - alert: Both
          record: both
          expr: up
        - record: r
          expr: up
          for: 5m
        - alert: Template
          expr: up == 0
          labels: {severity: '{{ $labels.x'}
`)
	want := []string{
		"INVALID",
		`c.yaml:24: derive[0].expr: reads inputs that close at different times: vehicle_rpm:5s_by_model_region_count_series (aggregations[0] "vehicles_in_motion": interval 5s, lateness 5s) and vehicle_rpm:1m_by_region_avg (aggregations[3] "minute": interval 1m, lateness 5s)`,
		`c.yaml:26: derive[1].expr: metric "vehicle_speed:5s_avg" is not produced by the pipeline: no aggregation output or earlier derive record has this name`,
		`c.yaml:34: alerting.groups[0].rules[0].expr: label "vehicle_id" is never on vehicle_rpm:5s_by_model_region_count_series (aggregations[0] "vehicles_in_motion" keeps only model, region)`,
		`c.yaml:36: alerting.groups[0].rules[1].expr: metric "vehicle_warnings:5s_by_region_vehicle_id_last" (aggregations[1] "latest") is consumed by aggregations[2] "warnings", which aggregates it further, and is never written to remote write; set keep_input: true on aggregations[2] to write both; it is not a recording rule of alerting nor a premetrics self metric either`,
		`c.yaml:38: alerting.groups[0].rules[2].expr: metric "vehicle_rpm" is not written by the pipeline: no aggregation output, enrich series or derive record has this name (raw input is written only with forward_unmatched: true or an aggregation's keep_input: true); it is not a recording rule of alerting nor a premetrics self metric either`,
		`c.yaml:40: alerting.groups[0].rules[3].expr: metric "vehicle_rpm:5s_by_region_count_series" is not written by the pipeline`,
		`c.yaml:42: alerting.groups[0].rules[4].expr: label "model" of by (model) is never on vehicle_warnings:5s_by_region_vehicle_id_last:5s_by_region_sum_samples (aggregations[2] "warnings" keeps only region)`,
	}
	code, out, errOut := runMain("check", file)
	if code != 1 {
		t.Fatalf("check: exit %d, want 1\n%s%s", code, out, errOut)
	}
	// The problems Validate finds come first: Load stops there.
	for _, w := range []string{
		`c.yaml:43: alerting.groups[1].name: duplicate group name "vehicles" (also groups[0])`,
		`c.yaml:45: alerting.groups[1].rules[0].record: invalid recording rule name: bad name`,
		`c.yaml:46: alerting.groups[1].rules[0].expr: could not parse expression: 1:5: parse error: unclosed left parenthesis`,
		`c.yaml:47: alerting.groups[1].rules[1]: set one of alert and record, not both`,
		`c.yaml:52: alerting.groups[1].rules[2].for: invalid field 'for' in recording rule`,
		`c.yaml:55: alerting.groups[1].rules[3].labels.severity: label "severity": template: __alert_Template:1: unclosed action`,
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("check output lacks %q:\n%s", w, errOut)
		}
	}
	// With the section valid, the pipeline problems.
	valid := strings.Replace(string(must(os.ReadFile(file))), "    - name: vehicles\n      rules:\n        - record: bad name", "    - name: broken\n      rules:\n        - record: bad_name", 1)
	valid = strings.Replace(valid, "expr: sum(\n", "expr: sum(up)\n", 1)
	valid = strings.Replace(valid, "          record: both\n", "", 1)
	valid = strings.Replace(valid, "          for: 5m\n", "", 1)
	valid = strings.Replace(valid, "'{{ $labels.x'", "'{{ $labels.x }}'", 1)
	if err := os.WriteFile(file, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check", "rules"} {
		code, out, errOut = runMain(cmd, file)
		if code != 1 {
			t.Fatalf("%s: exit %d, want 1\n%s%s", cmd, code, out, errOut)
		}
		if out != "" {
			t.Errorf("%s wrote to stdout:\n%s", cmd, out)
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s output lacks %q:\n%s", cmd, w, errOut)
			}
		}
		if n := strings.Count(errOut, "\n"); n != len(want) {
			t.Errorf("%s: %d lines, want %d:\n%s", cmd, n, len(want), errOut)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
