// Command loadgen is an open-loop, rate-controlled load generator of
// Prometheus remote write 1.0, for `make loadtest` and the benchmark
// harness (`make bench`). It sends to loopback addresses only.
//
//	loadgen -url http://127.0.0.1:9201/api/v1/write -rate 1000000 -duration 60s \
//	        -schema fleet -series 100000 -summary load.json
//
// It sends -rate samples per second, every series once per tick (a tick
// lasts series/rate seconds), in requests of -batch series with one sample
// each, over -connections keep-alive connections; a body always uses the
// same connection, so the samples of a series arrive in order. Request i
// is due at an absolute time (the samples before it divided by the rate);
// a late request never delays the schedule, and when a connection is busy
// the generator falls behind and reports by how much (behind_schedule_*).
// Answers other than 2xx (429, 5xx, 400) are counted and not retried: the
// offered load does not depend on the receiver.
//
// Every request body is encoded before the run (bench/load); sending one
// copies it and rewrites the sample values and timestamps (and, with
// -churn, the device ids) in place, so samples carry the current event
// time while the generator spends a few nanoseconds per sample. Its own
// CPU time is in the summary.
//
// Schemas: "fleet", the connected vehicles of SCENARIOS.md (bench/fleet):
// vehicle_rpm{engine="ic"|"electric"} and vehicle_warnings per vehicle,
// labelled vehicle_id, region, model, plus with -fleet-counter the counter
// vehicle_distance_meters_total; "generic": -metrics-per-device series per
// device labelled device="d<10 digits>", a -counter-fraction of them
// counters (bench_counter_<i>_total), the rest gauges (bench_gauge_<i>).
// Both add -extra-labels labels label_<j>. -churn replaces that fraction
// of the devices with new ones (new ids) every -churn-interval.
//
// Output: a progress line every -progress on stderr, a final line on
// stderr, and the JSON summary (load.Summary) on stdout or in -summary.
// Exit status: 0 when the run completed and some samples were accepted,
// 1 when none were, 2 on bad flags, 130 when interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/premetrics/premetrics/bench/load"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		shape       load.Shape
		opts        load.Options
		batch       int
		summaryPath string
		cpuProfile  string
		procs       int
	)
	fs.StringVar(&opts.URL, "url", "http://127.0.0.1:9201/api/v1/write", "remote write URL (loopback only)")
	fs.Float64Var(&opts.Rate, "rate", 100_000, "samples (events) per second")
	fs.DurationVar(&opts.Duration, "duration", 60*time.Second, "how long to send")
	fs.IntVar(&opts.Connections, "connections", 8, "keep-alive connections, one request in flight each")
	fs.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.DurationVar(&opts.Progress, "progress", 10*time.Second, "progress line interval on stderr (0: none)")
	fs.IntVar(&batch, "batch", 2000, "series (one sample each) per request (Prometheus' default max_samples_per_send is 2000)")
	fs.IntVar(&procs, "procs", 1, "GOMAXPROCS of the generator: it needs less than a core, and one P saves waking idle threads")
	fs.StringVar(&shape.Schema, "schema", load.SchemaFleet, `"fleet" (vehicles of SCENARIOS.md) or "generic"`)
	fs.IntVar(&shape.Series, "series", 100_000, "active series (rounded up to whole devices)")
	fs.IntVar(&shape.MetricsPerDevice, "metrics-per-device", 1, "generic: series (metric names) per device")
	fs.Float64Var(&shape.CounterFraction, "counter-fraction", 0.5, "generic: fraction of a device's metrics that are counters")
	fs.BoolVar(&shape.FleetCounter, "fleet-counter", true, "fleet: add the counter vehicle_distance_meters_total per vehicle")
	fs.IntVar(&shape.ExtraLabels, "extra-labels", 2, "extra labels label_0.. on every series")
	fs.IntVar(&shape.LabelValueLen, "label-value-len", 16, "length of extra label values in bytes")
	fs.IntVar(&shape.LabelValues, "label-values", 20, "distinct values of each extra label")
	fs.Float64Var(&shape.Churn, "churn", 0, "fraction of devices replaced by new ones every -churn-interval")
	fs.DurationVar(&shape.ChurnInterval, "churn-interval", time.Second, "interval of -churn")
	fs.IntVar(&shape.ValueTicks, "value-ticks", 8, "sends of a series with distinct gauge values before they repeat")
	fs.Uint64Var(&shape.Seed, "seed", 1, "random seed: the same seed gives the same series and values")
	fs.StringVar(&summaryPath, "summary", "", "write the JSON summary to this file instead of stdout")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (not the preparation) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	opts.ProgressOut = stderr
	if procs < 1 {
		fmt.Fprintf(stderr, "loadgen: -procs: must be > 0, got %d\n", procs)
		return 2
	}
	runtime.GOMAXPROCS(procs)
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}

	began := time.Now()
	plan, err := load.NewPlan(shape, batch)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	prepare := time.Since(began)
	fmt.Fprintf(stderr, "loadgen: %d series of %d devices (%d labels each) in %d request bodies of %.1f bytes per sample, encoded in %s; sending %.0f samples/s for %s to %s\n",
		plan.Series(), plan.Devices(), plan.LabelsPerSeries(), plan.Bodies(), plan.CompressedBytesPerSample(),
		prepare.Round(time.Millisecond), opts.Rate, opts.Duration, opts.URL)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills
	}()
	stopProfile, err := startProfile(cpuProfile)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	sum, err := load.Run(ctx, plan, opts)
	if perr := stopProfile(); perr != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", perr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	sum.PrepareSeconds = prepare.Seconds()
	fmt.Fprintln(stderr, sum.Line())
	for code, msg := range sum.FirstErrors {
		fmt.Fprintf(stderr, "loadgen: first %s answer: %s\n", code, msg)
	}
	if summaryPath != "" {
		if err := sum.WriteFile(summaryPath); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
	} else if err := sum.Write(stdout); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	switch {
	case sum.Interrupted:
		return 130
	case sum.SamplesAccepted == 0:
		fmt.Fprintln(stderr, "loadgen: no sample was accepted")
		return 1
	}
	return 0
}

// startProfile starts a CPU profile into path ("" : none) and returns the
// function that stops it.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot create -cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot start CPU profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cannot write -cpuprofile: %w", err)
		}
		return nil
	}, nil
}
