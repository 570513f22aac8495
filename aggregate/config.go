package aggregate

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/rules"
)

// Defaults of the optional durations.
const (
	DefaultLateness      = 5 * time.Second
	DefaultMaxFutureSkew = time.Minute
	// The default staleness_interval is 2 × interval.
	defaultStalenessIntervals = 2
)

// Config is one entry of the top-level `aggregations:` list.
type Config struct {
	Name                 string            `yaml:"name"`
	Match                string            `yaml:"match"` // rules.CompileSelector syntax; empty matches every series
	Interval             model.Duration    `yaml:"interval"`
	By                   []string          `yaml:"by"`
	Without              []string          `yaml:"without"`
	Outputs              []string          `yaml:"outputs"`
	KeepMetricNames      bool              `yaml:"keep_metric_names"`
	KeepInput            bool              `yaml:"keep_input"`
	Lateness             *model.Duration   `yaml:"lateness"`           // default 5s
	MaxFutureSkew        *model.Duration   `yaml:"max_future_skew"`    // default 1m
	StalenessInterval    *model.Duration   `yaml:"staleness_interval"` // default 2 × interval
	DedupInterval        *model.Duration   `yaml:"dedup_interval"`     // unset: no deduplication
	MaxOutputSeries      *int              `yaml:"max_output_series"`  // default DefaultMaxOutputSeries
	MaxInputSeries       *int              `yaml:"max_input_series"`   // default DefaultMaxInputSeries
	InputRelabelConfigs  []*relabel.Config `yaml:"input_relabel_configs"`
	OutputRelabelConfigs []*relabel.Config `yaml:"output_relabel_configs"`
}

// Validate reports every problem of c, joined with errors.Join, one per
// line. Each message starts with the field path relative to the
// aggregation (`outputs[2]: ...`); the caller prefixes `aggregations[i].`.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Name == "" {
		add("name: must not be empty")
	}
	if c.Match != "" {
		if _, err := rules.CompileSelector(c.Match); err != nil {
			add("match: %w", err)
		}
	}
	interval := time.Duration(c.Interval)
	switch {
	case interval <= 0:
		add("interval: must be > 0, got %s", c.Interval)
	case interval%time.Millisecond != 0:
		add("interval: must be a whole number of milliseconds, got %s", interval)
	}
	if len(c.By) > 0 && len(c.Without) > 0 {
		add("by and without are mutually exclusive")
	}
	errs = append(errs, validateLabelList("by", c.By, false)...)
	errs = append(errs, validateLabelList("without", c.Without, true)...)

	errs = append(errs, validateOutputs(c.Outputs)...)
	if c.KeepMetricNames && len(c.Outputs) != 1 {
		add("keep_metric_names: needs exactly one output, got %d", len(c.Outputs))
	}

	if d := c.Lateness; d != nil && *d < 0 {
		add("lateness: must be >= 0, got %s", time.Duration(*d))
	}
	if d := c.MaxFutureSkew; d != nil && *d < 0 {
		add("max_future_skew: must be >= 0, got %s", time.Duration(*d))
	}
	if d := c.StalenessInterval; d != nil && interval > 0 && *d < c.Interval {
		add("staleness_interval: must be >= interval (%s), got %s", c.Interval, time.Duration(*d))
	}
	if d := c.DedupInterval; d != nil {
		dd := time.Duration(*d)
		switch {
		case dd <= 0:
			add("dedup_interval: must be > 0, got %s", dd)
		case dd%time.Millisecond != 0:
			add("dedup_interval: must be a whole number of milliseconds, got %s", dd)
		case interval > 0 && dd > interval:
			add("dedup_interval: must be <= interval (%s), got %s", c.Interval, dd)
		}
	}
	if n := c.MaxOutputSeries; n != nil && *n <= 0 {
		add("max_output_series: must be > 0, got %d", *n)
	}
	if n := c.MaxInputSeries; n != nil && *n <= 0 {
		add("max_input_series: must be > 0, got %d", *n)
	}
	if err := rules.ValidateRelabel(c.InputRelabelConfigs); err != nil {
		errs = append(errs, prefixLines("input_relabel_configs", err)...)
	}
	if err := rules.ValidateRelabel(c.OutputRelabelConfigs); err != nil {
		errs = append(errs, prefixLines("output_relabel_configs", err)...)
	}
	return errors.Join(errs...)
}

// validateLabelList checks the label names of by or without.
func validateLabelList(field string, names []string, isWithout bool) []error {
	var errs []error
	for i, n := range names {
		switch {
		case n == "":
			errs = append(errs, fmt.Errorf("%s[%d]: empty label name", field, i))
		case !model.UTF8Validation.IsValidLabelName(n):
			errs = append(errs, fmt.Errorf("%s[%d]: invalid label name %q", field, i, n))
		case isWithout && n == batch.MetricName:
			errs = append(errs, fmt.Errorf("%s[%d]: %q cannot be removed: each metric name is aggregated separately", field, i, n))
		case slices.Contains(names[:i], n):
			errs = append(errs, fmt.Errorf("%s[%d]: duplicate label %q", field, i, n))
		}
	}
	return errs
}

// validateOutputs parses every output and reports unknown, unsupported and
// duplicate ones.
func validateOutputs(outs []string) []error {
	if len(outs) == 0 {
		return []error{errors.New("outputs: must not be empty")}
	}
	var errs []error
	seen := map[outputKind]int{}
	for i, s := range outs {
		o, err := parseOutput(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("outputs[%d]: %w", i, err))
			continue
		}
		if j, dup := seen[o.kind]; dup {
			errs = append(errs, fmt.Errorf("outputs[%d]: duplicate output %q (also outputs[%d])", i, outputNames[o.kind], j))
			continue
		}
		seen[o.kind] = i
	}
	return errs
}

// prefixLines prefixes each line of a joined error from rules (which start
// with "[i]: ") with field.
func prefixLines(field string, err error) []error {
	var out []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			out = append(out, fmt.Errorf("%s%w", field, e))
		}
		return out
	}
	return []error{fmt.Errorf("%s%w", field, err)}
}

// limit returns *n, or def when n is nil.
func limit(n *int, def int) int {
	if n == nil {
		return def
	}
	return *n
}

// duration returns *d, or def when d is nil.
func duration(d *model.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}
