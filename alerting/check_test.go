package alerting

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/catalog/infer"
)

// fakePipeline writes the families of its map; other names are not
// written.
type fakePipeline map[string][]infer.Family

func (p fakePipeline) Written(metric string) ([]infer.Family, error) {
	if fams, ok := p[metric]; ok {
		return fams, nil
	}
	return nil, fmt.Errorf("metric %q is not written by the pipeline", metric)
}

var testPipeline = fakePipeline{
	"vehicle_rpm:5s_by_model_region_count_series": {{
		Name: "vehicle_rpm:5s_by_model_region_count_series", Origin: `aggregations[0] "vehicles_in_motion"`,
		Labels: infer.Closed("model", "region"),
	}},
	"cpu_threshold": {{Name: "cpu_threshold", Origin: `enrich[1] "cpu_thresholds" series`, Labels: infer.Closed("hostname")}},
	"cpu_usage:30s_by_cpu_hostname_avg": {{
		Name: "cpu_usage:30s_by_cpu_hostname_avg", Origin: `aggregations[4] "host_cpu"`,
		Labels: infer.Closed("cpu", "hostname"),
	}},
}

func selfMetric(name string) bool { return strings.HasPrefix(name, "premetrics_") }

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "valid",
			yaml: `groups:
  - name: a
    rules:
      - alert: HostCPU
        expr: max by (hostname) (cpu_usage:30s_by_cpu_hostname_avg) > on (hostname) cpu_threshold
      - record: region:vehicles_in_motion:sum
        expr: sum by (region) (vehicle_rpm:5s_by_model_region_count_series)
      - alert: Quiet
        expr: region:vehicles_in_motion:sum{region="eu"} == 0
      - alert: Self
        expr: rate(premetrics_dropped_samples_total{anything="x"}[5m]) > 0 or up{job="premetrics"} == 0
      - alert: Meta
        expr: count(ALERTS{alertstate="firing"}) > 10 or absent(ALERTS_FOR_STATE)
      - alert: Regex
        expr: '{__name__=~"vehicle_.*", whatever="x"} > 0'
`,
		},
		{
			name: "unknown metrics",
			yaml: `groups:
  - name: a
    rules:
      - alert: A
        expr: vehicle_rpm > 0
      - record: r
        expr: sum(nope)
`,
			want: []string{
				`groups[0].rules[0].expr: metric "vehicle_rpm" is not written by the pipeline; it is not a recording rule of alerting nor a premetrics self metric either`,
				`groups[0].rules[1].expr: metric "nope" is not written by the pipeline; it is not a recording rule of alerting nor a premetrics self metric either`,
			},
		},
		{
			name: "labels an aggregation removed",
			yaml: `groups:
  - name: a
    rules:
      - alert: Stalled
        expr: vehicle_rpm:5s_by_model_region_count_series{region="eu"} == 0
      - alert: Moving
        expr: vehicle_rpm:5s_by_model_region_count_series{vehicle_id="V1"} > 0
      - alert: PerVehicle
        expr: sum by (vehicle_id) (vehicle_rpm:5s_by_model_region_count_series) > 0
      - alert: Threshold
        expr: cpu_usage:30s_by_cpu_hostname_avg > on (hostname, cpu) group_left (team) cpu_threshold
`,
			want: []string{
				`groups[0].rules[1].expr: label "vehicle_id" is never on vehicle_rpm:5s_by_model_region_count_series (aggregations[0] "vehicles_in_motion" keeps only model, region)`,
				`groups[0].rules[2].expr: label "vehicle_id" of by (vehicle_id) is never on vehicle_rpm:5s_by_model_region_count_series (aggregations[0] "vehicles_in_motion" keeps only model, region)`,
				`groups[0].rules[3].expr: label "cpu" of on (hostname, cpu) is never on cpu_threshold (enrich[1] "cpu_thresholds" series keeps only hostname)`,
				`groups[0].rules[3].expr: label "team" of group_left (team) is never on cpu_threshold (enrich[1] "cpu_thresholds" series keeps only hostname)`,
			},
		},
		{
			name: "recording rules carry their inferred labels, across groups",
			yaml: `groups:
  - name: a
    rules:
      - alert: PerModel
        expr: region:moving{model="x"} > 0
  - name: b
    rules:
      - record: region:moving
        expr: sum by (region) (vehicle_rpm:5s_by_model_region_count_series)
        labels: {source: rules}
      - alert: Source
        expr: region:moving{source="rules"} > 0
`,
			want: []string{
				`groups[0].rules[0].expr: label "model" is never on region:moving (recording rule groups[1].rules[0] keeps only region, source)`,
			},
		},
		{
			name: "recording rules that read each other",
			yaml: `groups:
  - name: a
    rules:
      - record: x
        expr: y
      - record: y
        expr: x
      - alert: X
        expr: x{any="label"} > 0
`,
		},
		{
			name: "expressions that do not parse are left to Validate",
			yaml: `groups:
  - name: a
    rules:
      - alert: A
        expr: sum(
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, tc.yaml)
			if got := errLines(c.Check(testPipeline, selfMetric)); !slices.Equal(got, tc.want) {
				t.Errorf("Check:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSelfHealthGroupChecks(t *testing.T) {
	c := Config{Groups: []Group{SelfHealthGroup(SelfHealth{QueueCapacity: map[string]int{"a": 40000}})}}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := c.Check(fakePipeline{}, selfMetric); err != nil {
		t.Errorf("Check: %v", err)
	}
}
