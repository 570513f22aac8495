package config

import (
	"os"
	"strings"
	"testing"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestExampleConfigIsValid(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("config.example.yaml", data, lookup(nil))
	if err != nil {
		t.Fatalf("config.example.yaml is invalid:\n%v", err)
	}
	if len(cfg.Aggregations) < 4 || len(cfg.RemoteWrite) != 1 {
		t.Fatalf("got %d aggregations and %d remote_write", len(cfg.Aggregations), len(cfg.RemoteWrite))
	}
	// Both SCENARIOS.md event schemas map by config alone.
	inputs := map[string]bool{}
	for _, j := range cfg.Inputs.JSON {
		inputs[j.Name] = true
	}
	if !inputs["vehicles"] || !inputs["hosts"] {
		t.Errorf("JSON inputs %v, want vehicles and hosts", inputs)
	}
	if got := cfg.RemoteWrite[0].URL; got != "http://127.0.0.1:9090/api/v1/write" {
		t.Fatalf("default from ${PROMETHEUS_URL:-...} not applied: %q", got)
	}
	if got := cfg.Server.ListenAddress; got != "127.0.0.1:9201" {
		t.Fatalf("listen_address = %q", got)
	}
}

func TestEnvExpansion(t *testing.T) {
	in := "a: ${HOST}\nb: ${PORT:-9090}\nc: \"$1 ${1} $$x\"\nd: ${MISSING}\n"
	out, errs := expandEnv([]byte(in), lookup(map[string]string{"HOST": "example"}))
	want := "a: example\nb: 9090\nc: \"$1 ${1} $$x\"\nd: \n"
	if string(out) != want {
		t.Fatalf("expanded to %q, want %q", out, want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 4: environment variable MISSING is not set") {
		t.Fatalf("errors = %v", errs)
	}
}

// TestErrorsNameFieldAndLine checks that every problem is reported at once
// with its field path and YAML line.
func TestErrorsNameFieldAndLine(t *testing.T) {
	const rw = "remote_write:\n  - url: http://127.0.0.1:9090/api/v1/write\n"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "unknown top-level and nested keys",
			yaml: "bogus: 1\nserver:\n  listen_adress: x\n" + rw,
			want: []string{"t.yaml:1: field bogus not found", "t.yaml:3: field listen_adress not found"},
		},
		{
			name: "aggregation problems",
			yaml: `aggregations:
  - name: a
    match: 'rate(x[5m])'
    interval: 1m
    by: [x]
    without: [y]
    outputs: [avg, avgg]
  - name: a
    match: x
    interval: 5q
    outputs: [max]
` + rw,
			want: []string{
				"t.yaml:10: ", // bad duration reported by the decoder on its line
			},
		},
		{
			name: "semantic aggregation problems with paths",
			yaml: `aggregations:
  - name: a
    match: 'rate(x[5m])'
    interval: 1m
    by: [x]
    without: [y]
    outputs: [avg, avgg]
  - name: a
    match: x
    interval: 1m
    outputs: [max]
` + rw,
			want: []string{
				"t.yaml:3: aggregations[0].match: ",
				"aggregations[0]",
				"by and without",
				"t.yaml:7: aggregations[0].outputs[1]: ",
				"avgg",
				"t.yaml:8: aggregations[1].name: duplicate aggregation name \"a\" (also aggregations[0])",
			},
		},
		{
			name: "bad relabel regex and action",
			yaml: "relabel_configs:\n  - source_labels: [a]\n    regex: '(('\n" + rw,
			want: []string{"t.yaml:3:", "error parsing regexp"},
		},
		{
			name: "relabel semantic problem",
			yaml: "relabel_configs:\n  - action: keep\n    regex: a\n  - action: hashmod\n    target_label: x\n" + rw,
			want: []string{"t.yaml:4: relabel_configs[1]: relabel configuration for hashmod requires non-zero modulus"},
		},
		{
			name: "no remote write",
			yaml: "aggregations: []\n",
			want: []string{"remote_write: at least one remote_write endpoint is required"},
		},
		{
			name: "derive and alerting entries are checked",
			yaml: "derive:\n  - record: x\n  - record: x\n    expr: y\nalerting:\n  groups: [{rules: []}]\n" + rw,
			want: []string{"t.yaml:2: derive[0].expr: must not be empty", "t.yaml:3: derive[1].record: duplicate record \"x\" (also derive[0])", "t.yaml:6: alerting.groups[0].name: must not be empty"},
		},
		{
			name: "enrich problems with paths and lines",
			yaml: `enrich:
  - name: reg
    source: {file: {path: v.txt, interval: 5q}}
    key: [vehicle_id]
    add: [model]
  - name: reg
    source: {http: {url: 'ftp://x', timeout: 0s}}
    key: [vehicle_id, vehicle_id]
    add: [model]
    on_miss: {default: {colour: red, interval: x}}
  - name: pg
    source: {postgres: {dsn: 'postgres://127.0.0.1/x', query: 'select 1'}, file: a.csv}
    key: [h]
    add: [t]
    on_miss: {defualt: {t: x}}
` + rw,
			want: []string{
				// checked before decoding, like every duration
				"t.yaml:3: enrich[0].source.file.interval: invalid duration \"5q\"",
			},
		},
		{
			name: "enrich semantic problems",
			yaml: `enrich:
  - name: reg
    source: {file: {path: v.txt}}
    key: [vehicle_id]
    add: [model]
  - name: reg
    source: {http: {url: 'ftp://x', timeout: 0s}}
    key: [vehicle_id, vehicle_id]
    add: [model]
    on_miss: {default: {colour: red, interval: x}}
  - name: pg
    source: {postgres: {dsn: 'postgres://127.0.0.1/x', query: 'select 1'}, file: a.csv}
    key: [h]
    add: [t]
    on_miss: {defualt: {t: x}}
` + rw,
			want: []string{
				"t.yaml:3: enrich[0].source.file.format: cannot tell from the extension of \"v.txt\"",
				"t.yaml:6: enrich[1].name: duplicate enrich name \"reg\" (also enrich[0])",
				"t.yaml:7: enrich[1].source.http.url: want an http or https URL",
				"t.yaml:7: enrich[1].source.http.timeout: must be > 0, got 0s",
				"t.yaml:8: enrich[1].key[1]: duplicate label \"vehicle_id\"",
				"t.yaml:10: enrich[1].on_miss.default.colour: not a column of add",
				"t.yaml:10: enrich[1].on_miss.default.interval: not a column of add",
				"t.yaml:15: field defualt not found in type enrich.OnMiss",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load("t.yaml", []byte(c.yaml), lookup(nil))
			if err == nil {
				t.Fatal("Load accepted an invalid config")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestInputs(t *testing.T) {
	rw := "remote_write:\n  - url: http://127.0.0.1:9090/api/v1/write\n"
	good := `inputs:
  influx: {enabled: false}
  otlp: {promote_resource_attributes: [deployment.environment]}
  json:
    - name: hosts
      labels: {interval: interval_field, regex: r}   # user keys, not config keys
      metrics:
        - {name: cpu_usage, value: usage, when: {lateness: "x"}}
` + rw
	cfg, err := Load("t.yaml", []byte(good), lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Inputs.Influx.On() || !cfg.Inputs.OTLP.On() || !cfg.Inputs.RemoteWrite.On() || !cfg.Inputs.PrometheusText.On() {
		t.Errorf("toggles: influx %v otlp %v remote_write %v prometheus_text %v", cfg.Inputs.Influx.On(), cfg.Inputs.OTLP.On(), cfg.Inputs.RemoteWrite.On(), cfg.Inputs.PrometheusText.On())
	}
	if got := cfg.Inputs.OTLP.PromoteResourceAttributes; len(got) != 1 || got[0] != "deployment.environment" {
		t.Errorf("promote_resource_attributes = %v", got)
	}

	bad := `inputs:
  json:
    - name: hosts
      metrics:
        - {name: cpu_usage, value: usage}
  mqtt:
    - name: m
      brokers: [tcp://127.0.0.1:1883]
      topics:
        - {filter: "a/#", format: json, input: vehicles}
  prometheus_text: {enabled: maybe}
` + rw
	_, err = Load("t.yaml", []byte(bad), lookup(nil))
	if err == nil {
		t.Fatal("accepted an MQTT topic mapped by a JSON input that does not exist")
	}
	for _, want := range []string{"t.yaml:10: inputs.mqtt[0].topics[0].input: no JSON input named \"vehicles\" in inputs.json", "t.yaml:11: cannot unmarshal !!str `maybe` into bool"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestEmptyLaterSectionsAreAccepted(t *testing.T) {
	y := "inputs: {}\nenrich: []\nderive: []\nalerting:\n  groups: []\nremote_write:\n  - url: http://127.0.0.1:9090/api/v1/write\n"
	if _, err := Load("t.yaml", []byte(y), lookup(nil)); err != nil {
		t.Fatal(err)
	}
}
