// Package otlp decodes OTLP/HTTP metrics requests (POST /v1/metrics), in
// protobuf (DecodeProto) and in JSON (DecodeJSON), into a batch.Batch,
// mapping OpenTelemetry metrics to Prometheus series the way Prometheus'
// own OTLP receiver does with its default translation strategy
// (UnderscoreEscapingWithSuffixes: legacy names, unit and type suffixes).
// It is a pure function over bytes: no I/O, no metrics, no logging. The
// transport decompresses the body first and answers with AppendResponse.
//
// Wire format. The body is one
// opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest
// (field numbers as in opentelemetry-proto):
//
//	ExportMetricsServiceRequest
//	└── 1 resource_metrics      ResourceMetrics
//	    ├── 1 resource          Resource{1 attributes KeyValue}
//	    └── 2 scope_metrics     ScopeMetrics
//	        ├── 1 scope         InstrumentationScope{1 name, 2 version}
//	        └── 2 metrics       Metric{1 name, 3 unit, oneof data}
//	            ├── 5 gauge                  Gauge{1 data_points NumberDataPoint}
//	            ├── 7 sum                    Sum{1 data_points, 2 aggregation_temporality, 3 is_monotonic}
//	            ├── 9 histogram              Histogram{1 data_points HistogramDataPoint, 2 aggregation_temporality}
//	            ├── 10 exponential_histogram rejected (unsupported)
//	            └── 11 summary               Summary{1 data_points SummaryDataPoint}
//
//	NumberDataPoint    {7 attributes, 3 time_unix_nano, 4 as_double | 6 as_int, 8 flags}
//	HistogramDataPoint {9 attributes, 3 time_unix_nano, 4 count, 5 sum (optional),
//	                    6 bucket_counts, 7 explicit_bounds (packed or not), 10 flags}
//	SummaryDataPoint   {7 attributes, 3 time_unix_nano, 4 count, 5 sum,
//	                    6 quantile_values{1 quantile, 2 value}, 8 flags}
//	KeyValue           {1 key, 2 value AnyValue{1 string, 2 bool, 3 int, 4 double,
//	                    5 array, 6 kvlist, 7 bytes}}
//
// Other fields (descriptions, metadata, start times, exemplars, min, max,
// schema URLs) and unknown fields are skipped. Fields may come in any
// order. OTLP/JSON is the protobuf JSON mapping with OTLP's rules:
// lowerCamelCase keys only, 64-bit integers as decimal strings or
// numbers, enums as integers or names, doubles also as "NaN",
// "Infinity", "-Infinity"; unknown keys are ignored and null is absent.
//
// Mapping. Every data point becomes series of one sample each, at
// time_unix_nano in milliseconds (Options.Now when it is 0):
//
//	OTLP                                   Prometheus series
//	Gauge                                  <name>
//	Sum, monotonic, cumulative             <name>_total (a counter)
//	Sum, not monotonic, cumulative         <name> (a gauge)
//	Sum, delta                             <name>, the delta as sent (no _total)
//	Histogram (cumulative or delta)        <name>_sum (when sum is set), <name>_count,
//	                                       <name>_bucket{le="b"} for each explicit bound b,
//	                                       counts accumulated, and <name>_bucket{le="+Inf"} = count
//	Summary                                <name>_sum, <name>_count, <name>{quantile="q"}
//	ExponentialHistogram                   rejected: unsupported
//	flags & 1 (NO_RECORDED_VALUE)          every sample is the staleness marker
//	                                       (math.Float64frombits(0x7ff0000000000002))
//
// Delta sums and delta histograms keep their per-interval values: a
// premetrics sum_samples aggregation over them gives the increase in its
// window, where increase or rate over a cumulative counter would be used.
// le and quantile values are formatted as Prometheus does
// (strconv.FormatFloat(v, 'f', -1, 64), "+Inf"); an explicit +Inf bound
// adds no bucket of its own, le="+Inf" being the count.
//
// Names. <name> is the metric name in legacy Prometheus form: every run
// of characters outside [a-zA-Z0-9:] becomes one '_' (leading and
// trailing ones dropped), the unit adds a word unless the name has it
// ("s" → _seconds, "ms" → _milliseconds, "By" → _bytes, "By/s" →
// _bytes_per_second, "%" → _percent, see unitMap; units in curly braces
// such as "{request}" and the unit "1" add nothing), a gauge of unit "1"
// ends in _ratio, a monotonic cumulative sum in _total, and a name
// starting with a digit gets a leading '_'. Attribute keys become label
// names likewise: every run of characters outside [a-zA-Z0-9] (including
// '_') becomes one '_', a leading digit gets the prefix "key_", and a
// reserved "__x__" keeps its double underscores. A metric name or an
// attribute key with no valid character rejects the data point.
//
// Labels of a series, each replacing those before it of the same name:
//
//  1. promoted resource attributes (Options.PromoteResourceAttributes)
//  2. the data point's attributes; attributes whose label names collide
//     join their values with ';' in the order of their keys, as in Prometheus
//  3. job = service.namespace + "/" + service.name (or service.name alone),
//     instance = service.instance.id (resource attributes)
//  4. otel_scope_name and otel_scope_version, when the scope has a name
//  5. le or quantile, and __name__
//
// An attribute with an empty value (or no value) is no label; the
// attribute "__name__" is ignored. Attribute values become label values
// as OpenTelemetry's AnyValue.AsString writes them: strings as they are,
// booleans true/false, integers in decimal, doubles as JSON numbers
// (NaN, +Inf, -Inf as in Prometheus), bytes in standard base64, arrays
// and key-value lists as compact JSON as encoding/json writes them (keys
// sorted, a later duplicate key winning; a NaN or infinity inside makes
// the value empty). Other resource attributes and scope attributes are
// not copied, and no target_info series is made.
//
// Rejections. Items are data points: Rejection.ItemKind is "data point"
// and Rejection.Item is the 0-based index of the point among all the data
// points of the request, in request order. A rejected data point is
// rejected whole (all its series); the others are kept. Reasons:
//
//   - unsupported: an exponential histogram data point, or a Sum or
//     Histogram whose aggregation_temporality is not 1 (delta) or
//     2 (cumulative); missing_field when it is 0 (unspecified);
//   - missing_metric_name: a metric name with no valid character;
//   - invalid_label_name: an attribute key with no valid character;
//   - missing_field: a number data point with neither as_double nor
//     as_int (and not flagged NO_RECORDED_VALUE);
//   - malformed: a histogram data point whose bucket_counts are not one
//     more than its explicit_bounds (or both absent), or whose bounds do
//     not increase;
//   - bad_value: an attribute value nested more than 64 levels deep;
//   - any reason of Limits.CheckSeries, checked on every series;
//   - JSON only: wrong_type, bad_value and bad_timestamp for a field of a
//     data point of the wrong JSON type or that does not parse.
//
// Rejection.Samples counts the samples the point would have given (1 for
// an exponential histogram point). Result.Items counts data points,
// Result.Metadata the Metric messages.
//
// Errors. A body that is not a request at all — bad protobuf framing, a
// known field of the wrong wire type, JSON that does not parse, a
// structure above the data points of the wrong JSON type, a resource
// attribute that cannot be rendered — or one over Limits.MaxDecodedBytes
// returns an *outcome.Error (errors.Is outcome.ErrMalformed or
// outcome.ErrTooLarge) locating the problem ("byte 1234" and a path such
// as resource_metrics[0].scope_metrics[1].metrics[2].histogram.data_points[3]),
// and nothing of the request is kept.
//
// Response. OTLP answers a well-formed request with 200 even when data
// points were rejected: AppendResponse writes the
// ExportMetricsServiceResponse, empty or with partial_success
// {rejected_data_points, error_message}, in the request's encoding. The
// sender must not retry a partial success. AppendStatus writes the
// google.rpc.Status body of a 4xx or 5xx answer.
//
// Memory ownership. body is not retained: label values are copied into
// the batch's byte arena (b.Bytes) and are valid until the batch is
// Reset; label names (sanitized attribute keys, metric names) are
// immutable strings owned by the decoder's caches, valid forever. The
// caller may reuse body as soon as Decode returns. Rejection strings are
// copies. Decoders are pooled (sync.Pool); each keeps bounded caches of
// sanitized names across requests, so in steady state decoding a valid
// protobuf request allocates nothing (nor does a JSON one, through
// fastjson's reused parser).
package otlp
