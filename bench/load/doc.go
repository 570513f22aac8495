// Package load is an open-loop, rate-controlled generator of Prometheus
// remote write 1.0 load, for bench/cmd/loadgen (`make loadtest`) and the
// benchmark harness (`make bench`). It sends to loopback addresses only
// (bench/loopback).
//
// # Series
//
// A Shape describes the series: the vehicle fleet of SCENARIOS.md
// (bench/fleet: vehicle_rpm{engine=ic|electric}, vehicle_warnings, and
// optionally the counter vehicle_distance_meters_total per vehicle,
// labelled vehicle_id, region, model) or generic devices (metrics
// bench_gauge_<i> and bench_counter_<i>_total, labelled device), plus
// extra labels label_<j> of a given value length and cardinality. Churn
// replaces a fraction of the devices by new ones (new ids, hence new
// series) at an interval. Gauge values are precomputed for ValueTicks
// sends and then repeat; counters grow by 1..10 per send, never reset.
//
// # Pre-encoded bodies
//
// NewPlan encodes every request body once, before the run: one body per
// batch of series, one sample per series; a tick (every series once) is
// one round over the bodies. The snappy block is produced by this
// package's own encoder (snappy.go), which keeps the bytes that change
// between sends out of back-references:
//
//	TimeSeries { labels...,  Sample { 0x09 value(8) 0x10 timestamp(6-byte varint) } }
//	                │                        │                  │
//	    device id digits (with churn):   unique hole      shared hole: every
//	    unique hole, a literal          (a literal)       timestamp of a body is
//	                                                       equal, so the encoder
//	                                                       may copy one from another
//
// Render copies a body and rewrites, in place in the compressed bytes,
// each sample's value, the literal timestamp bytes, and the device ids:
// about 5 ns per sample and no allocation, so the generator's CPU is
// mostly its HTTP requests. Timestamps are the request's due time in
// milliseconds; its 6-byte varint covers 1971 to 2109. Bodies are about
// 30% larger than golang/snappy's because values are never compressed.
//
// # Pacing
//
// Run schedules request i at an absolute offset from the start: the
// samples of the requests before it divided by the rate. Connection w of
// Connections carries the bodies j with j mod Connections == w, like a
// Prometheus remote write shard, so the samples of a series always arrive
// in order: its worker sleeps until the next of its requests is due,
// renders it and sends it on its keep-alive connection (a minimal
// HTTP/1.1 client: one writev, no extra goroutines). Sleep overshoot
// never accumulates; when a connection is still busy its requests leave
// late ("behind schedule", reported as maximum, mean and final) and catch
// up as soon as it is free. Answers do not change the offered load: 429,
// 5xx and 400 are counted, never retried. The Summary (JSON) reports offered, achieved, accepted and
// sustained rates, answers by status, and the generator's own CPU time.
//
// # Concurrency and memory
//
// A Plan is immutable after NewPlan and shared by the workers; each
// worker renders into its own buffer, which it reuses.
package load
