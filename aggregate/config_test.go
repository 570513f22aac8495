package aggregate

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/rules"
)

func dur(d time.Duration) *model.Duration {
	md := model.Duration(d)
	return &md
}

// selectorError returns the message rules.CompileSelector gives for expr.
func selectorError(expr string) string {
	_, err := rules.CompileSelector(expr)
	if err == nil {
		panic("selector " + expr + " is valid")
	}
	return err.Error()
}

func validConfig() Config {
	return Config{Name: "a", Match: "rpm", Interval: model.Duration(time.Minute), Outputs: []string{"avg"}}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want []string // every line of the error, in order; nil: valid
	}{
		{"valid", func(c *Config) {}, nil},
		{"valid everything", func(c *Config) {
			c.By = []string{"region", "model"}
			c.Outputs = []string{"sum_samples", "count_samples", "count_series", "min", "max", "avg", "last", "first",
				"stddev", "stdvar", "unique_samples", "quantiles(0, 0.5, 1)", "total", "increase", "rate_sum", "rate_avg"}
			c.Lateness, c.MaxFutureSkew, c.StalenessInterval = dur(0), dur(0), dur(time.Minute)
			c.MaxOutputSeries, c.MaxInputSeries = intp(1), intp(1)
		}, nil},
		{"empty match matches all", func(c *Config) { c.Match = "" }, nil},
		{"name", func(c *Config) { c.Name = "" }, []string{"name: must not be empty"}},
		// The parser's own message, after the field name.
		{"match", func(c *Config) { c.Match = "rate(x[5m])" }, []string{"match: " + selectorError("rate(x[5m])")}},
		{"match syntax", func(c *Config) { c.Match = "rpm{" }, []string{"match: " + selectorError("rpm{")}},
		{"interval zero", func(c *Config) { c.Interval = 0 }, []string{"interval: must be > 0, got 0s"}},
		{"interval sub-ms", func(c *Config) { c.Interval = model.Duration(1500 * time.Microsecond) }, []string{
			"interval: must be a whole number of milliseconds, got 1.5ms"}},
		{"by and without", func(c *Config) { c.By, c.Without = []string{"a"}, []string{"b"} }, []string{
			"by and without are mutually exclusive"}},
		{"by labels", func(c *Config) { c.By = []string{"a", "", "a"} }, []string{
			"by[1]: empty label name", `by[2]: duplicate label "a"`}},
		{"without name", func(c *Config) { c.Without = []string{"__name__"} }, []string{
			`without[0]: "__name__" cannot be removed: each metric name is aggregated separately`}},
		{"no outputs", func(c *Config) { c.Outputs = nil }, []string{"outputs: must not be empty"}},
		{"unknown output", func(c *Config) { c.Outputs = []string{"avg", "max", "avgg"} }, []string{
			`outputs[2]: unknown output "avgg" (want one of sum_samples, count_samples, count_series, min, max, avg, last, first, stddev, stdvar, unique_samples, quantiles(φ, ...), total, increase, rate_sum, rate_avg, histogram[(schema)])`}},
		{"histogram schema", func(c *Config) { c.Outputs = []string{"avg", "histogram(6)"} }, []string{
			`outputs[1]: "histogram(6)": schema must be an integer from -4 to 5 (buckets grow by 2^(2^-schema)), got "6"`}},
		{"histogram syntax", func(c *Config) { c.Outputs = []string{"histogram(3"} }, []string{
			`outputs[0]: cannot parse "histogram(3": want histogram or histogram(schema)`}},
		{"duplicate output", func(c *Config) { c.Outputs = []string{"avg", " avg"} }, []string{
			`outputs[1]: duplicate output "avg" (also outputs[0])`}},
		{"duplicate quantiles", func(c *Config) { c.Outputs = []string{"quantiles(0.5)", "quantiles(0.9)"} }, []string{
			`outputs[1]: duplicate output "quantiles" (also outputs[0])`}},
		{"quantile out of range", func(c *Config) { c.Outputs = []string{"quantiles(0.5, 1.5)"} }, []string{
			`outputs[0]: "quantiles(0.5, 1.5)": φ must be in [0, 1], got 1.5`}},
		{"quantile negative", func(c *Config) { c.Outputs = []string{"quantiles(-0.1)"} }, []string{
			`outputs[0]: "quantiles(-0.1)": φ must be in [0, 1], got -0.1`}},
		{"quantile NaN", func(c *Config) { c.Outputs = []string{"quantiles(NaN)"} }, []string{
			`outputs[0]: "quantiles(NaN)": φ must be in [0, 1], got NaN`}},
		{"quantile not a number", func(c *Config) { c.Outputs = []string{"quantiles(0.5, x)"} }, []string{
			`outputs[0]: cannot parse "quantiles(0.5, x)": φ "x" is not a number`}},
		{"quantiles empty", func(c *Config) { c.Outputs = []string{"quantiles( )"} }, []string{
			`outputs[0]: cannot parse "quantiles( )": want at least one φ`}},
		{"quantiles no parens", func(c *Config) { c.Outputs = []string{"quantiles"} }, []string{
			`outputs[0]: cannot parse "quantiles": want quantiles(φ1, φ2, ...)`}},
		{"quantile duplicate", func(c *Config) { c.Outputs = []string{"quantiles(0.5, 0.50)"} }, []string{
			`outputs[0]: "quantiles(0.5, 0.50)": duplicate φ 0.50`}},
		{"keep_metric_names", func(c *Config) {
			c.KeepMetricNames = true
			c.Outputs = []string{"avg", "max", "min"}
		}, []string{"keep_metric_names: needs exactly one output, got 3"}},
		{"negative lateness", func(c *Config) { c.Lateness = dur(-time.Second) }, []string{"lateness: must be >= 0, got -1s"}},
		{"negative skew", func(c *Config) { c.MaxFutureSkew = dur(-time.Second) }, []string{"max_future_skew: must be >= 0, got -1s"}},
		{"staleness", func(c *Config) { c.StalenessInterval = dur(30 * time.Second) }, []string{
			"staleness_interval: must be >= interval (1m), got 30s"}},
		{"dedup zero", func(c *Config) { c.DedupInterval = dur(0) }, []string{"dedup_interval: must be > 0, got 0s"}},
		{"dedup negative", func(c *Config) { c.DedupInterval = dur(-time.Second) }, []string{"dedup_interval: must be > 0, got -1s"}},
		{"dedup sub-ms", func(c *Config) { c.DedupInterval = dur(1500 * time.Microsecond) }, []string{
			"dedup_interval: must be a whole number of milliseconds, got 1.5ms"}},
		{"dedup above interval", func(c *Config) { c.DedupInterval = dur(2 * time.Minute) }, []string{
			"dedup_interval: must be <= interval (1m), got 2m0s"}},
		{"limits", func(c *Config) { c.MaxOutputSeries, c.MaxInputSeries = intp(0), intp(-5) }, []string{
			"max_output_series: must be > 0, got 0", "max_input_series: must be > 0, got -5"}},
		{"many at once", func(c *Config) {
			c.Name, c.Interval, c.Outputs = "", 0, []string{"nope"}
		}, []string{
			"name: must not be empty",
			"interval: must be > 0, got 0s",
			`outputs[0]: unknown output "nope" (want one of sum_samples, count_samples, count_series, min, max, avg, last, first, stddev, stdvar, unique_samples, quantiles(φ, ...), total, increase, rate_sum, rate_avg, histogram[(schema)])`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Validate():\ngot  %q\nwant %q", got, tc.want)
			}
			if _, err := New(c, Options{}); (err != nil) != (tc.want != nil) {
				t.Errorf("New() error = %v, want error %v", err, tc.want != nil)
			}
		})
	}
}

func TestValidateRelabelConfigs(t *testing.T) {
	const doc = `
name: a
match: rpm
interval: 1m
outputs: [avg]
input_relabel_configs:
  - action: hashmod
    source_labels: [a]
    target_label: b
output_relabel_configs:
  - source_labels: [a]
    target_label: b
  - action: replace
    source_labels: [a]
`
	var c Config
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"input_relabel_configs[0]: relabel configuration for hashmod requires non-zero modulus",
		"output_relabel_configs[1]: relabel configuration for replace action requires 'target_label' value",
	}
	err := c.Validate()
	if err == nil {
		t.Fatalf("Validate() = nil, want %q", want)
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("Validate():\ngot  %q\nwant %q", got, want)
	}
}

func TestConfigYAMLDefaults(t *testing.T) {
	var c Config
	if err := yaml.Unmarshal([]byte("name: a\nmatch: rpm\ninterval: 30s\noutputs: [avg]\n"), &c); err != nil {
		t.Fatal(err)
	}
	a, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.latenessMs != 5000 || a.skewMs != 60000 || a.stalenessMs != 60000 || a.intervalMs != 30000 {
		t.Errorf("defaults: lateness %dms, skew %dms, staleness %dms, interval %dms; want 5000, 60000, 60000, 30000",
			a.latenessMs, a.skewMs, a.stalenessMs, a.intervalMs)
	}
	if a.Name() != "a" {
		t.Errorf("Name() = %q", a.Name())
	}
}
