// Package load is an open-loop, rate-controlled generator of push load —
// Prometheus remote write 1.0, JSON events (NDJSON), Influx line
// protocol, OTLP/HTTP protobuf, Prometheus text, or JSON events published
// to an MQTT broker — for bench/cmd/loadgen (`make loadtest`) and the
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
// # Protocols
//
// Shape.Protocol chooses the encoding of the same series:
//
//	remote_write     snappy protobuf WriteRequest, one sample per series     POST /api/v1/write
//	json             NDJSON, one event per sample                            POST /api/v1/push/{name}
//	influx           line protocol, one line per sample, ns timestamps       POST /write
//	otlp             ExportMetricsServiceRequest, one data point per sample  POST /v1/metrics
//	prometheus_text  text format, one line per sample, ms timestamps         POST /api/v1/import/prometheus
//	mqtt             the json bodies, one per message, QoS 1                 PUBLISH <topic of the connection>
//
// JSON with the fleet schema is the vehicle events of SCENARIOS.md
// ({"eventType":"IC_RPM","vehicleId":…,"region":…,"timestamp":…,"measurement":…},
// bench/fleet), which the vehicles input of config.example.yaml maps back
// to the fleet's series without model (so no distance counter and no
// extra labels); with the generic schema one event per sample,
// {"device":…,"label_0":…,"metric":"bench_gauge_0","timestamp":…,"value":…},
// mapped by the input Shape.JSONInput returns. Influx lines split the
// metric name at its first '_' into measurement and field
// (vehicle,engine=ic,model=…,region=New\ Zealand,vehicle_id=… rpm=2356 <ns>),
// which the Influx decoder joins back, so they decode to exactly the
// series of remote write. OTLP has a Metric per metric name of a body,
// gauges and counters as monotonic cumulative Sums, named as
// OpenTelemetry would (vehicle.rpm, unit {rpm}; vehicle.distance, unit
// m) so that premetrics' OTLP naming gives back the same series
// (vehicle_rpm, vehicle_distance_meters_total; bench_counter_<i> gets its
// _total), the labels as data point attributes, and no resource or scope
// attributes (which would add job, instance, otel_scope_name labels;
// otlp.go). Prometheus text lines are the remote write series as written
// in an exposition, grouped by metric under # TYPE lines. Text and OTLP
// bodies are not compressed.
//
// # Pre-encoded bodies
//
// NewPlan encodes every request body once, before the run: one body per
// batch of series, one sample per series; a tick (every series once) is
// one round over the bodies. Text bodies (text.go) keep a fixed-width
// hole per value, timestamp and (with churn) device id, padded with
// spaces that the formats allow; OTLP bodies (otlp.go) have fixed64 value
// and time_unix_nano fields, so nothing changes length either. The snappy block of remote write is
// produced by this package's own encoder (snappy.go), which keeps the
// bytes that change between sends out of back-references:
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
// about 5 ns per sample and no allocation (text bodies: the value's text
// from a table or an integer, the timestamp copied), so the generator's
// CPU is mostly its HTTP requests. Timestamps are the request's due time in
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
// 5xx and 400 are counted, never retried; the data points an OTLP 200
// reports rejected (partial_success) are counted as rejected. With MQTT
// a connection is a paho client publishing to its own topic, with up to
// MQTTOptions.Inflight publishes waiting for their PUBACK (mqtt.go); a
// PUBACK counts as accepted. The Summary (JSON) reports offered,
// achieved, accepted and sustained rates, answers by status, and the
// generator's own CPU time.
//
// # Concurrency and memory
//
// A Plan is immutable after NewPlan and shared by the workers; each
// worker renders into its own buffer, which it reuses.
package load
