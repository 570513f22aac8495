// Package promtext decodes the Prometheus text exposition format (0.0.4),
// as POSTed to /api/v1/import/prometheus (the VictoriaMetrics import
// endpoint: a scrape body pushed by a script, a cron job or a device),
// into a batch.Batch. It is a pure function over bytes: no I/O, no clock,
// no metrics, no logging; the HTTP handler in package ingest owns the
// transport (decompression, the body size limit, the receive time).
//
// It has its own line parser rather than prometheus/model/textparse,
// which stops at the first error (one bad line would lose the request)
// and allocates per series.
//
// # Format
//
// One item per line; lines end with "\n" ("\r\n" is accepted). Tokens are
// separated by blanks (spaces or tabs); leading and trailing blanks are
// ignored, and so are blank lines.
//
//	# HELP http_requests_total The total number of requests.
//	# TYPE http_requests_total counter
//	http_requests_total{method="post",code="200"} 1027 1395066363000
//	http_requests_total{method="post",code="400"}    3 1395066363000
//	# any other comment
//	node_load1 0.42
//	{"my.metric", "my.label"="v"} 1
//
// Sample lines: a metric name [a-zA-Z_:][a-zA-Z0-9_:]*, optionally
// followed by a label set, a value and an optional timestamp:
//
//   - label set: {name="value", ...}, a trailing comma allowed, blanks
//     allowed around the separators; label names [a-zA-Z_][a-zA-Z0-9_]*;
//     values double-quoted with the escapes \\, \" and \n (a backslash
//     before any other byte is kept as it is, as Prometheus does).
//   - Prometheus 3 quoted names: the metric name may instead be an item
//     of the label set, quoted ({"my.metric", a="b"}), and label
//     names may be quoted ("my.label"="v"). Downstream is Prometheus 2,
//     which only takes legacy names, so quoted names are sanitized like
//     the Influx names: every rune outside [a-zA-Z0-9_:] (metric) or
//     [a-zA-Z0-9_] (label) becomes '_', and a leading digit gets a '_'
//     prefix: {"my.metric", "1st label"="v"} → my_metric{_1st_label="v"}.
//     A __name__="..." label is taken as the metric name, sanitized too.
//   - value: a float as Go's strconv.ParseFloat reads it, including NaN,
//     Inf, +Inf and -Inf in any case, but without hex floats or '_'
//     (Prometheus' own rule).
//   - timestamp: an integer in Unix milliseconds; without one the sample
//     gets Options.Now, the receive time.
//
// # HELP and # TYPE lines are metadata: as in Prometheus, '#', one or
// more blanks, the keyword, one or more blanks, a metric name (which may
// be quoted), then the docstring or the type. They are checked and
// counted in Result.Metadata, not kept. The TYPE must be counter, gauge,
// histogram, summary or untyped. Any other line starting with '#' is a
// comment (# EOF, #HELP and a bare # HELP included) and is ignored.
//
// Types do not change the mapping: each sample line is a series, so a
// histogram gives its _bucket{le="..."}, _sum and _count lines as
// written, and a summary its quantile lines, _sum and _count. Label values
// are kept as written: unlike Prometheus 3, le="1" is not rewritten to
// le="1.0" (Prometheus 2 does not either).
//
// Deliberate differences from Prometheus' parser, which accepts these by
// accident of its lexer: labels must be separated by commas
// (m{a="1" b="2"} is malformed), a metric name must be followed by a
// blank or '{' (m-1 is malformed, not m with value -1), a newline always
// ends a line, also inside a quoted label value (the format requires it
// escaped as \n), and a NUL byte is an ordinary byte, not the end of the
// input.
//
// # Mapping
//
// Each sample line becomes one series with one sample, with the metric
// name as __name__ and the labels as written. A label with an empty value
// is dropped, as Prometheus treats an empty value as an absent label. Two
// lines with the same labels give two series (the batch does not merge
// them).
//
// # Rejections
//
// An item is a sample, # HELP or # TYPE line: Rejection.Item is its
// 1-based line number and ItemKind is "line"; comments and blank lines
// are not items. A rejected sample line counts 1 sample (Samples), a
// rejected metadata line none. Reasons, in the order they are checked:
//
//   - line_too_long: the line is over Limits.MaxLineBytes (without its
//     line ending).
//   - malformed: the line does not parse; Detail gives the column (1-based
//     byte offset) and what is wrong: `column 9: missing "=" after label
//     name "code"`, `column 12: unterminated label value`, `column 4:
//     invalid character in label name "."`, `column 22: unexpected text
//     after timestamp`, `column 8: invalid metric type "info"`.
//   - bad_value: `column 10: invalid value "1,5"`, `value "1e400" out of
//     range`.
//   - bad_timestamp: `column 12: invalid timestamp "1.5" (want integer
//     milliseconds)`, a negative timestamp (before 1970: no Prometheus
//     pipeline takes those) or one over int64.
//   - duplicate_label: a label name given twice (also __name__ next to a
//     metric name): `label "code" appears more than once`.
//   - the label checks of Limits.CheckSeries: too_many_labels,
//     label_name_too_long, label_value_too_long, invalid_label_name (an
//     empty quoted name ""), invalid_label_value (not UTF-8),
//     missing_metric_name ({a="b"} 1).
//
// Decode returns an error only for a body over Limits.MaxDecodedBytes (the
// transport normally checks that first).
//
// # Memory ownership and allocation
//
// body belongs to the caller and is not retained: Decode copies it once
// into the batch's byte arena (b.Bytes) and the label strings of the
// appended series alias that copy, which is never modified. Label values
// with escapes and sanitized quoted names are written to the arena too.
// All strings are valid until b is Reset; Rejection strings are copies.
// The arenas grow with the body: the byte arena by the body size plus the
// unescaped values, the label arena by one batch.Label per label.
//
// In steady state (a batch reused through Reset and a reused Result)
// decoding a valid body allocates nothing. A rejected line allocates its
// detail strings only while the Result keeps details (the first
// outcome.MaxRejectionDetails), except that Limits.CheckSeries builds its
// detail string whenever a label check fails, and a value that
// strconv.ParseFloat rejects allocates its error.
package promtext
