// Package ingest owns the HTTP transports through which data enters
// premetrics. Each protocol decodes into a pooled batch.Batch with a pure
// decoder from a subpackage and hands the batch to a Pipeline
// synchronously. Decoders report what they kept and rejected with the
// types of package ingest/outcome.
//
//	POST /api/v1/write                 promrw     remote write 1.0 and 2.0 (NewRemoteWriteHandler)
//	POST /api/v1/push/{name}           jsonevent  JSON device events, by the input {name} (JSONProtocol)
//	POST /write, /api/v2/write         influx     Influx line protocol (InfluxProtocol)
//	POST /v1/metrics                   otlp       OTLP/HTTP metrics, protobuf or JSON (OTLPProtocol)
//	POST /api/v1/import/prometheus     promtext   Prometheus text format (PrometheusTextProtocol)
//	MQTT (package ingest/mqtt)         jsonevent or influx, through PayloadDecoder
//
// Register mounts them all. The push protocols (all but remote write)
// share one handler, NewPushHandler, parameterised by a Protocol: the
// lifecycle below with gzip (or no encoding) in place of snappy, the
// body decompressed up to max_decoded_bytes, and the protocol's own
// checks (404 for an unknown JSON input, 400 for a bad Influx precision,
// 415 for an OTLP Content-Type) before the body is read. All handlers
// that Register mounts share one Gate of max_concurrent_requests slots,
// so the memory bound below holds for all protocols together.
//
// Request lifecycle (POST /api/v1/write):
//
//	method, Content-Type, Content-Encoding, Content-Length  → 405 / 415 / 413
//	wait for one of max_concurrent_requests slots           → 429 after request_queue_timeout
//	Pipeline.Admit()                                        → 429 + Retry-After
//	read body (max_request_bytes) into a pooled buffer      → 413
//	promrw.Decode or DecodeV2 into a pooled batch           → 400 malformed / 413 (max_decoded_bytes)
//	Pipeline.Ingest(ctx, batch)                             → 429 (ErrBackoff) / 503, Retry-After
//	some series rejected, the rest ingested                 → 400 with outcome.Result.Message
//	everything accepted                                     → 204
//
// The body is read into a pooled buffer sized by Content-Length, and no
// further than the Content-Length (which net/http enforces anyway); only
// a body of unknown length goes through http.MaxBytesReader. A steady
// stream of 1.0 requests allocates nothing in the handler: what remains
// are net/http's own allocations (about 25 per request); a 2.0 answer adds
// its three response header values (one allocation, and one more for the
// text of a count over 99).
//
// Memory ownership. The request body buffer and the batch belong to the
// handler and are reused across requests: a Pipeline must not keep the
// batch, its series or label strings after Ingest returns (see package
// batch). Memory is bounded by max_concurrent_requests × (max_request_bytes
// + the batch built from max_decoded_bytes); requests beyond that wait for
// a slot, then get 429 rather than queueing without bound.
//
// Content negotiation. The proto parameter of Content-Type picks the
// protocol, as the remote write 2.0 spec says:
//
//	Content-Type                                                  decoder
//	(absent)                                                      1.0  promrw.Decode
//	application/x-protobuf                                        1.0  promrw.Decode
//	application/x-protobuf;proto=prometheus.WriteRequest          1.0  promrw.Decode
//	application/x-protobuf;proto=io.prometheus.write.v2.Request   2.0  promrw.DecodeV2
//	application/x-protobuf;proto=anything else                    415, naming both protos
//	any other media type                                          415, naming both protos
//
// Both are snappy-compressed: Prometheus always sends Content-Encoding
// snappy and, like Prometheus' own receiver, an absent Content-Encoding is
// taken as snappy; any other encoding is 415. A 1.0 body sent as 2.0 (or
// a 2.0 body sent as 1.0) is a 400 that says so, not an empty 204.
//
// Remote write 2.0 answers. Every answer to a request negotiated as 2.0
// (204, 400, 413, 429, 503) carries X-Prometheus-Remote-Write-Samples-
// Written, -Histograms-Written and -Exemplars-Written with what was
// written: the float samples the pipeline accepted, 0 unless the answer is
// 204 or a 400 for a partly rejected request. premetrics writes no native
// histograms (their series' histogram samples are rejected, 400) and no
// exemplars (dropped), so those two are always 0; a 2.0 sender sees that
// its exemplars were not written. Limits, status codes and the 400 body
// are those of 1.0; the body names the protocol ("remote write 2.0:
// accepted ...").
//
// Self metrics (protocol="remote_write", for 1.0 and 2.0 alike):
//
//	premetrics_ingest_requests_total{protocol,code}          every request, once
//	premetrics_ingest_samples_total{protocol}                samples the pipeline accepted
//	premetrics_ingest_rejected_samples_total{protocol,reason} rejected samples, one reason per outcome.Reason
//	premetrics_ingest_request_duration_seconds{protocol}     request latency
//
// A client that goes away while waiting for a slot is answered (and
// counted) with code 499, as nginx does. Rejections are counted
// only in requests that get a final answer (204 or 400), not in those the
// sender will retry (429, 503). Warnings are rate-limited: at most one per
// kind per 10 s, with the number suppressed since the last one.
package ingest
