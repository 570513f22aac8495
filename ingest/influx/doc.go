// Package influx decodes InfluxDB line protocol, as Telegraf and the
// Influx client libraries send it to POST /write (v1) and /api/v2/write,
// into a batch.Batch. It is a pure function over bytes: no I/O, no
// clock, no metrics, no logging. The HTTP handler in package ingest owns
// the transport (decompression, the body size limit, the precision query
// parameter, the receive time) and reports the outcome.
//
// # Format
//
// One point per line; lines end with "\n" ("\r\n" is accepted). Blank
// lines and lines whose first non-blank byte is '#' are ignored.
//
//	measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
//	└── section 1: measurement, tags ──┘ └── section 2: fields ───────────────────────┘ └─ 3 ──┘
//
// Sections are separated by one or more spaces (leading blanks and
// trailing spaces are tolerated). Escapes, as in InfluxDB 2 and
// VictoriaMetrics:
//
//   - measurement: "\," and "\ " (and "\=");
//   - tag keys, tag values, field keys: "\,", "\=" and "\ ";
//   - everywhere outside strings, "\\" is one backslash, and a backslash
//     before any other byte is a literal backslash;
//   - string field values are double-quoted, with "\"" and "\\" inside.
//
// A newline always ends a line, also inside a quoted string (Telegraf
// writes newlines in strings as "\n"): such a line is malformed.
//
// Field values:
//
//	1  -1.5  .5  2e-3  +1E6   float (decimal only: no NaN, Inf, hex or "_")
//	12i  -12i                 integer (int64 range)
//	12u                       unsigned integer (uint64 range)
//	t T true True TRUE        boolean, 1
//	f F false False FALSE     boolean, 0
//	"text"                    string: skipped, see below
//
// Integers are converted to float64, exactly up to 2^53.
//
// The timestamp is a decimal integer in the unit of Options.Precision
// (nanoseconds by default; see ParsePrecision) and is converted to Unix
// milliseconds, rounding towards zero. A line without one gets
// Options.Now, the receive time.
//
// # Mapping
//
// Each numeric field of a line becomes its own series with one sample,
// named measurement_field (the vmagent / VictoriaMetrics convention), with
// the tags as labels:
//
//	cpu,host=a,cpu=cpu0 usage_idle=98.5,usage_user=1.2 1700000000000000000
//	→ cpu_usage_idle{cpu="cpu0", host="a"} 98.5 @1700000000000
//	  cpu_usage_user{cpu="cpu0", host="a"} 1.2  @1700000000000
//
// Names are unescaped and then made valid for Prometheus 2 (which
// premetrics writes to): in the metric name every rune outside
// [a-zA-Z0-9_:] becomes '_', and so does every rune of a tag key outside
// [a-zA-Z0-9_] (':' is not valid in a Prometheus label name). A name
// starting with a digit gets a '_' prefix. So
// "disk.io,mount\ point=/ read-bytes=1i" gives
// disk_io_read_bytes{mount_point="/"}. Tag values are kept as they are
// (unescaped). A tag with an empty value is dropped, as Prometheus treats
// an empty label value as an absent label.
//
// String fields carry no sample: they are skipped and counted nowhere (not
// as rejected: nothing a Prometheus pipeline could keep is lost). A line
// with only string fields adds nothing and is not rejected.
//
// # Rejections
//
// An item is a line: Rejection.Item is its 1-based line number and
// ItemKind is "line". Result.Items counts the lines that are not blank
// or comments. A line is kept or rejected as a whole (a point is
// atomic); Rejection.Samples is its number of numeric fields (0, counted
// as 1, when it does not parse). A line with several problems is rejected
// for the first one found: the length, the syntax, the timestamp, then
// field by field, left to right, the value and (at the first numeric
// field) the labels. Reasons:
//
//   - line_too_long: the line is over Limits.MaxLineBytes (without its
//     line ending).
//   - malformed: the line does not parse; Detail gives the column
//     (1-based byte offset) and what is wrong, e.g. `column 9: missing
//     "=" after tag key "host"`, `column 14: field "msg": unterminated
//     string`, `column 20: unexpected text after timestamp`. An unescaped
//     '=' in a tag value and an empty tag key or field key are malformed.
//   - bad_timestamp: not a decimal integer, negative (before 1970: no
//     Prometheus pipeline takes those), or out of the int64 millisecond
//     range once converted: `column 27: timestamp "9999999999999999" out
//     of range at precision h`.
//   - bad_value: a field value that does not parse:
//     `column 10: field "temp": invalid float "1.2.3"`,
//     `field "n": integer "9223372036854775808i" out of range`.
//   - duplicate_label: two tags whose keys are or become the same label
//     name (`tags "a.b" and "a_b" both become label "a_b"`), or a tag
//     called __name__.
//   - the label checks of Limits.CheckSeries on the line's first series
//     (too_many_labels, label_name_too_long, label_value_too_long,
//     invalid_label_value for a tag value that is not UTF-8) and, for
//     each further field, label_value_too_long when its metric name (the
//     value of __name__) is over Limits.MaxLabelValueLength: the only
//     check of Limits.CheckLabel a sanitized name can fail.
//
// Decode returns an error only for a request it cannot use at all: a body
// over Limits.MaxDecodedBytes (the transport normally checks that first)
// or an invalid Options.Precision.
//
// # Memory ownership and allocation
//
// body belongs to the caller and is not retained: Decode copies it once
// into the batch's byte arena (b.Bytes) and the label strings of the
// appended series alias that copy, which is never modified. Names that
// must change (escapes, sanitizing, the measurement_field metric names)
// are built in the arena too; the metric names of the previous lines are
// remembered by measurement and field position, so the lines of one
// measurement share them. All strings are valid until b is Reset. Rejection strings
// are copies.
//
// Memory: the byte arena holds the body plus the built names; the label
// arena holds, per numeric field, a copy of the line's labels. Both are
// bounded through Limits (MaxLineBytes, MaxLabelsPerSeries,
// MaxLabelValueLength for the metric name), not by the body size alone: a
// line with many fields and many tags costs fields × labels.
//
// In steady state (a batch reused through Reset and a reused Result)
// decoding a valid body allocates nothing. A rejected line allocates its
// detail strings only while the Result keeps details (the first
// outcome.MaxRejectionDetails), except that Limits.CheckSeries builds its
// detail string whenever a label check fails.
package influx
