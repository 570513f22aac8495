package aggregate

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Schema is what an aggregation emits, computed from its Config alone
// (package catalog builds on it): the shape of its output series, without
// any state. New names outputs the same way.
type Schema struct {
	Interval time.Duration
	Lateness time.Duration // the configured one or DefaultLateness
	// By and Without are the grouping labels, sorted; both empty: the
	// outputs keep only the metric name.
	By, Without []string
	// KeepMetricNames: every output is named like its input series.
	KeepMetricNames bool
	Outputs         []OutputSchema // in config order
}

// OutputSchema is one entry of outputs.
type OutputSchema struct {
	Output string // the output's name: "avg", "quantiles", "histogram", ...
	// Suffix is appended to the input metric name to name the output
	// series, e.g. ":1m_by_region_avg"; "" with keep_metric_names.
	Suffix string
	// Labels are the labels this output adds to the grouping labels:
	// ["quantile"] for quantiles, none for the others.
	Labels []string
	// NativeHistogram: the output series are Prometheus native histograms.
	NativeHistogram bool
}

// Schema returns what c emits. The error is one of c's outputs that does
// not parse (Validate reports it too).
func (c *Config) Schema() (Schema, error) {
	s := Schema{
		Interval:        time.Duration(c.Interval),
		Lateness:        duration(c.Lateness, DefaultLateness),
		KeepMetricNames: c.KeepMetricNames,
	}
	groupPart := ""
	switch {
	case len(c.By) > 0:
		s.By = slices.Sorted(slices.Values(c.By))
		groupPart = "_by_" + strings.Join(s.By, "_")
	case len(c.Without) > 0:
		s.Without = slices.Sorted(slices.Values(c.Without))
		groupPart = "_without_" + strings.Join(s.Without, "_")
	}
	for i, out := range c.Outputs {
		o, err := parseOutput(out)
		if err != nil {
			return Schema{}, fmt.Errorf("outputs[%d]: %w", i, err)
		}
		name := outputNames[o.kind]
		os := OutputSchema{Output: name, NativeHistogram: name == "histogram"}
		if !c.KeepMetricNames {
			os.Suffix = ":" + c.Interval.String() + groupPart + "_" + name
		}
		if o.kind == outQuantiles {
			os.Labels = []string{quantileLabel}
		}
		s.Outputs = append(s.Outputs, os)
	}
	return s, nil
}
