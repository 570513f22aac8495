// Command benchharness is `make bench`: it measures premetrics from the
// outside against the targets of the throughput issue and rewrites its
// section of bench/RESULTS.md.
//
// For each scenario (bench/harness.Scenarios: a throughput, b 1M active
// series, c cardinality explosion) it starts a remote write sink inside
// the harness, premetrics (bin/premetrics) with bench/bench.yaml, and the
// load generator (bin/loadgen) as a separate process, and reads
// premetrics' CPU time and memory from /proc, its self metrics from
// /metrics, and the generator's JSON summary. Everything binds to
// 127.0.0.1 and is stopped at the end. On a shared machine, -quiet-wait
// waits for other processes to calm down before each scenario, and the
// report shows how many cores they used meanwhile.
//
//	benchharness                             # all scenarios, ~4 minutes
//	benchharness -scenarios a -duration 10s  # one scenario, shorter
//	benchharness -duration 3s -rate 20000 -series 4000 -interval 2s -lateness 1s -results ""  # smoke run
//
// Exit status: 0 when every scenario ran (whether or not its targets were
// met; -strict also requires every target), 1 when a scenario failed to
// run, 2 on bad flags.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/premetrics/premetrics/bench/harness"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchharness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := harness.Options{Log: stdout}
	var scenarios, results, jsonPath string
	var maxRSSMiB int64
	var build, strict bool
	fs.StringVar(&o.Premetrics, "premetrics", "bin/premetrics", "premetrics binary")
	fs.StringVar(&o.Loadgen, "loadgen", "bin/loadgen", "load generator binary")
	fs.BoolVar(&build, "build", false, "build both binaries into bin/ first (go build)")
	fs.StringVar(&o.Config, "config", "bench/bench.yaml", "benchmark config")
	fs.StringVar(&scenarios, "scenarios", "", "comma-separated scenarios to run (a, b, c); empty: all")
	fs.DurationVar(&o.Duration, "duration", 0, "load duration of every scenario (0: each scenario's own)")
	fs.Float64Var(&o.Rate, "rate", 0, "offered samples/s of every scenario (0: each scenario's own)")
	fs.IntVar(&o.Series, "series", 0, "active series of every scenario (0: each scenario's own)")
	fs.DurationVar(&o.Interval, "interval", 10*time.Second, "window length of every aggregation (BENCH_INTERVAL)")
	fs.DurationVar(&o.Lateness, "lateness", 5*time.Second, "lateness of every aggregation (BENCH_LATENESS)")
	fs.DurationVar(&o.QuietWait, "quiet-wait", time.Minute, "before each scenario, wait up to this long for the machine to be quiet (< 0.25 cores busy; 0: do not wait)")
	fs.Int64Var(&maxRSSMiB, "max-rss", 8192, "kill premetrics when its RSS exceeds this many MiB (0: never)")
	fs.StringVar(&results, "results", "bench/RESULTS.md", `markdown file whose benchharness section is rewritten ("": none)`)
	fs.StringVar(&jsonPath, "json", "", "write the full report as JSON to this file")
	fs.StringVar(&o.ProfileDir, "profiles", "bench/profiles", `directory for pprof profiles of premetrics, when it serves /debug/pprof ("": none)`)
	fs.StringVar(&o.WorkDir, "work", "", "keep logs and generator summaries in this directory (default: a temporary one)")
	fs.BoolVar(&strict, "strict", false, "exit 1 when a target is not met")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "benchharness: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if scenarios != "" {
		o.Scenarios = strings.Split(scenarios, ",")
	}
	o.MaxRSS = maxRSSMiB << 20

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if build {
		root, err := harness.ModuleRoot(ctx)
		if err == nil {
			o.Premetrics, o.Loadgen, err = harness.Build(ctx, root, "bin")
		}
		if err != nil {
			fmt.Fprintf(stderr, "benchharness: %v\n", err)
			return 1
		}
	}
	rep, err := harness.Run(ctx, o)
	if rep == nil {
		fmt.Fprintf(stderr, "benchharness: %v\n", err)
		return 2
	}
	section := rep.Markdown()
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, section)
	if err != nil {
		fmt.Fprintf(stderr, "benchharness: %v\n", err)
		return 1
	}
	if results != "" {
		if err := harness.UpdateResults(results, section); err != nil {
			fmt.Fprintf(stderr, "benchharness: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nwrote the benchharness section of %s\n", results)
	}
	if jsonPath != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(jsonPath, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "benchharness: cannot write -json: %v\n", err)
			return 1
		}
	}
	for _, res := range rep.Results {
		if len(res.Errors) > 0 {
			fmt.Fprintf(stderr, "benchharness: scenario %s did not run cleanly\n", res.Scenario.Name)
			return 1
		}
	}
	if strict && !rep.Passed() {
		fmt.Fprintln(stderr, "benchharness: some targets were not met")
		return 1
	}
	return 0
}
