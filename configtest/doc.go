// Package configtest runs config unit tests, `premetrics test FILE...`:
// input samples in, expected output samples out, like `promtool test
// rules`, so a rule can be tested before it is deployed.
//
// A test pushes its input through the whole pipeline of a config —
// decoding, relabel_configs, every aggregation, rollup chains, routing,
// each endpoint's write_relabel_configs — on a simulated clock, lets every
// window close, and compares what would be written to remote write with
// what it expects. Nothing is started: no listener, no goroutine outlives
// a run, no request is sent.
//
// # File format
//
//	config_file: config.example.yaml   # required; relative to this file
//	env: {PROMETHEUS_URL: "http://x"}  # optional: ${NAME} values for the config,
//	                                   # before the process environment
//	tables:                            # optional: rows of enrich tables, instead of
//	  cpu_thresholds:                  # their source (required for http and
//	    - {hostname: sleepy, allowed_top: 40}  # postgres tables; file tables
//	                                   # are read from their file otherwise)
//	tests:
//	  - name: vehicles in motion       # required, unique
//	    start_time: 0                  # optional: what `at` counts from; Unix ms
//	                                   # or RFC 3339; default 0 (the Unix epoch)
//	    compare: ['vehicle_rpm:5s_by_region_count_series']
//	                                   # optional: series selectors; only outputs
//	                                   # matching one are compared (default: all)
//	    remote_write: prometheus       # optional: compare only this endpoint's
//	                                   # output (default: each endpoint's)
//	    input:                         # required: chunks, in arrival order
//	      - at: 1s                     # when it arrives: a duration after
//	                                   # start_time; default: its newest sample's
//	                                   # timestamp (it arrives without delay)
//	        # Prometheus text format, as POSTed to /api/v1/import/prometheus:
//	        series: |
//	          vehicle_rpm{engine="ic",region="UK",vehicle_id="V1"} 2356 1000
//	      # or JSON events (object, array, NDJSON) mapped by the inputs.json
//	      # entry json_input, as POSTed to /api/v1/push/vehicles:
//	      - json_input: vehicles
//	        events: |
//	          {"eventType": "IC_RPM", "vehicleId": "V2", "region": "UK", "timestamp": 1730620801000, "measurement": 900}
//	    # Every output sample: exact labels, value, timestamp (the window end):
//	    expect: |
//	      vehicle_rpm:5s_by_region_count_series{region="UK"} 1 5000
//	      vehicle_rpm:5s_by_region_count_series{region="UK"} 1 1730620805000
//	    expect_late:                   # optional: premetrics_aggregate_late_samples_total
//	      vehicles_in_motion: 0        # of these aggregations
//	    # Optional: self metric counters at the end of the run:
//	    expect_metrics: |
//	      premetrics_dropped_samples_total{reason="late",stage="aggregate"} 0
//
// Keys are strict: an unknown key is an error. Timestamps are Unix
// milliseconds everywhere: in the input text, in JSON events as the
// config's inputs.json timestamp says (the decoder's rules apply: JSON
// event times before 2000 are rejected), in expect. A sample line without
// a timestamp, or an event without its timestamp field, gets the chunk's
// arrival time as the daemon gives the receive time; such a chunk needs
// `at`. Input with real timestamps needs a start_time near them when it
// gives `at`: samples far ahead of the clock are rejected as in
// production (max_future_skew). A chunk is one request; its lines or events must all decode: a
// rejected one is an error of the file, as the daemon would answer 400.
//
// expect and expect_metrics are Prometheus text format too (comments
// allowed, one sample a line, order free). An expect line needs a
// timestamp; an expect_metrics line takes none. `expect: ""` expects no
// output at all; without expect the output is not checked, and a test
// must check something (expect, expect_late or expect_metrics). A
// histogram output (a native histogram) is stated by its count and sum,
// as <name>_count and <name>_sum lines (what histogram_count and
// histogram_sum return in Prometheus); its buckets are not compared.
// expect_metrics may name premetrics_aggregate_input_samples_total,
// premetrics_aggregate_late_samples_total,
// premetrics_aggregate_output_samples_total,
// premetrics_aggregate_rejected_samples_total and
// premetrics_dropped_samples_total; a series never exported counts as 0.
//
// # Run
//
// Each test runs on a pipeline of its own, compiled from the config as the
// daemon compiles it (a private registry for its self metrics), whose
// remote_write endpoints are recorders. The clock is simulated:
//
//	for each chunk, in order:  Flush(at, lateness honoured)   windows due by then are emitted
//	                           Ingest(chunk) with now = at     late / future judged at `at`
//	at the end:                Flush(end of time)              every window still open is emitted
//
// So lateness behaves as in production: a window is emitted when the clock
// reaches its end + lateness; a sample for it arriving at that instant or
// later is late (counted, dropped, never emitted); one arriving a
// millisecond earlier is aggregated. Samples more than max_future_skew
// after `at` are rejected. Flushing once per chunk is what the daemon's
// flush loop does between two requests: nothing else happens in between.
//
// # Comparison
//
// For each compared endpoint, the samples written (after its
// write_relabel_configs, restricted to `compare`) and the expected ones are
// compared as multisets of (series, timestamp, value); values exactly, NaN
// equal to NaN. Every difference is a Mismatch: missing (expected, not
// written), unexpected (written, not expected), different value (same
// series and timestamp), different timestamp (a series written as often as
// expected, at other times). Result.Write prints a failing test as a diff
// in Prometheus text format, expected (-) and got (+), sorted by series
// and time, with the expectation's line in the test file:
//
//	--- FAIL: warning lights, latest per vehicle, summed per region (config.example.test.yaml:36)
//	    output (-expected +got):
//	    - vehicle_warnings_latest:5s_by_region_sum_samples{region="UK"} 6 5000   line 48: different value
//	    + vehicle_warnings_latest:5s_by_region_sum_samples{region="UK"} 5 5000
//	    + vehicle_warnings_latest:5s_by_region_sum_samples{region="UK"} 1 10000  unexpected
//	    self metrics at the end of the run (-expected +got):
//	    - premetrics_aggregate_late_samples_total{aggregation="warnings"} 1  line 49: different value
//	    + premetrics_aggregate_late_samples_total{aggregation="warnings"} 0
//
// # Errors
//
// Load reports every problem of a test file at once, each with file, line
// and field path (`t.yaml:9: tests[0].input[0].series: rejected: malformed:
// column 11: ...`), and the config's problems as config.Load does. The
// command exits 2 for those, 1 when a test failed, 0 when all passed.
//
// # Relation to the daemon
//
// The ingest step (ingest.go) mirrors pipeline.Pipeline.Ingest, which reads
// time.Now() itself; TestIngestIsPipelineIngest checks that both write
// and count the same. Flushing is pipeline.Pipeline.Flush itself.
package configtest
