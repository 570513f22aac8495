// Package promrw decodes Prometheus remote write 1.0 requests into a
// batch.Batch. It is a pure function over bytes: no I/O, no metrics, no
// logging. The HTTP handler in package ingest owns the transport.
//
// Wire format. A request body is one snappy block (not the framed stream
// format) holding one protobuf prometheus.WriteRequest:
//
//	WriteRequest
//	├── 1 timeseries  (repeated TimeSeries)
//	│   ├── 1 labels      (repeated Label{1 name string, 2 value string})
//	│   ├── 2 samples     (repeated Sample{1 value double, 2 timestamp int64 ms})
//	│   ├── 3 exemplars   skipped
//	│   └── 4 histograms  counted and rejected (native_histogram_unsupported)
//	└── 3 metadata    (repeated MetricMetadata) counted, skipped
//
// Unknown fields are skipped, as protobuf requires. Fields may appear in
// any order, so labels and samples may interleave.
//
// Memory ownership. Decode decompresses the body into an arena of the
// destination batch (b.Bytes) and the label strings of the series it
// appends alias that arena (unsafe.String): they are valid until the batch
// is Reset or returned to its pool. body itself is not retained and may be
// reused as soon as Decode returns. Rejection strings are copies and may be
// kept. In steady state (a reused batch and Result) decoding a valid
// request allocates nothing.
//
// The decoded size is taken from the snappy header and checked against
// Limits.MaxDecodedBytes before anything is allocated. Note that the batch
// arenas can grow to several times the decoded size (a 2-byte empty sample
// message becomes a 16-byte batch.Sample), so MaxDecodedBytes bounds memory
// only up to that factor.
//
// Validation is per series. A series that breaks a limit or carries an
// invalid label is rejected on its own (a Rejection with a Reason) and the
// other series are kept. Rules, in the order they are checked:
//
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
// A series with neither float nor histogram samples is ignored without a
// rejection: nothing is lost by ignoring it.
//
// A malformed body (bad snappy, bad protobuf) or one whose decoded size is
// over the limit makes Decode return an *Error saying what and where; then
// nothing of the request is kept. errors.Is(err, ErrTooLarge) tells the two
// kinds apart (413 versus 400 in HTTP).
package promrw
