package enrich

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func decodeConfig(t *testing.T, y string) (Config, error) {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(y))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	return c, err
}

func TestConfigDecode(t *testing.T) {
	c, err := decodeConfig(t, `
name: vehicle_registry
source: {file: testdata/vehicles.csv}
key: [vehicle_id]
add: [model]
on_miss: {default: {model: unknown}}
required: false
`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Source.File.Path != "testdata/vehicles.csv" || c.Source.File.format() != FormatCSV {
		t.Errorf("file source %+v", c.Source.File)
	}
	if c.OnMiss.Action != MissDefault || c.OnMiss.Default["model"] != "unknown" || c.IsRequired() {
		t.Errorf("on_miss %+v, required %v", c.OnMiss, c.IsRequired())
	}

	c, err = decodeConfig(t, `
name: t
source: {file: {path: x.data, format: json, interval: 1s}}
key: [a]
add: [b]
on_miss: drop
`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Source.interval().Seconds() != 1 || c.OnMiss.Action != MissDrop || !c.IsRequired() {
		t.Errorf("decoded %+v", c)
	}
}

// Unknown keys inside the custom-decoded values are errors with lines,
// as everywhere else in the config.
func TestConfigDecodeStrict(t *testing.T) {
	for _, tc := range []struct{ y, want string }{
		{"name: t\nsource: {file: {path: a.csv, fromat: csv}}\n", "line 2: field fromat not found in type enrich.FileSource"},
		{"name: t\non_miss:\n  defualt: {model: x}\n", "line 3: field defualt not found in type enrich.OnMiss"},
		{"name: t\non_miss: default\n", "line 2: on_miss: default needs values"},
		{"name: t\non_miss: [keep]\n", "line 2: on_miss: want keep, drop or {default: {column: value}}"},
		{"name: t\nsource: {ftp: x}\n", "field ftp not found"},
	} {
		_, err := decodeConfig(t, tc.y)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.y, err, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	base := "name: t\nsource: {file: a.csv}\nkey: [id]\nadd: [model]\n"
	for _, tc := range []struct{ y, want string }{
		{"source: {file: a.csv}\nkey: [id]\nadd: [m]\n", "name: must not be empty"},
		{"name: t\nkey: [id]\nadd: [m]\n", "source: set one of file, http, postgres"},
		{"name: t\nsource: {file: a.csv, http: {url: 'http://127.0.0.1/'}}\nkey: [id]\nadd: [m]\n", "source: set exactly one of file, http, postgres; got file and http"},
		{"name: t\nsource: {file: a.txt}\nkey: [id]\nadd: [m]\n", `source.file.format: cannot tell from the extension of "a.txt": set csv, yaml or json`},
		{"name: t\nsource: {file: {path: a.csv, format: xml}}\nkey: [id]\nadd: [m]\n", `source.file.format: unknown format "xml"`},
		{"name: t\nsource: {file: {path: a.csv, interval: 0s}}\nkey: [id]\nadd: [m]\n", "source.file.interval: must be > 0, got 0s"},
		{"name: t\nsource: {http: {url: 'ftp://x/'}}\nkey: [id]\nadd: [m]\n", `source.http.url: want an http or https URL with a host, got "ftp://x/"`},
		{"name: t\nsource: {http: {url: 'http://127.0.0.1/', timeout: 0s}}\nkey: [id]\nadd: [m]\n", "source.http.timeout: must be > 0"},
		{"name: t\nsource: {postgres: {query: 'select 1'}}\nkey: [id]\nadd: [m]\n", "source.postgres.dsn: must not be empty"},
		{"name: t\nsource: {postgres: {dsn: 'postgres://127.0.0.1:99999999/x'}}\nkey: [id]\nadd: [m]\n", "source.postgres.dsn: "},
		{"name: t\nsource: {postgres: {dsn: 'postgres://127.0.0.1/x'}}\nkey: [id]\nadd: [m]\n", "source.postgres.query: must not be empty"},
		{"name: t\nsource: {file: a.csv}\nadd: [m]\n", "key: must name at least one label"},
		{"name: t\nsource: {file: a.csv}\nkey: [id, id]\nadd: [m]\n", `key[1]: duplicate label "id"`},
		{"name: t\nsource: {file: a.csv}\nkey: [id]\n", "add: must name at least one column"},
		{"name: t\nsource: {file: a.csv}\nkey: [id]\nadd: [id]\n", `add[0]: "id" is a key label; it is not added`},
		{"name: t\nsource: {file: a.csv}\nkey: [id]\nadd: [__name__]\n", `add[0]: "__name__" cannot be added`},
		{"name: t\nsource: {file: a.csv}\nkey: [id]\nadd: ['']\n", `add[0]: empty label name`},
		{base + "on_miss: ignore\n", `on_miss: unknown action "ignore"`},
		{base + "on_miss: {default: {colour: red}}\n", `on_miss.default.colour: not a column of add ["model"]`},
		{base + "on_miss: {default: {model: ''}}\n", "on_miss.default.model: must not be empty"},
		{base + "max_rows: 0\n", "max_rows: must be > 0, got 0"},
	} {
		c, err := decodeConfig(t, tc.y)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\ngot  %v\nwant %q", tc.y, err, tc.want)
		}
	}
}

func TestSetDirectory(t *testing.T) {
	c := Config{Source: Source{File: &FileSource{Path: "data/v.csv"}}}
	c.SetDirectory("/etc/premetrics")
	if c.Source.File.Path != "/etc/premetrics/data/v.csv" {
		t.Errorf("got %q", c.Source.File.Path)
	}
	c.SetDirectory("/other")
	if c.Source.File.Path != "/etc/premetrics/data/v.csv" {
		t.Errorf("absolute path changed: %q", c.Source.File.Path)
	}
}

func TestConfigValidateSeries(t *testing.T) {
	base := "name: t\nsource: {file: a.csv}\nkey: [hostname]\n"
	// Valid: series without add (a table of reference series only), the
	// same column under two names, one name with two label sets, a
	// column that is also added as a label.
	for _, y := range []string{
		base + "series: [{column: allowed_top, name: cpu_threshold}]\n",
		base + "add: [allowed_top]\nseries: [{column: allowed_top}]\nseries_interval: 1s\n",
		base + "series:\n  - {column: warn, name: cpu_threshold, labels: {level: warn}}\n  - {column: crit, name: cpu_threshold, labels: {level: crit}}\n  - {column: crit, name: cpu_critical}\n",
	} {
		c, err := decodeConfig(t, y)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("%q: %v", y, err)
		}
	}
	for _, tc := range []struct{ y, want string }{
		{"name: t\nsource: {file: a.csv}\nkey: [hostname]\n", "add: must name at least one column"},
		{base + "series: [{name: x}]\n", "series[0].column: must not be empty"},
		{base + "series: [{column: hostname, name: x}]\n", `series[0].column: "hostname" is a key column`},
		{base + "series: [{column: allowed-top}]\n", `series[0].name: the column name "allowed-top" is not a valid metric name: set name`},
		{base + "series: [{column: top, name: 'cpu threshold'}]\n", `series[0].name: invalid metric name "cpu threshold": want [a-zA-Z_:][a-zA-Z0-9_:]*`},
		{base + "series: [{column: top, name: 1x}]\n", `series[0].name: invalid metric name "1x"`},
		{base + "series: [{column: top, labels: {hostname: x}}]\n", `series[0].labels.hostname: "hostname" is a key label`},
		{base + "series: [{column: top, labels: {__name__: x}}]\n", "series[0].labels.__name__: set the metric name with name"},
		{base + "series: [{column: top, labels: {level: ''}}]\n", "series[0].labels.level: must not be empty"},
		{base + "series: [{column: top, labels: {'': x}}]\n", `series[0].labels: invalid label name ""`},
		{base + "series: [{column: top}, {column: top}]\n", "series[1]: duplicate series top (also series[0])"},
		{base + "series: [{column: a, name: x, labels: {l: v}}, {column: b, name: x, labels: {l: v}}]\n", `series[1]: duplicate series x{l="v"} (also series[0])`},
		{base + "series: [{column: top}]\nseries_interval: 0s\n", "series_interval: must be > 0, got 0s"},
		{base + "series: [{column: top}]\non_miss: drop\n", "on_miss: drop needs add columns"},
		{base + "series: [{column: top}]\non_miss: {default: {top: '1'}}\n", "on_miss.default: needs add columns"},
		{base + "series: [{column: top, colour: x}]\n", "field colour not found"},
	} {
		c, err := decodeConfig(t, tc.y)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\ngot  %v\nwant %q", tc.y, err, tc.want)
		}
	}
	// YAML is valid UTF-8; a Config built in Go may not be.
	c := Config{Name: "t", Source: Source{File: &FileSource{Path: "a.csv"}}, Key: []string{"h"},
		Series: []SeriesConfig{{Column: "\xff", Name: "x"}}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `series[0].column: invalid column name "\xff"`) {
		t.Errorf("invalid UTF-8 column: %v", err)
	}
}
