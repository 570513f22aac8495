// Package ingest owns the HTTP transports through which data enters
// premetrics. Each protocol decodes into a pooled batch.Batch with a pure
// decoder from a subpackage (promrw for Prometheus remote write) and hands
// the batch to a Pipeline synchronously.
//
// Request lifecycle (POST /api/v1/write):
//
//	method, Content-Type, Content-Encoding, Content-Length  → 405 / 415 / 413
//	wait for one of max_concurrent_requests slots           → 429 after request_queue_timeout
//	Pipeline.Admit()                                        → 429 + Retry-After
//	read body (max_request_bytes) into a pooled buffer      → 413
//	promrw.Decode into a pooled batch (max_decoded_bytes)   → 400 malformed / 413
//	Pipeline.Ingest(ctx, batch)                             → 429 (ErrBackoff) / 503, Retry-After
//	some series rejected, the rest ingested                 → 400 with a summary
//	everything accepted                                     → 204
//
// The body is read into a pooled buffer sized by Content-Length, and no
// further than the Content-Length (which net/http enforces anyway); only
// a body of unknown length goes through http.MaxBytesReader. A steady
// stream of requests allocates nothing in the handler: what remains are
// net/http's own allocations (about 25 per request).
//
// Memory ownership. The request body buffer and the batch belong to the
// handler and are reused across requests: a Pipeline must not keep the
// batch, its series or label strings after Ingest returns (see package
// batch). Memory is bounded by max_concurrent_requests × (max_request_bytes
// + the batch built from max_decoded_bytes); requests beyond that wait for
// a slot, then get 429 rather than queueing without bound.
//
// Headers. Prometheus always sends Content-Type application/x-protobuf
// and Content-Encoding snappy. Like Prometheus' own receiver, an absent
// Content-Type is taken as remote write 1.0 and an absent Content-Encoding
// as snappy; any other encoding is 415. A proto parameter of
// io.prometheus.write.v2.Request (remote write 2.0) is 415 for now, which
// tells a 2.0 sender to fall back to 1.0.
//
// Self metrics (protocol="remote_write"):
//
//	premetrics_ingest_requests_total{protocol,code}          every request, once
//	premetrics_ingest_samples_total{protocol}                samples the pipeline accepted
//	premetrics_ingest_rejected_samples_total{protocol,reason} samples of rejected series
//	premetrics_ingest_request_duration_seconds{protocol}     request latency
//
// A client that goes away while waiting for a slot is answered (and
// counted) with code 499, as nginx does. Rejections are counted
// only in requests that get a final answer (204 or 400), not in those the
// sender will retry (429, 503). Warnings are rate-limited: at most one per
// kind per 10 s, with the number suppressed since the last one.
package ingest
