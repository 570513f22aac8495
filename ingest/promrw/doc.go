// Package promrw decodes Prometheus remote write 1.0 (Decode) and 2.0
// (DecodeV2) requests into a batch.Batch. It is a pure function over
// bytes: no I/O, no metrics, no logging. The HTTP handler in package
// ingest owns the transport and picks the decoder from the proto
// parameter of the Content-Type. Both decoders follow the contract of
// package ingest/outcome: a rejected item is a TimeSeries
// (Rejection.ItemKind "series", Rejection.Item its 0-based index in the
// request), Result.Items counts the TimeSeries seen and Result.Metadata
// the metadata seen.
//
// Wire format. A request body is one snappy block (not the framed stream
// format) holding one protobuf message. Remote write 1.0,
// prometheus.WriteRequest:
//
//	WriteRequest
//	├── 1 timeseries  (repeated TimeSeries)
//	│   ├── 1 labels      (repeated Label{1 name string, 2 value string})
//	│   ├── 2 samples     (repeated Sample{1 value double, 2 timestamp int64 ms})
//	│   ├── 3 exemplars   skipped
//	│   └── 4 histograms  counted and rejected (native_histogram_unsupported)
//	├── 3 metadata    (repeated MetricMetadata) counted, skipped
//	└── 4, 5          a 2.0 Request's symbols and timeseries: the request is malformed
//
// Remote write 2.0, io.prometheus.write.v2.Request (spec 2.0-rc.5; field
// numbers as in prometheus/prometheus prompb/io/prometheus/write/v2):
//
//	Request
//	├── 1 to 3        reserved (1.0's fields): the request is malformed
//	├── 4 symbols     (repeated string) the symbol table; symbols[0] must be ""
//	└── 5 timeseries  (repeated TimeSeries)
//	    ├── 1 labels_refs  (repeated uint32, packed or not) name, value, name, ... as symbol indices
//	    ├── 2 samples      (repeated Sample{1 value double, 2 timestamp int64 ms,
//	    │                   3 start_timestamp int64 ms: skipped})
//	    ├── 3 histograms   counted and rejected (native_histogram_unsupported)
//	    ├── 4 exemplars    skipped (not written)
//	    ├── 5 metadata     (Metadata{1 type, 3 help_ref, 4 unit_ref}) counted when not empty, skipped
//	    └── 6 created_timestamp  (2.0-rc.3 and before; reserved since) skipped
//
// Unknown fields are skipped, as protobuf requires; the reserved and
// foreign fields above are the exception, because skipping them would
// turn a request sent with the wrong proto parameter into an empty one
// answered 204. Fields may appear in any order, so labels and samples may
// interleave, and 2.0 symbols may follow the series that use them.
//
// Timestamps of 2.0. A start (created) timestamp, in Sample.start_timestamp
// or TimeSeries.created_timestamp, is accepted and ignored: no zero
// sample is invented at the start time (the aggregations take the first
// sample of a series as its baseline, so they need none).
//
// Memory ownership. A decoder decompresses the body into an arena of the
// destination batch (b.Bytes) and the label strings of the series it
// appends alias that arena (unsafe.String): they are valid until the batch
// is Reset or returned to its pool. A 2.0 symbol is not copied: every
// label using it aliases the one place it has in the decompressed body.
// The 2.0 symbol table (the offsets of each symbol, 8 bytes a symbol) is
// kept in the same arena. body itself is not retained and may be reused
// as soon as the decoder returns. Rejection strings are copies and may be
// kept. In steady state (a reused batch and Result) decoding a valid
// request allocates nothing.
//
// The decoded size is taken from the snappy header and checked against
// Limits.MaxDecodedBytes before anything is allocated. Note that the batch
// arenas can grow to several times the decoded size (a 2-byte empty sample
// message becomes a 16-byte batch.Sample, a 2-byte symbol takes 8 bytes in
// the symbol table), so MaxDecodedBytes bounds memory only up to that
// factor.
//
// Validation is per series, the same for 1.0 and 2.0. A series that breaks
// a limit or carries an invalid label is rejected on its own (a Rejection
// with a Reason) and the other series are kept. Rules, in the order they
// are checked (the first problem of a series is the one reported):
//
//   - malformed (2.0 only): a label reference outside the symbol table;
//     an odd number of label references (this one wins over any other
//     problem: the name/value pairs are misaligned).
//   - A label with an empty value is dropped: in Prometheus an empty value
//     is the same as an absent label. It does not count towards limits.
//   - invalid_label_name: an empty name or one that is not valid UTF-8
//     (Prometheus 3 accepts any UTF-8 label name).
//   - label_name_too_long, label_value_too_long: longer than the limit in
//     bytes.
//   - invalid_label_value: a value that is not valid UTF-8.
//   - too_many_labels: more labels (with non-empty values) than the limit.
//   - missing_metric_name: no __name__ label (or an empty one).
//   - duplicate_label: two labels with the same name.
//   - native_histogram_unsupported: native histogram samples are rejected;
//     the series' float samples are kept.
//
// A series with neither float nor histogram samples (a 2.0 series with
// only exemplars, say) is ignored without a rejection: nothing is lost by
// ignoring it.
//
// What was written (2.0). DecodeV2 reports in a Written the float
// samples it appended to the batch; native histograms and exemplars are
// never written. The handler sends these as the X-Prometheus-Remote-
// Write-*-Written headers once the batch is ingested.
//
// A malformed body (bad snappy, bad protobuf, a 2.0 symbol table whose
// first symbol is not empty) or one whose decoded size is over the limit
// makes a decoder return an *outcome.Error; then nothing of the request
// is kept. Its message says what and where: "cannot parse WriteRequest:
// timeseries[3].labels[1] at decoded byte 1234: truncated varint" (Where
// is empty: the message carries the protobuf path and the offset in the
// decoded body). errors.Is(err, outcome.ErrTooLarge) tells the two kinds
// apart (413 versus 400 in HTTP).
package promrw
