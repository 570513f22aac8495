package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Options configure Run.
type Options struct {
	// Premetrics and Loadgen are the binaries (see Build).
	Premetrics string
	Loadgen    string
	// Config is the benchmark config (bench/bench.yaml). The harness sets
	// PREMETRICS_LISTEN, BENCH_SINK_URL, BENCH_INTERVAL and BENCH_LATENESS
	// in premetrics' environment; the config must use them.
	Config string
	// Scenarios to run, by name (see Scenarios); empty: all.
	Scenarios []string
	// Overrides of every selected scenario's duration, rate and series
	// (0: the scenario's own), for short smoke runs.
	Duration time.Duration
	Rate     float64
	Series   int
	// Interval and Lateness of every aggregation of the config.
	Interval, Lateness time.Duration
	// QuietWait is how long to wait before each scenario for the machine
	// to be quiet (other processes using < 0.25 cores over 3 s); 0: do
	// not wait. A scenario that starts on a busy machine gets a note.
	QuietWait time.Duration
	// MaxRSS kills premetrics when its resident set exceeds it, so that a
	// memory explosion never takes the machine down; 0: no guard.
	MaxRSS int64
	// WorkDir holds logs and generator summaries; "" uses a temporary
	// directory removed afterwards.
	WorkDir string
	// ProfileDir receives CPU and heap profiles of premetrics when it
	// serves /debug/pprof; "": no profiles.
	ProfileDir string
	// Log receives progress lines; nil: discarded.
	Log io.Writer
}

// Validate reports every invalid option, naming its flag.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for flag, path := range map[string]string{"-premetrics": o.Premetrics, "-loadgen": o.Loadgen, "-config": o.Config} {
		if _, err := os.Stat(path); err != nil {
			add("%s: %v", flag, err)
		}
	}
	names := make([]string, 0, 3)
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	for _, n := range o.Scenarios {
		if !slices.Contains(names, n) {
			add("-scenarios: unknown scenario %q (have %v)", n, names)
		}
	}
	if o.Duration < 0 {
		add("-duration: must be >= 0, got %s", o.Duration)
	}
	if o.Rate < 0 {
		add("-rate: must be >= 0, got %v", o.Rate)
	}
	if o.Series < 0 {
		add("-series: must be >= 0, got %d", o.Series)
	}
	if o.Interval <= 0 || o.Interval%time.Millisecond != 0 {
		add("-interval: must be a positive whole number of milliseconds, got %s", o.Interval)
	}
	if o.Lateness < 0 || o.Lateness%time.Millisecond != 0 {
		add("-lateness: must be a whole number of milliseconds >= 0, got %s", o.Lateness)
	}
	if o.QuietWait < 0 {
		add("-quiet-wait: must be >= 0, got %s", o.QuietWait)
	}
	if o.MaxRSS < 0 {
		add("-max-rss: must be >= 0, got %d", o.MaxRSS)
	}
	return errors.Join(errs...)
}

// selected returns the scenarios to run with the overrides applied.
func (o *Options) selected() []Scenario {
	var out []Scenario
	for _, s := range Scenarios() {
		if len(o.Scenarios) > 0 && !slices.Contains(o.Scenarios, s.Name) {
			continue
		}
		if o.Duration > 0 {
			s.Duration = o.Duration
		}
		if o.Rate > 0 {
			s.Rate = o.Rate
		}
		if o.Series > 0 {
			s.Series = o.Series
		}
		out = append(out, s)
	}
	return out
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, "==> "+format+"\n", args...)
	}
}
