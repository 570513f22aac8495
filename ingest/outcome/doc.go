// Package outcome is the contract between the ingest decoders (one
// subpackage of ingest per protocol) and the transports that call them
// (HTTP handlers, the MQTT subscriber). It holds what every decoder
// reports the same way: why a part of a request was rejected (Reason),
// the details of the first few rejections (Rejection), the totals of one
// decode (Result), the per-series limits (Limits), and the error for a
// request that cannot be decoded at all (Error).
//
// A decoder has the shape
//
//	func Decode(body []byte, b *batch.Batch, lim outcome.Limits, [opts Options,] res *outcome.Result) error
//
// (opts carries per-request parameters such as the receive time.)
// It appends the valid series to b and reports every rejected item
// (series, line, event) in res; the valid items of a partly bad request
// are kept. It returns an *Error only when nothing of the request can be
// used (bad compression, a body that is not the format at all, or one
// over Limits.MaxDecodedBytes: errors.Is(err, ErrTooLarge)). The
// transport answers 204 when res.RejectedItems is 0, 400 with
// Result.Message otherwise, and counts res.RejectedByReason in
// premetrics_ingest_rejected_samples_total{protocol,reason}.
//
// Items. What an "item" is depends on the protocol and is documented by
// each decoder: a TimeSeries for remote write, a line (1-based line
// number) for Influx and Prometheus text, an event (0-based index in the
// request) for JSON, a data point for OTLP. Rejection.Item says which.
//
// Allocation. A Result reused across calls keeps its Rejected slice, and
// Reject builds detail strings only for the first MaxRejectionDetails
// rejections, so a steady stream of good requests allocates nothing here.
package outcome
