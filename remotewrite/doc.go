// Package remotewrite sends series to Prometheus-compatible receivers with
// Prometheus remote write 1.0: a snappy-compressed protobuf
// prometheus.WriteRequest per HTTP POST, with the headers
//
//	Content-Encoding: snappy
//	Content-Type: application/x-protobuf
//	X-Prometheus-Remote-Write-Version: 0.1.0
//	User-Agent: premetrics/<version>
//
// One Queue serves one entry of the `remote_write:` list.
//
//	Enqueue ──► write_relabel_configs ──► shard = batch.Hash(labels) % max_shards
//	                                          │
//	        ┌─────────────────────────────────┼──────────────────────┐
//	        ▼                                 ▼                      ▼
//	   shard 0: FIFO of blocks ──────► sender goroutine ──► Client.Store (one request at a time)
//	            (encoded TimeSeries)          │                     ▲
//	                                          └── retry / split ────┘
//
// # Batching and order
//
// Enqueue encodes each series it is given at once, as one
// WriteRequest.timeseries field (a record: the labels and the samples of
// that call), and appends it to the newest block of the series' shard. A
// block holds at most max_samples_per_send samples (a call's samples are
// split over blocks when needed), so a block, its records concatenated, is
// a WriteRequest body as is. A block that fills up is snappy-compressed at
// once (sealed) and waits for its sender compressed; a block sent at its
// deadline is compressed by the sender. Buffered data thus takes what it
// takes on the wire (for aggregation outputs, 15–25 bytes per sample), no
// label set is kept as Go strings, and nothing is cached between windows.
// Splitting a sealed block after a 400 decompresses it again.
//
// Each shard has one sender goroutine and sends one block at a time, the
// oldest first, so the samples of a series (always in the same shard)
// reach the receiver in the order they were enqueued. A sender sends the
// oldest block when it is full, or when batch_send_deadline has passed
// since its first record was enqueued. A series enqueued twice before its
// block leaves appears as two TimeSeries in that request, in order.
//
// # Outcomes of a request
//
//	2xx                            samples_sent_total
//	5xx, 429 (retry_on_http_429),  retry with equal-jitter exponential backoff
//	network error, timeout         min_backoff..max_backoff, or exactly the
//	                               receiver's Retry-After (seconds or HTTP date,
//	                               at most one hour); retries_total
//	400                            split the request by record into halves and
//	                               send each half, recursively; a record that
//	                               still gets 400 alone is dropped (http_400).
//	                               A block of N records costs at most 2N-1 requests.
//	other 4xx, 3xx, 429 (no retry) drop the request (http_<code>)
//
// A sender retries until the request succeeds or Stop's deadline passes.
// Meanwhile the shard fills up: Full reports true at 90% of capacity (ingest
// then answers 429), and Enqueue blocks at 100% until its context is done.
// Nothing grows without bound: a Queue holds at most capacity*max_shards
// samples in blocks, and each shard keeps at most 8 emptied blocks and 8
// compressed buffers for reuse (the rest are freed, so memory shrinks
// after a burst).
//
// # Drops
//
// Every sample Enqueue accepts is eventually sent or dropped, and each drop
// is counted in premetrics_remotewrite_samples_dropped_total{endpoint,reason}
// and in the shared premetrics_dropped_samples_total{stage="remotewrite",reason}
// (with several remote_write entries a sample can be counted once per entry):
//
//	relabel      write_relabel_configs dropped the series (intended)
//	queue_full   Enqueue's context ended while a shard was full
//	shutdown     Stop's deadline passed (or Enqueue after Stop)
//	http_400     the receiver rejected the series on its own
//	http_<code>  any other non-retried status
//	send_error   the Client failed without a status and without RecoverableError
//
// # Memory ownership
//
// Enqueue does not keep the batch or any of its slices: it encodes them
// into the shard's blocks. Compression uses a per-shard buffer; the
// compressed request handed to Client.Store is valid only during the call.
//
// # Wire format (hand-written, field numbers of prometheus/prompb)
//
//	WriteRequest  { 1: repeated TimeSeries }
//	TimeSeries    { 1: repeated Label, 2: repeated Sample }
//	Label         { 1: string name, 2: string value }
//	Sample        { 1: double value (fixed64), 2: int64 timestamp_ms (varint) }
//
// Fields with zero values are omitted as proto3 does (a -0 value is kept).
//
// # Configuration
//
// Config follows Prometheus' remote_write syntax. Defaults are filled in by
// UnmarshalYAML before the entry is decoded (like Prometheus), so explicit
// values, including zeros and false, are kept and then checked by Validate.
// The yaml.v2-style UnmarshalYAML(func(any) error) reuses the caller's
// decoder, so a strict decoder (yaml.v3 KnownFields) still rejects unknown
// keys at every level. Code that builds a Config in Go starts from
// DefaultConfig. min_shards is accepted for compatibility; the number of
// shards is fixed at max_shards. HTTP/2 is off by default (enable_http2),
// as in Prometheus' remote write; relative file paths of the HTTP client
// config (tls_config, password_file, ...) are resolved by the caller.
//
// # Lifecycle
//
// New validates and compiles the config; Start starts one goroutine per
// shard; Stop stops accepting, drains until its context is done, drops and
// counts the rest, and waits for the goroutines. Stop is idempotent and safe
// without Start (then nothing is sent: what was buffered is dropped as
// shutdown).
package remotewrite
