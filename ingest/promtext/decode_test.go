package promtext

import (
	"errors"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/decodertest"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// dec is Decode under the checks shared with the other line decoders:
// dec.Check(t, body, opts) decodes a table test's body.
var dec = decodertest.Decoder[Options]{Decode: Decode, ItemKind: ItemKind}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		want        string
		items, meta int
	}{
		{
			name: "node exporter",
			body: "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n" +
				"node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12345.67\nnode_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 89.1 1700000000000\n",
			want:  "node_cpu_seconds_total{cpu=\"0\", mode=\"idle\"} 12345.67 @5\nnode_cpu_seconds_total{cpu=\"0\", mode=\"user\"} 89.1 @1700000000000\n",
			items: 4, meta: 2,
		},
		{
			name:  "values",
			body:  "a NaN\nb +Inf\nc -Inf\nd Inf\ne 1e3\nf -0.5\ng .5\nh 0\ni -inf\nj 1E-3 0\n",
			want:  "a{} NaN @5\nb{} +Inf @5\nc{} -Inf @5\nd{} +Inf @5\ne{} 1000 @5\nf{} -0.5 @5\ng{} 0.5 @5\nh{} 0 @5\ni{} -Inf @5\nj{} 0.001 @0\n",
			items: 10,
		},
		{
			name:  "histogram lines as written",
			body:  "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 0.7\nh_count 3\n",
			want:  "h_bucket{le=\"0.1\"} 1 @5\nh_bucket{le=\"+Inf\"} 3 @5\nh_sum{} 0.7 @5\nh_count{} 3 @5\n",
			items: 5, meta: 1,
		},
		{
			name:  "summary lines as written",
			body:  "# TYPE s summary\ns{quantile=\"0.5\"} 0.2\ns_sum 9\ns_count 30\n",
			want:  "s{quantile=\"0.5\"} 0.2 @5\ns_sum{} 9 @5\ns_count{} 30 @5\n",
			items: 4, meta: 1,
		},
		{
			name:  "label value escapes",
			body:  `m{a="x\\y",b="q\"uote",c="new\nline",d="keep\t{},= "} 1`,
			want:  "m{a=\"x\\\\y\", b=\"q\\\"uote\", c=\"new\nline\", d=\"keep\\\\t{},= \"} 1 @5\n",
			items: 1,
		},
		{
			name:  "blanks",
			body:  "  m { a = \"1\" , b=\"2\" , }   7   1000  \nm\t1\t2\n",
			want:  "m{a=\"1\", b=\"2\"} 7 @1000\nm{} 1 @2\n",
			items: 2,
		},
		{
			name:  "no blank after the label set, colons in names",
			body:  "up{}1\njob:rate{x=\"y\"}2",
			want:  "up{} 1 @5\njob:rate{x=\"y\"} 2 @5\n",
			items: 2,
		},
		{
			name: "quoted names are sanitized",
			body: "{\"my.metric\", \"my.label\"=\"v\", \"1st\"=\"x\"} 1\n{\"valid_name\"} 2\n{__name__=\"a.b\", x=\"y\"} 3\n" +
				"{\"a:b.c\", \"a:b\"=\"1\"} 4\n{ \"ünï\" , \"c\\\"d\"=\"1\" } 5\n",
			want: "my_metric{_1st=\"x\", my_label=\"v\"} 1 @5\nvalid_name{} 2 @5\na_b{x=\"y\"} 3 @5\na:b_c{a_b=\"1\"} 4 @5\n" +
				"_n_{c_d=\"1\"} 5 @5\n",
			items: 5,
		},
		{
			name:  "empty label values are dropped",
			body:  `m{a="",b="1",c=""} 1`,
			want:  "m{b=\"1\"} 1 @5\n",
			items: 1,
		},
		{
			name: "comments, blank lines, CRLF",
			body: "# EOF\n#comment\n# HELPER x\n#\n\n \t\r\n# HELP m \n# TYPE\n# HELP\n#TYPE m gauge\n# TYPE \"my.metric\" untyped\n" +
				"# HELP m2 Text with \\\\ and \\n escapes and \"quotes\".\r\n# HELP m-x anything\n#\tTYPE\tm\tgauge\t\nm 1\r\n",
			want:  "m{} 1 @5\n",
			items: 6, meta: 5,
		},
		{
			name:  "unsorted labels, repeated series",
			body:  "m{z=\"1\",a=\"2\"} 1 10\nm{z=\"1\",a=\"2\"} 2 20",
			want:  "m{a=\"2\", z=\"1\"} 1 @10\nm{a=\"2\", z=\"1\"} 2 @20\n",
			items: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, res := dec.Check(t, tt.body, Options{Now: 5})
			if got := decodertest.Render(b); got != tt.want {
				t.Errorf("batch:\n got %s\nwant %s", got, tt.want)
			}
			if res.Items != tt.items || res.Metadata != tt.meta || res.RejectedItems != 0 {
				t.Errorf("items %d metadata %d rejected %d (%+v), want %d, %d and 0", res.Items, res.Metadata, res.RejectedItems, res.Rejected, tt.items, tt.meta)
			}
		})
	}
}

// TestDecodeRejects puts each bad line between two good ones: the bad line
// alone is rejected, with its line number, reason and detail.
func TestDecodeRejects(t *testing.T) {
	long33 := strings.Repeat("v", 33)
	tests := []struct {
		line   string
		reason outcome.Reason
		detail string
		series string
		meta   bool // a metadata line: 0 samples
	}{
		{line: `m{a="1"`, reason: outcome.ReasonMalformed, detail: `column 8: missing "}"`},
		{line: `  m{a="1"`, reason: outcome.ReasonMalformed, detail: `column 10: missing "}"`},
		{line: `m{a="1",`, reason: outcome.ReasonMalformed, detail: `column 9: missing "}"`},
		{line: `m{a="1`, reason: outcome.ReasonMalformed, detail: `column 5: unterminated label value`},
		{line: `m{a="1\"} 1`, reason: outcome.ReasonMalformed, detail: `column 5: unterminated label value`},
		{line: `m{a.b="1"} 1`, reason: outcome.ReasonMalformed, detail: `column 4: invalid character in label name "."`},
		{line: `m{a "1"} 1`, reason: outcome.ReasonMalformed, detail: `column 5: missing "=" after label name "a"`},
		{line: `m{a=1} 1`, reason: outcome.ReasonMalformed, detail: `column 5: expected a quoted label value`},
		{line: `m{a="1" b="2"} 1`, reason: outcome.ReasonMalformed, detail: `column 9: expected "," or "}", got "b"`},
		{line: `m{,} 1`, reason: outcome.ReasonMalformed, detail: `column 3: expected a label name or "}", got ","`},
		{line: `m{"a"} 1`, reason: outcome.ReasonMalformed, detail: `column 3: second metric name "\"a\""`},
		{line: `{"a", "b"} 1`, reason: outcome.ReasonMalformed, detail: `column 7: second metric name "\"b\""`},
		{line: `{"a`, reason: outcome.ReasonMalformed, detail: `column 2: unterminated quoted name`},
		{line: `m-1 1`, reason: outcome.ReasonMalformed, detail: `column 2: unexpected character after metric name "-"`},
		{line: `1m 1`, reason: outcome.ReasonMalformed, detail: `column 1: expected a metric name or "{", got "1"`},
		{line: `m`, reason: outcome.ReasonMalformed, detail: `column 2: missing value`},
		{line: `m{}  `, reason: outcome.ReasonMalformed, detail: `column 6: missing value`},
		{line: `m 1 2 3`, reason: outcome.ReasonMalformed, detail: `column 7: unexpected text after timestamp`},
		{line: `m abc`, reason: outcome.ReasonBadValue, detail: `column 3: invalid value "abc"`},
		{line: `m{a="b"} 1,5`, reason: outcome.ReasonBadValue, detail: `column 10: invalid value "1,5"`},
		{line: `m 1_000`, reason: outcome.ReasonBadValue, detail: `column 3: invalid value "1_000"`},
		{line: `m 0x1p3`, reason: outcome.ReasonBadValue, detail: `column 3: invalid value "0x1p3"`},
		{line: `m 1e400`, reason: outcome.ReasonBadValue, detail: `column 3: value "1e400" out of range`},
		{line: `m 1 1.5`, reason: outcome.ReasonBadTimestamp, detail: `column 5: invalid timestamp "1.5" (want integer milliseconds)`},
		{line: `m 1 -5`, reason: outcome.ReasonBadTimestamp, detail: `column 5: timestamp "-5" is negative (before 1970)`},
		{line: `m 1 9223372036854775808`, reason: outcome.ReasonBadTimestamp, detail: `column 5: timestamp "9223372036854775808" out of range`},
		{line: `m{a="1",a="2"} 1`, reason: outcome.ReasonDuplicateLabel, detail: `label "a" appears more than once`},
		{line: `m{__name__="x"} 1`, reason: outcome.ReasonDuplicateLabel, detail: `label "__name__" appears more than once`},
		{line: `m{"a.b"="1",a_b="2"} 1`, reason: outcome.ReasonDuplicateLabel, detail: `label "a_b" appears more than once`},
		{line: `{a="b"} 1`, reason: outcome.ReasonMissingMetricName, detail: "no __name__ label", series: `{a="b"}`},
		{line: `{""} 1`, reason: outcome.ReasonMissingMetricName, detail: "no __name__ label", series: `{}`},
		{line: `m{""="v"} 1`, reason: outcome.ReasonInvalidLabelName, detail: "empty label name", series: `m{="v"}`},
		{line: `m{a="1",b="2",c="3",d="4",e="5"} 1`, reason: outcome.ReasonTooManyLabels,
			detail: "6 labels, limit 5", series: `m{a="1", b="2", c="3", d="4", e="5"}`},
		{line: `m{abcdefghijklmnopq="1"} 1`, reason: outcome.ReasonLabelNameTooLong,
			detail: `label name "abcdefghijklmnopq" is 17 bytes, limit 16`, series: `m{abcdefghijklmnopq="1"}`},
		{line: `m{a="` + long33 + `"} 1`, reason: outcome.ReasonLabelValueTooLong,
			detail: `value of label "a" is 33 bytes, limit 32`, series: `m{a="` + long33 + `"}`},
		{line: long33 + ` 1`, reason: outcome.ReasonLabelValueTooLong,
			detail: `value of label "__name__" is 33 bytes, limit 32`, series: long33 + `{}`},
		{line: "m{a=\"\xff\"} 1", reason: outcome.ReasonInvalidLabelValue,
			detail: `value of label "a" is not valid UTF-8`, series: "m{a=\"\xff\"}"},
		{line: "m 1 " + strings.Repeat("1", 197), reason: outcome.ReasonLineTooLong, detail: "line is 201 bytes, limit 200"},
		{line: "# HELP m " + strings.Repeat("x", 192), reason: outcome.ReasonLineTooLong, detail: "line is 201 bytes, limit 200", meta: true},
		{line: `# TYPE m info`, reason: outcome.ReasonMalformed, detail: `column 10: invalid metric type "info"`, meta: true},
		{line: `# TYPE m`, reason: outcome.ReasonMalformed, detail: `column 9: missing metric type`, meta: true},
		{line: ` # TYPE `, reason: outcome.ReasonMalformed, detail: `column 9: missing metric name after # TYPE`, meta: true},
		{line: "#\tHELP\t\t", reason: outcome.ReasonMalformed, detail: `column 9: missing metric name after # HELP`, meta: true},
		{line: `# TYPE m-x counter`, reason: outcome.ReasonMalformed, detail: `column 9: unexpected character after metric name "-"`, meta: true},
		{line: `# TYPE m gauge x`, reason: outcome.ReasonMalformed, detail: `column 16: unexpected text after metric type`, meta: true},
		{line: `# HELP "m`, reason: outcome.ReasonMalformed, detail: `column 8: unterminated quoted metric name`, meta: true},
		{line: `# TYPE 1m gauge`, reason: outcome.ReasonMalformed, detail: `column 8: invalid metric name "1m"`, meta: true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			body := "good 1\n" + tt.line + "\r\ngood 2 5\n"
			b, res := dec.Check(t, body, Options{})
			samples := 1
			if tt.meta {
				samples = 0
			}
			decodertest.CheckOneRejected(t, b, res, "good{} 1 @0\ngood{} 2 @5\n",
				outcome.Rejection{Item: 2, ItemKind: "line", Series: tt.series, Reason: tt.reason, Samples: samples, Detail: tt.detail})
		})
	}
}

func TestDecodeManyRejections(t *testing.T) {
	body := strings.Repeat("bad\n", 12) + "ok 1\n"
	b, res := dec.Check(t, body, Options{})
	if b.Len() != 1 || res.RejectedItems != 12 || len(res.Rejected) != outcome.MaxRejectionDetails || res.RejectedByReason[outcome.ReasonMalformed] != 12 {
		t.Fatalf("got %d series, result %+v", b.Len(), res)
	}
	msg := res.Message("prometheus_text")
	if !strings.HasPrefix(msg, "prometheus_text: accepted 1 samples of 1 series; rejected 12 items (12 samples)\nline 1: malformed: column 4: missing value\n") ||
		!strings.HasSuffix(msg, "line 10: malformed: column 4: missing value\n... and 2 more rejected items") {
		t.Errorf("message:\n%s", msg)
	}
}

func TestDecodeDoesNotRetainBodyAndAppends(t *testing.T) {
	dec.CheckAppends(t, "m{a=\"x\",b=\"y\\\"z\"} 1 2\n{\"q.n\", \"l.n\"=\"v\"} 3 4\n", decodertest.Limits, Options{},
		"m{a=\"x\", b=\"y\\\"z\"} 1 @2\nq_n{l_n=\"v\"} 3 @4\n")
}

func TestDecodeRequestErrors(t *testing.T) {
	b := &batch.Batch{}
	var res outcome.Result
	err := Decode([]byte("m 1\n"), b, outcome.Limits{MaxDecodedBytes: 3}, Options{}, &res)
	if !errors.Is(err, outcome.ErrTooLarge) || err.Error() != "body is 4 bytes, limit 3" || b.Len() != 0 {
		t.Errorf("over MaxDecodedBytes: got %v, %d series", err, b.Len())
	}
	if err := Decode(nil, b, decodertest.Limits, Options{}, &res); err != nil || b.Len() != 0 || res.Items != 0 {
		t.Errorf("empty body: %v, %d series, %+v", err, b.Len(), res)
	}
}
