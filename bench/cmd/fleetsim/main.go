// Command fleetsim simulates a fleet of connected hybrid vehicles
// (SCENARIOS.md scenario 1) and pushes their readings to premetrics, for
// `make demo` and load tests.
//
// Every -interval each vehicle reports IC_RPM, ELECTRIC_RPM and WARNINGS.
// With -protocol json (the default) they are JSON events, one per reading
// and NDJSON line, exactly as SCENARIOS.md has them
// ({"eventType","vehicleId","region","timestamp","measurement"}), posted
// to /api/v1/push/vehicles (gzipped with -gzip); the vehicles input of
// config.example.yaml maps them to vehicle_rpm{engine="ic"|"electric"}
// and vehicle_warnings, labelled vehicle_id and region. The model is not
// in the events: it comes from the vehicle registry (-registry writes the
// CSV the enrichment will use). With -protocol remote_write they are those
// series as Prometheus remote write 1.0 to /api/v1/write, also labelled
// model unless -no-model-label. Readings are stamped with event time
// and sent in requests of -batch events (series) by -concurrency senders;
// a -late-fraction of requests is held back -late-delay. 429 and 5xx are
// retried up to -retries times, honouring Retry-After.
//
// Only loopback URLs are accepted. It prints progress every 10 s and a
// final line; -summary writes a JSON report with the ground truth of the
// reference pipeline's outputs per 5 s window. The exit status is 1 when a
// request was still not accepted after its retries, 2 on bad flags, 130
// when interrupted (the summary is still written).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/premetrics/premetrics/bench/fleet"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var summaryPath, registryPath string
	fs.StringVar(&o.Protocol, "protocol", protocolJSON, `"json" (NDJSON events of SCENARIOS.md) or "remote_write"`)
	fs.StringVar(&o.URL, "url", "", "URL to push to, loopback only (default http://127.0.0.1:9201/api/v1/push/vehicles for json, .../api/v1/write for remote_write)")
	fs.BoolVar(&o.Gzip, "gzip", false, "json: gzip the bodies (Content-Encoding: gzip)")
	fs.IntVar(&o.Vehicles, "vehicles", 1000, "number of vehicles")
	fs.DurationVar(&o.Interval, "interval", time.Second, "time between two readings of a vehicle")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "how long to run")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same fleet and readings")
	fs.IntVar(&o.Batch, "batch", 1000, "events (json) or series (remote_write) per request, one sample each")
	fs.IntVar(&o.Concurrency, "concurrency", 2, "requests in flight")
	fs.Float64Var(&o.LateFraction, "late-fraction", 0, "fraction of requests sent late")
	fs.DurationVar(&o.LateDelay, "late-delay", 5*time.Second, "how late -late-fraction requests are sent")
	fs.IntVar(&o.Retries, "retries", 5, "retries of a request answered 429, 5xx or not at all")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of one HTTP attempt")
	fs.DurationVar(&o.Progress, "progress", 10*time.Second, "progress line interval (0: none)")
	fs.DurationVar(&o.TruthWindow, "truth-window", 5*time.Second, "window of the expected values in the summary")
	fs.BoolVar(&o.NoModelLabel, "no-model-label", false, "remote_write: leave the model label off (JSON events never have it)")
	fs.StringVar(&summaryPath, "summary", "", "write a JSON summary to this file")
	fs.StringVar(&registryPath, "registry", "", "write the vehicle registry CSV (vehicle_id,model,region) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fleetsim: unexpected arguments %q\n", fs.Args())
		return 2
	}
	o.defaults()
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "fleetsim: %v\n", err)
		return 2
	}
	if registryPath != "" {
		if err := writeRegistry(registryPath, o); err != nil {
			fmt.Fprintf(stderr, "fleetsim: %v\n", err)
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills
	}()
	client := &http.Client{Timeout: o.Timeout}
	s, err := run(ctx, o, client, stdout)
	if s != nil {
		fmt.Fprintln(stdout, s.line())
		if summaryPath != "" {
			if werr := s.writeFile(summaryPath); werr != nil {
				fmt.Fprintf(stderr, "fleetsim: %v\n", werr)
				return 1
			}
		}
		if err == nil && s.FailedRequests > 0 {
			err = fmt.Errorf("%d requests (%d samples): %w", s.FailedRequests, s.SamplesFailed, errFailedRequests)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetsim: %v\n", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	return 0
}

func writeRegistry(path string, o options) error {
	f := fleet.New(fleet.Options{Vehicles: o.Vehicles, Seed: o.Seed})
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot create registry file: %w", err)
	}
	if err := f.WriteRegistry(file); err != nil {
		_ = file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("cannot write registry file: %w", err)
	}
	return nil
}
