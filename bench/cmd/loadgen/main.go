// Command loadgen is an open-loop, rate-controlled load generator of
// every protocol premetrics takes — Prometheus remote write 1.0, JSON
// events, Influx line protocol, OTLP/HTTP, Prometheus text, and JSON
// events over MQTT — for `make loadtest` and the benchmark harness
// (`make bench`). It sends to loopback addresses only.
//
//	loadgen -url http://127.0.0.1:9201/api/v1/write -rate 1000000 -duration 60s \
//	        -schema fleet -series 100000 -summary load.json
//	loadgen -protocol json -rate 200000 -series 100000     # vehicle events to /api/v1/push/vehicles
//	loadgen -protocol influx -rate 200000                  # line protocol to /write
//	loadgen -protocol otlp -rate 200000                    # OTLP/HTTP protobuf to /v1/metrics
//	loadgen -protocol prometheus_text -rate 200000         # text format to /api/v1/import/prometheus
//	loadgen -protocol mqtt -mqtt-broker tcp://127.0.0.1:1883 -rate 100000   # vehicle events, QoS 1
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
// Protocols (-protocol): "remote_write" (default) to /api/v1/write;
// "json", NDJSON events to /api/v1/push/{name}, one event per sample:
// with -schema fleet the vehicle events of SCENARIOS.md
// ({"eventType","vehicleId","region","timestamp","measurement"}, for the
// vehicles input of config.example.yaml; then -fleet-counter is off and
// -extra-labels 0 unless set), with -schema generic
// {"device","label_<j>"...,"metric","timestamp","value"} for the input
// that -print-json-input prints; "influx", line protocol to /write, one
// line per sample: the metric name split at its first '_' into
// measurement and field (vehicle,engine=ic,... rpm=2356 <ns>), which the
// Influx decoder joins back; "otlp", OTLP/HTTP protobuf
// ExportMetricsServiceRequests to /v1/metrics, a data point per sample,
// gauges and counters as monotonic cumulative Sums (the fleet's
// vehicle.rpm {rpm}, vehicle.warnings {warning}, vehicle.distance m,
// which premetrics names vehicle_rpm, vehicle_warnings,
// vehicle_distance_meters_total), an answer's partial_success counted
// as rejected samples; "prometheus_text", the text format with
// millisecond timestamps to /api/v1/import/prometheus, a # TYPE line
// before the lines of each metric; "mqtt", the "json" events published
// with QoS 1 to -mqtt-broker, -batch events per message (default 20),
// connection w publishing to -mqtt-topic with {gateway} replaced by gw<w>,
// with up to -mqtt-inflight publishes waiting for their PUBACK; a PUBACK
// (status "puback") counts the message's events as accepted — by the
// broker. -url defaults to the protocol's endpoint on 127.0.0.1:9201.
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
	"strings"
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
		printInput  bool
	)
	fs.StringVar(&shape.Protocol, "protocol", load.ProtocolRemoteWrite, `"remote_write", "json" (NDJSON events), "influx" (line protocol), "otlp" (OTLP/HTTP protobuf), "prometheus_text" or "mqtt" (JSON events published to -mqtt-broker)`)
	fs.StringVar(&opts.URL, "url", "", "URL to send to, loopback only (default: the protocol's endpoint on 127.0.0.1:9201: /api/v1/write, /api/v1/push/vehicles or /api/v1/push/bench, /write, /v1/metrics, /api/v1/import/prometheus)")
	fs.StringVar(&opts.MQTT.Broker, "mqtt-broker", "tcp://127.0.0.1:1883", "mqtt: the broker, tcp:// on a loopback address")
	fs.StringVar(&opts.MQTT.Topic, "mqtt-topic", "vehicles/"+load.MQTTGateway+"/events", "mqtt: topic of the messages, "+load.MQTTGateway+" replaced by gw<connection>")
	fs.IntVar(&opts.MQTT.Inflight, "mqtt-inflight", 64, "mqtt: publishes of one connection that may wait for their PUBACK")
	fs.Float64Var(&opts.Rate, "rate", 100_000, "samples (events) per second")
	fs.DurationVar(&opts.Duration, "duration", 60*time.Second, "how long to send")
	fs.IntVar(&opts.Connections, "connections", 8, "keep-alive connections, one request in flight each")
	fs.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.DurationVar(&opts.Progress, "progress", 10*time.Second, "progress line interval on stderr (0: none)")
	fs.IntVar(&batch, "batch", 2000, "series (one sample, event, line or data point each) per request (Prometheus' default max_samples_per_send is 2000); events per message with -protocol mqtt (default 20)")
	fs.IntVar(&procs, "procs", 1, "GOMAXPROCS of the generator: it needs less than a core, and one P saves waking idle threads")
	fs.StringVar(&shape.Schema, "schema", load.SchemaFleet, `"fleet" (vehicles of SCENARIOS.md) or "generic"`)
	fs.IntVar(&shape.Series, "series", 100_000, "active series (rounded up to whole devices)")
	fs.IntVar(&shape.MetricsPerDevice, "metrics-per-device", 1, "generic: series (metric names) per device")
	fs.Float64Var(&shape.CounterFraction, "counter-fraction", 0.5, "generic: fraction of a device's metrics that are counters")
	fs.BoolVar(&shape.FleetCounter, "fleet-counter", true, "fleet: add the counter vehicle_distance_meters_total per vehicle (default false with -protocol json or mqtt)")
	fs.IntVar(&shape.ExtraLabels, "extra-labels", 2, "extra labels label_0.. on every series (default 0 with -protocol json or mqtt and -schema fleet)")
	fs.IntVar(&shape.LabelValueLen, "label-value-len", 16, "length of extra label values in bytes")
	fs.IntVar(&shape.LabelValues, "label-values", 20, "distinct values of each extra label")
	fs.Float64Var(&shape.Churn, "churn", 0, "fraction of devices replaced by new ones every -churn-interval")
	fs.DurationVar(&shape.ChurnInterval, "churn-interval", time.Second, "interval of -churn")
	fs.IntVar(&shape.ValueTicks, "value-ticks", 8, "sends of a series with distinct gauge values before they repeat")
	fs.Uint64Var(&shape.Seed, "seed", 1, "random seed: the same seed gives the same series and values")
	fs.StringVar(&summaryPath, "summary", "", "write the JSON summary to this file instead of stdout")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (not the preparation) to this file")
	fs.BoolVar(&printInput, "print-json-input", false, "print the `inputs: json:` entry that maps the -protocol json (and mqtt) events of -schema, and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	events := shape.Protocol == load.ProtocolJSON || shape.Protocol == load.ProtocolMQTT
	if events && shape.Schema == load.SchemaFleet {
		// The vehicle events have exactly the fields of SCENARIOS.md.
		if !set["fleet-counter"] {
			shape.FleetCounter = false
		}
		if !set["extra-labels"] {
			shape.ExtraLabels = 0
		}
	}
	if printInput {
		_, yaml := shape.JSONInput()
		fmt.Fprint(stdout, "inputs:\n  json:\n"+indent(yaml, "    "))
		return 0
	}
	if shape.Protocol == load.ProtocolMQTT {
		if set["url"] {
			fmt.Fprintln(stderr, "loadgen: -url: not used with -protocol mqtt: set -mqtt-broker")
			return 2
		}
		if !set["batch"] {
			batch = 20 // several events per message, as a gateway sends
		}
	} else {
		for _, f := range []string{"mqtt-broker", "mqtt-topic", "mqtt-inflight"} {
			if set[f] {
				fmt.Fprintf(stderr, "loadgen: -%s: only with -protocol mqtt\n", f)
				return 2
			}
		}
		opts.MQTT = load.MQTTOptions{}
	}
	if opts.URL == "" && shape.Protocol != load.ProtocolMQTT {
		opts.URL = defaultURL(&shape)
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
	to := opts.URL
	if shape.Protocol == load.ProtocolMQTT {
		to = opts.MQTT.Broker + " topic " + opts.MQTT.Topic
	}
	fmt.Fprintf(stderr, "loadgen: %d series of %d devices (%d labels each) in %d %s request bodies of %.1f bytes per sample, encoded in %s; sending %.0f samples/s for %s to %s\n",
		plan.Series(), plan.Devices(), plan.LabelsPerSeries(), plan.Bodies(), plan.Protocol(), plan.CompressedBytesPerSample(),
		prepare.Round(time.Millisecond), opts.Rate, opts.Duration, to)

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

// defaultURL is the endpoint of shape's protocol on the default listen
// address of premetrics.
func defaultURL(shape *load.Shape) string {
	const base = "http://127.0.0.1:9201"
	switch shape.Protocol {
	case load.ProtocolJSON:
		name, _ := shape.JSONInput()
		return base + "/api/v1/push/" + name
	case load.ProtocolInflux:
		return base + "/write"
	case load.ProtocolOTLP:
		return base + "/v1/metrics"
	case load.ProtocolPrometheusText:
		return base + "/api/v1/import/prometheus"
	}
	return base + "/api/v1/write"
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var sb strings.Builder
	for _, l := range lines {
		if l != "" {
			sb.WriteString(prefix + l)
		}
	}
	return sb.String()
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
