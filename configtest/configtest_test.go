package configtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testConfig is a small pipeline: a global relabel drop, a per-region
// aggregation whose sum feeds a rollup, forwarding of unmatched input.
const testConfig = `
relabel_configs:
  - source_labels: [__name__]
    regex: drop_me
    action: drop
aggregations:
  - name: per_region
    match: m
    interval: 10s
    by: [region]
    outputs: [sum_samples, count_samples]
    lateness: 5s
  - name: rollup
    match: 'm:10s_by_region_sum_samples'
    interval: 1m
    outputs: [sum_samples]
    lateness: 5s
forward_unmatched: true
remote_write:
  - url: http://127.0.0.1:9/api/v1/write
`

// loadFiles writes config and test file into a temporary directory and loads
// the test file.
func loadFiles(t *testing.T, config, tests string) (*Suite, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(path, []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path, Options{LookupEnv: func(string) (string, bool) { return "", false }})
}

func mustLoad(t *testing.T, config, tests string) *Suite {
	t.Helper()
	s, err := loadFiles(t, config, tests)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

// runOne runs the suite's only test.
func runOne(t *testing.T, s *Suite) Result {
	t.Helper()
	rs := s.Run(context.Background(), nil)
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	if rs[0].Err != nil {
		t.Fatalf("test did not run: %v", rs[0].Err)
	}
	return rs[0]
}

func written(r Result) string {
	var sb strings.Builder
	r.Write(&sb)
	return sb.String()
}

func TestExampleConfigTestsPass(t *testing.T) {
	s, err := Load("../config.example.test.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := s.Run(context.Background(), nil)
	if len(rs) != 4 {
		t.Fatalf("%d tests ran, want 4", len(rs))
	}
	for _, r := range rs {
		if !r.Passed() {
			t.Errorf("%s", written(r))
		}
	}
	if got := Summary("f", rs); got != "f: PASS (4 tests)" {
		t.Errorf("summary %q", got)
	}
}

// The whole output of a passing test: the rollup consumes the per-region
// sums, counts and the unmatched raw series are written as they are, the
// dropped series is not.
const passing = `
config_file: c.yaml
tests:
  - name: sums
    input:
      - series: |
          m{region="eu",host="a"} 1 1000
          m{region="eu",host="b"} 2 2000
          m{region="us",host="c"} 4 3000
          other{x="1"} 7 3000
          drop_me 1 3000
      - series: |
          m{region="eu",host="a"} 8 11000
    expect: |
      m:10s_by_region_count_samples{region="eu"} 2 10000
      m:10s_by_region_count_samples{region="us"} 1 10000
      m:10s_by_region_count_samples{region="eu"} 1 20000
      m:10s_by_region_sum_samples:1m_sum_samples 15 60000
      other{x="1"} 7 3000
    expect_metrics: |
      premetrics_dropped_samples_total{reason="relabel_drop",stage="relabel"} 1
      premetrics_aggregate_input_samples_total{aggregation="per_region"} 4
      premetrics_aggregate_input_samples_total{aggregation="rollup"} 3
      premetrics_aggregate_output_samples_total{aggregation="per_region"} 6
`

func TestPassingTest(t *testing.T) {
	r := runOne(t, mustLoad(t, testConfig, passing))
	if !r.Passed() {
		t.Fatalf("failed:\n%s", written(r))
	}
	if out := written(r); out != "" {
		t.Errorf("a passing test printed %q", out)
	}
}

func TestWrongValueFailsWithDiff(t *testing.T) {
	tests := strings.Replace(passing, `{region="us"} 1 10000`, `{region="us"} 3 10000`, 1)
	r := runOne(t, mustLoad(t, testConfig, tests))
	if r.Passed() {
		t.Fatal("a wrong expected value passed")
	}
	want := Mismatch{Kind: DifferentValue, Endpoint: "http://127.0.0.1:9/api/v1/write",
		Series: `m:10s_by_region_count_samples{region="us"}`,
		Want:   Sample{10000, 3}, Got: Sample{10000, 1}, Line: 16}
	if len(r.Mismatches) != 1 || r.Mismatches[0] != want {
		t.Fatalf("mismatches %+v, want [%+v]", r.Mismatches, want)
	}
	out := written(r)
	for _, line := range []string{
		"--- FAIL: sums (",
		"t.yaml:4)\n",
		"    output (-expected +got):\n",
		`    - m:10s_by_region_count_samples{region="us"} 3 10000  line 16: different value` + "\n",
		`    + m:10s_by_region_count_samples{region="us"} 1 10000` + "\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestMissingAndUnexpectedSeriesFail(t *testing.T) {
	// The us count is not expected; a series nothing writes is.
	tests := strings.Replace(passing, `      m:10s_by_region_count_samples{region="us"} 1 10000`,
		`      m:10s_by_region_count_samples{region="asia"} 1 10000`, 1)
	r := runOne(t, mustLoad(t, testConfig, tests))
	want := []Mismatch{
		{Kind: Missing, Endpoint: "http://127.0.0.1:9/api/v1/write", Series: `m:10s_by_region_count_samples{region="asia"}`, Want: Sample{10000, 1}, Line: 16},
		{Kind: Unexpected, Endpoint: "http://127.0.0.1:9/api/v1/write", Series: `m:10s_by_region_count_samples{region="us"}`, Got: Sample{10000, 1}},
	}
	if len(r.Mismatches) != len(want) {
		t.Fatalf("mismatches %+v, want %+v", r.Mismatches, want)
	}
	for i := range want {
		if r.Mismatches[i] != want[i] {
			t.Errorf("mismatch %d: %+v, want %+v", i, r.Mismatches[i], want[i])
		}
	}
	out := written(r)
	for _, line := range []string{
		`- m:10s_by_region_count_samples{region="asia"} 1 10000  line 16: missing`,
		`+ m:10s_by_region_count_samples{region="us"} 1 10000    unexpected`,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestDifferentTimestampFails(t *testing.T) {
	tests := strings.Replace(passing, "7 3000\n    expect_metrics", "7 3001\n    expect_metrics", 1)
	r := runOne(t, mustLoad(t, testConfig, tests))
	want := Mismatch{Kind: DifferentTimestamp, Endpoint: "http://127.0.0.1:9/api/v1/write",
		Series: `other{x="1"}`, Want: Sample{3001, 7}, Got: Sample{3000, 7}, Line: 19}
	if len(r.Mismatches) != 1 || r.Mismatches[0] != want {
		t.Fatalf("mismatches %+v, want [%+v]", r.Mismatches, want)
	}
}

func TestWrongCounterFails(t *testing.T) {
	tests := strings.Replace(passing, `{aggregation="rollup"} 3`, `{aggregation="rollup"} 2`, 1)
	r := runOne(t, mustLoad(t, testConfig, tests))
	want := Mismatch{Kind: DifferentValue, Series: `premetrics_aggregate_input_samples_total{aggregation="rollup"}`,
		Want: Sample{Value: 2}, Got: Sample{Value: 3}, Line: 23}
	if len(r.Mismatches) != 1 || r.Mismatches[0] != want {
		t.Fatalf("mismatches %+v, want [%+v]", r.Mismatches, want)
	}
	if out := written(r); !strings.Contains(out, "self metrics at the end of the run (-expected +got):") {
		t.Errorf("output:\n%s", out)
	}
}

// lateTests sends one sample per chunk into the window [0s, 10s), which
// closes at its end + lateness (5s) = 15s.
const lateTests = `
config_file: c.yaml
tests:
  - name: late
    compare: ['m:10s_by_region_count_samples']
    input:
      - at: 1s
        series: m{region="eu",host="a"} 1 1000
      - at: 14999ms
        series: m{region="eu",host="b"} 1 2000
      - at: 15s
        series: m{region="eu",host="c"} 1 3000
      - at: 16s
        series: m{region="eu",host="d"} 1 12000
    expect: |
      m:10s_by_region_count_samples{region="eu"} 2 10000
      m:10s_by_region_count_samples{region="eu"} 1 20000
    expect_late:
      per_region: 1
      rollup: 0
    expect_metrics: |
      premetrics_dropped_samples_total{reason="late",stage="aggregate"} 1
`

// TestLateSampleIsLate: a sample arriving at the instant its window
// closes is counted as late and not emitted; 1 ms earlier it counts.
func TestLateSampleIsLate(t *testing.T) {
	r := runOne(t, mustLoad(t, testConfig, lateTests))
	if !r.Passed() {
		t.Fatalf("failed:\n%s", written(r))
	}
	// Expecting it on time fails on both the output and the counter.
	tests := strings.Replace(lateTests, `{region="eu"} 2 10000`, `{region="eu"} 3 10000`, 1)
	tests = strings.Replace(tests, "per_region: 1", "per_region: 0", 1)
	r = runOne(t, mustLoad(t, testConfig, tests))
	if len(r.Mismatches) != 2 ||
		r.Mismatches[0].Kind != DifferentValue || r.Mismatches[0].Got != (Sample{10000, 2}) ||
		r.Mismatches[1].Series != `premetrics_aggregate_late_samples_total{aggregation="per_region"}` ||
		r.Mismatches[1].Got.Value != 1 || r.Mismatches[1].Line != 19 {
		t.Fatalf("mismatches %+v", r.Mismatches)
	}
}

func TestCompareAndEndpoints(t *testing.T) {
	config := strings.Replace(testConfig, `remote_write:
  - url: http://127.0.0.1:9/api/v1/write
`, `remote_write:
  - url: http://127.0.0.1:9/api/v1/write
    name: all
  - url: http://127.0.0.1:9/api/v1/write
    name: counts
    write_relabel_configs:
      - source_labels: [__name__]
        regex: '.*count_samples'
        action: keep
`, 1)
	tests := `
config_file: c.yaml
tests:
  - name: counts only
    remote_write: counts
    input:
      - series: m{region="eu"} 1 1000
    expect: |
      m:10s_by_region_count_samples{region="eu"} 1 10000
  - name: both endpoints
    compare: ['{__name__=~"m:.*count_samples"}']
    input:
      - series: m{region="eu"} 1 1000
    expect: |
      m:10s_by_region_count_samples{region="eu"} 2 10000
`
	rs := mustLoad(t, config, tests).Run(context.Background(), nil)
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	if !rs[0].Passed() {
		t.Errorf("write_relabel_configs not applied:\n%s", written(rs[0]))
	}
	// Without remote_write, every endpoint is compared and named.
	if len(rs[1].Mismatches) != 2 || rs[1].Mismatches[0].Endpoint != "all" || rs[1].Mismatches[1].Endpoint != "counts" {
		t.Fatalf("mismatches %+v", rs[1].Mismatches)
	}
	out := written(rs[1])
	for _, want := range []string{`output to remote_write "all" (-expected +got):`, `output to remote_write "counts" (-expected +got):`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestArrivalTime: without at, a chunk arrives at its newest sample;
// samples without a timestamp get the arrival time; start_time shifts at.
func TestArrivalTime(t *testing.T) {
	tests := `
config_file: c.yaml
tests:
  - name: arrival
    start_time: 1970-01-01T00:00:20Z
    input:
      - series: |
          other 1 1000
          other 2 25000
      - at: 10s
        series: other 3
      - series: |
          other 4 30000
          m{region="eu"} 1 12000
    expect: |
      other 1 1000
      other 2 25000
      other 3 30000
      other 4 30000
    expect_late:
      per_region: 1
`
	r := runOne(t, mustLoad(t, testConfig, tests))
	if !r.Passed() {
		t.Fatalf("failed:\n%s", written(r))
	}
}

func TestFilterAndRepeatedRuns(t *testing.T) {
	s := mustLoad(t, testConfig, passing)
	if rs := s.Run(context.Background(), func(name string) bool { return name == "nothing" }); len(rs) != 0 {
		t.Fatalf("filter ran %d tests", len(rs))
	}
	for range 2 { // inputs are decoded per run: a second run is the same
		if r := runOne(t, s); !r.Passed() {
			t.Fatalf("failed:\n%s", written(r))
		}
	}
}

func TestEnvOfTestFile(t *testing.T) {
	config := strings.Replace(testConfig, "interval: 10s", "interval: ${WINDOW}", 1)
	tests := strings.Replace(passing, "config_file: c.yaml", "config_file: c.yaml\nenv: {WINDOW: 10s}", 1)
	if r := runOne(t, mustLoad(t, config, tests)); !r.Passed() {
		t.Fatalf("failed:\n%s", written(r))
	}
	if _, err := loadFiles(t, config, passing); err == nil || !strings.Contains(err.Error(), "WINDOW") {
		t.Fatalf("unset variable: %v", err)
	}
}

// TestLoadErrors: every problem of a test file is reported with its line.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, tests string
		want        []string
	}{
		{"unknown key", "config_file: c.yaml\ntests:\n  - name: a\n    bogus: 1\n",
			[]string{"t.yaml:4: field bogus not found in type Test"}},
		{"no config_file", "tests: []\n", []string{"t.yaml:1: config_file: the config to test is required"}},
		{"no tests", "config_file: c.yaml\n", []string{"t.yaml:1: tests: at least one test is required"}},
		{"missing config", "config_file: nope.yaml\ntests:\n  - name: a\n",
			[]string{"t.yaml:1: config_file: cannot read config: open ", "nope.yaml: no such file or directory"}},
		{"bad YAML", "config_file: c.yaml\ntests: [\n", []string{"t.yaml:2: did not find expected node content"}},
		{"test problems", `config_file: c.yaml
tests:
  - name: a
    start_time: yesterday
    compare: ['m{', 'm > 1']
    input:
      - series: |
          m{region="eu"} 1 1000
          m{region= 1 1000
      - json_input: vehicles
        events: '{}'
      - series: m 1
      - at: 1s
        series: m 1 1000
      - series: 'm 1 1000'
        events: '{}'
    expect: |
      m:10s_by_region_sum_samples 1
    expect_late: {nope: 1}
    expect_metrics: |
      premetrics_ingest_requests_total 1
      premetrics_dropped_samples_total 1 1000
  - name: a
    expect: ""
`, []string{
			`t.yaml:4: tests[0].start_time: want Unix milliseconds or RFC 3339 (2024-11-03T08:00:00Z), got "yesterday"`,
			`t.yaml:5: tests[0].compare[0]: cannot parse selector "m{"`,
			`t.yaml:5: tests[0].compare[1]: "m > 1": a series selector without a comparison is expected`,
			`t.yaml:9: tests[0].input[0].series: rejected: malformed: column 11: expected a quoted label value`,
			`t.yaml:10: tests[0].input[1].json_input: no JSON input named "vehicles" (inputs.json has none)`,
			`t.yaml:12: tests[0].input[2].at: required when a sample has no timestamp (it gets the arrival time)`,
			`t.yaml:15: tests[0].input[4]: give series or events, not both`,
			`t.yaml:18: tests[0].expect: the sample needs a timestamp (Unix milliseconds)`,
			`t.yaml:19: tests[0].expect_late: no aggregation named "nope"`,
			`t.yaml:21: tests[0].expect_metrics: premetrics_ingest_requests_total is not a metric premetrics test can check`,
			`t.yaml:22: tests[0].expect_metrics: a self metric takes no timestamp`,
			`t.yaml:23: tests[1].input: at least one input chunk is required`,
			`t.yaml:23: tests[1].name: duplicate test name "a" (also line 3)`,
		}},
		{"out of order", `config_file: c.yaml
tests:
  - name: a
    input:
      - series: m 1 2000
      - at: 1999ms
        series: m 1 1000
    expect: ""
`, []string{`t.yaml:6: tests[0].input[1]: arrives at 1s999ms, before the chunk of line 5 (2s): chunks are given in arrival order`}},
		{"expect outside compare", `config_file: c.yaml
tests:
  - name: a
    compare: [m:10s_by_region_sum_samples]
    input:
      - series: m 1 1000
    expect: |
      other 1 1000
`, []string{`t.yaml:8: tests[0].expect: other is not selected by compare, so it is never compared`}},
		{"checks nothing", "config_file: c.yaml\ntests:\n  - name: a\n    input:\n      - series: m 1 1000\n",
			[]string{"t.yaml:3: tests[0]: the test checks nothing: give expect, expect_late or expect_metrics"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadFiles(t, testConfig, c.tests)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestInvalidConfig(t *testing.T) {
	_, err := loadFiles(t, "aggregations:\n  - name: a\n    match: m\n    interval: 10s\n    outputs: [median]\nremote_write:\n  - url: http://127.0.0.1:9\n", passing)
	if err == nil || !strings.Contains(err.Error(), `c.yaml:5: aggregations[0].outputs[0]: unknown output "median"`) {
		t.Fatalf("error: %v", err)
	}
}

// TestJSONEvents: events are mapped by the named inputs.json entry; an
// event without its timestamp field gets the arrival time.
func TestJSONEvents(t *testing.T) {
	config := testConfig + `
inputs:
  json:
    - name: hosts
      timestamp: {field: occurred_at, unit: ms}
      labels: {hostname: hostname, region: region}
      metrics:
        - {name: m, value: usage}
`
	tests := `
config_file: c.yaml
tests:
  - name: events
    start_time: 2024-11-03T08:00:00Z
    compare: ['m:10s_by_region_count_samples']
    input:
      - json_input: hosts
        events: |
          {"hostname": "a", "region": "eu", "usage": 1, "occurred_at": 1730620801000}
          {"hostname": "b", "region": "eu", "usage": 2, "occurred_at": 1730620802000}
      - at: 12s
        json_input: hosts
        events: '[{"hostname": "a", "region": "eu", "usage": 3}]'
    expect: |
      m:10s_by_region_count_samples{region="eu"} 2 1730620810000
      m:10s_by_region_count_samples{region="eu"} 1 1730620820000
`
	if r := runOne(t, mustLoad(t, config, tests)); !r.Passed() {
		t.Fatalf("failed:\n%s", written(r))
	}
	bad := strings.Replace(tests, "      - at: 12s\n        json_input", "      - json_input", 1)
	bad = strings.Replace(bad, `"usage": 2,`, `"usage": "x",`, 1)
	_, err := loadFiles(t, config, bad)
	for _, want := range []string{
		`t.yaml:10: tests[0].input[0].events: event 1 rejected: wrong_type:`,
		`t.yaml:12: tests[0].input[1].at: required when a sample has no timestamp (it gets the arrival time)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A histogram output is checked through its count and sum.
func TestHistogramByCountAndSum(t *testing.T) {
	const config = `
aggregations:
  - name: lat
    match: lat
    interval: 10s
    outputs: [histogram]
remote_write:
  - url: http://127.0.0.1:9/api/v1/write
`
	tests := `
config_file: c.yaml
tests:
  - name: histogram
    input:
      - series: |
          lat 1 1000
          lat 4 2000
          lat 0.5 3000
    expect: |
      lat:10s_histogram_count 3 10000
      lat:10s_histogram_sum 5.5 10000
`
	if r := runOne(t, mustLoad(t, config, tests)); !r.Passed() {
		t.Fatalf("failed:\n%s", written(r))
	}
	wrong := strings.Replace(tests, "_count 3", "_count 2", 1)
	if r := runOne(t, mustLoad(t, config, wrong)); r.Passed() {
		t.Fatal("a wrong histogram count passed")
	}
}

// Enrichment tables join in tests as in the daemon: a PostgreSQL table
// needs its rows in the test file, and then labels join from them.
func TestTablesGiveRows(t *testing.T) {
	const config = `
enrich:
  - name: thresholds
    source: {postgres: {dsn: "postgres://127.0.0.1:1/x", query: "SELECT hostname, allowed_top FROM t"}}
    key: [hostname]
    add: [allowed_top]
aggregations:
  - name: cpu
    match: cpu
    interval: 10s
    by: [hostname, allowed_top]
    outputs: [max]
remote_write:
  - url: http://127.0.0.1:9/api/v1/write
`
	tests := `
config_file: c.yaml
tables:
  thresholds:
    - {hostname: sleepy, allowed_top: 40}
tests:
  - name: joined
    input:
      - series: |
          cpu{hostname="sleepy"} 50 1000
          cpu{hostname="happy"} 20 1000
    expect: |
      cpu:10s_by_allowed_top_hostname_max{allowed_top="40",hostname="sleepy"} 50 10000
      cpu:10s_by_allowed_top_hostname_max{hostname="happy"} 20 10000
`
	if r := runOne(t, mustLoad(t, config, tests)); !r.Passed() {
		t.Fatalf("failed:\n%s", written(r))
	}
	noRows := strings.Replace(tests, "tables:\n  thresholds:\n    - {hostname: sleepy, allowed_top: 40}\n", "", 1)
	if _, err := loadFiles(t, config, noRows); err == nil || !strings.Contains(err.Error(), `premetrics test reads only file tables; give its rows in the test file`) {
		t.Errorf("a postgres table without rows: error %v", err)
	}
}
