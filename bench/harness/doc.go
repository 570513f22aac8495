// Package harness is the benchmark harness of `make bench`
// (bench/cmd/benchharness): it measures premetrics from the outside, as a
// user's load test would, against the targets of the throughput issue,
// and renders the results as the harness section of bench/RESULTS.md.
//
// Each Scenario runs with fresh processes, all on 127.0.0.1:
//
//	bin/loadgen ──remote write──► bin/premetrics ──remote write──► sink (in the harness)
//	(own process,                  bench/bench.yaml                 decodes every request,
//	 own CPU)                          ▲                            window close → 2xx latency
//	                                   │ /proc/<pid>/stat, status: CPU, RSS
//	             harness monitor ──────┘ /metrics every second: heap, flushes, drops
//
// What is measured, and how:
//
//   - CPU: utime+stime of premetrics from /proc/<pid>/stat, from just
//     before the load until every window is delivered, per million input
//     samples (premetrics_ingest_samples_total).
//   - Rates, 429s, behind schedule: the generator's JSON summary
//     (bench/load.Summary) and premetrics_ingest_requests_total.
//   - Memory: VmRSS and VmHWM of /proc/<pid>/status and
//     go_memstats_heap_inuse_bytes, per active input series.
//   - Flush duration per window: premetrics_aggregate_flush_duration_seconds,
//     scraped every second, so that the sum and count deltas between two
//     scrapes give the duration of single flushes; also the highest bucket.
//   - Latency: for every output sample the sink computes receive time −
//     (timestamp + lateness): the timestamp is the window end, and the
//     window is emitted lateness after it. Every aggregation of the config
//     must therefore use the harness' lateness (BENCH_LATENESS).
//   - Drops by reason: every non-zero series of the dropped, late and
//     rejected counters.
//
// A memory guard kills premetrics above Options.MaxRSS, so that a
// cardinality explosion can fail a target but never exhaust the machine.
// When premetrics serves /debug/pprof, CPU and heap profiles are saved to
// Options.ProfileDir.
package harness
