package catalog

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/config"
)

const remoteWrite = "remote_write:\n  - url: http://127.0.0.1:9090/api/v1/write\n"

// load parses a config (with a remote_write endpoint unless it has one).
func load(t *testing.T, y string) *config.Config {
	t.Helper()
	if !strings.Contains(y, "remote_write:") {
		y += remoteWrite
	}
	cfg, err := config.Load("c.yaml", []byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func newCatalog(t *testing.T, y string) *Catalog {
	t.Helper()
	c, err := New(load(t, y))
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	return c
}

// describe lists the families one per line:
// name kind origin labels interval/lateness [histogram] [consumed].
func describe(c *Catalog) string {
	var lines []string
	for _, f := range c.Families() {
		l := fmt.Sprintf("%s %s %s %s %s/%s", f, f.Kind, f.Origin(), f.Labels, f.Interval, f.Lateness)
		if f.NativeHistogram {
			l += " histogram"
		}
		if !f.Emitted {
			l += " consumed"
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func TestFamilies(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{
			name: "by, quantiles, histogram",
			yaml: `aggregations:
  - name: fleet
    match: 'vehicle_rpm != 0'
    interval: 1m
    by: [region, model]
    outputs: [avg, "quantiles(0.5, 0.99)", histogram]
    lateness: 10s
`,
			want: `vehicle_rpm:1m_by_model_region_avg aggregation aggregations[0] "fleet" {model, region} 1m0s/10s
vehicle_rpm:1m_by_model_region_quantiles aggregation aggregations[0] "fleet" {model, quantile, region} 1m0s/10s
vehicle_rpm:1m_by_model_region_histogram aggregation aggregations[0] "fleet" {model, region} 1m0s/10s histogram`,
		},
		{
			name: "without, no grouping, default lateness",
			yaml: `aggregations:
  - name: w
    match: '{__name__="cpu"}'
    interval: 30s
    without: [cpu, instance]
    outputs: [max]
  - name: total
    match: cpu
    interval: 1h
    outputs: [count_series]
`,
			want: `cpu:30s_without_cpu_instance_max aggregation aggregations[0] "w" any label but cpu, instance 30s/5s
cpu:1h_count_series aggregation aggregations[1] "total" {} 1h0m0s/5s`,
		},
		{
			name: "name patterns: a regex, any name, keep_metric_names",
			yaml: `aggregations:
  - name: re
    match: '{__name__=~"cpu_.*", job="x"}'
    interval: 30s
    by: [host]
    outputs: [avg]
  - name: any
    match: '{job="y"}'
    interval: 1m
    outputs: [sum_samples]
  - name: keep
    match: '{job="z"}'
    interval: 1m
    by: [host]
    outputs: [last]
    keep_metric_names: true
`,
			want: `<name=~"cpu_.*">:30s_by_host_avg aggregation aggregations[0] "re" {host} 30s/5s
<any name>:1m_sum_samples aggregation aggregations[1] "any" {} 1m0s/5s
<any name> aggregation aggregations[2] "keep" {host} 1m0s/5s`,
		},
		{
			name: "rollup: consumed output, labels bounded by upstream, kept input",
			yaml: `aggregations:
  - name: latest
    match: vehicle_warnings
    interval: 5s
    by: [vehicle_id, region]
    outputs: [last]
    keep_metric_names: true
    lateness: 10s
    output_relabel_configs:
      - {source_labels: [__name__], target_label: __name__, replacement: vehicle_warnings_latest}
  - name: per_region
    match: vehicle_warnings_latest
    interval: 5s
    by: [region, model]
    outputs: [sum_samples]
    lateness: 10s
  - name: minute
    match: vehicle_warnings_latest:5s_by_model_region_sum_samples
    interval: 1m
    by: [region]
    outputs: [sum_samples]
    lateness: 10s
    keep_input: true
`,
			// per_region's model is never on its input; minute keeps
			// the 5s series it reads.
			want: `vehicle_warnings_latest aggregation aggregations[0] "latest" {region, vehicle_id} 5s/10s consumed
vehicle_warnings_latest:5s_by_model_region_sum_samples aggregation aggregations[1] "per_region" {region} 5s/10s
vehicle_warnings_latest:5s_by_model_region_sum_samples:1m_by_region_sum_samples aggregation aggregations[2] "minute" {region} 1m0s/10s
vehicle_warnings_latest:5s_by_model_region_sum_samples pass-through aggregations[2] "minute" keep_input any label 0s/0s`,
		},
		{
			name: "a rollup matching only some series consumes nothing",
			yaml: `aggregations:
  - name: a
    match: x
    interval: 5s
    by: [region]
    outputs: [max]
  - name: b
    match: 'x:5s_by_region_max{region="eu"}'
    interval: 1m
    by: [region]
    outputs: [max]
  - name: c
    match: 'x:5s_by_region_max{host="h1"}'
    interval: 1m
    outputs: [max]
`,
			// c selects nothing of a (no host label): a stays emitted.
			want: `x:5s_by_region_max aggregation aggregations[0] "a" {region} 5s/5s
x:5s_by_region_max:1m_by_region_max aggregation aggregations[1] "b" {region} 1m0s/5s
x:5s_by_region_max:1m_max aggregation aggregations[2] "c" {} 1m0s/5s`,
		},
		{
			name: "relabeling: input labeldrop, output rename, labelmap, unknowable name",
			yaml: `aggregations:
  - name: in
    match: rpm
    interval: 5s
    without: [vehicle_id]
    outputs: [count_series]
    input_relabel_configs:
      - {action: labeldrop, regex: engine}
  - name: out
    match: rpm
    interval: 5s
    by: [region, engine]
    outputs: [avg]
    output_relabel_configs:
      - {action: labeldrop, regex: eng.*}
      - {action: labelmap, regex: (reg)ion, replacement: '${1}'}
      - {target_label: team, replacement: fleet}
      - {source_labels: [__name__], regex: 'rpm:(.*)', target_label: __name__, replacement: 'fleet_rpm:${1}'}
  - name: dynamic
    match: rpm
    interval: 5s
    by: [region]
    outputs: [max]
    output_relabel_configs:
      - {source_labels: [region], target_label: __name__, replacement: 'rpm_$1'}
  - name: dropped
    match: rpm
    interval: 5s
    outputs: [min]
    output_relabel_configs:
      - {source_labels: [__name__], regex: 'rpm:.*_min', action: drop}
`,
			want: `rpm:5s_without_vehicle_id_count_series aggregation aggregations[0] "in" any label but engine, vehicle_id 5s/5s
fleet_rpm:5s_by_engine_region_avg aggregation aggregations[1] "out" {reg, region, team} 5s/5s
<any name> aggregation aggregations[2] "dynamic" {region} 5s/5s`,
		},
		{
			name: "reference series and pass-through",
			yaml: `enrich:
  - name: limits
    source: {file: limits.csv}
    key: [model]
    series:
      - {column: limit}
      - {column: hard_limit, name: model_hard_limit, labels: {kind: hard}}
    series_interval: 15s
forward_unmatched: true
`,
			want: `limit reference enrich[0] "limits" series {model} 15s/0s
model_hard_limit reference enrich[0] "limits" series {kind, model} 15s/0s
<any name> pass-through forward_unmatched any label 0s/0s`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(newCatalog(t, tc.yaml)); got != tc.want {
				t.Errorf("families:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestNamesAreTheAggregatorsNames runs real aggregators and checks that
// every series they emit belongs to a family the catalog predicts, with
// labels the family allows.
func TestNamesAreTheAggregatorsNames(t *testing.T) {
	cfg := load(t, `aggregations:
  - name: by
    match: cpu
    interval: 1m
    by: [host, dc]
    outputs: [avg, max, "quantiles(0.5, 0.9)", histogram, count_series, rate_sum]
  - name: without
    match: cpu
    interval: 30s
    without: [cpu]
    outputs: [sum_samples, stddev]
  - name: none
    match: '{__name__=~"cp.*"}'
    interval: 2h
    outputs: [count_samples]
  - name: keep
    match: cpu
    interval: 10s
    by: [host]
    outputs: [last]
    keep_metric_names: true
    output_relabel_configs:
      - {source_labels: [__name__], target_label: __name__, replacement: cpu_last}
      - {target_label: team, replacement: infra}
  - name: relabeled
    match: cpu
    interval: 1m
    by: [host, cpu]
    outputs: [min]
    input_relabel_configs:
      - {action: labeldrop, regex: cpu}
    output_relabel_configs:
      - {action: labelmap, regex: (h)ost, replacement: '${1}'}
`)
	cat, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := []batch.Label{{Name: "__name__", Value: "cpu"}, {Name: "cpu", Value: "0"}, {Name: "dc", Value: "x"}, {Name: "env", Value: "prod"}, {Name: "host", Value: "h1"}}
	start := time.UnixMilli(0).Add(1000 * time.Hour)
	for i, ac := range cfg.Aggregations {
		a, err := aggregate.New(ac, aggregate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var b batch.Batch
		b.AppendSeries(in, []batch.Sample{{Timestamp: start.UnixMilli() + 1, Value: 1}, {Timestamp: start.UnixMilli() + 2, Value: 3}})
		a.Push(&b, make([]uint8, 1), start)
		var out batch.Batch
		a.Flush(start.Add(3*time.Hour), true, &out)
		if len(out.Series) == 0 {
			t.Fatalf("aggregations[%d] emitted nothing", i)
		}
		seen := map[string]bool{}
		for _, s := range out.Series {
			name := s.Get("__name__")
			seen[name] = true
			fams := cat.Lookup(name)
			if len(fams) == 0 || fams[0].Index != i {
				t.Errorf("aggregations[%d] emits %s; catalog: %v", i, batch.String(s.Labels), fams)
				continue
			}
			for _, l := range s.Labels {
				if !fams[0].Labels.Has(l.Name) {
					t.Errorf("aggregations[%d] emits %s with label %q; the catalog says %s", i, batch.String(s.Labels), l.Name, fams[0].Labels)
				}
			}
		}
		n := 0
		for _, f := range cat.Families() {
			if f.Index == i && f.Kind == KindAggregation {
				n++
			}
		}
		if n != len(seen) {
			t.Errorf("aggregations[%d]: catalog has %d families, the aggregator emitted %d names: %v", i, n, len(seen), seen)
		}
	}
}

func TestLookupAndWritten(t *testing.T) {
	c := newCatalog(t, `aggregations:
  - name: latest
    match: w
    interval: 5s
    by: [vehicle_id]
    outputs: [last]
  - name: sum
    match: w:5s_by_vehicle_id_last
    interval: 5s
    outputs: [sum_samples]
  - name: pattern
    match: '{__name__=~"cpu_.*"}'
    interval: 1m
    by: [host]
    outputs: [avg]
  - name: eu
    match: cpu_eu:1m_by_host_avg
    interval: 1h
    outputs: [avg]
  - name: raw
    match: rpm
    interval: 1m
    outputs: [avg]
forward_unmatched: true
`)
	for _, tc := range []struct {
		metric, want string
	}{
		{"w:5s_by_vehicle_id_last:5s_sum_samples", `aggregations[1] "sum" {}`},
		{"cpu_us:1m_by_host_avg", `aggregations[2] "pattern" {host}`},
		{"anything_else", `forward_unmatched any label`},
		{"w:5s_by_vehicle_id_last", `error: metric "w:5s_by_vehicle_id_last" (aggregations[0] "latest") is consumed by aggregations[1] "sum", which aggregates it further, and is never written to remote write; set keep_input: true on aggregations[1] to write both`},
		{"cpu_eu:1m_by_host_avg", `error: metric "cpu_eu:1m_by_host_avg" (aggregations[2] "pattern") is consumed by aggregations[3] "eu", which aggregates it further, and is never written to remote write; set keep_input: true on aggregations[3] to write both`},
		{"rpm", `error: metric "rpm" (forward_unmatched) is consumed by aggregations[4] "raw", which aggregates it further, and is never written to remote write; set keep_input: true on aggregations[4] to write both`},
	} {
		fams, err := c.Written(tc.metric)
		var parts []string
		for _, f := range fams {
			parts = append(parts, f.Origin+" "+f.Labels.String())
		}
		got := strings.Join(parts, "; ")
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != tc.want {
			t.Errorf("Written(%q):\n%s\nwant:\n%s", tc.metric, got, tc.want)
		}
	}
	if !c.PassThrough() {
		t.Error("PassThrough() = false with forward_unmatched")
	}
	if fams := c.Lookup("w:5s_by_vehicle_id_last"); len(fams) != 1 || fams[0].Emitted {
		t.Errorf("Lookup of a consumed output: %v", fams)
	}

	c = newCatalog(t, `aggregations:
  - name: a
    match: x
    interval: 5s
    outputs: [max, min]
`+remoteWrite+`    write_relabel_configs:
      - {source_labels: [__name__], regex: 'x:5s_min', action: drop}
      - {target_label: cluster, replacement: c1}
`)
	if fams, err := c.Written("x:5s_max"); err != nil || len(fams) != 1 || fams[0].Labels.String() != "{cluster}" {
		t.Errorf("Written(x:5s_max) = %v, %v; want the cluster label written relabeling adds", fams, err)
	}
	for metric, want := range map[string]string{
		"x:5s_min": `metric "x:5s_min" (aggregations[0] "a") is dropped by the write_relabel_configs of remote_write`,
		"y":        `metric "y" is not written by the pipeline: no aggregation output, enrich series or derive record has this name (raw input is written only with forward_unmatched: true or an aggregation's keep_input: true)`,
	} {
		if _, err := c.Written(metric); err == nil || err.Error() != want {
			t.Errorf("Written(%q) error:\n%v\nwant:\n%s", metric, err, want)
		}
	}
	if c.PassThrough() {
		t.Error("PassThrough() = true without forward_unmatched or keep_input")
	}
}

func TestRecords(t *testing.T) {
	c := newCatalog(t, `aggregations:
  - name: errors
    match: video_errors
    interval: 1m
    by: [title, region]
    outputs: [sum_samples]
  - name: views
    match: video_views
    interval: 1m
    by: [title]
    outputs: [sum_samples]
derive:
  - record: video_errors:1m_by_title_ratio
    expr: sum by (title) (video_errors:1m_by_region_title_sum_samples) / on (title) video_views:1m_by_title_sum_samples
    labels: {source: derive}
  - record: video_errors:1m_by_title_ratio_score
    expr: video_errors:1m_by_title_ratio
    labels: {source: ""}
    anomaly: {}
`)
	want := `video_errors:1m_by_region_title_sum_samples aggregation aggregations[0] "errors" {region, title} 1m0s/5s
video_views:1m_by_title_sum_samples aggregation aggregations[1] "views" {title} 1m0s/5s
video_errors:1m_by_title_ratio record derive[0] {source, title} 1m0s/5s
video_errors:1m_by_title_ratio_score record derive[1] {title} 1m0s/5s`
	if got := describe(c); got != want {
		t.Errorf("families:\n%s\nwant:\n%s", got, want)
	}
}

func TestRecordErrors(t *testing.T) {
	cfg := load(t, `enrich:
  - name: limits
    source: {file: limits.csv}
    key: [title]
    series: [{column: limit}]
aggregations:
  - name: errors
    match: video_errors
    interval: 1m
    by: [title]
    outputs: [sum_samples]
  - name: fast
    match: video_views
    interval: 5s
    by: [title]
    outputs: [sum_samples]
  - name: late
    match: video_views
    interval: 1m
    by: [title]
    outputs: [max]
    lateness: 30s
derive:
  - record: a
    expr: video_errors:1m_by_title_sum_samples / video_views:5s_by_title_sum_samples
  - record: b
    expr: video_errors:1m_by_title_sum_samples / on (title) video_views:1m_by_title_max
  - record: c
    expr: nope + later
  - record: d
    expr: video_errors:1m_by_title_sum_samples > limit
  - record: e
    expr: sum by (region) (video_errors:1m_by_title_sum_samples{title="x"}) + e
  - record: later
    expr: video_errors:1m_by_title_sum_samples
`)
	c, err := New(cfg)
	if c == nil {
		t.Fatal("no catalog with the errors")
	}
	var got []string
	if err != nil {
		for _, e := range err.(config.Errors) {
			got = append(got, e.Error())
		}
	}
	want := []string{
		`c.yaml:25: derive[0].expr: reads inputs that close at different times: video_errors:1m_by_title_sum_samples (aggregations[0] "errors": interval 1m, lateness 5s) and video_views:5s_by_title_sum_samples (aggregations[1] "fast": interval 5s, lateness 5s); a record is evaluated when the windows of its inputs close, so all of them must come from aggregations with the same interval and lateness`,
		`c.yaml:27: derive[1].expr: reads inputs that close at different times: video_errors:1m_by_title_sum_samples (aggregations[0] "errors": interval 1m, lateness 5s) and video_views:1m_by_title_max (aggregations[2] "late": interval 1m, lateness 30s); a record is evaluated when the windows of its inputs close, so all of them must come from aggregations with the same interval and lateness`,
		`c.yaml:29: derive[2].expr: metric "nope" is not produced by the pipeline: no aggregation output or earlier derive record has this name`,
		`c.yaml:29: derive[2].expr: metric "later" is the record of derive[5], which comes after this one: a record reads aggregation outputs and the records before it; move derive[5] up`,
		`c.yaml:31: derive[3].expr: metric "limit" is a reference series (enrich[0] "limits" series): a derive record reads only aggregation outputs and earlier records`,
		`c.yaml:33: derive[4].expr: label "region" of by (region) is never on video_errors:1m_by_title_sum_samples (aggregations[0] "errors" keeps only title)`,
		`c.yaml:33: derive[4].expr: metric "e" is this record itself: a record reads aggregation outputs and the records before it`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A record with problems is still in the catalog.
	if fams := c.Lookup("c"); len(fams) != 1 || fams[0].Kind != KindRecord || !fams[0].Labels.IsOpen() {
		t.Errorf("Lookup(c) = %v, want the record with open labels", fams)
	}
}

// TestExampleConfig: the example config loads into a catalog without
// problems, and its aggregations all have families.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.LoadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range cfg.Aggregations {
		found := false
		for _, f := range c.Families() {
			found = found || f.Kind == KindAggregation && f.Index == i
		}
		if !found {
			t.Errorf("aggregations[%d] %q has no family", i, a.Name)
		}
	}
}
